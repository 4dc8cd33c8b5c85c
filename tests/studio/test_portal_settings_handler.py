"""studio_portal_settings: what CloudFormation cannot hide yet, added through UpdateUserProfile (Stubber)."""

from __future__ import annotations

import studio_custom_resource as cr
import studio_portal_settings as portal
from tests.studio.conftest import DOMAIN_ID, cfn_event

HIDDEN = {"HiddenMlTools": ["RunningInstances", "Datasets", "Evaluators"], "HiddenAppTypes": ["KernelGateway", "RSessionGateway"]}
PROPS = {"DomainId": DOMAIN_ID, "UserProfileName": "ada", "Hidden": HIDDEN}
PHYSICAL = f"portal-settings:{DOMAIN_ID}:ada"
KEY = {"DomainId": DOMAIN_ID, "UserProfileName": "ada"}
FROM_CLOUDFORMATION = {"HiddenMlTools": ["Training", "JumpStart"], "HiddenAppTypes": ["Canvas"], "HiddenInstanceTypes": ["ml.p5.48xlarge"]}


def _describe(stubber, portal_settings: dict) -> None:  # type: ignore[no-untyped-def]
    stubber.add_response("describe_user_profile", {"DomainId": DOMAIN_ID, "UserProfileName": "ada", "UserSettings": {"StudioWebPortalSettings": portal_settings}}, KEY)


def _ops(client):  # type: ignore[no-untyped-def]
    no_sleep = lambda seconds: None  # noqa: E731
    return {
        "Create": lambda e: portal.create(e, client, no_sleep),
        "Update": lambda e: portal.update(e, client, no_sleep),
        "Delete": lambda e: portal.delete(e, client, no_sleep),
    }


def test_create_adds_the_values_to_what_cloudformation_hid(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _describe(stubber, FROM_CLOUDFORMATION)
    merged = {
        "HiddenMlTools": ["Training", "JumpStart", "RunningInstances", "Datasets", "Evaluators"],
        "HiddenAppTypes": ["Canvas", "KernelGateway", "RSessionGateway"],
        "HiddenInstanceTypes": ["ml.p5.48xlarge"],
    }
    stubber.add_response("update_user_profile", {}, {**KEY, "UserSettings": {"StudioWebPortalSettings": merged}})
    body = cr.respond(cfn_event("Create", PROPS), _ops(client))
    assert body["Status"] == "SUCCESS", body["Reason"]
    assert body["PhysicalResourceId"] == PHYSICAL


def test_applying_twice_changes_nothing_more(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    already = portal.changed(FROM_CLOUDFORMATION, HIDDEN, True)
    _describe(stubber, already)
    stubber.add_response("update_user_profile", {}, {**KEY, "UserSettings": {"StudioWebPortalSettings": already}})
    assert cr.respond(cfn_event("Create", PROPS), _ops(client))["Status"] == "SUCCESS"


def test_update_shows_again_what_is_no_longer_hidden(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    new = {"HiddenMlTools": ["RunningInstances"]}
    current = portal.changed(FROM_CLOUDFORMATION, HIDDEN, True)
    _describe(stubber, current)
    shown = portal.changed(current, {"HiddenMlTools": ["Datasets", "Evaluators"], "HiddenAppTypes": ["KernelGateway", "RSessionGateway"]}, False)
    stubber.add_response("update_user_profile", {}, {**KEY, "UserSettings": {"StudioWebPortalSettings": shown}})
    _describe(stubber, shown)
    stubber.add_response("update_user_profile", {}, {**KEY, "UserSettings": {"StudioWebPortalSettings": shown}})
    body = cr.respond(cfn_event("Update", {**PROPS, "Hidden": new}, physical_id=PHYSICAL, old=PROPS), _ops(client))
    assert body["Status"] == "SUCCESS", body["Reason"]


def test_delete_removes_the_values_and_a_gone_profile_is_done(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _describe(stubber, portal.changed(FROM_CLOUDFORMATION, HIDDEN, True))
    stubber.add_response("update_user_profile", {}, {**KEY, "UserSettings": {"StudioWebPortalSettings": {**FROM_CLOUDFORMATION, "HiddenAppTypes": ["Canvas"]}}})
    assert cr.respond(cfn_event("Delete", PROPS, physical_id=PHYSICAL), _ops(client))["Status"] == "SUCCESS"
    stubber.add_client_error("describe_user_profile", "ResourceNotFound", "User profile does not exist")
    assert cr.respond(cfn_event("Delete", PROPS, physical_id=PHYSICAL), _ops(client))["Status"] == "SUCCESS"


def test_bad_properties_are_refused_before_any_call(sagemaker_stub) -> None:
    client, _ = sagemaker_stub
    for props, message in (
        ({**PROPS, "Hidden": {"HiddenThings": ["x"]}}, "Hidden keys must be among"),
        ({**PROPS, "Hidden": {"HiddenMlTools": "Datasets"}}, "Hidden.HiddenMlTools must be a list of names"),
        ({**PROPS, "UserProfileName": "bad name"}, "UserProfileName must be"),
    ):
        body = cr.respond(cfn_event("Create", props), _ops(client))
        assert body["Status"] == "FAILED" and message in body["Reason"], body["Reason"]
