"""registry_group_resource: create a model package group, or adopt the one a previous deployment retained.

SageMaker's groups, versions and tags are moto's; moto has no group policy or DeleteModelPackageGroup API, so
those calls go to a recording fake on the same client.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import emitted, import_handlers_from, lambda_context

import_handlers_from("registry", "group_handlers")

import registry_group_resource as group  # noqa: E402

REGION = "us-east-1"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": "sagemaker:DescribeModelPackage", "Resource": "*"}]})


class Calls:
    """The group-policy and delete calls moto lacks, recorded (and a policy store)."""

    def __init__(self) -> None:
        self.policies: dict[str, str] = {}
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.deleted: list[str] = []


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch):
    with mock_aws():
        group._clients.clear()
        client = boto3.client("sagemaker", region_name=REGION)
        group._clients["sagemaker"] = client
        calls = Calls()

        def put(**kw):
            calls.log.append(("put_model_package_group_policy", kw))
            calls.policies[kw["ModelPackageGroupName"]] = kw["ResourcePolicy"]
            return {"ModelPackageGroupArn": "arn"}

        def delete_policy(**kw):
            calls.log.append(("delete_model_package_group_policy", kw))
            calls.policies.pop(kw["ModelPackageGroupName"], None)
            return {}

        def delete_group(**kw):
            calls.log.append(("delete_model_package_group", kw))
            calls.deleted.append(kw["ModelPackageGroupName"])
            return {}

        monkeypatch.setattr(client, "put_model_package_group_policy", put)
        monkeypatch.setattr(client, "delete_model_package_group_policy", delete_policy)
        monkeypatch.setattr(client, "delete_model_package_group", delete_group)
        yield client, calls
        group._clients.clear()


def _event(request_type: str, physical_id: str | None = None, old: dict | None = None, **props: Any) -> dict[str, Any]:
    event = {
        "RequestType": request_type,
        "ResponseURL": "https://cloudformation-custom-resource-response.example/put",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/registry/0f1e2d3c-aaaa-bbbb-cccc-000000000000",
        "RequestId": "req-1",
        "LogicalResourceId": "Group",
        "ResourceType": "Custom::ModelPackageGroup",
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:fn", "ModelPackageGroupName": "churn", **props},
    }
    if physical_id:
        event["PhysicalResourceId"] = physical_id
    if old is not None:
        event["OldResourceProperties"] = {"ServiceToken": "arn:aws:lambda:fn", "ModelPackageGroupName": "churn", **old}
    return event


def _tags(client, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in client.list_tags(ResourceArn=arn)["Tags"]}


def _version(client, name: str = "churn") -> str:
    return client.create_model_package(
        ModelPackageGroupName=name,
        InferenceSpecification={"Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"}], "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]


def test_a_missing_group_is_created_with_description_tags_and_policy(sagemaker) -> None:
    client, calls = sagemaker
    body = group.respond(_event("Create", ModelPackageGroupDescription="churn models", ModelPackageGroupPolicy=POLICY, Tags=[{"Key": "team", "Value": "growth"}]))

    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"] == "churn"
    assert body["Data"]["Adopted"] == "false"
    described = client.describe_model_package_group(ModelPackageGroupName="churn")
    assert body["Data"]["Arn"] == described["ModelPackageGroupArn"]
    assert described["ModelPackageGroupDescription"] == "churn models"
    assert _tags(client, body["Data"]["Arn"]) == {"team": "growth"}
    assert calls.policies == {"churn": POLICY}


def test_a_retained_group_is_adopted_with_its_versions_after_destroy(sagemaker) -> None:
    client, calls = sagemaker
    # What the previous deployment retained: the group, an approved version and a tag someone added by hand.
    arn = client.create_model_package_group(ModelPackageGroupName="churn", ModelPackageGroupDescription="old text")["ModelPackageGroupArn"]
    version = _version(client)
    client.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "ana"}])

    body = group.respond(_event("Create", ModelPackageGroupDescription="churn models", Tags=[{"Key": "team", "Value": "growth"}]))

    assert (body["Status"], body["PhysicalResourceId"], body["Data"]) == ("SUCCESS", "churn", {"Arn": arn, "Adopted": "true"})
    packages = client.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"]
    assert [p["ModelPackageArn"] for p in packages] == [version]
    assert _tags(client, arn) == {"owner": "ana", "team": "growth"}  # ours added, the hand-made one kept
    assert client.describe_model_package_group(ModelPackageGroupName="churn")["ModelPackageGroupDescription"] == "old text"
    assert calls.log == []  # no policy wanted, none touched


def test_a_create_that_loses_the_race_adopts_the_winner(sagemaker, monkeypatch) -> None:
    client, _ = sagemaker
    real_create = client.create_model_package_group

    def racing(**kw):
        real_create(ModelPackageGroupName="churn")  # another deployment created it between describe and create
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ValidationException", "Message": "Model Package Group already exists: arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn"}}, "CreateModelPackageGroup")

    monkeypatch.setattr(client, "create_model_package_group", racing)
    body = group.respond(_event("Create"))
    assert body["Status"] == "SUCCESS" and body["Data"]["Adopted"] == "true"


def test_a_group_being_deleted_is_not_adopted(sagemaker, monkeypatch) -> None:
    client, _ = sagemaker
    client.create_model_package_group(ModelPackageGroupName="churn")
    real = client.describe_model_package_group
    monkeypatch.setattr(client, "describe_model_package_group", lambda **kw: {**real(**kw), "ModelPackageGroupStatus": "Deleting"})
    body = group.respond(_event("Create"))
    assert body["Status"] == "FAILED" and "is Deleting; wait until SageMaker has deleted it" in body["Reason"]
    assert body["PhysicalResourceId"] == "failed-create:req-1"


def test_update_removes_only_the_tags_and_policy_this_resource_set(sagemaker) -> None:
    client, calls = sagemaker
    created = group.respond(_event("Create", ModelPackageGroupPolicy=POLICY, Tags=[{"Key": "team", "Value": "growth"}, {"Key": "tier", "Value": "registry"}]))
    arn = created["Data"]["Arn"]
    client.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "ana"}])

    body = group.respond(_event(
        "Update", "churn",
        old={"ModelPackageGroupPolicy": POLICY, "Tags": [{"Key": "team", "Value": "growth"}, {"Key": "tier", "Value": "registry"}]},
        Tags=[{"Key": "team", "Value": "retention"}],
    ))

    assert body["Status"] == "SUCCESS" and body["PhysicalResourceId"] == "churn" and body["Data"]["Adopted"] == "true"
    assert _tags(client, arn) == {"team": "retention", "owner": "ana"}
    assert calls.policies == {} and calls.log[-1][0] == "delete_model_package_group_policy"


def test_an_adopted_groups_policy_is_left_alone_when_none_is_wanted(sagemaker) -> None:
    client, calls = sagemaker
    client.create_model_package_group(ModelPackageGroupName="churn")
    calls.policies["churn"] = POLICY  # set by hand
    assert group.respond(_event("Create"))["Status"] == "SUCCESS"
    assert calls.policies == {"churn": POLICY}


def test_a_renamed_group_is_created_or_adopted_under_its_new_name(sagemaker) -> None:
    client, _ = sagemaker
    group.respond(_event("Create"))
    body = group.respond(_event("Update", "churn", old={}, ModelPackageGroupName="churn-v2"))
    assert body["PhysicalResourceId"] == "churn-v2" and body["Data"]["Adopted"] == "false"
    # CloudFormation then deletes the old physical id with the old properties: retained.
    delete = group.respond({**_event("Delete", "churn", RemovalPolicy="retain")})
    assert delete["Status"] == "SUCCESS"
    assert {g["ModelPackageGroupName"] for g in client.list_model_package_groups()["ModelPackageGroupSummaryList"]} == {"churn", "churn-v2"}


def test_delete_retains_unless_the_removal_policy_is_destroy(sagemaker) -> None:
    _, calls = sagemaker
    group.respond(_event("Create"))
    assert group.respond(_event("Delete", "churn"))["Status"] == "SUCCESS"
    assert calls.deleted == []
    assert group.respond(_event("Delete", "churn", RemovalPolicy="destroy"))["Status"] == "SUCCESS"
    assert calls.deleted == ["churn"]


def test_delete_after_a_failed_create_calls_nothing(sagemaker) -> None:
    _, calls = sagemaker
    body = group.respond(_event("Delete", "failed-create:req-0", RemovalPolicy="destroy"))
    assert body["Status"] == "SUCCESS" and calls.log == []


@pytest.mark.parametrize(
    ("props", "reason"),
    [
        ({"ModelPackageGroupName": "bad_name"}, "ModelPackageGroupName must be 1-63 letters"),
        ({"ModelPackageGroupPolicy": "{not json"}, "ModelPackageGroupPolicy must be a JSON policy document"),
        ({"Tags": [{"Key": "a"}]}, "Tags must be a list of {Key, Value} strings"),
        ({"RemovalPolicy": "snapshot"}, "RemovalPolicy must be 'retain' or 'destroy'"),
    ],
)
def test_bad_properties_are_answered_failed_and_create_nothing(sagemaker, props, reason) -> None:
    client, _ = sagemaker
    body = group.respond(_event("Create", **props))
    assert body["Status"] == "FAILED" and body["Reason"].startswith("bad request: ") and reason in body["Reason"]
    assert client.list_model_package_groups()["ModelPackageGroupSummaryList"] == []


@pytest.mark.parametrize("event", [{}, "x", {"RequestType": "Create"}])
def test_a_malformed_event_raises_so_lambda_keeps_it(event) -> None:
    with pytest.raises(ValueError, match="not a CloudFormation custom resource request"):
        group.respond(event)


def test_the_handler_answers_cloudformation(sagemaker, monkeypatch, capsys) -> None:
    sent: list = []
    monkeypatch.setattr(group, "send", lambda url, body: sent.append((url, body)))
    body = group.handler(_event("Create"), lambda_context())
    assert sent == [("https://cloudformation-custom-resource-response.example/put", body)]

    out = capsys.readouterr().out
    logs, _ = emitted(out)
    answered = next(r for r in logs if r["message"] == "custom resource answered")
    assert (answered["level"], answered["status"], answered["physical_resource_id"]) == ("INFO", "SUCCESS", "churn")
    assert all(r["correlation_id"] == "req-1" for r in logs)
    assert "custom-resource-response.example" not in out  # the presigned response URL is never logged
