"""Scheduled: delete the Canvas apps of one domain that have been idle longer than the limit.

Canvas bills its workspace instance per hour while the app runs, whether anyone uses it or not.

What "idle" means here, exactly:

1. Running apps are those ``ListApps(DomainIdEquals=<domain>)`` returns with ``AppType == "Canvas"`` and
   ``Status == "InService"`` (ListApps cannot filter by type or status; the filter is ours).
2. An app's idle time is the newest ``TimeSinceLastActive`` datapoint (seconds since the user's last activity in
   Canvas) that Canvas publishes to CloudWatch under namespace ``/aws/sagemaker/Canvas/AppActivity`` with
   dimensions ``DomainId`` and ``UserProfileName``, within the last ``METRIC_LOOKBACK_SECONDS``.
3. With no datapoint in that window, the idle time is the time since the later of the app's ``CreationTime`` and
   ``DescribeApp``'s ``LastUserActivityTimestamp``. SageMaker also refreshes that timestamp on health checks, so
   this fallback can only under-estimate idleness: it never deletes an app that is in use.
4. An app idle for *more than* ``IDLE_LIMIT_SECONDS`` is deleted with ``DeleteApp`` (its datasets and models
   stay in S3; the user relaunches Canvas in about a minute).

A malformed event raises (retries, then the on-failure queue); an AWS error on one app is logged and the
others are still handled, then the invocation fails so the error alarm fires.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

LOG = logging.getLogger()
LOG.setLevel(logging.INFO)

NAMESPACE = "/aws/sagemaker/Canvas/AppActivity"
METRIC = "TimeSinceLastActive"
APP_TYPE = "Canvas"

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


def idle_seconds(app: Mapping[str, Any], described: Mapping[str, Any], metric: float | None, now: dt.datetime) -> float:
    """The app's idle time as defined in the module docstring."""
    if metric is not None:
        return metric
    stamps = [t for t in (described.get("LastUserActivityTimestamp"), described.get("CreationTime"), app.get("CreationTime")) if t]
    if not stamps:
        return 0.0
    return max(0.0, (now - max(stamps)).total_seconds())


def shutdown_idle_apps(
    sagemaker: Any, cloudwatch: Any, domain_id: str, limit_seconds: int, now: dt.datetime, lookback: int = 3600
) -> list[dict[str, Any]]:
    """Delete the domain's Canvas apps idle for more than ``limit_seconds``; return one decision per app."""
    decisions: list[dict[str, Any]] = []
    errors: list[str] = []
    for app in running_canvas_apps(sagemaker, domain_id):
        profile, name = app["UserProfileName"], app["AppName"]
        key = {"DomainId": domain_id, "UserProfileName": profile, "AppType": APP_TYPE, "AppName": name}
        try:
            metric = latest_idle_metric(cloudwatch, domain_id, profile, now, lookback)
            described = {} if metric is not None else sagemaker.describe_app(**key)
            idle = idle_seconds(app, described, metric, now)
            action = "deleted" if idle > limit_seconds else "kept"
            if action == "deleted":
                sagemaker.delete_app(**key)
            decisions.append({"UserProfileName": profile, "AppName": name, "IdleSeconds": int(idle), "Action": action,
                              "Source": "metric" if metric is not None else "timestamps"})
        except Exception as error:  # noqa: BLE001 - handle the other apps, then fail the invocation
            LOG.exception("Canvas app of %s", profile)
            errors.append(f"{profile}: {error}")
    LOG.info(json.dumps({"DomainId": domain_id, "LimitSeconds": limit_seconds, "Decisions": decisions}))
    if errors:
        raise RuntimeError(f"{len(errors)} Canvas app(s) could not be checked or deleted: {'; '.join(errors)}")
    return decisions


def check_event(event: Any) -> None:
    if not isinstance(event, Mapping) or event.get("detail-type") != "Scheduled Event" or event.get("source") != "aws.events":
        raise ValueError(f"expected an EventBridge scheduled event, got {str(event)[:200]!r}")


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
    )
    return {"deleted": sum(d["Action"] == "deleted" for d in decisions), "checked": len(decisions)}
