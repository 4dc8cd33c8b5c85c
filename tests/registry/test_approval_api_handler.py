"""approval_api.handler: review page (read-only), signed-link decisions and the IAM decisions API."""

from __future__ import annotations

from tests.conftest import lambda_context

import base64
import hashlib
import json
import re
import time
import unicodedata

import approval_api
import approval_common as common
import approval_pages
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

CSP = approval_pages.CONTENT_SECURITY_POLICY
CALLER = "arn:aws:iam::123456789012:user/ci"
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def call(event):
    return approval_api.handler(event, lambda_context())


def check(registry, response, status, content_type="text/html; charset=utf-8"):
    """Status, security headers, and nothing internal in the body."""
    assert response["statusCode"] == status, response["body"]
    headers = response["headers"]
    assert headers["Content-Type"] == content_type
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == CSP
    # Strict: nothing external; the only script allowed is the page's own inline one, by its hash.
    assert CSP.startswith("default-src 'none';") and "unsafe-eval" not in CSP and "http" not in CSP
    for script in re.findall(r"<script>(.*?)</script>", response["body"], re.S):
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"script-src 'sha256-{digest}'" in CSP
    assert not re.search(r"<(script|link|img|iframe)[^>]*\b(src|href)=", response["body"])
    assert headers["Referrer-Policy"] == "no-referrer"
    body = response["body"]
    for leak in (registry.secret_arn, registry.table_name, registry.secret.decode(), "Traceback", "botocore"):
        assert leak not in body
    return body


@pytest.fixture
def spy_updates(registry, monkeypatch):
    """Records every UpdateModelPackage request the handler makes (and still performs it)."""
    sagemaker = common.client("sagemaker")
    real = sagemaker.update_model_package
    calls: list[dict] = []

    def recording(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(sagemaker, "update_model_package", recording)
    return calls


@pytest.fixture
def pending(registry):
    return registry.create_package("churn")


# ---------------------------------------------------------------- GET /review


def test_review_page_shows_the_package_and_the_decision_form(registry, pending):
    token, jti, exp = registry.issue(pending)
    body = check(registry, call(registry.review_event(token)), 200)

    assert "Review model churn v1" in body and pending in body
    assert "churn model &lt;b&gt;trained&lt;/b&gt; &amp; evaluated" in body
    assert "<b>trained" not in body
    assert "waiting for a decision" in body and "PendingManualApproval" not in body
    assert "fake-user-profile-name" in body
    assert "s3://metrics/churn/statistics.json" in body and "s3://metrics/churn/bias.json" in body
    assert approval_pages.when_text(exp, time.time()).split(" (")[0] in body and " UTC (in " in body
    assert '<form method="post" action="decision">' in body
    assert f'<input type="hidden" name="token" value="{token}">' in body
    assert 'name="comment"' in body and 'maxlength="1000"' in body
    assert 'name="name"' in body and 'maxlength="100"' in body
    assert '<button type="submit" class="approve" name="decision" value="approve">Approve v1</button>' in body
    assert '<button type="submit" class="reject" name="decision" value="reject">Reject v1</button>' in body
    # Pressing Enter in a text field must not approve: the form's default button is disabled.
    first_submit = re.search(r"<button[^>]*>", body).group(0)
    assert "disabled" in first_submit and "approve" not in first_submit


def test_review_fetched_three_times_changes_nothing(registry, pending, spy_updates):
    token, _, _ = registry.issue(pending)
    for _ in range(3):
        check(registry, call(registry.review_event(token)), 200)
    package = registry.describe(pending)
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert "ApprovalDescription" not in package
    assert registry.items() == []
    assert spy_updates == []


@pytest.mark.parametrize(
    "query, status",
    [
        (None, 400),
        ({}, 400),
        ({"token": ""}, 400),
        ({"token": "not-a-token"}, 400),
        ({"token": "a.b.c"}, 400),
        ({"token": "x" * 3000}, 400),
    ],
)
def test_review_without_a_well_formed_token_is_400(registry, pending, query, status):
    event = registry.api_event("GET", "/review", query=query)
    check(registry, call(event), status)


def test_review_with_the_token_twice_is_400(registry, pending):
    token, _, _ = registry.issue(pending)
    event = registry.review_event(token)
    event["multiValueQueryStringParameters"] = {"token": [token, token]}
    check(registry, call(event), 400)


def test_review_with_a_tampered_token_is_403(registry, pending):
    token, _, _ = registry.issue(pending)
    other, _, _ = registry.issue(registry.create_package("churn"))
    forged = token.split(".")[0] + "." + other.split(".")[1]
    check(registry, call(registry.review_event(forged)), 403)


def test_review_with_a_token_signed_by_another_secret_is_403(registry, pending):
    import approval_tokens

    token, _, _ = approval_tokens.issue(b"another-secret-" + b"z" * 40, pending, 3600, time.time())
    check(registry, call(registry.review_event(token)), 403)


def test_review_with_an_expired_token_is_410(registry, pending):
    token, _, _ = registry.issue(pending, ttl=60, now=time.time() - 3600)
    body = check(registry, call(registry.review_event(token)), 410)
    assert "expired" in body.lower() and "still waiting for a decision" in body
    assert 'action="decision"' not in body
    assert '<form method="post" action="renew">' in body  # the version is pending: a new link can be asked for


def test_review_of_a_package_outside_the_watched_groups_is_403(registry, describe_calls):
    outsider = registry.create_package("other")
    token, _, _ = registry.issue(outsider)
    body = check(registry, call(registry.review_event(token)), 403)
    assert outsider not in body
    assert describe_calls == []


def test_review_of_an_unknown_package_is_403(registry, pending):
    token, _, _ = registry.issue(pending.replace("churn/1", "churn/42"))
    check(registry, call(registry.review_event(token)), 403)


def test_review_of_a_package_decided_elsewhere_is_409_with_its_status(registry, pending):
    token, _, _ = registry.issue(pending)
    registry.set_status(pending, "Rejected")
    body = check(registry, call(registry.review_event(token)), 409)
    assert "already decided" in body
    assert "it is rejected" in body and "will not be deployed" in body
    assert "<form" not in body


def test_review_after_the_decision_is_409(registry, pending):
    token, _, _ = registry.issue(pending)
    check(registry, call(registry.decision_event({"token": token, "decision": "approve", "name": "Ada", "comment": "AUC up"})), 200)
    body = check(registry, call(registry.review_event(token)), 409)
    assert "it is approved" in body and "<form" not in body
    # The recorded decision is restated: who, how, when, the comment, and what happens next.
    assert "<th scope=row>Decided by</th><td>Ada</td>" in body
    assert "signed email link" in body and " UTC</td>" in body and "<td>AUC up</td>" in body
    assert "deploys it automatically" in body


def test_review_of_a_used_token_while_still_pending_is_409(registry, pending):
    token, jti, _ = registry.issue(pending)
    registry.ddb.put_item(
        TableName=registry.table_name, Item={"pk": {"S": f"token#{jti}"}, "state": {"S": "used"}}
    )
    body = check(registry, call(registry.review_event(token)), 409)
    assert "already used" in body and 'action="decision"' not in body
    assert 'action="renew"' in body  # still pending: a new link can be asked for
    assert "(less than a minute ago)" in body  # when the version was created, relative to now


# ---------------------------------------------------------------- POST /decision


def test_approve(registry, pending, spy_updates):
    token, jti, exp = registry.issue(pending)
    event = registry.decision_event(
        {"token": token, "decision": "approve", "comment": "Looks good.", "name": "Ada Lovelace"}
    )
    body = check(registry, call(event), 200)
    assert "Model churn v1 approved" in body

    package = registry.describe(pending)
    assert package["ModelApprovalStatus"] == "Approved"
    assert re.fullmatch(
        rf"Approved by Ada Lovelace via signed email link \(token {jti[:8]}, source IP 203\.0\.113\.7\) "
        rf"at {ISO}\. Comment: Looks good\.",
        package["ApprovalDescription"],
    )
    assert [c["ModelApprovalStatus"] for c in spy_updates] == ["Approved"]
    item = registry.item(f"token#{jti}")
    assert item["state"]["S"] == "used"
    assert item["decision"]["S"] == "approve"
    assert int(item["expires_at"]["N"]) == exp + 7 * 24 * 3600


def test_reject_sets_rejected_and_never_approves(registry, pending, spy_updates):
    token, jti, _ = registry.issue(pending)
    body = check(registry, call(registry.decision_event({"token": token, "decision": "reject"})), 200)
    assert "Model churn v1 rejected" in body
    package = registry.describe(pending)
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"].startswith("Rejected by unnamed reviewer via signed email link")
    assert package["ApprovalDescription"].endswith("Comment: -")
    assert [c["ModelApprovalStatus"] for c in spy_updates] == ["Rejected"]


def test_form_body_may_be_plain_text(registry, pending):
    token, _, _ = registry.issue(pending)
    event = registry.decision_event({"token": token, "decision": "approve"}, base64_body=False)
    check(registry, call(event), 200)
    assert registry.status(pending) == "Approved"


def test_replayed_post_is_409_and_changes_nothing(registry, pending, spy_updates):
    token, _, _ = registry.issue(pending)
    check(registry, call(registry.decision_event({"token": token, "decision": "approve", "comment": "first"})), 200)
    before = registry.describe(pending)

    for decision in ("approve", "reject"):
        body = check(registry, call(registry.decision_event({"token": token, "decision": decision})), 409)
        assert "it is approved" in body

    after = registry.describe(pending)
    assert after["ModelApprovalStatus"] == "Approved"
    assert after["ApprovalDescription"] == before["ApprovalDescription"]
    assert len(spy_updates) == 1


def test_replay_while_the_package_is_pending_again_is_409(registry, pending, spy_updates):
    # Someone set the package back to pending by hand: the used link still cannot decide.
    token, _, _ = registry.issue(pending)
    check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 200)
    registry.set_status(pending, "PendingManualApproval")
    body = check(registry, call(registry.decision_event({"token": token, "decision": "reject"})), 409)
    assert "already used" in body
    assert registry.status(pending) == "PendingManualApproval"
    assert len(spy_updates) == 1


def test_token_decides_only_its_own_package(registry):
    a = registry.create_package("churn")
    b = registry.create_package("churn")
    token_a, _, _ = registry.issue(a)

    # The ARN comes only from the token: an extra field naming B is refused outright.
    event = registry.decision_event({"token": token_a, "decision": "approve", "modelPackageArn": b})
    check(registry, call(event), 400)
    assert registry.status(a) == registry.status(b) == "PendingManualApproval"

    check(registry, call(registry.decision_event({"token": token_a, "decision": "approve"})), 200)
    assert registry.status(a) == "Approved"
    assert registry.status(b) == "PendingManualApproval"


def test_token_of_an_already_decided_package_is_409_and_leaves_others_alone(registry, spy_updates):
    a = registry.create_package("churn")
    b = registry.create_package("churn")
    token_a, _, _ = registry.issue(a)
    registry.set_status(a, "Rejected")

    body = check(registry, call(registry.decision_event({"token": token_a, "decision": "approve"})), 409)
    assert "it is rejected" in body
    assert registry.status(a) == "Rejected"
    assert registry.status(b) == "PendingManualApproval"
    assert spy_updates == []
    assert registry.items() == []


def test_expired_token_is_410(registry, pending, spy_updates):
    token, _, _ = registry.issue(pending, ttl=60, now=time.time() - 61)
    check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 410)
    assert registry.status(pending) == "PendingManualApproval"
    assert spy_updates == [] and registry.items() == []


def test_tampered_token_is_403(registry, pending, spy_updates):
    token, _, _ = registry.issue(pending)
    body, sig = token.split(".")
    forged = f"{body}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    check(registry, call(registry.decision_event({"token": forged, "decision": "approve"})), 403)
    assert registry.status(pending) == "PendingManualApproval"
    assert spy_updates == []


def test_package_outside_the_watched_groups_is_403(registry, spy_updates):
    outsider = registry.create_package("other")
    token, _, _ = registry.issue(outsider)
    check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 403)
    assert registry.status(outsider) == "PendingManualApproval"
    assert spy_updates == []


def _form(token, **fields):
    return {"token": token, **fields}


@pytest.mark.parametrize(
    "make_body, base64_body",
    [
        (lambda t: "token=" + t, False),  # no decision
        (lambda t: f"token={t}&decision=", False),
        (lambda t: f"token={t}&decision=APPROVE+", False),  # "APPROVE "
        (lambda t: f"token={t}&decision=Approve", False),
        (lambda t: f"token={t}&decision=approve+", False),
        (lambda t: f"token={t}&decision=yes", False),
        (lambda t: f"token={t}&decision=approve&decision=reject", False),
        (lambda t: f"token={t}&decision=approve&comment=" + "c" * 1001, False),
        (lambda t: f"token={t}&decision=approve&name=" + "n" * 101, False),
        (lambda t: f"token={t}&decision=approve&role=admin", False),
        (lambda t: "decision=approve", False),  # no token
        (lambda t: "token=&decision=approve", False),
        (lambda t: f"token={t}&decision=approve&&", False),
        (lambda t: f"token={t}&decision=approve&comment=%FF", False),  # not UTF-8
        (lambda t: "", False),
        (lambda t: "!!!not base64!!!", True),
        (lambda t: base64.b64encode(b"\xff\xfe\xfd").decode(), True),
    ],
)
def test_malformed_form_is_400(registry, pending, spy_updates, make_body, base64_body):
    token, _, _ = registry.issue(pending)
    event = registry.api_event(
        "POST",
        "/decision",
        body=make_body(token),
        content_type="application/x-www-form-urlencoded",
    )
    event["isBase64Encoded"] = base64_body
    check(registry, call(event), 400)
    assert registry.status(pending) == "PendingManualApproval"
    assert spy_updates == [] and registry.items() == []


def test_form_with_a_json_content_type_is_400(registry, pending):
    token, _, _ = registry.issue(pending)
    event = registry.decision_event({"token": token, "decision": "approve"})
    event["headers"]["Content-Type"] = "application/json"
    check(registry, call(event), 400)
    assert registry.status(pending) == "PendingManualApproval"


def test_missing_body_is_400(registry, pending):
    event = registry.api_event("POST", "/decision", body=None, content_type="application/x-www-form-urlencoded")
    check(registry, call(event), 400)


def test_longest_comment_and_name_fit_the_approval_description(registry, pending):
    token, _, _ = registry.issue(pending)
    comment = "line one\r\nline two\t" + "x" * 982  # 1001 characters as sent, 1000 as typed
    assert len(comment.replace("\r\n", "\n")) == 1000
    event = registry.decision_event({"token": token, "decision": "approve", "comment": comment, "name": "N" * 100})
    check(registry, call(event), 200)
    description = registry.describe(pending)["ApprovalDescription"]
    assert len(description) <= 1024
    assert description.startswith("Approved by " + "N" * 100 + " via signed email link")
    assert "Comment: line one line two " in description
    assert description.endswith("...")
    assert "\n" not in description and "\t" not in description


def test_update_failure_is_503_and_the_link_still_works(registry, pending, monkeypatch):
    token, jti, _ = registry.issue(pending)
    sagemaker = common.client("sagemaker")

    def failing(**kwargs):
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateModelPackage")

    with monkeypatch.context() as patch:
        patch.setattr(sagemaker, "update_model_package", failing)
        body = check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 503)
    assert "slow down" not in body and "Throttling" not in body
    assert registry.item(f"token#{jti}") is None
    assert registry.status(pending) == "PendingManualApproval"

    check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 200)
    assert registry.status(pending) == "Approved"


def test_claim_left_by_a_dead_invocation_is_taken_over_after_the_lease(registry, pending):
    # The invocation died after claiming, before deciding: the package is exactly as it saw it (same fence).
    token, jti, _ = registry.issue(pending)
    stale = int(time.time()) - approval_api.CLAIM_LEASE_SECONDS - 1
    fence = common.package_fingerprint(registry.describe(pending))
    registry.ddb.put_item(
        TableName=registry.table_name,
        Item={
            "pk": {"S": f"token#{jti}"},
            "state": {"S": "claimed"},
            "claimed_at": {"N": str(stale)},
            "fence": {"S": fence},
        },
    )
    check(registry, call(registry.review_event(token)), 200)
    check(registry, call(registry.decision_event({"token": token, "decision": "reject"})), 200)
    assert registry.status(pending) == "Rejected"


def test_claim_in_progress_blocks_a_second_decision(registry, pending, spy_updates):
    token, jti, _ = registry.issue(pending)
    registry.ddb.put_item(
        TableName=registry.table_name,
        Item={"pk": {"S": f"token#{jti}"}, "state": {"S": "claimed"}, "claimed_at": {"N": str(int(time.time()))}},
    )
    check(registry, call(registry.review_event(token)), 409)
    check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 409)
    assert registry.status(pending) == "PendingManualApproval"
    assert spy_updates == []


# ---------------------------------------------------------------- POST /decisions (IAM)


def test_iam_approve(registry, pending):
    event = registry.decisions_event({"modelPackageArn": pending, "decision": "approve", "comment": "ship it"})
    body = check(registry, call(event), 200, "application/json")
    assert json.loads(body) == {"modelPackageArn": pending, "modelApprovalStatus": "Approved"}
    package = registry.describe(pending)
    assert package["ModelApprovalStatus"] == "Approved"
    assert re.fullmatch(
        rf"Approved by {re.escape(CALLER)} via IAM-authenticated API at {ISO}\. Comment: ship it",
        package["ApprovalDescription"],
    )


def test_iam_reject_without_comment(registry, pending, spy_updates):
    event = registry.decisions_event({"modelPackageArn": pending, "decision": "reject"})
    assert json.loads(check(registry, call(event), 200, "application/json"))["modelApprovalStatus"] == "Rejected"
    assert registry.status(pending) == "Rejected"
    assert registry.describe(pending)["ApprovalDescription"].endswith("Comment: -")
    assert [c["ModelApprovalStatus"] for c in spy_updates] == ["Rejected"]


def test_iam_base64_body(registry, pending):
    event = registry.decisions_event({"modelPackageArn": pending, "decision": "approve"})
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    check(registry, call(event), 200, "application/json")
    assert registry.status(pending) == "Approved"


@pytest.mark.parametrize("user_arn", [None, ""])
def test_iam_without_caller_identity_is_400(registry, pending, user_arn):
    event = registry.decisions_event({"modelPackageArn": pending, "decision": "approve"}, user_arn=user_arn)
    assert "message" in json.loads(check(registry, call(event), 400, "application/json"))
    assert registry.status(pending) == "PendingManualApproval"


def test_iam_without_request_context_is_400(registry, pending):
    event = registry.decisions_event({"modelPackageArn": pending, "decision": "approve"})
    del event["requestContext"]
    check(registry, call(event), 400, "application/json")


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        '"approve"',
        json.dumps({"decision": "approve"}),
        json.dumps({"modelPackageArn": "arn:aws:s3:::bucket", "decision": "approve"}),
        json.dumps({"modelPackageArn": "{arn}", "decision": "APPROVE"}),
        json.dumps({"modelPackageArn": "{arn}"}),
        json.dumps({"modelPackageArn": "{arn}", "decision": "approve", "comment": "c" * 1001}),
        json.dumps({"modelPackageArn": "{arn}", "decision": "approve", "comment": 5}),
        json.dumps({"modelPackageArn": "{arn}", "decision": "approve", "status": "Approved"}),
    ],
)
def test_iam_malformed_body_is_400(registry, pending, body):
    event = registry.decisions_event(body.replace("{arn}", pending))
    response = call(event)
    assert "message" in json.loads(check(registry, response, 400, "application/json"))
    assert registry.status(pending) == "PendingManualApproval"


def test_iam_unknown_package_is_404(registry, pending):
    event = registry.decisions_event({"modelPackageArn": pending.replace("churn/1", "churn/7"), "decision": "approve"})
    check(registry, call(event), 404, "application/json")


@pytest.fixture
def describe_calls(registry, monkeypatch):
    sagemaker = common.client("sagemaker")
    real = sagemaker.describe_model_package
    calls: list[str] = []

    def recording(**kwargs):
        calls.append(kwargs["ModelPackageName"])
        return real(**kwargs)

    monkeypatch.setattr(sagemaker, "describe_model_package", recording)
    return calls


def test_iam_package_outside_the_watched_groups_is_404(registry, describe_calls):
    outsider = registry.create_package("other")
    check(registry, call(registry.decisions_event({"modelPackageArn": outsider, "decision": "approve"})), 404, "application/json")
    # The role may describe watched groups only: the group is checked from the ARN first.
    assert describe_calls == []
    assert registry.status(outsider) == "PendingManualApproval"


def test_group_whose_arn_matches_but_whose_name_is_not_watched_is_refused(registry, monkeypatch):
    # Watched names are compared with the real group name too (ARNs lower-case it).
    monkeypatch.setenv("WATCHED_GROUPS", "Churn")
    pending = registry.create_package("churn")
    token, _, _ = registry.issue(pending)
    check(registry, call(registry.review_event(token)), 403)


def test_iam_not_pending_is_409(registry, pending, spy_updates):
    registry.set_status(pending, "Approved")
    event = registry.decisions_event({"modelPackageArn": pending, "decision": "reject"})
    check(registry, call(event), 409, "application/json")
    assert registry.status(pending) == "Approved"
    assert spy_updates == []


def test_iam_update_failure_is_503(registry, pending, monkeypatch):
    def failing(**kwargs):
        raise ClientError({"Error": {"Code": "InternalFailure", "Message": "internal detail"}}, "UpdateModelPackage")

    monkeypatch.setattr(common.client("sagemaker"), "update_model_package", failing)
    body = check(registry, call(registry.decisions_event({"modelPackageArn": pending, "decision": "approve"})), 503, "application/json")
    assert "internal detail" not in body


# ---------------------------------------------------------------- routing and failures


@pytest.mark.parametrize(
    "method, resource, status",
    [
        ("GET", "/", 404),
        ("GET", "/admin", 404),
        ("POST", "/review", 405),
        ("GET", "/decision", 405),
        ("PUT", "/decision", 405),
        ("DELETE", "/decisions", 405),
    ],
)
def test_other_routes(registry, method, resource, status):
    response = call(registry.api_event(method, resource))
    content_type = "application/json" if resource == "/decisions" else "text/html; charset=utf-8"
    check(registry, response, status, content_type)
    if status == 405:
        assert response["headers"]["Allow"] in ("GET", "POST")


def test_unexpected_error_is_a_generic_500(registry, pending, monkeypatch, capsys):
    token, jti, _ = registry.issue(pending)

    def broken(**kwargs):
        raise RuntimeError(f"kaboom {registry.table_name} {registry.secret_arn}")

    monkeypatch.setattr(common.client("sagemaker"), "describe_model_package", broken)
    body = check(registry, call(registry.review_event(token)), 500)
    assert "kaboom" not in body and "RuntimeError" not in body
    body = check(registry, call(registry.decisions_event({"modelPackageArn": pending, "decision": "approve"})), 500, "application/json")
    assert json.loads(body) == {"message": "The request failed. Please try again later."}

    logs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(r["message"] == "unhandled error" and r["error"] == "RuntimeError" for r in logs)
    assert all(token not in json.dumps(r) for r in logs)


def test_missing_configuration_is_a_generic_500(registry, pending, monkeypatch):
    monkeypatch.delenv("WATCHED_GROUPS")
    token, _, _ = registry.issue(pending)
    body = check(registry, call(registry.review_event(token)), 500)
    assert "WATCHED_GROUPS" not in body


def test_logs_name_the_jti_never_the_token_or_the_form(registry, pending, capsys):
    token, jti, _ = registry.issue(pending)
    call(registry.review_event(token))
    call(registry.decision_event({"token": token, "decision": "approve", "comment": "private remark", "name": "Ada"}))
    out = capsys.readouterr().out
    assert jti in out
    assert token not in out and token.split(".")[1] not in out
    assert "private remark" not in out
    for line in out.splitlines():
        json.loads(line)


# ---------------------------------------------------------------- one decision per link, under faults


def _fail_marking(registry, monkeypatch, state: str) -> None:
    """DynamoDB refuses the bookkeeping write that sets a claim to ``state`` (after SageMaker accepted)."""
    dynamodb = common.client("dynamodb")
    real = dynamodb.update_item

    def refusing(**kwargs):
        if {"S": state} in (kwargs.get("ExpressionAttributeValues") or {}).values():
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}}, "UpdateItem")
        return real(**kwargs)

    monkeypatch.setattr(dynamodb, "update_item", refusing)


def test_link_decides_once_even_when_marking_it_used_fails(registry, pending, spy_updates, monkeypatch):
    token, jti, _ = registry.issue(pending)
    with monkeypatch.context() as patch:
        _fail_marking(registry, patch, "used")
        check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 200)
    assert registry.status(pending) == "Approved"

    # Someone takes the package back to pending; long after the claim's lease the same link comes back.
    registry.set_status(pending, "PendingManualApproval")
    later = time.time() + approval_api.CLAIM_LEASE_SECONDS + 1
    check(registry, approval_api.route(registry.review_event(token), later), 409)
    for decision in ("reject", "approve"):
        body = check(registry, approval_api.route(registry.decision_event({"token": token, "decision": decision}), later), 409)
        assert "already used" in body
    assert registry.status(pending) == "PendingManualApproval"
    assert len(spy_updates) == 1


def test_update_timed_out_after_sagemaker_applied_it_is_a_success(registry, pending, monkeypatch):
    token, jti, _ = registry.issue(pending)
    sagemaker = common.client("sagemaker")
    real = sagemaker.update_model_package

    def applied_then_timed_out(**kwargs):
        real(**kwargs)
        raise ReadTimeoutError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com/")

    monkeypatch.setattr(sagemaker, "update_model_package", applied_then_timed_out)
    body = check(registry, call(registry.decision_event({"token": token, "decision": "approve", "name": "Ada"})), 200)
    assert "Model churn v1 approved" in body
    assert registry.status(pending) == "Approved"
    assert registry.describe(pending)["ApprovalDescription"].startswith("Approved by Ada via signed email link")
    assert registry.item(f"token#{jti}")["state"]["S"] == "used"

    other = registry.create_package("churn")
    event = registry.decisions_event({"modelPackageArn": other, "decision": "reject"})
    assert json.loads(check(registry, call(event), 200, "application/json"))["modelApprovalStatus"] == "Rejected"


def test_update_timed_out_before_sagemaker_applied_it_is_503_and_the_link_still_works(registry, pending, monkeypatch):
    token, jti, _ = registry.issue(pending)

    def timed_out(**kwargs):
        raise ReadTimeoutError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com/")

    with monkeypatch.context() as patch:
        patch.setattr(common.client("sagemaker"), "update_model_package", timed_out)
        body = check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 503)
        assert "Nothing was changed" in body
        check(registry, call(registry.decisions_event({"modelPackageArn": pending, "decision": "approve"})), 503, "application/json")
    assert registry.status(pending) == "PendingManualApproval"
    assert registry.item(f"token#{jti}") is None and registry.item(f"package#{pending}") is None
    check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 200)


def test_update_and_read_back_both_failing_is_503_not_confirmed_and_the_link_waits_for_the_lease(
    registry, pending, monkeypatch
):
    token, jti, _ = registry.issue(pending)
    sagemaker = common.client("sagemaker")
    real_describe = sagemaker.describe_model_package
    broken = {"on": False}

    def update(**kwargs):
        broken["on"] = True
        raise ReadTimeoutError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com/")

    def describe(**kwargs):
        if broken["on"]:
            raise ReadTimeoutError(endpoint_url="https://api.sagemaker.us-east-1.amazonaws.com/")
        return real_describe(**kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(sagemaker, "update_model_package", update)
        patch.setattr(sagemaker, "describe_model_package", describe)
        body = check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 503)
    assert "could not be confirmed" in body and "Nothing was changed" not in body
    # Whether it landed is unknown: the link is held for the lease, then free again only if nothing changed.
    check(registry, call(registry.review_event(token)), 409)
    later = time.time() + approval_api.CLAIM_LEASE_SECONDS + 1
    check(registry, approval_api.route(registry.review_event(token), later), 200)
    check(registry, approval_api.route(registry.decision_event({"token": token, "decision": "reject"}), later), 200)
    assert registry.status(pending) == "Rejected"


def test_update_failed_while_studio_decided_is_409_with_that_decision(registry, pending, monkeypatch):
    token, jti, _ = registry.issue(pending)

    def studio_wins(**kwargs):
        registry.set_status(pending, "Rejected")
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateModelPackage")

    monkeypatch.setattr(common.client("sagemaker"), "update_model_package", studio_wins)
    body = check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 409)
    assert "it is rejected" in body
    assert registry.item(f"token#{jti}") is None  # this link decided nothing


# ---------------------------------------------------------------- one decision per package, across channels


def _competing(registry, pending, kind: str) -> dict:
    if kind == "iam":
        return registry.decisions_event(
            {"modelPackageArn": pending, "decision": "reject"}, user_arn="arn:aws:iam::123456789012:user/other"
        )
    other_token, _, _ = registry.issue(pending)  # a second link to the same package
    return registry.decision_event({"token": other_token, "decision": "reject", "name": "Bob"})


@pytest.mark.parametrize("first", ["link", "iam"])
@pytest.mark.parametrize("second", ["link", "iam"])
def test_a_decision_racing_another_in_flight_is_409(registry, pending, spy_updates, monkeypatch, first, second):
    token, _, _ = registry.issue(pending)
    first_event = (
        registry.decision_event({"token": token, "decision": "approve", "name": "Ada"})
        if first == "link"
        else registry.decisions_event({"modelPackageArn": pending, "decision": "approve"})
    )
    second_event = _competing(registry, pending, second)
    sagemaker = common.client("sagemaker")
    recording = sagemaker.update_model_package
    answers: list[dict] = []

    def racing(**kwargs):  # the competitor arrives while the first decision is being written
        if not answers:
            answers.append(call(second_event))
        return recording(**kwargs)

    monkeypatch.setattr(sagemaker, "update_model_package", racing)
    first_answer = call(first_event)

    assert first_answer["statusCode"] == 200
    assert answers[0]["statusCode"] == 409
    assert [c["ModelApprovalStatus"] for c in spy_updates] == ["Approved"]
    package = registry.describe(pending)
    assert package["ModelApprovalStatus"] == "Approved"
    assert "Bob" not in package["ApprovalDescription"] and "user/other" not in package["ApprovalDescription"]


@pytest.mark.parametrize("late", ["link", "iam"])
def test_a_decision_read_before_another_landed_is_409(registry, pending, spy_updates, monkeypatch, late):
    # The late decider reads the package while it is pending; another decision lands before it writes.
    winner = registry.decisions_event({"modelPackageArn": pending, "decision": "approve"})
    late_event = _competing(registry, pending, late)
    sagemaker = common.client("sagemaker")
    real = sagemaker.describe_model_package
    answers: list[dict] = []

    def stale_read(**kwargs):
        snapshot = real(**kwargs)
        if not answers:
            answers.append({})
            answers[0] = call(winner)
        return snapshot

    monkeypatch.setattr(sagemaker, "describe_model_package", stale_read)
    late_answer = call(late_event)

    assert answers[0]["statusCode"] == 200
    assert late_answer["statusCode"] == 409
    if late == "link":  # the page says which decision won: who, how, when
        assert "The recorded decision" in late_answer["body"] and "IAM-authenticated API" in late_answer["body"]
    assert [c["ModelApprovalStatus"] for c in spy_updates] == ["Approved"]
    assert registry.status(pending) == "Approved"


def test_package_taken_back_to_pending_can_be_decided_again_by_another_channel(registry, pending):
    check(registry, call(registry.decisions_event({"modelPackageArn": pending, "decision": "approve"})), 200, "application/json")
    registry.set_status(pending, "PendingManualApproval")
    token, _, _ = registry.issue(pending)
    check(registry, call(registry.decision_event({"token": token, "decision": "reject"})), 200)
    assert registry.status(pending) == "Rejected"


# ---------------------------------------------------------------- audit text and malformed input


@pytest.mark.parametrize(
    "separator",
    ["\u2028", "\u2029", "\x85", "\x0b", "\x1e", "\u200b", "\u202e", "\u2066", "\ufeff", "\u00a0", "\u3000"],
)
def test_audit_text_is_one_visible_line_whatever_the_name_and_comment(registry, separator):
    forged = f"fine{separator}Approved by security-team via IAM-authenticated API at 2026-01-01T00:00:00Z."
    link_package = registry.create_package("churn")
    token, _, _ = registry.issue(link_package)
    fields = {"token": token, "decision": "approve", "name": f"Eve{separator}{separator}", "comment": forged}
    check(registry, call(registry.decision_event(fields)), 200)
    iam_package = registry.create_package("churn")
    check(registry, call(registry.decisions_event({"modelPackageArn": iam_package, "decision": "approve", "comment": forged})), 200, "application/json")

    for arn in (link_package, iam_package):
        description = registry.describe(arn)["ApprovalDescription"]
        assert description.splitlines() == [description]
        assert all(c == " " or unicodedata.category(c)[0] not in "CZ" for c in description), ascii(description)
        assert description.endswith("Comment: fine Approved by security-team via IAM-authenticated API at 2026-01-01T00:00:00Z.")
    assert registry.describe(link_package)["ApprovalDescription"].startswith("Approved by Eve via signed email link")


@pytest.mark.parametrize("resource", ["/decision", "/decisions"])
def test_lone_surrogate_in_the_body_is_400(registry, pending, spy_updates, resource):
    token, _, _ = registry.issue(pending)
    if resource == "/decision":
        event = registry.decision_event({"token": token, "decision": "approve"}, base64_body=False)
        event["body"] += "&comment=\ud800"
        content_type = "text/html; charset=utf-8"
    else:
        event = registry.decisions_event({"modelPackageArn": pending, "decision": "approve"})
        event["body"] = event["body"][:-1] + ', "comment": "\ud800"}'
        content_type = "application/json"
    check(registry, call(event), 400, content_type)
    assert spy_updates == [] and registry.items() == []


def test_escaped_lone_surrogate_in_json_is_400(registry, pending, spy_updates):
    body = json.dumps({"modelPackageArn": pending, "decision": "approve"})[:-1] + ', "comment": "ok \\udc00"}'
    check(registry, call(registry.decisions_event(body)), 400, "application/json")
    assert spy_updates == [] and registry.status(pending) == "PendingManualApproval"


def test_package_the_role_may_not_describe_is_403_not_500(registry, pending, monkeypatch):
    token, _, _ = registry.issue(pending)

    def denied(**kwargs):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}}, "DescribeModelPackage")

    monkeypatch.setattr(common.client("sagemaker"), "describe_model_package", denied)
    check(registry, call(registry.review_event(token)), 403)
    check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 403)
    check(registry, call(registry.decisions_event({"modelPackageArn": pending, "decision": "approve"})), 404, "application/json")
    assert registry.items() == []


@pytest.mark.parametrize(
    "foreign",
    [
        "arn:aws:sagemaker:us-east-1:999999999999:model-package/churn/1",  # another account
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package/churn/1",  # another region
        "arn:aws-cn:sagemaker:us-east-1:123456789012:model-package/churn/1",  # another partition
    ],
)
def test_package_of_another_account_region_or_partition_is_refused_before_sagemaker(registry, pending, describe_calls, spy_updates, foreign):
    token, _, _ = registry.issue(foreign)
    check(registry, call(registry.review_event(token)), 403)
    check(registry, call(registry.decision_event({"token": token, "decision": "approve"})), 403)
    check(registry, call(registry.decisions_event({"modelPackageArn": foreign, "decision": "approve"})), 404, "application/json")
    assert describe_calls == [] and spy_updates == []
    assert registry.status(pending) == "PendingManualApproval"


# ---------------------------------------------------------------- what the reviewer decides on (issue 21)


def test_review_page_shows_metric_values_bounded_and_escaped(registry, pending, reports):
    token, _, _ = registry.issue(pending)
    body = check(registry, call(registry.review_event(token)), 200)
    assert "<h3>Model quality: statistics</h3>" in body
    assert "<th scope=row>auc</th><td>0.9123</td>" in body and "<th scope=row>accuracy</th><td>0.88</td>" in body
    assert "<script>alert" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "confusion_matrix" not in body
    assert "larger than 64 KiB" in body  # the bias report is too big to show: its link stays
    assert 'href="https://s3.console.aws.amazon.com/s3/object/metrics?region=us-east-1&amp;prefix=churn%2Fbias.json"' in body


def test_training_reports_and_reports_elsewhere(registry, pending, reports):
    reports.put_object(
        Bucket="metrics",
        Key="training/job-1/training-report.json",
        Body=json.dumps({"finalMetrics": [{"name": "validation:auc", "value": 0.93}, {"name": "bad", "value": "x"}]}).encode(),
    )
    arn = registry.sm.create_model_package(
        ModelPackageGroupName="churn",
        InferenceSpecification={"Containers": [{"Image": "x"}], "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        ModelApprovalStatus="PendingManualApproval",
        ModelMetrics={
            "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://metrics/training/job-1/training-report.json"}},
            "Bias": {"Report": {"ContentType": "application/json", "S3Uri": "s3://someone-elses-bucket/r.json"}},
        },
    )["ModelPackageArn"]
    token, _, _ = registry.issue(arn)
    body = check(registry, call(registry.review_event(token)), 200)
    assert "<th scope=row>validation:auc</th><td>0.93</td>" in body and "<th scope=row>bad</th>" not in body
    assert "outside the bucket the approval service may read" in body


def test_review_page_says_what_each_button_causes_beside_the_groups_versions(registry):
    v1 = registry.create_package("churn")
    v2 = registry.create_package("churn")
    registry.ssm.put_parameter(Name="/sagemaker-tiers/registry/churn/approved-model", Value=v1, Type="String")
    registry.ssm.put_parameter(Name="/sagemaker-tiers/registry/churn/deployed-model", Value=v1, Type="String")
    token, _, _ = registry.issue(v2)
    body = check(registry, call(registry.review_event(token)), 200)
    assert "<th scope=row>Approved version of churn</th><td>v1</td>" in body
    assert "<th scope=row>Serving version of churn</th><td>v1</td>" in body
    assert "v2 becomes the approved version, replacing v1" in body and "deploys it automatically" in body
    assert "v2 is marked rejected and is never deployed. v1 stays the approved version and keeps serving." in body

    registry.ssm.put_parameter(Name="/sagemaker-tiers/registry/churn/approved-model", Value="NONE", Type="String", Overwrite=True)
    body = check(registry, call(registry.review_event(token)), 200)
    assert "<th scope=row>Approved version of churn</th><td>none</td>" in body
    assert "Nothing else is approved, so nothing is deployed." in body


def test_result_page_restates_the_decision_and_what_happens_next(registry, pending):
    token, _, _ = registry.issue(pending)
    fields = {"token": token, "decision": "approve", "name": "Ada <Lovelace>", "comment": "AUC up & stable"}
    body = check(registry, call(registry.decision_event(fields)), 200)
    assert "Your decision was recorded: churn v1 is now approved." in body
    assert "<th scope=row>Decided by</th><td>Ada &lt;Lovelace&gt;</td>" in body
    assert "<td>AUC up &amp; stable</td>" in body and " UTC</td>" in body
    assert "What happens next" in body and "deploys it automatically" in body
    assert "<form" not in body


def test_page_restored_from_the_back_forward_cache_reloads(registry, pending):
    token, _, _ = registry.issue(pending)
    body = check(registry, call(registry.review_event(token)), 200)
    script = re.search(r"<script>(.*?)</script>", body, re.S).group(1)
    assert "pageshow" in script and "persisted" in script and "location.reload()" in script


# ---------------------------------------------------------------- renewing a link (issue 21)


SOURCE = "198.51.100.9"


def renew_event(registry, token: str, source_ip: str = SOURCE):
    return registry.api_event(
        "POST", "/renew", body=f"token={token}", content_type="application/x-www-form-urlencoded", source_ip=source_ip
    )


def test_expired_link_of_a_pending_version_can_be_renewed_once_per_interval(registry, pending, capsys):
    expired, old_jti, _ = registry.issue(pending, ttl=60, now=time.time() - 3600)
    body = check(registry, call(renew_event(registry, expired)), 200)
    assert "sent to the administrators" in body
    [message] = registry.sent_messages()
    new_token = re.search(r"/review\?token=([A-Za-z0-9_.-]+)", message["message"]).group(1)
    assert new_token not in body  # the requester never gets the link
    assert "A new review link was requested from the review page" in message["message"]
    check(registry, call(registry.review_event(new_token)), 200)

    # Rate-limited per version, and recorded.
    body = check(registry, call(renew_event(registry, expired)), 429)
    assert "Another can be requested from" in body
    assert len(registry.sent_messages()) == 1
    record = registry.item(f"renew#{pending}")
    assert record["state"]["S"] == "renewed"
    assert record["requested_with_jti"]["S"] == old_jti and record["source_ip"]["S"] == SOURCE
    assert record["new_jti"]["S"] == approval_tokens_claims(registry, new_token).jti
    assert any('"review link renewed"' in line for line in capsys.readouterr().out.splitlines())

    later = time.time() + approval_api.RENEW_INTERVAL_SECONDS + 1
    check(registry, approval_api.route(renew_event(registry, expired), later), 200)
    assert len(registry.sent_messages()) == 2


def approval_tokens_claims(registry, token):
    import approval_tokens

    return approval_tokens.verify(registry.secret, token, time.time())


def test_renewing_replaces_an_unused_link_and_never_undoes_a_decision(registry, pending):
    lost, _, _ = registry.issue(pending)
    check(registry, call(renew_event(registry, lost)), 200)
    body = check(registry, call(registry.review_event(lost)), 409)
    assert "replaced by a newer one" in body
    check(registry, call(registry.decision_event({"token": lost, "decision": "approve"})), 409)

    [message] = registry.sent_messages()
    new_token = re.search(r"/review\?token=([A-Za-z0-9_.-]+)", message["message"]).group(1)
    check(registry, call(registry.decision_event({"token": new_token, "decision": "approve"})), 200)
    # Decided: no renewal, and the decision stands.
    later = time.time() + approval_api.RENEW_INTERVAL_SECONDS + 1
    body = check(registry, approval_api.route(renew_event(registry, new_token), later), 409)
    assert "already decided" in body
    assert registry.status(pending) == "Approved" and len(registry.sent_messages()) == 1


@pytest.mark.parametrize(
    "body",
    ["", "token=", "token=a&token=b", "token=x&decision=approve", "name=x"],
)
def test_malformed_renewal_is_400(registry, pending, body):
    event = registry.api_event("POST", "/renew", body=body or None, content_type="application/x-www-form-urlencoded")
    check(registry, call(event), 400)
    assert registry.sent_messages() == []


def test_renewal_with_a_forged_link_is_403(registry, pending):
    token, _, _ = registry.issue(pending)
    body, sig = token.split(".")
    forged = f"{body}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}"
    check(registry, call(renew_event(registry, forged)), 403)
    assert registry.sent_messages() == [] and registry.items() == []


def test_renewal_publish_failure_is_503_and_can_be_retried_at_once(registry, pending, monkeypatch):
    token, _, _ = registry.issue(pending)

    def failing(**kwargs):
        raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "Publish")

    with monkeypatch.context() as patch:
        patch.setattr(common.client("sns"), "publish", failing)
        check(registry, call(renew_event(registry, token)), 503)
    check(registry, call(renew_event(registry, token)), 200)
    assert len(registry.sent_messages()) == 1
