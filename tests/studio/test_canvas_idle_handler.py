"""studio_canvas_idle: Canvas apps idle just below the limit stay, just above it are deleted.

CloudWatch is moto (the TimeSinceLastActive datapoints Canvas publishes); SageMaker apps go through Stubber.
"""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from moto import mock_aws

import studio_canvas_idle as idle
from tests.studio.conftest import DOMAIN_ID, REGION

LIMIT = 2 * 3600
NOW = dt.datetime(2030, 1, 6, 12, 0, tzinfo=dt.timezone.utc)


def _app(profile: str, status: str = "InService", app_type: str = "Canvas", created: dt.datetime | None = None) -> dict:
    return {
        "DomainId": DOMAIN_ID,
        "UserProfileName": profile,
        "AppType": app_type,
        "AppName": "default",
        "Status": status,
        "CreationTime": created or NOW - dt.timedelta(hours=5),
    }


def _key(profile: str) -> dict:
    return {"DomainId": DOMAIN_ID, "UserProfileName": profile, "AppType": "Canvas", "AppName": "default"}


@pytest.fixture()
def cloudwatch():  # type: ignore[no-untyped-def]
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def _publish(cloudwatch, profile: str, seconds: float, at: dt.datetime = NOW - dt.timedelta(minutes=2)) -> None:  # type: ignore[no-untyped-def]
    cloudwatch.put_metric_data(
        Namespace=idle.NAMESPACE,
        MetricData=[
            {
                "MetricName": idle.METRIC,
                "Dimensions": [{"Name": "DomainId", "Value": DOMAIN_ID}, {"Name": "UserProfileName", "Value": profile}],
                "Timestamp": at,
                "Value": seconds,
                "Unit": "Seconds",
            }
        ],
    )


def test_apps_just_above_the_limit_are_deleted_and_just_below_kept(sagemaker_stub, cloudwatch) -> None:
    client, stubber = sagemaker_stub
    _publish(cloudwatch, "below", LIMIT - 1)
    _publish(cloudwatch, "above", LIMIT + 1)
    _publish(cloudwatch, "above", 60, at=NOW - dt.timedelta(minutes=30))  # older datapoint: the newest one counts
    stubber.add_response(
        "list_apps",
        {"Apps": [_app("below"), _app("above"), _app("gone", status="Deleted"), _app("lab", app_type="JupyterLab")], "NextToken": "p2"},
        {"DomainIdEquals": DOMAIN_ID, "MaxResults": 100},
    )
    stubber.add_response("list_apps", {"Apps": [_app("pending", status="Pending")]}, {"DomainIdEquals": DOMAIN_ID, "MaxResults": 100, "NextToken": "p2"})
    stubber.add_response("delete_app", {}, _key("above"))
    decisions = idle.shutdown_idle_apps(client, cloudwatch, DOMAIN_ID, LIMIT, NOW)
    assert {d["UserProfileName"]: (d["Action"], d["IdleSeconds"], d["Source"]) for d in decisions} == {
        "below": ("kept", LIMIT - 1, "metric"),
        "above": ("deleted", LIMIT + 1, "metric"),
    }


def test_an_app_exactly_at_the_limit_is_kept(sagemaker_stub, cloudwatch) -> None:
    client, stubber = sagemaker_stub
    _publish(cloudwatch, "edge", LIMIT)
    stubber.add_response("list_apps", {"Apps": [_app("edge")]}, {"DomainIdEquals": DOMAIN_ID, "MaxResults": 100})
    assert idle.shutdown_idle_apps(client, cloudwatch, DOMAIN_ID, LIMIT, NOW)[0]["Action"] == "kept"


def _unmeasured_published(cloudwatch) -> list[float]:  # type: ignore[no-untyped-def]
    result = cloudwatch.get_metric_statistics(
        Namespace=idle.OWN_NAMESPACE, MetricName=idle.UNMEASURED_METRIC, Dimensions=[{"Name": "DomainId", "Value": DOMAIN_ID}],
        StartTime=NOW - dt.timedelta(minutes=5), EndTime=NOW + dt.timedelta(minutes=5), Period=60, Statistics=["Maximum"],
    )
    return [p["Maximum"] for p in result["Datapoints"]]


def test_without_a_metric_an_app_is_deleted_once_older_than_the_unmeasured_limit_and_counted(sagemaker_stub, cloudwatch) -> None:
    # LastUserActivityTimestamp is refreshed by SageMaker's health checks, so it can never show an app idle: the
    # old fallback never deleted. An app without Canvas's metric is bounded by its age instead, and counted.
    client, stubber = sagemaker_stub
    unmeasured_limit = 8 * 3600
    stubber.add_response(
        "list_apps",
        {"Apps": [_app("young", created=NOW - dt.timedelta(seconds=unmeasured_limit - 1)), _app("old", created=NOW - dt.timedelta(seconds=unmeasured_limit + 1))]},
        {"DomainIdEquals": DOMAIN_ID, "MaxResults": 100},
    )
    stubber.add_response("delete_app", {}, _key("old"))
    decisions = idle.shutdown_idle_apps(client, cloudwatch, DOMAIN_ID, LIMIT, NOW, unmeasured_limit_seconds=unmeasured_limit)
    assert [(d["UserProfileName"], d["Action"], d["Source"]) for d in decisions] == [
        ("young", "kept", "unmeasured"),
        ("old", "deleted", "unmeasured"),
    ]
    assert _unmeasured_published(cloudwatch) == [2.0]


def test_a_run_with_every_app_measured_publishes_zero(sagemaker_stub, cloudwatch) -> None:
    client, stubber = sagemaker_stub
    _publish(cloudwatch, "busy", 60)
    stubber.add_response("list_apps", {"Apps": [_app("busy")]}, {"DomainIdEquals": DOMAIN_ID, "MaxResults": 100})
    idle.shutdown_idle_apps(client, cloudwatch, DOMAIN_ID, LIMIT, NOW)
    assert _unmeasured_published(cloudwatch) == [0.0]


def test_a_failed_delete_fails_the_run_after_handling_the_other_apps(sagemaker_stub, cloudwatch) -> None:
    client, stubber = sagemaker_stub
    _publish(cloudwatch, "a", LIMIT + 100)
    _publish(cloudwatch, "b", LIMIT + 100)
    stubber.add_response("list_apps", {"Apps": [_app("a"), _app("b")]}, {"DomainIdEquals": DOMAIN_ID, "MaxResults": 100})
    stubber.add_client_error("delete_app", "ThrottlingException", "slow down")
    stubber.add_response("describe_app", {**_app("a"), "Status": "InService"}, _key("a"))
    stubber.add_response("delete_app", {}, _key("b"))
    with pytest.raises(RuntimeError, match="1 Canvas app"):
        idle.shutdown_idle_apps(client, cloudwatch, DOMAIN_ID, LIMIT, NOW)


@pytest.mark.parametrize(
    "after_failure",
    [
        lambda stubber: stubber.add_response("describe_app", {**_app("a"), "Status": "Deleting"}, _key("a")),
        lambda stubber: stubber.add_response("describe_app", {**_app("a"), "Status": "Deleted"}, _key("a")),
        lambda stubber: stubber.add_client_error("describe_app", "ResourceNotFound", "App does not exist"),
    ],
)
def test_an_app_an_overlapping_check_deleted_first_is_not_an_error(sagemaker_stub, cloudwatch, after_failure) -> None:
    # The function reserves no concurrency (new accounts cannot), so a retried check may run beside the next one.
    client, stubber = sagemaker_stub
    _publish(cloudwatch, "a", LIMIT + 100)
    stubber.add_response("list_apps", {"Apps": [_app("a")]}, {"DomainIdEquals": DOMAIN_ID, "MaxResults": 100})
    stubber.add_client_error("delete_app", "ValidationException", "App is in Deleting status")
    after_failure(stubber)
    [decision] = idle.shutdown_idle_apps(client, cloudwatch, DOMAIN_ID, LIMIT, NOW)
    assert decision["Action"] == "already-deleted"


@pytest.mark.parametrize("event", [{}, {"source": "aws.events"}, {"detail-type": "Scheduled Event", "source": "aws.s3"}, "x"])
def test_anything_but_a_scheduled_event_raises(event) -> None:
    with pytest.raises(ValueError, match="scheduled event"):
        idle.handler(event, None)
