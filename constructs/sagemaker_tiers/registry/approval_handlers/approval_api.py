"""Approval API: review pages and decisions for model packages pending manual approval.

API Gateway REST API, Lambda proxy integration (payload format 1.0).

Environment:
- SECRET_ARN: Secrets Manager secret whose SecretString signs the review tokens.
- TABLE_NAME: DynamoDB table (partition key ``pk`` (S), TTL attribute ``expires_at``).
- WATCHED_GROUPS: comma-separated model package group names; any other package is unknown.
- MODEL_PACKAGE_ARN_PREFIX: ``arn:<partition>:sagemaker:<region>:<account>:model-package/`` of the
  function's own account; a package ARN outside it is refused before any SageMaker call.

Routes:
- ``GET /review?token=...``: read-only page about the package the token is bound to, with the
  decision form while the package is PendingManualApproval and the token unused.
  400 missing/malformed token, 403 bad signature or unknown package, 410 expired,
  409 already decided or token already used.
- ``POST /decision``: the form (``application/x-www-form-urlencoded``: token, decision,
  comment, name). The model package ARN comes only from the signed token.
- ``POST /decisions``: IAM-authorized JSON API for programs (the caller is
  ``requestContext.identity.userArn``).
- ``POST /renew``: the form on the "expired" and "already used" pages (token only): sends the
  administrators a new link for a version still pending, at most once per version every
  ``RENEW_INTERVAL_SECONDS`` (429 otherwise), recorded in ``renew#<arn>``; see :func:`renew`.

More environment (the review page and renewals): PARAMETER_PREFIX (the group's approved-model and
deployed-model parameters), METRICS_BUCKET (optional: the bucket whose metrics reports the page may read),
TOPIC_ARN, APPROVAL_URL and TOKEN_TTL_SECONDS (as the notify function's, for renewed links).

One decision per link and per package (see :func:`decide` and ``approval_common``'s claims):
- The link's claim ``token#<jti>`` is taken with a conditional write before deciding. It is fenced with
  the package's fingerprint: a claim left by an invocation that died is taken over only while the package
  is unchanged (that invocation provably decided nothing); once the package changed, the link is spent,
  even when writing "used" failed.
- Both channels then take the package's lock ``package#<arn>``; only the winner calls
  UpdateModelPackage, a competing decision gets 409.
- When UpdateModelPackage fails, the package is read back and the answer tells the truth: 200 if the
  decision landed (e.g. a read timeout after SageMaker applied it), 503 "nothing was changed" (claims
  released, the link still works) if the package is unchanged, 409 if it was decided elsewhere, and 503
  "could not be confirmed" (claims kept for their lease) if it cannot be read.

Every response carries no-store, nosniff, a restrictive CSP, no-referrer and DENY framing.
Errors never include exception text; unexpected ones are logged and answered with 500.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import os
import time
import uuid
import unicodedata
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import approval_common as common
import approval_facts
import approval_notify
import approval_pages as pages
import approval_tokens
from approval_common import logger, metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric

COMMENT_MAX = 1000
NAME_MAX = 100
BODY_MAX_BYTES = 16 * 1024
APPROVAL_DESCRIPTION_MAX = 1024
RECORD_RETENTION_SECONDS = 7 * 24 * 3600
# A claim older than this belongs to an invocation that died (the function times out after 25 s).
CLAIM_LEASE_SECONDS = common.TOKEN_LEASE_SECONDS

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": pages.CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json"

_DECISIONS = {"approve": common.APPROVED, "reject": common.REJECTED}
_FORM_FIELDS = frozenset({"token", "decision", "comment", "name"})
_JSON_FIELDS = frozenset({"modelPackageArn", "decision", "comment"})
_ROUTES = {"/review": "GET", "/decision": "POST", "/decisions": "POST", "/renew": "POST"}
# A version's review link can be renewed once per this interval (the request is recorded either way).
RENEW_INTERVAL_SECONDS = 15 * 60


class HttpError(Exception):
    """An expected refusal: rendered as a small page (browser routes) or ``{"message"}`` JSON."""

    def __init__(self, status: int, title: str, message: str, extra_html: str = "") -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message
        self.extra_html = extra_html


@dataclass(frozen=True)
class Config:
    secret_arn: str
    table_name: str
    watched_groups: frozenset[str]
    arn_prefix: str
    parameter_prefix: str
    metrics_bucket: str | None

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            secret_arn=common.require_env("SECRET_ARN"),
            table_name=common.require_env("TABLE_NAME"),
            watched_groups=common.watched_groups(),
            arn_prefix=common.own_model_package_prefix(),
            parameter_prefix=common.require_env("PARAMETER_PREFIX").rstrip("/"),
            metrics_bucket=os.environ.get("METRICS_BUCKET", "").strip() or None,
        )


@dataclass(frozen=True)
class DecisionForm:
    token: str
    decision: str
    comment: str
    name: str


@dataclass(frozen=True)
class DecisionRequest:
    model_package_arn: str
    decision: str
    comment: str


# ---------------------------------------------------------------- responses


def _response(status: int, body: str, content_type: str, extra_headers: dict[str, str] | None = None) -> dict:
    headers = {"Content-Type": content_type, **SECURITY_HEADERS, **(extra_headers or {})}
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


def html_response(status: int, title: str, message: str, extra_html: str = "", headers: dict | None = None) -> dict:
    return _response(status, pages.message_page(title, message, extra_html), HTML_TYPE, headers)


def json_response(status: int, payload: dict[str, Any], headers: dict | None = None) -> dict:
    return _response(status, json.dumps(payload), JSON_TYPE, headers)


# ---------------------------------------------------------------- pure helpers


# Unicode general categories that must not reach the one-line audit text: controls (Cc, line breaks
# included), format characters (Cf: bidirectional overrides, zero-width characters), surrogates (Cs),
# private-use (Co) and unassigned (Cn) code points, and the line and paragraph separators (Zl U+2028,
# Zp U+2029). Other space separators (Zs: no-break, ideographic, em spaces...) become a plain space.
_NOT_IN_AUDIT_TEXT = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


def clean_text(text: str) -> str:
    """One line of visible text: every character of ``_NOT_IN_AUDIT_TEXT`` becomes a space, runs of spaces
    collapse to one. ApprovalDescription is one audit line that nobody can split into forged extra lines."""
    replaced = "".join(" " if unicodedata.category(c) in _NOT_IN_AUDIT_TEXT else c for c in text)
    return " ".join(replaced.split())


def approval_description(status: str, actor: str, channel: str, when: float, comment: str) -> str:
    """``"<status> by <actor> via <channel> at <time>. Comment: <comment>"``, at most 1024 characters."""
    prefix = f"{status} by {actor} via {channel} at {common.utc_iso(when)}. Comment: "
    comment = clean_text(comment) or "-"
    text = prefix + comment
    if len(text) > APPROVAL_DESCRIPTION_MAX:
        text = text[: APPROVAL_DESCRIPTION_MAX - 3] + "..."
    return text


def link_approval_description(status: str, name: str, jti: str, source_ip: str, when: float, comment: str) -> str:
    actor = clean_text(name) or "unnamed reviewer"
    channel = f"signed email link (token {jti[:8]}, source IP {source_ip})"
    return approval_description(status, actor, channel, when, comment)


def _header(event: dict, name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value if isinstance(value, str) else None
    return None


def _raw_body(event: dict) -> str:
    """The request body as text (base64-decoded when API Gateway encoded it); HttpError 400 otherwise."""
    body = event.get("body")
    if not isinstance(body, str) or not body:
        raise HttpError(400, "Request not understood", "The request has no body.")
    if len(body) > BODY_MAX_BYTES * 2:
        raise HttpError(400, "Request not understood", "The request body is too large.")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "Request not understood", "The request body could not be decoded.") from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: not text in any encoding
            raise HttpError(400, "Request not understood", "The request body is not valid text.") from None
    if len(raw) > BODY_MAX_BYTES:
        raise HttpError(400, "Request not understood", "The request body is too large.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(400, "Request not understood", "The request body is not UTF-8.") from None


def parse_form(event: dict) -> DecisionForm:
    """The decision form of a ``POST /decision`` event; HttpError 400 when anything is off."""
    content_type = _header(event, "content-type")
    if content_type is not None and content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HttpError(400, "Request not understood", "The form must be sent as application/x-www-form-urlencoded.")
    text = _raw_body(event)
    try:
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=len(_FORM_FIELDS)
        )
    except ValueError:
        raise HttpError(400, "Request not understood", "The form could not be read.") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key not in _FORM_FIELDS or key in fields:
            raise HttpError(400, "Request not understood", "The form has unexpected or repeated fields.")
        fields[key] = value.replace("\r\n", "\n")
    token = fields.get("token", "")
    decision = fields.get("decision", "")
    comment = fields.get("comment", "")
    name = fields.get("name", "")
    if not token:
        raise HttpError(400, "Request not understood", "The form has no token.")
    if decision not in _DECISIONS:
        raise HttpError(400, "Request not understood", "The decision must be approve or reject.")
    if len(comment) > COMMENT_MAX:
        raise HttpError(400, "Request not understood", f"The comment is longer than {COMMENT_MAX} characters.")
    if len(name) > NAME_MAX:
        raise HttpError(400, "Request not understood", f"The name is longer than {NAME_MAX} characters.")
    return DecisionForm(token=token, decision=decision, comment=comment, name=name)


def parse_decision_request(event: dict) -> DecisionRequest:
    """The JSON body of a ``POST /decisions`` event; HttpError 400 when anything is off."""
    try:
        payload = json.loads(_raw_body(event))
    except ValueError:
        raise HttpError(400, "Request not understood", "The body is not valid JSON.") from None
    if not isinstance(payload, dict) or not set(payload) <= _JSON_FIELDS:
        raise HttpError(400, "Request not understood", f"The body must be an object with the fields {sorted(_JSON_FIELDS)}.")
    arn = payload.get("modelPackageArn")
    decision = payload.get("decision")
    comment = payload.get("comment")
    if not isinstance(arn, str) or not common.MODEL_PACKAGE_ARN_RE.match(arn):
        raise HttpError(400, "Request not understood", "modelPackageArn must be a versioned model package ARN.")
    if not isinstance(decision, str) or decision not in _DECISIONS:
        raise HttpError(400, "Request not understood", "decision must be approve or reject.")
    if comment is None:
        comment = ""
    if not isinstance(comment, str) or len(comment) > COMMENT_MAX:
        raise HttpError(400, "Request not understood", f"comment must be a string of at most {COMMENT_MAX} characters.")
    if not _is_text(comment):
        # JSON can escape a lone surrogate ("\\ud800"), which is no character and cannot be stored as UTF-8.
        raise HttpError(400, "Request not understood", "comment must be valid Unicode text.")
    return DecisionRequest(model_package_arn=arn, decision=decision, comment=comment)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _single_query_value(event: dict, name: str) -> str:
    multi = (event.get("multiValueQueryStringParameters") or {}).get(name)
    if isinstance(multi, list) and len(multi) > 1:
        raise HttpError(400, "Request not understood", "The link is not valid.")
    value = (event.get("queryStringParameters") or {}).get(name)
    if not isinstance(value, str) or not value:
        raise HttpError(400, "Request not understood", "The link has no token.")
    return value


# ---------------------------------------------------------------- AWS steps


def _verify_token(token: str, config: Config, now: float, *, allow_expired: bool = False) -> approval_tokens.Claims:
    try:
        return approval_tokens.verify(approval_tokens.load_secret(config.secret_arn), token, now, allow_expired=allow_expired)
    except approval_tokens.MalformedToken:
        raise HttpError(400, "Request not understood", "The link is not valid.") from None
    except approval_tokens.BadSignature:
        raise HttpError(403, "Link not valid", _NOT_VALID) from None
    except approval_tokens.Expired:
        raise _expired(token, config, now) from None


_NOT_DESCRIBABLE = frozenset({"ValidationException", "ResourceNotFound", "AccessDeniedException", "AccessDenied"})


def describe_watched(arn: str, config: Config) -> dict[str, Any] | None:
    """DescribeModelPackage, or None when the package is not one this API decides about.

    Checked from the ARN first, so no request is made for a package the function's role may not describe:
    its partition, region and account must be the function's own (``config.arn_prefix``) and its group one of
    WATCHED_GROUPS (SageMaker lower-cases the group in ARNs). A package SageMaker says does not exist, or that
    the role may not describe (AccessDenied), is not ours either: the caller answers 403/404, not 500.
    """
    match = common.MODEL_PACKAGE_ARN_RE.match(arn)
    if not match or not arn.startswith(config.arn_prefix):
        return None
    if match.group("group").lower() not in {g.lower() for g in config.watched_groups}:
        return None
    try:
        package = common.client("sagemaker").describe_model_package(ModelPackageName=arn)
    except Exception as exc:
        code = common.error_code(exc)
        if code in _NOT_DESCRIBABLE:
            logger.warning("model package not describable", model_package_arn=arn, error=code)
            return None
        raise
    if package.get("ModelPackageGroupName") not in config.watched_groups:
        return None
    return package


def _already_decided(package: dict[str, Any], now: float) -> HttpError:
    label = pages.label_of(package)
    status = pages.plain_status(package.get("ModelApprovalStatus"))
    return HttpError(409, "Already decided", f"Model {label} was already decided: it is {status}.", pages.decided_html(package, now))


def _renewable(package: dict[str, Any] | None, token: str) -> str:
    """The "send a new link" form, for a version still waiting for a decision."""
    return pages.renew_form(token) if package and package.get("ModelApprovalStatus") == common.PENDING else ""


def _expired(token: str, config: Config, now: float) -> HttpError:
    claims = approval_tokens.verify(approval_tokens.load_secret(config.secret_arn), token, now, allow_expired=True)
    package = describe_watched(claims.arn, config)
    if package is None:
        return HttpError(403, "Link not valid", _NOT_VALID)
    if package.get("ModelApprovalStatus") != common.PENDING:
        return _already_decided(package, now)
    return HttpError(
        410,
        "Link expired",
        f"This review link expired on {pages.when_text(claims.exp, now)}. Model {pages.label_of(package)} is still "
        "waiting for a decision.",
        _renewable(package, token),
    )


def _link_spent(token: str, package: dict[str, Any], reason: str, now: float) -> HttpError:
    return HttpError(409, "Link already used", reason, _renewable(package, token) + pages.package_table(pages.Facts(package, now)))


def _facts(package: dict[str, Any], config: Config, now: float) -> pages.Facts:
    return pages.Facts(
        package=package,
        now=now,
        group=approval_facts.group_state(config.parameter_prefix, package.get("ModelPackageGroupName", "")),
        reports=approval_facts.reports(package, config.metrics_bucket),
    )


def review(event: dict, config: Config, now: float) -> dict:
    token = _single_query_value(event, "token")
    claims = _verify_token(token, config, now)
    package = describe_watched(claims.arn, config)
    if package is None:
        raise HttpError(403, "Link not valid", _NOT_VALID)
    if package.get("ModelApprovalStatus") != common.PENDING:
        raise _already_decided(package, now)
    item = (
        common.client("dynamodb")
        .get_item(TableName=config.table_name, Key={"pk": {"S": f"token#{claims.jti}"}}, ConsistentRead=True)
        .get("Item")
    )
    if common.link_state(item, package, now) != "free":
        raise _link_spent(token, package, _spent_reason(item), now)
    logger.info("review page shown", jti=claims.jti, model_package_arn=claims.arn)
    return _response(200, pages.review_page(_facts(package, config, now), token, claims.exp), HTML_TYPE)


def _spent_reason(item: dict[str, Any] | None) -> str:
    if item and (item.get("state") or {}).get("S") == "superseded":
        return "This review link was replaced by a newer one, sent to the administrators."
    return "This review link was already used for a decision."


def _update_package(arn: str, status: str, description: str) -> None:
    common.client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description
    )


# What _decide found out. APPLIED: the decision is in SageMaker. CONFLICT: another decision about the package
# holds its lock (nothing was sent). NOT_APPLIED: SageMaker has not changed (read back after a failure).
# DECIDED_ELSEWHERE: the package changed, but not to this decision. UNKNOWN: the update failed and the read-back
# too; the locks stay held, so the lease and the fence decide later.
APPLIED, CONFLICT, NOT_APPLIED, DECIDED_ELSEWHERE, UNKNOWN = (
    "applied", "conflict", "not-applied", "decided-elsewhere", "unknown"
)


@dataclass(frozen=True)
class Outcome:
    result: str
    package: dict[str, Any] | None = None


def _read_back(arn: str) -> dict[str, Any] | None:
    try:
        return common.client("sagemaker").describe_model_package(ModelPackageName=arn)
    except Exception as exc:
        logger.error("could not read the package back", model_package_arn=arn, error=type(exc).__name__)
        return None


def decide(config: Config, package: dict[str, Any], status: str, description: str, record: dict, now: float) -> Outcome:
    """Apply one decision about a pending ``package`` under its per-package lock, and find out what happened.

    The lock ``package#<arn>`` serializes every channel of this API (links and ``/decisions``): it is taken
    with a conditional write when no other decision holds it, or when the decision that holds it is done and
    the package changed since (it went back to pending: a new round), or when its holder's lease expired.
    Its fence is the package's fingerprint as described before deciding, so a decider that read the package
    before another decision landed cannot take it ("decided" with the same fence). Only the winner calls
    UpdateModelPackage; the other answers 409, so the audit trail (ApprovalDescription) shows one decision.

    When UpdateModelPackage fails (an error, a timeout: the SDK may have retried a request that was applied),
    the package is read back: it holds this decision -> APPLIED; it is still pending and unchanged ->
    NOT_APPLIED (the lock is released); it changed otherwise -> DECIDED_ELSEWHERE; it cannot be read -> UNKNOWN.
    """
    arn = package["ModelPackageArn"]
    fence = common.package_fingerprint(package)
    allow, values = common.lease_expired("deciding", CLAIM_LEASE_SECONDS, now)
    lock = common.claim(
        config.table_name,
        f"package#{arn}",
        state="deciding",
        now=now,
        attributes={**record, "fence": {"S": fence}, "expires_at": {"N": str(int(now) + RECORD_RETENTION_SECONDS)}},
        allow=f"{allow} OR (#s = :decided AND fence <> :fence)",
        values={**values, ":decided": {"S": "decided"}, ":fence": {"S": fence}},
    )
    if lock is None:
        logger.info("another decision holds the package", model_package_arn=arn)
        return Outcome(CONFLICT)
    try:
        _update_package(arn, status, description)
    except Exception as exc:
        logger.error("UpdateModelPackage failed; reading the package back", model_package_arn=arn, error=type(exc).__name__)
        after = _read_back(arn)
        if after is None:
            return Outcome(UNKNOWN)
        if after.get("ModelApprovalStatus") == status and after.get("ApprovalDescription") == description:
            logger.info("the failed request was applied", model_package_arn=arn)
        elif after.get("ModelApprovalStatus") == common.PENDING and common.package_fingerprint(after) == fence:
            _best_effort(common.release, lock, "could not release the package lock")
            return Outcome(NOT_APPLIED)
        else:
            _best_effort(lambda held: common.finish(held, "decided"), lock, "could not mark the package lock decided")
            return Outcome(DECIDED_ELSEWHERE, after)
    _best_effort(
        lambda held: common.finish(held, "decided", {"decided_at": {"N": str(int(now))}}),
        lock,
        "could not mark the package lock decided",
    )
    _count_decision(package, status, now)
    return Outcome(APPLIED)


def _count_decision(package: dict[str, Any], status: str, now: float) -> None:
    """The business metrics of an applied decision (embedded metric format, namespace and ``service`` dimension
    from the environment): ``Decisions`` (1, dimension ``Outcome`` = Approved or Rejected; printed at once, as its
    dimensions differ from the rest) and ``TimeToDecision``, the seconds since the package's registration
    (its CreationTime), flushed with the invocation's other metrics."""
    with single_metric(name="Decisions", unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="Outcome", value=status)
    created = package.get("CreationTime")
    if isinstance(created, datetime):
        registered = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
        metrics.add_metric(name="TimeToDecision", unit=MetricUnit.Seconds, value=max(0.0, now - registered.timestamp()))


def _best_effort(step: Any, held: common.Claim, failure: str) -> None:
    """A bookkeeping write after the outcome is known: a failure is logged, the lease and fence cover it."""
    try:
        step(held)
    except Exception as exc:
        logger.warning(failure, pk=held.pk.split("#")[0], error=type(exc).__name__)


def decide_by_link(event: dict, config: Config, now: float) -> dict:
    form = parse_form(event)
    claims = _verify_token(form.token, config, now)
    package = describe_watched(claims.arn, config)
    if package is None:
        raise HttpError(403, "Link not valid", _NOT_VALID)
    if package.get("ModelApprovalStatus") != common.PENDING:
        raise _already_decided(package, now)

    # The link's claim is fenced: a claim whose holder died is taken over only while the package is exactly as
    # that holder saw it, i.e. when the holder provably decided nothing. Once "used" it never reopens.
    fence = common.package_fingerprint(package)
    allow, values = common.lease_expired("claimed", CLAIM_LEASE_SECONDS, now, fence=fence)
    token = common.claim(
        config.table_name,
        f"token#{claims.jti}",
        state="claimed",
        now=now,
        attributes={
            "arn": {"S": claims.arn},
            "decision": {"S": form.decision},
            "fence": {"S": fence},
            "expires_at": {"N": str(claims.exp + RECORD_RETENTION_SECONDS)},
        },
        allow=allow,
        values=values,
    )
    if token is None:
        logger.info("token replayed", jti=claims.jti, model_package_arn=claims.arn)
        item = (
            common.client("dynamodb")
            .get_item(TableName=config.table_name, Key={"pk": {"S": f"token#{claims.jti}"}}, ConsistentRead=True)
            .get("Item")
        )
        raise _link_spent(form.token, package, _spent_reason(item), now)

    status = _DECISIONS[form.decision]
    source_ip = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "unknown"
    description = link_approval_description(status, form.name, claims.jti, source_ip, now, form.comment)
    label = pages.label_of(package)
    outcome = decide(config, package, status, description, {"channel": {"S": "link"}, "jti": {"S": claims.jti}}, now)
    if outcome.result == UNKNOWN:
        # The link stays claimed: if the decision did not land, the link works again after the lease.
        raise HttpError(503, "Not confirmed", _UNCONFIRMED.format(label=label))
    if outcome.result != APPLIED:
        _best_effort(common.release, token, "could not release the token")
        if outcome.result == CONFLICT:
            # Say what the other decision was, once it has landed (it may still be being written).
            winner = _read_back(claims.arn)
            shown = pages.decided_html(winner, now) if winner and winner.get("ModelApprovalStatus") != common.PENDING else ""
            raise HttpError(409, "Not applied", _CONFLICT.format(label=label), shown)
        if outcome.result == DECIDED_ELSEWHERE:
            raise _already_decided(outcome.package or package, now)
        raise HttpError(
            503, "Try again later", "The decision could not be recorded. Nothing was changed; please try again."
        )

    # A failure to mark the link used is covered by the fence: the package has changed, so no takeover.
    _best_effort(
        lambda held: common.finish(held, "used", {"decided_at": {"N": str(int(now))}}), token, "could not mark the token used"
    )
    logger.info(
        "decision recorded",
        channel="link",
        jti=claims.jti,
        model_package_arn=claims.arn,
        model_approval_status=status,
        source_ip=source_ip,
    )
    decided = {**package, "ModelApprovalStatus": status, "ApprovalDescription": description}
    return _response(200, pages.result_page(pages.Facts(decided, now), status), HTML_TYPE)


_NOT_VALID = (
    "This link is not valid: it was changed, or it is for a model this approval service does not handle. "
    "Open the link from the email again, or ask the administrators."
)
_UNCONFIRMED = (
    "The decision about model {label} was sent, but it could not be confirmed whether it was recorded. "
    "Open the review link again in a few minutes to see the model's current status."
)
_CONFLICT = (
    "Another decision about model {label} was made at the same moment, so this one was not applied. "
    "Open the review link again to see the model's current status."
)


def decide_by_iam(event: dict, config: Config, now: float) -> dict:
    identity = (event.get("requestContext") or {}).get("identity") or {}
    caller = identity.get("userArn")
    if not isinstance(caller, str) or not caller.strip():
        raise HttpError(400, "Request not understood", "The caller identity is missing.")
    request = parse_decision_request(event)
    package = describe_watched(request.model_package_arn, config)
    if package is None:
        raise HttpError(404, "Not found", "No such model package in the watched groups.")
    if package.get("ModelApprovalStatus") != common.PENDING:
        raise HttpError(409, "Already decided", "The model package is not pending manual approval.")
    status = _DECISIONS[request.decision]
    description = approval_description(status, caller, "IAM-authenticated API", now, request.comment)
    outcome = decide(config, package, status, description, {"channel": {"S": "iam"}, "caller": {"S": caller}}, now)
    if outcome.result == UNKNOWN:
        raise HttpError(
            503,
            "Not confirmed",
            "The decision was sent but could not be confirmed; describe the model package to see its status.",
        )
    if outcome.result == CONFLICT:
        raise HttpError(409, "Not applied", "Another decision about this model package was made at the same moment.")
    if outcome.result == DECIDED_ELSEWHERE:
        raise HttpError(409, "Already decided", "The model package is not pending manual approval.")
    if outcome.result == NOT_APPLIED:
        raise HttpError(503, "Try again later", "The decision could not be recorded; nothing was changed. Try again.")
    logger.info(
        "decision recorded",
        channel="iam",
        caller=caller,
        model_package_arn=request.model_package_arn,
        model_approval_status=status,
    )
    return json_response(200, {"modelPackageArn": request.model_package_arn, "modelApprovalStatus": status})


def parse_renew_form(event: dict) -> str:
    """The token of a ``POST /renew`` form; HttpError 400 when anything is off."""
    content_type = _header(event, "content-type")
    if content_type is not None and content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HttpError(400, "Request not understood", "The form must be sent as application/x-www-form-urlencoded.")
    try:
        pairs = urllib.parse.parse_qsl(_raw_body(event), strict_parsing=True, errors="strict", max_num_fields=1)
    except ValueError:
        raise HttpError(400, "Request not understood", "The form could not be read.") from None
    if len(pairs) != 1 or pairs[0][0] != "token" or not pairs[0][1]:
        raise HttpError(400, "Request not understood", "The form must hold the link's token only.")
    return pairs[0][1]


def renew(event: dict, config: Config, now: float) -> dict:
    """Send the administrators a new review link for a version still waiting for a decision.

    Only with a genuine link to that version (expired is fine), only while it is pending, at most once per
    ``RENEW_INTERVAL_SECONDS`` per version (a conditional write on ``renew#<arn>``, which also records who
    asked, from where and when). The new link goes to the administrators' topic, never to the requester; the
    links it replaces stop working unless they are already deciding or decided, so no decision is undone.
    """
    token = parse_renew_form(event)
    claims = _verify_token(token, config, now, allow_expired=True)
    package = describe_watched(claims.arn, config)
    if package is None:
        raise HttpError(403, "Link not valid", _NOT_VALID)
    if package.get("ModelApprovalStatus") != common.PENDING:
        raise _already_decided(package, now)
    label = pages.label_of(package)
    source_ip = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "unknown"
    notify_config = approval_notify.Config.from_env()
    arn = claims.arn
    window = {":window": {"N": str(int(now) - RENEW_INTERVAL_SECONDS)}}
    held = common.claim(
        config.table_name,
        f"renew#{arn}",
        state="renewing",
        now=now,
        attributes={
            "requested_with_jti": {"S": claims.jti},
            "source_ip": {"S": source_ip},
            "expires_at": {"N": str(int(now) + RECORD_RETENTION_SECONDS)},
        },
        allow="claimed_at < :window",
        values=window,
    )
    if held is None:
        logger.info("review link renewal refused: too soon", model_package_arn=arn, jti=claims.jti, source_ip=source_ip)
        item = common.client("dynamodb").get_item(
            TableName=config.table_name, Key={"pk": {"S": f"renew#{arn}"}}, ConsistentRead=True
        ).get("Item") or {}
        last = int((item.get("claimed_at") or {}).get("N", str(int(now))))
        raise HttpError(
            429,
            "Too soon",
            f"A new link for model {label} was requested {pages.duration_text(now - last)} ago. Another can be "
            f"requested from {pages.when_text(last + RENEW_INTERVAL_SECONDS, now)}.",
        )

    new_jti = uuid.uuid4().hex
    exp = int(now) + notify_config.token_ttl_seconds
    try:
        secret = approval_tokens.load_secret(config.secret_arn)
        link = approval_notify.review_link(notify_config.approval_url, approval_tokens.sign(secret, arn, exp, new_jti))
        subject, body = approval_notify.build_message(package, link, exp)
        body = (
            f"A new review link was requested from the review page on {common.utc_iso(now)} (UTC); "
            "earlier links to this version no longer work.\n\n" + body
        )
        message_id = common.client("sns").publish(TopicArn=notify_config.topic_arn, Subject=subject, Message=body)[
            "MessageId"
        ]
    except Exception as exc:
        logger.error("review link renewal not sent", model_package_arn=arn, error=type(exc).__name__)
        _best_effort(common.release, held, "could not release the renewal")
        raise HttpError(503, "Try again later", "The new link could not be sent. Please try again.") from None

    dynamodb = common.client("dynamodb")
    previous = (
        dynamodb.get_item(TableName=config.table_name, Key={"pk": {"S": f"notified#{arn}"}}, ConsistentRead=True)
        .get("Item", {})
        .get("jti", {})
        .get("S")
    )
    for old in {claims.jti, previous} - {None}:
        _supersede(config, old, new_jti, now)
    try:
        dynamodb.update_item(
            TableName=config.table_name,
            Key={"pk": {"S": f"notified#{arn}"}},
            UpdateExpression="SET #s = :sent, jti = :jti, token_exp = :exp, message_id = :mid, sent_at = :now, "
            "expires_at = :keep",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":sent": {"S": "sent"},
                ":jti": {"S": new_jti},
                ":exp": {"N": str(exp)},
                ":mid": {"S": message_id},
                ":now": {"N": str(int(now))},
                ":keep": {"N": str(exp + RECORD_RETENTION_SECONDS)},
            },
        )
    except Exception as exc:
        logger.warning("could not record the renewed request", model_package_arn=arn, error=type(exc).__name__)
    _best_effort(
        lambda h: common.finish(h, "renewed", {"new_jti": {"S": new_jti}, "message_id": {"S": message_id}}),
        held,
        "could not record the renewal",
    )
    logger.info("review link renewed", model_package_arn=arn, jti=claims.jti, new_jti=new_jti, source_ip=source_ip)
    return html_response(
        200,
        "New link sent",
        f"A new review link for model {label} was sent to the administrators' email list. It works until "
        f"{pages.when_text(exp, now)}. The link you used no longer works.",
    )


def _supersede(config: Config, jti: str, new_jti: str, now: float) -> None:
    """Mark an unused link as replaced (a link deciding or decided is left as it is)."""
    try:
        common.client("dynamodb").update_item(
            TableName=config.table_name,
            Key={"pk": {"S": f"token#{jti}"}},
            UpdateExpression="SET #s = :superseded, superseded_by = :new, decided_at = :now, expires_at = :keep",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={
                ":superseded": {"S": "superseded"},
                ":new": {"S": new_jti},
                ":now": {"N": str(int(now))},
                ":keep": {"N": str(int(now) + RECORD_RETENTION_SECONDS)},
            },
        )
    except Exception as exc:
        if common.error_code(exc) != "ConditionalCheckFailedException":
            logger.warning("could not supersede a link", jti=jti, error=type(exc).__name__)


_HANDLERS = {"/review": review, "/decision": decide_by_link, "/decisions": decide_by_iam, "/renew": renew}


def route(event: dict, now: float) -> dict:
    """Dispatch one API Gateway proxy event; never raises."""
    resource = event.get("resource") if isinstance(event, dict) else None
    method = event.get("httpMethod") if isinstance(event, dict) else None
    is_json = resource == "/decisions"
    try:
        if resource not in _ROUTES:
            raise HttpError(404, "Not found", "There is nothing here.")
        if method != _ROUTES[resource]:
            error = HttpError(405, "Method not allowed", "This method is not allowed here.")
            return _error_response(error, is_json, {"Allow": _ROUTES[resource]})
        return _HANDLERS[resource](event, Config.from_env(), now)
    except HttpError as error:
        return _error_response(error, is_json)
    except Exception as exc:
        # With the traceback (Powertools' "exception" key); exception texts hold no token, body or secret value.
        logger.exception("unhandled error", route=resource, error=type(exc).__name__)
        return _error_response(HttpError(500, "Something went wrong", "The request failed. Please try again later."), is_json)


def _error_response(error: HttpError, is_json: bool, headers: dict | None = None) -> dict:
    if is_json:
        return json_response(error.status, {"message": error.message}, headers)
    return html_response(error.status, error.title, error.message, error.extra_html, headers)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
def handler(event: Any, context: Any) -> dict:
    """API Gateway proxy entry point. Every log line carries API Gateway's request id as ``correlation_id``
    (``requestContext.requestId``); the decisions it applies are counted (:func:`_count_decision`)."""
    response = route(event, time.time())
    logger.info(
        "request",
        route=event.get("resource") if isinstance(event, dict) else None,
        method=event.get("httpMethod") if isinstance(event, dict) else None,
        status=response["statusCode"],
    )
    return response
