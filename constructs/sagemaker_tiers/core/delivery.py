"""Shared pieces that keep events and failures from being lost, and KMS grants without wildcards.

Every tier parks what could not be delivered in an encrypted queue, alarms on it, and grants exactly the KMS
actions a service needs. These helpers are that one way, so a queue, an alarm or a grant looks the same in every
template and is reviewed once.
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_tiers.core.nag import acknowledge

#: How long a last-stop queue keeps a message (SQS's maximum).
LAST_STOP_RETENTION = Duration.days(14)


def last_stop_queue(scope: Construct, id: str, *, encryption_key: kms.IKey, holds: str) -> sqs.Queue:
    """An encrypted, SSL-only queue that keeps ``holds`` (what failed every retry) for 14 days.

    It is the end of the line, so it has no dead-letter queue of its own; the two cdk-nag findings and the Control
    Tower control (CT.SQS.PR.1) that ask for one are acknowledged here with that reason. Alarm on its depth (:func:`alarm_on_any` with
    ``queue.metric_approximate_number_of_messages_visible``).

    :param holds: What lands in the queue, for the acknowledgment ("trigger events that could not start a run").
    """
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=encryption_key,
        enforce_ssl=True,
        retention_period=LAST_STOP_RETENTION,
    )
    for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy", "CT.SQS.PR.1"):
        acknowledge(
            queue,
            rule,
            f"This queue is itself the last stop for {holds} (kept 14 days, alarmed on depth); a dead-letter "
            "queue behind it would only move the messages.",
        )
    return queue


def alarm_on_any(
    scope: Construct,
    id: str,
    metric: cw.IMetric,
    *,
    description: str,
    action: cw.IAlarmAction | None = None,
    evaluation_periods: int = 1,
) -> cw.Alarm:
    """An alarm that fires as soon as ``metric`` is above zero (missing data is not breaching).

    :param action: Where the alarm goes (an ``SnsAction``). Default: nowhere.
    """
    alarm = cw.Alarm(
        scope,
        id,
        metric=metric,
        alarm_description=description,
        threshold=0,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=evaluation_periods,
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )
    if action is not None:
        alarm.add_alarm_action(action)
    return alarm


def encrypted_topic(scope: Construct, id: str, *, display_name: str, encryption_key: kms.IKey) -> sns.Topic:
    """A KMS-encrypted, SSL-only topic that this account's CloudWatch alarms may publish to.

    ``enforce_ssl`` makes CDK write a topic policy, and a topic policy replaces SNS's default one, so without an
    explicit Allow CloudWatch could not publish the alarms (identity-based grants cover our own roles, not a
    service principal). The Allow is scoped against the confused deputy: ``aws:SourceAccount`` is this account and
    ``aws:SourceArn`` one of its alarms in this region (alarms of every tier's stack publish here, so the ARNs are
    a pattern, not a list: a list would make this stack depend on every stack that alarms).
    https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-use-cases.html (CloudWatch alarms publishing to a topic)
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html

    CloudWatch also needs the topic's key (``kms:Decrypt`` and ``kms:GenerateDataKey`` for
    ``cloudwatch.amazonaws.com``), which :class:`~sagemaker_tiers.foundation.MlEncryptionKey`'s policy grants for
    this account's sources: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    """
    topic = sns.Topic(scope, id, display_name=display_name, master_key=encryption_key, enforce_ssl=True)
    allow_alarms_to_publish(topic)
    return topic


def allow_alarms_to_publish(topic: sns.ITopic) -> None:
    """Let this account's CloudWatch alarms (of this region) publish to ``topic`` (see :func:`encrypted_topic`).

    A no-op for an imported topic, whose policy CDK cannot change: its owner must allow ``cloudwatch.amazonaws.com``.
    """
    stack = Stack.of(topic)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowThisAccountsAlarmsToPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": alarm_arn_pattern(stack)},
            },
        )
    )


def alarm_arn_pattern(stack: Stack) -> str:
    """ARN pattern of every CloudWatch alarm of ``stack``'s account and region."""
    return f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"


def grant_key_via(grantee: iam.IGrantable, key: kms.IKey, service: str, *actions: str) -> iam.Grant:
    """Exactly ``actions`` on ``key``, only through ``service`` (``"sqs"``); CDK's grants add ``GenerateDataKey*``."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(actions),
        resource_arns=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"{service}.{Stack.of(key).region}.amazonaws.com"}},
    )


@jsii.implements(lambda_.IDestination)
class ExactSqsDestination:
    """A Lambda on-failure SQS destination granting ``sqs:SendMessage`` and the two KMS actions SQS needs.

    (``aws_lambda_destinations.SqsDestination`` grants ``kms:GenerateDataKey*`` and ``kms:ReEncrypt*``.)
    """

    def __init__(self, queue: sqs.IQueue, key: kms.IKey) -> None:
        self._queue = queue
        self._key = key

    def bind(self, scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None) -> lambda_.DestinationConfig:  # noqa: A002
        fn.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self._queue.queue_arn]))
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self._key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sqs.{Stack.of(scope).region}.amazonaws.com"}},
            )
        )
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)
