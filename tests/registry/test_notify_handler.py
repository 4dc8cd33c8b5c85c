"""notify.handler: one review email per pending model package, never lost, never doubled."""

from __future__ import annotations

from tests.conftest import lambda_context

import copy
import re
import time

import approval_tokens
import approval_common as common
import approval_notify as notify
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

LINK_RE = re.compile(r"(https://\S+?)/review\?token=([A-Za-z0-9_.-]+)")


def only_message(registry) -> dict:
    messages = registry.sent_messages()
    assert len(messages) == 1, messages
    return messages[0]


def test_publishes_one_review_request(registry):
    arn = registry.create_package("churn")
    before = time.time()

    result = notify.handler(registry.state_change_event(arn), lambda_context())

    assert result["status"] == "sent"
    sent = only_message(registry)
    assert sent["subject"] == "Model approval needed: churn v1"
    text = sent["message"]
    for expected in (
        "Model package group: churn",
        "Version: 1",
        f"Package ARN: {arn}",
        "Description: churn model <b>trained</b> & evaluated",
        "fake-user-profile-name",
        "fake-domain-id",
        "ModelQuality.Statistics: s3://metrics/churn/statistics.json",
        "Bias.Report: s3://metrics/churn/bias.json",
        "changes nothing",
    ):
        assert expected in text
    base, token = LINK_RE.search(text).groups()
    assert base == "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
    assert f"{base}/review?token={token}" in text
    assert text.count(token) == 1
    assert registry.secret.decode() not in text
    assert registry.secret_arn not in text

    claims = approval_tokens.verify(registry.secret, token, time.time())
    assert claims.arn == arn
    assert claims.jti == result["jti"]
    assert int(before) + 259200 <= claims.exp <= int(time.time()) + 259200
    assert f"expires at {common.utc_iso(claims.exp)}" in text

    item = registry.item(f"notified#{arn}")
    assert item["state"]["S"] == "sent"
    assert item["jti"]["S"] == claims.jti
    assert int(item["expires_at"]["N"]) > claims.exp


def test_link_has_one_slash_whatever_the_configured_url(registry, monkeypatch):
    monkeypatch.setenv("APPROVAL_URL", "https://abc123.execute-api.us-east-1.amazonaws.com/prod")
    arn = registry.create_package("churn")
    notify.handler(registry.state_change_event(arn), lambda_context())
    assert "https://abc123.execute-api.us-east-1.amazonaws.com/prod/review?token=" in only_message(registry)["message"]
    assert "//review" not in only_message(registry)["message"]


def test_duplicate_event_sends_nothing_more(registry):
    arn = registry.create_package("churn")
    event = registry.state_change_event(arn)

    assert notify.handler(event, lambda_context())["status"] == "sent"
    redelivered = copy.deepcopy(event)
    assert notify.handler(redelivered, lambda_context()) == {"status": "skipped", "reason": "duplicate"}
    # Another event for the same package (e.g. a later status-change echo) is a duplicate too.
    assert notify.handler(registry.state_change_event(arn), lambda_context())["reason"] == "duplicate"

    assert len(registry.sent_messages()) == 1


def test_two_packages_get_two_emails(registry):
    first = registry.create_package("churn")
    second = registry.create_package("churn")
    notify.handler(registry.state_change_event(first), lambda_context())
    notify.handler(registry.state_change_event(second), lambda_context())
    subjects = [m["subject"] for m in registry.sent_messages()]
    assert subjects == ["Model approval needed: churn v1", "Model approval needed: churn v2"]


def test_stale_event_for_an_already_decided_package_sends_nothing(registry):
    arn = registry.create_package("churn")
    stale = registry.state_change_event(arn)  # says PendingManualApproval
    registry.set_status(arn, "Approved")

    assert notify.handler(stale, lambda_context()) == {"status": "skipped", "reason": "not-pending"}
    assert registry.sent_messages() == []
    assert registry.items() == []


def test_package_created_approved_sends_nothing(registry):
    arn = registry.create_package("churn", status="Approved")
    assert notify.handler(registry.state_change_event(arn), lambda_context())["reason"] == "not-pending"
    assert registry.sent_messages() == []


def test_deleted_package_is_skipped(registry):
    arn = registry.create_package("churn")
    event = registry.state_change_event(arn)
    gone = arn[: -len("/1")] + "/9"
    event["detail"]["ModelPackageArn"] = gone
    event["resources"] = [gone]
    assert notify.handler(event, lambda_context()) == {"status": "skipped", "reason": "not-found"}
    assert registry.sent_messages() == []


def test_without_metrics_says_none(registry):
    arn = registry.create_package("churn", metrics=False)
    notify.handler(registry.state_change_event(arn), lambda_context())
    assert "Metrics reports:\n  none\n" in only_message(registry)["message"]


def test_token_ttl_comes_from_the_environment(registry, monkeypatch):
    monkeypatch.setenv("TOKEN_TTL_SECONDS", "600")
    arn = registry.create_package("churn")
    now = time.time()
    notify.handler(registry.state_change_event(arn), lambda_context())
    token = LINK_RE.search(only_message(registry)["message"]).group(2)
    assert int(now) + 600 <= approval_tokens.verify(registry.secret, token, now).exp <= int(time.time()) + 600


def test_subject_fits_sns_limit_for_the_longest_group_name(registry):
    group = "g" + "-a" * 31  # 63 characters, the SageMaker maximum
    arn = registry.create_package(group)
    notify.handler(registry.state_change_event(arn), lambda_context())
    subject = only_message(registry)["subject"]
    assert len(subject) <= 100
    assert subject.startswith("Model approval needed: g-a")


def _mutations():
    def drop(*path):
        def mutate(event):
            target = event
            for key in path[:-1]:
                target = target[key]
            del target[path[-1]]

        return mutate

    def put(value, *path):
        def mutate(event):
            target = event
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value

        return mutate

    return {
        "no detail-type": drop("detail-type"),
        "other detail-type": put("SageMaker Model State Change", "detail-type"),
        "other source": put("custom.app", "source"),
        "no detail": drop("detail"),
        "detail not object": put("oops", "detail"),
        "no arn": drop("detail", "ModelPackageArn"),
        "arn not string": put(42, "detail", "ModelPackageArn"),
        "not a model package arn": put("arn:aws:s3:::bucket/key", "detail", "ModelPackageArn"),
        "unversioned arn": put("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn", "detail", "ModelPackageArn"),
        "arn with trailing newline": put("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/1\n", "detail", "ModelPackageArn"),
        "no group": drop("detail", "ModelPackageGroupName"),
        "bad group": put("churn models", "detail", "ModelPackageGroupName"),
        "arn of another group": put("fraud", "detail", "ModelPackageGroupName"),
    }


@pytest.mark.parametrize("mutation", list(_mutations()))
def test_malformed_event_raises_and_sends_nothing(registry, mutation):
    arn = registry.create_package("churn")
    event = registry.state_change_event(arn)
    _mutations()[mutation](event)
    with pytest.raises(notify.MalformedEvent):
        notify.handler(event, lambda_context())
    assert registry.sent_messages() == []
    assert registry.items() == []


def test_malformed_event_is_a_value_error():
    assert issubclass(notify.MalformedEvent, ValueError)
    with pytest.raises(ValueError):
        notify.parse_event(["not", "an", "event"])


def test_publish_failure_releases_the_claim_and_a_retry_sends(registry, monkeypatch):
    arn = registry.create_package("churn")
    event = registry.state_change_event(arn)
    sns = common.client("sns")

    def failing_publish(**kwargs):
        raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "Publish")

    with monkeypatch.context() as patch:
        patch.setattr(sns, "publish", failing_publish)
        with pytest.raises(ClientError):
            notify.handler(event, lambda_context())
    released = registry.item(f"notified#{arn}")
    assert released["state"]["S"] == "sending" and released["claimed_at"]["N"] == "0"  # free to take at once
    assert registry.sent_messages() == []

    result = notify.handler(event, lambda_context())
    assert result["status"] == "sent"
    assert result["jti"] == released["jti"]["S"]  # the retry sends the request's one token
    assert len(registry.sent_messages()) == 1
    assert registry.item(f"notified#{arn}")["state"]["S"] == "sent"


def test_publish_that_went_out_but_failed_is_retried_with_the_same_link(registry, monkeypatch):
    # A timeout after SNS accepted the message: the retry may repeat the email, never with a second link.
    arn = registry.create_package("churn")
    event = registry.state_change_event(arn)
    sns = common.client("sns")
    real = sns.publish

    def published_then_timed_out(**kwargs):
        real(**kwargs)
        raise ReadTimeoutError(endpoint_url="https://sns.us-east-1.amazonaws.com/")

    with monkeypatch.context() as patch:
        patch.setattr(sns, "publish", published_then_timed_out)
        with pytest.raises(ReadTimeoutError):
            notify.handler(event, lambda_context())
    assert notify.handler(event, lambda_context())["status"] == "sent"
    links = {LINK_RE.search(m["message"]).group(2) for m in registry.sent_messages()}
    assert len(registry.sent_messages()) == 2 and len(links) == 1


def test_claim_of_an_invocation_that_died_is_taken_over_after_the_lease(registry):
    arn = registry.create_package("churn")
    claimed_at = int(time.time()) - notify.CLAIM_LEASE_SECONDS - 5
    registry.ddb.put_item(
        TableName=registry.table_name,
        Item={"pk": {"S": f"notified#{arn}"}, "state": {"S": "sending"}, "claimed_at": {"N": str(claimed_at)}},
    )
    assert notify.handler(registry.state_change_event(arn), lambda_context())["status"] == "sent"
    assert len(registry.sent_messages()) == 1


def test_claim_still_within_its_lease_is_a_duplicate(registry):
    arn = registry.create_package("churn")
    registry.ddb.put_item(
        TableName=registry.table_name,
        Item={"pk": {"S": f"notified#{arn}"}, "state": {"S": "sending"}, "claimed_at": {"N": str(int(time.time()) - 60)}},
    )
    assert notify.handler(registry.state_change_event(arn), lambda_context())["reason"] == "duplicate"
    assert registry.sent_messages() == []


@pytest.mark.parametrize(
    "name, value",
    [("APPROVAL_URL", "http://insecure.example.com/prod"), ("TOKEN_TTL_SECONDS", "0"), ("TOKEN_TTL_SECONDS", "3d")],
)
def test_bad_configuration_fails_before_sending(registry, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    arn = registry.create_package("churn")
    with pytest.raises(common.ConfigError):
        notify.handler(registry.state_change_event(arn), lambda_context())
    assert registry.sent_messages() == []


def _links(registry) -> list[str]:
    return [LINK_RE.search(m["message"]).group(2) for m in registry.sent_messages()]


def test_email_sent_but_not_recorded_is_repeated_with_the_same_link_only(registry, monkeypatch):
    arn = registry.create_package("churn")
    event = registry.state_change_event(arn)
    dynamodb = common.client("dynamodb")
    real = dynamodb.update_item

    def refusing_sent(**kwargs):
        if {"S": "sent"} in (kwargs.get("ExpressionAttributeValues") or {}).values():
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "try later"}}, "UpdateItem")
        return real(**kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(dynamodb, "update_item", refusing_sent)
        assert notify.handler(event, lambda_context())["status"] == "sent"

    # The event comes again after the claim's lease: the email may repeat, but with the one link.
    later = time.time() + notify.CLAIM_LEASE_SECONDS + 5
    notify.notify(notify.parse_event(event), notify.Config.from_env(), later)
    links = _links(registry)
    assert len(set(links)) == 1, links
    assert notify.notify(notify.parse_event(event), notify.Config.from_env(), later)["reason"] == "duplicate"


def _decide(registry, token: str, decision: str) -> int:
    import approval_api

    return approval_api.handler(registry.decision_event({"token": token, "decision": decision}), lambda_context())["statusCode"]


def test_package_taken_back_to_pending_after_its_link_decided_gets_a_new_link(registry):
    arn = registry.create_package("churn")
    assert notify.handler(registry.state_change_event(arn), lambda_context())["status"] == "sent"
    [first] = _links(registry)
    assert _decide(registry, first, "approve") == 200

    registry.set_status(arn, "PendingManualApproval")  # taken back in Studio: it needs a decision again
    pending_again = registry.state_change_event(arn)
    assert notify.handler(pending_again, lambda_context())["status"] == "sent"
    assert notify.handler(pending_again, lambda_context())["reason"] == "duplicate"  # repeated events: one email
    first_again, second = _links(registry)
    assert first_again == first and second != first

    assert _decide(registry, first, "reject") == 409  # the used link stays used
    assert _decide(registry, second, "reject") == 200
    assert registry.status(arn) == "Rejected"


def test_package_taken_back_to_pending_keeps_an_unused_link(registry):
    # Decided through /decisions, then taken back: the emailed link was never used and still decides.
    import approval_api

    arn = registry.create_package("churn")
    notify.handler(registry.state_change_event(arn), lambda_context())
    event = registry.decisions_event({"modelPackageArn": arn, "decision": "approve"})
    assert approval_api.handler(event, lambda_context())["statusCode"] == 200
    registry.set_status(arn, "PendingManualApproval")
    assert notify.handler(registry.state_change_event(arn), lambda_context())["reason"] == "duplicate"
    [link] = _links(registry)
    assert _decide(registry, link, "reject") == 200


def test_package_of_another_account_is_skipped_before_sagemaker(registry, monkeypatch):
    arn = registry.create_package("churn")
    event = registry.state_change_event(arn)
    foreign = arn.replace(":123456789012:", ":999999999999:")
    event["detail"]["ModelPackageArn"] = foreign
    calls = []
    monkeypatch.setattr(common.client("sagemaker"), "describe_model_package", lambda **kw: calls.append(kw))
    assert notify.handler(event, lambda_context()) == {"status": "skipped", "reason": "foreign"}
    assert calls == [] and registry.sent_messages() == []
