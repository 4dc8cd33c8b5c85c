from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from sagemaker_tiers import IModelPackageGroup, ModelPackageGroup, ValidationError


@pytest.fixture(scope="module")
def synthesized() -> tuple[Template, ModelPackageGroup]:
    stack = Stack(App(), "GroupStack")
    group = ModelPackageGroup(
        stack,
        "Churn",
        model_package_group_name="churn",
        description="Churn classifiers",
        read_accounts=["111111111111"],
        register_accounts=["222222222222"],
        tags={"team": "growth"},
    )
    for name, grant in (("Registrar", group.grant_register), ("Reader", group.grant_read), ("Approver", group.grant_approve)):
        grant(iam.Role(stack, name, assumed_by=iam.AccountRootPrincipal()))
    return Template.from_stack(stack), group


def _statements(template: Template, role: str) -> list[dict]:
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if policy["Properties"]["Roles"][0]["Ref"].startswith(role):
            return policy["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(role)


def test_group_is_retained_with_description_and_tags_and_adopted_by_the_next_deployment(synthesized) -> None:
    template, group = synthesized
    template.has_resource(
        "Custom::ModelPackageGroup",
        {
            "Properties": Match.object_like(
                {
                    "ModelPackageGroupName": "churn",
                    "ModelPackageGroupDescription": "Churn classifiers",
                    "Tags": [{"Key": "team", "Value": "growth"}],
                    "RemovalPolicy": "retain",
                }
            ),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    assert isinstance(group, IModelPackageGroup)
    assert group.node.default_child is not None
    # The group's ARN and whether it was adopted come from the custom resource.
    assert "Fn::GetAtt" in str(Stack.of(group).resolve(group.model_package_group_arn))
    assert Stack.of(group).resolve(group.adopted)["Fn::GetAtt"][1] == "Adopted"


def test_one_provider_per_stack_may_create_adopt_and_tag_only_its_groups(synthesized) -> None:
    template, _ = synthesized
    [fn] = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": "registry_group_resource.handler"}}).values()
    assert fn["Properties"]["TracingConfig"] == {"Mode": "Active"} and "ReservedConcurrentExecutions" not in fn["Properties"]
    [statement] = [
        s for p in template.find_resources("AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:CreateModelPackageGroup" in s["Action"]
    ]
    assert sorted(statement["Action"]) == sorted([
        "sagemaker:DescribeModelPackageGroup", "sagemaker:CreateModelPackageGroup", "sagemaker:AddTags",
        "sagemaker:DeleteTags", "sagemaker:ListTags", "sagemaker:PutModelPackageGroupPolicy",
        "sagemaker:DeleteModelPackageGroupPolicy",
    ])  # no DeleteModelPackageGroup: the group is retained
    assert str(statement["Resource"]).count("model-package-group/churn") == 1 and "*" not in str(statement["Resource"])


def test_a_destroyable_group_lets_the_provider_delete_it() -> None:
    from aws_cdk import RemovalPolicy

    stack = Stack(App(), "S")
    ModelPackageGroup(stack, "Scratch", model_package_group_name="Scratch-Models", removal_policy=RemovalPolicy.DESTROY)
    template = Template.from_stack(stack)
    template.has_resource("Custom::ModelPackageGroup", {"Properties": Match.object_like({"RemovalPolicy": "destroy"}), "DeletionPolicy": "Delete"})
    [statement] = [
        s for p in template.find_resources("AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "sagemaker:DeleteModelPackageGroup" in s["Action"]
    ]
    # SageMaker writes ARNs in lower case; the name as given is allowed too.
    assert "model-package-group/Scratch-Models" in str(statement["Resource"]) and "model-package-group/scratch-models" in str(statement["Resource"])


def _rendered(value) -> str:
    """A policy rendered by Stack.to_json_string (an Fn::Join around the pseudo parameters), with them as X."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(p if isinstance(p, str) else "X" for p in parts)
    return value


def test_cross_account_policy_reads_and_registers_pending_only(synthesized) -> None:
    template, _ = synthesized
    resource = next(iter(template.find_resources("Custom::ModelPackageGroup").values()))
    policy = json.loads(_rendered(resource["Properties"]["ModelPackageGroupPolicy"]))
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert "111111111111" in str(statements["CrossAccountRead"]["Principal"])
    assert "sagemaker:UpdateModelPackage" not in str(statements)
    register = statements["CrossAccountRegisterPendingOnly"]
    assert register["Action"] == ["sagemaker:CreateModelPackage"]
    assert "model-package-group/" not in str(register["Resource"])
    assert register["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}


def test_register_grant_cannot_self_approve(synthesized) -> None:
    template, _ = synthesized
    statements = _statements(template, "Registrar")
    create = next(s for s in statements if s["Action"] == "sagemaker:CreateModelPackage")
    assert create["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
    # IAM authorizes CreateModelPackage on the version's ARN only (model-package/<group>/*); the group ARN grants nothing.
    resources = str(create["Resource"])
    assert "model-package-group/" not in resources and "ModelPackageGroupArn" not in resources and "model-package/" in resources
    assert "sagemaker:UpdateModelPackage" not in str(statements)


def test_read_and_approve_grants_are_scoped_to_the_group(synthesized) -> None:
    template, _ = synthesized
    read = _statements(template, "Reader")
    assert {a for s in read for a in s["Action"]} == {"sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelPackage"}
    (approve,) = _statements(template, "Approver")
    assert approve["Action"] == "sagemaker:UpdateModelPackage"
    assert "model-package/churn/*" in str(approve["Resource"])
    assert "*" != approve["Resource"]


def test_importers_return_the_interface() -> None:
    stack = Stack(App(), "S")
    by_name = ModelPackageGroup.from_model_package_group_name(stack, "ByName", "fraud")
    by_arn = ModelPackageGroup.from_model_package_group_arn(
        stack, "ByArn", "arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/fraud-v2"
    )
    assert isinstance(by_name, IModelPackageGroup) and isinstance(by_arn, IModelPackageGroup)
    assert by_name.model_package_group_name == "fraud"
    assert by_arn.model_package_group_name == "fraud-v2"
    role = iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal())
    by_arn.grant_approve(role)
    assert "model-package/fraud-v2/*" in str(Template.from_stack(stack).to_json())


def test_default_name_is_generated_and_valid() -> None:
    stack = Stack(App(), "S")
    group = ModelPackageGroup(stack, "Unnamed")
    import re

    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", group.model_package_group_name)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"model_package_group_name": "bad_name"}, r"model_package_group_name must be 1-63 letters.*got 'bad_name'"),
        ({"model_package_group_name": "-x"}, r"model_package_group_name must be .* got '-x'"),
        ({"model_package_group_name": "x" * 64}, r"model_package_group_name must be"),
        ({"description": "d" * 1025}, r"description must be at most 1024 printable characters"),
        ({"read_accounts": ["1234"]}, r"read_accounts must be a list of 12-digit AWS account IDs, got '1234'"),
        ({"read_accounts": "111111111111"}, r"read_accounts must be a list of 12-digit AWS account IDs, got the string"),
        ({"register_accounts": ["111111111111", "111111111111"]}, r"register_accounts must not repeat values"),
    ],
)
def test_invalid_props_fail_at_synth(props: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModelPackageGroup(Stack(App(), "S"), "G", **props)


def test_invalid_import_fails() -> None:
    with pytest.raises(ValidationError, match=r"model_package_group_arn must be a model package group ARN"):
        ModelPackageGroup.from_model_package_group_arn(Stack(App(), "S"), "G", "arn:aws:s3:::bucket")


def test_version_arns_are_lower_case_like_sagemakers() -> None:
    stack = Stack(App(), "S")
    group = ModelPackageGroup(stack, "G", model_package_group_name="Churn-Model")
    role = iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal())
    group.grant_approve(role)
    text = str(Template.from_stack(stack).to_json())
    assert "model-package/churn-model/*" in text and "model-package/Churn-Model" not in text
