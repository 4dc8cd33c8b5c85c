"""Email reviewers (through SNS) a signed review link for a model package pending approval.

Trigger: EventBridge "SageMaker Model Package State Change" events (asynchronous invocation;
events may repeat and arrive out of order).

Environment:
- TOPIC_ARN: SNS topic the review request is published to.
- SECRET_ARN: Secrets Manager secret whose SecretString signs the review tokens.
- TABLE_NAME: DynamoDB table (partition key ``pk`` (S), TTL attribute ``expires_at``).
- APPROVAL_URL: base URL of the approval API stage (``https://.../prod`` with or without "/").
- TOKEN_TTL_SECONDS: lifetime of a review link, default 259200 (72 hours).
- MODEL_PACKAGE_ARN_PREFIX: the function's own ``arn:...:model-package/``; other ARNs are skipped.

Per event:
1. Validate the event; a malformed one raises ``MalformedEvent`` (kept by the on-failure
   destination of the asynchronous invocation). A package of another account, region or partition
   is skipped before any SageMaker call.
2. DescribeModelPackage: the event may be stale. Not PendingManualApproval any more -> skipped.
3. Claim ``notified#<arn>`` (state "sending"), the package's one outstanding review request; its
   first claim fixes the token id and expiry. An existing request -> skipped as duplicate, unless
   its holder died (lease ``CLAIM_LEASE_SECONDS`` expired while "sending": taken over with the same
   token, so a repeated email carries the same link), or its link can no longer decide (used or
   expired) while the package is pending again (taken back after a decision: a new request, a new link).
4. Sign the token, publish, mark the claim "sent". If publishing fails the claim is released for an
   immediate retry with the same token and the error re-raised, so the retry sends the email.

So there is never more than one valid link per package; an email may be repeated (same link) when
publishing timed out after SNS accepted it, or marking it sent failed.

The message carries the token only inside the review link, and never the secret.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

import approval_tokens
import approval_common as common
from approval_common import MalformedEvent, logger
from aws_lambda_powertools.logging import correlation_paths

__all__ = ["MalformedEvent", "PackageRef", "handler", "parse_event", "notify", "build_message", "review_link"]

DEFAULT_TOKEN_TTL_SECONDS = 72 * 3600
CLAIM_LEASE_SECONDS = 900  # the maximum Lambda timeout
RECORD_RETENTION_SECONDS = 7 * 24 * 3600
SUBJECT_MAX = 100


@dataclass(frozen=True)
class PackageRef:
    arn: str
    group: str
    version: int


@dataclass(frozen=True)
class Config:
    topic_arn: str
    secret_arn: str
    table_name: str
    approval_url: str
    token_ttl_seconds: int
    arn_prefix: str

    @classmethod
    def from_env(cls) -> Config:
        ttl_text = os.environ.get("TOKEN_TTL_SECONDS", "").strip() or str(DEFAULT_TOKEN_TTL_SECONDS)
        try:
            ttl = int(ttl_text)
        except ValueError:
            raise common.ConfigError("TOKEN_TTL_SECONDS must be an integer") from None
        if ttl <= 0:
            raise common.ConfigError("TOKEN_TTL_SECONDS must be positive")
        url = common.require_env("APPROVAL_URL")
        if not url.startswith("https://"):
            raise common.ConfigError("APPROVAL_URL must be an https:// URL")
        return cls(
            topic_arn=common.require_env("TOPIC_ARN"),
            secret_arn=common.require_env("SECRET_ARN"),
            table_name=common.require_env("TABLE_NAME"),
            approval_url=url,
            token_ttl_seconds=ttl,
            arn_prefix=common.own_model_package_prefix(),
        )


def parse_event(event: Any) -> PackageRef:
    """The package an EventBridge model package state change is about; ``MalformedEvent`` otherwise."""
    detail = common.state_change_detail(event)
    arn = detail.get("ModelPackageArn")
    group = detail.get("ModelPackageGroupName")
    if not isinstance(arn, str) or not (match := common.MODEL_PACKAGE_ARN_RE.match(arn)):
        raise MalformedEvent("detail.ModelPackageArn is not a versioned model package ARN")
    if not isinstance(group, str) or not common.GROUP_NAME_RE.match(group):
        raise MalformedEvent("detail.ModelPackageGroupName is missing or invalid")
    if match.group("group").lower() != group.lower():
        raise MalformedEvent("detail.ModelPackageArn is not in detail.ModelPackageGroupName")
    return PackageRef(arn=arn, group=group, version=int(match.group("version")))


def review_link(approval_url: str, token: str) -> str:
    return f"{approval_url.rstrip('/')}/review?token={token}"


def _subject(group: str, version: int) -> str:
    subject = f"Model approval needed: {group} v{version}"
    # SNS subjects: printable ASCII, no line breaks, at most 100 characters.
    subject = "".join(c if " " <= c <= "~" else " " for c in subject)
    return subject[:SUBJECT_MAX]


def build_message(package: dict[str, Any], link: str, expires_at: int) -> tuple[str, str]:
    """``(subject, plain text body)`` of the review request for a described model package."""
    group = package.get("ModelPackageGroupName", "?")
    version = package.get("ModelPackageVersion") or common.version_from_arn(package["ModelPackageArn"])
    created = package.get("CreationTime")
    reports = common.metrics_report_uris(package.get("ModelMetrics"))
    lines = [
        "A model package is waiting for a manual approval decision.",
        "",
        f"Model package group: {group}",
        f"Version: {version}",
        f"Package ARN: {package['ModelPackageArn']}",
        f"Description: {package.get('ModelPackageDescription') or '-'}",
        f"Created by: {common.creator_text(package)}",
        f"Created at: {common.utc_iso(created) if created is not None else 'unknown'}",
        "Metrics reports:",
        *([f"  - {r}" for r in reports] or ["  none"]),
        "",
        "Review it here:",
        link,
        "",
        "Opening the link changes nothing: it shows the package and its current status.",
        "The decision (approve or reject, with an optional comment) is made on that page.",
        f"The link can be used for one decision and expires at {common.utc_iso(expires_at)} (UTC).",
        "Anyone holding the link can decide, so do not forward this email.",
    ]
    return _subject(str(group), int(version or 0)), "\n".join(lines) + "\n"


def _claim_review_request(ref: PackageRef, package: dict[str, Any], config: Config, now: float) -> common.Claim | None:
    """Claim ``notified#<arn>``: the one outstanding review request (and link) of the package, or None.

    The first claim fixes the request's token id and expiry. A claim whose holder died (the lease expired, still
    "sending") is taken over with the *same* token, so a repeated email carries the same link: there is never
    more than one valid link. A new request (a new token) is made only when the outstanding link can no longer
    decide (used, or expired) while the package is pending again: it went back to pending after a decision.
    """
    table = common.client("dynamodb")
    pk = f"notified#{ref.arn}"
    record = {"expires_at": {"N": str(int(now) + config.token_ttl_seconds + RECORD_RETENTION_SECONDS)}}
    new_request = {"jti": {"S": uuid.uuid4().hex}, "token_exp": {"N": str(int(now) + config.token_ttl_seconds)}}
    item = table.get_item(TableName=config.table_name, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")
    if item is None:
        return common.claim(config.table_name, pk, state="sending", now=now, attributes=record, keep=new_request)

    state = (item.get("state") or {}).get("S")
    jti = (item.get("jti") or {}).get("S")
    stale_allow, values = common.lease_expired("sending", CLAIM_LEASE_SECONDS, now)
    if jti is None:  # a claim of an earlier version of this function, without a request: continue it
        return common.claim(
            config.table_name, pk, state="sending", now=now, attributes=record, keep=new_request,
            allow=stale_allow, values=values,
        )
    values = {**values, ":jti": {"S": jti}}
    if not _link_spent(item, jti, package, config, now):
        if state == "sent":
            return None
        return common.claim(
            config.table_name, pk, state="sending", now=now, attributes=record,
            allow=f"(jti = :jti AND {stale_allow})", values=values,
        )
    logger.info("the outstanding link can no longer decide; sending a new one", model_package_arn=ref.arn, previous_jti=jti)
    return common.claim(
        config.table_name, pk, state="sending", now=now, attributes={**record, **new_request},
        allow=f"(jti = :jti AND (#s = :sent OR {stale_allow}))", values={**values, ":sent": {"S": "sent"}},
    )


def _link_spent(item: dict[str, Any], jti: str, package: dict[str, Any], config: Config, now: float) -> bool:
    token_exp = int((item.get("token_exp") or {}).get("N", "0"))
    if (item.get("state") or {}).get("S") == "sent" and "token_exp" not in item:
        token_exp = int((item.get("sent_at") or {}).get("N", "0")) + config.token_ttl_seconds
    if token_exp <= int(now):
        return True
    token = (
        common.client("dynamodb")
        .get_item(TableName=config.table_name, Key={"pk": {"S": f"token#{jti}"}}, ConsistentRead=True)
        .get("Item")
    )
    return common.link_state(token, package, now) == "spent"


def notify(ref: PackageRef, config: Config, now: float) -> dict[str, Any]:
    if not ref.arn.startswith(config.arn_prefix):
        logger.warning("model package of another account or region", model_package_arn=ref.arn)
        return {"status": "skipped", "reason": "foreign"}
    sagemaker = common.client("sagemaker")
    try:
        package = sagemaker.describe_model_package(ModelPackageName=ref.arn)
    except Exception as exc:
        if common.error_code(exc) in ("ValidationException", "ResourceNotFound"):
            logger.warning("model package not found", model_package_arn=ref.arn)
            return {"status": "skipped", "reason": "not-found"}
        raise
    status = package.get("ModelApprovalStatus")
    if status != common.PENDING:
        logger.info("model package not pending", model_package_arn=ref.arn, approval_status=status)
        return {"status": "skipped", "reason": "not-pending"}

    held = _claim_review_request(ref, package, config, now)
    if held is None:
        logger.info("already notified", model_package_arn=ref.arn)
        return {"status": "skipped", "reason": "duplicate"}
    # A takeover continues the request it found (its link has not expired: an expired one is a new request).
    jti = held.text("jti") or ""
    exp = held.number("token_exp") or 0

    try:
        secret = approval_tokens.load_secret(config.secret_arn)
        token = approval_tokens.sign(secret, ref.arn, exp, jti)
        subject, body = build_message(package, review_link(config.approval_url, token), exp)
        message_id = common.client("sns").publish(TopicArn=config.topic_arn, Subject=subject, Message=body)[
            "MessageId"
        ]
    except Exception:
        # Released for an immediate retry, keeping the token: if the publish did go out, the retry repeats the
        # same link instead of minting a second one.
        logger.error("publishing failed; releasing the claim", model_package_arn=ref.arn)
        try:
            common.finish(held, "sending", {"claimed_at": {"N": "0"}})
        except Exception as cleanup_exc:  # the original error matters more
            logger.error("could not release the claim", model_package_arn=ref.arn, error=type(cleanup_exc).__name__)
        raise

    try:
        common.finish(
            held,
            "sent",
            {
                "token_exp": {"N": str(exp)},
                "message_id": {"S": message_id},
                "sent_at": {"N": str(int(now))},
            },
        )
    except Exception as exc:
        # The email is out. The claim stays "sending" with this token: a repeated event after the lease
        # re-sends the same link, never a second one. Do not fail the invocation.
        logger.warning("sent but could not mark the claim sent", model_package_arn=ref.arn, error=type(exc).__name__)
    logger.info("review request sent", model_package_arn=ref.arn, jti=jti, message_id=message_id, expires_at=exp)
    return {"status": "sent", "jti": jti, "messageId": message_id}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    """EventBridge entry point; every log line carries the event's id as ``correlation_id``."""
    try:
        ref = parse_event(event)
    except MalformedEvent as exc:
        logger.error("malformed event", reason=str(exc))
        raise
    return notify(ref, Config.from_env(), time.time())
