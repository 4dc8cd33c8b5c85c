"""The Studio stack: a governed Studio domain, a curated JumpStart hub and Canvas, configured from cdk.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.validation import ValidationError, require_int_in_range, require_match, require_unique
from sagemaker_tiers.registry import ModelPackageGroup
from sagemaker_tiers.registry.model_package_group import GROUP_NAME_PATTERN, GROUP_NAME_RULE
from sagemaker_tiers.studio import (
    DEFAULT_ALLOWED_INSTANCE_TYPES,
    CanvasIdleShutdown,
    CanvasOptions,
    CuratedHub,
    Persona,
    SharedSpace,
    StudioDomain,
    StudioUser,
)
from sagemaker_tiers.studio.domain import MAX_IDLE_MINUTES, MIN_IDLE_MINUTES, NAME_PATTERN, NAME_RULE
from sagemaker_tiers.studio.hub import MODEL_ID_PATTERN
from sagemaker_tiers.studio.instance_types import validate_allowed_instance_types
from stacks.config import CONTEXT_PREFIX, AppConfig, read_config
from stacks.foundation_stack import FoundationStack
from stacks.jumpstart import JumpStartConfig, add_jumpstart_examples
from stacks.registry_stack import RegistryStack

_PERSONAS = ", ".join(repr(p.value) for p in Persona)


@dataclass(frozen=True)
class StudioConfig:
    """The Studio stack's configuration; each field is the context key ``sagemaker-tiers:<field>``."""

    #: User profiles as "name=persona" (personas: data-scientist, ml-engineer, business-analyst).
    studio_user_profiles: tuple[str, ...] = (
        "example-data-scientist=data-scientist",
        "example-ml-engineer=ml-engineer",
        "example-analyst=business-analyst",
    )
    #: "IAM" or "SSO" (IAM Identity Center; then each profile is "name=persona=identity-center-user-name").
    studio_auth_mode: str = "IAM"
    #: Instance types users may run Studio apps and spaces on; every other type is hidden and refused.
    studio_allowed_instance_types: tuple[str, ...] = DEFAULT_ALLOWED_INSTANCE_TYPES
    #: Instance type new JupyterLab / Code Editor apps and spaces start on.
    studio_default_instance_type: str = "ml.t3.medium"
    #: Minutes of idleness after which JupyterLab and Code Editor apps shut down.
    studio_idle_timeout_minutes: int = 60
    #: The longest idle timeout users may set for themselves.
    studio_max_idle_timeout_minutes: int = 240
    #: JumpStart model ids of the curated hub (empty: no hub, JumpStart hidden).
    studio_jumpstart_model_ids: tuple[str, ...] = ("huggingface-text2text-flan-t5-base", "pytorch-ic-mobilenet-v2")
    #: Personas that see JumpStart (the curated hub).
    studio_jumpstart_personas: tuple[str, ...] = ("data-scientist", "ml-engineer")
    #: Hours of Canvas idleness after which the Canvas app is deleted.
    studio_canvas_idle_hours: int = 2
    #: Registry group Canvas models are registered into ("" = the registry stack's first group).
    studio_canvas_model_group: str = ""
    #: Canvas time-series forecasting.
    studio_canvas_time_series: bool = True
    #: Canvas direct deployment to endpoints.
    studio_canvas_direct_deploy: bool = False
    #: Shared JupyterLab spaces as "space-name=owner-profile".
    studio_shared_spaces: tuple[str, ...] = ()
    #: Delete apps, spaces, profiles, the domain and its home EFS with the stack (default: all retained).
    studio_cleanup_on_delete: bool = False

    def validate(self) -> None:
        key = CONTEXT_PREFIX
        for name in ("studio_user_profiles", "studio_allowed_instance_types", "studio_jumpstart_model_ids", "studio_jumpstart_personas", "studio_shared_spaces"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or not all(isinstance(v, str) for v in values):
                raise ValidationError(f"{key}{name} must be a list of strings, got {values!r}")
        for name in ("studio_canvas_time_series", "studio_canvas_direct_deploy", "studio_cleanup_on_delete"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(f"{key}{name} must be true or false, got {getattr(self, name)!r}")
        if self.studio_auth_mode not in ("IAM", "SSO"):
            raise ValidationError(f"{key}studio_auth_mode must be one of 'IAM', 'SSO', got {self.studio_auth_mode!r}")
        self.users()
        allowed = validate_allowed_instance_types(f"{key}studio_allowed_instance_types", self.studio_allowed_instance_types)
        if self.studio_default_instance_type not in allowed:
            raise ValidationError(
                f"{key}studio_default_instance_type must be one of {key}studio_allowed_instance_types "
                f"({', '.join(allowed)}), got {self.studio_default_instance_type!r}"
            )
        require_int_in_range(f"{key}studio_max_idle_timeout_minutes", self.studio_max_idle_timeout_minutes, minimum=MIN_IDLE_MINUTES, maximum=MAX_IDLE_MINUTES)
        require_int_in_range(
            f"{key}studio_idle_timeout_minutes",
            self.studio_idle_timeout_minutes,
            minimum=MIN_IDLE_MINUTES,
            maximum=self.studio_max_idle_timeout_minutes,
        )
        for model_id in self.studio_jumpstart_model_ids:
            require_match(f"{key}studio_jumpstart_model_ids", model_id, MODEL_ID_PATTERN, "a list of JumpStart model ids (letters, digits, '-')")
        require_unique(f"{key}studio_jumpstart_model_ids", list(self.studio_jumpstart_model_ids))
        for persona in self.studio_jumpstart_personas:
            Persona.parse(f"{key}studio_jumpstart_personas", persona)
        require_int_in_range(f"{key}studio_canvas_idle_hours", self.studio_canvas_idle_hours, minimum=1, maximum=168)
        if self.studio_canvas_model_group:
            require_match(f"{key}studio_canvas_model_group", self.studio_canvas_model_group, GROUP_NAME_PATTERN, GROUP_NAME_RULE)
        self.spaces()

    def users(self) -> list[StudioUser]:
        """``studio_user_profiles`` parsed ("name=persona" or, with SSO, "name=persona=identity-center-user")."""
        key = f"{CONTEXT_PREFIX}studio_user_profiles"
        users = []
        for entry in self.studio_user_profiles:
            parts = entry.split("=")
            expected = 3 if self.studio_auth_mode == "SSO" else 2
            if len(parts) != expected:
                shape = "name=persona=identity-center-user-name" if expected == 3 else "name=persona"
                raise ValidationError(f"{key} entries must look like {shape!r} with auth mode {self.studio_auth_mode}, got {entry!r}")
            require_match(key, parts[0], NAME_PATTERN, f"a list of 'name=persona' entries whose name is {NAME_RULE}")
            persona = Persona.parse(f"{key} ({parts[0]})", parts[1])
            users.append(StudioUser(parts[0], persona, parts[2] if expected == 3 else None))
        require_unique(key, [u.name for u in users])
        return users

    def spaces(self) -> list[SharedSpace]:
        """``studio_shared_spaces`` parsed ("space-name=owner-profile")."""
        key = f"{CONTEXT_PREFIX}studio_shared_spaces"
        spaces = []
        names = {u.name for u in self.users()}
        for entry in self.studio_shared_spaces:
            name, _, owner = entry.partition("=")
            require_match(key, name, NAME_PATTERN, f"a list of 'space=owner' entries whose space is {NAME_RULE}")
            if owner not in names:
                raise ValidationError(f"{key} owner must be one of the user profiles ({', '.join(sorted(names)) or 'none'}), got {entry!r}")
            persona = next(u.persona for u in self.users() if u.name == owner)
            if persona is not Persona.DATA_SCIENTIST:
                # Shared spaces run as the domain's default space role, the data scientists' role in this app.
                raise ValidationError(f"{key} owner must be a data-scientist profile (shared spaces run as its role), got {entry!r}")
            spaces.append(SharedSpace(name, owner))
        return spaces


class StudioStack(Stack):
    """Deploys :class:`CuratedHub`, :class:`StudioDomain` and :class:`CanvasIdleShutdown` from :class:`StudioConfig`."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AppConfig,
        foundation: FoundationStack,
        registry: RegistryStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, description="sagemaker-tiers Studio, JumpStart and Canvas", **kwargs)
        Tags.of(self).add(defaults.TIER_TAG_KEY, "studio")
        self.studio_config = studio = read_config(StudioConfig, self.node)
        topic = registry.workflow.topic
        key = foundation.key

        groups = list(registry.groups.values())
        if studio.studio_canvas_model_group:
            canvas_group = registry.groups.get(studio.studio_canvas_model_group) or ModelPackageGroup.from_model_package_group_name(
                self, "CanvasGroup", studio.studio_canvas_model_group
            )
        else:
            canvas_group = groups[0] if groups else None

        self.hub = (
            CuratedHub(self, "JumpStartHub", model_ids=studio.studio_jumpstart_model_ids, encryption_key=key, alarm_topic=topic)
            if studio.studio_jumpstart_model_ids
            else None
        )
        self.domain = StudioDomain(
            self,
            "Domain",
            network=foundation.network,
            encryption_key=key,
            bucket=foundation.bucket,
            users=studio.users(),
            shared_spaces=studio.spaces(),
            auth_mode=studio.studio_auth_mode,  # type: ignore[arg-type]
            allowed_instance_types=studio.studio_allowed_instance_types,
            default_instance_type=studio.studio_default_instance_type,
            idle_timeout_minutes=studio.studio_idle_timeout_minutes,
            max_idle_timeout_minutes=studio.studio_max_idle_timeout_minutes,
            model_package_groups=groups,
            jumpstart_hub=self.hub,
            jumpstart_personas=studio.studio_jumpstart_personas,
            canvas=CanvasOptions(
                model_package_group=canvas_group,
                time_series_forecasting=studio.studio_canvas_time_series,
                direct_deploy=studio.studio_canvas_direct_deploy,
            ),
            cleanup_on_delete=studio.studio_cleanup_on_delete,
            alarm_topic=topic,
        )
        self.canvas_idle = CanvasIdleShutdown(
            self,
            "CanvasIdleShutdown",
            domain=self.domain,
            encryption_key=key,
            idle_limit=Duration.hours(studio.studio_canvas_idle_hours),
            alarm_topic=topic,
        )
        CfnOutput(self, "DomainId", value=self.domain.domain_id, description="Studio domain ID")
        CfnOutput(self, "DomainUrl", value=self.domain.url, description="Studio URL (open it through CreatePresignedDomainUrl or IAM Identity Center)")
        if self.hub is not None:
            CfnOutput(self, "CuratedHubName", value=self.hub.hub_name, description="Private JumpStart hub of allowlisted models")
        # What the operator CLI's status reads: the depth of every failed-invocations queue of the Studio tier.
        if self.domain.failed_invocations_queue is not None:
            CfnOutput(self, "DomainFailedInvocationsQueueUrl", value=self.domain.failed_invocations_queue.queue_url,
                      description="Studio automation (Canvas settings, cleanup, idle checks) invocations that failed every retry")
        if self.hub is not None:
            CfnOutput(self, "HubFailedInvocationsQueueUrl", value=self.hub.failure_queue.queue_url,
                      description="JumpStart hub content invocations that failed every retry")
        self.jumpstart_config = read_config(JumpStartConfig, self.node)
        #: The JumpStart examples configured in cdk.json (``"as_is"``, ``"fine_tuned"``), none by default.
        self.jumpstart = add_jumpstart_examples(
            self, self.jumpstart_config, hub=self.hub, registry=registry, foundation=foundation, topic=topic
        )
