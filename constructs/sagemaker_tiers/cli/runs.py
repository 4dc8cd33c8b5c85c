"""Start and follow runs of the training and Autopilot state machines (``train start|follow``, ``autopilot ...``).

A training run's overrides are checked here against the rules the training stack publishes in its
``RunInputRules`` output (``TrainingPipeline.run_input_rules``: the same keys, declared hyperparameter names,
instance types and maximum count that the state machine's ``ValidateInput`` states check), so bad input never
starts an execution. Following polls DescribeExecution, the execution's history (the state it is in, the SageMaker
job it started) and the job (status, secondary status, final metrics) until the execution ends.
"""

from __future__ import annotations

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


@dataclass
class Progress:
    """One look at a run: what the live display and ``--output json`` show."""

    execution_arn: str
    status: str
    step: str | None = None
    job: str | None = None
    job_status: str | None = None
    secondary_status: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    error: str | None = None
    cause: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "executionArn": self.execution_arn, "status": self.status, "step": self.step, "job": self.job,
            "jobStatus": self.job_status, "secondaryStatus": self.secondary_status, "metrics": self.metrics,
            "elapsedSeconds": round(self.elapsed_seconds, 1), "error": self.error, "cause": self.cause,
        }


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
        sagemaker = session.client("sagemaker")
        if kind == "training":
            described = sagemaker.describe_training_job(TrainingJobName=name)
            progress.job_status = described.get("TrainingJobStatus")
            progress.secondary_status = described.get("SecondaryStatus")
            progress.metrics = {m["MetricName"]: m["Value"] for m in described.get("FinalMetricDataList", [])}
        else:
            described = sagemaker.describe_auto_ml_job_v2(AutoMLJobName=name)
            progress.job_status = described.get("AutoMLJobStatus")
            progress.secondary_status = described.get("AutoMLJobSecondaryStatus")
            best = (described.get("BestCandidate") or {}).get("FinalAutoMLJobObjectiveMetric")
            if best:
                progress.metrics = {best["MetricName"]: best["Value"]}
    return progress


def follow(session: Any, arn: str, interval: float, show: Callable[[Progress], None]) -> Progress:
    """Look at the run every ``interval`` seconds, showing each look, until it ends; the last look."""
    while True:
        progress = look(session, arn, time.time())
        show(progress)
        if progress.status in TERMINAL:
            return progress
        time.sleep(interval)
