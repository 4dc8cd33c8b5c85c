"""What every construct that runs a state machine offers about its runs: a start grant, the run metrics, and the
dashboard widgets built from them (the Training Job, Autopilot and JumpStart tiers share this one definition)."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from sagemaker_tiers.core.validation import ValidationError
from sagemaker_tiers.operations.widgets import hourly, queue_depth_widget, runs_widgets


class RunMetrics:
    """Start grant, metrics and dashboard widgets of a construct's runs: its ``state_machine``, and its
    ``dead_letter_queue`` when triggers start it (``None`` otherwise). Metrics default to 5-minute periods (Sum;
    Average for the duration); the widgets show them per hour."""

    state_machine: sfn.StateMachine
    dead_letter_queue: sqs.Queue | None
    #: How the widgets name the runs ("Training churn", "JumpStart registration <model id>").
    runs_title: str
    #: The props that add a trigger, for the error of :meth:`metric_undelivered_triggers` without one.
    triggers_hint: str = "a schedule or a new-data trigger"

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start runs (``states:StartExecution`` on this state machine only)."""
        return self.state_machine.grant_start_execution(grantee)

    def metric_executions_started(self, **props: Any) -> cw.Metric:
        """Runs started, by hand or by a trigger."""
        return self.state_machine.metric_started(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_executions_succeeded(self, **props: Any) -> cw.Metric:
        """Runs that ended in success (the tier's docstring says what a run does: usually register a version)."""
        return self.state_machine.metric_succeeded(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_executions_failed(self, **props: Any) -> cw.Metric:
        """Runs that failed (any error, including rejected input)."""
        return self.state_machine.metric_failed(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_executions_timed_out(self, **props: Any) -> cw.Metric:
        """Runs that exceeded the state machine's timeout."""
        return self.state_machine.metric_timed_out(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_executions_aborted(self, **props: Any) -> cw.Metric:
        """Runs stopped by someone (StopExecution)."""
        return self.state_machine.metric_aborted(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_execution_time(self, **props: Any) -> cw.Metric:
        """How long runs took, start to end, in milliseconds (Average over 5 minutes)."""
        return self.state_machine.metric_time(**{"period": Duration.minutes(5), "statistic": "Average", **props})

    def metric_undelivered_triggers(self, **props: Any) -> cw.Metric:
        """Trigger events that could not start a run after every retry (messages in the dead-letter queue)."""
        if self.dead_letter_queue is None:
            raise ValidationError(f"metric_undelivered_triggers needs a trigger ({self.triggers_hint}), got none")
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible(
            **{"period": Duration.minutes(5), "statistic": "Maximum", **props}
        )

    def widgets(self) -> list[cw.IWidget]:
        """Dashboard widgets: runs by outcome (hourly), run duration, and undelivered triggers when triggered."""
        widgets = runs_widgets(
            self.runs_title,
            started=hourly(self.metric_executions_started()),
            succeeded=hourly(self.metric_executions_succeeded()),
            failed=hourly(self.metric_executions_failed()),
            timed_out=hourly(self.metric_executions_timed_out()),
            aborted=hourly(self.metric_executions_aborted()),
            duration=hourly(self.metric_execution_time()),
        )
        if self.dead_letter_queue is not None:
            widgets.append(queue_depth_widget(f"{self.runs_title}: dead letters", {"Undelivered triggers": self.metric_undelivered_triggers()}))
        return widgets
