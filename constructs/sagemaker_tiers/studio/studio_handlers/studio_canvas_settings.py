"""Custom resource: Canvas settings of a user profile (or of the domain's defaults) through the SageMaker API.

CloudFormation has no ``CanvasAppSettings`` on ``AWS::SageMaker::Domain`` or ``UserProfile``; only
``UpdateUserProfile`` / ``UpdateDomain`` set them.

ResourceProperties: ``DomainId``, ``UserProfileName`` ("" for the domain's default user settings) and
``Settings``: the managed part of ``CanvasAppSettings`` (time-series forecasting, model registration, workspace,
direct deploy, Kendra, generative AI). The handler reads the current settings and replaces only those keys, so
``IdentityProviderOAuthSettings``, ``EmrServerlessSettings`` and anything else set by hand stay untouched.

* Create / Update: merge and apply (idempotent: applying the same settings twice changes nothing).
* Delete: switch the managed features off again (time series, model registration, direct deploy, Kendra
  ``DISABLED``); a profile or domain that no longer exists counts as done.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import studio_custom_resource as cr

STATUS_SETTINGS = ("TimeSeriesForecastingSettings", "ModelRegisterSettings", "DirectDeploySettings", "KendraSettings")
MANAGED = (*STATUS_SETTINGS, "WorkspaceSettings", "GenerativeAiSettings")
FORBIDDEN = ("IdentityProviderOAuthSettings", "EmrServerlessSettings")
DISABLED = {key: {"Status": "DISABLED"} for key in STATUS_SETTINGS}
ROLE_ARN = r"arn:aws[a-z-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"

def parse(props: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Validate ResourceProperties; raise BadRequest naming the property, the value and what is allowed."""
    domain_id = props.get("DomainId")
    if not isinstance(domain_id, str) or not re.fullmatch(r"d-(-*[a-z0-9]){1,61}", domain_id):
        raise cr.BadRequest(f"DomainId must be a domain id such as 'd-abc123', got {domain_id!r}")
    profile = props.get("UserProfileName", "")
    if not isinstance(profile, str) or (profile and not re.fullmatch(cr.NAME_PATTERN, profile)):
        raise cr.BadRequest(f"UserProfileName must be '' (domain defaults) or a user profile name, got {profile!r}")
    settings = props.get("Settings")
    if not isinstance(settings, Mapping) or not settings:
        raise cr.BadRequest(f"Settings must be a non-empty object of Canvas settings, got {settings!r}")
    for key, value in settings.items():
        if key in FORBIDDEN:
            raise cr.BadRequest(f"Settings must not manage {key} (it is left as set by hand), got {key!r}")
        if key not in MANAGED:
            raise cr.BadRequest(f"Settings keys must be among {', '.join(MANAGED)}, got {key!r}")
        if not isinstance(value, Mapping):
            raise cr.BadRequest(f"Settings.{key} must be an object, got {value!r}")
        if key in STATUS_SETTINGS and value.get("Status") not in ("ENABLED", "DISABLED"):
            raise cr.BadRequest(f"Settings.{key}.Status must be 'ENABLED' or 'DISABLED', got {value.get('Status')!r}")
    model_register = settings.get("ModelRegisterSettings", {})
    if "CrossAccountModelRegisterRoleArn" in model_register:
        raise cr.BadRequest("Settings.ModelRegisterSettings must not set CrossAccountModelRegisterRoleArn (cross-account registration is off)")
    workspace = settings.get("WorkspaceSettings")
    if workspace is not None:
        path = workspace.get("S3ArtifactPath")
        if not isinstance(path, str) or not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?", path):
            raise cr.BadRequest(f"Settings.WorkspaceSettings.S3ArtifactPath must be an s3:// URI, got {path!r}")
        if not workspace.get("S3KmsKeyId"):
            raise cr.BadRequest("Settings.WorkspaceSettings.S3KmsKeyId must name the KMS key of the artifacts, got none")
    forecast_role = settings.get("TimeSeriesForecastingSettings", {}).get("AmazonForecastRoleArn")
    if forecast_role is not None and not re.fullmatch(ROLE_ARN, str(forecast_role)):
        raise cr.BadRequest(f"Settings.TimeSeriesForecastingSettings.AmazonForecastRoleArn must be an IAM role ARN, got {forecast_role!r}")
    generative = settings.get("GenerativeAiSettings")
    if generative is not None and not re.fullmatch(ROLE_ARN, str(generative.get("AmazonBedrockRoleArn", ""))):
        raise cr.BadRequest(f"Settings.GenerativeAiSettings.AmazonBedrockRoleArn must be an IAM role ARN, got {generative!r}")
    return domain_id, profile, {k: dict(v) for k, v in settings.items()}


def physical_id(domain_id: str, profile: str) -> str:
    return f"canvas-settings:{domain_id}:{profile or 'domain-defaults'}"


def current_settings(client: Any, domain_id: str, profile: str) -> dict[str, Any]:
    if profile:
        described = client.describe_user_profile(DomainId=domain_id, UserProfileName=profile)
        return dict(described.get("UserSettings", {}).get("CanvasAppSettings", {}))
    described = client.describe_domain(DomainId=domain_id)
    return dict(described.get("DefaultUserSettings", {}).get("CanvasAppSettings", {}))


def merged(current: Mapping[str, Any], managed: Mapping[str, Any]) -> dict[str, Any]:
    """The current settings with the managed keys replaced; every other key kept as it is."""
    result = dict(current)
    result.update({k: dict(v) for k, v in managed.items()})
    return result


def apply(
    client: Any, domain_id: str, profile: str, managed: Mapping[str, Any], sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Write the merged settings; waits out a profile or domain that is still updating (ResourceInUse)."""
    for attempt in range(cr.BUSY_RETRIES):
        settings = merged(current_settings(client, domain_id, profile), managed)
        try:
            if profile:
                client.update_user_profile(
                    DomainId=domain_id, UserProfileName=profile, UserSettings={"CanvasAppSettings": settings}
                )
            else:
                client.update_domain(DomainId=domain_id, DefaultUserSettings={"CanvasAppSettings": settings})
            return settings
        except Exception as error:
            if cr.error_code(error) not in ("ResourceInUse", "ResourceInUseException") or attempt == cr.BUSY_RETRIES - 1:
                raise
            sleep(10)
    raise AssertionError("unreachable")  # pragma: no cover


def create(event: Mapping[str, Any], client: Any = None, sleep: Callable[[float], None] = time.sleep) -> cr.Outcome:
    client = client or cr.sagemaker()
    domain_id, profile, settings = parse(event["ResourceProperties"])
    apply(client, domain_id, profile, settings, sleep)
    return physical_id(domain_id, profile), {"Target": profile or "domain-defaults"}


def update(event: Mapping[str, Any], client: Any = None, sleep: Callable[[float], None] = time.sleep) -> cr.Outcome:
    # Same target: the settings are replaced in place. New target: a new physical id, and CloudFormation's Delete
    # of the old one switches the old target's features off.
    return create(event, client, sleep)


def delete(event: Mapping[str, Any], client: Any = None, sleep: Callable[[float], None] = time.sleep) -> cr.Outcome:
    client = client or cr.sagemaker()
    try:
        domain_id, profile, _ = parse(event["ResourceProperties"])
    except cr.BadRequest:
        return event["PhysicalResourceId"], {}  # refused at Create: nothing was applied
    if physical_id(domain_id, profile) != event["PhysicalResourceId"]:
        return event["PhysicalResourceId"], {}
    try:
        apply(client, domain_id, profile, DISABLED, sleep)
    except Exception as error:
        if not cr.is_not_found(error):
            raise
    return event["PhysicalResourceId"], {}


@cr.entry_point
def handler(event: Any, context: Any) -> dict[str, Any]:
    return cr.run(event, {"Create": create, "Update": update, "Delete": delete})
