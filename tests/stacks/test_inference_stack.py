"""InferenceStack: one synth with the base stacks; config keys and how to turn the tier off."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from sagemaker_tiers import ValidationError
from stacks.inference_stack import InferenceConfig, InferenceStack
from tests.conftest import app_context, base_stacks


def _app(**context):
    app = App(context=app_context(**context))
    config, foundation, registry = base_stacks(app)
    # Stand-ins for the training and Autopilot tiers: what they write and where they register.
    from types import SimpleNamespace

    group = registry.groups.get(app.node.try_get_context("sagemaker-tiers:inference_group") or "example-churn")
    sources = [SimpleNamespace(output_prefix="models/example-churn/", model_package_group=group)] if group else []
    return app, InferenceStack(
        app, f"{config.project_name}-inference", config=config, foundation=foundation, registry=registry, model_sources=sources
    )


@pytest.fixture(scope="module")
def synthesized():
    _, stack = _app()
    return stack, Template.from_stack(stack)


def test_default_serves_the_example_group_serverless(synthesized) -> None:
    stack, template = synthesized
    [endpoint] = stack.endpoints.values()
    assert endpoint.endpoint_name == "sagemaker-tiers-example-churn" and endpoint.serverless
    assert endpoint.approved_model_parameter_name == "/sagemaker-tiers/registry/example-churn/approved-model"
    template.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {"EventPattern": Match.object_like({"detail": {"name": ["/sagemaker-tiers/registry/example-churn/approved-model"], "operation": ["Create", "Update"]}})},
    )
    template.has_output("EndpointName", {"Value": "sagemaker-tiers-example-churn"})
    definition = template.to_json()["Resources"][stack.get_logical_id(endpoint.state_machine.node.default_child)]
    assert '"MemorySizeInMB":2048,"MaxConcurrency":5' in str(definition["Properties"]["DefinitionString"])
    # Cross-stack: the workflow's topic and the foundation's key come from the other stacks.
    assert stack.dependencies and {d.stack_name for d in stack.dependencies} == {"sagemaker-tiers-foundation", "sagemaker-tiers-registry"}


def test_config_defaults_and_validation() -> None:
    config = InferenceConfig()
    assert (config.inference_enabled, config.inference_memory_size_mb, config.inference_max_concurrency) == (True, 2048, 5)
    for bad, message in (
        ({"inference_memory_size_mb": 1500}, "sagemaker-tiers:inference_memory_size_mb must be one of"),
        ({"inference_max_concurrency": 500}, "sagemaker-tiers:inference_max_concurrency must be a whole number between 1 and 200, got 500"),
        ({"inference_instance_type": "ml.nope.large"}, "sagemaker-tiers:inference_instance_type must be one of"),
        ({"inference_instance_type": "ml.m5.large", "inference_instance_count": 0}, "sagemaker-tiers:inference_instance_count must be a whole number between 1 and 100, got 0"),
        ({"inference_data_capture_percent": 10}, "needs sagemaker-tiers:inference_instance_type"),
    ):
        with pytest.raises(ValidationError, match=message):
            InferenceConfig(**bad).validate()


def test_disabled_creates_nothing_and_unknown_group_fails() -> None:
    _, stack = _app(inference_enabled="false")  # as `cdk synth -c sagemaker-tiers:inference_enabled=false` gives it
    assert stack.endpoints == {}
    assert Template.from_stack(stack).to_json().get("Resources", {}) == {}
    with pytest.raises(ValidationError, match="inference_group must be one of the registry's groups"):
        _app(inference_group="fraud")


def test_model_role_reads_what_every_tier_registering_into_the_group_writes() -> None:
    # The training tier writes under models/..., Autopilot under autopilot/...: an approved Autopilot version must
    # be readable too (a fixed "models/" left its endpoint Failed at creation).
    from types import SimpleNamespace

    from stacks.inference_stack import model_data_prefixes

    app = App(context=app_context(inference_extra_model_data_prefixes='["studio/churn/"]'))
    config, foundation, registry = base_stacks(app)
    group = registry.groups["example-churn"]
    other = SimpleNamespace(model_package_group_name="fraud")
    sources = [
        SimpleNamespace(output_prefix="models/example-churn/", model_package_group=group),
        SimpleNamespace(output_prefix="autopilot/example-churn/", model_package_group=group),
        SimpleNamespace(output_prefix="autopilot/fraud/", model_package_group=other),
    ]
    assert model_data_prefixes(group, sources, ["models/example-churn/"]) == ["models/example-churn/", "autopilot/example-churn/"]
    stack = InferenceStack(app, "Inference", config=config, foundation=foundation, registry=registry, model_sources=sources)
    statements = json.dumps([r["Properties"]["PolicyDocument"] for r in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()])
    for prefix in ("models/example-churn/", "autopilot/example-churn/", "studio/churn/"):
        assert f"/{prefix}*" in statements
    assert "autopilot/fraud/" not in statements


def test_a_group_no_tier_registers_into_fails_naming_the_keys() -> None:
    app = App(context=app_context())
    config, foundation, registry = base_stacks(app)
    with pytest.raises(ValidationError, match=r"no tier of the app registers into sagemaker-tiers:inference_group 'example-churn'.*sagemaker-tiers:inference_extra_model_data_prefixes"):
        InferenceStack(app, "Inference", config=config, foundation=foundation, registry=registry)


def test_one_key_sets_the_reconcile_schedule_of_the_registry_and_the_endpoint() -> None:
    # EventBridge gets SageMaker's and Parameter Store's events best-effort: both tiers reconcile on a schedule.
    app, stack = _app(reconcile_interval_minutes="30")
    registry = next(s for s in app.node.children if s.node.id.endswith("-registry"))
    for tier in (stack, registry):
        Template.from_stack(tier).has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(30 minutes)", "State": "ENABLED"})
    [endpoint] = stack.endpoints.values()
    target = Template.from_stack(stack).find_resources("AWS::Events::Rule", {"Properties": {"ScheduleExpression": "rate(30 minutes)"}})
    [rule] = target.values()
    assert rule["Properties"]["Targets"][0]["Input"] == "{}"
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Ref": stack.get_logical_id(endpoint.state_machine.node.default_child)}
