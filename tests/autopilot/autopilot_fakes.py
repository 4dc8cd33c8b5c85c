"""Helpers of the Autopilot tier tests: AutoML candidates and job states in moto.

moto 5.2.5 implements CreateAutoMLJobV2, DescribeAutoMLJobV2 and StopAutoMLJob but not
ListCandidatesForAutoMLJob: the ``candidates`` fixture (conftest) adds that one operation to moto's SageMaker (paginated with
MaxResults/NextToken like the real API), serving candidates a test stores per job. Everything else the handler and
the state machine call is moto's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from tests.conftest import import_handlers_from

import_handlers_from("autopilot", "autopilot_handlers")

ACCOUNT = "123456789012"
REGION = "us-east-1"
JOB_PREFIX = "churn-test"
GROUP = "churn-test"
IMAGES = {
    "sklearn": f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-sklearn-automl:2.5-1-cpu-py3",
    "xgboost": f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1",
    "linear-learner": f"382416733822.dkr.ecr.{REGION}.amazonaws.com/linear-learner:1",
    "ensemble": f"763104351884.dkr.ecr.{REGION}.amazonaws.com/autogluon-inference:0.4-cpu-py38",
}


def candidate(
    name: str,
    value: float | None,
    *,
    metric: str = "F1",
    direction: str = "Maximize",
    algorithm: str = "xgboost",
    status: str = "Completed",
    containers: bool = True,
    job: str = "job",
    output_uri: str = "s3://outputs/",
) -> dict[str, Any]:
    """An AutoMLCandidate as ListCandidatesForAutoMLJob returns it (artifacts under ``<output_uri><job>/``)."""
    created = datetime(2026, 1, 1, tzinfo=timezone.utc)
    body: dict[str, Any] = {
        "CandidateName": name,
        "ObjectiveStatus": "Succeeded" if value is not None else "Failed",
        "CandidateSteps": [
            {
                "CandidateStepType": "AWS::SageMaker::TrainingJob",
                "CandidateStepArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name.lower()}",
                "CandidateStepName": name.lower(),
            }
        ],
        "CandidateStatus": status,
        "CreationTime": created,
        "EndTime": created + timedelta(minutes=30),
        "LastModifiedTime": created + timedelta(minutes=30),
        "CandidateProperties": {
            "CandidateArtifactLocations": {
                "Explainability": f"{output_uri}{job}/documentation/explainability/output/{name}",
                "ModelInsights": f"{output_uri}{job}/documentation/model_monitor/output/{name}",
            },
            "CandidateMetrics": [
                {"MetricName": metric, "StandardMetricName": metric, "Set": "Validation", "Value": value or 0.0},
                {"MetricName": "Accuracy", "StandardMetricName": "Accuracy", "Set": "Validation", "Value": 0.9},
            ],
        },
    }
    if value is not None:
        body["FinalAutoMLJobObjectiveMetric"] = {"Type": direction, "MetricName": metric, "Value": value, "StandardMetricName": metric}
    else:
        body["FailureReason"] = "AlgorithmError: training diverged"
    if containers:
        body["InferenceContainers"] = [
            {"Image": IMAGES["sklearn"], "ModelDataUrl": f"s3://outputs/{job}/data-processor-models/{name}/model.tar.gz",
             "Environment": {"AUTOML_TRANSFORM_MODE": "feature-transform", "SAGEMAKER_PROGRAM": "sagemaker_serve"}},
            {"Image": IMAGES[algorithm], "ModelDataUrl": f"s3://outputs/{job}/tuning/{name}/output/model.tar.gz",
             "Environment": {"MAX_CONTENT_LENGTH": "20971520", "SAGEMAKER_INFERENCE_OUTPUT": "predicted_label"}},
        ]
    return body


@dataclass
class CandidateStore:
    """Candidates served by the ListCandidatesForAutoMLJob operation added to moto, and the pages asked for."""

    by_job: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)


def serve_candidates(monkeypatch: Any) -> CandidateStore:
    """Add ListCandidatesForAutoMLJob to moto's SageMaker until ``monkeypatch`` undoes it, paginated with
    MaxResults/NextToken like the real API, serving the candidates stored per job in the returned store."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ValidationError as MotoValidationError
    from moto.sagemaker.responses import SageMakerResponse

    store = CandidateStore()

    def list_candidates_for_auto_ml_job(self: SageMakerResponse) -> ActionResult:
        name = self._get_param("AutoMLJobName")
        max_results = int(self._get_param("MaxResults") or 10)
        token = self._get_param("NextToken")
        store.requests.append({"AutoMLJobName": name, "MaxResults": max_results, "NextToken": token})
        if name not in self.sagemaker_backend.auto_ml_jobs:
            raise MotoValidationError(message=f"Could not find AutoML job with name {name}.")
        found = store.by_job.get(name, [])
        start = int(token) if token else 0
        page = found[start : start + max_results]
        result: dict[str, Any] = {"Candidates": page}
        if start + max_results < len(found):
            result["NextToken"] = str(start + max_results)
        return ActionResult(result)

    monkeypatch.setattr(SageMakerResponse, "list_candidates_for_auto_ml_job", list_candidates_for_auto_ml_job, raising=False)
    return store


def automl_jobs() -> dict[str, Any]:
    """moto's AutoML jobs of the test account, by name (tests set their status here)."""
    from moto.sagemaker.models import sagemaker_backends

    return sagemaker_backends[ACCOUNT][REGION].auto_ml_jobs


def complete_job(job: Any, output_uri: str, best: dict[str, Any] | None = None) -> None:
    """Make a moto AutoML job look like a finished one: Completed, with its notebook locations and ``best`` as
    SageMaker's ``BestCandidate`` (None: the job names none)."""
    job.auto_ml_job_status = "Completed"
    job.auto_ml_job_secondary_status = "Completed"
    job.best_candidate = best
    base = f"{output_uri}{job.auto_ml_job_name}"
    job.auto_ml_job_artifacts = {
        "CandidateDefinitionNotebookLocation": f"{base}/sagemaker-automl-candidates/notebooks/SageMakerAutopilotCandidateDefinitionNotebook.ipynb",
        "DataExplorationNotebookLocation": f"{base}/sagemaker-automl-candidates/notebooks/SageMakerAutopilotDataExplorationNotebook.ipynb",
    }


def physical(template: dict[str, Any]) -> dict[str, Any]:
    """Physical values for the test stack's resources: sfn_support's, plus security group IDs and Lambda ARNs."""
    from tests.sfn_support import physical_values

    extra: dict[str, Any] = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            extra[f"{logical_id}.GroupId"] = f"sg-{logical_id.lower()[-17:]}"
        elif resource["Type"] == "AWS::Lambda::Function":
            extra[f"{logical_id}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id.lower()[:60]}"
        elif resource["Type"] == "AWS::EC2::Subnet":
            extra[logical_id] = f"subnet-{logical_id.lower()[-17:]}"
    return physical_values(template, **extra)
