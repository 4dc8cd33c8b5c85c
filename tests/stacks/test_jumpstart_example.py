"""The app's JumpStart example: off by default; on, registered into its group and served by a real-time endpoint
whose model role reads JumpStart's artifacts; its keys refused clearly."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from sagemaker_tiers import ValidationError, add_gates
from stacks.inference_stack import InferenceStack
from stacks.jumpstart import JumpStartConfig
from stacks.studio_stack import StudioStack
from tests.conftest import app_context, base_stacks

GROUP = "example-jumpstart-text"
TUNED = "example-jumpstart-tuned"


def _stacks(**context: object):  # type: ignore[no-untyped-def]
    app = App(context=app_context(model_package_groups=["example-churn", GROUP, TUNED], **context))
    config, foundation, registry = base_stacks(app)
    studio = StudioStack(app, "Studio", config=config, foundation=foundation, registry=registry)
    return app, config, foundation, registry, studio


@pytest.fixture(scope="module")
def served():  # type: ignore[no-untyped-def]
    app, config, foundation, registry, studio = _stacks(
        jumpstart_model_package_group=GROUP, inference_group=GROUP, inference_instance_type="ml.g5.2xlarge"
    )
    add_gates(app, control_tower=False)
    inference = InferenceStack(
        app, "Inference", config=config, foundation=foundation, registry=registry, model_sources=list(studio.jumpstart.values())
    )
    app.synth()  # cdk-nag: no unacknowledged finding, also on the model role's new statements
    return studio, inference


def test_off_by_default() -> None:
    assert JumpStartConfig().jumpstart_model_package_group == "" and JumpStartConfig().jumpstart_finetune_model_package_group == ""
    *_, studio = _stacks()
    assert studio.jumpstart == {}
    assert Template.from_stack(studio).find_resources("AWS::StepFunctions::StateMachine") == {}


def test_on_it_registers_into_its_group_and_the_endpoint_reads_jumpstart_artifacts(served) -> None:  # type: ignore[no-untyped-def]
    studio, inference = served
    model = studio.jumpstart["as_is"]
    assert model.model_id == "huggingface-text2text-flan-t5-base"
    assert model.model_package_group.model_package_group_name == GROUP
    assert "JumpStartRegistrationStateMachineArn" in Template.from_stack(studio).to_json()["Outputs"]
    policies = json.dumps([r["Properties"] for r in Template.from_stack(inference).find_resources("AWS::IAM::Policy").values()])
    assert "jumpstart-cache-prod-" in policies and "jumpstart-private-cache-prod-" in policies
    # No tier writes JumpStart's artifacts into the ML bucket: the model role gets no prefix of it.
    assert "models/example-churn/" not in policies



def test_on_the_operator_cli_may_list_its_registrations() -> None:
    # `sagemaker-tiers status` reports failed runs of the registration state machine and its queue's depth.
    from aws_cdk import Stack

    from sagemaker_tiers.cli import status
    from sagemaker_tiers.operations import OperatorPolicy

    assert ("studio", "JumpStartRegistrationStateMachineArn") in status.STATE_MACHINE_OUTPUTS
    app, *_, studio = _stacks(jumpstart_model_package_group=GROUP)
    operations = Stack(app, "Operations")
    operator = OperatorPolicy(operations, "Operator", stacks=[studio])
    operator.add_jumpstart_model(studio.jumpstart["as_is"])
    statements = Template.from_stack(operations).to_json()["Resources"]
    (policy,) = [r for r in statements.values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    runs = next(s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "JumpStartRuns")
    assert runs["Action"] == "states:ListExecutions" and "Fn::ImportValue" in json.dumps(runs["Resource"])


def test_fine_tuning_example_trains_on_the_configured_prefix_and_its_output_is_served() -> None:
    app, config, foundation, registry, studio = _stacks(
        jumpstart_finetune_model_package_group=TUNED, jumpstart_finetune_hyperparameters=["epochs=2", "learning_rate=0.0002"],
        inference_group=TUNED, inference_instance_type="ml.g5.2xlarge",
    )
    tuned = studio.jumpstart["fine_tuned"]
    assert tuned.hyperparameters == {"epochs": "2", "learning_rate": "0.0002"}
    assert tuned.dataset_prefix == "datasets/example-jumpstart/" and tuned.output_prefix == "models/example-jumpstart/"
    inference = InferenceStack(
        app, "Inference", config=config, foundation=foundation, registry=registry, model_sources=list(studio.jumpstart.values())
    )
    policies = json.dumps([r["Properties"] for r in Template.from_stack(inference).find_resources("AWS::IAM::Policy").values()])
    assert "/models/example-jumpstart/*" in policies


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"jumpstart_model_package_group": GROUP, "jumpstart_model_id": "huggingface-llm-falcon-7b"},
         r"jumpstart_model_id must be one of sagemaker-tiers:studio_jumpstart_model_ids .*got 'huggingface-llm-falcon-7b'"),
        ({"jumpstart_model_package_group": "fraud"}, r"jumpstart_model_package_group must be one of the registry's groups"),
        ({"jumpstart_model_package_group": GROUP, "studio_jumpstart_model_ids": []}, r"jumpstart_model_package_group needs a curated hub"),
        ({"jumpstart_model_version": "latest"}, r"jumpstart_model_version must be a JumpStart version.*got 'latest'"),
        ({"jumpstart_model_package_group": GROUP, "jumpstart_accept_eula": "pytorch-ic-mobilenet-v2"},
         r"jumpstart_accept_eula must name the model of an enabled JumpStart example \(huggingface-text2text-flan-t5-base\).*got 'pytorch-ic-mobilenet-v2'"),
        ({"jumpstart_finetune_model_package_group": GROUP, "jumpstart_finetune_hyperparameters": ["epochs"]},
         r"jumpstart_finetune_hyperparameters entries must look like 'name=value', got 'epochs'"),
        ({"jumpstart_finetune_model_package_group": GROUP, "jumpstart_finetune_instance_type": "g5.2xlarge"},
         r"jumpstart_finetune_instance_type must be a SageMaker training instance type"),
        ({"jumpstart_finetune_model_package_group": GROUP, "jumpstart_finetune_output_prefix": "models/x"},
         r"jumpstart_finetune_output_prefix"),
    ],
)
def test_bad_keys_fail_at_synth_naming_them(context: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _stacks(**context)


def test_with_both_examples_the_whole_app_passes_the_gates_and_the_dashboard_shows_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The app as `cdk synth` builds it (cdk-nag and Control Tower at synth), with both examples and a real-time
    # endpoint serving the fine-tuned group; the dashboard gets a JumpStart section from the constructs' widgets.
    from stacks.app import add_nag_checks, build_app

    app = App(outdir=str(tmp_path), context=app_context(
        model_package_groups=["example-churn", GROUP, TUNED], jumpstart_model_package_group=GROUP,
        jumpstart_finetune_model_package_group=TUNED, inference_group=TUNED, inference_instance_type="ml.g5.2xlarge",
    ))
    add_nag_checks(app)
    tiers = build_app(app)
    app.synth()  # raises on any unacknowledged finding
    ops = tiers.operations
    resource = Template.from_stack(ops).to_json()["Resources"][ops.get_logical_id(ops.dashboard.dashboard.node.default_child)]
    text = json.dumps(resource["Properties"]["DashboardBody"])
    assert "## JumpStart" in text
    sources = list(tiers.studio.jumpstart.values())
    assert {type(s).__name__ for s in sources} == {"JumpStartModelVersion", "JumpStartFineTuning"}
    for source in sources:
        assert source.runs_title in text  # each construct's own widgets (titles name the model and what runs)

    # `sagemaker-tiers status` reports every queue's depth and every state machine's failed runs of the Studio
    # stack through its outputs, also with both examples on (the fine-tuning ones were missing at first).
    from sagemaker_tiers.cli import status

    studio = Template.from_stack(tiers.studio).to_json()
    outputs = studio["Outputs"]
    for kind, wanted in (("AWS::SQS::Queue", status.DEAD_LETTER_OUTPUTS), ("AWS::StepFunctions::StateMachine", status.STATE_MACHINE_OUTPUTS)):
        reported = {outputs[key]["Value"]["Ref"] for tier, key in wanted if tier == "studio" and key in outputs}
        present = {logical_id for logical_id, r in studio["Resources"].items() if r["Type"] == kind}
        assert present and reported == present, kind
