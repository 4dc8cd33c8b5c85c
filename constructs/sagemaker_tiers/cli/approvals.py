"""Decide pending model packages through the approval API's IAM-authorized ``POST /decisions`` route.

The request is signed with SigV4 for ``execute-api`` (botocore's :class:`~botocore.auth.SigV4Auth`) with the
caller's own credentials; API Gateway checks ``execute-api:Invoke`` and the handler records the caller's ARN in the
package's ApprovalDescription. The emailed links are never used. Request shape: ``{"modelPackageArn", "decision":
"approve"|"reject", "comment"}`` (registry/approval_handlers/approval_api.py, ``parse_decision_request``).
Signing requests to IAM-authorized REST APIs:
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from sagemaker_tiers.cli.discovery import Deployment
from sagemaker_tiers.cli.errors import CliError
from sagemaker_tiers.cli.status import pending_packages, version_of

#: approval_api.COMMENT_MAX: a longer comment is refused here, before any request.
COMMENT_MAX = 1000
DECISIONS = ("approve", "reject")
TIMEOUT_SECONDS = 30


def resolve_package(deployment: Deployment, session: Any, package: str) -> str:
    """The versioned model package ARN named by ``package``: an ARN, or ``<group>/<version>`` of a watched group."""
    if package.startswith("arn:"):
        if version_of(package) is None or ":model-package/" not in package:
            raise CliError("BadPackage", f"{package!r} is not a versioned model package ARN")
        deployment.check_group(package.split(":model-package/", 1)[1].rsplit("/", 1)[0])
        return package
    group, sep, version = package.rpartition("/")
    if not sep or not version.isdigit():
        raise CliError("BadPackage", f"name a package as <group>/<version> or by its ARN, got {package!r}")
    deployment.check_group(group)
    paginator = session.client("sagemaker").get_paginator("list_model_packages")
    for page in paginator.paginate(ModelPackageGroupName=group, ModelPackageType="Versioned"):
        for summary in page["ModelPackageSummaryList"]:
            if version_of(summary["ModelPackageArn"]) == int(version):
                return str(summary["ModelPackageArn"])
    raise CliError("UnknownPackage", f"group {group!r} has no version {version}")


def signed_decision_request(url: str, body: bytes, credentials: Any, region: str) -> AWSRequest:
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return request


def decide(deployment: Deployment, session: Any, package: str, decision: str, comment: str) -> dict[str, Any]:
    """Send one decision; the API's answer as ``{"modelPackageArn", "modelApprovalStatus"}``.

    :raises CliError: AccessDenied (403), Conflict (409: already decided), or the API's message for other refusals.
    """
    if decision not in DECISIONS:
        raise CliError("BadDecision", f"decision must be one of {list(DECISIONS)}, got {decision!r}")
    if len(comment) > COMMENT_MAX:
        raise CliError("BadComment", f"the comment must be at most {COMMENT_MAX} characters, got {len(comment)}")
    arn = resolve_package(deployment, session, package)
    base = deployment.require("registry", "ApprovalApiUrl")
    url = base.rstrip("/") + "/decisions"
    credentials = session.get_credentials()
    if credentials is None:
        raise CliError("NoCredentials", "no AWS credentials found: pass --profile or configure credentials")
    body = json.dumps({"modelPackageArn": arn, "decision": decision, "comment": comment}).encode()
    signed = signed_decision_request(url, body, credentials.get_frozen_credentials(), deployment.region)
    prepared = urllib.request.Request(url, data=body, headers=dict(signed.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(prepared, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (https URL from the stack)
            answer: dict[str, Any] = json.loads(response.read().decode())
            return answer
    except urllib.error.HTTPError as error:
        raise _refusal(error.code, error.read()) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise CliError("ApiUnreachable", f"the approval API at {url} could not be reached: {error}") from None


def _refusal(status: int, raw: bytes) -> CliError:
    try:
        payload = json.loads(raw.decode())
        # The handler answers {"message"}; API Gateway's own IAM refusals answer {"Message"}.
        message = payload.get("message") or payload.get("Message") or ""
    except (ValueError, UnicodeDecodeError, AttributeError):
        message = ""
    if status == 403:
        return CliError("AccessDenied", f"missing permission execute-api:Invoke on POST /decisions: {message or 'forbidden'}")
    if status == 409:
        return CliError("Conflict", message or "the model package was already decided")
    return CliError(f"Http{status}", f"the approval API answered {status}: {message or 'no message'}")


def list_pending(deployment: Deployment, session: Any, groups: list[str], now: Any) -> list[dict[str, Any]]:
    names = [deployment.check_group(g) for g in groups] if groups else list(deployment.groups)
    sagemaker = session.client("sagemaker")
    return [p for g in names for p in pending_packages(sagemaker, g, now)]


__all__ = ["COMMENT_MAX", "DECISIONS", "decide", "list_pending", "resolve_package", "signed_decision_request"]
