"""Shared helpers for the Model Registry approval handlers.

This folder is deployed as one Lambda asset whose code root is the folder itself, so the
modules import each other as top-level modules (``from common import ...``). Only the
standard library and boto3 are used.

- ``log``: one JSON object per line on stdout (CloudWatch Logs keeps it as one event).
  Never pass request bodies, tokens or secrets to it; a token is identified by its jti.
- ``client``: boto3 clients, created on first use and cached for the life of the process.
  ``reset_clients`` forgets them and every other per-process cache (tests call it so that
  clients are created inside ``moto.mock_aws``).
- ``require_env`` / ``watched_groups``: configuration read from the environment at call time.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from datetime import datetime, timezone
from typing import Any

import boto3
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


def metrics_report_uris(model_metrics: Any) -> list[str]:
    """``"ModelQuality.Statistics: s3://..."`` for every report location in ModelMetrics."""
    found: list[str] = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key in sorted(node):
                if key == "S3Uri" and isinstance(node[key], str):
                    found.append(f"{'.'.join(path) or 'report'}: {node[key]}")
                else:
                    walk(node[key], [*path, str(key)])
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(model_metrics or {}, [])
    return found


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


def claim(table_name: str, item: dict[str, Any], state: str, lease_seconds: int, now: float) -> bool:
    """Write ``item`` (with ``pk``) in ``state`` unless it exists; a claim older than the lease may be taken over.

    Returns False when another claim holds (or completed) the key. The lease covers an invocation that died
    between claiming and finishing, so the work is never lost for good.
    """
    now_s = int(now)
    try:
        client("dynamodb").put_item(
            TableName=table_name,
            Item={**item, "state": {"S": state}, "claimed_at": {"N": str(now_s)}},
            ConditionExpression="attribute_not_exists(pk) OR (#s = :state AND claimed_at < :stale)",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":state": {"S": state}, ":stale": {"N": str(now_s - lease_seconds)}},
        )
    except Exception as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def log(level: str, message: str, **fields: Any) -> None:
    """Write one JSON log line. Callers must never pass bodies, tokens or secrets."""
    record = {"time": utc_iso(time.time()), "level": level, "message": message, **fields}
    sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def request_id(context: Any) -> str | None:
    return getattr(context, "aws_request_id", None)
