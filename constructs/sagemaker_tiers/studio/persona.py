"""Personas: what a data scientist, an ML engineer and a business analyst see in Studio and may do in AWS.

Each persona gets its own execution role (:class:`PersonaRole`), never ``AmazonSageMakerFullAccess`` and never an
IAM action with a wildcard. What a role may do is exactly what its persona's Studio shows: the app types and ML
tools it cannot use are hidden, the others are backed by the statements below.

| persona | apps | jobs it may create (only in the VPC, with the KMS key) | registry |
| --- | --- | --- | --- |
| data scientist | JupyterLab, Code Editor | training, processing, tuning, AutoML | register (pending approval) |
| ML engineer | JupyterLab, Code Editor | training, processing, tuning, models + batch transform | register, read |
| business analyst | Canvas | Canvas-named AutoML, processing, training, transform jobs, models, endpoints (see below) | register the Canvas group |

Canvas decides itself where its builds run: in the domain's VPC only when the execution role may call
``ec2:DescribeVpcEndpointServices`` and Canvas finds the VPC endpoints it needs, otherwise in an AWS-managed network
without VPC settings (https://docs.aws.amazon.com/sagemaker/latest/dg/canvas-vpc.html); and it sets no KMS key or
network isolation of ours on what it creates. So the business analyst's role does **not** require VPC, KMS or
isolation conditions on its jobs: it may create exactly what Canvas creates, named as Canvas names it (``*canvas*`` /
``*Canvas*``, the scope of AWS's own ``AmazonSageMakerCanvasFullAccess``:
https://docs.aws.amazon.com/sagemaker/latest/dg/security-iam-awsmanpol-canvas.html). What it trains and predicts on is
still only its own prefix of the ML bucket, and it can still register only pending approval.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import jsii
from aws_cdk import Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IValidation

from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.validation import ValidationError, require_s3_prefix
from sagemaker_tiers.foundation import MlBucket, SageMakerNetwork
from sagemaker_tiers.registry import IModelPackageGroup
from sagemaker_tiers.studio.service_model import (
    APP_TYPES,
    CLOUDFORMATION_LAGS_APP_TYPES,
    CLOUDFORMATION_LAGS_ML_TOOLS,
    ML_TOOLS,
)

if TYPE_CHECKING:  # pragma: no cover
    from sagemaker_tiers.studio.hub import CuratedHub

#: Every app type the Studio UI can show: SageMaker's ``AppType`` enum, less what CloudFormation cannot take yet.
ALL_APP_TYPES: tuple[str, ...] = tuple(t for t in APP_TYPES if t not in CLOUDFORMATION_LAGS_APP_TYPES)
#: Every ML tool of the Studio navigation: SageMaker's ``MlTools`` enum, less what CloudFormation cannot take yet.
ALL_ML_TOOLS: tuple[str, ...] = tuple(t for t in ML_TOOLS if t not in CLOUDFORMATION_LAGS_ML_TOOLS)

#: Job kinds and the ``sagemaker:Create*`` actions, job ARN resource types and whether IAM knows VPC keys for them.
_JOBS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "training": (("CreateTrainingJob",), "training-job", True),
    "processing": (("CreateProcessingJob",), "processing-job", True),
    "tuning": (("CreateHyperParameterTuningJob",), "hyper-parameter-tuning-job", True),
    "automl": (("CreateAutoMLJob", "CreateAutoMLJobV2"), "automl-job", True),
    "transform": (("CreateTransformJob",), "transform-job", False),
}
_JOB_READ: dict[str, tuple[str, ...]] = {
    "training": ("DescribeTrainingJob", "StopTrainingJob"),
    "processing": ("DescribeProcessingJob", "StopProcessingJob"),
    "tuning": ("DescribeHyperParameterTuningJob", "StopHyperParameterTuningJob", "ListTrainingJobsForHyperParameterTuningJob"),
    "automl": ("DescribeAutoMLJob", "DescribeAutoMLJobV2", "StopAutoMLJob"),
    "transform": ("DescribeTransformJob", "StopTransformJob"),
}
#: List actions of each job kind: IAM defines no resource type for them (ListCandidatesForAutoMLJob included), so
#: only ``Resource: "*"`` allows them.
_JOB_LIST: dict[str, tuple[str, ...]] = {
    "training": ("ListTrainingJobs",),
    "processing": ("ListProcessingJobs",),
    "tuning": ("ListHyperParameterTuningJobs",),
    "automl": ("ListAutoMLJobs", "ListCandidatesForAutoMLJob"),
    "transform": ("ListTransformJobs",),
}


#: Forecast actions Canvas's time-series builds use, by the Forecast resource type IAM authorizes each on
#: (AWS's Canvas policy, checked against the Service Authorization Reference).
_FORECAST_ACTIONS: dict[str, tuple[str, ...]] = {
    "dataset": ("CreateDataset", "DescribeDataset", "TagResource"),
    "dataset-group": ("CreateDatasetGroup", "CreatePredictor", "TagResource"),
    "dataset-import-job": ("CreateDatasetImportJob", "DescribeDatasetImportJob", "TagResource"),
    "predictor": ("CreateForecast", "CreatePredictorBacktestExportJob", "DescribeAutoPredictor", "DescribePredictor", "GetAccuracyMetrics", "TagResource"),
    "forecast": ("CreateExplainability", "CreateForecastExportJob", "DescribeForecast", "QueryForecast", "TagResource"),
    "explainability": ("CreateExplainabilityExport", "DescribeExplainability", "TagResource"),
    "explainability-export": ("DescribeExplainabilityExport", "TagResource"),
    "forecast-export-job": ("DescribeForecastExportJob", "TagResource"),
    "predictor-backtest-export-job": ("DescribePredictorBacktestExportJob", "TagResource"),
}


class Persona(str, Enum):
    """Who a Studio user is; decides the execution role and what Studio shows."""

    DATA_SCIENTIST = "data-scientist"
    ML_ENGINEER = "ml-engineer"
    BUSINESS_ANALYST = "business-analyst"

    @classmethod
    def parse(cls, prop: str, value: Any) -> "Persona":
        """``value`` as a Persona (a Persona or its name); fails naming ``prop``, the value and the personas."""
        if isinstance(value, Persona):
            return value
        for persona in cls:
            if value == persona.value:
                return persona
        raise ValidationError(f"{prop} must be one of {', '.join(repr(p.value) for p in cls)}, got {value!r}")

    @property
    def settings(self) -> "PersonaSettings":
        return PERSONA_SETTINGS[self]


@dataclass(frozen=True)
class PersonaSettings:
    """What a persona sees and may do.

    :param app_types: Studio app types the persona runs; every other type is hidden.
    :param visible_ml_tools: ML tools shown in Studio's navigation; every other tool is hidden.
    :param jobs: Job kinds the role may create (keys of the job table in this module).
    :param models: Whether the role may create SageMaker models (batch transform needs them).
    :param spaces: Whether the persona creates its own JupyterLab / Code Editor spaces.
    :param read_registry: Whether the role may also describe registered versions (not only register).
    :param canvas: Whether the persona works in Canvas (Canvas-named jobs, models and endpoints; see the module).
    """

    app_types: tuple[str, ...]
    visible_ml_tools: tuple[str, ...]
    jobs: tuple[str, ...]
    models: bool
    spaces: bool
    read_registry: bool
    canvas: bool = False

    @property
    def hidden_app_types(self) -> list[str]:
        return [t for t in ALL_APP_TYPES if t not in self.app_types]

    def hidden_ml_tools(self, jumpstart: bool) -> list[str]:
        visible = [t for t in self.visible_ml_tools if jumpstart or t != "JumpStart"]
        return [t for t in ALL_ML_TOOLS if t not in visible]

    def hidden_beyond_cloudformation(self) -> dict[str, list[str]]:
        """What the persona's Studio must also hide that CloudFormation cannot carry yet (applied through the API)."""
        return {
            "HiddenMlTools": [t for t in ML_TOOLS if t in CLOUDFORMATION_LAGS_ML_TOOLS and t not in self.visible_ml_tools],
            "HiddenAppTypes": [t for t in APP_TYPES if t in CLOUDFORMATION_LAGS_APP_TYPES and t not in self.app_types],
        }


PERSONA_SETTINGS: dict[Persona, PersonaSettings] = {
    Persona.DATA_SCIENTIST: PersonaSettings(
        app_types=("JupyterLab", "CodeEditor"),
        visible_ml_tools=("Training", "AutoMl", "Models", "JumpStart"),
        jobs=("training", "processing", "tuning", "automl"),
        models=False,
        spaces=True,
        read_registry=False,
    ),
    Persona.ML_ENGINEER: PersonaSettings(
        app_types=("JupyterLab", "CodeEditor"),
        visible_ml_tools=("Training", "Models", "JumpStart"),
        jobs=("training", "processing", "tuning", "transform"),
        models=True,
        spaces=True,
        read_registry=True,
    ),
    Persona.BUSINESS_ANALYST: PersonaSettings(
        app_types=("Canvas",),
        visible_ml_tools=(),
        jobs=(),
        models=False,
        spaces=False,
        read_registry=False,
        canvas=True,
    ),
}


class PersonaRole(Construct):
    """The execution role of one persona in one Studio domain: least privilege, no wildcard actions.

    The role is what Studio apps of the persona's users run as, and what the jobs they start run as (it passes
    only itself, only to SageMaker). It can:

    * run the persona's Studio apps (``CreateApp`` only on the allowlisted instance types: the
      ``sagemaker:InstanceTypes`` condition), and for data scientists and ML engineers manage spaces of this
      domain on those types too;
    * read and write its own prefix of the ML bucket (``<bucket_prefix><persona>/``), and use the key only
      through SageMaker;
    * create the persona's jobs only inside the VPC and with the key: ``Null`` + ``ForAllValues`` conditions on
      ``sagemaker:VpcSubnets`` and ``sagemaker:VpcSecurityGroupIds`` (the network's subnets and security group),
      ``ArnEquals`` on ``sagemaker:VolumeKmsKeyArn`` and ``sagemaker:OutputKmsKeyArn``, and ``sagemaker:NetworkIsolation``
      true for training, processing and tuning jobs when ``require_network_isolation``. IAM has no VPC keys for
      ``CreateTransformJob`` (its VPC comes from the model, which ``CreateModel``'s conditions pin);
    * register model versions in the given groups, only pending approval (``grant_register``), never approve
      (no ``UpdateModelPackage``);
    * with a curated hub, read the hub and use its allowlisted JumpStart models (public hub content by exact ARN).

    :param persona: The persona.
    :param domain_id: ID of the Studio domain (apps, spaces and profiles of other domains stay out of reach).
    :param network: Network whose subnets and security group jobs must use.
    :param bucket: ML bucket; the role gets ``<bucket_prefix><persona>/``.
    :param encryption_key: Key jobs must encrypt volumes and outputs with.
    :param allowed_instance_types: Instance types apps and spaces may use.
    :param model_package_groups: Groups the role may register versions in. Default: none.
    :param hub: Curated JumpStart hub the role may use. Default: none (no hub or JumpStart access).
    :param bucket_prefix: Parent prefix of the persona prefixes. Default: "studio/".
    :param require_network_isolation: Require network isolation for training, processing and tuning jobs.
        Default: True.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        persona: Persona | str,
        domain_id: str,
        network: SageMakerNetwork,
        bucket: MlBucket,
        encryption_key: kms.IKey,
        allowed_instance_types: Sequence[str],
        model_package_groups: Sequence[IModelPackageGroup] = (),
        hub: "CuratedHub | None" = None,
        bucket_prefix: str = "studio/",
        require_network_isolation: bool = True,
    ) -> None:
        super().__init__(scope, id)
        self.persona = Persona.parse("persona", persona)
        require_s3_prefix("bucket_prefix", bucket_prefix)
        if not bucket_prefix.endswith("/"):
            raise ValidationError(f"bucket_prefix must end with '/', got {bucket_prefix!r}")
        settings = self.persona.settings
        self.prefix = f"{bucket_prefix}{self.persona.value}/"
        self.role = iam.Role(
            self,
            "Resource",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Studio execution role of the {self.persona.value} persona",
        )
        # The domain records the user profile name as sts:SourceIdentity (ExecutionRoleIdentityConfig
        # USER_PROFILE_NAME); SageMaker then assumes this role with a source identity, which its trust policy must
        # allow, or job creation fails with AccessDenied/ValidationError:
        # https://docs.aws.amazon.com/sagemaker/latest/dg/monitor-user-access-how-to.html
        self.role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(actions=["sts:SetSourceIdentity"], principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")])
        )
        self.grant_principal = self.role.grant_principal
        stack = Stack.of(self)
        self._arn_base = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
        self._nag_base = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>"
        self._domain_id = domain_id
        self._nag_domain = _nag_token(stack, domain_id)
        instance_types = list(allowed_instance_types)

        self._studio(settings, instance_types)
        bucket.grant_read_write_prefix(self.role, self.prefix)
        self._key(encryption_key)
        self._jobs(settings, network, encryption_key, require_network_isolation)
        if settings.canvas:
            self._canvas()
        self._support(network)
        for group in model_package_groups:
            group.grant_register(self.role)
            if settings.read_registry:
                group.grant_read(self.role)
        if hub is not None:
            hub.grant_use(self.role)
        self._acknowledge_bucket(bucket)

    # -- statement groups ------------------------------------------------------------------------------------

    def _add(self, actions: Sequence[str], resources: Sequence[str], conditions: dict[str, Any] | None = None) -> None:
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=[f"sagemaker:{a}" if ":" not in a else a for a in actions], resources=list(resources), conditions=conditions)
        )

    def _ack(self, applies_to: str, reason: str) -> None:
        acknowledge(self.role, "AwsSolutions-IAM5", reason, applies_to=applies_to)

    def _studio(self, settings: PersonaSettings, instance_types: list[str]) -> None:
        d = self._domain_id
        self._add(["DescribeDomain"], [f"{self._arn_base}:domain/{d}"])
        self._add(["DescribeUserProfile"], [f"{self._arn_base}:user-profile/{d}/*"])
        self._ack(
            f"Resource::{self._nag_base}:user-profile/{self._nag_domain}/*",
            "Studio reads the signed-in user's profile; profiles are added from configuration and by admins, so IAM "
            "names them by this domain's prefix (read-only).",
        )
        app_arns = []
        for app_type in settings.app_types:
            for spelling in dict.fromkeys((app_type, app_type.lower())):
                app_arns.append(f"{self._arn_base}:app/{d}/*/{spelling}/*")
                self._ack(
                    f"Resource::{self._nag_base}:app/{self._nag_domain}/*/{spelling}/*",
                    f"Studio names {app_type} apps by user profile or space and app name at launch; the ARN pins this "
                    "domain and the persona's app type, and CreateApp is limited to allowlisted instance types.",
                )
        instance_condition = {"ForAllValues:StringEquals": {"sagemaker:InstanceTypes": [*instance_types, "system"]}}
        # Only the signed-in user's own private spaces and their apps, or shared spaces: AWS's pattern with
        # sagemaker:OwnerUserProfileArn / sagemaker:SpaceSharingType and the ${sagemaker:UserProfileName} variable
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/studio-updated-jl-admin-guide-permissions.html).
        own_profile = f"{self._arn_base}:user-profile/{d}/${{sagemaker:UserProfileName}}"
        own = {"ArnLike": {"sagemaker:OwnerUserProfileArn": own_profile}}
        if settings.spaces:  # JupyterLab / Code Editor apps live in spaces
            private_apps = {**own, "StringEquals": {"sagemaker:SpaceSharingType": ["Private"]}}
            shared_apps = {"StringEquals": {"sagemaker:SpaceSharingType": ["Shared"]}}
            self._add(["CreateApp"], app_arns, {**instance_condition, **private_apps})
            self._add(["CreateApp"], app_arns, {**instance_condition, **shared_apps})
            self._add(["DeleteApp"], app_arns, private_apps)
            self._add(["DeleteApp"], app_arns, shared_apps)
        else:  # Canvas runs as an app of the user profile itself, in no space (no owner key)
            no_space = {"Null": {"sagemaker:OwnerUserProfileArn": "true", "sagemaker:SpaceSharingType": "true"}}
            self._add(["CreateApp"], app_arns, {**instance_condition, **no_space})
            self._add(["DeleteApp"], app_arns, no_space)
        self._add(["DescribeApp"], app_arns)
        list_actions = ["ListApps"]
        tagged = list(app_arns)
        tagging_actions = ["CreateApp"]
        if settings.spaces:
            space_arn = f"{self._arn_base}:space/{d}/*"
            owned_spaces = {**own, "StringEquals": {"sagemaker:SpaceSharingType": ["Private", "Shared"]}}
            self._add(["CreateSpace", "UpdateSpace"], [space_arn], {**instance_condition, **owned_spaces})
            self._add(["DeleteSpace"], [space_arn], owned_spaces)
            self._add(["DescribeSpace"], [space_arn])
            self._ack(
                f"Resource::{self._nag_base}:space/{self._nag_domain}/*",
                "Users name their own spaces in Studio; the ARN pins this domain and CreateSpace/UpdateSpace are "
                "limited to the allowlisted instance types.",
            )
            list_actions.append("ListSpaces")
            tagged.append(space_arn)
            tagging_actions.append("CreateSpace")
        # Tag propagation: SageMaker tags what Studio creates, with the caller's permission to tag it.
        self._add(["AddTags"], tagged, {"StringEquals": {"sagemaker:TaggingAction": tagging_actions}})
        self._add(list_actions, ["*"])
        self._ack(
            "Resource::*",
            "ListApps/ListSpaces, the job List* actions, ECR GetAuthorizationToken and the EC2 Describe* calls that "
            "VPC jobs need support no resource-level permission (IAM requires Resource '*'); all are read-only.",
        )
        stack = Stack.of(self)
        logs_arn = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:log-group:/aws/sagemaker/*"
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
                resources=[logs_arn],
            )
        )
        self._ack(
            "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/*",
            "Studio apps and the jobs this role runs write and read their logs in SageMaker's /aws/sagemaker/* log "
            "groups, whose streams are named per app and job at run time.",
        )

    def _key(self, key: kms.IKey) -> None:
        """The key, only through SageMaker (exact actions; no GenerateDataKey* wildcard)."""
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                    "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                ],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sagemaker.{Stack.of(self).region}.amazonaws.com"}},
            )
        )

    def _jobs(self, settings: PersonaSettings, network: SageMakerNetwork, key: kms.IKey, isolation: bool) -> None:
        vpc = {
            "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
            "ForAllValues:StringEquals": {
                "sagemaker:VpcSubnets": network.subnet_ids,
                "sagemaker:VpcSecurityGroupIds": [network.security_group.security_group_id],
            },
        }
        # The *Arn keys: IAM documents them for every Create*Job action; the older VolumeKmsKey/OutputKmsKey are
        # deprecated and no longer documented for these actions, so an Allow on them never matches.
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html
        kms_keys = {"ArnEquals": {"sagemaker:VolumeKmsKeyArn": key.key_arn, "sagemaker:OutputKmsKeyArn": key.key_arn}}
        created: list[str] = []
        for kind in settings.jobs:
            actions, resource_type, has_vpc_keys = _JOBS[kind]
            conditions: dict[str, Any] = dict(kms_keys)
            if has_vpc_keys:
                conditions.update(vpc)
                if isolation and kind in ("training", "processing", "tuning"):
                    conditions["Bool"] = {"sagemaker:NetworkIsolation": "true"}
            job_arn = f"{self._arn_base}:{resource_type}/*"
            self._add(actions, [job_arn], conditions)
            self._add(_JOB_READ[kind], [job_arn])
            self._add(_JOB_LIST[kind], ["*"])
            self._ack(
                f"Resource::{self._nag_base}:{resource_type}/*",
                f"Users name their {resource_type}s when they start them; creation is only allowed inside the VPC "
                "and with the platform's KMS key (IAM conditions), describe/stop are read or stop-only.",
            )
            created += [f"{self._arn_base}:{resource_type}/*"]
        tagging = [a for kind in settings.jobs for a in _JOBS[kind][0]]
        if settings.models:
            model_arn = f"{self._arn_base}:model/*"
            model_conditions: dict[str, Any] = dict(vpc)
            if isolation:
                model_conditions["Bool"] = {"sagemaker:NetworkIsolation": "true"}
            self._add(["CreateModel"], [model_arn], model_conditions)
            self._add(["DescribeModel", "DeleteModel"], [model_arn])
            self._ack(
                f"Resource::{self._nag_base}:model/*",
                "Batch predictions need a model named at run time; CreateModel is only allowed inside the VPC "
                "(sagemaker:VpcSubnets / VpcSecurityGroupIds conditions).",
            )
            created.append(model_arn)
            tagging.append("CreateModel")
        if created:
            self._add(["AddTags"], created, {"StringEquals": {"sagemaker:TaggingAction": tagging}})
            self.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[self.role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                )
            )

    def _canvas(self) -> None:
        """What Canvas creates as this role to build, predict and deploy in-app: Canvas-named resources only."""
        creates = {
            "automl-job": ("CreateAutoMLJob", "CreateAutoMLJobV2", "DescribeAutoMLJob", "DescribeAutoMLJobV2", "StopAutoMLJob"),
            "processing-job": ("CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob"),
            "training-job": ("CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob"),
            "transform-job": ("CreateTransformJob", "DescribeTransformJob", "StopTransformJob"),
            "model": ("CreateModel", "DescribeModel", "DeleteModel"),
            "endpoint-config": ("CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig"),
        }
        tagging: list[str] = []
        tagged: list[str] = []
        for resource_type, actions in creates.items():
            arns = self._canvas_arns(resource_type)
            self._add(actions, arns)
            tagged += arns
            tagging += [a for a in actions if a.startswith("Create")]
        # CreateEndpoint is authorized on the endpoint and on its configuration (IAM lists both resource types).
        endpoint_arns = self._canvas_arns("endpoint")
        self._add(["CreateEndpoint"], [*endpoint_arns, *self._canvas_arns("endpoint-config")])
        self._add(["DescribeEndpoint", "DeleteEndpoint", "InvokeEndpoint"], endpoint_arns)
        tagged += endpoint_arns
        tagging.append("CreateEndpoint")
        self._add(["ListCandidatesForAutoMLJob"], ["*"])
        self._add(["AddTags"], tagged, {"StringEquals": {"sagemaker:TaggingAction": tagging}})
        self._add(["ListAutoMLJobs", "ListProcessingJobs", "ListTrainingJobs", "ListTransformJobs", "ListModels", "ListEndpoints", "ListEndpointConfigs"], ["*"])
        for resource_type in (*creates, "endpoint"):
            for spelling in ("canvas", "Canvas"):
                self._ack(
                    f"Resource::{self._nag_base}:{resource_type}/*{spelling}*",
                    f"Canvas names the {resource_type}s it creates for builds and predictions '*canvas*'; the role may "
                    "create and manage only those (the scope of AWS's AmazonSageMakerCanvasFullAccess).",
                )
        # Canvas runs standard builds in the VPC only when it finds the VPC endpoints it needs, for which it calls
        # DescribeVpcEndpointServices: https://docs.aws.amazon.com/sagemaker/latest/dg/canvas-vpc.html
        self.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ec2:DescribeVpcEndpointServices", "ec2:DescribeVpcEndpoints"], resources=["*"])
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )

    def _canvas_arns(self, resource_type: str) -> list[str]:
        return [f"{self._arn_base}:{resource_type}/*canvas*", f"{self._arn_base}:{resource_type}/*Canvas*"]

    def grant_canvas_register(self, group: IModelPackageGroup) -> None:
        """Let Canvas's "Add to Model Registry" add versions to ``group``, pending approval only.

        Canvas offers a new group named after the Canvas model or an existing group
        (https://docs.aws.amazon.com/sagemaker/latest/dg/canvas-register-model.html); ``ModelRegisterSettings`` cannot
        name one, so users pick ``group`` there and IAM refuses any other. Canvas may omit ``ModelApprovalStatus``,
        which then defaults to ``PendingManualApproval``
        (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateModelPackage.html), hence
        ``StringEqualsIfExists``: a version can never be registered as approved.
        """
        self._add(["ListModelPackageGroups", "ListModelPackages"], ["*"])
        self._add(["DescribeModelPackageGroup"], [group.model_package_group_arn])
        self._add(
            ["CreateModelPackage"],
            # IAM authorizes CreateModelPackage on the new version only (model-package is its one resource type).
            [group.model_package_arn_pattern],
            {"StringEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
        )
        group._acknowledge_versions(self.role)  # type: ignore[attr-defined]

    def add_canvas_forecast_role(self, bucket: MlBucket, prefix: str) -> iam.Role:
        """A role for Amazon Forecast in Canvas's time-series builds (trusting forecast.amazonaws.com), reading
        and writing only ``prefix`` of ``bucket`` (the key only through S3); this persona may pass it to Forecast.
        """
        role = iam.Role(
            self,
            "CanvasForecastRole",
            assumed_by=iam.ServicePrincipal("forecast.amazonaws.com"),
            description="Amazon Forecast's role for Canvas time-series builds: the Canvas workspace prefix only",
        )
        bucket.grant_read_write_prefix(role, prefix)  # the grant acknowledges its one prefix wildcard itself
        self.grant_canvas_forecast(role)
        return role

    def grant_canvas_forecast(self, forecast_role: iam.IRole) -> None:
        """Let Canvas run time-series forecasts with Amazon Forecast, passing ``forecast_role`` to it.

        Canvas calls Forecast as this role on Canvas-named Forecast resources and passes the forecast role
        (``TimeSeriesForecastingSettings.AmazonForecastRoleArn``) to Forecast, as AWS's Canvas policy does:
        https://docs.aws.amazon.com/sagemaker/latest/dg/security-iam-awsmanpol-canvas.html
        """
        stack = Stack.of(self)
        base = f"arn:{stack.partition}:forecast:{stack.region}:{stack.account}"
        for resource_type, actions in _FORECAST_ACTIONS.items():
            arns = [f"{base}:{resource_type}/*Canvas*", f"{base}:{resource_type}/*canvas*"]
            self.role.add_to_principal_policy(iam.PolicyStatement(actions=[f"forecast:{a}" for a in actions], resources=arns))
            for spelling in ("Canvas", "canvas"):
                acknowledge(
                    self.role,
                    "AwsSolutions-IAM5",
                    f"Canvas names the Forecast {resource_type}s of its time-series builds '*Canvas*'; only those.",
                    applies_to=f"Resource::arn:<AWS::Partition>:forecast:<AWS::Region>:<AWS::AccountId>:{resource_type}/*{spelling}*",
                )
        # IAM's reference lists no resource type for CreateAutoPredictor: it takes Resource "*".
        self.role.add_to_principal_policy(iam.PolicyStatement(actions=["forecast:CreateAutoPredictor"], resources=["*"]))
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[forecast_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "forecast.amazonaws.com"}},
            )
        )

    def _support(self, network: SageMakerNetwork) -> None:
        """What jobs running as this role need: ENIs in the VPC, and images from ECR."""
        stack = Stack.of(self)
        ec2_base = f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}"
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeDhcpOptions", "ecr:GetAuthorizationToken"],
                resources=["*"],
            )
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
                resources=[
                    f"{ec2_base}:network-interface/*",
                    *[f"{ec2_base}:subnet/{s}" for s in network.subnet_ids],
                    f"{ec2_base}:security-group/{network.security_group.security_group_id}",
                ],
            )
        )
        self._ack(
            "Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*",
            "Jobs in the VPC get network interfaces SageMaker creates at run time; the subnets and security group "
            "they may be created in are named exactly.",
        )
        self.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[f"arn:{stack.partition}:ecr:{stack.region}:*:repository/*"],
            )
        )
        self._ack(
            "Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:*:repository/*",
            "SageMaker's framework, AutoML and JumpStart images live in AWS-owned ECR accounts that differ per region "
            "and framework; the role can only pull (read) images in this region.",
        )

    def _acknowledge_bucket(self, bucket: MlBucket) -> None:
        # A bucket of another stack is an import whose export name CDK only decides while preparing the app, so
        # this acknowledgment is added at validation time, when cdk-nag's text for it is known.
        stack = Stack.of(self)
        reason = (
            f"The {self.persona.value} persona reads and writes only under its own prefix {self.prefix} of the ML "
            "bucket; object names below it are chosen by users and jobs."
        )
        self.node.add_validation(
            _DeferredAcknowledgment(self.role, reason, lambda: f"Resource::{_nag_token(stack, bucket.bucket_arn)}/{self.prefix}*")
        )


@jsii.implements(IValidation)
class _DeferredAcknowledgment:
    """Adds an IAM5 acknowledgment when the app is validated (after cross-stack references are resolved)."""

    def __init__(self, scope: Construct, reason: str, applies_to: Callable[[], str]) -> None:
        self._scope, self._reason, self._applies_to = scope, reason, applies_to

    def validate(self) -> list[str]:
        acknowledge(self._scope, "AwsSolutions-IAM5", self._reason, applies_to=self._applies_to())
        return []


def _nag_token(stack: Stack, value: str) -> str:
    """How cdk-nag prints ``value`` in a finding: a literal as it is, a reference as ``<LogicalId.Attr>``."""
    if not Token.is_unresolved(value):
        return value
    resolved = stack.resolve(value)
    if isinstance(resolved, dict):
        if "Fn::GetAtt" in resolved:
            logical, attr = resolved["Fn::GetAtt"]
            return f"<{logical}.{attr}>"
        if "Ref" in resolved:
            return f"<{resolved['Ref']}>"
        if "Fn::ImportValue" in resolved:
            return str(resolved["Fn::ImportValue"])
    return str(resolved)
