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

Concurrent invocations for the same group can interleave their read and write; deploy the
function with a reserved concurrency of 1 so reconciliations run one at a time.

Environment:
- PARAMETER_PREFIX: e.g. ``/sagemaker-tiers/registry`` (no trailing slash).
- WATCHED_GROUPS: comma-separated model package group names; other groups are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import approval_common as common
from approval_common import MalformedEvent, log

__all__ = ["MalformedEvent", "NONE", "handler", "parse_event", "parameter_name", "latest_approved", "reconcile"]

NONE = "NONE"
PAGE_SIZE = 100  # ListModelPackages MaxResults (the API maximum)


@dataclass(frozen=True)
class Config:
    parameter_prefix: str
    watched_groups: frozenset[str]

    @classmethod
    def from_env(cls) -> Config:
        prefix = common.require_env("PARAMETER_PREFIX").rstrip("/")
        if not prefix.startswith("/"):
            raise common.ConfigError("PARAMETER_PREFIX must start with '/'")
        return cls(parameter_prefix=prefix, watched_groups=common.watched_groups())


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
        log("INFO", "approved model unchanged", group=group, parameter=name, value=current)
        return {"status": "unchanged", "parameter": name, "value": current}
    description = (
        f"Approved model package of group {group}: version {latest[1]}"
        if latest
        else f"Approved model package of group {group}: none approved"
    )
    common.client("ssm").put_parameter(
        Name=name, Value=desired, Type="String", Overwrite=True, Description=description
    )
    log("INFO", "approved model updated", group=group, parameter=name, previous=current, value=desired)
    return {"status": "updated", "parameter": name, "value": desired}


def handler(event: Any, context: Any) -> dict[str, Any]:
    try:
        group = parse_event(event)
    except MalformedEvent as exc:
        log("ERROR", "malformed event", reason=str(exc), request_id=common.request_id(context))
        raise
    config = Config.from_env()
    if group not in config.watched_groups:
        log("INFO", "group not watched", group=group)
        return {"status": "ignored"}
    return reconcile(group, config)
