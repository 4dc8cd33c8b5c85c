"""Scheduled: delete the Canvas apps of one domain that have been idle longer than the limit.

Canvas bills its workspace instance per hour while the app runs, whether anyone uses it or not.

What "idle" means here, exactly:

1. Running apps are those ``ListApps(DomainIdEquals=<domain>)`` returns with ``AppType == "Canvas"`` and
   ``Status == "InService"`` (ListApps cannot filter by type or status; the filter is ours).
2. An app's idle time is the newest ``TimeSinceLastActive`` datapoint (seconds since the user's last activity in
   Canvas) that Canvas publishes to CloudWatch under namespace ``/aws/sagemaker/Canvas/AppActivity`` with
   dimensions ``DomainId`` and ``UserProfileName``, within the last ``METRIC_LOOKBACK_SECONDS``.
3. With no datapoint in that window the app's idleness is unknown (``DescribeApp``'s ``LastUserActivityTimestamp``
   cannot tell: SageMaker's health checks refresh it too, so it never shows an app idle). Such an app is
   *unmeasured*: it is deleted only once it has run longer than ``UNMEASURED_LIMIT_SECONDS`` since its
   ``CreationTime`` (a bound on what an app without the metric can cost), and every run emits how many apps
   were unmeasured (``CanvasAppsWithoutIdleMetric``), on which the construct alarms.
4. An app idle for *more than* ``IDLE_LIMIT_SECONDS`` is deleted with ``DeleteApp`` (its datasets and models
   stay in S3; the user relaunches Canvas in about a minute).

Checks may overlap (the function reserves no concurrency: new accounts cannot grant it, and a retried check can
run beside the next scheduled one). A ``DeleteApp`` that fails because another check already deleted the app
(``DescribeApp`` then says ``Deleting``/``Deleted``, or finds no app) is recorded as ``already-deleted``, not as an
error.

A malformed event raises (retries, then the on-failure queue); an AWS error on one app is logged and the
others are still handled, then the invocation fails so the error alarm fires.

Telemetry (Powertools for AWS Lambda, from the layer the construct adds): one JSON log line per event with the
scheduled event's id as ``correlation_id``, and per run, in CloudWatch's embedded metric format under
``POWERTOOLS_METRICS_NAMESPACE`` with the dimensions ``service`` and ``DomainId``: ``IdleShutdowns`` (apps this
run deleted) and ``CanvasAppsWithoutIdleMetric`` (apps without the idle metric), flushed when the handler
returns or raises. EMF needs no PutMetricData permission: CloudWatch Logs extracts the metrics.
"""

from __future__ import annotations

import datetime as dt
import os
import warnings
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(utc=True)
metrics = Metrics()
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

NAMESPACE = "/aws/sagemaker/Canvas/AppActivity"
METRIC = "TimeSinceLastActive"
APP_TYPE = "Canvas"
#: What the function emits itself: how many running Canvas apps had no TimeSinceLastActive datapoint, and how many
#: apps it deleted.
UNMEASURED_METRIC = "CanvasAppsWithoutIdleMetric"
SHUTDOWNS_METRIC = "IdleShutdowns"

_clients: dict[str, Any] = {}


def client(name: str) -> Any:
    if name not in _clients:
        import boto3

        _clients[name] = boto3.client(name, region_name=os.environ.get("AWS_REGION"))
    return _clients[name]


def running_canvas_apps(sagemaker: Any, domain_id: str) -> list[dict[str, Any]]:
    """Canvas apps of the domain that are InService (and so billing)."""
    apps: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"DomainIdEquals": domain_id, "MaxResults": 100}
    while True:
        page = sagemaker.list_apps(**kwargs)
        apps += [
            a
            for a in page.get("Apps", [])
            if a.get("AppType") == APP_TYPE and a.get("Status") == "InService" and a.get("UserProfileName")
        ]
        if not page.get("NextToken"):
            return apps
        kwargs["NextToken"] = page["NextToken"]


def latest_idle_metric(cloudwatch: Any, domain_id: str, profile: str, now: dt.datetime, lookback: int) -> float | None:
    """Newest TimeSinceLastActive (seconds) Canvas published for the profile in the lookback window, if any."""
    result = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "idle",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": METRIC,
                        "Dimensions": [
                            {"Name": "DomainId", "Value": domain_id},
                            {"Name": "UserProfileName", "Value": profile},
                        ],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
        ],
        StartTime=now - dt.timedelta(seconds=lookback),
        EndTime=now,
        ScanBy="TimestampDescending",
    )
    for series in result.get("MetricDataResults", []):
        points = sorted(zip(series.get("Timestamps", []), series.get("Values", [])), reverse=True)
        if points:
            return float(points[0][1])
    return None


def age_seconds(app: Mapping[str, Any], now: dt.datetime) -> float:
    """Seconds since the app was created (0 when ListApps gave no creation time)."""
    created = app.get("CreationTime")
    return max(0.0, (now - created).total_seconds()) if created else 0.0


def emit_metrics(domain_id: str, decisions: list[dict[str, Any]]) -> None:
    """This run's ``IdleShutdowns`` and ``CanvasAppsWithoutIdleMetric`` (dimension ``DomainId``; Powertools adds
    ``service``), flushed with the invocation. An app another check deleted first is not counted."""
    metrics.add_dimension(name="DomainId", value=domain_id)
    metrics.add_metric(name=SHUTDOWNS_METRIC, unit=MetricUnit.Count, value=sum(d["Action"] == "deleted" for d in decisions))
    metrics.add_metric(name=UNMEASURED_METRIC, unit=MetricUnit.Count, value=sum(d["Source"] == "unmeasured" for d in decisions))


def shutdown_idle_apps(
    sagemaker: Any,
    cloudwatch: Any,
    domain_id: str,
    limit_seconds: int,
    now: dt.datetime,
    lookback: int = 3600,
    unmeasured_limit_seconds: int = 8 * 3600,
) -> list[dict[str, Any]]:
    """Delete the domain's Canvas apps idle for more than ``limit_seconds``, and unmeasured apps older than
    ``unmeasured_limit_seconds``; emit the counts (:func:`emit_metrics`); return one decision per app."""
    decisions: list[dict[str, Any]] = []
    errors: list[str] = []
    for app in running_canvas_apps(sagemaker, domain_id):
        profile, name = app["UserProfileName"], app["AppName"]
        key = {"DomainId": domain_id, "UserProfileName": profile, "AppType": APP_TYPE, "AppName": name}
        try:
            metric = latest_idle_metric(cloudwatch, domain_id, profile, now, lookback)
            if metric is not None:
                seconds, limit, source = metric, limit_seconds, "metric"
            else:
                seconds, limit, source = age_seconds(app, now), unmeasured_limit_seconds, "unmeasured"
            action = "deleted" if seconds > limit else "kept"
            if action == "deleted":
                action = _delete(sagemaker, key)
            decisions.append({"UserProfileName": profile, "AppName": name, "IdleSeconds" if source == "metric" else "AgeSeconds": int(seconds),
                              "Action": action, "Source": source})
        except Exception as error:  # noqa: BLE001 - handle the other apps, then fail the invocation
            logger.exception("Canvas app could not be checked or deleted", user_profile=profile)
            errors.append(f"{profile}: {error}")
    emit_metrics(domain_id, decisions)
    logger.info(
        "Canvas idle check",
        domain_id=domain_id,
        limit_seconds=limit_seconds,
        unmeasured=sum(d["Source"] == "unmeasured" for d in decisions),
        decisions=decisions,
    )
    if errors:
        raise RuntimeError(f"{len(errors)} Canvas app(s) could not be checked or deleted: {'; '.join(errors)}")
    return decisions


def _delete(sagemaker: Any, key: Mapping[str, str]) -> str:
    """``DeleteApp``; "already-deleted" when it fails because an overlapping check deleted the app first."""
    try:
        sagemaker.delete_app(**key)
        return "deleted"
    except Exception as error:
        if _gone(sagemaker, key):
            logger.info("Canvas app already being deleted", user_profile=key["UserProfileName"], error=str(error))
            return "already-deleted"
        raise


def _gone(sagemaker: Any, key: Mapping[str, str]) -> bool:
    try:
        return sagemaker.describe_app(**key).get("Status") in ("Deleting", "Deleted")
    except Exception as error:  # noqa: BLE001 - only "not found" means gone; anything else keeps the first error
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        return code in ("ResourceNotFound", "ResourceNotFoundException")


def check_event(event: Any) -> None:
    if not isinstance(event, Mapping) or event.get("detail-type") != "Scheduled Event" or event.get("source") != "aws.events":
        raise ValueError(f"expected an EventBridge scheduled event, got {str(event)[:200]!r}")


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    check_event(event)
    now = dt.datetime.now(dt.timezone.utc)
    decisions = shutdown_idle_apps(
        client("sagemaker"),
        client("cloudwatch"),
        os.environ["DOMAIN_ID"],
        int(os.environ["IDLE_LIMIT_SECONDS"]),
        now,
        int(os.environ.get("METRIC_LOOKBACK_SECONDS", "3600")),
        int(os.environ.get("UNMEASURED_LIMIT_SECONDS", str(8 * 3600))),
    )
    return {"deleted": sum(d["Action"] == "deleted" for d in decisions), "checked": len(decisions)}
