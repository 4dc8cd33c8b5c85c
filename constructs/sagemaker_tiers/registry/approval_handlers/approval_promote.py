"""Keep an SSM parameter pointing at the latest approved model package of each watched group.

Trigger: every EventBridge "SageMaker Model Package State Change" event of the watched groups,
whatever the approval status it reports (a version taken back from Approved to
PendingManualApproval must stop being the approved model). Events may repeat and arrive out of order, so
the handler does not apply the event: it reconciles. It lists every Approved package of the
event's group and makes the String parameter ``<PARAMETER_PREFIX>/<group>/approved-model``
hold the ARN of the one with the highest version.

- When no version of the group is approved any more, the parameter holds the literal
  ``NONE`` (consumers must treat ``NONE`` as "nothing to deploy"). Parameters are never
  deleted, so the parameter history in SSM remains the audit trail of promotions.
- The parameter is written only when its value changes: duplicate and out-of-order events
  write nothing, and an event about an older version never replaces a newer approved one.
- If the parameter does not exist and nothing is approved, nothing is created.

Trigger 2: a scheduled EventBridge event (``source`` ``aws.events``, ``detail-type`` ``Scheduled Event``)
reconciles every watched group. SageMaker sends its events to EventBridge on a best-effort basis
(https://docs.aws.amazon.com/eventbridge/latest/ref/event-delivery-level.html), so a lost approval event would
otherwise leave the parameter stale until the next approval; the schedule heals it within one interval.

Reconciliations of one group run one at a time: two concurrent ones could interleave their read and
write and leave an older view last (and the inference tier deploys every value written). A per-group lease
in the approval table serializes them without reserved concurrency (which new accounts cannot grant):
the lock is a conditional put of ``promote-lock#<group>`` that succeeds only when no live lease exists. A
waiting invocation polls for ``LOCK_WAIT_SECONDS`` and then raises :class:`GroupBusy`, so Lambda retries
the event later (then the on-failure queue). The lease outlives the function's timeout, so a live holder
never loses it; a holder that died is taken over once its lease expires (and DynamoDB's TTL removes it).

Environment:
- PARAMETER_PREFIX: e.g. ``/sagemaker-tiers/registry`` (no trailing slash).
- WATCHED_GROUPS: comma-separated model package group names; other groups are ignored.
- TABLE_NAME: the approval table (partition key ``pk``, TTL attribute ``expires_at``) holding the locks.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import approval_common as common
from approval_common import MalformedEvent, logger, metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

__all__ = [
    "GroupBusy", "MalformedEvent", "NONE", "handler", "is_schedule", "parse_event", "parameter_name", "latest_approved",
    "reconcile", "reconcile_all", "reconcile_serialized",
]

NONE = "NONE"
PAGE_SIZE = 100  # ListModelPackages MaxResults (the API maximum)
#: Lease of a group lock: longer than the function's 25-second timeout, so only a dead holder's lease expires.
LOCK_LEASE_SECONDS = 60
#: How long an invocation waits for another one's lock before failing for a later retry (within the timeout).
LOCK_WAIT_SECONDS = 15
LOCK_POLL_SECONDS = 0.5


class GroupBusy(RuntimeError):
    """Another invocation held the group's lock for the whole wait: raised so Lambda retries the event."""


@dataclass(frozen=True)
class Config:
    parameter_prefix: str
    watched_groups: frozenset[str]
    table_name: str

    @classmethod
    def from_env(cls) -> Config:
        prefix = common.require_env("PARAMETER_PREFIX").rstrip("/")
        if not prefix.startswith("/"):
            raise common.ConfigError("PARAMETER_PREFIX must start with '/'")
        return cls(
            parameter_prefix=prefix,
            watched_groups=common.watched_groups(),
            table_name=common.require_env("TABLE_NAME"),
        )


def parse_event(event: Any) -> str:
    """The model package group an approval state change event is about; ``MalformedEvent`` otherwise."""
    detail = common.state_change_detail(event)
    group = detail.get("ModelPackageGroupName")
    if not isinstance(group, str) or not common.GROUP_NAME_RE.match(group):
        raise MalformedEvent("detail.ModelPackageGroupName is missing or invalid")
    arn = detail.get("ModelPackageArn")
    match = common.MODEL_PACKAGE_ARN_RE.match(arn) if isinstance(arn, str) else None
    if not match or match.group("group").lower() != group.lower():
        raise MalformedEvent("detail.ModelPackageArn is not a model package of detail.ModelPackageGroupName")
    return group


def parameter_name(prefix: str, group: str) -> str:
    return f"{prefix}/{group}/approved-model"


def _version(summary: dict[str, Any]) -> int:
    version = summary.get("ModelPackageVersion")
    if isinstance(version, int) and not isinstance(version, bool):
        return version
    parsed = common.version_from_arn(summary.get("ModelPackageArn", ""))
    if parsed is None:
        raise ValueError(f"cannot tell the version of {summary.get('ModelPackageArn')!r}")
    return parsed


def latest_approved(group: str) -> tuple[str, int] | None:
    """``(arn, version)`` of the highest approved version of ``group``, or None."""
    sagemaker = common.client("sagemaker")
    best: tuple[str, int] | None = None
    kwargs: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": common.APPROVED,
        "MaxResults": PAGE_SIZE,
    }
    while True:
        page = sagemaker.list_model_packages(**kwargs)
        for summary in page.get("ModelPackageSummaryList", []):
            if summary.get("ModelApprovalStatus", common.APPROVED) != common.APPROVED:
                continue
            version = _version(summary)
            if best is None or version > best[1]:
                best = (summary["ModelPackageArn"], version)
        next_token = page.get("NextToken")
        if not next_token:
            return best
        kwargs["NextToken"] = next_token


def _current_value(name: str) -> str | None:
    try:
        return common.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
    except Exception as exc:
        if common.error_code(exc) == "ParameterNotFound":
            return None
        raise


def reconcile(group: str, config: Config) -> dict[str, Any]:
    name = parameter_name(config.parameter_prefix, group)
    latest = latest_approved(group)
    desired = latest[0] if latest else NONE
    current = _current_value(name)
    if current == desired or (current is None and latest is None):
        logger.info("approved model unchanged", group=group, parameter=name, value=current)
        return {"status": "unchanged", "parameter": name, "value": current}
    description = (
        f"Approved model package of group {group}: version {latest[1]}"
        if latest
        else f"Approved model package of group {group}: none approved"
    )
    common.client("ssm").put_parameter(
        Name=name, Value=desired, Type="String", Overwrite=True, Description=description
    )
    logger.info("approved model updated", group=group, parameter=name, previous=current, value=desired)
    if latest is not None:
        metrics.add_metric(name="Promotions", unit=MetricUnit.Count, value=1)
    return {"status": "updated", "parameter": name, "value": desired}


def lock_key(group: str) -> str:
    return f"promote-lock#{group}"


def acquire_lock(table_name: str, group: str, owner: str, now: float) -> bool:
    """Take ``group``'s lock for ``owner`` unless a live lease (``expires_at`` in the future) holds it."""
    try:
        common.client("dynamodb").put_item(
            TableName=table_name,
            Item={
                "pk": {"S": lock_key(group)},
                "owner": {"S": owner},
                "expires_at": {"N": str(int(now) + LOCK_LEASE_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
            ExpressionAttributeValues={":now": {"N": str(int(now))}},
        )
    except Exception as exc:
        if common.error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def release_lock(table_name: str, group: str, owner: str) -> None:
    """Drop the lock if ``owner`` still holds it (a lock taken over after expiry is left to its new holder)."""
    try:
        common.client("dynamodb").delete_item(
            TableName=table_name,
            Key={"pk": {"S": lock_key(group)}},
            ConditionExpression="#o = :owner",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":owner": {"S": owner}},
        )
    except Exception as exc:
        if common.error_code(exc) != "ConditionalCheckFailedException":
            raise


def reconcile_serialized(
    group: str,
    config: Config,
    owner: str,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """:func:`reconcile` under ``group``'s lock; :class:`GroupBusy` when it stays held for ``LOCK_WAIT_SECONDS``."""
    deadline = clock() + LOCK_WAIT_SECONDS
    while not acquire_lock(config.table_name, group, owner, clock()):
        if clock() >= deadline:
            logger.warning("group lock busy", group=group, waited_seconds=LOCK_WAIT_SECONDS)
            raise GroupBusy(f"another promotion of group {group} held its lock for {LOCK_WAIT_SECONDS} s; retrying later")
        sleep(LOCK_POLL_SECONDS)
    try:
        return reconcile(group, config)
    finally:
        release_lock(config.table_name, group, owner)


def is_schedule(event: Any) -> bool:
    """True for the periodic EventBridge event that asks for a reconcile of every watched group."""
    return isinstance(event, dict) and event.get("source") == "aws.events" and event.get("detail-type") == "Scheduled Event"


def reconcile_all(config: Config, owner: str) -> dict[str, Any]:
    """Reconcile every watched group, each under its lock; one group's failure does not stop the others, but fails
    the invocation."""
    results: dict[str, Any] = {}
    failed: list[str] = []
    for group in sorted(config.watched_groups):
        try:
            results[group] = reconcile_serialized(group, config, owner)["status"]
        except Exception as exc:  # noqa: BLE001 - reported below, after the other groups
            logger.error("reconcile failed", group=group, error=str(exc))
            failed.append(group)
    if failed:
        raise RuntimeError(f"reconcile failed for {', '.join(failed)} (the others: {results})")
    return {"status": "reconciled", "groups": results}


def pending_approvals(groups: frozenset[str]) -> int:
    """How many model packages of ``groups`` wait for a decision (PendingManualApproval), all groups together."""
    sagemaker = common.client("sagemaker")
    count = 0
    for group in sorted(groups):
        kwargs: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": common.PENDING,
            "MaxResults": PAGE_SIZE,
        }
        while True:
            page = sagemaker.list_model_packages(**kwargs)
            count += sum(1 for s in page.get("ModelPackageSummaryList", []) if s.get("ModelApprovalStatus", common.PENDING) == common.PENDING)
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    return count


def count_pending(config: Config) -> None:
    """The ``PendingApprovals`` gauge, emitted on every run about the watched groups (each state change of a
    watched package and each scheduled reconcile). Best effort: a failure to count is logged and never fails the reconcile."""
    try:
        metrics.add_metric(name="PendingApprovals", unit=MetricUnit.Count, value=pending_approvals(config.watched_groups))
    except Exception as exc:  # noqa: BLE001 - the gauge must not fail the promotion
        logger.warning("could not count the pending approvals", error=common.error_code(exc) or type(exc).__name__)


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    """EventBridge entry point (state changes and the schedule); every log line carries the event's id as
    ``correlation_id``. Emits ``Promotions`` and ``PendingApprovals`` (embedded metric format) on return."""
    owner = common.request_id(context) or str(uuid.uuid4())
    if is_schedule(event):
        config = Config.from_env()
        try:
            return reconcile_all(config, owner)
        finally:
            count_pending(config)
    try:
        group = parse_event(event)
    except MalformedEvent as exc:
        logger.error("malformed event", reason=str(exc))
        raise
    config = Config.from_env()
    if group not in config.watched_groups:
        logger.info("group not watched", group=group)
        return {"status": "ignored"}
    try:
        return reconcile_serialized(group, config, owner)
    finally:
        count_pending(config)
