"""Start and follow runs of the training and Autopilot state machines (``train start|follow``, ``autopilot ...``).

A training run's overrides are checked here against the rules the training stack publishes in its
``RunInputRules`` output (``TrainingPipeline.run_input_rules``: the same keys, declared hyperparameter names,
instance types and maximum count that the state machine's ``ValidateInput`` states check), so bad input never
starts an execution. Following polls DescribeExecution, the execution's history (the state it is in, the SageMaker
job it started) and the job until the execution ends, with the metrics as they appear:

* a training job's metrics (its ``MetricDefinitions``) as SageMaker publishes them while the job runs: CloudWatch
  namespace ``/aws/sagemaker/TrainingJobs``, dimension ``Host`` = ``<job>/algo-1``
  (https://docs.aws.amazon.com/sagemaker/latest/dg/training-metrics.html); DescribeTrainingJob carries only the
  final values (``FinalMetricDataList``, once the job ends), which replace them then;
* an Autopilot job's candidates as they complete (ListCandidatesForAutoMLJob), each with its objective metric,
  and the best so far by the metric's own direction (``FinalAutoMLJobObjectiveMetric.Type``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from sagemaker_tiers.cli.discovery import Deployment
from sagemaker_tiers.cli.errors import CliError

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
#: Step Functions execution names: 1-80 characters, no whitespace, brackets, wildcards or control characters
#: (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
_EXECUTION_NAME = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")


def run_input_rules(deployment: Deployment) -> dict[str, Any]:
    raw = deployment.require("training", "RunInputRules")
    try:
        rules: dict[str, Any] = json.loads(raw)
    except ValueError:
        raise CliError("MissingOutput", "the training stack's RunInputRules output is not JSON: redeploy it") from None
    return rules


def training_input(rules: dict[str, Any], hyperparameters: dict[str, str], instance_type: str | None,
                   instance_count: int | None, started_by: str | None) -> dict[str, Any]:
    """The run input for these overrides; CliError naming the override, the value and what is allowed."""
    run: dict[str, Any] = {}
    declared = rules["hyperparameters"]
    for name, value in hyperparameters.items():
        if name not in declared:
            raise CliError("InvalidInput", f"hyperparameter {name!r} is not declared by the pipeline; it may override {declared or '(none)'}")
        if not isinstance(value, str):
            raise CliError("InvalidInput", f"hyperparameter {name!r} must be a string, got {value!r}")
    if hyperparameters:
        run["hyperparameters"] = dict(hyperparameters)
    if instance_type is not None:
        if instance_type not in rules["instanceTypes"]:
            raise CliError("InvalidInput", f"instance type must be one of {rules['instanceTypes']}, got {instance_type!r}")
        run["instanceType"] = instance_type
    if instance_count is not None:
        maximum = rules["maxInstanceCount"]
        if isinstance(instance_count, bool) or not isinstance(instance_count, int) or not 1 <= instance_count <= maximum:
            raise CliError("InvalidInput", f"instance count must be a whole number from 1 to {maximum}, got {instance_count!r}")
        run["instanceCount"] = instance_count
    if started_by:
        run["trigger"] = {"source": "sagemaker-tiers-cli", "by": started_by}
    unknown = set(run) - set(rules["keys"])
    if unknown:  # a pipeline deployed with fewer keys than this CLI knows
        raise CliError("InvalidInput", f"the deployed pipeline accepts only the keys {rules['keys']}, not {sorted(unknown)}")
    return run


def start(session: Any, state_machine_arn: str, run_input: dict[str, Any], name: str | None) -> str:
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "input": json.dumps(run_input)}
    if name is not None:
        if not _EXECUTION_NAME.fullmatch(name):
            raise CliError("InvalidInput", f"run name must be 1-80 characters without spaces, brackets, wildcards or punctuation such as :/,;, got {name!r}")
        kwargs["name"] = name
    return str(session.client("stepfunctions").start_execution(**kwargs)["executionArn"])


def execution_arn(deployment: Deployment, tier: str, execution: str) -> str:
    """An execution ARN, or the name of an execution of the tier's state machine."""
    if execution.startswith("arn:"):
        return execution
    machine = deployment.require(tier, "StateMachineArn")
    # arn:aws:states:<region>:<account>:stateMachine:<name> -> ...:execution:<name>:<execution>
    return machine.replace(":stateMachine:", ":execution:", 1) + ":" + execution


#: Where SageMaker publishes a training job's metric definitions while it runs, per instance (``<job>/algo-<n>``):
#: https://docs.aws.amazon.com/sagemaker/latest/dg/training-metrics.html
TRAINING_METRICS_NAMESPACE = "/aws/sagemaker/TrainingJobs"
#: The first instance: every instance runs the same algorithm and logs the same metrics.
TRAINING_METRICS_HOST = "algo-1"
#: Seconds per datapoint asked of CloudWatch (SageMaker's training metrics are per minute at the coarsest).
METRIC_PERIOD_SECONDS = 60
#: GetMetricData takes at most 500 queries; a training job has at most 40 metric definitions (botocore's model).
MAX_METRIC_QUERIES = 500


@dataclass
class Progress:
    """One look at a run: what the live display and ``--output json`` show."""

    execution_arn: str
    status: str
    step: str | None = None
    job: str | None = None
    job_status: str | None = None
    secondary_status: str | None = None
    #: Latest value of each metric: published so far while a training job runs, final once it ended.
    metrics: dict[str, float] = field(default_factory=dict)
    #: When each metric's latest value was published (ISO 8601), or "final".
    metric_times: dict[str, str] = field(default_factory=dict)
    #: A serverless training job's epochs and steps (DescribeTrainingJob's ProgressInfo).
    training_progress: dict[str, int] | None = None
    #: An Autopilot job's finished candidates, in the order they finished (see :func:`candidate_summary`).
    candidates: list[dict[str, Any]] | None = None
    elapsed_seconds: float = 0.0
    error: str | None = None
    cause: str | None = None

    @property
    def best_candidate(self) -> dict[str, Any] | None:
        return best_of(self.candidates or [])

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "executionArn": self.execution_arn, "status": self.status, "step": self.step, "job": self.job,
            "jobStatus": self.job_status, "secondaryStatus": self.secondary_status, "metrics": self.metrics,
            "metricTimes": self.metric_times, "elapsedSeconds": round(self.elapsed_seconds, 1),
            "error": self.error, "cause": self.cause,
        }
        if self.training_progress is not None:
            data["trainingProgress"] = self.training_progress
        if self.candidates is not None:
            data["candidates"] = self.candidates
            data["bestCandidate"] = self.best_candidate
        return data

    def update_key(self) -> str:
        """What makes a look an update worth showing: everything but the elapsed time."""
        data = self.as_dict()
        data.pop("elapsedSeconds")
        return json.dumps(data, sort_keys=True, default=str)


_JOB_KEYS = {"TrainingJobName": "training", "AutoMLJobName": "automl"}


def _step_and_job(events: list[dict[str, Any]]) -> tuple[str | None, tuple[str, str] | None]:
    """The state the execution last entered, and the last SageMaker job a task named (newest events first)."""
    step = next((e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e), None)
    job = None
    for event in events:
        details = event.get("taskScheduledEventDetails")
        if not details or details.get("resourceType") != "sagemaker" and "sagemaker" not in details.get("resource", ""):
            continue
        try:
            parameters = json.loads(details.get("parameters") or "{}")
        except ValueError:
            continue
        for key, kind in _JOB_KEYS.items():
            if isinstance(parameters.get(key), str):
                job = (kind, parameters[key])
                break
        if job:
            break
    return step, job


def _iso(value: Any) -> str | None:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds") if isinstance(value, dt.datetime) else None


def published_training_metrics(cloudwatch: Any, job: str, names: list[str], start: dt.datetime,
                               end: dt.datetime) -> dict[str, tuple[float, dt.datetime]]:
    """The latest published value of each of the job's metrics between ``start`` and ``end``: ``{name: (value,
    timestamp)}``; metrics without a datapoint yet are left out."""
    if not names:
        return {}
    queries = [
        {
            "Id": f"m{i}",
            "Label": name,
            "MetricStat": {
                "Metric": {
                    "Namespace": TRAINING_METRICS_NAMESPACE,
                    "MetricName": name,
                    "Dimensions": [{"Name": "Host", "Value": f"{job}/{TRAINING_METRICS_HOST}"}],
                },
                "Period": METRIC_PERIOD_SECONDS,
                "Stat": "Average",
            },
            "ReturnData": True,
        }
        for i, name in enumerate(names[:MAX_METRIC_QUERIES])
    ]
    by_id: dict[str, str] = {f"m{i}": name for i, name in enumerate(names[:MAX_METRIC_QUERIES])}
    latest: dict[str, tuple[float, dt.datetime]] = {}
    kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end, "ScanBy": "TimestampDescending"}
    while True:
        page = cloudwatch.get_metric_data(**kwargs)
        for result in page.get("MetricDataResults", []):
            name = by_id.get(result.get("Id", ""))
            for timestamp, value in zip(result.get("Timestamps", []), result.get("Values", [])):
                if name is not None and (name not in latest or timestamp > latest[name][1]):
                    latest[name] = (float(value), timestamp)
        token = page.get("NextToken")
        if not token:
            return latest
        kwargs["NextToken"] = token


def _objective(candidate: dict[str, Any]) -> dict[str, Any]:
    return candidate.get("FinalAutoMLJobObjectiveMetric") or {}


def candidate_summary(candidate: dict[str, Any]) -> dict[str, Any]:
    """A finished candidate as ``follow`` shows it."""
    objective = _objective(candidate)
    return {
        "name": candidate.get("CandidateName"),
        "status": candidate.get("CandidateStatus"),
        "metric": objective.get("MetricName"),
        "value": objective.get("Value"),
        "direction": objective.get("Type"),
        "endTime": _iso(candidate.get("EndTime")),
    }


def best_of(candidates: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best finished candidate by its objective metric's direction (Minimize or Maximize), or None."""
    scored = [c for c in candidates if c.get("status") == "Completed" and isinstance(c.get("value"), (int, float))]
    if not scored:
        return None
    if scored[0].get("direction") == "Minimize":
        return min(scored, key=lambda c: c["value"])
    return max(scored, key=lambda c: c["value"])


#: Candidate states that will not change again.
FINISHED_CANDIDATE = frozenset({"Completed", "Failed", "Stopped"})


def finished_candidates(sagemaker: Any, job: str) -> list[dict[str, Any]]:
    """The job's finished candidates (ListCandidatesForAutoMLJob, every page), in the order they finished."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"AutoMLJobName": job, "SortBy": "CreationTime", "SortOrder": "Ascending", "MaxResults": 100}
    while True:
        page = sagemaker.list_candidates_for_auto_ml_job(**kwargs)
        found += [c for c in page.get("Candidates", []) if c.get("CandidateStatus") in FINISHED_CANDIDATE]
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    far_future = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    found.sort(key=lambda c: (c.get("EndTime") or far_future, c.get("CandidateName") or ""))
    return [candidate_summary(c) for c in found]


def _look_at_training_job(session: Any, progress: Progress, name: str, now: float) -> None:
    described = session.client("sagemaker").describe_training_job(TrainingJobName=name)
    progress.job_status = described.get("TrainingJobStatus")
    progress.secondary_status = described.get("SecondaryStatus")
    info = described.get("ProgressInfo")
    if info:
        progress.training_progress = {k: int(v) for k, v in info.items() if isinstance(v, int)}
    final = described.get("FinalMetricDataList") or []
    if final:
        progress.metrics = {m["MetricName"]: m["Value"] for m in final}
        progress.metric_times = {m["MetricName"]: "final" for m in final}
        return
    names = [d["Name"] for d in (described.get("AlgorithmSpecification") or {}).get("MetricDefinitions", [])]
    started = described.get("TrainingStartTime") or described.get("CreationTime")
    if not names or not isinstance(started, dt.datetime):
        return
    end = dt.datetime.fromtimestamp(now, dt.timezone.utc) + dt.timedelta(seconds=METRIC_PERIOD_SECONDS)
    start = started - dt.timedelta(seconds=METRIC_PERIOD_SECONDS)
    published = published_training_metrics(session.client("cloudwatch"), name, names, start, end)
    progress.metrics = {n: published[n][0] for n in names if n in published}
    progress.metric_times = {n: str(_iso(published[n][1])) for n in names if n in published}


def _look_at_automl_job(session: Any, progress: Progress, name: str) -> None:
    sagemaker = session.client("sagemaker")
    described = sagemaker.describe_auto_ml_job_v2(AutoMLJobName=name)
    progress.job_status = described.get("AutoMLJobStatus")
    progress.secondary_status = described.get("AutoMLJobSecondaryStatus")
    progress.candidates = finished_candidates(sagemaker, name)
    best = progress.best_candidate
    # SageMaker's own pick once the job completed; until then, the best finished candidate so far.
    final = _objective(described.get("BestCandidate") or {}) if progress.job_status == "Completed" else {}
    if final:
        progress.metrics = {final["MetricName"]: final["Value"]}
        progress.metric_times = {final["MetricName"]: "final"}
    elif best is not None:
        progress.metrics = {str(best["metric"]): best["value"]}
        progress.metric_times = {str(best["metric"]): str(best["endTime"])}


def look(session: Any, arn: str, now: float) -> Progress:
    sfn = session.client("stepfunctions")
    execution = sfn.describe_execution(executionArn=arn)
    started = execution["startDate"].timestamp()
    stopped = execution.get("stopDate")
    progress = Progress(
        execution_arn=arn,
        status=execution["status"],
        elapsed_seconds=(stopped.timestamp() if stopped else now) - started,
        error=execution.get("error"),
        cause=execution.get("cause"),
    )
    events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=100)["events"]
    progress.step, job = _step_and_job(events)
    if job is not None:
        kind, name = job
        progress.job = name
        if kind == "training":
            _look_at_training_job(session, progress, name, now)
        else:
            _look_at_automl_job(session, progress, name)
    return progress


def follow(session: Any, arn: str, interval: float, show: Callable[[Progress], None],
           update: Callable[[Progress], None] | None = None) -> Progress:
    """Look at the run every ``interval`` seconds until it ends; the last look.

    ``show`` gets every look (a live display refreshes the elapsed time); ``update`` only the looks that differ
    from the one before in anything but the elapsed time (the first look and the last always do).
    """
    previous: str | None = None
    while True:
        progress = look(session, arn, time.time())
        show(progress)
        key = progress.update_key()
        if update is not None and key != previous:
            update(progress)
        previous = key
        if progress.status in TERMINAL:
            return progress
        time.sleep(interval)
