"""Builds every stack of the sagemaker-tiers app; ``app.py`` and the tests both call :func:`build_app`."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import App, Tags

from sagemaker_tiers.autopilot.problems import SINGLE_CONTAINER_MODES
from sagemaker_tiers.core import add_gates, defaults
from sagemaker_tiers.core.quotas import check_iam_role_quotas
from sagemaker_tiers.core.validation import ValidationError
from stacks.config import CONTEXT_PREFIX, AppConfig
from stacks.foundation_stack import FoundationStack
from stacks.autopilot_stack import AutopilotConfig, AutopilotStack
from stacks.inference_stack import InferenceConfig, InferenceStack
from stacks.jumpstart import JumpStartConfig
from stacks.operations_stack import OperationsStack
from stacks.registry_stack import RegistryStack
from stacks.studio_stack import StudioConfig, StudioStack
from stacks.training_stack import TrainingConfig, TrainingStack


#: Every configuration dataclass the app reads from cdk.json context (a test keeps cdk.json in step).
CONFIG_CLASSES = (AppConfig, TrainingConfig, AutopilotConfig, StudioConfig, JumpStartConfig, InferenceConfig)


@dataclass
class TiersApp:
    """The stacks of one app, for tests and for composing further stacks."""

    config: AppConfig
    foundation: FoundationStack
    registry: RegistryStack
    training: TrainingStack
    autopilot: AutopilotStack
    studio: StudioStack
    inference: InferenceStack
    operations: OperationsStack


def add_nag_checks(app: App) -> None:
    """The app's gates, as any user's app gets them (:func:`sagemaker_tiers.core.gates.add_gates`): cdk-nag's
    AwsSolutions and Serverless packs and AWS Control Tower's proactive controls, required here (the plugin is a
    dev dependency, so `make synth` and CI always run it).

    An unacknowledged finding of any of them makes ``app.synth()`` (and so ``cdk synth``) fail and writes
    ``validation-report.json`` into the output directory.
    """
    add_gates(app, control_tower=True)


def build_app(app: App) -> TiersApp:
    """Add every stack to ``app``, configured from its context."""
    config = AppConfig.from_node(app.node)
    Tags.of(app).add(defaults.PROJECT_TAG_KEY, config.project_name)
    check_iam_role_quotas(app)  # too many groups for one role fails here, not halfway through a deployment
    foundation = FoundationStack(app, f"{config.project_name}-foundation", config=config)
    registry = RegistryStack(
        app, f"{config.project_name}-registry", config=config, key=foundation.key, reports_bucket=foundation.bucket
    )
    tiers = {"config": config, "foundation": foundation, "registry": registry}
    training = TrainingStack(app, f"{config.project_name}-training", **tiers)
    autopilot = AutopilotStack(app, f"{config.project_name}-autopilot", **tiers)
    studio = StudioStack(app, f"{config.project_name}-studio", **tiers)
    # The endpoint reads model data wherever the tiers that register into its group write it.
    inference = InferenceStack(
        app, f"{config.project_name}-inference", **tiers,
        model_sources=[training.pipeline, autopilot.autopilot, *studio.jumpstart.values()],
    )
    check_autopilot_fits_endpoint(autopilot.autopilot_config, inference.inference_config)
    # One dashboard and the operator CLI's policy, in a leaf stack that depends on every tier
    # (see stacks/operations_stack.py).
    operations = OperationsStack(
        app, f"{config.project_name}-operations", config=config, foundation=foundation, registry=registry,
        training=training, autopilot=autopilot, studio=studio, inference=inference,
    )
    return TiersApp(
        config=config, foundation=foundation, registry=registry,
        training=training, autopilot=autopilot, studio=studio, inference=inference, operations=operations,
    )


def check_autopilot_fits_endpoint(autopilot: AutopilotConfig, inference: InferenceConfig) -> None:
    """Refuse an Autopilot mode whose candidates the group's serverless endpoint cannot host.

    HYPERPARAMETER_TUNING candidates (and AUTO's, on 100 MB of data or more) are inference pipelines of 2-3
    containers, ENSEMBLING candidates one container
    (https://docs.aws.amazon.com/sagemaker/latest/dg/autopilot-automate-model-development-container-output.html);
    serverless endpoints do not host inference pipelines
    (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html, feature exclusions).
    """
    serves_group = inference.inference_enabled and inference.inference_group == autopilot.autopilot_model_package_group
    serverless = not inference.inference_instance_type
    allowed = [mode.value for mode in SINGLE_CONTAINER_MODES]
    if serves_group and serverless and autopilot.autopilot_mode not in allowed:
        raise ValidationError(
            f"{CONTEXT_PREFIX}autopilot_mode must be one of {allowed} while {CONTEXT_PREFIX}inference_group "
            f"{inference.inference_group!r} is served by a serverless endpoint ({CONTEXT_PREFIX}inference_instance_type "
            f"empty): {autopilot.autopilot_mode!r} can produce candidates that are inference pipelines of 2-3 "
            "containers, which serverless endpoints cannot host; got "
            f"{CONTEXT_PREFIX}autopilot_mode={autopilot.autopilot_mode!r}. Use ENSEMBLING, or set "
            f"{CONTEXT_PREFIX}inference_instance_type for a real-time endpoint"
        )
