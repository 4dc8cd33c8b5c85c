"""Internal: the Lambda functions behind the Studio custom resources and the Canvas idle shutdown.

Built like the registry's approval functions: an explicit role, a KMS-encrypted log group of their own, X-Ray,
asynchronous failures to an encrypted SQS queue (with exactly the KMS actions SQS needs), and an error alarm
wired to a topic. CloudFormation invokes custom-resource functions asynchronously, so the same retries and
on-failure queue apply to them.
"""

from __future__ import annotations

from pathlib import Path

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.nag import acknowledge, skip_checkov

HANDLERS = Path(__file__).parent / "studio_handlers"


def failure_queue(scope: Construct, id: str, key: kms.IKey, topic: sns.ITopic | None) -> sqs.Queue:
    """An encrypted queue for invocations that failed every retry, alarmed on depth when a topic is given."""
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"):
        acknowledge(
            queue,
            rule,
            "This queue is itself the last stop for Studio automation invocations that failed every retry (kept 14 "
            "days, alarmed on depth); a dead-letter queue behind it would only move the messages.",
        )
    metric = queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum")
    alarm = metric.create_alarm(
        scope,
        f"{id}Depth",
        alarm_description="Studio automation invocations failed every retry (see the failed-invocations queue)",
        threshold=0,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )
    if topic is not None:
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return queue


def handler_function(
    scope: Construct,
    id: str,
    *,
    handler: str,
    description: str,
    key: kms.IKey,
    queue: sqs.IQueue,
    topic: sns.ITopic | None,
    timeout: Duration,
    environment: dict[str, str] | None = None,
    reserved_concurrent_executions: int | None = None,
    log_retention: logs.RetentionDays = defaults.LOG_RETENTION,
) -> lambda_.Function:
    """One handler of ``studio_handlers/`` as a Lambda function, with its role, log group and error alarm."""
    log_group = logs.LogGroup(
        scope, f"{id}Logs", encryption_key=key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
    )
    role = iam.Role(scope, f"{id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
    fn = lambda_.Function(
        scope,
        id,
        runtime=lambda_.Runtime(defaults.LAMBDA_RUNTIME_NAME, lambda_.RuntimeFamily.PYTHON),
        code=lambda_.Code.from_asset(str(HANDLERS), exclude=["__pycache__", "*.pyc"]),
        handler=handler,
        description=description,
        role=role,
        memory_size=256,
        timeout=timeout,
        environment=environment or {},
        environment_encryption=key,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
        reserved_concurrent_executions=reserved_concurrent_executions,
        retry_attempts=2,
        max_event_age=Duration.hours(6),
        on_failure=_ExactSqsDestination(queue, key),
    )
    log_group.grant_write(role)
    dlq_reason = (
        "Failed asynchronous invocations go to an SQS on-failure destination (with the request and the error), "
        "which supersedes DeadLetterConfig."
    )
    acknowledge(fn, "Serverless-LambdaDLQ", dlq_reason)
    skip_checkov(fn, "CKV_AWS_116", dlq_reason)
    skip_checkov(
        fn,
        "CKV_AWS_117",
        "The function only calls the SageMaker and CloudWatch APIs over TLS with IAM; it reaches no VPC resource, "
        "and running it in the VPC would add ENIs and depend on the NAT gateway for nothing.",
    )
    if reserved_concurrent_executions is None:
        skip_checkov(
            fn,
            "CKV_AWS_115",
            "Invoked only by CloudFormation for this stack's custom resources (a handful of requests per "
            "deployment); reserving concurrency would take it from the account's pool.",
        )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permission, so CDK's tracing "
        "grant uses Resource '*'.",
        applies_to="Resource::*",
    )
    alarm = fn.metric_errors(period=Duration.minutes(5), statistic="Sum").create_alarm(
        scope,
        f"{id}Errors",
        alarm_description=f"{description}: the function raised errors",
        threshold=0,
        comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
    )
    if topic is not None:
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return fn


def grant_key_via(grantee: iam.IGrantable, key: kms.IKey, service: str, *actions: str) -> iam.Grant:
    """Exact KMS actions on ``key``, only through ``service`` (CDK's key grants add ``GenerateDataKey*``)."""
    return iam.Grant.add_to_principal(
        grantee=grantee,
        actions=list(actions),
        resource_arns=[key.key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"{service}.{Stack.of(key).region}.amazonaws.com"}},
    )


@jsii.implements(lambda_.IDestination)
class _ExactSqsDestination:
    """An on-failure SQS destination granting sqs:SendMessage and the two KMS actions SQS needs, nothing more."""

    def __init__(self, queue: sqs.IQueue, key: kms.IKey) -> None:
        self._queue = queue
        self._key = key

    def bind(self, scope: Construct, fn: lambda_.IFunction, *, type=None) -> lambda_.DestinationConfig:  # noqa: A002
        fn.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self._queue.queue_arn]))
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[self._key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"sqs.{Stack.of(scope).region}.amazonaws.com"}},
            )
        )
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)
