"""JumpStartFineTuning at synth: the rendered CreateTrainingJob request (from the document, in the VPC, isolated,
encrypted), the production (.sync) variant, its permissions and triggers, and refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.jumpstart.hub_documents import GATED_MODEL, OPEN_MODEL
from tests.sfn_support import physical_values, state_machine_definition


def _states(synthesized: Any, name: str) -> dict[str, Any]:
    tuning = synthesized.tunings[name]
    return state_machine_definition(
        synthesized.template_json, synthesized.logical_id(tuning.state_machine), physical_values(synthesized.template_json)
    )["States"]


def _statements(synthesized: Any, name: str) -> list[dict[str, Any]]:
    role_id = synthesized.logical_id(synthesized.tunings[name].state_machine.role)
    return [
        s
        for r in synthesized.template_json["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
        for s in r["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_training_request_takes_image_script_and_artifacts_from_the_document(synthesized):
    request = _states(synthesized, "defaults")["CreateTrainingJob"]["Parameters"]
    assert request["AlgorithmSpecification"] == {
        "TrainingImage.$": "$.document.TrainingEcrUri",
        "TrainingInputMode": "File",
        "MetricDefinitions.$": "$.document.TrainingMetrics",
    }
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in request["InputDataConfig"]}
    assert channels["model"]["S3Uri.$"] == "$.document.TrainingArtifactUri"
    assert channels["code"]["S3Uri.$"] == "$.document.TrainingScriptUri"
    assert channels["training"]["S3Uri"].endswith("/datasets/flan-t5/")
    assert request["HyperParameters.$"] == "$.hp.values"
    assert "amazonaws.com" not in json.dumps(request["AlgorithmSpecification"])


def test_training_runs_in_the_vpc_isolated_and_encrypted(synthesized):
    request = _states(synthesized, "defaults")["CreateTrainingJob"]["Parameters"]
    assert request["EnableNetworkIsolation"] is True and request["EnableInterContainerTrafficEncryption"] is True
    assert len(request["VpcConfig"]["Subnets"]) >= 2 and len(request["VpcConfig"]["SecurityGroupIds"]) == 1
    key_arn = request["OutputDataConfig"]["KmsKeyId"]
    assert key_arn.startswith("arn:aws:kms:")
    # ml.g5 types have local NVMe storage, which SageMaker encrypts itself and refuses a volume key for.
    assert "VolumeKmsKeyId" not in request["ResourceConfig"]
    spot = _states(synthesized, "overrides")["CreateTrainingJob"]["Parameters"]
    assert spot["EnableManagedSpotTraining"] is True and spot["CheckpointConfig"]["S3Uri.$"] == "$.names.checkpointUri"


def test_production_variant_waits_with_sync_and_may_stop_its_jobs(synthesized):
    states = _states(synthesized, "production")
    assert states["CreateTrainingJob"]["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert "WaitForTrainingJob" not in states
    actions = {a for s in _statements(synthesized, "production") if s["Effect"] == "Allow" for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert "sagemaker:StopTrainingJob" in actions


def test_state_machine_may_only_start_isolated_jobs_in_its_network_and_describe_its_model(synthesized):
    statements = _statements(synthesized, "defaults")
    denies = {s["Sid"] for s in statements if s["Effect"] == "Deny"}
    assert {"DenyJobsOutsidePipelineSubnets", "DenyJobsOutsidePipelineSecurityGroup", "DenyOtherInstanceTypes", "DenyJobsWithoutNetworkIsolation"} <= denies
    (pass_role,) = [s for s in statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    (describe,) = [s for s in statements if s["Action"] == "sagemaker:DescribeHubContent"]
    assert OPEN_MODEL in json.dumps(describe["Resource"]) and GATED_MODEL not in json.dumps(describe["Resource"])


def test_new_data_and_schedule_start_runs(synthesized):
    tuning = synthesized.tunings["overrides"]
    assert tuning.new_data_rule is not None and tuning.schedule_rule is not None
    assert set(tuning.alarms) == {"ExecutionsFailed", "ExecutionsTimedOut", "UndeliveredTriggers"}
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": {"source": ["aws.s3"], "detail-type": ["Object Created"], "detail": {"bucket": {"name": [{"Ref": synthesized.logical_id(synthesized.bucket)}]}, "object": {"key": [{"wildcard": "datasets/flan-t5-spot/*_SUCCESS"}]}}}},
    )


def test_every_fine_tuning_request_passes_the_request_shape_gate(synthesized):
    from scripts.request_shapes import check_template

    summary = check_template("JumpStartTest", synthesized.template_json)
    assert summary.findings == [], "\n".join(str(f) for f in summary.findings)


# -- refusals at synth ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scaffold():
    from aws_cdk import App, Stack

    from sagemaker_tiers import MlBucket, MlEncryptionKey, ModelPackageGroup, SageMakerNetwork
    from sagemaker_tiers.studio import CuratedHub
    from tests.conftest import app_context

    stack = Stack(App(context=app_context()), "TuningRefusals")
    key = MlEncryptionKey(stack, "Key")
    return {
        "stack": stack,
        "hub": CuratedHub(stack, "Hub", encryption_key=key, model_ids=[OPEN_MODEL, GATED_MODEL], gated_model_ids=[GATED_MODEL]),
        "bucket": MlBucket(stack, "Data", encryption_key=key),
        "encryption_key": key,
        "network": SageMakerNetwork(stack, "Network", encryption_key=key),
        "model_package_group": ModelPackageGroup(stack, "Group", model_package_group_name="g"),
        "dataset_prefix": "datasets/x/",
        "output_prefix": "models/x/",
    }


def _build(scaffold: dict[str, Any], id: str, **props: Any) -> Any:
    from sagemaker_tiers.jumpstart import JumpStartFineTuning

    common = {k: v for k, v in scaffold.items() if k != "stack"}
    return JumpStartFineTuning(scaffold["stack"], id, **{**common, "model_id": OPEN_MODEL, **props})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"model_id": "huggingface-llm-falcon-7b"}, r"model_id must be a model the curated hub .*allowlists.*got 'huggingface-llm-falcon-7b'"),
        ({"model_id": GATED_MODEL}, rf"accept_eula must be '{GATED_MODEL}'"),
        ({"use_spot": True}, r"checkpoint_prefix must be given with use_spot=True"),
        ({"output_prefix": "datasets/x/out/"}, r"dataset_prefix must not overlap output_prefix .*got .datasets/x/. and .datasets/x/out/."),
        ({"instance_type": "g5.2xlarge"}, r"instance_type must be a SageMaker training instance type.*'ml.g5.2xlarge'"),
        ({"hyperparameters": {"epochs": 3}}, r"hyperparameters\['epochs'\] must be a literal string"),
        ({"trigger_on_new_data": True}, r"trigger_on_new_data needs the bucket to send object events to EventBridge"),
        ({"completion": "async"}, r"completion must be one of"),
    ],
)
def test_bad_props_fail_at_synth_naming_them(scaffold, props: dict, message: str) -> None:
    from sagemaker_tiers import ValidationError

    with pytest.raises(ValidationError, match=message):
        _build(scaffold, f"Bad{abs(hash(json.dumps(props, default=str))) % 10**8}", **props)


def test_every_policy_passes_the_iam_reference_gate(synthesized):
    # The app's default cdk.out has no JumpStart construct (its examples are off), so the IAM reference gate runs
    # here on the test stack: actions exist, resources fit their ARN templates, condition keys are valid.
    from tests.iam_support import Reference, Templates, check

    findings, counts = check(Templates(templates={"JumpStartTest": synthesized.template_json}), Reference())
    assert findings == [], "\n".join(str(f) for f in findings)
    assert counts["statements"] > 50
