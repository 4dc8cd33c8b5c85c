"""JumpStartModelVersion's synthesized state machines, executed under moto with DescribeHubContent answered by a
fake public hub (tests/jumpstart/hub_documents.py). Every SDK request is validated against botocore's model."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagemaker_tiers.jumpstart import EULA_NOT_ACCEPTED, NOT_SERVABLE
from tests.jumpstart import hub_documents as docs
from tests.jumpstart.conftest import GROUP
from tests.sfn_support import (
    ACCOUNT,
    REGION,
    aws_sdk_integrations_as_in_aws,
    entered_states,
    physical_values,
    run_execution,
    state_machine_definition,
)

TOPIC = "jumpstart-notifications"


class Account:
    """moto's account with the four registration state machines, their group and topic."""

    def __init__(self, synthesized: Any, calls: list[dict[str, Any]], hub: docs.FakeHub) -> None:
        import boto3

        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.sm = boto3.client("sagemaker", region_name=REGION)
        self.topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name=TOPIC)["TopicArn"]
        self.sm.create_model_package_group(ModelPackageGroupName=GROUP)
        overrides = {synthesized.logical_id(m.topic): self.topic_arn for m in synthesized.models.values()}
        physical = physical_values(synthesized.template_json, **overrides)
        self.arns: dict[str, str] = {}
        for name, model in synthesized.models.items():
            definition = state_machine_definition(synthesized.template_json, synthesized.logical_id(model.state_machine), physical)
            self.arns[name] = self.sfn.create_state_machine(
                name=f"jumpstart-{name.replace('_', '-')}", definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn"
            )["stateMachineArn"]
        self.calls = calls
        self.hub = hub

    def run(self, name: str, payload: Any = None) -> dict:
        return run_execution(self.sfn, self.arns[name], payload, timeout=60)

    def packages(self) -> list[dict]:
        return self.sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]

    def registrations(self) -> list[dict[str, Any]]:
        return [c["parameters"] for c in self.calls if c["action"] == "createModelPackage"]

    def notifications(self) -> list[str]:
        from moto.sns.models import sns_backends

        return [m[1] for m in sns_backends[ACCOUNT][REGION].topics[self.topic_arn].sent_notifications]


@pytest.fixture
def account(synthesized, monkeypatch):
    from moto import mock_aws

    hub = docs.install(monkeypatch)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        with aws_sdk_integrations_as_in_aws() as calls:
            yield Account(synthesized, calls, hub)


def test_open_model_is_registered_pending_approval_from_its_document(account):
    result = account.run("open", {"trigger": {"source": "deployment", "status": "CREATE_COMPLETE"}})
    assert result["status"] == "SUCCEEDED", result.get("cause")
    output = json.loads(result["output"])
    assert output["modelId"] == docs.OPEN_MODEL and output["modelVersion"] == "2.3.1"
    assert account.hub.requests == [
        {"HubName": "SageMakerPublicHub", "HubContentType": "Model", "HubContentName": docs.OPEN_MODEL, "HubContentVersion": None}
    ]
    (request,) = account.registrations()
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert request["ModelPackageGroupName"] == GROUP
    spec = request["InferenceSpecification"]
    (container,) = spec["Containers"]
    assert container["Image"] == docs.FLAN_T5["HostingEcrUri"]
    # The prepacked artifact (weights with their inference code) is preferred over the bare one.
    assert container["ModelDataSource"] == {
        "S3DataSource": {"S3Uri": docs.FLAN_T5["HostingPrepackedArtifactUri"], "S3DataType": "S3Object", "CompressionType": "Gzip"}
    }
    # Every container-scope variable, as strings (SageMaker's Environment map takes strings only).
    assert container["Environment"] == {v["Name"]: str(v["Default"]) for v in docs.FLAN_T5["InferenceEnvironmentVariables"]}
    assert spec["SupportedRealtimeInferenceInstanceTypes"] == docs.FLAN_T5["SupportedInferenceInstanceTypes"]
    metadata = request["CustomerMetadataProperties"]
    assert metadata["sagemaker-tiers:jumpstart-model-id"] == docs.OPEN_MODEL
    assert metadata["sagemaker-tiers:jumpstart-model-version"] == "2.3.1"
    assert metadata["sagemaker-tiers:default-instance-type"] == "ml.g5.2xlarge"
    assert metadata["sagemaker-tiers:hub-content-arn"].endswith(f"hub-content/SageMakerPublicHub/Model/{docs.OPEN_MODEL}/2.3.1")
    (package,) = account.packages()
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert package["ModelPackageArn"] == output["modelPackageArn"]


def test_a_second_run_finds_the_version_registered_and_registers_nothing(account):
    first = account.run("open")
    second = account.run("open", {"trigger": {"source": "schedule"}})
    assert first["status"] == second["status"] == "SUCCEEDED"
    assert json.loads(second["output"])["alreadyRegistered"] is True
    assert "AlreadyRegistered" in entered_states(account.sfn, second["executionArn"])
    assert len(account.packages()) == 1 and len(account.registrations()) == 1


def test_a_new_version_of_the_model_is_registered_as_a_new_package(account):
    account.run("open")
    account.hub.documents[docs.OPEN_MODEL] = ("2.4.0", account.hub.documents[docs.OPEN_MODEL][1])
    result = account.run("open")
    assert result["status"] == "SUCCEEDED" and json.loads(result["output"])["modelVersion"] == "2.4.0"
    assert len(account.packages()) == 2


def test_gated_model_with_accepted_eula_is_registered_with_the_acceptance(account):
    result = account.run("gated")
    assert result["status"] == "SUCCEEDED", result.get("cause")
    (request,) = account.registrations()
    (container,) = request["InferenceSpecification"]["Containers"]
    assert container["Image"] == docs.LLAMA_2["HostingEcrUri"]
    assert container["ModelDataSource"]["S3DataSource"] == {
        "S3Uri": docs.LLAMA_2["HostingArtifactUri"],
        "S3DataType": "S3Prefix",
        "CompressionType": "None",
        "ModelAccessConfig": {"AcceptEula": True},
    }


def test_gated_model_without_acceptance_is_refused_before_anything_is_registered(account):
    result = account.run("gated_refused")
    assert result["status"] == "FAILED"
    assert result["error"] == EULA_NOT_ACCEPTED
    assert docs.GATED_MODEL in result["cause"] and docs.LLAMA_2["HostingEulaUri"] in result["cause"]
    assert account.registrations() == [] and account.packages() == []
    (message,) = account.notifications()
    assert EULA_NOT_ACCEPTED in message


def test_model_without_hosting_image_is_refused_clearly(account):
    result = account.run("no_image")
    assert result["status"] == "FAILED" and result["error"] == NOT_SERVABLE
    assert "HostingEcrUri" in result["cause"] and docs.MARKETPLACE_MODEL in result["cause"]
    assert account.hub.requests[0]["HubContentVersion"] == "1.0.2"
    assert account.registrations() == []


def test_a_model_the_hub_does_not_know_fails_the_run_and_notifies(account):
    del account.hub.documents[docs.OPEN_MODEL]
    result = account.run("open")
    assert result["status"] == "FAILED"
    assert "ResourceNotFound" in result["error"]
    assert len(account.notifications()) == 1 and account.packages() == []
