"""What is approved, what is serving, what is waiting: the data behind ``sagemaker-tiers status``.

Each function returns plain JSON-ready data; :mod:`.main` renders it as tables or JSON.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import ClientError

from sagemaker_tiers.cli.discovery import Deployment

#: The approved-model parameter's value when a group has no approved version (approval_promote.py).
NONE_APPROVED = "NONE"
PENDING = "PendingManualApproval"
#: Queues the CLI reports: (tier, output key).
DEAD_LETTER_OUTPUTS = (
    ("registry", "EventDeadLetterQueueUrl"),
    ("registry", "FailedInvocationsQueueUrl"),
    ("training", "DeadLetterQueueUrl"),
    ("autopilot", "DeadLetterQueueUrl"),
    ("inference", "DeadLetterQueueUrl"),
    ("studio", "DomainFailedInvocationsQueueUrl"),
    ("studio", "HubFailedInvocationsQueueUrl"),
    ("studio", "JumpStartDeadLetterQueueUrl"),
    ("studio", "JumpStartFineTuningDeadLetterQueueUrl"),
)
#: State machines whose failed runs are reported: (tier, output key).
STATE_MACHINE_OUTPUTS = (
    ("training", "StateMachineArn"),
    ("autopilot", "StateMachineArn"),
    ("inference", "DeploymentStateMachineArn"),
    ("studio", "JumpStartRegistrationStateMachineArn"),
    ("studio", "JumpStartFineTuningStateMachineArn"),
)
#: Execution statuses that count as a failed run.
FAILED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")


def version_of(arn: str | None) -> int | None:
    """The version of a versioned model package ARN (``...:model-package/<group>/<version>``), else None."""
    if not arn or arn == NONE_APPROVED:
        return None
    tail = arn.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _iso(value: Any) -> str | None:
    return value.astimezone(dt.timezone.utc).isoformat(timespec="seconds") if isinstance(value, dt.datetime) else None


def _parameter(ssm: Any, name: str) -> str | None:
    try:
        value: str = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        return value
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise


def _endpoint_status(sagemaker: Any, name: str) -> str:
    try:
        status: str = sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
        return status
    except ClientError as error:
        info = error.response.get("Error", {})
        # DescribeEndpoint answers ValidationException "Could not find endpoint ..." for an absent endpoint.
        if info.get("Code") == "ValidationException" and "Could not find" in info.get("Message", ""):
            return "Absent"
        raise


def pending_packages(sagemaker: Any, group: str, now: dt.datetime) -> list[dict[str, Any]]:
    """The group's versions waiting for a manual decision, oldest first, with their age."""
    pending = []
    paginator = sagemaker.get_paginator("list_model_packages")
    for page in paginator.paginate(ModelPackageGroupName=group, ModelApprovalStatus=PENDING, ModelPackageType="Versioned"):
        for package in page["ModelPackageSummaryList"]:
            created = package.get("CreationTime")
            pending.append(
                {
                    "group": group,
                    "version": package.get("ModelPackageVersion") or version_of(package["ModelPackageArn"]),
                    "modelPackageArn": package["ModelPackageArn"],
                    "createdAt": _iso(created),
                    "ageHours": round((now - created).total_seconds() / 3600, 1) if created else None,
                    "description": package.get("ModelPackageDescription", ""),
                }
            )
    return sorted(pending, key=lambda p: p["version"] or 0)


def group_status(deployment: Deployment, session: Any, group: str, now: dt.datetime) -> dict[str, Any]:
    """Approved, deployed and pending versions of one group, and whether the endpoint serves the approved one."""
    ssm = session.client("ssm")
    sagemaker = session.client("sagemaker")
    approved = _parameter(ssm, deployment.approved_model_parameter(group))
    result: dict[str, Any] = {
        "group": group,
        "approvedModelPackageArn": approved if approved and approved != NONE_APPROVED else None,
        "approvedVersion": version_of(approved),
        "endpoint": None,
        "endpointStatus": None,
        "deployedModelPackageArn": None,
        "deployedVersion": None,
        "agree": None,
        "pending": pending_packages(sagemaker, group, now),
    }
    if deployment.output("inference", "ModelPackageGroup") == group:
        endpoint = deployment.require("inference", "EndpointName")
        deployed = _parameter(ssm, deployment.require("inference", "DeployedModelParameter"))
        status = _endpoint_status(sagemaker, endpoint)
        result.update(
            endpoint=endpoint,
            endpointStatus=status,
            deployedModelPackageArn=deployed if deployed and deployed != NONE_APPROVED else None,
            deployedVersion=version_of(deployed),
        )
        # They agree when the endpoint is in service with the approved version (or nothing is approved or deployed).
        same = result["approvedModelPackageArn"] == result["deployedModelPackageArn"]
        result["agree"] = same and (status == "InService" or result["deployedModelPackageArn"] is None)
    return result


def dead_letter_depths(deployment: Deployment, session: Any) -> list[dict[str, Any]]:
    sqs = session.client("sqs")
    depths = []
    for tier, key in DEAD_LETTER_OUTPUTS:
        url = deployment.output(tier, key)
        if url is None:
            continue
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        depths.append({"tier": tier, "queue": key, "queueUrl": url, "messages": int(attributes["ApproximateNumberOfMessages"])})
    return depths


def failed_runs(deployment: Deployment, session: Any, since: dt.datetime, limit: int) -> list[dict[str, Any]]:
    """Executions of the app's state machines that failed, timed out or were aborted since ``since``, newest first."""
    sfn = session.client("stepfunctions")
    runs = []
    for tier, key in STATE_MACHINE_OUTPUTS:
        arn = deployment.output(tier, key)
        if arn is None:
            continue
        for status in FAILED_STATUSES:
            # ListExecutions returns the newest first.
            for execution in sfn.list_executions(stateMachineArn=arn, statusFilter=status, maxResults=limit)["executions"]:
                if execution["startDate"] < since:
                    continue
                runs.append(
                    {
                        "tier": tier,
                        "name": execution["name"],
                        "status": execution["status"],
                        "startDate": _iso(execution["startDate"]),
                        "stopDate": _iso(execution.get("stopDate")),
                        "executionArn": execution["executionArn"],
                    }
                )
    runs.sort(key=lambda r: r["startDate"], reverse=True)
    return runs[:limit]


def status(deployment: Deployment, session: Any, groups: list[str], since_days: float, limit: int, now: dt.datetime) -> dict[str, Any]:
    names = [deployment.check_group(g) for g in groups] if groups else list(deployment.groups)
    return {
        "project": deployment.project,
        "region": deployment.region,
        # The operations stack's CloudWatch dashboard of every tier (None when that stack is not deployed).
        "dashboardUrl": deployment.output("operations", "DashboardUrl"),
        "groups": [group_status(deployment, session, g, now) for g in names],
        "deadLetterQueues": dead_letter_depths(deployment, session),
        "failedRuns": failed_runs(deployment, session, now - dt.timedelta(days=since_days), limit),
    }
