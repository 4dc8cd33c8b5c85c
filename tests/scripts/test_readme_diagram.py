"""The README's architecture diagram is the app's (``make diagram``), and its arrows come from the app."""

from __future__ import annotations

import re

import pytest

from scripts.diagram import README, block, build, cdk_json_context, readme_block, stale
from tests.mermaid_subset import mermaid_subset_errors

SEED_GROUP = "ModelPackageGroup example-churn<br/>Model package group"
TRAINING = "TrainingPipeline ExampleChurn<br/>Step Functions state machine"
NOTIFY = "Lambda function: Functions/Notify"
APPROVAL_API = "Lambda function: Functions/ApprovalApi"
PROMOTE = "Lambda function: Functions/Promote"
TOPIC = "SNS topic: AdminTopic"
API = "API Gateway REST API: Api"
APPROVED = "SSM parameter: /sagemaker-tiers/registry/example-churn/approved-model"
STATE_CHANGE = "EventBridge: SageMaker Model Package State Change"


@pytest.fixture(scope="module")
def diagram():  # type: ignore[no-untyped-def]
    """The app as `make diagram` builds it (cdk.json's context)."""
    return build()


@pytest.fixture(scope="module")
def variant():  # type: ignore[no-untyped-def]
    """The app with the inference tier off, a second group the training tier and the JumpStart example (off by
    default) register into, and the training pipeline started by new data and on a schedule."""
    return build(
        cdk_json_context(
            inference_enabled=False,
            model_package_groups=["example-churn", "fraud"],
            training_model_package_group="fraud",
            jumpstart_model_package_group="fraud",
            training_on_new_data=True,
            training_schedule_enabled=True,
        )
    )


def test_readme_shows_the_diagram_generated_from_the_app(diagram) -> None:
    problem = stale(README.read_text(), diagram.mermaid())
    assert problem is None, problem


def test_a_stale_readme_fails_with_the_fix(diagram) -> None:
    readme = README.read_text()
    assert readme_block(readme) == block(diagram.mermaid())
    planted = readme.replace('|"CreateModelPackage"|', '|"CreateModelPackages"|', 1)  # one label edited by hand
    assert planted != readme
    assert "run `make diagram`" in str(stale(planted, diagram.mermaid()))


def test_the_seed_chain_from_training_to_the_endpoint_is_drawn(diagram) -> None:
    inference = diagram.node("Step Functions state machine", within="ApprovedModelEndpoint Endpoint")
    chain = [
        (TRAINING, SEED_GROUP, "CreateModelPackage"),
        (SEED_GROUP, NOTIFY, f"{STATE_CHANGE} (PendingManualApproval)"),
        (NOTIFY, TOPIC, "Publish"),
        (TOPIC, "Email: 1 subscriber", "email"),
        ("Email: 1 subscriber", API, "link: APPROVAL_URL"),
        (API, APPROVAL_API, "GET /review, POST /decision, POST /decisions, POST /renew"),
        (APPROVAL_API, SEED_GROUP, "UpdateModelPackage"),
        (SEED_GROUP, PROMOTE, STATE_CHANGE),
        (PROMOTE, APPROVED, "PutParameter"),
        (APPROVED, inference, "EventBridge: Parameter Store Change (Create, Update)"),
        (inference, "SageMaker endpoint: sagemaker-tiers-example-churn", "CreateEndpoint, UpdateEndpoint"),
        (inference, "SSM parameter: /sagemaker-tiers/registry/example-churn/deployed-model", "PutParameter"),
    ]
    for source, target, label in chain:
        assert diagram.edge_labels(source, target) == [label], (source, target)
    # The other tiers register into the same group.
    autopilot = diagram.node("Step Functions state machine", within="AutopilotJob Autopilot")
    for source in (autopilot, "PersonaRole DataScientist", "PersonaRole BusinessAnalyst"):
        assert diagram.edge_labels(source, SEED_GROUP) == ["CreateModelPackage"]


def test_every_stack_and_library_construct_has_a_box(diagram) -> None:
    stacks = {c.label for c in diagram.containers if not c.parent}
    assert {f"Stack sagemaker-tiers-{s}" for s in ("foundation", "registry", "training", "autopilot", "studio", "inference")} <= stacks
    boxes = {c.label for c in diagram.containers} | {n.label.split("<br/>")[0] for n in diagram.nodes}
    assert {
        "MlEncryptionKey Key", "MlBucket MlBucket", "SageMakerNetwork Network", "ApprovalWorkflow Approval",
        "ModelPackageGroup example-churn", "TrainingPipeline ExampleChurn", "AutopilotJob Autopilot",
        "StudioDomain Domain", "CuratedHub JumpStartHub", "CanvasIdleShutdown CanvasIdleShutdown",
        "ApprovedModelEndpoint Endpoint",
    } <= boxes
    # Nested inside their stack (the training pipeline's only drawn resource is its state machine: one box).
    training = next(c for c in diagram.containers if c.label == "Stack sagemaker-tiers-training")
    assert diagram.node(TRAINING).container == training.id


def test_the_diagram_follows_the_app_configuration(diagram, variant) -> None:
    assert stale(README.read_text(), variant.mermaid()) is not None
    labels = {n.label for n in variant.nodes}
    # No inference tier: no endpoint, no approved-model parameter named by its rule; the promote function's grant
    # on the registry's parameter prefix is drawn as the prefix instead.
    assert not any(label.startswith("SageMaker endpoint") for label in labels)
    assert APPROVED not in labels
    assert variant.edge_labels(PROMOTE, "SSM parameter: /sagemaker-tiers/registry/*") == ["PutParameter"]
    assert not [c for c in variant.containers if c.label == "Stack sagemaker-tiers-inference" and any(
        n.container == c.id for n in variant.nodes)]
    # Training registers into the group it is configured with, not the seed's; new data in the foundation's bucket
    # and the schedule start it (so the pipeline is a subgraph now: its schedule is a second drawn thing).
    training = variant.node("Step Functions state machine", within="TrainingPipeline ExampleChurn")
    fraud = "ModelPackageGroup fraud<br/>Model package group"
    assert variant.edge_labels(training, fraud) == ["CreateModelPackage"]
    assert variant.edge_labels(training, SEED_GROUP) == []
    assert variant.edge_labels(fraud, NOTIFY) == [f"{STATE_CHANGE} (PendingManualApproval)"]
    assert variant.edge_labels("MlBucket MlBucket", training) == ["EventBridge: Object Created"]
    assert variant.edge_labels("Schedule: rate(1 day)", training) == ["EventBridge schedule"]
    # A construct class added to the library after the generator (issue 16's JumpStartModelVersion) is drawn with
    # its registration, with no change to the generator.
    jumpstart = variant.node("Step Functions state machine", within="JumpStartModelVersion JumpStartAsIs")
    assert variant.edge_labels(jumpstart, fraud) == ["CreateModelPackage"]
    assert not [c for c in diagram.containers if c.label.startswith("JumpStartModelVersion")]


def test_the_output_is_valid_mermaid_without_tokens_or_hashes(diagram, variant) -> None:
    for d in (diagram, variant):
        text = d.mermaid()
        assert mermaid_subset_errors(text) == []
        assert "${Token" not in text and "Fn::" not in text and "Exports" not in text
        # Labels carry no CDK logical-id hash (8 upper-case hex digits at the end of a word).
        assert not [n.label for n in d.nodes if re.search(r"[A-Za-z][0-9A-F]{8}\b", n.label)]


def test_the_syntax_check_catches_planted_errors(diagram) -> None:
    text = diagram.mermaid()
    node = diagram.nodes[0]
    assert mermaid_subset_errors(text.replace("\n  end\n", "\n", 1))[-1].endswith("never closed with 'end'")
    assert any("no declared node" in e for e in mermaid_subset_errors(text + f"  {node.id} --> nowhere\n"))
    assert any("not in the subset" in e for e in mermaid_subset_errors(text.replace(f'{node.id}["', f'{node.id}[""', 1)))
