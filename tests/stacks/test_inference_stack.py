"""InferenceStack: one synth with the base stacks; config keys and how to turn the tier off."""

from __future__ import annotations

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from sagemaker_tiers import ValidationError
from stacks.inference_stack import InferenceConfig, InferenceStack
from tests.conftest import app_context, base_stacks


def _app(**context):
    app = App(context=app_context(**context))
    config, foundation, registry = base_stacks(app)
    return app, InferenceStack(app, f"{config.project_name}-inference", config=config, foundation=foundation, registry=registry)


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
