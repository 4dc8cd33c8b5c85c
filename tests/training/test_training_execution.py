"""The synthesized polling pipeline, executed end to end under moto's Step Functions interpreter.

moto cannot run ``createTrainingJob.sync``; the production pipeline differs from this one only in that resource
and its permissions (``test_training_pipeline.py`` proves it on the rendered definitions). moto creates training
jobs already ``Completed``; the tests make some ``Failed`` (``job_outcomes``) to drive the failure paths.
Every SDK request the run makes is validated against botocore's model, including the optimized
``createTrainingJob`` request, which moto itself forwards unvalidated.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.sfn_support import (
    ACCOUNT,
    REGION,
    aws_sdk_integrations_as_in_aws,
    entered_states,
    physical_values,
    run_execution,
    state_machine_definition,
)
from sagemaker_tiers.training.training_pipeline import RUN_INPUT_KEYS
from tests.training.conftest import ALLOWED_TYPES, GROUP_NAME, HYPERPARAMETERS, POLL_JOB_PREFIX

BUCKET = "ml-data-bucket"
TOPIC = "training-notifications"
JOB_NAME = re.compile(rf"{POLL_JOB_PREFIX}-[0-9a-f]{{32}}-(\d+)")


class Account:
    """moto's account with the pipeline deployed: the state machine, its bucket, topic and group."""

    def __init__(self, synthesized: Any, calls: list[dict[str, Any]], create_requests: list[dict[str, Any]]) -> None:
        import boto3

        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sm = boto3.client("sagemaker", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        self.s3.create_bucket(Bucket=BUCKET)
        self.topic_arn = sns.create_topic(Name=TOPIC)["TopicArn"]
        self.sm.create_model_package_group(ModelPackageGroupName=GROUP_NAME)
        template = synthesized.template
        overrides = {
            synthesized.logical_id(synthesized.bucket): BUCKET,
            synthesized.logical_id(synthesized.poll.topic): self.topic_arn,
            f"{synthesized.logical_id(synthesized.network.security_group)}.GroupId": "sg-0123456789abcdef0",
        }
        self.physical = physical_values(template, **overrides)
        self.definition = state_machine_definition(template, synthesized.logical_id(synthesized.poll.state_machine), self.physical)
        self.arn = self.sfn.create_state_machine(
            name="churn-poll", definition=json.dumps(self.definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn"
        )["stateMachineArn"]
        self.calls = calls
        self.create_requests = create_requests

    def run(self, payload: Any) -> dict:
        return run_execution(self.sfn, self.arn, payload, timeout=60)

    def jobs(self) -> list[str]:
        return [j["TrainingJobName"] for j in self.sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]]

    def notifications(self) -> list[dict[str, str]]:
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][REGION].topics[self.topic_arn]
        return [{"message": m[1], "subject": m[2]} for m in topic.sent_notifications]

    def packages(self) -> list[dict]:
        return self.sm.list_model_packages(ModelPackageGroupName=GROUP_NAME)["ModelPackageSummaryList"]


@pytest.fixture(scope="module")
def job_outcomes() -> list[tuple[str, str]]:
    """(status, failure reason) for the next training jobs moto creates; empty means Completed."""
    return []


@pytest.fixture(scope="module")
def account(synthesized, job_outcomes):
    from botocore.validate import ParamValidator
    from moto import mock_aws
    from moto.sagemaker.models import FakeTrainingJob
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_unsupported as unsupported,
    )

    create_requests: list[dict[str, Any]] = []
    original_init = FakeTrainingJob.__init__
    original_normalise = unsupported.StateTaskServiceUnsupported._normalise_parameters

    def init(self, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if job_outcomes:
            status, reason = job_outcomes.pop(0)
            self.training_job_status = self.secondary_status = status
            self.failure_reason = reason

    def record_and_validate(self, parameters, boto_service_name=None, service_action_name=None):  # noqa: ANN001
        # moto forwards optimized SageMaker requests with validation off; validate them as AWS would.
        import boto3

        client = boto3.client("sagemaker", region_name=REGION)
        operation = client.meta.method_to_api_mapping[self._get_boto_service_action()]
        report = ParamValidator().validate(parameters, client.meta.service_model.operation_model(operation).input_shape)
        if report.has_errors():
            raise ValueError(f"invalid {operation} request: {report.generate_report()}")
        create_requests.append(json.loads(json.dumps(parameters)))

    FakeTrainingJob.__init__ = init
    unsupported.StateTaskServiceUnsupported._normalise_parameters = record_and_validate
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
            with aws_sdk_integrations_as_in_aws() as calls:
                yield Account(synthesized, calls, create_requests)
    finally:
        FakeTrainingJob.__init__ = original_init
        unsupported.StateTaskServiceUnsupported._normalise_parameters = original_normalise


def _calls(account: Account, action: str, since: int) -> list[dict]:
    return [c["parameters"] for c in account.calls[since:] if c["action"] == action]


def test_a_run_trains_with_its_overrides_writes_a_report_and_registers_a_pending_package(account):
    calls, creates, sent = len(account.calls), len(account.create_requests), len(account.notifications())
    overrides = {"hyperparameters": {"l2": "0.5"}, "instanceType": "ml.m5.2xlarge", "instanceCount": 2, "trigger": {"by": "alice"}}

    result = account.run(overrides)

    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    [request] = account.create_requests[creates:]
    assert JOB_NAME.fullmatch(request["TrainingJobName"]).group(1) == "1"
    assert output["trainingJobName"] == request["TrainingJobName"]
    assert request["HyperParameters"] == {**HYPERPARAMETERS, "l2": "0.5"}
    assert request["ResourceConfig"]["InstanceType"] == "ml.m5.2xlarge"
    assert request["ResourceConfig"]["InstanceCount"] == 2
    assert request["VpcConfig"]["SecurityGroupIds"] == ["sg-0123456789abcdef0"]
    assert request["EnableNetworkIsolation"] is True and request["EnableManagedSpotTraining"] is True
    run_id = request["TrainingJobName"].split("-")[-2]
    assert request["CheckpointConfig"]["S3Uri"] == f"s3://{BUCKET}/checkpoints/churn/{run_id}/"

    # The report next to the model artifact records what the package metadata cannot hold.
    [put] = _calls(account, "putObject", calls)
    report = json.loads(account.s3.get_object(Bucket=BUCKET, Key=put["Key"])["Body"].read())
    assert put["Key"] == f"models/churn/{request['TrainingJobName']}/training-report.json"
    assert report["hyperparameters"] == {**HYPERPARAMETERS, "l2": "0.5"}
    assert report["trigger"] == {"by": "alice"}
    assert report["instanceType"] == "ml.m5.2xlarge" and report["instanceCount"] == 2
    assert report["finalMetrics"] == [{"name": "train:progress", "value": 100.0}]  # what moto reports
    assert report["executionArn"] == result["executionArn"]

    package = account.sm.describe_model_package(ModelPackageName=output["modelPackageArn"])
    assert package["ModelPackageGroupName"] == GROUP_NAME
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    [container] = package["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == report["modelArtifact"] == output["modelArtifact"]
    assert container["Image"] == report["trainingImage"]
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == f"s3://{BUCKET}/{put['Key']}"
    metadata = package["CustomerMetadataProperties"]
    assert metadata["sagemaker-tiers:execution-arn"] == result["executionArn"]
    assert metadata["sagemaker-tiers:training-job-name"] == request["TrainingJobName"]
    assert metadata["sagemaker-tiers:instance-count"] == "2"
    assert len(account.notifications()) == sent


def test_an_empty_input_runs_the_defaults(account):
    creates = len(account.create_requests)

    result = account.run({})

    assert result["status"] == "SUCCEEDED", result
    [request] = account.create_requests[creates:]
    assert request["HyperParameters"] == HYPERPARAMETERS
    assert request["ResourceConfig"]["InstanceType"] == ALLOWED_TYPES[0]
    assert request["ResourceConfig"]["InstanceCount"] == 1
    # moto's job is Completed at once: no polling wait was needed.
    assert "WaitForTrainingJob" not in entered_states(account.sfn, result["executionArn"])


@pytest.mark.parametrize(
    ("payload", "cause"),
    [
        ({"hyperparameters": {"epochs": "3"}}, "overriding only the declared names"),
        ({"hyperparameters": {"l2": 0.5}}, "string values"),
        ({"hyperparameters": "l2=0.5"}, "must be an object"),
        ({"hyperparameters": ["l2"]}, "must be an object"),
        ({"instanceType": "ml.p5.48xlarge"}, "instanceType must be one of"),
        ({"instanceType": 5}, "instanceType must be one of"),
        ({"instanceCount": 0}, "instanceCount must be a whole number from 1 to 4"),
        ({"instanceCount": 5}, "from 1 to 4"),
        ({"instanceCount": 2.5}, "from 1 to 4"),
        ({"instanceCount": "2"}, "from 1 to 4"),
        ({"instancetype": "ml.m5.2xlarge"}, "may only have the keys"),
    ],
)
def test_invalid_input_fails_before_any_job_starts_and_notifies(account, payload, cause):
    jobs = account.jobs()
    sent = len(account.notifications())

    result = account.run(payload)

    assert result["status"] == "FAILED"
    assert result["error"] == "TrainingPipeline.InvalidInput"
    assert cause in result["cause"]
    assert account.jobs() == jobs
    [notification] = account.notifications()[sent:]
    assert result["executionArn"] in notification["message"]
    assert "TrainingPipeline.InvalidInput" in notification["message"]


def test_a_failed_job_is_reported_and_registers_nothing(account, job_outcomes):
    packages = len(account.packages())
    sent = len(account.notifications())
    job_outcomes.append(("Failed", "AlgorithmError: label column 'churn' not in train.csv"))

    result = account.run({})

    assert result["status"] == "FAILED"
    assert result["error"] == "SageMaker.TrainingJobFailed"
    assert "AlgorithmError" in result["cause"]
    assert len(account.packages()) == packages
    [notification] = account.notifications()[sent:]
    assert "AlgorithmError" in notification["message"]
    assert "WaitBeforeCapacityRetry" not in entered_states(account.sfn, result["executionArn"])


def test_a_capacity_error_is_retried_as_a_new_job_that_resumes_from_the_run_checkpoints(account, job_outcomes):
    creates = len(account.create_requests)
    job_outcomes.append(("Failed", "CapacityError: Unable to provision requested ML compute capacity."))

    result = account.run({})

    assert result["status"] == "SUCCEEDED", result
    first, second = account.create_requests[creates:]
    assert [JOB_NAME.fullmatch(r["TrainingJobName"]).group(1) for r in (first, second)] == ["1", "2"]
    assert first["CheckpointConfig"] == second["CheckpointConfig"]
    states = entered_states(account.sfn, result["executionArn"])
    assert states.count("CreateTrainingJob") == 2 and "WaitBeforeCapacityRetry" in states
    assert json.loads(result["output"])["trainingJobName"] == second["TrainingJobName"]


def test_capacity_retries_are_bounded(account, job_outcomes):
    creates = len(account.create_requests)
    reason = "CapacityError: Unable to provision requested ML compute capacity."
    job_outcomes.extend([("Failed", reason)] * 3)  # capacity_retries=2: three attempts in all

    result = account.run({})

    assert result["status"] == "FAILED"
    assert result["error"] == "SageMaker.TrainingJobFailed"
    assert len(account.create_requests[creates:]) == 3
    assert job_outcomes == []


def test_a_stopped_job_is_reported_without_a_capacity_retry(account, job_outcomes):
    creates = len(account.create_requests)
    job_outcomes.append(("Stopped", None))

    result = account.run({})

    assert result["status"] == "FAILED"
    assert result["error"] == "SageMaker.TrainingJobStopped"
    assert len(account.create_requests[creates:]) == 1
    assert "RetryOnCapacityError" not in entered_states(account.sfn, result["executionArn"])


@pytest.mark.parametrize(
    ("hyperparameters", "instance_type", "instance_count"),
    [
        ({"l2": "0.5"}, None, None),
        ({"epochs": "3"}, None, None),
        ({}, "ml.p5.48xlarge", None),
        ({}, None, 0),
        ({}, None, 5),
        ({}, ALLOWED_TYPES[-1], 2),
    ],
)
def test_the_operator_cli_refuses_exactly_what_the_state_machine_refuses(account, synthesized, hyperparameters, instance_type, instance_count):
    # `sagemaker-tiers train start` checks overrides against run_input_rules() (the stack's RunInputRules output);
    # the state machine's own ValidateInput states are the reference.
    from sagemaker_tiers.cli import errors, runs

    rules = json.loads(json.dumps(synthesized.poll.run_input_rules()))
    assert rules["keys"] == list(RUN_INPUT_KEYS)
    try:
        payload = runs.training_input(rules, hyperparameters, instance_type, instance_count, None)
        cli_accepts = True
    except errors.CliError:
        payload = {k: v for k, v in {"hyperparameters": hyperparameters or None, "instanceType": instance_type,
                                     "instanceCount": instance_count}.items() if v is not None}
        cli_accepts = False
    result = account.run(payload)
    state_machine_refuses = result["status"] == "FAILED" and result.get("error") == "TrainingPipeline.InvalidInput"
    assert cli_accepts is not state_machine_refuses, (payload, result.get("cause"))
