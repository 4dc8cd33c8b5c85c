"""How both JumpStart constructs are started and watched: trigger rules with a dead-letter queue, and alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from sagemaker_tiers.core.delivery import alarm_on_any, last_stop_queue
from sagemaker_tiers.core.validation import ValidationError
from sagemaker_tiers.operations.widgets import hourly, queue_depth_widget, runs_widgets


class RunMetrics:
    """Metrics, start grants and dashboard widgets of a JumpStart construct's runs (its ``state_machine``, and its
    ``dead_letter_queue`` when triggers start it)."""

    state_machine: sfn.StateMachine
    dead_letter_queue: sqs.Queue | None
    #: How the widgets name the runs ("JumpStart registration <model id>").
    runs_title: str

    def grant_start_execution(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start runs (``states:StartExecution`` on this state machine only)."""
        return self.state_machine.grant_start_execution(grantee)

    def metric_executions_started(self, **props: Any) -> cw.Metric:
        """Runs started, by hand or by a trigger."""
        return self.state_machine.metric_started(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_executions_succeeded(self, **props: Any) -> cw.Metric:
        """Runs that registered a version (or, for a registration, found it registered)."""
        return self.state_machine.metric_succeeded(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_executions_failed(self, **props: Any) -> cw.Metric:
        """Runs that failed (refusals included)."""
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
            raise ValidationError("metric_undelivered_triggers needs a trigger (register_on_deploy, schedule or new data), got none")
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


def trigger_rules(
    scope: Construct,
    machine: sfn.IStateMachine,
    key: kms.IKey,
    *,
    holds: str,
    rules: list[tuple[str, str, dict[str, Any], dict[str, Any]]],
) -> tuple[sqs.Queue, dict[str, events.Rule]]:
    """EventBridge rules that start ``machine`` with ``{"trigger": {...}}``; undeliverable events (after 20
    retries over at most 6 hours) go to an encrypted dead-letter queue.

    :param rules: ``(id, description, rule props (schedule or event_pattern), trigger object)`` per rule.
    """
    triggers = Construct(scope, "Triggers")
    queue = last_stop_queue(triggers, "DeadLetterQueue", encryption_key=key, holds=holds)
    made: dict[str, events.Rule] = {}
    for rule_id, description, props, trigger in rules:
        made[rule_id] = events.Rule(
            triggers,
            rule_id,
            description=description,
            targets=[
                targets.SfnStateMachine(
                    machine,
                    input=events.RuleTargetInput.from_object({"trigger": trigger}),
                    dead_letter_queue=queue,
                    retry_attempts=20,
                    max_event_age=Duration.hours(6),
                )
            ],
            **props,
        )
    return queue, made


def run_alarms(scope: Construct, topic: sns.ITopic, specs: list[tuple[str, cw.IMetric, str]]) -> dict[str, cw.Alarm]:
    """One alarm per ``(id, metric, description)``, firing on any datapoint above 0 and notifying ``topic``."""
    alarms = Construct(scope, "Alarms")
    action = cw_actions.SnsAction(topic)
    return {
        alarm_id: alarm_on_any(alarms, alarm_id, metric, description=description, action=action)
        for alarm_id, metric, description in specs
    }
