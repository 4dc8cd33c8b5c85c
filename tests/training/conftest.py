"""Fixtures for the Training Job tier: one synthesized stack with a production (``.sync``) pipeline and a polling one.

Both pipelines are built from the same props, so the tests can show that ``completion="poll"`` changes only how
the run waits, and run the polling one under moto's Step Functions interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

GROUP_NAME = "churn"
JOB_PREFIX = "churn"
POLL_JOB_PREFIX = "churn-poll"
HYPERPARAMETERS = {"target": "churn", "l2": "1.0", "learning-rate": "0.1"}
METRICS = {"validation:rmse": r"validation:rmse=([0-9.eE+-]+)", "train:rmse": r"train:rmse=([0-9.eE+-]+)"}
ALLOWED_TYPES = ["ml.m5.xlarge", "ml.m5.2xlarge", "ml.c5.xlarge"]


def pipeline_props(**overrides: Any) -> dict[str, Any]:
    """Props shared by both pipelines of the fixture stack (and the failing-prop tests)."""
    from aws_cdk import Duration

    from sagemaker_tiers.training import EXAMPLE_IMAGE_DIRECTORY, TrainingChannel

    props: dict[str, Any] = {
        "image_directory": EXAMPLE_IMAGE_DIRECTORY,
        "input_channels": [
            TrainingChannel("train", "datasets/churn/train/", content_type="text/csv"),
            TrainingChannel("validation", "datasets/churn/validation/", distribution="ShardedByS3Key"),
        ],
        "output_prefix": "models/churn/",
        "checkpoint_prefix": "checkpoints/churn/",
        "use_spot": True,
        "max_runtime": Duration.hours(2),
        "max_wait": Duration.hours(3),
        "hyperparameters": HYPERPARAMETERS,
        "metric_definitions": METRICS,
        "environment": {"LOG_LEVEL": "info"},
        "allowed_instance_types": ALLOWED_TYPES,
        "max_instance_count": 4,
        "tags": {"team": "ml-platform"},
        "capacity_retry_interval": Duration.seconds(1),
    }
    props.update(overrides)
    return props


@dataclass
class Synthesized:
    stack: Any
    template: dict
    sync: Any  # TrainingPipeline, completion="sync"
    poll: Any  # TrainingPipeline, completion="poll"
    bucket: Any
    key: Any
    network: Any
    group: Any

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child)


@pytest.fixture(scope="session")
def synthesized() -> Synthesized:
    from aws_cdk import App, Duration, Stack
    from aws_cdk import aws_events as events

    from sagemaker_tiers.foundation import MlBucket, MlEncryptionKey, SageMakerNetwork
    from sagemaker_tiers.registry import ModelPackageGroup
    from sagemaker_tiers.training import TrainingPipeline
    from tests.conftest import app_context

    app = App(context=app_context())
    stack = Stack(app, "TrainingTier")
    key = MlEncryptionKey(stack, "Key")
    bucket = MlBucket(stack, "Data", encryption_key=key, event_bridge_enabled=True)
    network = SageMakerNetwork(stack, "Network", encryption_key=key)
    group = ModelPackageGroup(stack, "Group", model_package_group_name=GROUP_NAME)
    common = {"bucket": bucket, "encryption_key": key, "network": network, "model_package_group": group}
    sync = TrainingPipeline(
        stack,
        "Churn",
        **common,
        **pipeline_props(
            job_name_prefix=JOB_PREFIX,
            schedule=events.Schedule.rate(Duration.days(1)),
            trigger_on_new_data_prefix="datasets/churn/",
        ),
    )
    poll = TrainingPipeline(
        stack,
        "ChurnPoll",
        **common,
        **pipeline_props(job_name_prefix=POLL_JOB_PREFIX, completion="poll", poll_interval=Duration.seconds(1)),
    )
    template = app.synth().get_stack_by_name(stack.stack_name).template
    return Synthesized(stack, template, sync, poll, bucket, key, network, group)
