"""TiersDashboard and the shared widget shapes, without a tier: sections, headers, refusals."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk.assertions import Template

from sagemaker_tiers.core.validation import ValidationError
from sagemaker_tiers.operations import DashboardSection, IWidgetSource, TiersDashboard
from sagemaker_tiers.operations.widgets import queue_depth_widget, runs_widgets


class Source:
    """A stand-in tier construct offering two widgets of one metric."""

    def __init__(self, name: str) -> None:
        self.metric = cw.Metric(namespace="Test", metric_name=name, period=Duration.minutes(5), statistic="Sum")

    def widgets(self) -> list[cw.IWidget]:
        return [queue_depth_widget(f"{self.metric.metric_name} depth", {"Depth": self.metric})]


def _body(stack: Stack) -> dict:
    [resource] = Template.from_stack(stack).find_resources("AWS::CloudWatch::Dashboard").values()
    parts = resource["Properties"]["DashboardBody"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "REGION" for p in parts))


def test_sections_render_a_header_then_their_sources_widgets_in_order() -> None:
    stack = Stack(App(), "S")
    dashboard = TiersDashboard(stack, "D", sections=[DashboardSection("First", [Source("A"), Source("B")], "what it answers")])
    dashboard.add_section(DashboardSection("Second", [Source("C")]))
    body = _body(stack)
    assert body["start"] == "-P7D"
    kinds = [(w["type"], w["properties"].get("markdown") or w["properties"]["title"]) for w in body["widgets"]]
    assert kinds == [
        ("text", "## First\nwhat it answers"), ("metric", "A depth"), ("metric", "B depth"),
        ("text", "## Second"), ("metric", "C depth"),
    ]
    assert [s.title for s in dashboard.sections] == ["First", "Second"]
    assert isinstance(Source("X"), IWidgetSource)


def test_refusals_name_the_prop_and_value() -> None:
    stack = Stack(App(), "S")
    with pytest.raises(ValidationError, match=r"dashboard_name must be at most 255 letters.*got 'ops dashboard'"):
        TiersDashboard(stack, "Bad", dashboard_name="ops dashboard")
    dashboard = TiersDashboard(stack, "D")
    with pytest.raises(ValidationError, match=r"sources of section 'Queues' must offer widgets\(\).*got 'a queue'"):
        dashboard.add_section(DashboardSection("Queues", ["a queue"]))  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="section 'Empty' must show at least one widget"):
        dashboard.add_section(DashboardSection("Empty", []))
    with pytest.raises(ValidationError, match="section title must not be empty"):
        dashboard.add_section(DashboardSection(" ", [Source("A")]))


def test_runs_widgets_show_outcomes_and_duration_in_minutes() -> None:
    def metric(name: str) -> cw.Metric:
        return cw.Metric(namespace="AWS/States", metric_name=name, period=Duration.hours(1), statistic="Sum")

    counts, duration = runs_widgets(
        "Runs", started=metric("ExecutionsStarted"), succeeded=metric("ExecutionsSucceeded"), failed=metric("ExecutionsFailed"),
        timed_out=metric("ExecutionsTimedOut"), aborted=None, duration=metric("ExecutionTime"),
    )
    stack = Stack(App(), "S")
    rendered = [stack.resolve(w.to_json()) for w in (counts, duration)][0][0], stack.resolve(duration.to_json())[0]
    labels = [m[-1]["label"] for m in rendered[0]["properties"]["metrics"]]
    assert labels == ["Started", "Succeeded", "Failed", "Timed out"]
    expressions = [m[0] for m in rendered[1]["properties"]["metrics"] if "expression" in m[0]]
    assert [(e["label"], e["expression"]) for e in expressions] == [("Average", "average / 60000"), ("Longest", "longest / 60000")]
    stats = [m[-1].get("stat", "Average") for m in rendered[1]["properties"]["metrics"] if isinstance(m[0], str)]
    assert stats == ["Average", "Maximum"]
