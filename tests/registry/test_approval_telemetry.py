"""What the approval functions log and measure through Powertools: the fields of each log line, the event's
correlation id, the business metrics in CloudWatch's embedded metric format, and never a token, signed link,
secret or request body in any line."""

from __future__ import annotations

import re
import time
import urllib.parse

import approval_api
import approval_notify
import approval_promote as promote
import pytest

from tests.conftest import POWERTOOLS_SERVICE_NAME, emitted, lambda_context, metric_values

CALLER = "arn:aws:iam::123456789012:user/ci"
#: Planted in every request body: a reviewer's comment and name must never reach a log line.
CANARY_COMMENT = "canary-comment-7f3a9c do not log"
CANARY_NAME = "Canary Reviewer 5b2e"


def _out(capsys) -> tuple[str, list[dict], list[dict]]:  # type: ignore[no-untyped-def]
    out = capsys.readouterr().out
    logs, documents = emitted(out)
    return out, logs, documents


def _values(documents: list[dict], name: str) -> list[tuple[dict, float]]:
    return metric_values(documents, name)


def _form_event(registry, resource: str, fields: dict[str, str]) -> dict:  # type: ignore[no-untyped-def]
    return registry.api_event(
        "POST", resource, body=urllib.parse.urlencode(fields), content_type="application/x-www-form-urlencoded"
    )


# ---------------------------------------------------------------- approval API


def test_a_link_decision_logs_its_request_id_and_counts_the_decision_and_its_time(registry, capsys) -> None:
    arn = registry.create_package("churn")
    created = registry.describe(arn)["CreationTime"].timestamp()
    token, jti, _ = registry.issue(arn)
    event = _form_event(registry, "/decision", {"token": token, "decision": "approve", "comment": CANARY_COMMENT, "name": CANARY_NAME})
    before = time.time()

    assert approval_api.handler(event, lambda_context())["statusCode"] == 200

    out, logs, documents = _out(capsys)
    request_id = event["requestContext"]["requestId"]
    assert logs and all(r["correlation_id"] == request_id and r["service"] == POWERTOOLS_SERVICE_NAME for r in logs)
    recorded = next(r for r in logs if r["message"] == "decision recorded")
    assert recorded["level"] == "INFO"
    assert recorded["channel"] == "link" and recorded["jti"] == jti and recorded["model_approval_status"] == "Approved"
    request = next(r for r in logs if r["message"] == "request")
    assert (request["route"], request["method"], request["status"]) == ("/decision", "POST", 200)

    assert _values(documents, "Decisions") == [({"service": POWERTOOLS_SERVICE_NAME, "Outcome": "Approved"}, 1.0)]
    [(dimensions, seconds)] = _values(documents, "TimeToDecision")
    assert dimensions == {"service": POWERTOOLS_SERVICE_NAME}
    assert before - created - 1 <= seconds <= time.time() - created + 1
    for secret in (token, token.split(".")[1], CANARY_COMMENT, CANARY_NAME, registry.secret.decode()):
        assert secret not in out


def test_an_iam_rejection_counts_a_rejected_decision(registry, capsys) -> None:
    arn = registry.create_package("churn")
    event = registry.decisions_event({"modelPackageArn": arn, "decision": "reject", "comment": CANARY_COMMENT}, user_arn=CALLER)

    assert approval_api.handler(event, lambda_context())["statusCode"] == 200

    out, logs, documents = _out(capsys)
    assert _values(documents, "Decisions") == [({"service": POWERTOOLS_SERVICE_NAME, "Outcome": "Rejected"}, 1.0)]
    assert len(_values(documents, "TimeToDecision")) == 1
    assert next(r for r in logs if r["message"] == "decision recorded")["caller"] == CALLER
    assert CANARY_COMMENT not in out and event["body"] not in out


def test_a_refused_or_repeated_decision_counts_nothing(registry, capsys) -> None:
    arn = registry.create_package("churn")
    token, _, _ = registry.issue(arn)
    decide = {"token": token, "decision": "approve"}
    approval_api.handler(_form_event(registry, "/decision", decide), lambda_context())
    capsys.readouterr()

    replay = approval_api.handler(_form_event(registry, "/decision", decide), lambda_context())
    late = approval_api.handler(registry.decisions_event({"modelPackageArn": arn, "decision": "reject"}), lambda_context())

    assert (replay["statusCode"], late["statusCode"]) == (409, 409)
    _, logs, documents = _out(capsys)
    assert _values(documents, "Decisions") == [] and _values(documents, "TimeToDecision") == []
    assert [r["status"] for r in logs if r["message"] == "request"] == [409, 409]


def test_no_log_line_of_any_route_holds_a_token_link_secret_or_body(registry, capsys) -> None:
    pending = registry.create_package("churn")
    token, _, _ = registry.issue(pending)
    expired, _, _ = registry.issue(registry.create_package("churn"), ttl=60, now=time.time() - 3600)
    forged = token[:-4] + "AAAA"
    events = [
        registry.review_event(token),
        registry.review_event(forged),
        registry.review_event(expired),
        _form_event(registry, "/renew", {"token": expired}),
        _form_event(registry, "/decision", {"token": token, "decision": "reject", "comment": CANARY_COMMENT, "name": CANARY_NAME}),
        _form_event(registry, "/decision", {"token": token, "decision": "approve", "comment": CANARY_COMMENT}),
        registry.decisions_event(f'{{"modelPackageArn": "{pending}", "decision": "maybe", "comment": "{CANARY_COMMENT}"}}'),
        registry.api_event("POST", "/decision", body="token=" + token + "&%%%", content_type="application/x-www-form-urlencoded"),
    ]
    for event in events:
        approval_api.handler(event, lambda_context())
    renewed = [m["message"] for m in registry.sent_messages()]
    assert len(renewed) == 1  # the renewal sent a new link to the administrators

    out, logs, _ = _out(capsys)
    new_link = re.search(r"https://\S+/review\?token=\S+", renewed[0]).group(0)
    for secret in (token, forged, expired, new_link, new_link.split("token=")[1], CANARY_COMMENT, CANARY_NAME, registry.secret.decode()):
        assert secret not in out
    for event in events:
        assert event["body"] is None or event["body"] not in out
    assert len([r for r in logs if r["message"] == "request"]) == len(events)
    assert all(set(r) >= {"level", "message", "timestamp", "service", "correlation_id", "function_request_id"} for r in logs)


# ---------------------------------------------------------------- notify


def test_notify_logs_the_event_id_and_never_the_emailed_link(registry, capsys) -> None:
    arn = registry.create_package("churn")
    event = registry.state_change_event(arn)

    assert approval_notify.handler(event, lambda_context())["status"] == "sent"

    out, logs, _ = _out(capsys)
    [message] = registry.sent_messages()
    link = re.search(r"https://\S+/review\?token=\S+", message["message"]).group(0)
    assert link not in out and link.split("token=")[1] not in out
    sent = next(r for r in logs if r["message"] == "review request sent")
    assert sent["level"] == "INFO" and sent["model_package_arn"] == arn and sent["correlation_id"] == event["id"]


def test_a_malformed_event_is_logged_as_an_error_with_its_id(registry, capsys) -> None:
    event = {"id": "1c0ffee0-0000-4000-8000-000000000000", "source": "aws.s3", "detail-type": "Object Created", "detail": {}}
    with pytest.raises(approval_notify.MalformedEvent):
        approval_notify.handler(event, lambda_context())
    _, logs, _ = _out(capsys)
    [error] = [r for r in logs if r["message"] == "malformed event"]
    assert error["level"] == "ERROR" and error["correlation_id"] == event["id"]


# ---------------------------------------------------------------- promote


def test_a_promotion_is_counted_with_the_pending_approvals_of_every_watched_group(registry, capsys) -> None:
    v1 = registry.create_package("churn")
    registry.create_package("churn")  # pending
    registry.create_package("fraud")  # pending, another watched group
    registry.create_package("other")  # pending, not watched
    registry.set_status(v1, "Approved")
    event = registry.state_change_event(v1)

    assert promote.handler(event, lambda_context())["status"] == "updated"

    _, logs, documents = _out(capsys)
    assert _values(documents, "Promotions") == [({"service": POWERTOOLS_SERVICE_NAME}, 1.0)]
    assert _values(documents, "PendingApprovals") == [({"service": POWERTOOLS_SERVICE_NAME}, 2.0)]
    updated = next(r for r in logs if r["message"] == "approved model updated")
    assert updated["level"] == "INFO" and updated["value"] == v1 and updated["correlation_id"] == event["id"]


def test_no_promotion_when_nothing_changes_or_nothing_is_approved_any_more(registry, capsys) -> None:
    v1 = registry.create_package("churn")
    registry.set_status(v1, "Approved")
    promote.handler(registry.state_change_event(v1), lambda_context())
    capsys.readouterr()

    promote.handler(registry.state_change_event(v1), lambda_context())  # duplicate: unchanged
    registry.set_status(v1, "Rejected")
    assert promote.handler(registry.state_change_event(v1), lambda_context())["value"] == promote.NONE

    _, _, documents = _out(capsys)
    assert _values(documents, "Promotions") == []
    assert [v for _, v in _values(documents, "PendingApprovals")] == [0.0, 0.0]


def test_the_schedule_emits_the_pending_gauge_and_a_failed_count_fails_nothing(registry, capsys, monkeypatch) -> None:
    registry.create_package("fraud")
    scheduled = {"id": "5ce0e7c0-sched", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    promote.handler(scheduled, lambda_context())
    _, logs, documents = _out(capsys)
    assert [v for _, v in _values(documents, "PendingApprovals")] == [1.0]
    assert all(r["correlation_id"] == scheduled["id"] for r in logs)

    def broken(groups):  # noqa: ANN001, ANN202
        raise RuntimeError("throttled")

    monkeypatch.setattr(promote, "pending_approvals", broken)
    assert promote.handler(scheduled, lambda_context())["status"] == "reconciled"
    _, logs, documents = _out(capsys)
    assert _values(documents, "PendingApprovals") == []
    assert any(r["message"] == "could not count the pending approvals" and r["level"] == "WARNING" for r in logs)
