"""The governed Studio domain: VPC-only, KMS-encrypted, per-persona roles, guardrails, Canvas set up as code."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jsii
from aws_cdk import CustomResource, Duration, IStableStringProducer, Lazy, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.names import unique_per_stack_instance
from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.validation import (
    require_customer_managed_key,
    ValidationError,
    require_int_in_range,
    require_match,
    require_one_of,
    require_s3_prefix,
    require_unique,
)
from sagemaker_tiers.foundation import MlBucket, SageMakerNetwork
from sagemaker_tiers.operations.widgets import queue_depth_widget
from sagemaker_tiers.registry import IModelPackageGroup
from sagemaker_tiers.studio import _functions
from sagemaker_tiers.studio.hub import CuratedHub
from sagemaker_tiers.studio.instance_types import (
    DEFAULT_ALLOWED_INSTANCE_TYPES,
    DEFAULT_INSTANCE_TYPE,
    STUDIO_APP_INSTANCE_TYPES,
    hidden_instance_types,
    validate_allowed_instance_types,
)
from sagemaker_tiers.studio.persona import Persona, PersonaRole
from sagemaker_tiers.studio.service_model import CLOUDFORMATION_LAGS_INSTANCE_TYPES

NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
NAME_RULE = "1-63 letters, digits or '-', starting and ending with a letter or digit"
#: SageMaker's bounds for idle timeouts (minutes).
MIN_IDLE_MINUTES = 60
MAX_IDLE_MINUTES = 525_600
LANDING_URI = "studio::"
#: Interface endpoints a Canvas app needs in a VPC without internet access, beyond the network's own set (SageMaker
#: API/runtime/notebook, STS, ECR, CloudWatch, Logs, S3 gateway): EC2, which Canvas calls to find the VPC endpoints
#: (DescribeVpcEndpointServices), and Systems Manager, both listed by
#: https://docs.aws.amazon.com/sagemaker/latest/dg/canvas-vpc.html. The data-source endpoints that page lists
#: (Athena, Redshift Data, Secrets Manager, Glue) and those of ready-to-use models are not added: the business
#: analyst's role grants none of those features.
CANVAS_INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "Ec2": ec2.InterfaceVpcEndpointAwsService.EC2,
    "Ssm": ec2.InterfaceVpcEndpointAwsService.SSM,
}
#: ... and with time-series forecasting, Amazon Forecast and its query API (same page).
CANVAS_FORECAST_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "Forecast": ec2.InterfaceVpcEndpointAwsService.FORECAST,
    "ForecastQuery": ec2.InterfaceVpcEndpointAwsService.FORECAST_QUERY,
}


@dataclass(frozen=True)
class StudioUser:
    """A user profile from configuration.

    :param name: User profile name (1-63 letters, digits or '-').
    :param persona: Its persona (a :class:`Persona` or its name, e.g. ``"data-scientist"``).
    :param sso_user_name: IAM Identity Center user name; required with ``auth_mode="SSO"``, refused with IAM.
    """

    name: str
    persona: Persona | str
    sso_user_name: str | None = None


@dataclass(frozen=True)
class SharedSpace:
    """A shared JupyterLab space: every user of the domain can open it, and its apps run as the domain's default
    space role, which is the role of the domain's ``default_persona`` (SageMaker runs shared spaces as
    ``DefaultSpaceSettings.ExecutionRole``, never as their owner's role).

    :param name: Space name (1-63 letters, digits or '-').
    :param owner: Name of the owning user profile, a user of the ``default_persona`` (so the space can do no more
        than its owner).
    """

    name: str
    owner: str


@dataclass(frozen=True)
class CanvasOptions:
    """Canvas settings for the business-analyst profiles, applied through the SageMaker API.

    :param model_package_group: Registry group Canvas models are registered into (pending approval, so they
        enter the approval workflow). Default: none, and model registration is off.
    :param time_series_forecasting: Time-series forecasting in Canvas. Default: True.
    :param direct_deploy: Deploying models to endpoints from Canvas. Default: False.
    :param kendra: Amazon Kendra document querying. Default: False.
    :param bedrock_role: Role Canvas uses for generative AI (Bedrock). Default: none (generative AI is off).
    :param workspace_prefix: Prefix of the ML bucket for Canvas artifacts, inside the business analysts'
        prefix. Default: ``<bucket_prefix>business-analyst/canvas/``.
    :param local_file_upload: Let Canvas users upload files from their computers: the ML bucket gets the CORS rule
        Canvas needs (:meth:`MlBucket.allow_canvas_uploads`), only when the domain has business-analyst profiles.
        Default: True (as in AWS's console).
    """

    model_package_group: IModelPackageGroup | None = None
    time_series_forecasting: bool = True
    direct_deploy: bool = False
    kendra: bool = False
    bedrock_role: iam.IRole | None = None
    workspace_prefix: str | None = None
    local_file_upload: bool = True


class StudioDomain(Construct):
    """A SageMaker Studio domain (``AWS::SageMaker::Domain``) in the foundation network, governed as code.

    * Network and encryption: ``VpcOnly`` by default (apps reach the internet only through the network's NAT or
      endpoints), the network's subnets and security group, storage encrypted with ``encryption_key``, Docker
      access off, tags propagated to what Studio creates, the user profile name recorded as ``sts:SourceIdentity``.
    * Personas: one :class:`PersonaRole` per persona in use (``roles``); each profile from ``users`` runs as its
      persona's role and sees only its persona's apps and ML tools (``HiddenAppTypes`` / ``HiddenMlTools``);
      JumpStart only for ``jumpstart_personas`` and only through ``jumpstart_hub``.
    * Guardrails: instance types outside ``allowed_instance_types`` are hidden (``HiddenInstanceTypes``) *and*
      refused by IAM (``CreateApp`` / ``CreateSpace`` conditions); JupyterLab and Code Editor apps shut down after
      ``idle_timeout_minutes`` idle (users may choose between 60 minutes and ``max_idle_timeout_minutes``); every
      user lands in Studio (``studio::``).
    * Canvas: business-analyst profiles get Canvas; its settings (time-series forecasting, registration into
      ``canvas.model_package_group``, workspace artifacts in the ML bucket under the key, direct deploy / Kendra /
      generative AI off unless asked) are applied by a custom resource calling ``UpdateUserProfile``, because
      CloudFormation has no ``CanvasAppSettings``. OAuth data-source settings made by hand are never touched.
      The ML bucket gets Canvas's local-upload CORS rule (:meth:`MlBucket.allow_canvas_uploads`) unless
      ``canvas.local_file_upload`` is false; without business analysts it gets none.
    * Deletion: the domain, profiles and spaces are retained by default (RETAIN: home directories survive). With
      ``cleanup_on_delete=True`` they are deleted with the stack: a custom resource first deletes every app, space
      and user profile of the domain (also those users created), then deletes the domain with
      ``RetentionPolicy.HomeEfsFileSystem=Delete`` so SageMaker deletes the home EFS file system too (CloudFormation
      alone would leave it and its storage bill behind), and SageMaker's two NFS security groups of that file
      system are deleted last (left behind, they would block deleting the VPC). A ``Failed`` app is not deleted
      (SageMaker refuses it and it blocks nothing).

    Example::

        domain = StudioDomain(self, "Studio", network=network, encryption_key=key, bucket=bucket,
                              users=[StudioUser("alice", "data-scientist"), StudioUser("bob", "business-analyst")],
                              model_package_groups=[churn_group], jumpstart_hub=hub,
                              canvas=CanvasOptions(model_package_group=churn_group))

    :param network: Network of the domain (subnets, security group, VPC).
    :param encryption_key: KMS key for the domain's storage, Canvas artifacts and the automation's logs.
    :param bucket: ML bucket; each persona reads and writes ``<bucket_prefix><persona>/``.
    :param users: User profiles. Default: none.
    :param shared_spaces: Shared JupyterLab spaces. Default: none.
    :param domain_name: Domain name. Default: the construct path plus the first 8 hex digits of the stack's ID,
        so a stack deployed again after ``cdk destroy`` names its new domain apart from the retained one.
    :param auth_mode: ``"IAM"`` or ``"SSO"`` (IAM Identity Center). Default: ``"IAM"``.
    :param app_network_access_type: ``"VpcOnly"`` or ``"PublicInternetOnly"``. Default: ``"VpcOnly"``.
    :param docker_access: Let users build and run containers from Studio. Default: False.
    :param allowed_instance_types: Instance types users may run apps and spaces on (Studio app instance types).
        Default: :data:`DEFAULT_ALLOWED_INSTANCE_TYPES`.
    :param default_instance_type: Instance type new apps and spaces start on; must be allowed. Default: "ml.t3.medium".
    :param idle_timeout_minutes: Idle time after which JupyterLab and Code Editor apps shut down, 60 to
        ``max_idle_timeout_minutes``. Default: 60.
    :param max_idle_timeout_minutes: The longest idle timeout users may choose, 60-525600. Default: 240.
    :param model_package_groups: Groups data scientists and ML engineers may register model versions in
        (pending approval only). Default: none.
    :param jumpstart_hub: Curated hub of allowlisted JumpStart models. Default: none (JumpStart hidden for all).
    :param jumpstart_personas: Personas that see JumpStart (with ``jumpstart_hub``). Default: data scientist and
        ML engineer.
    :param canvas: Canvas settings of business-analyst profiles. Default: ``CanvasOptions()``.
    :param default_persona: Persona of the domain's default user settings and of shared spaces' default
        settings (what a profile created outside this construct gets). Default: data scientist.
    :param bucket_prefix: Parent prefix of the persona prefixes in the ML bucket. Default: "studio/".
    :param require_network_isolation: Require network isolation for the training, processing and tuning jobs and
        the models users create. Default: True.
    :param cleanup_on_delete: Delete apps, spaces, profiles, the domain and its home EFS with the stack.
        Default: False (everything retained).
    :param alarm_topic: Topic the automation's alarms notify. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        network: SageMakerNetwork,
        encryption_key: kms.IKey,
        bucket: MlBucket,
        users: Sequence[StudioUser] = (),
        shared_spaces: Sequence[SharedSpace] = (),
        domain_name: str | None = None,
        auth_mode: Literal["IAM", "SSO"] = "IAM",
        app_network_access_type: Literal["VpcOnly", "PublicInternetOnly"] = "VpcOnly",
        docker_access: bool = False,
        allowed_instance_types: Sequence[str] = DEFAULT_ALLOWED_INSTANCE_TYPES,
        default_instance_type: str = DEFAULT_INSTANCE_TYPE,
        idle_timeout_minutes: int = 60,
        max_idle_timeout_minutes: int = 240,
        model_package_groups: Sequence[IModelPackageGroup] = (),
        jumpstart_hub: CuratedHub | None = None,
        jumpstart_personas: Sequence[Persona | str] = (Persona.DATA_SCIENTIST, Persona.ML_ENGINEER),
        canvas: CanvasOptions | None = None,
        default_persona: Persona | str = Persona.DATA_SCIENTIST,
        bucket_prefix: str = "studio/",
        require_network_isolation: bool = True,
        cleanup_on_delete: bool = False,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        # -- validation: everything fails here, at synth, naming the prop ----------------------------------
        if network is None or encryption_key is None or bucket is None:
            raise ValidationError("network, encryption_key and bucket must be given, got None")
        require_customer_managed_key("encryption_key", encryption_key)
        require_one_of("auth_mode", auth_mode, ("IAM", "SSO"))
        require_one_of("app_network_access_type", app_network_access_type, ("VpcOnly", "PublicInternetOnly"))
        allowed = validate_allowed_instance_types("allowed_instance_types", allowed_instance_types)
        if default_instance_type not in allowed:
            raise ValidationError(
                f"default_instance_type must be one of allowed_instance_types ({', '.join(allowed)}), got {default_instance_type!r}"
            )
        require_int_in_range("max_idle_timeout_minutes", max_idle_timeout_minutes, minimum=MIN_IDLE_MINUTES, maximum=MAX_IDLE_MINUTES)
        require_int_in_range("idle_timeout_minutes", idle_timeout_minutes, minimum=MIN_IDLE_MINUTES, maximum=max_idle_timeout_minutes)
        if domain_name is not None:
            require_match("domain_name", domain_name, NAME_PATTERN, NAME_RULE)
        require_s3_prefix("bucket_prefix", bucket_prefix)
        if not bucket_prefix.endswith("/"):
            raise ValidationError(f"bucket_prefix must end with '/', got {bucket_prefix!r}")
        default_persona = Persona.parse("default_persona", default_persona)
        if "JupyterLab" not in default_persona.settings.app_types:
            raise ValidationError(f"default_persona must be a persona that runs JupyterLab (data-scientist or ml-engineer), got {default_persona.value!r}")
        jumpstart = {Persona.parse("jumpstart_personas", p) for p in jumpstart_personas}
        users = list(users)
        personas = {}
        for user in users:
            if not isinstance(user, StudioUser):
                raise ValidationError(f"users must be StudioUser entries, got {user!r}")
            require_match("users", user.name, NAME_PATTERN, "a list of user profiles named with " + NAME_RULE)
            personas[user.name] = Persona.parse(f"users[{user.name}].persona", user.persona)
            if auth_mode == "SSO" and not user.sso_user_name:
                raise ValidationError(f"users[{user.name}].sso_user_name must be the IAM Identity Center user name with auth_mode 'SSO', got None")
            if auth_mode == "IAM" and user.sso_user_name:
                raise ValidationError(f"users[{user.name}].sso_user_name must not be set with auth_mode 'IAM', got {user.sso_user_name!r}")
        require_unique("users", [u.name for u in users])
        for space in shared_spaces:
            require_match("shared_spaces", space.name, NAME_PATTERN, "a list of spaces named with " + NAME_RULE)
            if space.owner not in personas:
                raise ValidationError(f"shared_spaces[{space.name}].owner must be one of the users ({', '.join(personas) or 'none'}), got {space.owner!r}")
            if "JupyterLab" not in personas[space.owner].settings.app_types:
                raise ValidationError(
                    f"shared_spaces[{space.name}].owner must be a data scientist or ML engineer (JupyterLab users), "
                    f"got {space.owner!r} ({personas[space.owner].value})"
                )
            # A shared space's apps run as the domain's default space role (DefaultSpaceSettings.ExecutionRole),
            # the settings of shared spaces, not the owner's role: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DefaultSpaceSettings.html
            if personas[space.owner] is not default_persona:
                raise ValidationError(
                    f"shared_spaces[{space.name}].owner must be a {default_persona.value} (default_persona: shared "
                    f"spaces run as its role), got {space.owner!r} ({personas[space.owner].value})"
                )
        require_unique("shared_spaces", [s.name for s in shared_spaces])
        canvas = canvas or CanvasOptions()
        if not isinstance(canvas.local_file_upload, bool):
            raise ValidationError(f"canvas.local_file_upload must be True or False, got {canvas.local_file_upload!r}")
        workspace_prefix = canvas.workspace_prefix or f"{bucket_prefix}{Persona.BUSINESS_ANALYST.value}/canvas/"
        require_s3_prefix("canvas.workspace_prefix", workspace_prefix)
        if not workspace_prefix.startswith(f"{bucket_prefix}{Persona.BUSINESS_ANALYST.value}/"):
            raise ValidationError(
                f"canvas.workspace_prefix must be inside the business analysts' prefix "
                f"{bucket_prefix}{Persona.BUSINESS_ANALYST.value}/, got {workspace_prefix!r}"
            )
        super().__init__(scope, id)

        self.encryption_key = encryption_key
        self.network = network
        self.allowed_instance_types = allowed
        self.idle_timeout_minutes = idle_timeout_minutes
        self.max_idle_timeout_minutes = max_idle_timeout_minutes
        self._alarm_topic = alarm_topic
        self._jumpstart = jumpstart if jumpstart_hub is not None else set()
        removal_policy = RemovalPolicy.DESTROY if cleanup_on_delete else defaults.DATA_REMOVAL_POLICY
        self.removal_policy = removal_policy

        # -- roles, domain ------------------------------------------------------------------------------------
        # Retained and not importable (its ID is read-only): a name per stack instance, never the retained one's.
        name = domain_name or unique_per_stack_instance(self, 63)
        self.domain_name = name
        self._roles_scope = Construct(self, "Roles")
        self.roles: dict[Persona, PersonaRole] = {}
        self._role_args = dict(
            network=network,
            bucket=bucket,
            encryption_key=encryption_key,
            allowed_instance_types=allowed,
            model_package_groups=list(model_package_groups),
            bucket_prefix=bucket_prefix,
            require_network_isolation=require_network_isolation,
        )
        self._canvas_group = canvas.model_package_group
        self._hub = jumpstart_hub
        D = sagemaker.CfnDomain
        self._idle = D.IdleSettingsProperty(
            lifecycle_management="ENABLED",
            idle_timeout_in_minutes=idle_timeout_minutes,
            min_idle_timeout_in_minutes=MIN_IDLE_MINUTES,
            max_idle_timeout_in_minutes=max_idle_timeout_minutes,
        )
        lifecycle = D.AppLifecycleManagementProperty(idle_settings=self._idle)
        self._default_instance_type = default_instance_type
        spec = D.ResourceSpecProperty(instance_type=default_instance_type)
        security_groups = [network.security_group.security_group_id]

        # The roles' policies need the domain's ID and the domain needs the default role's ARN: the ARN is read
        # lazily at synth. Policies are separate resources, so CloudFormation creates role -> domain -> policy.
        default_role = Lazy.string(_LazyString(lambda: self.roles[default_persona].role.role_arn))
        self._resource = sagemaker.CfnDomain(
            self,
            "Resource",
            domain_name=name,
            auth_mode=auth_mode,
            app_network_access_type=app_network_access_type,
            vpc_id=network.vpc.vpc_id,
            subnet_ids=network.subnet_ids,
            kms_key_id=encryption_key.key_arn,
            tag_propagation="ENABLED",
            domain_settings=D.DomainSettingsProperty(
                docker_settings=D.DockerSettingsProperty(enable_docker_access="ENABLED" if docker_access else "DISABLED"),
                execution_role_identity_config="USER_PROFILE_NAME",
            ),
            default_user_settings=D.UserSettingsProperty(
                execution_role=default_role,
                security_groups=security_groups,
                default_landing_uri=LANDING_URI,
                studio_web_portal="ENABLED",
                studio_web_portal_settings=D.StudioWebPortalSettingsProperty(**self._portal_settings(default_persona)),
                jupyter_lab_app_settings=D.JupyterLabAppSettingsProperty(app_lifecycle_management=lifecycle, default_resource_spec=spec),
                code_editor_app_settings=D.CodeEditorAppSettingsProperty(app_lifecycle_management=lifecycle, default_resource_spec=spec),
            ),
            default_space_settings=D.DefaultSpaceSettingsProperty(
                execution_role=default_role,
                security_groups=security_groups,
                jupyter_lab_app_settings=D.JupyterLabAppSettingsProperty(app_lifecycle_management=lifecycle, default_resource_spec=spec),
            ),
        )
        self._resource.apply_removal_policy(removal_policy)
        self.domain_id = self._resource.attr_domain_id
        self.domain_arn = self._resource.attr_domain_arn
        self.url = self._resource.attr_url
        self.home_efs_file_system_id = self._resource.attr_home_efs_file_system_id
        for persona in sorted(set(personas.values()) | {default_persona}, key=lambda p: p.value):
            self._role(persona)

        # -- user profiles and spaces ------------------------------------------------------------------------
        profiles = Construct(self, "UserProfiles")
        self.user_profiles: dict[str, sagemaker.CfnUserProfile] = {}
        for user in users:
            persona = personas[user.name]
            profile = sagemaker.CfnUserProfile(
                profiles,
                user.name,
                domain_id=self.domain_id,
                user_profile_name=user.name,
                single_sign_on_user_identifier="UserName" if user.sso_user_name else None,
                single_sign_on_user_value=user.sso_user_name,
                user_settings=sagemaker.CfnUserProfile.UserSettingsProperty(
                    execution_role=self.roles[persona].role.role_arn,
                    security_groups=security_groups,
                    default_landing_uri=LANDING_URI,
                    studio_web_portal="ENABLED",
                    studio_web_portal_settings=sagemaker.CfnUserProfile.StudioWebPortalSettingsProperty(**self._portal_settings(persona)),
                ),
                # No persona tag: AWS::SageMaker::UserProfile's Tags are create-only, so a changed persona would
                # replace the profile, which its fixed UserProfileName forbids (the stack update fails):
                # https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sagemaker-userprofile.html
            )
            profile.apply_removal_policy(removal_policy)
            profile.node.add_dependency(self.roles[persona])
            self.user_profiles[user.name] = profile
        self.personas = personas

        spaces = Construct(self, "SharedSpaces")
        self.spaces: dict[str, sagemaker.CfnSpace] = {}
        S = sagemaker.CfnSpace
        for shared in shared_spaces:
            cfn_space = sagemaker.CfnSpace(
                spaces,
                shared.name,
                domain_id=self.domain_id,
                space_name=shared.name,
                ownership_settings=S.OwnershipSettingsProperty(owner_user_profile_name=shared.owner),
                space_sharing_settings=S.SpaceSharingSettingsProperty(sharing_type="Shared"),
                space_settings=S.SpaceSettingsProperty(
                    app_type="JupyterLab",
                    jupyter_lab_app_settings=S.SpaceJupyterLabAppSettingsProperty(
                        default_resource_spec=S.ResourceSpecProperty(instance_type=self._default_instance_type)
                    ),
                ),
            )
            cfn_space.apply_removal_policy(removal_policy)
            cfn_space.node.add_dependency(self.user_profiles[shared.owner])
            self.spaces[shared.name] = cfn_space

        # -- automation: Canvas settings, cleanup ------------------------------------------------------------
        analysts = [u for u in users if personas[u.name] is Persona.BUSINESS_ANALYST]
        needs_automation = bool(users) or cleanup_on_delete
        self.failed_invocations_queue = (
            _functions.failure_queue(self, "FailedInvocations", encryption_key, alarm_topic) if needs_automation else None
        )
        self.canvas_settings: dict[str, CustomResource] = {}
        self.canvas_function: lambda_.IFunction | None = None
        if analysts:
            self._canvas(analysts, canvas, bucket, workspace_prefix)
        self.portal_settings: dict[str, CustomResource] = {}
        if users:
            self._portal_beyond_cloudformation(users)
        self.cleanup = self._cleanup(removal_policy) if cleanup_on_delete else None

    # -- building blocks ----------------------------------------------------------------------------------------

    def _role(self, persona: Persona) -> PersonaRole:
        if persona not in self.roles:
            self.roles[persona] = PersonaRole(
                self._roles_scope,
                persona.name.replace("_", " ").title().replace(" ", ""),
                persona=persona,
                domain_id=self.domain_id,
                hub=self._hub if persona in self._jumpstart else None,
                **self._role_args,  # type: ignore[arg-type]
            )
            if persona is Persona.BUSINESS_ANALYST and self._canvas_group is not None:
                self.roles[persona].grant_canvas_register(self._canvas_group)
        return self.roles[persona]

    def _portal_settings(self, persona: Persona) -> dict[str, Any]:
        settings = persona.settings
        return {
            "hidden_app_types": settings.hidden_app_types,
            "hidden_ml_tools": settings.hidden_ml_tools(jumpstart=persona in self._jumpstart),
            "hidden_instance_types": hidden_instance_types(self.allowed_instance_types),
        }

    def _canvas(self, analysts: list[StudioUser], options: CanvasOptions, bucket: MlBucket, prefix: str) -> None:
        # Canvas's endpoints, in a VPC without internet access (egress="endpoints"): the Canvas app reaches AWS only
        # through them (https://docs.aws.amazon.com/sagemaker/latest/dg/canvas-vpc.html). The network's own set
        # already covers SageMaker API/runtime/notebook, STS, ECR, CloudWatch and Logs; S3 is a gateway endpoint.
        canvas_endpoints = dict(CANVAS_INTERFACE_ENDPOINTS)
        if options.time_series_forecasting:
            canvas_endpoints.update(CANVAS_FORECAST_ENDPOINTS)
        self.network.add_interface_endpoints(canvas_endpoints)
        if options.local_file_upload:
            # Canvas's browser app writes local uploads straight to the workspace bucket, which needs Canvas's CORS
            # rule: https://docs.aws.amazon.com/sagemaker/latest/dg/canvas-set-up-local-upload.html
            bucket.allow_canvas_uploads()
        forecast: dict[str, Any] = {"Status": "ENABLED" if options.time_series_forecasting else "DISABLED"}
        self.canvas_forecast_role: iam.Role | None = None
        if options.time_series_forecasting:
            # Without AmazonForecastRoleArn Canvas passes the execution role to Amazon Forecast, which would then
            # have to trust forecast.amazonaws.com: a role of its own instead, reading and writing only the Canvas
            # workspace prefix (and the key only through S3):
            # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TimeSeriesForecastingSettings.html
            self.canvas_forecast_role = self.roles[Persona.BUSINESS_ANALYST].add_canvas_forecast_role(bucket, prefix)
            forecast["AmazonForecastRoleArn"] = self.canvas_forecast_role.role_arn
        settings: dict[str, Any] = {
            "TimeSeriesForecastingSettings": forecast,
            "ModelRegisterSettings": {"Status": "ENABLED" if options.model_package_group is not None else "DISABLED"},
            "WorkspaceSettings": {"S3ArtifactPath": bucket.s3_uri(prefix), "S3KmsKeyId": self.encryption_key.key_arn},
            "DirectDeploySettings": {"Status": "ENABLED" if options.direct_deploy else "DISABLED"},
            "KendraSettings": {"Status": "ENABLED" if options.kendra else "DISABLED"},
        }
        if options.bedrock_role is not None:
            settings["GenerativeAiSettings"] = {"AmazonBedrockRoleArn": options.bedrock_role.role_arn}
        self.canvas_settings_document = settings
        assert self.failed_invocations_queue is not None
        fn = _functions.handler_function(
            self,
            "CanvasSettingsHandler",
            handler="studio_canvas_settings.handler",
            description="Applies the Canvas settings of business-analyst user profiles (UpdateUserProfile)",
            key=self.encryption_key,
            queue=self.failed_invocations_queue,
            topic=self._alarm_topic,
            timeout=Duration.minutes(3),
        )
        self.canvas_function = fn
        stack = Stack.of(self)
        base = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeUserProfile", "sagemaker:UpdateUserProfile"],
                resources=[f"{base}:user-profile/{self.domain_id}/{u.name}" for u in analysts],
            )
        )
        passed = [r.role_arn for r in (options.bedrock_role, self.canvas_forecast_role) if r is not None]
        if passed:
            # Settings naming a role are a PassRole to SageMaker (UpdateUserProfile).
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=passed,
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                )
            )
        group = Construct(self, "CanvasSettings")
        for user in analysts:
            revision = hashlib.sha256(
                json.dumps([user.name, self._portal_settings(Persona.BUSINESS_ANALYST)], sort_keys=True).encode()
            ).hexdigest()[:16]
            resource = CustomResource(
                group,
                user.name,
                service_token=fn.function_arn,
                resource_type="Custom::CanvasSettings",
                properties={
                    "DomainId": self.domain_id,
                    "UserProfileName": user.name,
                    "Settings": settings,
                    # A change of the profile's own settings re-applies Canvas settings after CloudFormation's update.
                    "ProfileRevision": revision,
                },
                service_timeout=Duration.minutes(5),
            )
            resource.node.add_dependency(self.user_profiles[user.name])
            resource.node.add_dependency(fn.role)
            self.canvas_settings[user.name] = resource

    def _portal_beyond_cloudformation(self, users: list[StudioUser]) -> None:
        """Hide through the API what CloudFormation's schema cannot carry yet (see studio/service_model.py):
        the ML tools, app types and instance types of SageMaker's enums that CloudFormation lags behind.
        """
        assert self.failed_invocations_queue is not None
        fn = _functions.handler_function(
            self,
            "PortalSettingsHandler",
            handler="studio_portal_settings.handler",
            description="Hides in each user's Studio the tools and app types CloudFormation cannot set yet (UpdateUserProfile)",
            key=self.encryption_key,
            queue=self.failed_invocations_queue,
            topic=self._alarm_topic,
            timeout=Duration.minutes(3),
        )
        self.portal_settings_function = fn
        stack = Stack.of(self)
        base = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeUserProfile", "sagemaker:UpdateUserProfile"],
                resources=[f"{base}:user-profile/{self.domain_id}/{u.name}" for u in users],
            )
        )
        group = Construct(self, "PortalSettings")
        for user in users:
            persona = self.personas[user.name]
            hidden = {k: v for k, v in persona.settings.hidden_beyond_cloudformation().items() if v}
            # Instance types CloudFormation lags behind cannot be allowed (validated), so all of them are hidden.
            hidden["HiddenInstanceTypes"] = [t for t in STUDIO_APP_INSTANCE_TYPES if t in CLOUDFORMATION_LAGS_INSTANCE_TYPES]
            if not hidden:
                continue
            revision = hashlib.sha256(
                json.dumps([user.name, persona.value, self._portal_settings(persona)], sort_keys=True).encode()
            ).hexdigest()[:16]
            resource = CustomResource(
                group,
                user.name,
                service_token=fn.function_arn,
                resource_type="Custom::StudioPortalSettings",
                properties={
                    "DomainId": self.domain_id,
                    "UserProfileName": user.name,
                    "Hidden": hidden,
                    # CloudFormation rewrites the profile's portal settings on an update: apply again after it.
                    "ProfileRevision": revision,
                },
                service_timeout=Duration.minutes(5),
            )
            resource.node.add_dependency(self.user_profiles[user.name])
            if user.name in self.canvas_settings:  # one UpdateUserProfile at a time
                resource.node.add_dependency(self.canvas_settings[user.name])
            resource.node.add_dependency(fn.role)
            self.portal_settings[user.name] = resource

    def _cleanup(self, removal_policy: RemovalPolicy) -> CustomResource:
        assert self.failed_invocations_queue is not None
        fn = _functions.handler_function(
            self,
            "CleanupHandler",
            handler="studio_domain_cleanup.handler",
            description="On stack delete: deletes the Studio domain's apps, spaces, profiles, then the domain and its EFS",
            key=self.encryption_key,
            queue=self.failed_invocations_queue,
            topic=self._alarm_topic,
            timeout=Duration.minutes(15),
        )
        self.cleanup_function = fn
        stack = Stack.of(self)
        base = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
        d = self.domain_id
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:ListApps", "sagemaker:ListSpaces", "sagemaker:ListUserProfiles"], resources=["*"]
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:DeleteApp",
                    "sagemaker:DeleteSpace",
                    "sagemaker:DeleteUserProfile",
                    "sagemaker:DescribeDomain",
                    "sagemaker:DeleteDomain",
                ],
                resources=[f"{base}:app/{d}/*", f"{base}:space/{d}/*", f"{base}:user-profile/{d}/*", f"{base}:domain/{d}"],
            )
        )
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["elasticfilesystem:DeleteFileSystem", "elasticfilesystem:DescribeMountTargets", "elasticfilesystem:DeleteMountTarget"],
                resources=[f"arn:{stack.partition}:elasticfilesystem:{stack.region}:{stack.account}:file-system/{self.home_efs_file_system_id}"],
            )
        )
        # SageMaker's NFS security groups of the home file system (named after the domain, created by SageMaker,
        # so their IDs are unknown to the stack): only those of this VPC.
        fn.add_to_role_policy(iam.PolicyStatement(actions=["ec2:DescribeSecurityGroups"], resources=["*"]))
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ec2:RevokeSecurityGroupIngress", "ec2:RevokeSecurityGroupEgress", "ec2:DeleteSecurityGroup"],
                resources=[f"arn:{stack.partition}:ec2:{stack.region}:{stack.account}:security-group/*"],
                conditions={"ArnEquals": {"ec2:Vpc": self.network.vpc.vpc_arn}},
            )
        )
        acknowledge(
            fn.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "SageMaker creates the home file system's two NFS security groups (named after the domain) itself, so "
            "their IDs are unknown to the stack; the ec2:Vpc condition limits revoking and deleting to this VPC, and "
            "the function deletes only the two groups named after this domain.",
            applies_to="Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:security-group/*",
        )
        acknowledge(
            fn.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "ListApps/ListSpaces/ListUserProfiles and ec2:DescribeSecurityGroups support no resource-level "
            "permission; the function filters by this domain and only deletes inside it.",
            applies_to="Resource::*",
        )
        nag_domain = _nag_attr(self._resource, "DomainId")
        for kind in ("app", "space", "user-profile"):
            acknowledge(
                fn.role,  # type: ignore[arg-type]
                "AwsSolutions-IAM5",
                f"On stack delete (opt-in cleanup) every {kind} of this one domain is deleted, including those users "
                "created in Studio, whose names are not known to the stack.",
                applies_to=f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:{kind}/{nag_domain}/*",
            )
        resource = CustomResource(
            self,
            "Cleanup",
            service_token=fn.function_arn,
            resource_type="Custom::StudioDomainCleanup",
            properties={"DomainId": self.domain_id},
            service_timeout=Duration.minutes(60),
        )
        # Created last, deleted first: before CloudFormation deletes the profiles, spaces and the domain.
        resource.node.add_dependency(self._resource)
        for child in (*self.user_profiles.values(), *self.spaces.values(), *self.canvas_settings.values(), *self.portal_settings.values()):
            resource.node.add_dependency(child)
        resource.node.add_dependency(fn.role)
        return resource

    # -- public API ---------------------------------------------------------------------------------------------

    def role_for(self, persona: Persona | str) -> iam.Role:
        """Execution role of ``persona`` (created for personas in use and the default persona)."""
        persona = Persona.parse("persona", persona)
        if persona not in self.roles:
            raise ValidationError(f"persona must be one of the domain's personas ({', '.join(p.value for p in self.roles)}), got {persona.value!r}")
        return self.roles[persona].role

    def grant_presigned_url(self, grantee: iam.IGrantable, user_profile_name: str) -> iam.Grant:
        """Let ``grantee`` (a person's IAM identity) open Studio as ``user_profile_name`` (IAM auth mode)."""
        if user_profile_name not in self.user_profiles:
            raise ValidationError(f"user_profile_name must be one of {', '.join(self.user_profiles) or 'no profiles'}, got {user_profile_name!r}")
        stack = Stack.of(self)
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:CreatePresignedDomainUrl"],
            resource_arns=[f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:user-profile/{self.domain_id}/{user_profile_name}"],
        )

    def metric_failed_invocations(self, **props: Any) -> cw.Metric:
        """Automation invocations (Canvas and portal settings, cleanup) that failed every retry."""
        if self.failed_invocations_queue is None:
            raise ValidationError("metric_failed_invocations needs automation: add a user or cleanup_on_delete")
        return self.failed_invocations_queue.metric_approximate_number_of_messages_visible(
            **{"period": Duration.minutes(5), "statistic": "Maximum", **props}
        )

    def widgets(self) -> list[cw.IWidget]:
        """Dashboard widgets: the automation's failed invocations (none without users or cleanup: nothing runs)."""
        if self.failed_invocations_queue is None:
            return []
        return [queue_depth_widget(f"Studio domain {self.node.path}: failed automation", {"Failed invocations": self.metric_failed_invocations()}, width=8)]


@jsii.implements(IStableStringProducer)
class _LazyString:
    """A string computed at synth."""

    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce

    def produce(self) -> str:
        return self._produce()


def _nag_attr(resource: sagemaker.CfnDomain, attr: str) -> str:
    return f"<{Stack.of(resource).get_logical_id(resource)}.{attr}>"

