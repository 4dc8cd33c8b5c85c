"""studio_hub_content: hub content references for the allowlisted JumpStart models (botocore Stubber: moto has no hubs)."""

from __future__ import annotations

from tests.conftest import POWERTOOLS_SERVICE_NAME, emitted, lambda_context

import pytest

import studio_custom_resource as cr
import studio_hub_content as hub
from tests.studio.conftest import cfn_event

PROPS = {"HubName": "curated", "ModelIds": ["model-a", "model-b"], "Partition": "aws", "Region": "us-east-1"}
ARN = "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/{}"
REPLY = {"HubArn": "arn:aws:sagemaker:us-east-1:123456789012:hub/curated", "HubContentArn": "arn:aws:sagemaker:us-east-1:123456789012:hub-content/curated/ModelReference/x"}


def _expect_add(stubber, model_id: str, hub_name: str = "curated") -> None:  # type: ignore[no-untyped-def]
    stubber.add_response(
        "create_hub_content_reference",
        REPLY,
        {"HubName": hub_name, "SageMakerPublicHubContentArn": ARN.format(model_id), "HubContentName": model_id},
    )


def _expect_remove(stubber, model_id: str, hub_name: str = "curated") -> None:  # type: ignore[no-untyped-def]
    stubber.add_response(
        "delete_hub_content_reference", {}, {"HubName": hub_name, "HubContentType": "ModelReference", "HubContentName": model_id}
    )


def _ops(client):  # type: ignore[no-untyped-def]
    return {
        "Create": lambda e: hub.create(e, client),
        "Update": lambda e: hub.update(e, client),
        "Delete": lambda e: hub.delete(e, client),
    }


def test_create_references_every_allowlisted_model_and_is_idempotent(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _expect_add(stubber, "model-a")
    stubber.add_client_error("create_hub_content_reference", "ResourceInUse", "already referenced")  # a retry
    body = cr.respond(cfn_event("Create", PROPS), _ops(client))
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == "hub-model-references:curated"
    assert body["Data"] == {"HubName": "curated", "ModelIds": "model-a,model-b"}


def test_failed_create_undoes_what_it_added_and_the_rollback_delete_succeeds(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _expect_add(stubber, "model-a")
    stubber.add_client_error("create_hub_content_reference", "ResourceLimitExceeded", "too many references")
    _expect_remove(stubber, "model-a")  # undo: nothing half-done
    body = cr.respond(cfn_event("Create", PROPS), _ops(client))
    assert body["Status"] == "FAILED"
    assert "ResourceLimitExceeded" in body["Reason"]
    assert body["PhysicalResourceId"] == "failed-create:req-1"
    # CloudFormation's rollback deletes that id: no SageMaker call (the stubber would fail on any), success.
    rollback = cr.respond(cfn_event("Delete", PROPS, physical_id=body["PhysicalResourceId"]), _ops(client))
    assert rollback["Status"] == "SUCCESS"
    assert rollback["PhysicalResourceId"] == "failed-create:req-1"


def test_update_adds_new_ids_and_removes_dropped_ones(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _expect_add(stubber, "model-c")
    _expect_remove(stubber, "model-a")
    new = {**PROPS, "ModelIds": ["model-b", "model-c"]}
    body = cr.respond(cfn_event("Update", new, physical_id="hub-model-references:curated", old=PROPS), _ops(client))
    assert body["Status"] == "SUCCESS"
    assert body["PhysicalResourceId"] == "hub-model-references:curated"


def test_failed_update_restores_the_previous_references(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _expect_add(stubber, "model-c")
    stubber.add_client_error("delete_hub_content_reference", "ThrottlingException", "slow down")
    _expect_remove(stubber, "model-c")  # the add is undone
    new = {**PROPS, "ModelIds": ["model-b", "model-c"]}
    body = cr.respond(cfn_event("Update", new, physical_id="hub-model-references:curated", old=PROPS), _ops(client))
    assert body["Status"] == "FAILED"
    assert body["PhysicalResourceId"] == "hub-model-references:curated"


def test_new_hub_name_is_a_replacement(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _expect_add(stubber, "model-a", "curated-v2")
    _expect_add(stubber, "model-b", "curated-v2")
    new = {**PROPS, "HubName": "curated-v2"}
    body = cr.respond(cfn_event("Update", new, physical_id="hub-model-references:curated", old=PROPS), _ops(client))
    assert body["PhysicalResourceId"] == "hub-model-references:curated-v2"


def test_delete_removes_references_and_tolerates_missing_ones(sagemaker_stub) -> None:
    client, stubber = sagemaker_stub
    _expect_remove(stubber, "model-a")
    stubber.add_client_error("delete_hub_content_reference", "ResourceNotFound", "no such content")
    body = cr.respond(cfn_event("Delete", PROPS, physical_id="hub-model-references:curated"), _ops(client))
    assert body["Status"] == "SUCCESS"


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({**PROPS, "ModelIds": []}, "ModelIds must be a list of 1-100"),
        ({**PROPS, "ModelIds": ["ok", "bad id!"]}, "JumpStart model ids"),
        ({**PROPS, "ModelIds": ["a", "a"]}, "must not repeat"),
        ({**PROPS, "HubName": "-bad"}, "HubName must be"),
        ({**PROPS, "Region": "mars"}, "Region must be"),
    ],
)
def test_malformed_properties_are_refused_before_any_call(sagemaker_stub, props, message) -> None:
    client, _ = sagemaker_stub
    body = cr.respond(cfn_event("Create", props), _ops(client))
    assert body["Status"] == "FAILED"
    assert body["Reason"].startswith("bad request: ") and message in body["Reason"]
    assert body["PhysicalResourceId"].startswith("failed-create:")


@pytest.mark.parametrize("event", [None, {}, {"RequestType": "Create"}, {**cfn_event("Create", PROPS), "RequestType": "Explode"}])
def test_a_malformed_event_raises_and_answers_nothing(event, sent) -> None:
    with pytest.raises(ValueError):
        hub.handler(event, lambda_context())
    assert sent == []


def test_handler_answers_cloudformation_once(sent, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(hub.cr, "_client", object())  # any SageMaker call would fail: this request is refused first
    signed = "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?X-Amz-Signature=c4n4ry5ig"
    event = {**cfn_event("Create", {**PROPS, "ModelIds": "model-a"}), "ResponseURL": signed}
    body = hub.handler(event, lambda_context())
    assert sent == [body]
    assert body["Status"] == "FAILED" and body["RequestId"] == "req-1" and body["LogicalResourceId"] == "Resource1"

    out = capsys.readouterr().out
    logs, _ = emitted(out)
    answered = next(r for r in logs if r["message"] == "custom resource answered")
    assert (answered["level"], answered["status"], answered["request_type"]) == ("INFO", "FAILED", "Create")
    assert all(r["correlation_id"] == "req-1" and r["service"] == POWERTOOLS_SERVICE_NAME for r in logs)
    assert "c4n4ry5ig" not in out  # CloudFormation's presigned response URL is never logged
