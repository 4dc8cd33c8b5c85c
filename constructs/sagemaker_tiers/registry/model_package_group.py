"""SageMaker model package groups as code: the catalog every tier registers models in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

from aws_cdk import ArnFormat, CustomResource, Duration, Names, RemovalPolicy, Resource, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.functions import tiers_function
from sagemaker_tiers.core.nag import acknowledge, acknowledge_outside_vpc, skip_checkov
from sagemaker_tiers.core.validation import (
    ValidationError,
    claim_unique,
    require_customer_managed_key,
    require_match,
    require_unique,
)

GROUP_HANDLERS = Path(__file__).parent / "group_handlers"
#: CloudWatch namespace of the registry tier's functions (the group provider and the approval workflow).
METRICS_NAMESPACE = "sagemaker-tiers/Registry"

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
        # CreateModelPackage authorizes on the new version's ARN (IAM's only resource type for it is model-package):
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:CreateModelPackage"],
            resource_arns=[self.model_package_arn_pattern],
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
    """A model package group that survives ``cdk destroy`` and is taken over by the next deployment.

    The group is a ``Custom::ModelPackageGroup`` (``registry/group_handlers/registry_group_resource.py``): it
    creates the group, or adopts an existing group of that name with its versions and approval history (for
    example the one a destroyed stack retained, or a group removed from the app and added again). CloudFormation
    cannot import a plain ``AWS::SageMaker::ModelPackageGroup`` instead: its primary identifier is the read-only
    ARN. One function per stack (and encryption key) serves every group of the stack.

    Example::

        group = ModelPackageGroup(self, "Churn", model_package_group_name="churn",
                                  description="Customer churn classifiers", encryption_key=key)
        group.grant_register(training_role)
        workflow.watch(group)          # see ApprovalWorkflow

    :param model_package_group_name: Name; the group's identity (two groups of one app may not share it, in any
        letter case). Default: generated from the construct path (the group is retained, so set a name you will
        recognise).
    :param description: Description, at most 1024 characters; an adopted group keeps its own. Default: none.
    :param read_accounts: Other AWS account IDs that may describe and list the group's versions (for
        deploying approved models there). Default: none.
    :param register_accounts: Other AWS account IDs that may register versions (pending approval) in it.
        Default: none.
    :param tags: Tags of the group (the app's tag aspects do not reach a custom resource). Default: none.
    :param removal_policy: RETAIN keeps the group when it leaves the stack; DESTROY deletes it (SageMaker refuses
        while it holds versions). Default: RETAIN.
    :param encryption_key: KMS key of the provider function's log group. Default: CloudWatch Logs' own encryption.
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
        encryption_key: kms.IKey | None = None,
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
        require_customer_managed_key("encryption_key", encryption_key, required=False)
        if removal_policy not in (RemovalPolicy.RETAIN, RemovalPolicy.DESTROY):
            raise ValidationError(f"removal_policy must be RemovalPolicy.RETAIN or RemovalPolicy.DESTROY, got {removal_policy!r}")
        super().__init__(scope, id)
        name = model_package_group_name or Names.unique_resource_name(self, max_length=63, separator="-")
        claim_unique(
            self,
            "model-package-group",
            name,
            f"model_package_group_name {name!r} is already used by the ModelPackageGroup at {{other}} in the same "
            f"account and region, so the one at {self.node.path} would adopt its group; names must be unique there "
            "(import an existing group with from_model_package_group_name)",
        )
        destroy = removal_policy == RemovalPolicy.DESTROY
        provider = _GroupProvider.of(self, encryption_key)
        provider.allow(name, destroy=destroy)
        policy = self._cross_account_policy(name, list(read_accounts), list(register_accounts))
        self._resource = CustomResource(
            self,
            "Resource",
            service_token=provider.function.function_arn,
            resource_type="Custom::ModelPackageGroup",
            properties={
                "ModelPackageGroupName": name,
                "ModelPackageGroupDescription": description or "",
                "ModelPackageGroupPolicy": Stack.of(self).to_json_string(policy) if policy else "",
                "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
                "RemovalPolicy": "destroy" if destroy else "retain",
            },
            # RETAIN is CloudFormation's DeletionPolicy/UpdateReplacePolicy: no Delete reaches the handler.
            removal_policy=removal_policy,
        )
        self.model_package_group_name = name
        self.model_package_group_arn = self._resource.get_att_string("Arn")
        #: "true" when the deployment adopted a group that already existed (for example one a destroyed stack retained).
        self.adopted = self._resource.get_att_string("Adopted")

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
                    "Resource": package_arn,  # its only resource type in IAM (see grant_register)
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


class _GroupProvider(Construct):
    """The stack's one function behind every ``Custom::ModelPackageGroup`` (per encryption key)."""

    @classmethod
    def of(cls, scope: Construct, key: kms.IKey | None) -> "_GroupProvider":
        stack = Stack.of(scope)
        id = "ModelPackageGroupProvider" + ("" if key is None else Names.node_unique_id(key.node)[-8:])
        existing = stack.node.try_find_child(id)
        return existing if isinstance(existing, _GroupProvider) else cls(stack, id, key)

    def __init__(self, scope: Construct, id: str, key: kms.IKey | None) -> None:
        super().__init__(scope, id)
        log_group = logs.LogGroup(
            self, "Logs", encryption_key=key, retention=defaults.LOG_RETENTION, removal_policy=RemovalPolicy.RETAIN
        )
        description = "Creates model package groups, or adopts the ones a previous deployment retained"
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
        self.function = tiers_function(
            self,
            "Function",
            code_dir=GROUP_HANDLERS,
            handler="registry_group_resource.handler",
            description=description,
            role=self.role,
            log_group=log_group,
            timeout=Duration.minutes(2),
            metrics_namespace=METRICS_NAMESPACE,
            environment_encryption=key,
        )
        log_group.grant_write(self.role)
        self._policy = iam.Policy(self, "GroupAccess", roles=[self.role])
        reason = (
            "CloudFormation invokes it for Custom::ModelPackageGroup and waits for the answer, which the handler always "
            "sends (FAILED with the reason on any error); a lost invocation fails the stack operation visibly."
        )
        acknowledge(self.function, "Serverless-LambdaDLQ", reason)
        skip_checkov(self.function, "CKV_AWS_116", reason)
        acknowledge_outside_vpc(self.function, "It calls only the SageMaker API over TLS with IAM; it reaches no VPC resource.")
        skip_checkov(self.function, "CKV_AWS_115", "A handful of invocations per deployment; reserving concurrency would take it from the account's pool, which new accounts lack.")
        if key is None:
            no_key = "No encryption_key was given to the group; CloudWatch Logs encrypts the log group with its own key."
            skip_checkov(log_group, "CKV_AWS_158", no_key)
            skip_checkov(
                self.function,
                "CKV_AWS_173",
                no_key + " The environment holds only Powertools settings (service name, metrics namespace, log "
                "level), no secret; Lambda encrypts it at rest with its own key.",
            )
            acknowledge(log_group, "CT.CLOUDWATCH.PR.3", no_key)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permission, so CDK's tracing "
            "grant uses Resource '*'.",
            applies_to="Resource::*",
        )

    def allow(self, name: str, *, destroy: bool) -> None:
        """Let the function create or adopt ``name`` (and delete it when its removal policy is DESTROY)."""
        actions = [
            "sagemaker:DescribeModelPackageGroup",
            "sagemaker:CreateModelPackageGroup",
            "sagemaker:AddTags",
            "sagemaker:DeleteTags",
            "sagemaker:ListTags",
            "sagemaker:PutModelPackageGroupPolicy",
            "sagemaker:DeleteModelPackageGroupPolicy",
        ] + (["sagemaker:DeleteModelPackageGroup"] if destroy else [])
        names = sorted({name, _arn_name(name)})
        stack = Stack.of(self)
        arns = [stack.format_arn(service="sagemaker", resource="model-package-group", resource_name=n) for n in names]
        self._policy.add_statements(iam.PolicyStatement(actions=actions, resources=arns))
