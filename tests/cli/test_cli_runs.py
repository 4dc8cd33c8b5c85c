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


def _lines(stdout: str) -> list[dict]:
    """``follow --output json``: one JSON object per line."""
    return [json.loads(line) for line in stdout.splitlines()]


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
    first, final = _lines(result.stdout)
    assert first["status"] == "RUNNING"
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
    assert followed.exit_code == 1 and [line["status"] for line in _lines(followed.stdout)] == ["ABORTED"]


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


# ------------------------------------------------------------------------------------ metrics as they appear

METRIC_DEFINITIONS = [{"Name": "train:loss", "Regex": "loss=(\\S+)"}, {"Name": "validation:auc", "Regex": "auc=(\\S+)"}]


def _running_training_job(deployed, name: str, started: dt.datetime):
    """A training job in moto as SageMaker shows it while it trains: InProgress, no final metrics yet."""
    from moto.sagemaker.models import sagemaker_backends

    _training_job(deployed, name)
    job = sagemaker_backends[BACKEND[0]][BACKEND[1]].training_jobs[name]
    job.training_job_status, job.secondary_status = "InProgress", "Training"
    job.algorithm_specification["MetricDefinitions"] = METRIC_DEFINITIONS
    job.final_metric_data_list = []
    job.creation_time = job.training_start_time = started
    return job


def _publish(deployed, job: str, name: str, value: float, at: dt.datetime, host: str = "algo-1") -> None:
    """A datapoint as SageMaker publishes a training job's metric while it runs
    (https://docs.aws.amazon.com/sagemaker/latest/dg/training-metrics.html)."""
    deployed.client("cloudwatch").put_metric_data(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricData=[{"MetricName": name, "Dimensions": [{"Name": "Host", "Value": f"{job}/{host}"}], "Timestamp": at, "Value": value}],
    )


def _following(deployed, tier: str, name: str, job_key: str, job: str):
    sfn = deployed.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=deployed.outputs[tier]["StateMachineArn"], name=name)["executionArn"]
    execution = _backend().describe_execution(arn)
    step = "WaitForTrainingJob" if job_key == "TrainingJobName" else "WaitForAutoMLJob"
    history = _history(step, job)
    if job_key != "TrainingJobName":
        details = history[1]["taskScheduledEventDetails"]
        details["resource"], details["parameters"] = "createAutoMLJobV2", json.dumps({job_key: job})
    execution.get_execution_history = lambda role: history
    return arn, execution


def _end(execution, status: str) -> None:
    execution.status = status
    execution.stop_date = execution.start_date


def test_train_follow_shows_each_metric_as_sagemaker_publishes_it_then_the_final_values(deployed, run, monkeypatch) -> None:
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=30)
    job = _running_training_job(deployed, "churn-live-1", started)
    arn, execution = _following(deployed, "training", "live-1", "TrainingJobName", "churn-live-1")
    # Another instance's and another job's datapoints are not this job's algo-1 metrics.
    _publish(deployed, "churn-live-1", "train:loss", 99.0, started + dt.timedelta(minutes=1), host="algo-2")
    _publish(deployed, "churn-other", "train:loss", 98.0, started + dt.timedelta(minutes=1))
    script = [
        lambda: None,  # nothing new: no line
        lambda: _publish(deployed, "churn-live-1", "train:loss", 0.9, started + dt.timedelta(minutes=2)),
        lambda: (_publish(deployed, "churn-live-1", "train:loss", 0.5, started + dt.timedelta(minutes=3)),
                 _publish(deployed, "churn-live-1", "validation:auc", 0.71, started + dt.timedelta(minutes=3))),
        lambda: _publish(deployed, "churn-live-1", "validation:auc", 0.78, started + dt.timedelta(minutes=4)),
        lambda: (setattr(job, "training_job_status", "Completed"), setattr(job, "secondary_status", "Completed"),
                 setattr(job, "final_metric_data_list", [{"MetricName": "train:loss", "Value": 0.42, "Timestamp": started},
                                                         {"MetricName": "validation:auc", "Value": 0.8, "Timestamp": started}]),
                 _end(execution, "SUCCEEDED")),
    ]
    monkeypatch.setattr(runs.time, "sleep", lambda seconds: script.pop(0)())

    result = run("--output", "json", "train", "follow", "live-1", "--interval", "0")

    assert result.exit_code == 0, result.output
    assert script == []
    lines = _lines(result.stdout)
    assert [(line["jobStatus"], line["metrics"]) for line in lines] == [
        ("InProgress", {}),
        ("InProgress", {"train:loss": 0.9}),
        ("InProgress", {"train:loss": 0.5, "validation:auc": 0.71}),
        ("InProgress", {"train:loss": 0.5, "validation:auc": 0.78}),
        ("Completed", {"train:loss": 0.42, "validation:auc": 0.8}),
    ]
    assert lines[2]["metricTimes"]["validation:auc"] == (started + dt.timedelta(minutes=3)).isoformat(timespec="seconds")
    assert lines[-1]["metricTimes"] == {"train:loss": "final", "validation:auc": "final"}
    assert [line["status"] for line in lines] == ["RUNNING"] * 4 + ["SUCCEEDED"]


def test_train_follow_live_display_shows_the_published_metrics_and_a_failed_run_exits_1(deployed, run, monkeypatch) -> None:
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=30)
    job = _running_training_job(deployed, "churn-live-2", started)
    _publish(deployed, "churn-live-2", "validation:auc", 0.6543, started + dt.timedelta(minutes=2))
    arn, execution = _following(deployed, "training", "live-2", "TrainingJobName", "churn-live-2")

    def fail(seconds: float) -> None:
        job.training_job_status, job.secondary_status = "Failed", "Failed"
        execution.error, execution.cause = "TrainingPipeline.TrainingFailed", "Training job churn-live-2 failed: OOM"
        _end(execution, "FAILED")

    monkeypatch.setattr(runs.time, "sleep", fail)
    result = run("train", "follow", "live-2", "--interval", "0")
    assert result.exit_code == 1
    assert "validation:auc" in result.stdout and "0.6543" in result.stdout
    assert "TrainingPipeline.TrainingFailed" in result.stdout and "Failed" in result.stdout


def _automl_job(deployed, name: str) -> None:
    deployed.client("sagemaker").create_auto_ml_job_v2(
        AutoMLJobName=name,
        AutoMLJobInputDataConfig=[{"ChannelType": "training", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/datasets/churn/"}}}],
        OutputDataConfig={"S3OutputPath": "s3://b/autopilot/"},
        AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "churn", "ProblemType": "BinaryClassification",
                                                       "CompletionCriteria": {"MaxCandidates": 10}}},
        RoleArn="arn:aws:iam::123456789012:role/automl",
    )


def test_autopilot_follow_shows_candidates_as_they_complete_with_the_best_so_far(deployed, run, monkeypatch) -> None:
    from tests.autopilot.autopilot_fakes import automl_jobs, candidate, complete_job, serve_candidates

    store = serve_candidates(monkeypatch)
    _automl_job(deployed, "ap-live-1")
    arn, execution = _following(deployed, "autopilot", "ap-live-1", "AutoMLJobName", "ap-live-1")
    t0 = dt.datetime(2026, 11, 30, 12, tzinfo=dt.timezone.utc)

    def finished(name: str, value: float | None, minute: int, status: str = "Completed") -> dict:
        c = candidate(name, value, job="ap-live-1", status=status)
        c["EndTime"] = t0 + dt.timedelta(minutes=minute)
        return c

    running = candidate("c-running", None, job="ap-live-1", status="InProgress")
    store.by_job["ap-live-1"] = [running]
    script = [
        lambda: store.by_job["ap-live-1"].insert(0, finished("c-1", 0.61, 1)),
        lambda: store.by_job["ap-live-1"].insert(0, finished("c-2", 0.83, 2)),
        lambda: store.by_job["ap-live-1"].insert(0, finished("c-3", None, 3, status="Failed")),
        lambda: store.by_job["ap-live-1"].insert(0, finished("c-4", 0.77, 4)),
        lambda: (complete_job(automl_jobs()["ap-live-1"], "s3://b/autopilot/", best=finished("c-2", 0.83, 2)),
                 _end(execution, "SUCCEEDED")),
    ]
    monkeypatch.setattr(runs.time, "sleep", lambda seconds: script.pop(0)())

    result = run("--output", "json", "autopilot", "follow", "ap-live-1", "--interval", "0")

    assert result.exit_code == 0, result.output
    lines = _lines(result.stdout)
    assert [[c["name"] for c in line["candidates"]] for line in lines] == [
        [], ["c-1"], ["c-1", "c-2"], ["c-1", "c-2", "c-3"], ["c-1", "c-2", "c-3", "c-4"], ["c-1", "c-2", "c-3", "c-4"],
    ]
    assert [(line["bestCandidate"] or {}).get("name") for line in lines] == [None, "c-1", "c-2", "c-2", "c-2", "c-2"]
    assert lines[3]["candidates"][2] == {"name": "c-3", "status": "Failed", "metric": None, "value": None, "direction": None,
                                         "endTime": "2026-11-30T12:03:00+00:00"}
    assert lines[1]["metrics"] == {"F1": 0.61} and lines[-1]["metrics"] == {"F1": 0.83}
    assert lines[-1]["metricTimes"] == {"F1": "final"} and lines[-1]["jobStatus"] == "Completed"
    assert {r["AutoMLJobName"] for r in store.requests} == {"ap-live-1"}


def test_autopilot_follow_best_so_far_follows_the_metric_direction(deployed, run, monkeypatch) -> None:
    from tests.autopilot.autopilot_fakes import candidate, serve_candidates

    store = serve_candidates(monkeypatch)
    _automl_job(deployed, "ap-live-2")
    arn, execution = _following(deployed, "autopilot", "ap-live-2", "AutoMLJobName", "ap-live-2")
    store.by_job["ap-live-2"] = [candidate(n, v, metric="MSE", direction="Minimize", job="ap-live-2") for n, v in (("c-a", 4.0), ("c-b", 1.5), ("c-c", 2.5))]
    _end(execution, "FAILED")
    result = run("autopilot", "follow", "ap-live-2")
    assert result.exit_code == 1
    assert "3 finished" in result.stdout
    best_line = next(line for line in result.stdout.splitlines() if "Best so far" in line)
    assert "c-b" in best_line and "MSE = 1.5" in best_line


# ------------------------------------------------------------------------------------ leaderboard as an image

SVG = "{http://www.w3.org/2000/svg}"


def _stored_leaderboard(deployed, document: dict, name: str) -> None:
    s3 = deployed.client("s3")
    s3.create_bucket(Bucket="ml-bucket")
    key = f"autopilot/{name}/leaderboard/leaderboard.json"
    s3.put_object(Bucket="ml-bucket", Key=key, Body=json.dumps(document).encode())
    _succeeded_autopilot_run(deployed, name, {"leaderboard": {"Json": f"s3://ml-bucket/{key}"}})


def _bars(path) -> list[dict]:
    """The chart's bars in document order: rank, candidate, label, bar width, value text (parsed as XML)."""
    from xml.etree import ElementTree

    root = ElementTree.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    bars = []
    for group in root.iter(f"{SVG}g"):
        label, value = [t.text for t in group.findall(f"{SVG}text")]
        (rect,) = group.findall(f"{SVG}rect")
        bars.append({"rank": group.get("data-rank"), "candidate": group.get("data-candidate"), "label": label,
                     "width": float(rect.get("width")), "x": float(rect.get("x")), "value": value})
    return bars


def test_leaderboard_image_is_an_svg_bar_chart_one_bar_per_candidate_in_rank_order(deployed, run, tmp_path) -> None:
    _stored_leaderboard(deployed, _leaderboard_document(), "ap-img")
    image = tmp_path / "board.svg"
    result = run("--output", "json", "autopilot", "leaderboard", "ap-img", "--image", str(image))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["BestCandidate"] == "c-best"  # stdout stays the JSON document
    bars = _bars(image)
    assert [(b["rank"], b["candidate"]) for b in bars] == [("1", "c-best"), ("2", "c-mid"), ("3", "c-low"), ("", "c-failed")]
    assert [b["value"] for b in bars] == ["0.83", "0.77", "0.61", "no value"]
    assert [b["label"] for b in bars] == ["1. c-best", "2. c-mid", "3. c-low", "c-failed (not ranked)"]
    widths = [b["width"] for b in bars]
    assert widths[0] > widths[1] > widths[2] > 0 and widths[3] == 0
    assert widths[1] / widths[0] == pytest.approx(0.77 / 0.83, rel=1e-3)  # proportional, from zero
    top = run("autopilot", "leaderboard", "ap-img", "--top", "2", "--image", str(image))
    assert top.exit_code == 0 and [b["candidate"] for b in _bars(image)] == ["c-best", "c-mid"]


def test_leaderboard_image_escapes_labels(deployed, run, tmp_path) -> None:
    document = _leaderboard_document()
    document["Candidates"][0]["candidate_name"] = 'c-<best>&"1"'
    document["BestCandidate"] = 'c-<best>&"1"'
    document["ObjectiveMetric"]["MetricName"] = "F1<macro>&"
    document["AutoMLJobName"] = "job<&>"
    _stored_leaderboard(deployed, document, "ap-esc")
    image = tmp_path / "board.svg"
    assert run("autopilot", "leaderboard", "ap-esc", "--image", str(image)).exit_code == 0
    bars = _bars(image)  # parses: nothing unescaped broke the XML
    assert bars[0]["candidate"] == 'c-<best>&"1"' and bars[0]["label"] == '1. c-<best>&"1"'
    text = image.read_text()
    assert "c-&lt;best&gt;&amp;" in text and "F1&lt;macro&gt;&amp;" in text and "job&lt;&amp;&gt;" in text


def test_leaderboard_image_negative_values_extend_left_of_zero() -> None:
    from xml.etree import ElementTree

    from sagemaker_tiers.cli import leaderboard

    rows = [{"rank": 1, "candidate_name": "a", "objective_value": 0.5}, {"rank": 2, "candidate_name": "b", "objective_value": -0.25}]
    root = ElementTree.fromstring(leaderboard.svg_chart(rows, "R2", "Maximize", "a", "t"))
    (a, b) = [g.find(f"{SVG}rect") for g in root.iter(f"{SVG}g")]
    zero = float(root.find(f"{SVG}line").get("x1"))
    assert float(a.get("x")) == pytest.approx(zero) and float(b.get("x")) + float(b.get("width")) == pytest.approx(zero)
    assert float(a.get("width")) == pytest.approx(2 * float(b.get("width")))


def test_leaderboard_image_must_be_svg_and_writable(deployed, run, tmp_path) -> None:
    _stored_leaderboard(deployed, _leaderboard_document(), "ap-png")
    png = run("autopilot", "leaderboard", "ap-png", "--image", str(tmp_path / "board.png"))
    assert png.exit_code == 2 and "name a .svg file" in png.output
    missing_dir = run("autopilot", "leaderboard", "ap-png", "--image", str(tmp_path / "absent" / "board.svg"))
    assert missing_dir.exit_code == 1 and "CannotWriteImage" in missing_dir.stderr and "Traceback" not in missing_dir.output
