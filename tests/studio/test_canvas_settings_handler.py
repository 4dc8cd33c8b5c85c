"""studio_canvas_settings: Canvas settings through UpdateUserProfile / UpdateDomain (Stubber: moto has neither)."""

from __future__ import annotations

import pytest

import studio_canvas_settings as canvas
import studio_custom_resource as cr
from tests.studio.conftest import DOMAIN_ID, cfn_event

SETTINGS = {
    "TimeSeriesForecastingSettings": {"Status": "ENABLED", "AmazonForecastRoleArn": "arn:aws:iam::123456789012:role/canvas-forecast"},
    "ModelRegisterSettings": {"Status": "ENABLED"},
    "WorkspaceSettings": {"S3ArtifactPath": "s3://ml-bucket/studio/business-analyst/canvas/", "S3KmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k"},
    "DirectDeploySettings": {"Status": "DISABLED"},
    "KendraSettings": {"Status": "DISABLED"},
}
PROPS = {"DomainId": DOMAIN_ID, "UserProfileName": "analyst", "Settings": SETTINGS, "ProfileRevision": "abc"}
PHYSICAL = f"canvas-settings:{DOMAIN_ID}:analyst"
OAUTH = [{"DataSourceName": "Snowflake", "Status": "ENABLED", "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:snow"}]


def _describe(stubber, canvas_settings: dict) -> None:  # type: ignore[no-untyped-def]
    stubber.add_response(
        "describe_user_profile",
        {"DomainId": DOMAIN_ID, "UserProfileName": "analyst", "UserSettings": {"CanvasAppSettings": canvas_settings}},
        {"DomainId": DOMAIN_ID, "UserProfileName": "analyst"},
    )


def _ops(client):  # type: ignore[no-untyped-def]
    no_sleep = lambda seconds: None  # noqa: E731
    return {
        "Create": lambda e: canvas.create(e, client, no_sleep),
        "Update": lambda e: canvas.update(e, client, no_sleep),
        "Delete": lambda e: canvas.delete(e, client, no_sleep),
    }


def test_create_applies_the_settings_and_leaves_oauth_settings_untouched(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _describe(stubber, {"IdentityProviderOAuthSettings": OAUTH, "DirectDeploySettings": {"Status": "ENABLED"}})
    stubber.add_response(
        "update_user_profile",
        {"UserProfileArn": f"arn:aws:sagemaker:us-east-1:123456789012:user-profile/{DOMAIN_ID}/analyst"},
        {"DomainId": DOMAIN_ID, "UserProfileName": "analyst", "UserSettings": {"CanvasAppSettings": {"IdentityProviderOAuthSettings": OAUTH, **SETTINGS}}},
    )
    body = cr.respond(cfn_event("Create", PROPS), _ops(client))
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == PHYSICAL


def test_domain_defaults_go_through_update_domain(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    stubber.add_response("describe_domain", {"DomainId": DOMAIN_ID, "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/r"}}, {"DomainId": DOMAIN_ID})
    stubber.add_response(
        "update_domain",
        {"DomainArn": f"arn:aws:sagemaker:us-east-1:123456789012:domain/{DOMAIN_ID}"},
        {"DomainId": DOMAIN_ID, "DefaultUserSettings": {"CanvasAppSettings": SETTINGS}},
    )
    body = cr.respond(cfn_event("Create", {**PROPS, "UserProfileName": ""}), _ops(client))
    assert body["PhysicalResourceId"] == f"canvas-settings:{DOMAIN_ID}:domain-defaults"


def test_update_waits_out_a_profile_that_is_still_updating(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    changed = {**SETTINGS, "TimeSeriesForecastingSettings": {"Status": "DISABLED"}}
    _describe(stubber, SETTINGS)
    stubber.add_client_error("update_user_profile", "ResourceInUse", "profile is updating")
    _describe(stubber, SETTINGS)
    stubber.add_response("update_user_profile", {}, {"DomainId": DOMAIN_ID, "UserProfileName": "analyst", "UserSettings": {"CanvasAppSettings": changed}})
    body = cr.respond(cfn_event("Update", {**PROPS, "Settings": changed}, physical_id=PHYSICAL, old=PROPS), _ops(client))
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == PHYSICAL


def test_delete_switches_the_managed_features_off(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _describe(stubber, {**SETTINGS, "IdentityProviderOAuthSettings": OAUTH})
    off = {**SETTINGS, "IdentityProviderOAuthSettings": OAUTH, **canvas.DISABLED}
    stubber.add_response("update_user_profile", {}, {"DomainId": DOMAIN_ID, "UserProfileName": "analyst", "UserSettings": {"CanvasAppSettings": off}})
    body = cr.respond(cfn_event("Delete", PROPS, physical_id=PHYSICAL), _ops(client))
    assert body["Status"] == "SUCCESS"


def test_delete_of_a_profile_that_is_gone_succeeds(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    stubber.add_client_error("describe_user_profile", "ResourceNotFound", "User profile does not exist")
    assert cr.respond(cfn_event("Delete", PROPS, physical_id=PHYSICAL), _ops(client))["Status"] == "SUCCESS"


def test_failed_create_answers_failed_and_the_rollback_delete_touches_nothing(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _describe(stubber, {})
    stubber.add_client_error("update_user_profile", "ValidationException", "S3KmsKeyId is not a valid key")
    body = cr.respond(cfn_event("Create", PROPS), _ops(client))
    assert body["Status"] == "FAILED" and "S3KmsKeyId" in body["Reason"]
    assert body["PhysicalResourceId"] == "failed-create:req-1"
    rollback = cr.respond(cfn_event("Delete", PROPS, physical_id=body["PhysicalResourceId"]), _ops(client))
    assert rollback["Status"] == "SUCCESS"  # and no call: the stubber has nothing queued


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({**SETTINGS, "IdentityProviderOAuthSettings": OAUTH}, "must not manage IdentityProviderOAuthSettings"),
        ({**SETTINGS, "ModelRegisterSettings": {"Status": "ENABLED", "CrossAccountModelRegisterRoleArn": "arn:aws:iam::1:role/x"}}, "CrossAccountModelRegisterRoleArn"),
        ({**SETTINGS, "KendraSettings": {"Status": "ON"}}, "KendraSettings.Status must be"),
        ({**SETTINGS, "WorkspaceSettings": {"S3ArtifactPath": "ml-bucket/x"}}, "S3ArtifactPath must be an s3:// URI"),
        ({"Bogus": {}}, "Settings keys must be among"),
        ({**SETTINGS, "TimeSeriesForecastingSettings": {"Status": "ENABLED", "AmazonForecastRoleArn": "forecast"}}, "AmazonForecastRoleArn must be an IAM role ARN"),
    ],
)
def test_bad_settings_are_refused_before_any_call(sagemaker_stub, settings, message) -> None:
    client, _ = sagemaker_stub
    body = cr.respond(cfn_event("Create", {**PROPS, "Settings": settings}), _ops(client))
    assert body["Status"] == "FAILED" and message in body["Reason"]


def test_unknown_domain_id_is_a_bad_request(sagemaker_stub) -> None:
    client, _ = sagemaker_stub
    body = cr.respond(cfn_event("Create", {**PROPS, "DomainId": "domain-1"}), _ops(client))
    assert body["Reason"].startswith("bad request: DomainId must be")
