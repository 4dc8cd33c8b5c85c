"""Shared helpers for the Model Registry approval handlers.

This folder is deployed as one Lambda asset whose code root is the folder itself, so the
modules import each other as top-level modules (``from common import ...``). The standard
library, boto3 (in the runtime) and Powertools for AWS Lambda (the layer the construct adds) are used.

- ``logger``: Powertools' Logger, one JSON object per line on stdout with the service name
  (``POWERTOOLS_SERVICE_NAME``), the Lambda context and the event's correlation id (the handlers'
  ``inject_lambda_context``). Never pass request bodies, tokens, signed links or secrets to it; a
  token is identified by its jti. The event itself is never logged (``POWERTOOLS_LOGGER_LOG_EVENT``
  stays off).
- ``metrics``: Powertools' Metrics, CloudWatch embedded metric format under
  ``POWERTOOLS_METRICS_NAMESPACE`` with the ``service`` dimension, flushed when a handler returns.
- ``client``: boto3 clients, created on first use and cached for the life of the process.
  ``reset_clients`` forgets them and every other per-process cache (tests call it so that
  clients are created inside ``moto.mock_aws``).
- ``require_env`` / ``watched_groups`` / ``own_model_package_prefix``: configuration read from the
  environment at call time.
- ``claim`` / ``finish`` / ``release``: at-most-once work through conditional DynamoDB writes (see below).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from botocore.config import Config

MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
SAGEMAKER_SOURCE = "aws.sagemaker"
PENDING = "PendingManualApproval"
APPROVED = "Approved"
REJECTED = "Rejected"

# arn:<partition>:sagemaker:<region>:<account>:model-package/<group>/<version>
MODEL_PACKAGE_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/"
    r"(?P<group>[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})/(?P<version>[1-9][0-9]{0,9})\Z"
)
# SageMaker's pattern for ModelPackageGroupName.
GROUP_NAME_RE = re.compile(r"^[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62}\Z")

_BOTO_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    read_timeout=10,
)

_clients: dict[str, Any] = {}

#: One logger and one metrics collector for every module of the folder (one process per function).
logger = Logger(utc=True)
metrics = Metrics()
# Most invocations have no business event to count (a review page, a duplicate event); Powertools warns on every
# empty flush, which would only add a line to each of those invocations' logs.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
# Other per-process caches (e.g. the token secret) live here so reset_clients clears them too.
process_cache: dict[str, Any] = {}


class MalformedEvent(ValueError):
    """The event does not have the shape of a SageMaker model package state change."""


class ConfigError(RuntimeError):
    """A required environment variable is missing or invalid (a deployment error)."""


def client(service: str) -> Any:
    """Return the cached boto3 client for ``service``, creating it on first use."""
    found = _clients.get(service)
    if found is None:
        found = boto3.client(service, config=_BOTO_CONFIG)
        _clients[service] = found
    return found


def reset_clients() -> None:
    """Forget every cached client and cached value (for tests)."""
    _clients.clear()
    process_cache.clear()


def require_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def watched_groups() -> frozenset[str]:
    """The model package group names the workflow serves (env WATCHED_GROUPS, comma-separated)."""
    groups = frozenset(g.strip() for g in require_env("WATCHED_GROUPS").split(",") if g.strip())
    if not groups:
        raise ConfigError("environment variable WATCHED_GROUPS names no group")
    return groups


_OWN_PREFIX_RE = re.compile(r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{12}:model-package/\Z")


def own_model_package_prefix() -> str:
    """``arn:<partition>:sagemaker:<region>:<account>:model-package/`` of the function's own account and
    region (env MODEL_PACKAGE_ARN_PREFIX, set by the construct from the stack's pseudo parameters). A package
    ARN outside it is refused before any SageMaker call: the function's role may not describe it."""
    prefix = require_env("MODEL_PACKAGE_ARN_PREFIX")
    if not _OWN_PREFIX_RE.match(prefix):
        raise ConfigError("environment variable MODEL_PACKAGE_ARN_PREFIX is not a model package ARN prefix")
    return prefix


def utc_iso(ts: float | datetime) -> str:
    """``2026-11-28T10:00:00Z`` for a unix time or an aware datetime."""
    if isinstance(ts, datetime):
        dt = ts.astimezone(timezone.utc) if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
    else:
        dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def version_from_arn(arn: str) -> int | None:
    match = MODEL_PACKAGE_ARN_RE.match(arn)
    return int(match.group("version")) if match else None


def creator_text(package: dict[str, Any]) -> str:
    """Who created a described model package (CreatedBy), or "unknown"."""
    created_by = package.get("CreatedBy") or {}
    parts = []
    if created_by.get("UserProfileName"):
        parts.append(f"user profile {created_by['UserProfileName']}")
    if created_by.get("UserProfileArn"):
        parts.append(f"({created_by['UserProfileArn']})")
    if created_by.get("DomainId"):
        parts.append(f"in domain {created_by['DomainId']}")
    identity = created_by.get("IamIdentity") or {}
    if identity.get("Arn"):
        parts.append(f"IAM identity {identity['Arn']}")
    return " ".join(parts) or "unknown"


def metrics_report_locations(model_metrics: Any) -> list[tuple[str, str]]:
    """``("ModelQuality.Statistics", "s3://...")`` for every report location in ModelMetrics."""
    found: list[tuple[str, str]] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key in sorted(node):
                if key == "S3Uri" and isinstance(node[key], str):
                    found.append((".".join(path) or "report", node[key]))
                else:
                    walk(node[key], [*path, str(key)])
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(model_metrics or {}, [])
    return found


def metrics_report_uris(model_metrics: Any) -> list[str]:
    """``"ModelQuality.Statistics: s3://..."`` for every report location in ModelMetrics."""
    return [f"{label}: {uri}" for label, uri in metrics_report_locations(model_metrics)]


def state_change_detail(event: Any) -> dict[str, Any]:
    """The ``detail`` of a "SageMaker Model Package State Change" event; ``MalformedEvent`` otherwise."""
    if not isinstance(event, dict):
        raise MalformedEvent("event is not an object")
    if event.get("detail-type") != MODEL_PACKAGE_STATE_CHANGE:
        raise MalformedEvent(f"unexpected detail-type {event.get('detail-type')!r}")
    if event.get("source") != SAGEMAKER_SOURCE:
        raise MalformedEvent(f"unexpected source {event.get('source')!r}")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise MalformedEvent("detail is not an object")
    return detail


# ------------------------------------------------------------------ claims
#
# A claim is one DynamoDB item per piece of work that must happen at most once (a decision, an email). It is
# written with a conditional UpdateItem, so of two racing writers exactly one takes it. Its holder is a fresh
# random id: only the holder can mark the claim done or release it (conditional on ``holder``), so a holder that
# outlived its lease can never overwrite the state of the one that took over.
#
# A lease (``claimed_at``) lets later work take over a claim whose holder died. Taking over is safe only when
# the holder provably did not act, so where the holder's action is visible (a model package it may have
# updated) the claim carries a *fence*: the package's fingerprint as the holder saw it before acting. A takeover
# requires the fence to be unchanged; if the package changed, the holder may have acted and the claim is spent.


@dataclass(frozen=True)
class Claim:
    """A claim this invocation holds: ``item`` is the stored item after the claim (DynamoDB JSON)."""

    table_name: str
    pk: str
    holder: str
    item: dict[str, Any]

    def text(self, name: str) -> str | None:
        return (self.item.get(name) or {}).get("S")

    def number(self, name: str) -> int | None:
        value = (self.item.get(name) or {}).get("N")
        return int(value) if value is not None else None


def claim(
    table_name: str,
    pk: str,
    *,
    state: str,
    now: float,
    attributes: dict[str, Any] | None = None,
    keep: dict[str, Any] | None = None,
    allow: str = "",
    values: dict[str, Any] | None = None,
) -> Claim | None:
    """Take ``pk`` in ``state`` if no item exists, or if the existing item satisfies ``allow``; else None.

    ``attributes`` are written on every claim; ``keep`` only when the item has none yet (a takeover continues
    the first claimer's intent, e.g. the same review token). ``allow`` is a DynamoDB condition over the existing
    item (``#s`` names ``state``; its placeholders' values in ``values``), built for example by
    :func:`lease_expired`. The returned claim carries the stored item (``ReturnValues=ALL_NEW``).
    """
    holder = uuid.uuid4().hex
    names = {"#s": "state"}
    expression_values = {
        ":claim_state": {"S": state},
        ":claim_now": {"N": str(int(now))},
        ":claim_holder": {"S": holder},
        **(values or {}),
    }
    sets = ["#s = :claim_state", "claimed_at = :claim_now", "holder = :claim_holder"]
    for prefix, given, template in (("a", attributes, "{n} = {v}"), ("k", keep, "{n} = if_not_exists({n}, {v})")):
        for i, (name, value) in enumerate((given or {}).items()):
            names[f"#{prefix}{i}"] = name
            expression_values[f":{prefix}{i}"] = value
            sets.append(template.format(n=f"#{prefix}{i}", v=f":{prefix}{i}"))
    condition = "attribute_not_exists(pk)" + (f" OR {allow}" if allow else "")
    try:
        response = client("dynamodb").update_item(
            TableName=table_name,
            Key={"pk": {"S": pk}},
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=expression_values,
            ReturnValues="ALL_NEW",
        )
    except Exception as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return None
        raise
    return Claim(table_name=table_name, pk=pk, holder=holder, item=response["Attributes"])


def lease_expired(state: str, lease_seconds: int, now: float, *, fence: str | None = None) -> tuple[str, dict[str, Any]]:
    """``allow`` for :func:`claim`: the item is a claim in ``state`` older than the lease (and, with ``fence``,
    whose holder saw the same fence, so it provably did not act)."""
    condition = "(#s = :lease_state AND claimed_at < :lease_stale"
    values: dict[str, Any] = {":lease_state": {"S": state}, ":lease_stale": {"N": str(int(now) - lease_seconds)}}
    if fence is not None:
        condition += " AND fence = :lease_fence"
        values[":lease_fence"] = {"S": fence}
    return condition + ")", values


def finish(held: Claim, state: str, attributes: dict[str, Any] | None = None) -> bool:
    """Set the claim's state (and attributes) if this invocation still holds it; False if it does not."""
    names = {"#s": "state"}
    values: dict[str, Any] = {":state": {"S": state}, ":holder": {"S": held.holder}}
    sets = ["#s = :state"]
    for i, (name, value) in enumerate((attributes or {}).items()):
        names[f"#a{i}"] = name
        values[f":a{i}"] = value
        sets.append(f"#a{i} = :a{i}")
    try:
        client("dynamodb").update_item(
            TableName=held.table_name,
            Key={"pk": {"S": held.pk}},
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="holder = :holder",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except Exception as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def release(held: Claim) -> bool:
    """Delete the claim if this invocation still holds it (its work provably did not happen)."""
    try:
        client("dynamodb").delete_item(
            TableName=held.table_name,
            Key={"pk": {"S": held.pk}},
            ConditionExpression="holder = :holder",
            ExpressionAttributeValues={":holder": {"S": held.holder}},
        )
    except Exception as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def package_fingerprint(package: dict[str, Any]) -> str:
    """What any change to a described model package changes: SageMaker's LastModifiedTime, the approval
    status and the approval description, hashed. Equal fingerprints mean nobody updated the package between
    the two reads (DescribeModelPackage: "LastModifiedTime: The last time the model package was modified",
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeModelPackage.html)."""
    modified = package.get("LastModifiedTime")
    stamp = modified.isoformat() if isinstance(modified, datetime) else str(modified)
    text = json.dumps([stamp, package.get("ModelApprovalStatus"), package.get("ApprovalDescription")])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


# The lease of a review link's claim (``token#<jti>``): far longer than the API function can run (25 s).
TOKEN_LEASE_SECONDS = 300


def link_state(item: dict[str, Any] | None, package: dict[str, Any], now: float) -> str:
    """What a review link's claim (``token#<jti>``) allows, for a described pending ``package``:

    - ``"free"``: never claimed, or claimed by an invocation that died before deciding (lease expired and the
      package exactly as that invocation saw it, same fence): the link can decide;
    - ``"busy"``: a decision with this link is in progress (within the lease);
    - ``"spent"``: used, or claimed by an invocation that may have decided (lease expired and the package has
      changed since): the link never decides again.
    """
    if not item:
        return "free"
    if (item.get("state") or {}).get("S") != "claimed":
        return "spent"
    if int((item.get("claimed_at") or {}).get("N", "0")) >= int(now) - TOKEN_LEASE_SECONDS:
        return "busy"
    return "free" if (item.get("fence") or {}).get("S") == package_fingerprint(package) else "spent"


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def request_id(context: Any) -> str | None:
    return getattr(context, "aws_request_id", None)
