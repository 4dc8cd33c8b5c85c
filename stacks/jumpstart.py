"""The app's JumpStart examples (Studio stack): a curated model registered as it is, configured from cdk.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput
from constructs import Construct

from sagemaker_tiers.core.validation import ValidationError, require_match
from sagemaker_tiers.jumpstart import JumpStartModelVersion
from sagemaker_tiers.jumpstart._hub_content import MODEL_VERSION_PATTERN
from sagemaker_tiers.studio import CuratedHub
from sagemaker_tiers.studio.hub import MODEL_ID_PATTERN
from stacks.config import CONTEXT_PREFIX


@dataclass(frozen=True)
class JumpStartConfig:
    """The JumpStart examples' configuration; each field is the context key ``sagemaker-tiers:<field>``."""

    #: Registry group (one of ``model_package_groups``) that receives the model registered as it is; empty: no
    #: such example (the default: once approved, serving a JumpStart model needs a real-time GPU endpoint, which bills).
    jumpstart_model_package_group: str = ""
    #: The model registered as it is (one of ``studio_jumpstart_model_ids``).
    jumpstart_model_id: str = "huggingface-text2text-flan-t5-base"
    #: Its JumpStart version ("2.1.0"); empty: the newest at each run.
    jumpstart_model_version: str = ""
    #: The model id again, to accept the model's end-user license agreement (gated models); empty: not accepted.
    jumpstart_accept_eula: str = ""

    def validate(self) -> None:
        key = CONTEXT_PREFIX
        for name in ("jumpstart_model_package_group", "jumpstart_model_id", "jumpstart_model_version", "jumpstart_accept_eula"):
            if not isinstance(getattr(self, name), str):
                raise ValidationError(f"{key}{name} must be a string, got {getattr(self, name)!r}")
        require_match(key + "jumpstart_model_id", self.jumpstart_model_id, MODEL_ID_PATTERN, "a JumpStart model id")
        if self.jumpstart_model_version:
            require_match(key + "jumpstart_model_version", self.jumpstart_model_version, MODEL_VERSION_PATTERN, "a JumpStart version such as '2.1.0', or empty")


def add_jumpstart_examples(
    scope: Construct, cfg: JumpStartConfig, *, hub: CuratedHub | None, registry: Any, key: Any, topic: Any
) -> dict[str, Any]:
    """The configured examples (none by default); returns them by name (``"as_is"``)."""
    examples: dict[str, Any] = {}
    if not cfg.jumpstart_model_package_group:
        return examples
    if hub is None:
        raise ValidationError(
            f"{CONTEXT_PREFIX}jumpstart_model_package_group needs a curated hub ({CONTEXT_PREFIX}studio_jumpstart_model_ids "
            f"must list {cfg.jumpstart_model_id!r}), got {CONTEXT_PREFIX}studio_jumpstart_model_ids=[]"
        )
    if not hub.allows(cfg.jumpstart_model_id):
        raise ValidationError(
            f"{CONTEXT_PREFIX}jumpstart_model_id must be one of {CONTEXT_PREFIX}studio_jumpstart_model_ids "
            f"({', '.join(hub.model_ids)}), got {cfg.jumpstart_model_id!r}"
        )
    group = registry.group("jumpstart_model_package_group", cfg.jumpstart_model_package_group)
    model = JumpStartModelVersion(
        scope,
        "JumpStartAsIs",
        hub=hub,
        model_id=cfg.jumpstart_model_id,
        model_version=cfg.jumpstart_model_version or None,
        accept_eula=cfg.jumpstart_accept_eula or None,
        model_package_group=group,
        encryption_key=key,
        notification_topic=topic,
    )
    examples["as_is"] = model
    CfnOutput(
        scope, "JumpStartRegistrationStateMachineArn", value=model.state_machine.state_machine_arn,
        description="Registers the JumpStart model as is (runs after each deployment; start it by hand with --input '{}')",
    )
    if model.dead_letter_queue is not None:
        CfnOutput(scope, "JumpStartDeadLetterQueueUrl", value=model.dead_letter_queue.queue_url,
                  description="Trigger events that could not start a JumpStart registration")
    return examples
