"""The app's JumpStart examples (Studio stack): a curated model registered as it is and one fine-tuned on the ML
bucket's data, both off by default, configured from cdk.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Duration
from constructs import Construct

from sagemaker_tiers.core.validation import ValidationError, require_int_in_range, require_match, require_s3_folder
from sagemaker_tiers.jumpstart import JumpStartFineTuning, JumpStartModelVersion
from sagemaker_tiers.jumpstart._hub_content import MODEL_VERSION_PATTERN
from sagemaker_tiers.studio import CuratedHub
from sagemaker_tiers.studio.hub import MODEL_ID_PATTERN
from sagemaker_tiers.training.instance_types import require_training_instance_type
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
    #: The model id of an example, again, to accept that model's end-user license agreement (gated models); empty:
    #: not accepted.
    jumpstart_accept_eula: str = ""
    #: Registry group that receives the fine-tuned versions; empty: no fine-tuning example (the default: every run
    #: bills a GPU training job).
    jumpstart_finetune_model_package_group: str = ""
    #: The model fine-tuned (one of ``studio_jumpstart_model_ids``).
    jumpstart_finetune_model_id: str = "huggingface-text2text-flan-t5-base"
    #: Prefix of the training data in the ML bucket (channel ``training``).
    jumpstart_finetune_dataset_prefix: str = "datasets/example-jumpstart/"
    #: Prefix the fine-tuned model artifacts go to.
    jumpstart_finetune_output_prefix: str = "models/example-jumpstart/"
    #: Training instance type (one the model's document lists).
    jumpstart_finetune_instance_type: str = "ml.g5.2xlarge"
    #: Hyperparameter overrides as "name=value" (names the model declares; checked at run time).
    jumpstart_finetune_hyperparameters: tuple[str, ...] = ("epochs=1",)
    #: Maximum run time of one fine-tuning job, in hours (1-672).
    jumpstart_finetune_max_runtime_hours: int = 4
    #: Start a run when ``<dataset prefix>..._SUCCESS`` is written.
    jumpstart_finetune_on_new_data: bool = False

    def validate(self) -> None:
        key = CONTEXT_PREFIX
        for name in ("jumpstart_model_package_group", "jumpstart_model_id", "jumpstart_model_version", "jumpstart_accept_eula"):
            if not isinstance(getattr(self, name), str):
                raise ValidationError(f"{key}{name} must be a string, got {getattr(self, name)!r}")
        require_match(key + "jumpstart_model_id", self.jumpstart_model_id, MODEL_ID_PATTERN, "a JumpStart model id")
        if self.jumpstart_model_version:
            require_match(key + "jumpstart_model_version", self.jumpstart_model_version, MODEL_VERSION_PATTERN, "a JumpStart version such as '2.1.0', or empty")
        for name in ("jumpstart_finetune_model_package_group", "jumpstart_finetune_model_id", "jumpstart_finetune_instance_type"):
            if not isinstance(getattr(self, name), str):
                raise ValidationError(f"{key}{name} must be a string, got {getattr(self, name)!r}")
        require_match(key + "jumpstart_finetune_model_id", self.jumpstart_finetune_model_id, MODEL_ID_PATTERN, "a JumpStart model id")
        for name in ("jumpstart_finetune_dataset_prefix", "jumpstart_finetune_output_prefix"):
            require_s3_folder(key + name, getattr(self, name))
        require_training_instance_type(key + "jumpstart_finetune_instance_type", self.jumpstart_finetune_instance_type)
        require_int_in_range(key + "jumpstart_finetune_max_runtime_hours", self.jumpstart_finetune_max_runtime_hours, minimum=1, maximum=672)
        if not isinstance(self.jumpstart_finetune_on_new_data, bool):
            raise ValidationError(f"{key}jumpstart_finetune_on_new_data must be true or false, got {self.jumpstart_finetune_on_new_data!r}")
        self.finetune_hyperparameters()

    def finetune_hyperparameters(self) -> dict[str, str]:
        """``jumpstart_finetune_hyperparameters`` parsed ("name=value")."""
        key = f"{CONTEXT_PREFIX}jumpstart_finetune_hyperparameters"
        if not isinstance(self.jumpstart_finetune_hyperparameters, tuple):
            raise ValidationError(f"{key} must be a list of 'name=value' strings, got {self.jumpstart_finetune_hyperparameters!r}")
        parsed: dict[str, str] = {}
        for entry in self.jumpstart_finetune_hyperparameters:
            name, sep, value = entry.partition("=") if isinstance(entry, str) else ("", "", "")
            if not sep or not name:
                raise ValidationError(f"{key} entries must look like 'name=value', got {entry!r}")
            if name in parsed:
                raise ValidationError(f"{key} must not repeat a name, got {name!r} twice")
            parsed[name] = value
        return parsed


def _require_allowlisted(hub: CuratedHub | None, group_key: str, id_key: str, model_id: str) -> CuratedHub:
    if hub is None:
        raise ValidationError(
            f"{CONTEXT_PREFIX}{group_key} needs a curated hub ({CONTEXT_PREFIX}studio_jumpstart_model_ids "
            f"must list {model_id!r}), got {CONTEXT_PREFIX}studio_jumpstart_model_ids=[]"
        )
    if not hub.allows(model_id):
        raise ValidationError(
            f"{CONTEXT_PREFIX}{id_key} must be one of {CONTEXT_PREFIX}studio_jumpstart_model_ids "
            f"({', '.join(hub.model_ids)}), got {model_id!r}"
        )
    return hub


def add_jumpstart_examples(
    scope: Construct, cfg: JumpStartConfig, *, hub: CuratedHub | None, registry: Any, foundation: Any, topic: Any
) -> dict[str, Any]:
    """The configured examples (none by default); returns them by name (``"as_is"``, ``"fine_tuned"``)."""
    examples: dict[str, Any] = {}
    used = [
        model_id
        for group, model_id in (
            (cfg.jumpstart_model_package_group, cfg.jumpstart_model_id),
            (cfg.jumpstart_finetune_model_package_group, cfg.jumpstart_finetune_model_id),
        )
        if group
    ]
    if cfg.jumpstart_accept_eula and cfg.jumpstart_accept_eula not in used:
        raise ValidationError(
            f"{CONTEXT_PREFIX}jumpstart_accept_eula must name the model of an enabled JumpStart example "
            f"({', '.join(used) or 'none is enabled'}) or be empty, got {cfg.jumpstart_accept_eula!r}"
        )

    def accepted(model_id: str) -> str | None:
        return model_id if cfg.jumpstart_accept_eula == model_id else None

    if cfg.jumpstart_finetune_model_package_group:
        curated = _require_allowlisted(hub, "jumpstart_finetune_model_package_group", "jumpstart_finetune_model_id", cfg.jumpstart_finetune_model_id)
        tuned = JumpStartFineTuning(
            scope,
            "JumpStartFineTuning",
            hub=curated,
            model_id=cfg.jumpstart_finetune_model_id,
            accept_eula=accepted(cfg.jumpstart_finetune_model_id),
            bucket=foundation.bucket,
            encryption_key=foundation.key,
            network=foundation.network,
            model_package_group=registry.group("jumpstart_finetune_model_package_group", cfg.jumpstart_finetune_model_package_group),
            dataset_prefix=cfg.jumpstart_finetune_dataset_prefix,
            output_prefix=cfg.jumpstart_finetune_output_prefix,
            instance_type=cfg.jumpstart_finetune_instance_type,
            hyperparameters=cfg.finetune_hyperparameters(),
            max_runtime=Duration.hours(cfg.jumpstart_finetune_max_runtime_hours),
            notification_topic=topic,
            trigger_on_new_data=cfg.jumpstart_finetune_on_new_data,
        )
        examples["fine_tuned"] = tuned
        CfnOutput(
            scope, "JumpStartFineTuningStateMachineArn", value=tuned.state_machine.state_machine_arn,
            description="Fine-tunes the JumpStart model: aws stepfunctions start-execution --state-machine-arn <this> --input '{}'",
        )
        if tuned.dead_letter_queue is not None:
            CfnOutput(scope, "JumpStartFineTuningDeadLetterQueueUrl", value=tuned.dead_letter_queue.queue_url,
                      description="Trigger events that could not start a JumpStart fine-tuning run")
    if not cfg.jumpstart_model_package_group:
        return examples
    hub = _require_allowlisted(hub, "jumpstart_model_package_group", "jumpstart_model_id", cfg.jumpstart_model_id)
    group = registry.group("jumpstart_model_package_group", cfg.jumpstart_model_package_group)
    model = JumpStartModelVersion(
        scope,
        "JumpStartAsIs",
        hub=hub,
        model_id=cfg.jumpstart_model_id,
        model_version=cfg.jumpstart_model_version or None,
        accept_eula=accepted(cfg.jumpstart_model_id),
        model_package_group=group,
        encryption_key=foundation.key,
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
