"""JumpStartModelVersion at synth: the rendered requests, its permissions, triggers and alarms, and refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.jumpstart.hub_documents import GATED_MODEL, MARKETPLACE_MODEL, NO_TRAINING_MODEL, OPEN_MODEL
from tests.sfn_support import physical_values, state_machine_definition


def _definition(synthesized: Any, name: str) -> dict[str, Any]:
    model = synthesized.models[name]
    return state_machine_definition(
        synthesized.template_json, synthesized.logical_id(model.state_machine), physical_values(synthesized.template_json)
    )


def _policy_statements(synthesized: Any, name: str) -> list[dict[str, Any]]:
    role_id = synthesized.logical_id(synthesized.models[name].state_machine.role)
    statements: list[dict[str, Any]] = []
    for resource in synthesized.template_json["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]:
            statements += resource["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_describe_hub_content_asks_the_public_hub_for_exactly_the_model(synthesized):
    states = _definition(synthesized, "open")["States"]
    assert states["DescribeHubContent"]["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:describeHubContent"
    assert states["DescribeHubContent"]["Parameters"] == {
        "HubName": "SageMakerPublicHub", "HubContentType": "Model", "HubContentName": OPEN_MODEL,
    }
    assert states["DescribeHubContent"]["ResultSelector"]["document.$"] == "States.StringToJson($.HubContentDocument)"
    pinned = _definition(synthesized, "no_image")["States"]["DescribeHubContent"]["Parameters"]
    assert pinned["HubContentVersion"] == "1.0.2"


def test_registration_takes_image_artifacts_and_instance_types_from_the_document(synthesized):
    states = _definition(synthesized, "open")["States"]
    request = states["RegisterModelPackage"]["Parameters"]
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert request["ModelPackageGroupName"] == "jumpstart-models"
    spec = request["InferenceSpecification"]
    # Nothing of the model is hard-coded: every value comes from the resolved document at run time.
    assert spec["Containers"] == [
        {"Image.$": "$.document.HostingEcrUri", "ModelDataSource": {"S3DataSource.$": "$.data.source"}, "Environment.$": "$.environment.map"}
    ]
    assert spec["SupportedRealtimeInferenceInstanceTypes.$"] == "$.document.SupportedInferenceInstanceTypes"
    assert "amazonaws.com" not in json.dumps(spec)
    assert states["PrepackedArtifact"]["Parameters"]["uri.$"] == "$.document.HostingPrepackedArtifactUri"
    assert states["HostingArtifact"]["Parameters"]["uri.$"] == "$.document.HostingArtifactUri"
    assert states["GatedModelDataSource"]["Parameters"]["source"]["ModelAccessConfig"] == {"AcceptEula": True}
    assert "ModelAccessConfig" not in states["ModelDataSource"]["Parameters"]["source"]


def test_only_an_unaccepted_construct_checks_the_eula_at_run_time(synthesized):
    refused = _definition(synthesized, "gated_refused")["States"]
    (rule,) = refused["CheckEula"]["Choices"]
    assert rule == {"Variable": "$.document.GatedBucket", "BooleanEquals": True, "Next": "EulaNotAccepted"}
    assert "CheckEula" not in _definition(synthesized, "gated")["States"]


def test_state_machine_may_describe_only_the_allowlisted_model_of_the_public_hub(synthesized):
    statements = _policy_statements(synthesized, "open")
    (describe,) = [s for s in statements if "sagemaker:DescribeHubContent" in json.dumps(s["Action"])]
    assert describe["Action"] == "sagemaker:DescribeHubContent"
    resources = json.dumps(describe["Resource"])
    assert f"hub-content/SageMakerPublicHub/Model/{OPEN_MODEL}" in resources
    assert ":aws:hub/SageMakerPublicHub" in resources
    for other in (GATED_MODEL, NO_TRAINING_MODEL, MARKETPLACE_MODEL):
        assert other not in resources
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"sagemaker:CreateModelPackage", "sagemaker:ListModelPackages", "sns:Publish"} <= actions
    assert not any(a.endswith("*") for a in actions)


def test_deployments_and_schedule_start_runs_with_a_dead_letter_queue(synthesized):
    from aws_cdk.assertions import Match

    model = synthesized.models["open"]
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.cloudformation"],
                "detail-type": ["CloudFormation Stack Status Change"],
                "detail": {"stack-id": [{"Ref": "AWS::StackId"}], "status-details": {"status": ["CREATE_COMPLETE", "UPDATE_COMPLETE"]}},
            },
            "Targets": [Match.object_like({"DeadLetterConfig": Match.any_value(), "RetryPolicy": Match.any_value()})],
        },
    )
    synthesized.template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(7 days)"})
    assert model.deploy_rule is not None and model.schedule_rule is not None
    assert set(model.alarms) == {"ExecutionsFailed", "ExecutionsTimedOut", "UndeliveredTriggers"}
    assert synthesized.models["gated"].deploy_rule is None and synthesized.models["gated"].dead_letter_queue is None


def test_state_machine_logs_everything_encrypted_and_traces(synthesized):
    from aws_cdk.assertions import Match

    synthesized.template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {"TracingConfiguration": {"Enabled": True}, "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True})},
    )


def test_grant_read_model_data_reads_jumpstart_buckets_only(synthesized):
    from aws_cdk import Stack
    from aws_cdk import aws_iam as iam

    stack = Stack()
    role = iam.Role(stack, "ModelRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    synthesized.models["open"].grant_read_model_data(role)
    document = stack.resolve(role.node.find_child("DefaultPolicy").document.to_json())  # type: ignore[attr-defined]
    text = json.dumps(document)
    assert "jumpstart-cache-prod-" in text and "jumpstart-private-cache-prod-" in text
    actions = sorted({a for s in document["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])})
    assert actions == ["s3:GetObject", "s3:ListBucket"]


# -- refusals at synth ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scaffold():
    from aws_cdk import App, Stack

    from sagemaker_tiers import MlEncryptionKey, ModelPackageGroup
    from sagemaker_tiers.studio import CuratedHub

    stack = Stack(App(), "Refusals")
    key = MlEncryptionKey(stack, "Key")
    group = ModelPackageGroup(stack, "Group", model_package_group_name="g")
    hub = CuratedHub(stack, "Hub", encryption_key=key, model_ids=[OPEN_MODEL, GATED_MODEL], gated_model_ids=[GATED_MODEL])
    return {"stack": stack, "hub": hub, "model_package_group": group, "encryption_key": key}


def _build(scaffold: dict[str, Any], id: str, **props: Any) -> Any:
    from sagemaker_tiers.jumpstart import JumpStartModelVersion

    common = {k: v for k, v in scaffold.items() if k != "stack"}
    return JumpStartModelVersion(scaffold["stack"], id, **{**common, **props})


def test_a_model_outside_the_allowlist_fails_at_synth_naming_the_allowed_ones(scaffold):
    from sagemaker_tiers import ValidationError

    with pytest.raises(ValidationError, match=r"model_id must be a model the curated hub .*allowlists .*huggingface-text2text-flan-t5-base.*got 'huggingface-llm-falcon-7b'"):
        _build(scaffold, "NotAllowed", model_id="huggingface-llm-falcon-7b")


def test_a_model_the_hub_declares_gated_needs_acceptance_at_synth(scaffold):
    from sagemaker_tiers import ValidationError

    with pytest.raises(ValidationError, match=rf"accept_eula must be '{GATED_MODEL}'.*gated.*got accept_eula=None"):
        _build(scaffold, "GatedNoAcceptance", model_id=GATED_MODEL)
    assert _build(scaffold, "GatedAccepted", model_id=GATED_MODEL, accept_eula=GATED_MODEL).eula_accepted is True


def test_acceptance_must_name_the_model(scaffold):
    from sagemaker_tiers import ValidationError

    with pytest.raises(ValidationError, match=rf"accept_eula must repeat the model id .*'{GATED_MODEL}'.*got True"):
        _build(scaffold, "AcceptedTrue", model_id=GATED_MODEL, accept_eula=True)
    with pytest.raises(ValidationError, match=rf"accept_eula must repeat.*got '{OPEN_MODEL}'"):
        _build(scaffold, "AcceptedOther", model_id=GATED_MODEL, accept_eula=OPEN_MODEL)


@pytest.mark.parametrize("version", ["latest", "1.2", "v1.2.3"])
def test_model_version_must_be_a_jumpstart_version(scaffold, version):
    from sagemaker_tiers import ValidationError

    with pytest.raises(ValidationError, match=rf"model_version must be a JumpStart model version.*got '{version}'"):
        _build(scaffold, f"Version{version.replace('.', '')}", model_id=OPEN_MODEL, model_version=version)


def test_gated_model_ids_must_be_allowlisted():
    from aws_cdk import App, Stack

    from sagemaker_tiers import MlEncryptionKey, ValidationError
    from sagemaker_tiers.studio import CuratedHub

    stack = Stack(App(), "GatedIds")
    with pytest.raises(ValidationError, match=rf"gated_model_ids must name models of model_ids .*got '{GATED_MODEL}'"):
        CuratedHub(stack, "Hub", encryption_key=MlEncryptionKey(stack, "Key"), model_ids=[OPEN_MODEL], gated_model_ids=[GATED_MODEL])


def test_every_task_request_and_path_passes_the_request_shape_gate(synthesized):
    # The app's default cdk.out has no JumpStart state machine (the examples are off by default), so the gate
    # runs here on the test stack's templates.
    from scripts.request_shapes import check_template

    summary = check_template("JumpStartTest", synthesized.template_json)
    assert summary.state_machines == len(synthesized.models) + len(synthesized.tunings)
    assert summary.findings == [], "\n".join(str(f) for f in summary.findings)
    assert summary.tasks_checked >= 4 * len(synthesized.models)


def test_dashboard_widgets_show_the_runs_from_the_constructs_own_metrics(synthesized):
    import json as _json

    from aws_cdk import Stack

    for construct, expected in ((synthesized.models["open"], 3), (synthesized.models["gated"], 2), (synthesized.tunings["overrides"], 3)):
        widgets = construct.widgets()
        assert len(widgets) == expected  # runs by outcome, duration, and dead letters when triggered
        rendered = _json.dumps(Stack.of(construct).resolve([w.to_json() for w in widgets]))
        assert "AWS/States" in rendered and synthesized.logical_id(construct.state_machine) in rendered
        assert construct.runs_title in rendered
