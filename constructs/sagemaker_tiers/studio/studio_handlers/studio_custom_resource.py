"""CloudFormation custom-resource plumbing shared by the Studio handlers (stdlib, boto3 and Powertools' Logger).

Every Studio custom resource answers CloudFormation through :func:`run`:

* a malformed *event* (not a CloudFormation request: no ``RequestType``, ``ResponseURL``...) raises, so Lambda's
  asynchronous retries and the on-failure queue keep it; nothing is sent;
* a malformed *request* (bad ``ResourceProperties``) is answered ``FAILED`` with ``bad request: ...`` (the 4xx of a
  custom resource), and so is any AWS error;
* physical ids: a failed Create answers ``failed-create:<RequestId>``; the Delete CloudFormation then sends for
  that id (on rollback) succeeds without calling AWS, because nothing was left behind.

Logs: Powertools' Logger (``logger``), one JSON line per event; each handler's entry point is wrapped in
:func:`entry_point`, which adds the Lambda context and CloudFormation's ``RequestId`` as ``correlation_id``. The
request's ``ResponseURL`` is a presigned S3 URL and is never logged.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger

logger = Logger(utc=True)

FAILED_CREATE_PREFIX = "failed-create:"
REQUIRED_KEYS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId", "ResourceProperties")
REQUEST_TYPES = ("Create", "Update", "Delete")
MAX_REASON = 1000
#: SageMaker's user profile name pattern (``UserProfileName``).
NAME_PATTERN = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
#: Attempts at an update that SageMaker refuses with ResourceInUse while the domain or profile is updating.
BUSY_RETRIES = 6

_client = None


def sagemaker():  # type: ignore[no-untyped-def]
    """The SageMaker client of the custom-resource handlers, created on first use."""
    global _client
    if _client is None:
        import boto3

        _client = boto3.client("sagemaker", region_name=os.environ.get("AWS_REGION"))
    return _client


class BadRequest(ValueError):
    """The request's properties are invalid: answered FAILED, never retried."""


class NotDoneYet(Exception):
    """The operation needs another invocation: nothing is answered, so Lambda's async retry continues the work."""


Outcome = tuple[str, dict[str, str]]
Operation = Callable[[Mapping[str, Any]], Outcome]


def check_event(event: Any) -> None:
    """Raise ValueError unless ``event`` is a CloudFormation custom resource request."""
    if not isinstance(event, Mapping):
        raise ValueError(f"not a CloudFormation custom resource request: {type(event).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in event]
    if missing:
        raise ValueError(f"not a CloudFormation custom resource request: missing {', '.join(missing)}")
    if event["RequestType"] not in REQUEST_TYPES:
        raise ValueError(f"RequestType must be one of {', '.join(REQUEST_TYPES)}, got {event['RequestType']!r}")
    if not isinstance(event["ResourceProperties"], Mapping):
        raise ValueError("ResourceProperties must be an object")
    if event["RequestType"] != "Create" and not event.get("PhysicalResourceId"):
        raise ValueError(f"{event['RequestType']} request without PhysicalResourceId")


def is_failed_create(event: Mapping[str, Any]) -> bool:
    """True for the Update/Delete of a resource whose Create failed (nothing exists for it)."""
    return str(event.get("PhysicalResourceId", "")).startswith(FAILED_CREATE_PREFIX)


def respond(event: Mapping[str, Any], operations: Mapping[str, Operation]) -> dict[str, Any]:
    """Run the operation for ``event["RequestType"]`` and build the response body (no I/O besides the operation)."""
    check_event(event)
    request_type = event["RequestType"]
    try:
        if request_type == "Delete" and is_failed_create(event):
            physical_id, data = event["PhysicalResourceId"], {}
        else:
            physical_id, data = operations[request_type](event)
        status, reason = "SUCCESS", "OK"
    except NotDoneYet:
        raise
    except BadRequest as error:
        status, reason, data = "FAILED", f"bad request: {error}", {}
        physical_id = _failed_physical_id(event)
    except Exception as error:  # noqa: BLE001 - every AWS error is answered, never left to time out
        logger.exception("custom resource request failed", request_type=request_type)
        status, reason, data = "FAILED", f"{type(error).__name__}: {error}", {}
        physical_id = _failed_physical_id(event)
    return {
        "Status": status,
        "Reason": reason[:MAX_REASON],
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data,
    }


def _failed_physical_id(event: Mapping[str, Any]) -> str:
    if event["RequestType"] == "Create":
        return f"{FAILED_CREATE_PREFIX}{event['RequestId']}"
    return str(event["PhysicalResourceId"])


def send(url: str, body: Mapping[str, Any]) -> None:
    """PUT the response to CloudFormation's presigned URL (raises if it cannot be delivered, so Lambda retries)."""
    payload = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        url, data=payload, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(payload))}
    )
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - CloudFormation's https URL
        logger.info("response delivered", status=body["Status"], http_status=reply.status)


def run(event: Any, operations: Mapping[str, Operation]) -> dict[str, Any]:
    """Answer one custom resource request: the thin shell every Studio handler delegates to."""
    body = respond(event, operations)
    logger.info(
        "custom resource answered",
        request_type=event["RequestType"],
        status=body["Status"],
        reason=body["Reason"],
        physical_resource_id=body["PhysicalResourceId"],
        logical_resource_id=body["LogicalResourceId"],
    )
    send(event["ResponseURL"], body)
    return body


#: Wraps a handler's entry point: the Lambda context and CloudFormation's ``RequestId`` in every log line.
entry_point = logger.inject_lambda_context(correlation_id_path="RequestId", clear_state=True)


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError, or "" for anything else."""
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def is_not_found(error: Exception) -> bool:
    """SageMaker says "not found" as ResourceNotFound, or as a ValidationException that does not find it."""
    code = error_code(error)
    if code in ("ResourceNotFound", "ResourceNotFoundException"):
        return True
    message = str(error).lower()
    return code == "ValidationException" and ("does not exist" in message or "could not find" in message or "not found" in message)
