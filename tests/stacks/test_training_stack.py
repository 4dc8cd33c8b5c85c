"""The training stack with the base stacks: synthesizes with zero unacknowledged cdk-nag findings, wires the
foundation and the registry in, and reads its own configuration keys."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from sagemaker_tiers.core import ValidationError
from sagemaker_tiers import add_gates
from stacks.config import read_config
from stacks.training_stack import TrainingConfig, TrainingStack
from tests.conftest import app_context, base_stacks


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory):
    outdir = tmp_path_factory.mktemp("training-cdk.out")
    app = App(outdir=str(outdir), context=app_context())
    # cdk-nag only: Control Tower's rules run once on the whole app (tests/stacks/test_app.py, `make synth`).
    add_gates(app, control_tower=False)
    config, foundation, registry = base_stacks(app)
    stack = TrainingStack(app, f"{config.project_name}-training", config=config, foundation=foundation, registry=registry)
    app.synth()  # raises on any unacknowledged cdk-nag finding
    template = json.loads((outdir / f"{stack.artifact_id}.template.json").read_text())
    return SimpleNamespace(outdir=outdir, stack=stack, template=template, foundation=foundation, registry=registry)


def _resources(template: dict, kind: str) -> list[dict]:
    return [r for r in template["Resources"].values() if r["Type"] == kind]


def test_the_stack_passes_cdk_nag_with_specific_acknowledgments(synthesized):
    report = json.loads((synthesized.outdir / "validation-report.json").read_text())
    assert [v for plugin in report["pluginReports"] for v in plugin["violations"]] == []
    ours = [
        s
        for plugin in report["pluginReports"]
        for s in plugin.get("suppressedViolations", [])
        if any(r["constructPath"].startswith(synthesized.stack.stack_name + "/") for r in s["violatingConstructs"])
    ]
    assert all(len(s["reason"]) >= 40 for s in ours)
    # Each wildcard resource is acknowledged by itself (the prefixes of the foundation's bucket, by export name).
    findings = {s["ruleName"] for s in ours}
    for prefix in ("datasets/example-churn/train/*", "datasets/example-churn/validation/*", "models/example-churn/*"):
        assert any(f.startswith("AwsSolutions-IAM5[Resource::sagemaker-tiers-foundation:") and f.endswith(f"/{prefix}]") for f in findings), prefix
    prefix = synthesized.stack.pipeline.job_name_prefix
    assert re.fullmatch(r"example-churn-[0-9a-f]{8}", prefix)  # the group, and a hash of the project name
    assert f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:training-job/{prefix}-*]" in findings


def test_the_pipeline_uses_the_foundation_and_the_registry(synthesized):
    [machine] = _resources(synthesized.template, "AWS::StepFunctions::StateMachine")
    definition = json.dumps(machine["Properties"]["DefinitionString"])
    # The foundation's bucket, key and subnets, and the registry's topic, arrive as cross-stack imports.
    imports = {v for v in _import_values(synthesized.template)}
    foundation, registry = synthesized.foundation.stack_name, synthesized.registry.stack_name
    assert any(i.startswith(f"{foundation}:") and "MlBucket" in i for i in imports)
    assert any(i.startswith(f"{foundation}:") and "Key" in i for i in imports)
    assert any(i.startswith(f"{foundation}:") and "Subnet" in i for i in imports)
    assert any(i.startswith(f"{registry}:") and "AdminTopic" in i for i in imports)
    assert '\\"ModelPackageGroupName\\":\\"example-churn\\"' in definition
    assert "createTrainingJob.sync" in definition
    assert '\\"InstanceType\\":\\"ml.m5.large\\"' in definition or '\\"instanceType\\":\\"ml.m5.large\\"' in definition
    assert "datasets/example-churn/train/" in definition and "models/example-churn/" in definition
    assert '\\"EnableManagedSpotTraining\\":false' in definition


def test_defaults_start_runs_manually_only_and_alarm_to_the_approval_topic(synthesized):
    template = synthesized.template
    assert _resources(template, "AWS::Events::Rule") == []
    assert _resources(template, "AWS::SQS::Queue") == []
    assert _resources(template, "AWS::SNS::Topic") == []  # failures go to the registry's topic
    alarms = _resources(template, "AWS::CloudWatch::Alarm")
    assert {a["Properties"]["MetricName"] for a in alarms} == {"ExecutionsFailed", "ExecutionsTimedOut"}
    assert all("AdminTopic" in json.dumps(a["Properties"]["AlarmActions"]) for a in alarms)
    assert {"StateMachineArn", "DatasetPrefix", "ModelPrefix"} <= set(template["Outputs"])
    assets = json.loads((synthesized.outdir / f"{synthesized.stack.artifact_id}.assets.json").read_text())
    [image] = assets["dockerImages"].values()
    assert (synthesized.outdir / image["source"]["directory"] / "Dockerfile").is_file()


def _import_values(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "Fn::ImportValue":
                yield v
            else:
                yield from _import_values(v)
    elif isinstance(value, list):
        for v in value:
            yield from _import_values(v)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("training_instance_type", "ml.m5.enormous", r"sagemaker-tiers:training_instance_type must be a SageMaker training instance type"),
        ("training_instance_count", "0", r"sagemaker-tiers:training_instance_count must be a whole number between 1 and 1000, got 0"),
        ("training_max_runtime_hours", "673", r"sagemaker-tiers:training_max_runtime_hours must be a whole number between 1 and 672"),
        ("training_schedule", "daily", r"sagemaker-tiers:training_schedule must be an EventBridge schedule expression .* got 'daily'"),
        ("training_job_name_prefix", "Churn", r"sagemaker-tiers:training_job_name_prefix must be 1-24 lowercase .* got 'Churn'"),
        ("training_use_spot", "maybe", r"sagemaker-tiers:training_use_spot must be true or false, got 'maybe'"),
        ("training_input_prefix", "datasets/churn", r"sagemaker-tiers:training_input_prefix must end with '/'"),
        ("training_output_prefix", "/models/", r"sagemaker-tiers:training_output_prefix must be a relative S3 key prefix"),
        ("training_image_uri", "python:3.12", r"sagemaker-tiers:training_image_uri must be an ECR image URI .* got 'python:3.12'"),
        ("training_image_repository", "Churn", r"sagemaker-tiers:training_image_repository must be an ECR repository name .* got 'Churn'"),
    ],
)
def test_invalid_configuration_fails_naming_the_key(key, value, match):
    with pytest.raises(ValidationError, match=match):
        read_config(TrainingConfig, App(context=app_context(**{key: value})).node)


def test_configuration_defaults_and_overrides():
    assert read_config(TrainingConfig, App(context=app_context()).node) == TrainingConfig()
    config = read_config(TrainingConfig, App(context=app_context(training_use_spot="true", training_instance_count="2")).node)
    assert config.training_use_spot is True and config.training_instance_count == 2


def test_the_group_must_be_one_the_registry_creates():
    app = App(context=app_context(training_model_package_group="fraud"))
    config, foundation, registry = base_stacks(app)
    with pytest.raises(ValidationError, match=r"training_model_package_group must be one of the registry's groups \['example-churn'\] .*, got 'fraud'"):
        TrainingStack(app, "Training", config=config, foundation=foundation, registry=registry)


def test_the_example_image_folder_ships_with_the_package():
    from sagemaker_tiers.training import EXAMPLE_IMAGE_DIRECTORY

    assert {p.name for p in Path(EXAMPLE_IMAGE_DIRECTORY).iterdir()} >= {"Dockerfile", "train.py"}


#: SageMaker's scikit-learn framework image in us-east-1 (registry paths per region:
#: https://docs.aws.amazon.com/sagemaker/latest/dg-ecr-paths/sagemaker-algo-docker-registry-paths.html).
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


@pytest.fixture(scope="module")
def existing_images(tmp_path_factory: pytest.TempPathFactory):
    """The app's training stack with a SageMaker-provided image (cdk-nag on) and with an image of this account."""
    outdir = tmp_path_factory.mktemp("training-image-uri")
    app = App(outdir=str(outdir), context=app_context(training_image_uri=SKLEARN_IMAGE))
    add_gates(app, control_tower=False)
    config, foundation, registry = base_stacks(app)
    stack = TrainingStack(app, f"{config.project_name}-training", config=config, foundation=foundation, registry=registry)
    app.synth()  # raises on any unacknowledged cdk-nag finding
    own = App(context=app_context(training_image_repository="churn-training", training_image_tag="v3"))
    own_config, own_foundation, own_registry = base_stacks(own)
    own_stack = TrainingStack(own, "Training", config=own_config, foundation=own_foundation, registry=own_registry)
    return SimpleNamespace(
        outdir=outdir, stack=stack, template=json.loads((outdir / f"{stack.artifact_id}.template.json").read_text()),
        own=Template.from_stack(own_stack).to_json(),
    )


def test_an_image_uri_replaces_the_example_image_so_no_docker_is_needed(existing_images):
    # No Docker image asset anywhere in the app: `cdk deploy --all` publishes file assets only.
    for manifest in existing_images.outdir.glob("*.assets.json"):
        assert json.loads(manifest.read_text()).get("dockerImages", {}) == {}, manifest.name
    [machine] = _resources(existing_images.template, "AWS::StepFunctions::StateMachine")
    assert f'\\"TrainingImage\\":\\"{SKLEARN_IMAGE}\\"' in json.dumps(machine["Properties"]["DefinitionString"])
    # A SageMaker-provided image needs no ECR permission on the role.
    assert "ecr:" not in json.dumps(_resources(existing_images.template, "AWS::IAM::Policy"))


def test_an_image_of_this_account_is_pulled_with_repository_scoped_permissions(existing_images):
    template = existing_images.own
    [machine] = _resources(template, "AWS::StepFunctions::StateMachine")
    assert "churn-training:v3" in json.dumps(machine["Properties"]["DefinitionString"])
    pulls = [s for p in _resources(template, "AWS::IAM::Policy") for s in p["Properties"]["PolicyDocument"]["Statement"]
             if "ecr:BatchGetImage" in s["Action"]]
    assert pulls and all("repository/churn-training" in json.dumps(s["Resource"]) for s in pulls)
    assert not any(r["Type"] == "AWS::ECR::Repository" for r in template["Resources"].values())


def test_two_image_sources_fail_naming_both_keys():
    context = app_context(training_image_uri=SKLEARN_IMAGE, training_image_repository="churn-training")
    with pytest.raises(ValidationError, match=r"training_image_uri and sagemaker-tiers:training_image_repository select the training image two ways"):
        read_config(TrainingConfig, App(context=context).node)
