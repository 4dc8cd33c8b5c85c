"""SageMaker model package groups as code: the catalog every tier registers models in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast, runtime_checkable

from aws_cdk import ArnFormat, Names, RemovalPolicy, Resource, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.validation import ValidationError, claim_unique, require_match, require_unique

GROUP_NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
GROUP_NAME_RULE = "1-63 letters, digits or '-', starting and ending with a letter or digit"


@runtime_checkable
class IModelPackageGroup(Protocol):
    """A model package group, created here or imported."""

    @property
    def model_package_group_name(self) -> str: ...

    @property
    def model_package_group_arn(self) -> str: ...

    @property
    def model_package_arn_pattern(self) -> str: ...

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant: ...

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant: ...

    def grant_approve(self, grantee: iam.IGrantable) -> iam.Grant: ...


class _ModelPackageGroupBase(Resource):
    """Grants shared by created and imported groups."""

    model_package_group_name: str
    model_package_group_arn: str

    @property
    def model_package_arn_pattern(self) -> str:
        """ARN of every version in the group: ``arn:...:model-package/<group>/*``.

        SageMaker writes model package ARNs in lower case, so a literal group name is lower-cased here.
        """
        return Stack.of(self).format_arn(
            service="sagemaker",
            resource="model-package",
            resource_name=f"{_arn_name(self.model_package_group_name)}/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )

    def _acknowledge_versions(self, grantee: iam.IGrantable) -> None:
        """Versions are numbered as they are registered: IAM can only name them by the group's ``/*`` prefix."""
        role = grantee.grant_principal
        if isinstance(role, Construct):
            stack = Stack.of(self)
            parts = [_nag_text(v, f"<AWS::{n}>") for v, n in ((stack.partition, "Partition"), (stack.region, "Region"), (stack.account, "AccountId"))]
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                f"Versions of model package group {self.model_package_group_name} are numbered as they are "
                "registered; IAM can only name them by the group's '/*' prefix.",
                applies_to=f"Resource::arn:{parts[0]}:sagemaker:{parts[1]}:{parts[2]}:model-package/"
                f"{_nag_text(_arn_name(self.model_package_group_name), '<name>')}/*",
            )

    def grant_register(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` add versions to the group, only with ``PendingManualApproval`` (never self-approved)."""
        self._acknowledge_versions(grantee)
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:DescribeModelPackageGroup"],
            resource_arns=[self.model_package_group_arn],
        )
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:CreateModelPackage"],
            resource_arns=[self.model_package_group_arn, self.model_package_arn_pattern],
            conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
        )

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` describe the group and its versions."""
        self._acknowledge_versions(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage"],
            resource_arns=[self.model_package_group_arn, self.model_package_arn_pattern],
        )

    def grant_approve(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` change the approval status of the group's versions (approve or reject)."""
        self._acknowledge_versions(grantee)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:UpdateModelPackage"],
            resource_arns=[self.model_package_arn_pattern],
        )


def _arn_name(name: str) -> str:
    return name if Token.is_unresolved(name) else name.lower()


def _nag_text(value: str, placeholder: str) -> str:
    """How cdk-nag prints a value in a finding: a literal as it is, an unresolved pseudo parameter as a placeholder."""
    return placeholder if Token.is_unresolved(value) else value


class _ImportedModelPackageGroup(_ModelPackageGroupBase):
    def __init__(self, scope: Construct, id: str, name: str, arn: str) -> None:
        super().__init__(scope, id)
        self.model_package_group_name = name
        self.model_package_group_arn = arn


class ModelPackageGroup(_ModelPackageGroupBase):
    """A model package group (``AWS::SageMaker::ModelPackageGroup``), retained on stack delete.

    Example::

        group = ModelPackageGroup(self, "Churn", model_package_group_name="churn",
                                  description="Customer churn classifiers")
        group.grant_register(training_role)
        workflow.watch(group)          # see ApprovalWorkflow

    :param model_package_group_name: Name. Default: generated from the construct path (the group is
        retained, so set a name you will recognise).
    :param description: Description, at most 1024 characters. Default: none.
    :param read_accounts: Other AWS account IDs that may describe and list the group's versions (for
        deploying approved models there). Default: none.
    :param register_accounts: Other AWS account IDs that may register versions (pending approval) in it.
        Default: none.
    :param tags: Tags of the group. Default: none (the app's tags still apply).
    :param removal_policy: Default: RETAIN.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_package_group_name: str | None = None,
        description: str | None = None,
        read_accounts: Sequence[str] = (),
        register_accounts: Sequence[str] = (),
        tags: Mapping[str, str] | None = None,
        removal_policy: RemovalPolicy = defaults.DATA_REMOVAL_POLICY,
    ) -> None:
        if model_package_group_name is not None:
            require_match("model_package_group_name", model_package_group_name, GROUP_NAME_PATTERN, GROUP_NAME_RULE)
        if description is not None:
            require_match("description", description, r"[^\x00-\x1f]{0,1024}", "at most 1024 printable characters")
        for prop, accounts in (("read_accounts", read_accounts), ("register_accounts", register_accounts)):
            if isinstance(accounts, str):
                raise ValidationError(f"{prop} must be a list of 12-digit AWS account IDs, got the string {accounts!r}")
            for account in accounts:
                require_match(prop, account, r"\d{12}", "a list of 12-digit AWS account IDs")
            require_unique(prop, list(accounts))
        super().__init__(scope, id)
        name = model_package_group_name or Names.unique_resource_name(self, max_length=63, separator="-")
        claim_unique(
            self,
            "model-package-group",
            name,
            f"model_package_group_name {name!r} is already used by the ModelPackageGroup at {{other}} in the same "
            "account and region; names must be unique there (import an existing group with from_model_package_group_name)",
        )
        self._resource = sagemaker.CfnModelPackageGroup(
            self,
            "Resource",
            model_package_group_name=name,
            model_package_group_description=description,
            tags=[{"key": k, "value": v} for k, v in (tags or {}).items()] or None,
        )
        self._resource.apply_removal_policy(removal_policy)
        self.model_package_group_name = name
        self.model_package_group_arn = self._resource.attr_model_package_group_arn
        policy = self._cross_account_policy(name, list(read_accounts), list(register_accounts))
        if policy is not None:
            self._resource.model_package_group_policy = policy

    def _cross_account_policy(self, name: str, read: list[str], register: list[str]) -> dict[str, Any] | None:
        if not read and not register:
            return None
        stack = Stack.of(self)
        group_arn = stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=name)
        package_arn = stack.format_arn(
            service="sagemaker",
            resource="model-package",
            resource_name=f"{_arn_name(name)}/*",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        statements = []
        if read:
            statements.append(
                {
                    "Sid": "CrossAccountRead",
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:{stack.partition}:iam::{a}:root" for a in read]},
                    "Action": [
                        "sagemaker:DescribeModelPackageGroup",
                        "sagemaker:DescribeModelPackage",
                        "sagemaker:ListModelPackages",
                    ],
                    "Resource": [group_arn, package_arn],
                }
            )
        if register:
            statements.append(
                {
                    "Sid": "CrossAccountRegisterPendingOnly",
                    "Effect": "Allow",
                    "Principal": {"AWS": [f"arn:{stack.partition}:iam::{a}:root" for a in register]},
                    "Action": ["sagemaker:CreateModelPackage"],
                    "Resource": [group_arn, package_arn],
                    "Condition": {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
                }
            )
        return {"Version": "2012-10-17", "Statement": statements}

    @staticmethod
    def from_model_package_group_name(scope: Construct, id: str, model_package_group_name: str) -> IModelPackageGroup:
        """Import a group of this account and region by name."""
        require_match("model_package_group_name", model_package_group_name, GROUP_NAME_PATTERN, GROUP_NAME_RULE)
        arn = Stack.of(scope).format_arn(
            service="sagemaker", resource="model-package-group", resource_name=model_package_group_name
        )
        return _ImportedModelPackageGroup(scope, id, model_package_group_name, arn)

    @staticmethod
    def from_model_package_group_arn(scope: Construct, id: str, model_package_group_arn: str) -> IModelPackageGroup:
        """Import a group by ARN (``arn:aws:sagemaker:<region>:<account>:model-package-group/<name>``)."""
        if Token.is_unresolved(model_package_group_arn):
            name = cast(str, Stack.of(scope).split_arn(model_package_group_arn, ArnFormat.SLASH_RESOURCE_NAME).resource_name)
        else:
            require_match(
                "model_package_group_arn",
                model_package_group_arn,
                r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package-group/" + GROUP_NAME_PATTERN,
                "a model package group ARN, arn:<partition>:sagemaker:<region>:<account>:model-package-group/<name>",
            )
            name = model_package_group_arn.rsplit("/", 1)[1]
        return _ImportedModelPackageGroup(scope, id, name, model_package_group_arn)
