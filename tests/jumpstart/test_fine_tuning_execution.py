"""JumpStartFineTuning's synthesized state machines (``completion="poll"``), executed under moto with
DescribeHubContent answered by a fake public hub (tests/jumpstart/hub_documents.py).

moto cannot run ``createTrainingJob.sync``; the production definition differs only in that resource and its
permissions (test_fine_tuning.py). moto creates training jobs already Completed. Every SDK request is validated
against botocore's model, and so is the optimized ``createTrainingJob`` request, which moto forwards unvalidated.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagemaker_tiers.jumpstart import EULA_NOT_ACCEPTED, TRAINING_NOT_SUPPORTED, UNKNOWN_HYPERPARAMETER
from tests.jumpstart import hub_documents as docs
from tests.jumpstart.conftest import BUCKET, GROUP
from tests.sfn_support import (
    ACCOUNT,
    REGION,
    aws_sdk_integrations_as_in_aws,
    entered_states,
    physical_values,
    run_execution,
    state_machine_definition,
)

TOPIC = "jumpstart-tuning-notifications"


class Account:
    def __init__(self, synthesized: Any, calls: list[dict[str, Any]], jobs: list[dict[str, Any]], hub: docs.FakeHub) -> None:
        import boto3

        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sm = boto3.client("sagemaker", region_name=REGION)
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)
        self.topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name=TOPIC)["TopicArn"]
        self.sm.create_model_package_group(ModelPackageGroupName=GROUP)
        overrides: dict[str, Any] = {synthesized.logical_id(synthesized.bucket): BUCKET}
        overrides.update({synthesized.logical_id(t.topic): self.topic_arn for t in synthesized.tunings.values()})
        physical = physical_values(synthesized.template_json, **overrides)
        self.arns = {}
        for name, tuning in synthesized.tunings.items():
            definition = state_machine_definition(synthesized.template_json, synthesized.logical_id(tuning.state_machine), physical)
            self.arns[name] = self.sfn.create_state_machine(
                name=f"tuning-{name.replace('_', '-')}", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn"
            )["stateMachineArn"]
        self.calls = calls
        self.jobs = jobs
        self.hub = hub

    def run(self, name: str, payload: Any = None) -> dict:
        return run_execution(self.sfn, self.arns[name], payload, timeout=90)

    def registrations(self) -> list[dict[str, Any]]:
        return [c["parameters"] for c in self.calls if c["action"] == "createModelPackage"]

    def notifications(self) -> list[str]:
        from moto.sns.models import sns_backends

        return [m[1] for m in sns_backends[ACCOUNT][REGION].topics[self.topic_arn].sent_notifications]


@pytest.fixture
def account(synthesized, monkeypatch):
    from botocore.validate import ParamValidator
    from moto import mock_aws
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_unsupported as unsupported,
    )

    hub = docs.install(monkeypatch)
    jobs: list[dict[str, Any]] = []

    def record_and_validate(self, parameters, boto_service_name=None, service_action_name=None):  # noqa: ANN001
        # moto forwards optimized SageMaker requests with validation off; validate them as AWS would.
        import boto3

        client = boto3.client("sagemaker", region_name=REGION)
        operation = client.meta.method_to_api_mapping[self._get_boto_service_action()]
        report = ParamValidator().validate(parameters, client.meta.service_model.operation_model(operation).input_shape)
        if report.has_errors():
            raise ValueError(f"invalid {operation} request: {report.generate_report()}")
        jobs.append(json.loads(json.dumps(parameters)))

    monkeypatch.setattr(unsupported.StateTaskServiceUnsupported, "_normalise_parameters", record_and_validate)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        with aws_sdk_integrations_as_in_aws() as calls:
            yield Account(synthesized, calls, jobs, hub)


def _channels(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["ChannelName"]: c["DataSource"]["S3DataSource"] for c in job["InputDataConfig"]}


def test_fine_tune_with_the_documents_defaults_trains_and_registers_pending_approval(account):
    result = account.run("defaults")
    assert result["status"] == "SUCCEEDED", result.get("cause")
    (job,) = account.jobs
    assert job["AlgorithmSpecification"]["TrainingImage"] == docs.FLAN_T5["TrainingEcrUri"]
    assert job["AlgorithmSpecification"]["MetricDefinitions"] == docs.FLAN_T5["TrainingMetrics"]
    # Every default of the document, the container's script settings included, as strings.
    assert job["HyperParameters"] == {h["Name"]: str(h["Default"]) for h in docs.FLAN_T5["Hyperparameters"]}
    channels = _channels(job)
    assert channels["training"]["S3Uri"] == f"s3://{BUCKET}/datasets/flan-t5/"
    assert channels["model"]["S3Uri"] == docs.FLAN_T5["TrainingArtifactUri"] and "ModelAccessConfig" not in channels["model"]
    assert channels["code"]["S3Uri"] == docs.FLAN_T5["TrainingScriptUri"]
    assert job["HyperParameters"]["sagemaker_submit_directory"] == "/opt/ml/input/data/code/sourcedir.tar.gz"
    assert job["EnableNetworkIsolation"] is True and job["EnableInterContainerTrafficEncryption"] is True
    assert job["OutputDataConfig"]["CompressionType"] == "GZIP"
    (request,) = account.registrations()
    assert request["ModelApprovalStatus"] == "PendingManualApproval" and request["ModelPackageGroupName"] == GROUP
    (container,) = request["InferenceSpecification"]["Containers"]
    assert container["Image"] == docs.FLAN_T5["HostingEcrUri"]
    source = container["ModelDataSource"]["S3DataSource"]
    assert source["S3Uri"].startswith(f"s3://{BUCKET}/models/flan-t5/") and (source["S3DataType"], source["CompressionType"]) == ("S3Object", "Gzip")
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert request["InferenceSpecification"]["SupportedRealtimeInferenceInstanceTypes"] == docs.FLAN_T5["SupportedInferenceInstanceTypes"]
    assert request["CustomerMetadataProperties"]["sagemaker-tiers:training-job-name"] == job["TrainingJobName"]
    output = json.loads(result["output"])
    assert output["trainingJobName"] == job["TrainingJobName"] and output["modelPackageArn"].startswith("arn:aws:sagemaker:")


def test_overridden_hyperparameters_replace_the_defaults_and_keep_the_rest(account):
    result = account.run("overrides")
    assert result["status"] == "SUCCEEDED", result.get("cause")
    (job,) = account.jobs
    expected = {h["Name"]: str(h["Default"]) for h in docs.FLAN_T5["Hyperparameters"]} | {"epochs": "3", "learning_rate": "0.0002"}
    assert job["HyperParameters"] == expected
    # Spot with a checkpoint folder per run.
    assert job["EnableManagedSpotTraining"] is True
    assert job["CheckpointConfig"]["S3Uri"].startswith(f"s3://{BUCKET}/checkpoints/flan-t5/")
    assert job["StoppingCondition"]["MaxWaitTimeInSeconds"] >= job["StoppingCondition"]["MaxRuntimeInSeconds"]


def test_an_unknown_hyperparameter_fails_the_run_naming_it_before_any_job(account):
    result = account.run("unknown_hyperparameter")
    assert result["status"] == "FAILED" and result["error"] == UNKNOWN_HYPERPARAMETER
    assert "num_beams" in result["cause"] and "learning_rate" in result["cause"]
    assert account.jobs == [] and account.registrations() == []
    assert len(account.notifications()) == 1


def test_a_model_without_training_support_fails_the_run_clearly(account):
    result = account.run("no_training")
    assert result["status"] == "FAILED" and result["error"] == TRAINING_NOT_SUPPORTED
    assert docs.NO_TRAINING_MODEL in result["cause"] and "TrainingSupported" in result["cause"]
    assert account.jobs == [] and "TrainingNotSupported" in entered_states(account.sfn, result["executionArn"])


def test_a_gated_model_without_acceptance_is_not_trained(account):
    result = account.run("gated_refused")
    assert result["status"] == "FAILED" and result["error"] == EULA_NOT_ACCEPTED
    assert docs.LLAMA_2["HostingEulaUri"] in result["cause"]
    assert account.jobs == []


def test_a_gated_model_with_acceptance_trains_with_it_uncompressed_as_its_document_says(account):
    result = account.run("gated")
    assert result["status"] == "SUCCEEDED", result.get("cause")
    (job,) = account.jobs
    assert _channels(job)["model"]["ModelAccessConfig"] == {"AcceptEula": True}
    assert _channels(job)["model"]["S3Uri"] == docs.LLAMA_2["TrainingArtifactUri"]
    assert job["OutputDataConfig"]["CompressionType"] == "NONE"
    (request,) = account.registrations()
    source = request["InferenceSpecification"]["Containers"][0]["ModelDataSource"]["S3DataSource"]
    assert (source["S3DataType"], source["CompressionType"]) == ("S3Prefix", "None")


def test_a_document_without_training_artifacts_is_refused_as_not_trainable(account):
    del account.hub.documents[docs.OPEN_MODEL][1]["TrainingScriptUri"]
    result = account.run("defaults")
    assert result["status"] == "FAILED" and result["error"] == TRAINING_NOT_SUPPORTED
    assert "TrainingScriptUri" in result["cause"] and account.jobs == []


def test_an_instance_type_the_model_does_not_train_on_is_refused(account):
    account.hub.documents[docs.OPEN_MODEL][1]["SupportedTrainingInstanceTypes"] = ["ml.p3.2xlarge"]
    result = account.run("defaults")
    assert result["status"] == "FAILED" and result["error"] == "JumpStart.InstanceTypeNotSupported"
    assert "ml.g5.2xlarge" in result["cause"] and account.jobs == []
