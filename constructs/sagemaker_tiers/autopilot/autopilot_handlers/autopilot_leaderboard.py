"""Autopilot leaderboard: rank every candidate of a finished AutoML job, write it to S3, and prepare the
registration of the candidate SageMaker chose.

Invoked synchronously by the Autopilot state machine once ``DescribeAutoMLJobV2`` says ``Completed`` (or
``Stopped`` at ``MaxAutoMLJobRuntimeInSeconds`` with a best candidate, see below), with
``{"AutoMLJobName": "<name>"}``. It

1. describes the job (objective metric, problem type, notebook locations, ``BestCandidate``) and refuses a job
   that is not one of this workflow's (name prefix) or not finished with a best candidate;
2. lists every candidate with ``ListCandidatesForAutoMLJob``, following ``NextToken`` to the last page;
3. ranks them by the final objective metric value (descending for metrics to maximize such as F1 or AUC,
   ascending for losses such as MSE; candidates without a value come last, unranked). The leaderboard reports;
   it does not choose: the candidate registered is SageMaker's ``BestCandidate``, the one Autopilot wrote its
   explainability and model insights reports for;
4. finds Autopilot's own reports of that candidate under the prefixes ``CandidateProperties.
   CandidateArtifactLocations`` names (``ModelInsights``: the model quality report; ``Explainability``: the
   SageMaker Clarify report), so that ``ModelMetrics`` points at them (Studio's model registry renders those);
5. writes ``leaderboard.json``, ``leaderboard.csv`` and ``best-candidate-metrics.json`` under
   ``<OUTPUT_PREFIX><job>/leaderboard/`` with SSE-KMS (the same keys on a repeated call: idempotent);
6. returns the leaderboard and artifact locations (candidate definition and data exploration notebooks,
   explainability and model insights reports) and the ``CreateModelPackage`` fields for the best candidate (its
   inference containers, model metrics and metadata), which the state machine registers.

A job stopped by its runtime limit is finished, not failed: "If an AutoML job exceeds the maximum runtime, the
job is stopped automatically ... The AutoML job identifies the best model whose training was completed and marks
it as the best-performing model"
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoMLJobCompletionCriteria.html). Such a job
(``Stopped``, secondary status ``MaxAutoMLJobRuntimeReached``) with a ``BestCandidate`` is registered like a
completed one.

A malformed event, a job that is not ours or not finished, or a job without a registrable best candidate raises
``LeaderboardError``; the state machine catches it, notifies and fails the run. Nothing is written before
every candidate has been read.

Environment (read once): ``OUTPUT_BUCKET``, ``OUTPUT_PREFIX`` (ends with ``/``), ``KMS_KEY_ARN``,
``JOB_NAME_PREFIX``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger

#: Powertools' Logger (the layer the construct adds): JSON lines with the Lambda context and the job name as
#: ``correlation_id`` (the state machine's run names the job).
logger = Logger(utc=True)

PAGE_SIZE = 100
JOB_NAME_RE = re.compile(r"(?=.{1,32}\Z)[a-zA-Z0-9](-*[a-zA-Z0-9])*")
#: Metrics where a higher value is better; every other Autopilot metric (MSE, RMSE, MAE, losses) is minimized.
MAXIMIZED = frozenset(
    {"Accuracy", "AUC", "BalancedAccuracy", "F1", "F1macro", "Precision", "PrecisionMacro", "R2", "Recall", "RecallMacro"}
)
#: Repository names of the images Autopilot's inference containers use, and the algorithm each one serves.
IMAGE_ALGORITHMS = (
    ("sagemaker-xgboost", "xgboost"),
    ("linear-learner", "linear-learner"),
    ("mxnet", "mlp"),
    ("autogluon", "ensemble"),
    ("lightgbm", "lightgbm"),
    ("catboost", "catboost"),
)
CSV_COLUMNS = (
    "rank", "candidate_name", "algorithm", "candidate_status", "objective_status", "objective_metric",
    "objective_value", "metrics", "creation_time", "end_time", "failure_reason",
)
METADATA_VALUE_RE = re.compile(r"[\w\s.:/=+\-@]{1,256}")
TABULAR_CONTENT_TYPES = ["text/csv"]
#: The secondary status of a job SageMaker stopped at ``MaxAutoMLJobRuntimeInSeconds``.
RUNTIME_REACHED = "MaxAutoMLJobRuntimeReached"
#: Report files preferred when a report prefix holds more than one JSON object: SageMaker Clarify writes its
#: explainability results as ``analysis.json``
#: (https://docs.aws.amazon.com/sagemaker/latest/dg/clarify-processing-job-analysis-results.html).
REPORT_NAMES = {"Explainability": ("analysis.json",), "ModelInsights": ()}
#: At most this many ListObjectsV2 pages are read per report prefix.
MAX_REPORT_PAGES = 5
S3_URI_RE = re.compile(r"s3://([^/]+)/(.*)")


class LeaderboardError(Exception):
    """The event or the job cannot produce a leaderboard; the state machine fails the run with it."""


@dataclass(frozen=True)
class Settings:
    bucket: str
    prefix: str
    kms_key_arn: str
    job_name_prefix: str

    @classmethod
    def from_env(cls) -> Settings:
        missing = [n for n in ("OUTPUT_BUCKET", "OUTPUT_PREFIX", "KMS_KEY_ARN", "JOB_NAME_PREFIX") if not os.environ.get(n)]
        if missing:
            raise LeaderboardError(f"environment variables missing: {', '.join(missing)}")
        prefix = os.environ["OUTPUT_PREFIX"]
        return cls(
            bucket=os.environ["OUTPUT_BUCKET"],
            prefix=prefix if prefix.endswith("/") else prefix + "/",
            kms_key_arn=os.environ["KMS_KEY_ARN"],
            job_name_prefix=os.environ["JOB_NAME_PREFIX"],
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


@lru_cache(maxsize=1)
def _clients() -> tuple[Any, Any]:
    import boto3

    return boto3.client("sagemaker"), boto3.client("s3")


@logger.inject_lambda_context(correlation_id_path="AutoMLJobName", clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    config = settings()
    job_name = parse_event(event, config.job_name_prefix)
    sagemaker, s3 = _clients()
    result = build_leaderboard(sagemaker, s3, job_name, config)
    logger.info("leaderboard written", job=job_name, candidates=result["CandidateCount"], best=result["BestCandidate"]["CandidateName"])
    return result


def parse_event(event: Any, job_name_prefix: str) -> str:
    """The job name of ``{"AutoMLJobName": ...}``, only for jobs this workflow names (``<prefix>-...``)."""
    if not isinstance(event, dict):
        raise LeaderboardError(f"event must be an object with AutoMLJobName, got {type(event).__name__}")
    name = event.get("AutoMLJobName")
    if not isinstance(name, str) or not JOB_NAME_RE.fullmatch(name):
        raise LeaderboardError(f"AutoMLJobName must be an AutoML job name, got {name!r}")
    if not name.startswith(job_name_prefix + "-"):
        raise LeaderboardError(f"AutoMLJobName {name!r} is not a job of this workflow (prefix {job_name_prefix!r})")
    return name


def list_candidates(sagemaker: Any, job_name: str) -> list[dict[str, Any]]:
    """Every candidate of the job: follows ``NextToken`` until the last page."""
    candidates: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"AutoMLJobName": job_name, "MaxResults": PAGE_SIZE}
    while True:
        page = sagemaker.list_candidates_for_auto_ml_job(**kwargs)
        candidates.extend(page.get("Candidates", []))
        token = page.get("NextToken")
        if not token:
            return candidates
        kwargs["NextToken"] = token


def direction(metric: str, candidates: list[dict[str, Any]]) -> str:
    """``Maximize`` or ``Minimize`` for ``metric``: known Autopilot metrics by name, others by the ``Type`` the
    candidates report for it (``Minimize`` when none does)."""
    if metric in MAXIMIZED:
        return "Maximize"
    for candidate in candidates:
        final = candidate.get("FinalAutoMLJobObjectiveMetric") or {}
        if final.get("MetricName") == metric and final.get("Type") in ("Maximize", "Minimize"):
            return final["Type"]
    return "Minimize"


def objective_value(candidate: dict[str, Any]) -> float | None:
    value = (candidate.get("FinalAutoMLJobObjectiveMetric") or {}).get("Value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def algorithm(candidate: dict[str, Any]) -> str:
    """The candidate's algorithm, read from its inference container images (``unknown`` if none matches)."""
    for container in containers(candidate):
        repository = container.get("Image", "").rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
        for fragment, name in IMAGE_ALGORITHMS:
            if fragment in repository:
                return name
    return "unknown"


def containers(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    """Inference containers (``InferenceContainers``, else the CPU then GPU ``InferenceContainerDefinitions``)."""
    found = candidate.get("InferenceContainers") or []
    if found:
        return found
    definitions = candidate.get("InferenceContainerDefinitions") or {}
    return definitions.get("CPU") or definitions.get("GPU") or []


def rank(candidates: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Leaderboard rows, best first; candidates without an objective value follow, with ``rank`` None."""
    order = direction(metric, candidates)
    scored = [c for c in candidates if objective_value(c) is not None]
    unscored = [c for c in candidates if objective_value(c) is None]
    sign = -1.0 if order == "Maximize" else 1.0
    scored.sort(key=lambda c: (sign * objective_value(c), c.get("CandidateName", "")))  # type: ignore[operator]
    unscored.sort(key=lambda c: c.get("CandidateName", ""))
    rows = []
    for position, candidate in enumerate(scored + unscored, start=1):
        value = objective_value(candidate)
        properties = candidate.get("CandidateProperties") or {}
        rows.append(
            {
                "rank": position if value is not None else None,
                "candidate_name": candidate.get("CandidateName"),
                "algorithm": algorithm(candidate),
                "candidate_status": candidate.get("CandidateStatus"),
                "objective_status": candidate.get("ObjectiveStatus"),
                "objective_metric": metric,
                "objective_value": value,
                "metrics": [
                    {k: m[k] for k in ("MetricName", "StandardMetricName", "Set", "Value") if k in m}
                    for m in properties.get("CandidateMetrics", [])
                ],
                "artifacts": properties.get("CandidateArtifactLocations", {}),
                "inference_containers": containers(candidate),
                "creation_time": _iso(candidate.get("CreationTime")),
                "end_time": _iso(candidate.get("EndTime")),
                "failure_reason": candidate.get("FailureReason") or None,
            }
        )
    return rows


def finished(job: dict[str, Any]) -> bool:
    """Completed, or stopped by SageMaker at the job's runtime limit (which still names a best candidate)."""
    status = job.get("AutoMLJobStatus")
    return status == "Completed" or (status == "Stopped" and job.get("AutoMLJobSecondaryStatus") == RUNTIME_REACHED)


def best_candidate(job: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The leaderboard row of SageMaker's ``BestCandidate`` (its own containers and artifacts when the listing
    lacks them); it must have inference containers."""
    best = job.get("BestCandidate") or {}
    name = best.get("CandidateName")
    if not name:
        raise LeaderboardError(f"job {job['AutoMLJobName']} reports no BestCandidate; nothing to register")
    row = next((r for r in rows if r["candidate_name"] == name), None)
    if row is None:  # SageMaker's choice, described but not listed: rank it from its own description
        (row,) = rank([best], (best.get("FinalAutoMLJobObjectiveMetric") or {}).get("MetricName") or "")
        row["rank"] = None
    properties = best.get("CandidateProperties") or {}
    row = {
        **row,
        "inference_containers": containers(best) or row["inference_containers"],
        "artifacts": properties.get("CandidateArtifactLocations") or row["artifacts"],
    }
    if not row["inference_containers"]:
        raise LeaderboardError(f"best candidate {name} of job {job['AutoMLJobName']} has no inference containers; nothing to register")
    return row


def find_report(s3: Any, config: Settings, prefix_uri: str | None, kind: str) -> str | None:
    """The JSON report under an artifact prefix of the job's output: the only ``.json`` object there, else the
    one named as :data:`REPORT_NAMES` prefers; None when there is none (or it is not under ``OUTPUT_PREFIX``)."""
    match = S3_URI_RE.fullmatch(prefix_uri or "")
    if not match or match.group(1) != config.bucket or not match.group(2).startswith(config.prefix):
        return None
    prefix = match.group(2).rstrip("/") + "/"
    keys: list[str] = []
    kwargs: dict[str, Any] = {"Bucket": config.bucket, "Prefix": prefix}
    for _ in range(MAX_REPORT_PAGES):
        page = s3.list_objects_v2(**kwargs)
        keys.extend(o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".json"))
        if not page.get("IsTruncated"):
            break
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
    if len(keys) == 1:
        return f"s3://{config.bucket}/{keys[0]}"
    for name in REPORT_NAMES.get(kind, ()):
        named = sorted(k for k in keys if k.rsplit("/", 1)[-1] == name)
        if named:
            return f"s3://{config.bucket}/{named[0]}"
    return None


def build_leaderboard(sagemaker: Any, s3: Any, job_name: str, config: Settings) -> dict[str, Any]:
    job = sagemaker.describe_auto_ml_job_v2(AutoMLJobName=job_name)
    if not finished(job):
        raise LeaderboardError(
            f"job {job_name} is {job.get('AutoMLJobStatus')} ({job.get('AutoMLJobSecondaryStatus')}), not Completed "
            f"or Stopped at its runtime limit ({RUNTIME_REACHED})"
        )
    metric = (job.get("AutoMLJobObjective") or {}).get("MetricName") or (
        ((job.get("ResolvedAttributes") or {}).get("AutoMLJobObjective") or {}).get("MetricName")
    )
    if not metric:
        raise LeaderboardError(f"job {job_name} reports no objective metric")
    candidates = list_candidates(sagemaker, job_name)
    rows = rank(candidates, metric)
    if not rows:
        raise LeaderboardError(f"job {job_name} has no candidates")
    best = best_candidate(job, rows)

    base = f"{config.prefix}{job_name}/leaderboard/"
    locations = {
        "Json": f"s3://{config.bucket}/{base}leaderboard.json",
        "Csv": f"s3://{config.bucket}/{base}leaderboard.csv",
        "BestCandidateMetrics": f"s3://{config.bucket}/{base}best-candidate-metrics.json",
    }
    job_artifacts = job.get("AutoMLJobArtifacts") or {}
    artifacts = {
        "CandidateDefinitionNotebook": job_artifacts.get("CandidateDefinitionNotebookLocation"),
        "DataExplorationNotebook": job_artifacts.get("DataExplorationNotebookLocation"),
        "Explainability": best["artifacts"].get("Explainability"),
        "ModelInsights": best["artifacts"].get("ModelInsights"),
    }
    reports = {kind: find_report(s3, config, artifacts[kind], kind) for kind in ("Explainability", "ModelInsights")}
    objective = {"MetricName": metric, "Direction": direction(metric, candidates)}
    document = {
        "AutoMLJobName": job_name,
        "ProblemType": job.get("AutoMLProblemTypeConfigName"),
        "ObjectiveMetric": objective,
        "BestCandidate": best["candidate_name"],
        "BestCandidateChosenBy": "SageMaker (DescribeAutoMLJobV2 BestCandidate)",
        "LeaderboardTop": rows[0]["candidate_name"] if rows[0]["rank"] is not None else None,
        "JobStatus": {"Status": job.get("AutoMLJobStatus"), "SecondaryStatus": job.get("AutoMLJobSecondaryStatus")},
        "Artifacts": artifacts,
        "Reports": reports,
        "Candidates": rows,
    }
    metrics_document = {
        "AutoMLJobName": job_name,
        "CandidateName": best["candidate_name"],
        "ObjectiveMetric": {**objective, "Value": best["objective_value"]},
        "Metrics": best["metrics"],
    }
    _put(s3, config, base + "leaderboard.json", json.dumps(document, indent=2, default=str), "application/json")
    _put(s3, config, base + "leaderboard.csv", to_csv(rows), "text/csv")
    _put(s3, config, base + "best-candidate-metrics.json", json.dumps(metrics_document, indent=2), "application/json")

    return {
        "AutoMLJobName": job_name,
        "CandidateCount": len(rows),
        "ObjectiveMetric": objective,
        "Leaderboard": locations,
        "Artifacts": artifacts,
        "BestCandidate": {
            "CandidateName": best["candidate_name"],
            "Algorithm": best["algorithm"],
            "ObjectiveValue": best["objective_value"],
        },
        "Reports": reports,
        "ModelPackage": model_package_fields(job, best, objective, artifacts, locations, reports),
    }


def model_package_fields(
    job: dict[str, Any],
    best: dict[str, Any],
    objective: dict[str, str],
    artifacts: dict[str, Any],
    locations: dict[str, str],
    reports: dict[str, str | None],
) -> dict[str, Any]:
    """``CreateModelPackage`` fields for the best candidate (the state machine adds group, status and token).

    ``ModelMetrics``: ``ModelQuality.Statistics`` is Autopilot's model quality (model insights) JSON report, or,
    when none is found, the best candidate's metrics as the leaderboard wrote them; ``Explainability.Report`` is
    Autopilot's explainability JSON report when found."""
    job_name = job["AutoMLJobName"]
    value = best["objective_value"]
    specification: dict[str, Any] = {
        "Containers": [
            {k: c[k] for k in ("Image", "ModelDataUrl", "Environment") if c.get(k) is not None}
            for c in best["inference_containers"]
        ]
    }
    if job.get("AutoMLProblemTypeConfigName") == "Tabular":
        specification["SupportedContentTypes"] = TABULAR_CONTENT_TYPES
        specification["SupportedResponseMIMETypes"] = TABULAR_CONTENT_TYPES
    metadata = {
        "autopilot:job-name": job_name,
        "autopilot:candidate": best["candidate_name"],
        "autopilot:algorithm": best["algorithm"],
        "autopilot:objective-metric": objective["MetricName"],
        "autopilot:objective-value": None if value is None else f"{value:.6g}",
        "autopilot:leaderboard-rank": None if best["rank"] is None else str(best["rank"]),
        "autopilot:leaderboard": locations["Json"],
        "autopilot:candidate-notebook": artifacts.get("CandidateDefinitionNotebook"),
        "autopilot:data-exploration-notebook": artifacts.get("DataExplorationNotebook"),
        "autopilot:explainability": artifacts.get("Explainability"),
        "autopilot:model-insights": artifacts.get("ModelInsights"),
    }
    metrics: dict[str, Any] = {
        "ModelQuality": {
            "Statistics": {"ContentType": "application/json", "S3Uri": reports["ModelInsights"] or locations["BestCandidateMetrics"]}
        }
    }
    if reports["Explainability"]:
        metrics["Explainability"] = {"Report": {"ContentType": "application/json", "S3Uri": reports["Explainability"]}}
    score = "no objective value" if value is None else f"{objective['MetricName']} = {value:.6g}"
    return {
        "ModelPackageDescription": (
            f"Autopilot job {job_name}: SageMaker's best candidate {best['candidate_name']} ({best['algorithm']}), {score}"
        )[:1024],
        "InferenceSpecification": specification,
        "ModelMetrics": metrics,
        # CustomerMetadataProperties values must be 1-256 of a restricted character set: others are left out.
        "CustomerMetadataProperties": {
            k: v for k, v in metadata.items() if isinstance(v, str) and METADATA_VALUE_RE.fullmatch(v)
        },
    }


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        flat = dict(row)
        flat["rank"] = "" if row["rank"] is None else row["rank"]
        flat["objective_value"] = "" if row["objective_value"] is None else row["objective_value"]
        flat["metrics"] = ";".join(
            f"{m.get('Set', '')}:{m.get('MetricName') or m.get('StandardMetricName')}={m.get('Value')}" for m in row["metrics"]
        )
        flat["failure_reason"] = row["failure_reason"] or ""
        writer.writerow(flat)
    return buffer.getvalue()


def _put(s3: Any, config: Settings, key: str, body: str, content_type: str) -> None:
    s3.put_object(
        Bucket=config.bucket,
        Key=key,
        Body=body.encode("utf-8"),
        ContentType=content_type,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=config.kms_key_arn,
    )


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None
