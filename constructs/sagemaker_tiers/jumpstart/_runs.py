"""How both JumpStart constructs are started and watched: trigger rules with a dead-letter queue, and alarms."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from sagemaker_tiers.core.delivery import alarm_on_any, last_stop_queue


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
