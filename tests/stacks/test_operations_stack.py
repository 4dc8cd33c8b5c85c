"""OperationsStack: the app's one dashboard shows exactly the metrics the tier constructs' own methods return.

The dashboard body is rendered once (one synth of the whole app) and parsed: every token in it (a pseudo parameter
or an ``Fn::ImportValue`` of a tier stack's export) is replaced by a marker naming the stack and the expression it
stands for, so a widget's dimension can be compared with what the construct's ``metric_*`` method resolves to in its
own stack, and traced to the resource it names.
"""

from __future__ import annotations

import inspect
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_cloudwatch as cw
from constructs import IConstruct

from sagemaker_tiers.core.validation import ValidationError
from sagemaker_tiers.operations import IWidgetSource
from stacks.app import TiersApp, build_app
from tests.conftest import app_context

MARK = re.compile(r"@@([^|@]+)\|([0-9a-f]+)@@")
Identity = tuple[str, str, tuple[tuple[str, str], ...]]


def _mark(stack_name: str, expression: Any) -> str:
    """A JSON-safe stand-in for a token: the stack it resolves in and the CloudFormation expression."""
    return f"@@{stack_name}|{json.dumps(expression, sort_keys=True).encode().hex()}@@"


def _unmark(text: str) -> tuple[str, Any]:
    match = MARK.fullmatch(text)
    assert match, text
    return match.group(1), json.loads(bytes.fromhex(match.group(2)))


#: The default app plus the JumpStart example (off by default), so every kind of tier construct is on the dashboard.
JUMPSTART_GROUP = "example-jumpstart-text"


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[TiersApp, dict[str, dict], Path]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(
        outdir=str(outdir),
        context=app_context(model_package_groups=["example-churn", JUMPSTART_GROUP], jumpstart_model_package_group=JUMPSTART_GROUP),
    )
    tiers = build_app(app)
    app.synth()
    templates = {p.name.removesuffix(".template.json"): json.loads(p.read_text()) for p in outdir.glob("*.template.json")}
    return tiers, templates, outdir


@pytest.fixture(scope="module")
def body(synthesized) -> dict:
    """The dashboard's body as CloudFormation would render it, tokens replaced by markers."""
    tiers, templates, _ = synthesized
    ops = tiers.operations
    resource = templates[ops.stack_name]["Resources"][ops.get_logical_id(ops.dashboard.dashboard.node.default_child)]
    exports = {
        output["Export"]["Name"]: (stack_name, output["Value"])
        for stack_name, template in templates.items()
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    }
    parts = []
    for part in resource["Properties"]["DashboardBody"]["Fn::Join"][1]:
        if isinstance(part, str):
            parts.append(part)
        elif "Fn::ImportValue" in part:
            parts.append(_mark(*exports[part["Fn::ImportValue"]]))
        else:
            parts.append(_mark(ops.stack_name, part))
    return json.loads("".join(parts))


def _widget_metrics(body: dict) -> Iterator[tuple[dict, Identity]]:
    for widget in body["widgets"]:
        for entry in widget["properties"].get("metrics", []):
            values = [v for v in entry if not isinstance(v, dict)]
            if not values:
                continue  # a math expression; the metrics it uses are entries of their own
            namespace, name, *dims = values
            yield widget, (namespace, name, tuple(sorted(zip(dims[::2], dims[1::2]))))


def _identity(metric: cw.Metric, stack: Stack) -> Identity:
    """What ``metric`` is, as the dashboard would show it: dimension tokens resolved in the construct's stack."""
    dims = stack.resolve(metric.dimensions) or {}
    return (
        metric.namespace,
        metric.metric_name,
        tuple(sorted((k, v if isinstance(v, str) else _mark(stack.stack_name, v)) for k, v in dims.items())),
    )


def _metrics_of(metric: cw.IMetric) -> Iterator[cw.Metric]:
    if isinstance(metric, cw.Metric):
        yield metric
    elif isinstance(metric, cw.MathExpression):
        for used in metric.using_metrics.values():
            yield from _metrics_of(used)


def construct_metrics(construct: IConstruct) -> set[Identity]:
    """Every metric the construct's public ``metric_*`` methods return (with their defaults; a method whose
    resource the construct does not have raises ValidationError and contributes nothing)."""
    stack = Stack.of(construct)
    found: set[Identity] = set()
    for name, method in inspect.getmembers(construct, inspect.ismethod):
        if not name.startswith("metric_"):
            continue
        required = [p.name for p in inspect.signature(method).parameters.values() if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
        assert set(required) <= set(METHOD_ARGUMENTS), f"{name} takes {required}: give the test its values"
        for values in itertools.product(*(METHOD_ARGUMENTS[r] for r in required)):
            try:
                metric = method(**dict(zip(required, values)))
            except ValidationError:
                continue
            found |= {_identity(m, stack) for m in _metrics_of(metric)}
    return found


#: Values of the required arguments of metric methods (every value each method accepts).
METHOD_ARGUMENTS = {"outcome": ("Approved", "Rejected")}


def widget_sources(app: TiersApp) -> list[IConstruct]:
    """Every construct of the app (outside the operations stack) that offers widgets and has any to offer."""
    sources = []
    for stack in (app.foundation, app.registry, app.training, app.autopilot, app.studio, app.inference):
        for construct in stack.node.find_all():
            if isinstance(construct, IWidgetSource) and construct.widgets():
                sources.append(construct)
    return sources


def missing_from(body: dict, sources: list[IConstruct]) -> list[str]:
    """Paths of the sources none of whose metrics is on the dashboard."""
    shown = {identity for _, identity in _widget_metrics(body)}
    return [s.node.path for s in sources if not construct_metrics(s) & shown]


def test_every_metric_on_the_dashboard_is_one_a_tier_construct_returns(synthesized, body) -> None:
    tiers, _, _ = synthesized
    known: set[Identity] = set()
    for source in widget_sources(tiers):
        known |= construct_metrics(source)
    shown = [(widget["properties"]["title"], identity) for widget, identity in _widget_metrics(body)]
    assert len(shown) >= 30
    assert [s for s in shown if s[1] not in known] == []


def test_every_tier_construct_is_on_the_dashboard(synthesized, body) -> None:
    tiers, _, _ = synthesized
    sources = widget_sources(tiers)
    kinds = {type(s).__name__ for s in sources}
    assert kinds == {
        "TrainingPipeline", "AutopilotJob", "ApprovalWorkflow", "ApprovedModelEndpoint",
        "StudioDomain", "CuratedHub", "CanvasIdleShutdown", "JumpStartModelVersion",
    }
    assert missing_from(body, sources) == []


def test_a_construct_left_off_the_dashboard_is_reported(synthesized, body) -> None:
    tiers, _, _ = synthesized
    hub = tiers.studio.hub
    hub_metrics = construct_metrics(hub)
    without_hub = dict(body, widgets=[w for w in body["widgets"] if not any(i in hub_metrics for ww, i in _widget_metrics({"widgets": [w]}))])
    assert len(without_hub["widgets"]) < len(body["widgets"])
    assert missing_from(without_hub, widget_sources(tiers)) == [hub.node.path]


def _dims_of(body: dict, title_part: str, metric_name: str) -> dict[str, str]:
    for widget, (_, name, dims) in _widget_metrics(body):
        if title_part in widget["properties"]["title"] and name == metric_name:
            return dict(dims)
    raise AssertionError(f"no {metric_name} on a widget titled ...{title_part}...")


def _ref(stack: Stack, construct: IConstruct) -> str:
    return _mark(stack.stack_name, {"Ref": stack.get_logical_id(construct.node.default_child)})


def _queue_name(stack: Stack, queue: IConstruct) -> str:
    return _mark(stack.stack_name, {"Fn::GetAtt": [stack.get_logical_id(queue.node.default_child), "QueueName"]})


def test_dimensions_name_the_right_resources(synthesized, body) -> None:
    tiers, templates, _ = synthesized
    training, autopilot, registry, studio = tiers.training, tiers.autopilot, tiers.registry, tiers.studio
    [endpoint] = tiers.inference.endpoints.values()
    # Step Functions metrics: dimension StateMachineArn (Ref of a state machine is its ARN)
    # https://docs.aws.amazon.com/step-functions/latest/dg/procedure-cw-metrics.html
    assert _dims_of(body, "Training", "ExecutionsStarted") == {"StateMachineArn": _ref(training, training.pipeline.state_machine)}
    assert _dims_of(body, "Autopilot", "ExecutionTime") == {"StateMachineArn": _ref(autopilot, autopilot.autopilot.state_machine)}
    assert _dims_of(body, "Deployments", "ExecutionsFailed") == {"StateMachineArn": _ref(tiers.inference, endpoint.state_machine)}
    # SageMaker endpoint metrics: EndpointName and VariantName, both known at synth (no export)
    assert _dims_of(body, "Endpoint", "ModelLatency") == {"EndpointName": "sagemaker-tiers-example-churn", "VariantName": "AllTraffic"}
    # API Gateway metrics by ApiName: the API's own name, known at synth, distinct from CDK's default "Api"
    api = templates[registry.stack_name]["Resources"][registry.get_logical_id(registry.workflow.api.node.default_child)]
    assert _dims_of(body, "Approval API", "5XXError") == {"ApiName": api["Properties"]["Name"]}
    assert api["Properties"]["Name"] != "Api" and "Approval" in api["Properties"]["Name"]
    # SQS depth by QueueName (GetAtt QueueName of each queue)
    queues = {dims["QueueName"] for _, (ns, _, dims_t) in _widget_metrics(body) if ns == "AWS/SQS" for dims in [dict(dims_t)]}
    assert queues == {
        _queue_name(registry, registry.workflow.dead_letter_queue),
        _queue_name(registry, registry.workflow.failed_invocations_queue),
        _queue_name(tiers.inference, endpoint.dead_letter_queue),
        _queue_name(studio, studio.domain.failed_invocations_queue),
        _queue_name(studio, studio.hub.failure_queue),
        _queue_name(studio, studio.jumpstart["as_is"].dead_letter_queue),
    }
    # The Canvas check's own metric, per domain ID and the function's Powertools service (EMF adds it)
    assert _dims_of(body, "Canvas", "CanvasAppsWithoutIdleMetric") == {
        "DomainId": _mark(studio.stack_name, {"Fn::GetAtt": [studio.get_logical_id(studio.domain.node.default_child), "DomainId"]}),
        "service": studio.canvas_idle.service_name,
    }


def test_every_dead_letter_and_failed_invocations_queue_of_the_app_is_shown(synthesized, body) -> None:
    tiers, templates, _ = synthesized
    shown = {dict(dims)["QueueName"] for _, (ns, _, dims) in _widget_metrics(body) if ns == "AWS/SQS"}
    in_app = {
        _mark(name, {"Fn::GetAtt": [logical_id, "QueueName"]})
        for name, template in templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue"
    }
    assert in_app and shown == in_app


def test_sections_in_order_with_headers(body) -> None:
    headers = [w["properties"]["markdown"].splitlines()[0] for w in body["widgets"] if w["type"] == "text"]
    assert headers == ["## Training", "## Autopilot", "## Approvals", "## Inference", "## Studio and Canvas", "## JumpStart"]
    for widget in body["widgets"]:
        assert widget["x"] + widget["width"] <= 24, widget
        assert "@@" not in json.dumps(widget["properties"].get("title", "")), widget["properties"]["title"]


def test_name_and_url_are_outputs(synthesized) -> None:
    tiers, templates, _ = synthesized
    ops = tiers.operations
    template = templates[ops.stack_name]
    logical_id = ops.get_logical_id(ops.dashboard.dashboard.node.default_child)
    assert template["Resources"][logical_id]["Properties"]["DashboardName"] == "sagemaker-tiers-operations"
    assert template["Outputs"]["DashboardName"]["Value"] == {"Ref": logical_id}
    region = {"Ref": "AWS::Region"}
    assert template["Outputs"]["DashboardUrl"]["Value"] == {
        "Fn::Join": ["", ["https://", region, ".console.aws.amazon.com/cloudwatch/home?region=", region, "#dashboards:name=", {"Ref": logical_id}]]
    }


def test_the_operations_stack_is_a_leaf_that_depends_on_every_tier(synthesized) -> None:
    tiers, templates, outdir = synthesized
    ops = tiers.operations
    assert {d.stack_name for d in ops.dependencies} >= {tiers.training.stack_name, tiers.autopilot.stack_name, tiers.registry.stack_name, tiers.studio.stack_name, tiers.inference.stack_name}
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert not any(ops.stack_name in artifact.get("dependencies", []) for artifact in manifest["artifacts"].values())
    # The dashboard and the operator CLI's policy (tests/operations/test_operator_policy.py), nothing else.
    assert sorted(r["Type"] for r in templates[ops.stack_name]["Resources"].values()) == ["AWS::CloudWatch::Dashboard", "AWS::IAM::ManagedPolicy"]


def test_business_metrics_are_on_the_dashboard_per_workflow_and_domain(synthesized, body) -> None:
    """The approval and Canvas handlers' EMF metrics (Powertools): namespace, name and dimensions as their
    construct methods give them, the service dimension being the function's Powertools service name."""
    tiers, _, _ = synthesized
    workflow, canvas, studio = tiers.registry.workflow, tiers.studio.canvas_idle, tiers.studio
    service = {"service": workflow.service_name}
    shown = {(name, dims) for _, (_, name, dims) in _widget_metrics(body)}
    for name, dims in (
        ("Decisions", {**service, "Outcome": "Approved"}),
        ("Decisions", {**service, "Outcome": "Rejected"}),
        ("TimeToDecision", service),
        ("Promotions", service),
        ("PendingApprovals", service),
    ):
        assert (name, tuple(sorted(dims.items()))) in shown, name
    domain_id = _mark(studio.stack_name, {"Fn::GetAtt": [studio.get_logical_id(studio.domain.node.default_child), "DomainId"]})
    assert _dims_of(body, "Canvas idle shutdown: apps shut down", "IdleShutdowns") == {"DomainId": domain_id, "service": canvas.service_name}
    # registration to decision in hours: average and longest, from the TimeToDecision seconds
    [widget] = [w for w in body["widgets"] if w["properties"].get("title") == "Approvals: registration to decision"]
    expressions = [e[0]["expression"] for e in widget["properties"]["metrics"] if "expression" in e[0]]
    assert expressions == ["average / 3600", "longest / 3600"]
