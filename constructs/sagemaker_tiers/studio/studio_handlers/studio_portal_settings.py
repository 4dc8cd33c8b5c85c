"""Custom resource: what a profile's Studio hides beyond what CloudFormation can carry, through UpdateUserProfile.

CloudFormation validates ``HiddenMlTools``, ``HiddenAppTypes`` and ``HiddenInstanceTypes`` of
``AWS::SageMaker::UserProfile`` against its own resource schema, which lags SageMaker's API enums (for example the
``RunningInstances``, ``Datasets`` and ``Evaluators`` tools). The construct sends CloudFormation what it accepts and
this resource adds the rest through the API, which accepts its own enums.

ResourceProperties: ``DomainId``, ``UserProfileName`` and ``Hidden``: ``{"HiddenMlTools": [...],
"HiddenAppTypes": [...], "HiddenInstanceTypes": [...]}``, values to hide in addition to what the profile hides.

* Create / Update: read the profile's ``StudioWebPortalSettings``, add the values, write them back with
  ``UpdateUserProfile`` (idempotent; every other portal setting is kept; waits out a profile still updating). An
  update first shows again what the old properties hid and the new ones do not.
* Delete: remove the values again; a profile that no longer exists counts as done.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import studio_custom_resource as cr

LISTS = ("HiddenMlTools", "HiddenAppTypes", "HiddenInstanceTypes")
VALUE_PATTERN = r"[A-Za-z0-9.\-]{1,64}"

def parse(props: Mapping[str, Any]) -> tuple[str, str, dict[str, list[str]]]:
    """Validate ResourceProperties; raise BadRequest naming the property, the value and what is allowed."""
    domain_id = props.get("DomainId")
    if not isinstance(domain_id, str) or not re.fullmatch(r"d-(-*[a-z0-9]){1,61}", domain_id):
        raise cr.BadRequest(f"DomainId must be a domain id such as 'd-abc123', got {domain_id!r}")
    profile = props.get("UserProfileName")
    if not isinstance(profile, str) or not re.fullmatch(cr.NAME_PATTERN, profile):
        raise cr.BadRequest(f"UserProfileName must be a user profile name, got {profile!r}")
    hidden = props.get("Hidden")
    if not isinstance(hidden, Mapping) or not hidden:
        raise cr.BadRequest(f"Hidden must be a non-empty object of {', '.join(LISTS)}, got {hidden!r}")
    result: dict[str, list[str]] = {}
    for key, values in hidden.items():
        if key not in LISTS:
            raise cr.BadRequest(f"Hidden keys must be among {', '.join(LISTS)}, got {key!r}")
        if not isinstance(values, list) or not all(isinstance(v, str) and re.fullmatch(VALUE_PATTERN, v) for v in values):
            raise cr.BadRequest(f"Hidden.{key} must be a list of names, got {values!r}")
        result[key] = list(values)
    return domain_id, profile, result


def physical_id(domain_id: str, profile: str) -> str:
    return f"portal-settings:{domain_id}:{profile}"


def _portal(client: Any, domain_id: str, profile: str) -> dict[str, Any]:
    described = client.describe_user_profile(DomainId=domain_id, UserProfileName=profile)
    return dict(described.get("UserSettings", {}).get("StudioWebPortalSettings", {}))


def changed(current: Mapping[str, Any], hidden: Mapping[str, list[str]], add: bool) -> dict[str, Any]:
    """The portal settings with ``hidden`` added (or removed); every other setting kept as it is."""
    result = dict(current)
    for key, values in hidden.items():
        present = list(result.get(key, []))
        if add:
            result[key] = present + [v for v in values if v not in present]
        else:
            result[key] = [v for v in present if v not in values]
    return result


def apply(client: Any, domain_id: str, profile: str, hidden: Mapping[str, list[str]], add: bool, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    for attempt in range(cr.BUSY_RETRIES):
        settings = changed(_portal(client, domain_id, profile), hidden, add)
        try:
            client.update_user_profile(DomainId=domain_id, UserProfileName=profile, UserSettings={"StudioWebPortalSettings": settings})
            return settings
        except Exception as error:
            if cr.error_code(error) not in ("ResourceInUse", "ResourceInUseException") or attempt == cr.BUSY_RETRIES - 1:
                raise
            sleep(10)
    raise AssertionError("unreachable")  # pragma: no cover


def create(event: Mapping[str, Any], client: Any = None, sleep: Callable[[float], None] = time.sleep) -> cr.Outcome:
    client = client or cr.sagemaker()
    domain_id, profile, hidden = parse(event["ResourceProperties"])
    apply(client, domain_id, profile, hidden, True, sleep)
    return physical_id(domain_id, profile), {}


def update(event: Mapping[str, Any], client: Any = None, sleep: Callable[[float], None] = time.sleep) -> cr.Outcome:
    client = client or cr.sagemaker()
    domain_id, profile, hidden = parse(event["ResourceProperties"])
    try:
        old_domain, old_profile, old_hidden = parse(event.get("OldResourceProperties") or {})
    except cr.BadRequest:
        old_domain, old_profile, old_hidden = "", "", {}
    if (old_domain, old_profile) == (domain_id, profile):
        # Values no longer hidden by this resource (the persona now shows them) become visible again.
        dropped = {k: [v for v in vs if v not in hidden.get(k, [])] for k, vs in old_hidden.items()}
        if any(dropped.values()):
            apply(client, domain_id, profile, dropped, False, sleep)
    apply(client, domain_id, profile, hidden, True, sleep)
    return physical_id(domain_id, profile), {}


def delete(event: Mapping[str, Any], client: Any = None, sleep: Callable[[float], None] = time.sleep) -> cr.Outcome:
    client = client or cr.sagemaker()
    try:
        domain_id, profile, hidden = parse(event["ResourceProperties"])
    except cr.BadRequest:
        return event["PhysicalResourceId"], {}
    if physical_id(domain_id, profile) != event["PhysicalResourceId"]:
        return event["PhysicalResourceId"], {}
    try:
        apply(client, domain_id, profile, hidden, False, sleep)
    except Exception as error:
        if not cr.is_not_found(error):
            raise
    return event["PhysicalResourceId"], {}


@cr.entry_point
def handler(event: Any, context: Any) -> dict[str, Any]:
    return cr.run(event, {"Create": create, "Update": update, "Delete": delete})
