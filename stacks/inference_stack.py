"""The inference stack: a SageMaker endpoint that serves the approved model of the example registry group."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aws_cdk import CfnOutput, Duration, Stack, Tags
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.validation import ValidationError, require_int_in_range, require_match, require_one_of, require_s3_prefix
from sagemaker_tiers.registry import IModelPackageGroup
from sagemaker_tiers.inference import REALTIME_INSTANCE_TYPES, SERVERLESS_MEMORY_SIZES, ApprovedModelEndpoint
from stacks.config import CONTEXT_PREFIX, AppConfig, read_config
from stacks.foundation_stack import FoundationStack
from stacks.registry_stack import RegistryStack


@dataclass(frozen=True)
class InferenceConfig:
    """The inference tier's configuration; each field is the context key ``sagemaker-tiers:<field>``."""

    #: Deploy the inference tier at all (false: the stack creates nothing).
    inference_enabled: bool = True
    #: The registry group whose approved version is served.
    inference_group: str = "example-churn"
    #: Endpoint name; empty means "<project_name>-<inference_group>" (at most 40 characters).
    inference_endpoint_name: str = ""
    #: Serverless memory in MB (1024-6144, steps of 1024); ignored with an instance type.
    inference_memory_size_mb: int = 2048
    #: Serverless maximum concurrent invocations (1-200); ignored with an instance type.
    inference_max_concurrency: int = 5
    #: Real-time instance type ("" = serverless, nothing bills while idle).
    inference_instance_type: str = ""
    #: Real-time instances (1-100); only with an instance type.
    inference_instance_count: int = 1
    #: Percentage of requests captured to the ML bucket (0 = off; real-time only).
    inference_data_capture_percent: int = 0
    #: More key prefixes of the ML bucket the model role may read, for versions registered from elsewhere (the
    #: output prefixes of the app's tiers that register into ``inference_group`` are always readable).
    inference_extra_model_data_prefixes: tuple[str, ...] = ()

    def validate(self) -> None:
        key = CONTEXT_PREFIX
        if not isinstance(self.inference_enabled, bool):
            raise ValidationError(f"{key}inference_enabled must be true or false, got {self.inference_enabled!r}")
        require_match(key + "inference_group", self.inference_group, r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "a model package group name")
        if self.inference_endpoint_name:
            require_match(key + "inference_endpoint_name", self.inference_endpoint_name, r"[a-z0-9](-*[a-z0-9]){0,39}", "1-40 lowercase letters, digits or '-'")
        require_one_of(key + "inference_memory_size_mb", self.inference_memory_size_mb, SERVERLESS_MEMORY_SIZES)
        require_int_in_range(key + "inference_max_concurrency", self.inference_max_concurrency, minimum=1, maximum=200)
        if self.inference_instance_type:
            require_one_of(key + "inference_instance_type", self.inference_instance_type, sorted(REALTIME_INSTANCE_TYPES))
        require_int_in_range(key + "inference_instance_count", self.inference_instance_count, minimum=1, maximum=100)
        if not isinstance(self.inference_extra_model_data_prefixes, tuple):
            raise ValidationError(f"{key}inference_extra_model_data_prefixes must be a list of S3 key prefixes, got {self.inference_extra_model_data_prefixes!r}")
        for prefix in self.inference_extra_model_data_prefixes:
            require_s3_prefix(key + "inference_extra_model_data_prefixes", prefix)
        require_int_in_range(key + "inference_data_capture_percent", self.inference_data_capture_percent, minimum=0, maximum=100)
        if self.inference_data_capture_percent and not self.inference_instance_type:
            raise ValidationError(
                f"{key}inference_data_capture_percent needs {key}inference_instance_type (serverless endpoints cannot capture data), "
                f"got {self.inference_data_capture_percent}"
            )


class ModelSource(Protocol):
    """A tier that registers versions into a group: from artifacts it writes under a prefix of the ML bucket
    (``TrainingPipeline``, ``AutopilotJob``), or from artifacts elsewhere (``JumpStartModelVersion``: its
    ``output_prefix`` is None and ``grant_read_model_data`` lets the model role read them)."""

    output_prefix: str | None
    model_package_group: IModelPackageGroup


def registering_into(group: IModelPackageGroup, sources: Sequence[ModelSource]) -> list[ModelSource]:
    name = group.model_package_group_name
    return [s for s in sources if s.model_package_group.model_package_group_name == name]


def model_data_prefixes(group: IModelPackageGroup, sources: Sequence[ModelSource], extra: Sequence[str] = ()) -> list[str]:
    """The prefixes the model role of ``group``'s endpoint must read: the output prefix of every source that
    registers into ``group`` (where its packages' ``ModelDataUrl`` points), then ``extra``; each once."""
    prefixes = [s.output_prefix for s in registering_into(group, sources) if s.output_prefix is not None]
    return list(dict.fromkeys([*prefixes, *extra]))


class InferenceStack(Stack):
    """Deploys one :class:`ApprovedModelEndpoint` for the registry's ``inference_group`` (nothing when disabled).

    :param model_sources: The app's tiers that register model versions (``training.pipeline``,
        ``autopilot.autopilot``); the endpoint's model role reads the output prefix of each one that registers into
        ``inference_group``, wherever that tier writes. Default: none (then only
        ``inference_extra_model_data_prefixes``, and synth fails if that is empty too).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AppConfig,
        foundation: FoundationStack,
        registry: RegistryStack,
        model_sources: Sequence[ModelSource] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, description="sagemaker-tiers inference: the approved model served by an endpoint", **kwargs)
        Tags.of(self).add(defaults.TIER_TAG_KEY, "inference")
        self.inference_config = read_config(InferenceConfig, self.node)
        cfg = self.inference_config
        self.endpoints: dict[str, ApprovedModelEndpoint] = {}
        if not cfg.inference_enabled:
            return
        group = registry.group("inference_group", cfg.inference_group)
        name = cfg.inference_endpoint_name or f"{config.project_name}-{cfg.inference_group}".lower()
        if len(name) > 40:
            raise ValidationError(
                f"{CONTEXT_PREFIX}inference_endpoint_name must be set when '<project_name>-<inference_group>' is longer than 40 characters, got {name!r}"
            )
        prefixes = model_data_prefixes(group, model_sources, cfg.inference_extra_model_data_prefixes)
        elsewhere = [s for s in registering_into(group, model_sources) if hasattr(s, "grant_read_model_data")]
        if not prefixes and not elsewhere:
            raise ValidationError(
                f"no tier of the app registers into {CONTEXT_PREFIX}inference_group {cfg.inference_group!r}, so the endpoint's "
                f"model role could read no model data: register into it from the training or Autopilot tier, or give "
                f"{CONTEXT_PREFIX}inference_extra_model_data_prefixes, got none"
            )
        realtime = bool(cfg.inference_instance_type)
        compute: dict[str, Any] = (
            {"instance_type": cfg.inference_instance_type, "instance_count": cfg.inference_instance_count}
            if realtime
            else {"memory_size_in_mb": cfg.inference_memory_size_mb, "max_concurrency": cfg.inference_max_concurrency}
        )
        if cfg.inference_data_capture_percent:
            compute.update(
                data_capture_prefix=f"data-capture/{cfg.inference_group}/",
                data_capture_sampling_percentage=cfg.inference_data_capture_percent,
            )
        endpoint = ApprovedModelEndpoint(
            self,
            "Endpoint",
            workflow=registry.workflow,
            group=group,
            encryption_key=foundation.key,
            network=foundation.network,
            bucket=foundation.bucket if prefixes else None,
            model_data_prefixes=prefixes or None,
            reconcile_interval=Duration.minutes(config.reconcile_interval_minutes),
            endpoint_name=name,
            **compute,
        )
        for source in elsewhere:
            source.grant_read_model_data(endpoint.model_role)  # type: ignore[attr-defined]
        self.endpoints[cfg.inference_group] = endpoint
        CfnOutput(self, "EndpointName", value=endpoint.endpoint_name, description="SageMaker endpoint serving the approved model")
        CfnOutput(self, "DeploymentStateMachineArn", value=endpoint.state_machine.state_machine_arn)
        CfnOutput(self, "DeployedModelParameter", value=endpoint.deployed_model_parameter_name)
        CfnOutput(self, "ModelPackageGroup", value=cfg.inference_group, description="Registry group whose approved version is served")
        CfnOutput(self, "DeadLetterQueueUrl", value=endpoint.dead_letter_queue.queue_url,
                  description="Approved-model events whose deployment could not start")
