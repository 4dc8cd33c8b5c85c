"""Custom::ModelPackageGroup: create a model package group, or adopt the one a previous deployment retained.

CloudFormation cannot import a retained ``AWS::SageMaker::ModelPackageGroup`` into a new stack: automatic import
needs the type's primary identifier in the template, and this type's is the read-only ``ModelPackageGroupArn``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/import-resources-automatically.html). So a
deployment after ``cdk destroy`` (or after removing a group and adding it again) would fail with "already
exists". This handler makes the group's name the contract instead:

* Create / Update: ``DescribeModelPackageGroup``; if the group exists (and is not being deleted) it is adopted,
  versions and approval history untouched; otherwise ``CreateModelPackageGroup`` (a concurrent create that wins
  the race is adopted too). Then the desired tags are added (tags removed from the template since the last
  request are removed; other tags are left alone) and the desired resource policy is put, or a policy this
  resource set before is deleted. An adopted group keeps its description (SageMaker cannot change one).
* Delete: only sent when the construct's removal policy is DESTROY (RETAIN is CloudFormation's ``DeletionPolicy``,
  so no Delete ever arrives); it deletes the group unless ``RemovalPolicy`` says ``retain``.
* Answers: physical id = the group name; ``Arn`` and ``Adopted`` (``"true"``/``"false"``) as attributes. A
  malformed request (no CloudFormation envelope) raises so Lambda's retries and on-failure handling keep it; a bad
  property or any AWS error is answered ``FAILED`` with the reason; a failed Create answers the physical id
  ``failed-create:<RequestId>`` and the Delete CloudFormation then sends for it does nothing.
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

#: Powertools' Logger (the layer the construct adds): JSON lines with the Lambda context and CloudFormation's
#: RequestId as ``correlation_id``. The request's ResponseURL (a presigned S3 URL) is never logged.
logger = Logger(utc=True)

FAILED_CREATE_PREFIX = "failed-create:"
REQUIRED_KEYS = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId", "ResourceProperties")
NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z")
GONE_STATUSES = ("Deleting", "DeleteFailed")

_clients: dict[str, Any] = {}


class BadRequest(ValueError):
    """Invalid ResourceProperties: answered FAILED."""


def client(name: str = "sagemaker") -> Any:
    if name not in _clients:
        import boto3

        _clients[name] = boto3.client(name)
    return _clients[name]


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, Mapping) else ""


def _is_not_found(error: BaseException) -> bool:
    # SageMaker answers a missing group with ValidationException "... does not exist."
    return error_code(error) in ("ResourceNotFound", "ValidationException") and "does not exist" in str(error)


def _already_exists(error: BaseException) -> bool:
    return "already exists" in str(error).lower()


# -- the desired state ------------------------------------------------------------------------------------------


def desired(properties: Any) -> dict[str, Any]:
    """Validated properties: name, description, policy (JSON text or ""), tags (dict), removal policy."""
    if not isinstance(properties, Mapping):
        raise BadRequest("ResourceProperties must be an object")
    name = properties.get("ModelPackageGroupName")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise BadRequest(f"ModelPackageGroupName must be 1-63 letters, digits or '-', got {name!r}")
    description = properties.get("ModelPackageGroupDescription", "")
    policy = properties.get("ModelPackageGroupPolicy", "")
    if not isinstance(description, str) or not isinstance(policy, str):
        raise BadRequest("ModelPackageGroupDescription and ModelPackageGroupPolicy must be strings")
    if policy:
        try:
            json.loads(policy)
        except ValueError:
            raise BadRequest("ModelPackageGroupPolicy must be a JSON policy document") from None
    tags = properties.get("Tags", [])
    if not isinstance(tags, list) or not all(
        isinstance(t, Mapping) and isinstance(t.get("Key"), str) and isinstance(t.get("Value"), str) for t in tags
    ):
        raise BadRequest("Tags must be a list of {Key, Value} strings")
    removal = properties.get("RemovalPolicy", "retain")
    if removal not in ("retain", "destroy"):
        raise BadRequest(f"RemovalPolicy must be 'retain' or 'destroy', got {removal!r}")
    return {
        "name": name,
        "description": description,
        "policy": policy,
        "tags": {t["Key"]: t["Value"] for t in tags},
        "removal": removal,
    }


# -- operations -------------------------------------------------------------------------------------------------


def describe(name: str) -> dict[str, Any] | None:
    try:
        return client().describe_model_package_group(ModelPackageGroupName=name)
    except Exception as error:
        if _is_not_found(error):
            return None
        raise


def create_or_adopt(want: Mapping[str, Any]) -> tuple[str, bool]:
    """``(arn, adopted)``: the existing group of that name, or a new one."""
    found = describe(want["name"])
    if found is None:
        kwargs: dict[str, Any] = {"ModelPackageGroupName": want["name"]}
        if want["description"]:
            kwargs["ModelPackageGroupDescription"] = want["description"]
        if want["tags"]:
            kwargs["Tags"] = [{"Key": k, "Value": v} for k, v in want["tags"].items()]
        try:
            return client().create_model_package_group(**kwargs)["ModelPackageGroupArn"], False
        except Exception as error:
            if not _already_exists(error):
                raise
            found = describe(want["name"])  # created meanwhile by someone else: adopt it
            if found is None:
                raise
    status = found.get("ModelPackageGroupStatus")
    if status in GONE_STATUSES:
        raise RuntimeError(
            f"model package group {want['name']} is {status}; wait until SageMaker has deleted it, then deploy again"
        )
    logger.info("adopting an existing model package group", group=want["name"], group_status=status)
    if want["description"] and found.get("ModelPackageGroupDescription", "") != want["description"]:
        logger.info("the adopted group keeps its description", group=want["name"], description=found.get("ModelPackageGroupDescription", ""))
    return found["ModelPackageGroupArn"], True


def sync_tags(arn: str, want: Mapping[str, str], before: Mapping[str, str]) -> None:
    """Add or change the desired tags; remove only tags this resource set before and no longer wants."""
    current: dict[str, str] = {}
    kwargs: dict[str, Any] = {"ResourceArn": arn}
    while True:
        page = client().list_tags(**kwargs)
        current.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    stale = [k for k in before if k not in want and k in current]
    if stale:
        client().delete_tags(ResourceArn=arn, TagKeys=stale)
    changed = [{"Key": k, "Value": v} for k, v in want.items() if current.get(k) != v]
    if changed:
        client().add_tags(ResourceArn=arn, Tags=changed)


def sync_policy(name: str, want: str, before: str) -> None:
    """Put the desired policy; delete the policy only if this resource set one before and wants none now."""
    if want:
        client().put_model_package_group_policy(ModelPackageGroupName=name, ResourcePolicy=want)
    elif before:
        try:
            client().delete_model_package_group_policy(ModelPackageGroupName=name)
        except Exception as error:
            if not _is_not_found(error):
                raise


def apply(event: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    want = desired(event["ResourceProperties"])
    before: dict[str, Any] = {"tags": {}, "policy": ""}
    if event["RequestType"] == "Update":
        try:
            old = desired(event.get("OldResourceProperties", {}))
            if old["name"] == want["name"]:
                before = old
        except BadRequest:
            pass
    arn, adopted = create_or_adopt(want)
    sync_tags(arn, want["tags"], before["tags"])
    sync_policy(want["name"], want["policy"], before["policy"])
    return want["name"], {"Arn": arn, "Adopted": "true" if adopted else "false"}


def delete(event: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    physical_id = str(event["PhysicalResourceId"])
    try:
        want = desired(event["ResourceProperties"])
    except BadRequest:
        return physical_id, {}
    if physical_id.startswith(FAILED_CREATE_PREFIX) or want["removal"] == "retain":
        return physical_id, {}
    try:
        client().delete_model_package_group(ModelPackageGroupName=physical_id)
    except Exception as error:
        if not _is_not_found(error):
            raise
    return physical_id, {}


# -- CloudFormation plumbing ------------------------------------------------------------------------------------


def check_event(event: Any) -> None:
    if not isinstance(event, Mapping) or any(k not in event for k in REQUIRED_KEYS):
        raise ValueError("not a CloudFormation custom resource request")
    if event["RequestType"] not in ("Create", "Update", "Delete"):
        raise ValueError(f"RequestType must be Create, Update or Delete, got {event['RequestType']!r}")
    if event["RequestType"] != "Create" and not event.get("PhysicalResourceId"):
        raise ValueError(f"{event['RequestType']} request without PhysicalResourceId")


def respond(event: Mapping[str, Any]) -> dict[str, Any]:
    """The response body for ``event`` (the only I/O is the AWS calls of the operation)."""
    check_event(event)
    request_type = event["RequestType"]
    try:
        physical_id, data = (delete if request_type == "Delete" else apply)(event)
        status, reason = "SUCCESS", "OK"
    except Exception as error:  # noqa: BLE001 - every failure is answered, never left to time out
        logger.exception("custom resource request failed", request_type=request_type)
        status, data = "FAILED", {}
        reason = f"bad request: {error}" if isinstance(error, BadRequest) else f"{type(error).__name__}: {error}"
        physical_id = (
            f"{FAILED_CREATE_PREFIX}{event['RequestId']}" if request_type == "Create" else str(event["PhysicalResourceId"])
        )
    return {
        "Status": status,
        "Reason": reason[:1000],
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data,
    }


def send(url: str, body: Mapping[str, Any]) -> None:
    """PUT the response to CloudFormation's presigned URL (raises when undeliverable, so Lambda retries)."""
    payload = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=payload, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(payload))})
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310 - CloudFormation's https URL
        logger.info("response delivered", status=body["Status"], http_status=reply.status)


@logger.inject_lambda_context(correlation_id_path="RequestId", clear_state=True)
def handler(event: Any, context: Any) -> dict[str, Any]:
    body = respond(event)
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
