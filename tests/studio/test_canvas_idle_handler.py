"""studio_canvas_idle: Canvas apps idle just below the limit stay, just above it are deleted.

CloudWatch is moto (the TimeSinceLastActive datapoints Canvas publishes); SageMaker apps go through Stubber. The
function's own metrics are embedded-metric-format documents on stdout (Powertools), read back from capsys.
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
import pytest
from moto import mock_aws

import studio_canvas_idle as idle
from tests.conftest import POWERTOOLS_SERVICE_NAME, emitted, lambda_context, metric_values
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


@pytest.fixture(autouse=True)
def _no_metrics_of_other_tests():  # type: ignore[no-untyped-def]
    idle.metrics.clear_metrics()
    yield
    idle.metrics.clear_metrics()


def _emitted(capsys, name: str) -> list[float]:  # type: ignore[no-untyped-def]
    """Values of metric ``name`` the run emitted (flushed here, as the handler's decorator does on return)."""
    idle.metrics.flush_metrics()
    _, documents = emitted(capsys.readouterr().out)
    found = metric_values(documents, name)
    assert all(dims == {"service": POWERTOOLS_SERVICE_NAME, "DomainId": DOMAIN_ID} for dims, _ in found)
    return [value for _, value in found]


def _unmeasured_published(capsys) -> list[float]:  # type: ignore[no-untyped-def]
    return _emitted(capsys, idle.UNMEASURED_METRIC)


def test_without_a_metric_an_app_is_deleted_once_older_than_the_unmeasured_limit_and_counted(sagemaker_stub, cloudwatch, capsys) -> None:
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
    assert _unmeasured_published(capsys) == [2.0]


def test_a_run_with_every_app_measured_publishes_zero(sagemaker_stub, cloudwatch, capsys) -> None:
    client, stubber = sagemaker_stub
    _publish(cloudwatch, "busy", 60)
    stubber.add_response("list_apps", {"Apps": [_app("busy")]}, {"DomainIdEquals": DOMAIN_ID, "MaxResults": 100})
    idle.shutdown_idle_apps(client, cloudwatch, DOMAIN_ID, LIMIT, NOW)
    assert _unmeasured_published(capsys) == [0.0]


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
        idle.handler(event, lambda_context())


def test_idle_shutdowns_count_the_apps_this_run_deleted(sagemaker_stub, cloudwatch, capsys) -> None:
    client, stubber = sagemaker_stub
    for profile, seconds in (("a", LIMIT + 1), ("b", LIMIT + 1), ("c", LIMIT - 1), ("d", LIMIT + 1)):
        _publish(cloudwatch, profile, seconds)
    stubber.add_response("list_apps", {"Apps": [_app(p) for p in "abcd"]}, {"DomainIdEquals": DOMAIN_ID, "MaxResults": 100})
    stubber.add_response("delete_app", {}, _key("a"))
    stubber.add_response("delete_app", {}, _key("b"))
    # d: another, overlapping check deleted it first; not this run's shutdown
    stubber.add_client_error("delete_app", "ValidationException", "App is in Deleting status")
    stubber.add_response("describe_app", {**_app("d"), "Status": "Deleting"}, _key("d"))
    idle.shutdown_idle_apps(client, cloudwatch, DOMAIN_ID, LIMIT, NOW)
    assert _emitted(capsys, idle.SHUTDOWNS_METRIC) == [2.0]


def test_the_handler_logs_with_the_event_id_and_flushes_its_metrics_even_when_an_app_fails(sagemaker_stub, cloudwatch, capsys, monkeypatch) -> None:
    client, stubber = sagemaker_stub
    _publish(cloudwatch, "a", LIMIT + 100)
    _publish(cloudwatch, "b", LIMIT + 100)
    stubber.add_response("list_apps", {"Apps": [_app("a"), _app("b")]}, {"DomainIdEquals": DOMAIN_ID, "MaxResults": 100})
    stubber.add_client_error("delete_app", "ThrottlingException", "slow down")
    stubber.add_response("describe_app", {**_app("a"), "Status": "InService"}, _key("a"))
    stubber.add_response("delete_app", {}, _key("b"))
    monkeypatch.setattr(idle, "_clients", {"sagemaker": client, "cloudwatch": cloudwatch})
    monkeypatch.setattr(idle.dt, "datetime", type("FixedNow", (dt.datetime,), {"now": staticmethod(lambda tz=None: NOW)}))
    for name, value in {"DOMAIN_ID": DOMAIN_ID, "IDLE_LIMIT_SECONDS": str(LIMIT)}.items():
        monkeypatch.setenv(name, value)
    event = {"id": "5f1e0d9c-event-id", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}

    with pytest.raises(RuntimeError, match="1 Canvas app"):
        idle.handler(event, lambda_context())

    logs, documents = emitted(capsys.readouterr().out)
    assert [v for _, v in metric_values(documents, idle.SHUTDOWNS_METRIC)] == [1.0]
    failure = next(r for r in logs if r["message"] == "Canvas app could not be checked or deleted")
    assert failure["level"] == "ERROR" and failure["user_profile"] == "a" and "ThrottlingException" in failure["exception"]
    summary = next(r for r in logs if r["message"] == "Canvas idle check")
    assert summary["level"] == "INFO" and summary["domain_id"] == DOMAIN_ID
    assert all(r["correlation_id"] == event["id"] and r["service"] == POWERTOOLS_SERVICE_NAME for r in logs)
    assert all(json.dumps(r) for r in logs)
