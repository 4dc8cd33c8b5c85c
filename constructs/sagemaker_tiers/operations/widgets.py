"""The widget shapes the tier constructs share, built only from metrics a construct's own ``metric_*`` methods return.

Every tier construct offers ``widgets() -> list[cw.IWidget]`` (:class:`IWidgetSource`), so an app that composes its
own stacks builds its dashboard from the constructs it has (:class:`~sagemaker_tiers.operations.TiersDashboard`, or
its own ``cw.Dashboard``). The dashboard grid is 24 units wide; these widgets are 8 or 12 wide and 6 high.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw

#: Width of the dashboard grid (CloudWatch dashboards are 24 units wide).
GRID_WIDTH = 24
HEIGHT = 6


@runtime_checkable
class IWidgetSource(Protocol):
    """A construct that offers dashboard widgets built from its own metrics."""

    def widgets(self) -> list[cw.IWidget]:
        """The construct's widgets, in the order they should appear."""
        ...


def graph(title: str, metrics: Mapping[str, cw.IMetric], *, width: int = 12, unit: str | None = None, stacked: bool = False) -> cw.GraphWidget:
    """A time-series graph of ``metrics``, each labelled by its key (the legend names what each line is)."""
    return cw.GraphWidget(
        title=title,
        left=[_labelled(metric, label) for label, metric in metrics.items()],
        width=width,
        height=HEIGHT,
        stacked=stacked,
        left_y_axis=cw.YAxisProps(min=0, label=unit, show_units=unit is None),
    )


def runs_widgets(
    what: str,
    *,
    started: cw.Metric,
    succeeded: cw.Metric,
    failed: cw.Metric,
    timed_out: cw.Metric,
    aborted: cw.Metric | None,
    duration: cw.Metric,
) -> list[cw.IWidget]:
    """Two graphs of a state machine's executions: counts by outcome, and duration (average and longest, minutes).

    ``duration`` is Step Functions' ``ExecutionTime`` (milliseconds); the graph divides it by 60,000.
    """
    outcomes: dict[str, cw.IMetric] = {"Started": started, "Succeeded": succeeded, "Failed": failed, "Timed out": timed_out}
    if aborted is not None:
        outcomes["Aborted"] = aborted
    minutes = {
        label: cw.MathExpression(
            expression=f"{id} / 60000",
            using_metrics={id: duration.with_(statistic=statistic)},
            label=label,
            period=duration.period,
        )
        for label, id, statistic in (("Average", "average", "Average"), ("Longest", "longest", "Maximum"))
    }
    return [
        graph(f"{what}: runs by outcome", outcomes, unit="runs"),
        graph(f"{what}: run duration", minutes, unit="minutes"),
    ]


def queue_depth_widget(title: str, queues: Mapping[str, cw.IMetric], *, width: int = 12) -> cw.GraphWidget:
    """Visible messages of dead-letter or failed-invocation queues: each is an event or invocation that gave up."""
    return graph(title, queues, width=width, unit="messages")


def hourly(metric: cw.Metric) -> cw.Metric:
    """``metric`` summed per hour: runs and decisions are rare, an hourly bar reads better than 5-minute dots."""
    return metric.with_(period=Duration.hours(1))


def _labelled(metric: cw.IMetric, label: str) -> cw.IMetric:
    if isinstance(metric, (cw.Metric, cw.MathExpression)):
        return metric.with_(label=label)
    return metric
