"""Fixtures for the Studio handlers, tested in-process.

The handlers are one Lambda asset folder whose modules import each other as top-level modules, so that folder
goes on sys.path. moto covers CloudWatch metrics; it has no SageMaker apps, user profiles, spaces or hubs, so
SageMaker calls go through botocore's Stubber, which checks every request against the real API model.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import import_handlers_from

import_handlers_from("studio", "studio_handlers")

REGION = "us-east-1"
DOMAIN_ID = "d-abc123def456"


def cfn_event(request_type: str, props: dict[str, Any], *, physical_id: str | None = None, old: dict[str, Any] | None = None) -> dict[str, Any]:
    """A CloudFormation custom resource request as CloudFormation sends it."""
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x?sig=1",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/studio/1",
        "RequestId": "req-1",
        "LogicalResourceId": "Resource1",
        "ResourceType": "Custom::Test",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f", **props},
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old is not None:
        event["OldResourceProperties"] = {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:f", **old}
    return event


@pytest.fixture()
def sagemaker_stub():  # type: ignore[no-untyped-def]
    """A SageMaker client whose every call must be announced on the stubber, in order."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("sagemaker", region_name=REGION)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture()
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Responses the handlers PUT to CloudFormation (urlopen replaced; nothing leaves the process)."""
    import json
    import urllib.request

    bodies: list[dict[str, Any]] = []

    class _Reply:
        status = 200

        def __enter__(self):  # type: ignore[no-untyped-def]
            return self

        def __exit__(self, *args):  # type: ignore[no-untyped-def]
            return False

    def fake_urlopen(request, timeout):  # type: ignore[no-untyped-def]
        assert request.get_method() == "PUT"
        assert request.full_url.startswith("https://cloudformation-custom-resource-response")
        bodies.append(json.loads(request.data))
        return _Reply()

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return bodies
