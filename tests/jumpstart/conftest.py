"""The JumpStart tier's test stack, synthesized once (with cdk-nag) for the assertion and execution tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.jumpstart.hub_documents import GATED_MODEL, MARKETPLACE_MODEL, NO_TRAINING_MODEL, OPEN_MODEL

GROUP = "jumpstart-models"


@dataclass
class Synthesized:
    stack: Any
    hub: Any
    group: Any
    key: Any
    bucket: Any
    network: Any
    models: dict[str, Any]  # JumpStartModelVersion by test name
    template: Any  # aws_cdk.assertions.Template
    template_json: dict[str, Any]
    outdir: Path

    def logical_id(self, construct: Any) -> str:
        return self.stack.resolve(self.stack.get_logical_id(construct.node.default_child or construct))


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """One curated hub of four models; one JumpStartModelVersion per case the executions need:

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
    from sagemaker_tiers.jumpstart import JumpStartModelVersion
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
    app.synth()  # raises on any unacknowledged cdk-nag finding
    template = Template.from_stack(stack)
    return Synthesized(
        stack=stack, hub=hub, group=group, key=key, bucket=bucket, network=network, models=models,
        template=template, template_json=template.to_json(), outdir=outdir,
    )
