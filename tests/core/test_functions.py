"""core.functions: every Lambda function of every stack runs with Powertools (the public layer), X-Ray and the
Powertools environment, and the metric methods of the constructs read what their functions emit."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.functions import (
    POWERTOOLS_LAYER_ACCOUNT,
    POWERTOOLS_LAYER_VERSION,
    POWERTOOLS_VERSION,
    powertools_layer_name,
    tiers_function,
)
from sagemaker_tiers.core.validation import ValidationError
from stacks.app import TiersApp, build_app
from tests.conftest import ROOT, app_context

LAYER_ARN = {
    "Fn::Sub": f"arn:aws:lambda:${{AWS::Region}}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
    f"AWSLambdaPowertoolsPythonV3-python314-x86_64:{POWERTOOLS_LAYER_VERSION}"
}


@pytest.fixture(scope="module")
def app() -> tuple[TiersApp, dict[str, dict]]:
    cdk_app = App(context=app_context())
    tiers = build_app(cdk_app)
    assembly = cdk_app.synth()
    return tiers, {stack.stack_name: stack.template for stack in assembly.stacks}


def _functions(templates: dict[str, dict]) -> list[tuple[str, str, dict]]:
    return [
        (stack, logical_id, resource["Properties"])
        for stack, template in templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    ]


def test_every_function_of_every_stack_has_powertools_xray_and_its_environment(app) -> None:
    _, templates = app
    functions = _functions(templates)
    # A future function without the factory's settings fails here; so does one whose stack lost them all.
    assert len(functions) >= 8, [f[:2] for f in functions]
    for stack, logical_id, props in functions:
        where = f"{stack}/{logical_id}"
        assert props["Layers"] == [LAYER_ARN], where
        assert props["TracingConfig"] == {"Mode": "Active"}, where
        assert props["Runtime"] == defaults.LAMBDA_RUNTIME_NAME and props["Architectures"] == ["x86_64"], where
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] and env["POWERTOOLS_LOG_LEVEL"] == "INFO", where
        assert re.fullmatch(r"sagemaker-tiers/(Registry|Studio|Autopilot)", env["POWERTOOLS_METRICS_NAMESPACE"]), where
        assert "POWERTOOLS_LOGGER_LOG_EVENT" not in env, where  # events carry tokens and signed URLs


def test_every_stack_with_a_function_refuses_a_partition_without_the_layer(app) -> None:
    _, templates = app
    for stack in {stack for stack, _, _ in _functions(templates)}:
        rules = templates[stack]["Rules"]
        [rule] = [r for name, r in rules.items() if name.startswith("PowertoolsForAwsLambdaCommercialPartition")]
        assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Partition"}, "aws"]}


def test_the_function_settings_that_were_there_before_stay(app) -> None:
    """The factory adds Powertools without dropping a function's own security settings."""
    _, templates = app
    for stack, logical_id, props in _functions(templates):
        where = f"{stack}/{logical_id}"
        assert props["Role"] and props["LoggingConfig"]["LogGroup"], where
        if any(not k.startswith("POWERTOOLS_") for k in props["Environment"]["Variables"]):
            assert "KmsKeyArn" in props, where  # the handler's own variables stay encrypted with the app's key
    registry = next(t for name, t in templates.items() if name.endswith("-registry"))
    destinations = [r for r in registry["Resources"].values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert len(destinations) == 3 and all(d["Properties"]["DestinationConfig"]["OnFailure"] for d in destinations)


def test_the_layer_and_the_test_dependency_pin_the_same_powertools_release() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [d for d in pyproject["project"]["optional-dependencies"]["dev"] if d.startswith("aws-lambda-powertools")]
    assert pins == [f"aws-lambda-powertools=={POWERTOOLS_VERSION}"]
    assert importlib.metadata.version("aws-lambda-powertools") == POWERTOOLS_VERSION


def test_layer_names_follow_the_published_pattern() -> None:
    assert powertools_layer_name() == "AWSLambdaPowertoolsPythonV3-python314-x86_64"
    with pytest.raises(ValidationError, match="runtime_name"):
        powertools_layer_name("nodejs22.x")


def test_metric_methods_read_the_namespace_and_service_their_functions_emit_under(app) -> None:
    tiers, templates = app
    stack = Stack.of(tiers.registry)
    workflow = tiers.registry.workflow
    registry = templates[tiers.registry.stack_name]
    for fn in (workflow.notify_function, workflow.api_function, workflow.promote_function):
        env = registry["Resources"][stack.get_logical_id(fn.node.default_child)]["Properties"]["Environment"]["Variables"]  # type: ignore[arg-type]
        for metric in (
            workflow.metric_decisions("Approved"), workflow.metric_decisions("Rejected"), workflow.metric_time_to_decision(),
            workflow.metric_promotions(), workflow.metric_pending_approvals(),
        ):
            assert metric.namespace == env["POWERTOOLS_METRICS_NAMESPACE"] == "sagemaker-tiers/Registry"
            assert metric.dimensions["service"] == env["POWERTOOLS_SERVICE_NAME"]
    assert workflow.metric_decisions("Rejected").dimensions == {"service": workflow.service_name, "Outcome": "Rejected"}
    assert (workflow.metric_decisions("Approved").metric_name, workflow.metric_decisions("Approved").statistic) == ("Decisions", "Sum")
    assert workflow.metric_pending_approvals().period.to_seconds() == workflow.reconcile_interval.to_seconds()
    assert workflow.metric_time_to_decision(statistic="Maximum").statistic == "Maximum"
    with pytest.raises(ValidationError, match="outcome must be one of Approved, Rejected, got 'approve'"):
        workflow.metric_decisions("approve")

    canvas = tiers.studio.canvas_idle
    studio = templates[tiers.studio.stack_name]
    env = studio["Resources"][Stack.of(canvas).get_logical_id(canvas.function.node.default_child)]["Properties"]["Environment"]["Variables"]  # type: ignore[arg-type]
    for metric in (canvas.metric_idle_shutdowns(), canvas.metric_unmeasured_apps()):
        assert metric.namespace == env["POWERTOOLS_METRICS_NAMESPACE"] == "sagemaker-tiers/Studio"
        assert set(metric.dimensions) == {"service", "DomainId"}
        assert metric.dimensions["service"] == env["POWERTOOLS_SERVICE_NAME"] == canvas.service_name
    assert canvas.metric_idle_shutdowns().metric_name == "IdleShutdowns"


def test_the_canvas_function_needs_no_put_metric_data_any_more(app) -> None:
    tiers, templates = app
    studio = templates[tiers.studio.stack_name]
    actions = [
        action
        for resource in studio["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    ]
    assert "cloudwatch:PutMetricData" not in actions and "cloudwatch:GetMetricData" in actions


# ---------------------------------------------------------------- the factory's own checks


@pytest.fixture(scope="module")
def parts() -> tuple[Stack, iam.Role, logs.LogGroup]:
    stack = Stack(App(), "Factory")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    return stack, role, logs.LogGroup(stack, "Logs")


def _make(parts, id: str, **overrides):  # type: ignore[no-untyped-def]
    stack, role, log_group = parts
    kwargs = {
        "code_dir": Path(__file__).parent,
        "handler": "x.handler",
        "description": "test",
        "role": role,
        "log_group": log_group,
        "timeout": Duration.seconds(10),
        **overrides,
    }
    return tiers_function(stack, id, **kwargs)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"log_level": "VERBOSE"}, "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'VERBOSE'"),
        ({"tracing": None}, "tiers_function sets tracing itself"),
        ({"layers": []}, "tiers_function sets layers itself"),
        ({"environment": {"POWERTOOLS_SERVICE_NAME": "x"}}, r"must not set Powertools variables .*POWERTOOLS_SERVICE_NAME"),
        ({"metrics_namespace": "AWS/Lambda"}, "metrics_namespace must not start with 'AWS/'"),
        ({"metrics_namespace": "has space"}, "metrics_namespace must be a CloudWatch namespace"),
        ({"service": "s" * 256}, "service must be 1-255 characters"),
    ],
)
def test_the_factory_refuses_what_would_undo_its_settings(parts, overrides, message) -> None:
    with pytest.raises(ValidationError, match=message):
        _make(parts, "Refused", **overrides)


def test_the_service_defaults_to_the_owning_construct_path(parts) -> None:
    from aws_cdk.assertions import Template

    fn = _make(parts, "Defaulted")
    [props] = [r["Properties"] for r in Template.from_stack(Stack.of(fn)).find_resources("AWS::Lambda::Function").values()]
    env = props["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "Factory"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "sagemaker-tiers"


# ---------------------------------------------------------------- the handlers' side


HANDLER_FOLDERS = sorted(p for p in (ROOT / "constructs" / "sagemaker_tiers").glob("*/*_handlers") if p.is_dir())
#: What Powertools replaced: hand-written logging, stdout writes, metrics by API call.
HAND_WRITTEN = (r"logging\.getLogger", r"^import logging", r"sys\.stdout\.write", r"(?<![\w.])print\(", r"put_metric_data", r"^def log\(")


def test_every_handler_logs_through_powertools_with_the_lambda_context() -> None:
    entry_points = 0
    for folder in HANDLER_FOLDERS:
        for module in sorted(folder.glob("*.py")):
            text = module.read_text()
            where = module.relative_to(ROOT)
            assert not [h for h in HAND_WRITTEN if re.search(h, text, re.M)], f"{where} writes logs or metrics by hand: use Powertools"
            if "\ndef handler(" in text:
                entry_points += 1
                decorated = re.search(r"\n((?:@[^\n]+\n)+)def handler\(", text)
                assert decorated and re.search(r"inject_lambda_context|@cr\.entry_point", decorated.group(1)), where
    assert entry_points >= 10
