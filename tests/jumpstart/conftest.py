"""The JumpStart tier's test stack, synthesized once (with cdk-nag) for the assertion and execution tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.jumpstart.hub_documents import GATED_MODEL, MARKETPLACE_MODEL, NO_TRAINING_MODEL, OPEN_MODEL

GROUP = "jumpstart-models"
BUCKET = "ml-data-bucket"


@dataclass
class Synthesized:
    stack: Any
    hub: Any
    group: Any
    key: Any
    bucket: Any
    network: Any
    models: dict[str, Any]  # JumpStartModelVersion by test name
    tunings: dict[str, Any]  # JumpStartFineTuning by test name
    template: Any  # aws_cdk.assertions.Template
    template_json: dict[str, Any]
    outdir: Path

    def logical_id(self, construct: Any) -> str:
        return self.stack.resolve(self.stack.get_logical_id(construct.node.default_child or construct))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """One curated hub of four models; one JumpStartModelVersion (and below, one JumpStartFineTuning) per case the
    executions need:

    * ``open``: the open Flan-T5 model, as is (on deploy and weekly);
    * ``gated``: the gated Llama 2 model with its EULA accepted;
    * ``gated_refused``: the same model without acceptance (the hub does not declare it gated, so only the run
      can tell);
    * ``no_image``: a proprietary model whose document has no hosting image.
    """
    from aws_cdk import App, Duration, Stack
    from aws_cdk import aws_events as events
    from aws_cdk.assertions import Template

    from sagemaker_tiers import MlBucket, MlEncryptionKey, ModelPackageGroup, SageMakerNetwork, add_gates
    from sagemaker_tiers.jumpstart import JumpStartFineTuning, JumpStartModelVersion
    from sagemaker_tiers.studio import CuratedHub
    from tests.conftest import app_context

    outdir = tmp_path_factory.mktemp("jumpstart-cdk.out")
    app = App(outdir=str(outdir), context=app_context())
    add_gates(app, control_tower=False)
    stack = Stack(app, "JumpStartTest")
    key = MlEncryptionKey(stack, "Key")
    bucket = MlBucket(stack, "Data", encryption_key=key, event_bridge_enabled=True)
    network = SageMakerNetwork(stack, "Network", encryption_key=key)
    group = ModelPackageGroup(stack, "Group", model_package_group_name=GROUP)
    hub = CuratedHub(
        stack, "Hub", encryption_key=key, model_ids=[OPEN_MODEL, GATED_MODEL, NO_TRAINING_MODEL, MARKETPLACE_MODEL]
    )
    common: dict[str, Any] = {"hub": hub, "model_package_group": group, "encryption_key": key}
    models = {
        "open": JumpStartModelVersion(stack, "FlanT5", model_id=OPEN_MODEL, schedule=events.Schedule.rate(Duration.days(7)), **common),
        "gated": JumpStartModelVersion(stack, "Llama", model_id=GATED_MODEL, accept_eula=GATED_MODEL, register_on_deploy=False, **common),
        "gated_refused": JumpStartModelVersion(stack, "LlamaRefused", model_id=GATED_MODEL, register_on_deploy=False, **common),
        "no_image": JumpStartModelVersion(stack, "CommandR", model_id=MARKETPLACE_MODEL, model_version="1.0.2", register_on_deploy=False, **common),
    }
    # Fine-tunes: "defaults" and "overrides" of the open model (poll, so moto runs them), "production" (.sync),
    # "unknown_hyperparameter", "no_training", "gated" (accepted) and "gated_refused".
    tune: dict[str, Any] = {
        "hub": hub, "model_package_group": group, "encryption_key": key, "bucket": bucket, "network": network,
        "completion": "poll", "poll_interval": Duration.seconds(5), "max_runtime": Duration.minutes(10),
    }
    tunings = {
        "defaults": JumpStartFineTuning(stack, "TuneDefaults", model_id=OPEN_MODEL, dataset_prefix="datasets/flan-t5/", output_prefix="models/flan-t5/", **tune),
        "overrides": JumpStartFineTuning(
            stack, "TuneOverrides", model_id=OPEN_MODEL, dataset_prefix="datasets/flan-t5-spot/", output_prefix="models/flan-t5-spot/",
            hyperparameters={"epochs": "3", "learning_rate": "0.0002"}, use_spot=True, checkpoint_prefix="checkpoints/flan-t5/",
            schedule=events.Schedule.rate(Duration.days(7)), trigger_on_new_data=True, **tune,
        ),
        "production": JumpStartFineTuning(
            stack, "TuneProduction", model_id=OPEN_MODEL, dataset_prefix="datasets/flan-t5-prod/", output_prefix="models/flan-t5-prod/",
            **{**tune, "completion": "sync"},
        ),
        "unknown_hyperparameter": JumpStartFineTuning(
            stack, "TuneUnknown", model_id=OPEN_MODEL, dataset_prefix="datasets/flan-t5-x/", output_prefix="models/flan-t5-x/",
            hyperparameters={"epochs": "3", "num_beams": "4"}, **tune,
        ),
        "no_training": JumpStartFineTuning(stack, "TuneT5Small", model_id=NO_TRAINING_MODEL, dataset_prefix="datasets/t5/", output_prefix="models/t5/", **tune),
        "gated": JumpStartFineTuning(
            stack, "TuneLlama", model_id=GATED_MODEL, accept_eula=GATED_MODEL, instance_type="ml.g5.24xlarge",
            dataset_prefix="datasets/llama/", output_prefix="models/llama/", **tune,
        ),
        "gated_refused": JumpStartFineTuning(
            stack, "TuneLlamaRefused", model_id=GATED_MODEL, instance_type="ml.g5.24xlarge",
            dataset_prefix="datasets/llama-x/", output_prefix="models/llama-x/", **tune,
        ),
    }
    app.synth()  # raises on any unacknowledged cdk-nag finding
    template = Template.from_stack(stack)
    return Synthesized(
        stack=stack, hub=hub, group=group, key=key, bucket=bucket, network=network, models=models, tunings=tunings,
        template=template, template_json=template.to_json(), outdir=outdir,
    )
