"""The training stack: the example churn training pipeline, built from the image in the repository."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.validation import ValidationError, require_int_in_range, require_match, require_s3_prefix
from sagemaker_tiers.training import (
    EXAMPLE_HYPERPARAMETERS,
    EXAMPLE_IMAGE_DIRECTORY,
    EXAMPLE_METRIC_DEFINITIONS,
    TrainingChannel,
    TrainingPipeline,
)
from sagemaker_tiers.training.instance_types import require_training_instance_type
from sagemaker_tiers.training.training_pipeline import IMAGE_URI_PATTERN
from stacks.config import CONTEXT_PREFIX, AppConfig, read_config
from stacks.foundation_stack import FoundationStack
from stacks.registry_stack import RegistryStack


@dataclass(frozen=True)
class TrainingConfig:
    """The training stack's configuration; each field is the context key ``sagemaker-tiers:<field>``."""

    #: Model package group (one of ``model_package_groups``) that receives the trained versions.
    training_model_package_group: str = "example-churn"
    #: Prefix of the dataset in the ML bucket: the ``train/`` and ``validation/`` channels live under it.
    training_input_prefix: str = "datasets/example-churn/"
    #: Prefix the model artifacts and training reports go to.
    training_output_prefix: str = "models/example-churn/"
    #: Prefix of the checkpoints (used by spot training).
    training_checkpoint_prefix: str = "checkpoints/example-churn/"
    #: Training instance type (``ml.*``).
    training_instance_type: str = "ml.m5.large"
    #: Default number of instances per run.
    training_instance_count: int = 1
    #: Maximum run time of one training job, in hours (1-672).
    training_max_runtime_hours: int = 2
    #: Managed spot training (up to about 70% cheaper; the job may wait for capacity and resume from checkpoints).
    training_use_spot: bool = False
    #: Start runs on ``training_schedule`` (off by default: runs start by hand or on new data).
    training_schedule_enabled: bool = False
    #: EventBridge schedule expression used when the schedule is enabled, such as "rate(1 day)" or
    #: "cron(0 3 * * ? *)".
    training_schedule: str = "rate(1 day)"
    #: Start a run when ``<training_input_prefix>..._SUCCESS`` is written (upload the data, then the marker).
    training_on_new_data: bool = False
    #: Start of every training job name and the IAM scope of the state machine (1-24 lowercase letters, digits,
    #: '-'); empty for ``<group>-<8 hex digits of the project name>``, distinct per project.
    training_job_name_prefix: str = ""
    #: A SageMaker-provided image to train with instead of building ``example_image/`` (for example a prebuilt
    #: framework image, ``<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>``); deploying then needs no Docker.
    #: Empty: the example image is built from the repository at deploy time (needs a Docker engine).
    training_image_uri: str = ""
    #: An ECR repository of this account holding the training image (for example the example image, pushed once
    #: from a machine with Docker); the role may pull from it. Empty: see ``training_image_uri``.
    training_image_repository: str = ""
    #: Tag (or ``sha256:<digest>``) of the image in ``training_image_repository``.
    training_image_tag: str = "latest"

    def validate(self) -> None:
        key = CONTEXT_PREFIX
        for name in ("training_input_prefix", "training_output_prefix", "training_checkpoint_prefix"):
            require_s3_prefix(key + name, getattr(self, name))
            if not getattr(self, name).endswith("/"):
                raise ValidationError(f"{key}{name} must end with '/', got {getattr(self, name)!r}")
        require_training_instance_type(key + "training_instance_type", self.training_instance_type)
        require_int_in_range(key + "training_instance_count", self.training_instance_count, minimum=1, maximum=1000)
        require_int_in_range(key + "training_max_runtime_hours", self.training_max_runtime_hours, minimum=1, maximum=672)
        require_match(
            key + "training_schedule",
            self.training_schedule,
            r"(rate|cron)\(.+\)",
            "an EventBridge schedule expression such as 'rate(1 day)' or 'cron(0 3 * * ? *)'",
        )
        if self.training_job_name_prefix:
            require_match(
                key + "training_job_name_prefix",
                self.training_job_name_prefix,
                r"[a-z0-9](-*[a-z0-9]){0,23}",
                "1-24 lowercase letters, digits or '-', starting and ending with a letter or digit, or empty",
            )
        if self.training_image_uri and self.training_image_repository:
            raise ValidationError(
                f"{key}training_image_uri and {key}training_image_repository select the training image two ways; set "
                f"one (or neither, to build example_image/), got {self.training_image_uri!r} and {self.training_image_repository!r}"
            )
        if self.training_image_uri:
            require_match(
                key + "training_image_uri", self.training_image_uri, IMAGE_URI_PATTERN,
                "an ECR image URI '<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>' or '...@sha256:<digest>', or empty",
            )
        if self.training_image_repository:
            require_match(
                key + "training_image_repository", self.training_image_repository, r"[a-z0-9]+([._/-][a-z0-9]+)*",
                "an ECR repository name of this account (lowercase letters, digits, '.', '_', '-', '/'), or empty",
            )
            require_match(
                key + "training_image_tag", self.training_image_tag, r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[0-9a-f]{64}",
                "an image tag or 'sha256:<64 hex digits>'",
            )
        for name in ("training_use_spot", "training_schedule_enabled", "training_on_new_data"):
            if not isinstance(getattr(self, name), bool):
                raise ValidationError(f"{key}{name} must be true or false, got {getattr(self, name)!r}")


class TrainingStack(Stack):
    """Deploys a :class:`TrainingPipeline` for the example churn model: the image in
    ``sagemaker_tiers/training/example_image`` (built at deploy time) unless ``training_image_uri`` or
    ``training_image_repository`` selects an existing one, the foundation's bucket, key and network, the registry's
    group, and the approval workflow's topic for failure notifications and alarms."""

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
        super().__init__(scope, id, description="sagemaker-tiers training: example churn training pipeline", **kwargs)
        Tags.of(self).add(defaults.TIER_TAG_KEY, "training")
        self.training_config = cfg = read_config(TrainingConfig, self.node)
        group = registry.group("training_model_package_group", cfg.training_model_package_group)
        prefix = cfg.training_input_prefix
        self.pipeline = TrainingPipeline(
            self,
            "ExampleChurn",
            bucket=foundation.bucket,
            encryption_key=foundation.key,
            network=foundation.network,
            model_package_group=group,
            **self._image(cfg),
            input_channels=[
                TrainingChannel("train", f"{prefix}train/", content_type="text/csv"),
                TrainingChannel("validation", f"{prefix}validation/", content_type="text/csv"),
            ],
            output_prefix=cfg.training_output_prefix,
            checkpoint_prefix=cfg.training_checkpoint_prefix,
            instance_type=cfg.training_instance_type,
            instance_count=cfg.training_instance_count,
            max_runtime=Duration.hours(cfg.training_max_runtime_hours),
            use_spot=cfg.training_use_spot,
            hyperparameters=EXAMPLE_HYPERPARAMETERS,
            metric_definitions=EXAMPLE_METRIC_DEFINITIONS,
            job_name_prefix=cfg.training_job_name_prefix or _job_prefix(config.project_name, cfg.training_model_package_group),
            notification_topic=registry.workflow.topic,
            schedule=events.Schedule.expression(cfg.training_schedule) if cfg.training_schedule_enabled else None,
            trigger_on_new_data_prefix=prefix if cfg.training_on_new_data else None,
        )
        CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine.state_machine_arn, description="Start a run: aws stepfunctions start-execution --state-machine-arn <this> --input '{}'")
        # Prefixes, not s3:// URIs: an output may not re-export the foundation's bucket name (cfn-lint W6001).
        CfnOutput(self, "DatasetPrefix", value=prefix, description="Upload train/ and validation/ CSV files under this prefix of the ML bucket")
        CfnOutput(self, "ModelPrefix", value=cfg.training_output_prefix, description="Model artifacts and training reports, per job")
        CfnOutput(self, "ModelPackageGroup", value=cfg.training_model_package_group, description="Registry group a run registers into")
        # The overrides a run's input may carry, as the state machine's ValidateInput checks them (the CLI checks
        # `sagemaker-tiers train start` against them before starting a run).
        CfnOutput(self, "RunInputRules", value=json.dumps(self.pipeline.run_input_rules(), separators=(",", ":")),
                  description="Run input overrides the state machine accepts")
        if self.pipeline.dead_letter_queue is not None:
            CfnOutput(self, "DeadLetterQueueUrl", value=self.pipeline.dead_letter_queue.queue_url,
                      description="Trigger events that could not start a run")


    def _image(self, cfg: TrainingConfig) -> dict[str, Any]:
        """The pipeline's image source: an existing image when configured, else the example folder (Docker)."""
        if cfg.training_image_uri:
            return {"image_uri": cfg.training_image_uri}
        if cfg.training_image_repository:
            repository = ecr.Repository.from_repository_name(self, "TrainingImageRepository", cfg.training_image_repository)
            return {"repository": repository, "tag": cfg.training_image_tag}
        return {"image_directory": EXAMPLE_IMAGE_DIRECTORY}


def _job_prefix(project_name: str, group_name: str) -> str:
    """``<group>-<8 hex of the project name>``, lowercase, at most 24 characters.

    The prefix scopes the state machine's IAM permissions to its own jobs, so two projects deployed in one account
    and region (each with its own project name) never share it.
    """
    group = "".join(c if c.isalnum() else "-" for c in group_name.lower())[:15].strip("-") or "training"
    return f"{group}-{hashlib.sha256(project_name.encode()).hexdigest()[:8]}"
