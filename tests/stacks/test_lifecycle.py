"""Destroy, then deploy again: no retained resource of any stack can collide with the next deployment.

Each retained resource (DeletionPolicy Retain) with a fixed physical name must be one of:

* adopted by the next deployment through an adopt-or-create custom resource (``Custom::ModelPackageGroup``);
* importable by ``cdk deploy --import-existing-resources``: CloudFormation imports a retained resource
  automatically only if its type's primary identifier is writable and given literally in the template
  (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/import-resources-automatically.html); the
  primary identifiers are read from the CloudFormation registry schemas cfn-lint ships;
* named per stack instance (the name contains the stack's ID) or scoped by such a resource (a user profile
  lives in its domain).

A retained resource without a fixed name is named by CloudFormation (stack name, logical ID and a random suffix),
so it cannot collide either. A configuration that collides inside one app fails at synth, naming both constructs.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import cfnlint
import pytest
from aws_cdk import App

from sagemaker_tiers import ModelPackageGroup, ValidationError
from stacks.app import build_app
from tests.conftest import app_context

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
ADOPT_OR_CREATE = {"Custom::ModelPackageGroup"}


@lru_cache(maxsize=None)
def _schema(resource_type: str) -> dict:
    providers = json.loads((SCHEMAS / "providers" / "us-east-1.json").read_text())
    return json.loads((SCHEMAS / "resources" / f"{providers[resource_type]}.json").read_text())


def _fixed_names(resource_type: str, props: dict) -> dict:
    """Create-only ``...Name`` properties given in the template: names CloudFormation does not choose."""
    schema = _schema(resource_type)
    create_only = {p.rsplit("/", 1)[1] for p in schema.get("createOnlyProperties", [])}
    return {k: v for k, v in props.items() if k.endswith("Name") and k in create_only}


def _per_stack_instance(value: object) -> bool:
    return "AWS::StackId" in json.dumps(value)


def classify(resource_type: str, resource: dict) -> str:
    """How a retained resource meets the next deployment (or "COLLIDES")."""
    if resource_type in ADOPT_OR_CREATE:
        return "adopted"
    props = resource.get("Properties", {})
    names = _fixed_names(resource_type, props)
    if not names:
        return "named by CloudFormation"
    if all(_per_stack_instance(v) for v in names.values()):
        return "named per stack instance"
    schema = _schema(resource_type)
    primary = [p.rsplit("/", 1)[1] for p in schema["primaryIdentifier"]]
    read_only = {p.rsplit("/", 1)[1] for p in schema.get("readOnlyProperties", [])}
    if any(not isinstance(props.get(p), str) and isinstance(props.get(p), dict) for p in primary if p not in read_only):
        return "scoped by a resource of its stack"
    if not set(primary) & read_only and all(isinstance(props.get(p), str) for p in primary):
        return "imported by --import-existing-resources"
    return "COLLIDES"


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    outdir = tmp_path_factory.mktemp("lifecycle")
    app = App(outdir=str(outdir), context=app_context())
    build_app(app)
    app.synth()
    return {p.name.split(".")[0]: json.loads(p.read_text()) for p in outdir.glob("*.template.json")}


def _retained(templates: dict[str, dict]):
    for stack, template in sorted(templates.items()):
        for logical_id, resource in template["Resources"].items():
            if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"):
                yield stack, logical_id, resource


def test_no_retained_resource_of_any_stack_collides_with_the_next_deployment(templates) -> None:
    verdicts = {(s, l): classify(r["Type"], r) for s, l, r in _retained(templates)}
    assert [k for k, v in verdicts.items() if v == "COLLIDES"] == []
    by_type: dict[str, set[str]] = {}
    for (stack, logical_id), verdict in verdicts.items():
        by_type.setdefault(templates[stack]["Resources"][logical_id]["Type"], set()).add(verdict)
    # Each way is in use where it should be (the README's "Deploying for real" documents the same table).
    assert by_type["Custom::ModelPackageGroup"] == {"adopted"}
    assert by_type["AWS::SageMaker::Domain"] == {"named per stack instance"}
    assert by_type["AWS::SageMaker::UserProfile"] == {"scoped by a resource of its stack"}
    assert by_type["AWS::KMS::Key"] == by_type["AWS::S3::Bucket"] == by_type["AWS::DynamoDB::Table"] == {"named by CloudFormation"}
    assert by_type["AWS::Logs::LogGroup"] == {"named by CloudFormation", "imported by --import-existing-resources"}


def test_the_endpoint_log_group_can_be_imported_automatically(templates) -> None:
    # SageMaker writes an endpoint's logs to /aws/sagemaker/Endpoints/<endpoint>: the name is the contract.
    [(stack, log_group)] = [
        (s, r) for s, _, r in _retained(templates)
        if r["Type"] == "AWS::Logs::LogGroup" and "LogGroupName" in r.get("Properties", {})
    ]
    assert stack.endswith("-inference")
    assert log_group["Properties"]["LogGroupName"] == "/aws/sagemaker/Endpoints/sagemaker-tiers-example-churn"
    assert log_group["DeletionPolicy"] == "Retain"
    assert _schema("AWS::Logs::LogGroup")["primaryIdentifier"] == ["/properties/LogGroupName"]


def test_the_retained_groups_are_adopted_not_created_again(templates) -> None:
    groups = [r for _, _, r in _retained(templates) if r["Type"] == "Custom::ModelPackageGroup"]
    assert [g["Properties"]["ModelPackageGroupName"] for g in groups] == ["example-churn"]
    assert all(g["Properties"]["RemovalPolicy"] == "retain" and g["UpdateReplacePolicy"] == "Retain" for g in groups)
    # Plain AWS::SageMaker::ModelPackageGroup cannot be imported (its primary identifier is the read-only ARN).
    schema = _schema("AWS::SageMaker::ModelPackageGroup")
    assert schema["primaryIdentifier"] == ["/properties/ModelPackageGroupArn"]
    assert "/properties/ModelPackageGroupArn" in schema["readOnlyProperties"]
    assert not any(r["Type"] == "AWS::SageMaker::ModelPackageGroup" for t in templates.values() for r in t["Resources"].values())


def test_a_fixed_name_without_a_way_back_is_reported() -> None:
    # The check can fail: the plain L1 group with a literal name is what collided before.
    resource = {"Type": "AWS::SageMaker::ModelPackageGroup", "DeletionPolicy": "Retain", "Properties": {"ModelPackageGroupName": "example-churn"}}
    assert classify(resource["Type"], resource) == "COLLIDES"
    domain = {"Type": "AWS::SageMaker::Domain", "DeletionPolicy": "Retain", "Properties": {"DomainName": "studio"}}
    assert classify(domain["Type"], domain) == "COLLIDES"


def test_the_same_group_in_two_stacks_of_one_app_fails_at_synth_naming_both() -> None:
    from aws_cdk import Stack

    app = App()
    ModelPackageGroup(Stack(app, "RegistryA"), "Churn", model_package_group_name="churn")
    with pytest.raises(ValidationError, match=r"model_package_group_name 'Churn' is already used by the ModelPackageGroup at RegistryA/Churn in the same account and region, so the one at RegistryB/Group would adopt its group"):
        ModelPackageGroup(Stack(app, "RegistryB"), "Group", model_package_group_name="Churn")
    # Another app may use the name (another account or region).
    ModelPackageGroup(Stack(App(), "RegistryC"), "Churn", model_package_group_name="churn")


def test_the_same_group_twice_in_the_configuration_fails_naming_the_key() -> None:
    with pytest.raises(ValidationError, match=r"sagemaker-tiers:model_package_groups must not repeat values"):
        build_app(App(context=app_context(model_package_groups=["churn", "fraud", "churn"])))


def test_named_state_machines_are_named_per_stack_instance(templates) -> None:
    # Deleting a state machine is asynchronous: it stays DELETING while an execution waits (the inference tier's
    # lock and InService polls wait for hours), so a fixed name would fail the next deployment.
    # https://docs.aws.amazon.com/step-functions/latest/apireference/API_DeleteStateMachine.html
    named = [
        r["Properties"]["StateMachineName"] for t in templates.values() for r in t["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and "StateMachineName" in r["Properties"]
    ]
    assert named and all(_per_stack_instance(n) for n in named)
