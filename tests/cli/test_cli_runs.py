"""``train start|follow`` and ``autopilot start|follow`` against moto's Step Functions and SageMaker."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from moto.stepfunctions.models import stepfunctions_backends

from sagemaker_tiers.cli import runs
from tests.conftest import import_handlers_from

BACKEND = ("123456789012", "us-east-1")


def _backend():
    return stepfunctions_backends[BACKEND[0]][BACKEND[1]]


def _executions(deployed, tier: str) -> list[dict]:
    sfn = deployed.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=deployed.outputs[tier]["StateMachineArn"])["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]


def test_train_start_sends_the_validated_overrides(deployed, run) -> None:
    result = run("--output", "json", "train", "start", "--hyperparameter", "l2=0.5", "--instance-type", "ml.m5d.xlarge",
                 "--instance-count", "2", "--name", "nightly-1")
    assert result.exit_code == 0, result.output
    started = json.loads(result.stdout)
    [execution] = _executions(deployed, "training")
    assert execution["executionArn"] == started["executionArn"] and execution["name"] == "nightly-1"
    assert json.loads(execution["input"]) == {"hyperparameters": {"l2": "0.5"}, "instanceType": "ml.m5d.xlarge", "instanceCount": 2}


def test_train_start_without_overrides_runs_the_defaults(deployed, run) -> None:
    result = run("train", "start")
    assert result.exit_code == 0, result.output
    [execution] = _executions(deployed, "training")
    assert result.stdout.strip() == execution["executionArn"]
    assert json.loads(execution["input"]) == {}


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--hyperparameter", "depth=3"], "hyperparameter 'depth' is not declared"),
        (["--instance-type", "ml.p5.48xlarge"], "instance type must be one of"),
        (["--instance-count", "0"], "instance count must be a whole number from 1 to 4, got 0"),
        (["--instance-count", "5"], "from 1 to 4, got 5"),
        (["--name", "has space"], "run name must be 1-80 characters"),
    ],
)
def test_train_start_refuses_what_the_state_machine_would_reject(deployed, run, args, text) -> None:
    result = run("train", "start", *args)
    assert result.exit_code == 1
    assert text in result.stderr and "Traceback" not in result.output
    assert _executions(deployed, "training") == []  # nothing reached Step Functions


def test_malformed_hyperparameter_is_a_usage_error(deployed, run) -> None:
    result = run("train", "start", "--hyperparameter", "l2")
    assert result.exit_code == 2 and "NAME=VALUE" in result.output
    assert _executions(deployed, "training") == []


def _training_job(deployed, name: str) -> None:
    deployed.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1", "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/train",
        OutputDataConfig={"S3OutputPath": "s3://b/models/"},
        ResourceConfig={"InstanceType": "ml.m5d.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )


def _history(step: str, job: str | None) -> list[dict]:
    t = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
    events = [{"timestamp": t, "type": "ExecutionStarted", "id": 1, "previousEventId": 0,
               "executionStartedEventDetails": {"input": "{}", "roleArn": "arn:aws:iam::123456789012:role/sfn"}}]
    if job:
        events.append({"timestamp": t, "type": "TaskScheduled", "id": 2, "previousEventId": 1,
                       "taskScheduledEventDetails": {"resourceType": "sagemaker", "resource": "createTrainingJob", "region": "us-east-1",
                                                     "parameters": json.dumps({"TrainingJobName": job})}})
    events.append({"timestamp": t, "type": "TaskStateEntered", "id": 3, "previousEventId": 2,
                   "stateEnteredEventDetails": {"name": step, "input": "{}"}})
    return events


def test_train_follow_shows_step_job_and_metrics_until_it_succeeds(deployed, run, monkeypatch) -> None:
    _training_job(deployed, "churn-abc-1")
    sfn = deployed.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=deployed.outputs["training"]["StateMachineArn"], name="run-1")["executionArn"]
    execution = _backend().describe_execution(arn)
    execution.get_execution_history = lambda role: _history("WaitForTrainingJob", "churn-abc-1")
    looks = []

    def sleep(seconds: float) -> None:  # the run ends while the CLI waits
        looks.append(seconds)
        execution.status = "SUCCEEDED"
        execution.stop_date = execution.start_date

    monkeypatch.setattr(runs.time, "sleep", sleep)
    result = run("--output", "json", "train", "follow", "run-1", "--interval", "7")
    assert result.exit_code == 0, result.output
    final = json.loads(result.stdout)
    assert looks == [7]
    assert final["status"] == "SUCCEEDED" and final["step"] == "WaitForTrainingJob" and final["job"] == "churn-abc-1"
    assert final["jobStatus"] == "Completed"  # moto creates training jobs completed

    table = run("train", "follow", arn)
    assert table.exit_code == 0
    assert "WaitForTrainingJob" in table.stdout and "churn-abc-1" in table.stdout and "SUCCEEDED" in table.stdout


def test_follow_exits_1_when_the_run_failed(deployed, run) -> None:
    sfn = deployed.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=deployed.outputs["training"]["StateMachineArn"], name="bad-run")["executionArn"]
    execution = _backend().describe_execution(arn)
    execution.get_execution_history = lambda role: _history("CheckRunInput", None)
    execution.status, execution.error, execution.cause = "FAILED", "TrainingPipeline.InvalidInput", "instanceType must be one of ml.m5d.xlarge"
    execution.stop_date = execution.start_date
    result = run("train", "follow", "bad-run")
    assert result.exit_code == 1
    assert "TrainingPipeline.InvalidInput" in result.stdout and "CheckRunInput" in result.stdout


def test_autopilot_start_and_follow(deployed, run, monkeypatch) -> None:
    started = run("--output", "json", "autopilot", "start")
    assert started.exit_code == 0, started.output
    arn = json.loads(started.stdout)["executionArn"]
    [execution] = _executions(deployed, "autopilot")
    assert execution["executionArn"] == arn and json.loads(execution["input"]) == {}
    execution = _backend().describe_execution(arn)
    execution.status, execution.stop_date = "ABORTED", execution.start_date
    followed = run("--output", "json", "autopilot", "follow", arn, "--interval", "0")
    assert followed.exit_code == 1 and json.loads(followed.stdout)["status"] == "ABORTED"


def test_follow_of_an_unknown_run_is_a_clear_error(deployed, run) -> None:
    result = run("train", "follow", "never-started")
    assert result.exit_code == 1 and "ExecutionDoesNotExist" in result.stderr


def test_train_without_a_training_stack_is_a_clear_error(deployed, run) -> None:
    deployed.client("cloudformation").delete_stack(StackName="sagemaker-tiers-autopilot")
    result = run("autopilot", "start")
    assert result.exit_code == 1 and "stack sagemaker-tiers-autopilot is not deployed" in result.stderr


def _leaderboard_document() -> dict:
    # The document the run's leaderboard function writes, ranked by the handler's own code.
    import_handlers_from("autopilot", "autopilot_handlers")
    import autopilot_leaderboard

    candidates = [
        {"CandidateName": name, "CandidateStatus": "Completed",
         "FinalAutoMLJobObjectiveMetric": {"MetricName": "F1", "Value": value} if value is not None else {}}
        for name, value in (("c-low", 0.61), ("c-best", 0.83), ("c-mid", 0.77), ("c-failed", None))
    ]
    return {"AutoMLJobName": "ap-job-1", "ObjectiveMetric": {"MetricName": "F1", "Direction": "Maximize"},
            "BestCandidate": "c-best", "Candidates": autopilot_leaderboard.rank(candidates, "F1")}


def _succeeded_autopilot_run(deployed, name: str, output: dict | None) -> str:
    sfn = deployed.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=deployed.outputs["autopilot"]["StateMachineArn"], name=name)["executionArn"]
    execution = _backend().describe_execution(arn)
    execution.status, execution.stop_date = "SUCCEEDED", execution.start_date
    execution.output = json.dumps(output) if output is not None else None
    return arn


def test_autopilot_leaderboard_ranks_candidates_with_bars(deployed, run) -> None:
    s3 = deployed.client("s3")
    s3.create_bucket(Bucket="ml-bucket")
    key = "autopilot/ap-job-1/leaderboard/leaderboard.json"
    s3.put_object(Bucket="ml-bucket", Key=key, Body=json.dumps(_leaderboard_document()).encode())
    _succeeded_autopilot_run(deployed, "ap-1", {"leaderboard": {"Json": f"s3://ml-bucket/{key}"}})

    data = json.loads(run("--output", "json", "autopilot", "leaderboard", "ap-1").stdout)
    assert [(r["rank"], r["candidate_name"]) for r in data["Candidates"]] == [(1, "c-best"), (2, "c-mid"), (3, "c-low"), (None, "c-failed")]
    assert data["BestCandidate"] == "c-best"

    table = run("autopilot", "leaderboard", "ap-1", "--top", "3")
    assert table.exit_code == 0, table.output
    lines = {name: line for line in table.stdout.splitlines() for name in ("c-best", "c-mid", "c-low", "c-failed") if name in line}
    assert set(lines) == {"c-best", "c-mid", "c-low"}  # --top 3
    assert lines["c-best"].count("█") > lines["c-mid"].count("█") > lines["c-low"].count("█") > 0


def test_leaderboard_bars_scale_to_the_largest_value() -> None:
    from sagemaker_tiers.cli import leaderboard

    full, half, none = leaderboard.bars([1.0, 0.5, None], width=10)
    assert full == "█" * 10 and half == "█" * 5 and none == ""


def test_leaderboard_of_a_run_without_one_is_a_clear_error(deployed, run) -> None:
    _succeeded_autopilot_run(deployed, "ap-2", {"modelPackageArn": None})
    result = run("autopilot", "leaderboard", "ap-2")
    assert result.exit_code == 1 and "has no leaderboard in its output" in result.stderr
    sfn = deployed.client("stepfunctions")
    sfn.start_execution(stateMachineArn=deployed.outputs["autopilot"]["StateMachineArn"], name="ap-3")
    running = run("--output", "json", "autopilot", "leaderboard", "ap-3")
    assert running.exit_code == 1 and json.loads(running.stderr)["error"]["code"] == "NoLeaderboard"
