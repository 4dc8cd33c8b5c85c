"""Internal: the Lambda functions behind the Studio custom resources and the Canvas idle shutdown.

Built with the library's function factory (``core.functions.tiers_function``: Powertools layer, X-Ray, the
service name of the construct that owns the function), like the registry's approval functions: an explicit role, a KMS-encrypted log group of their own, X-Ray,
asynchronous failures to an encrypted SQS queue (with exactly the KMS actions SQS needs), and an error alarm
wired to a topic. CloudFormation invokes custom-resource functions asynchronously, so the same retries and
on-failure queue apply to them.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.functions import tiers_function
from sagemaker_tiers.core.delivery import ExactSqsDestination, alarm_on_any, last_stop_queue
from sagemaker_tiers.core.nag import acknowledge, acknowledge_outside_vpc, skip_checkov

HANDLERS = Path(__file__).parent / "studio_handlers"
#: CloudWatch namespace of the Studio tier's functions (Canvas idle shutdowns, apps without the idle metric).
METRICS_NAMESPACE = "sagemaker-tiers/Studio"


def failure_queue(scope: Construct, id: str, key: kms.IKey, topic: sns.ITopic | None) -> sqs.Queue:
    """An encrypted queue for invocations that failed every retry, alarmed on depth (to ``topic`` when given)."""
    queue = last_stop_queue(scope, id, encryption_key=key, holds="Studio automation invocations that failed every retry")
    alarm_on_any(
        scope,
        f"{id}Depth",
        queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
        description="Studio automation invocations failed every retry (see the failed-invocations queue)",
        action=cw_actions.SnsAction(topic) if topic is not None else None,
    )
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
    service: str | None = None,
) -> lambda_.Function:
    """One handler of ``studio_handlers/`` as a Lambda function, with its role, log group and error alarm.

    :param service: Powertools service name. Default: the construct path of ``scope`` (the construct that owns
        the function).
    """
    log_group = logs.LogGroup(
        scope, f"{id}Logs", encryption_key=key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
    )
    role = iam.Role(scope, f"{id}Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=description)
    fn = tiers_function(
        scope,
        id,
        code_dir=HANDLERS,
        handler=handler,
        description=description,
        role=role,
        log_group=log_group,
        timeout=timeout,
        metrics_namespace=METRICS_NAMESPACE,
        service=service,
        environment=environment,
        environment_encryption=key,
        reserved_concurrent_executions=reserved_concurrent_executions,
        retry_attempts=2,
        max_event_age=Duration.hours(6),
        on_failure=ExactSqsDestination(queue, key),
    )
    log_group.grant_write(role)
    dlq_reason = (
        "Failed asynchronous invocations go to an SQS on-failure destination (with the request and the error), "
        "which supersedes DeadLetterConfig."
    )
    acknowledge(fn, "Serverless-LambdaDLQ", dlq_reason)
    skip_checkov(fn, "CKV_AWS_116", dlq_reason)
    acknowledge_outside_vpc(
        fn,
        "The function only calls the SageMaker and CloudWatch APIs over TLS with IAM; it reaches no VPC resource, "
        "and running it in the VPC would add ENIs and depend on the NAT gateway for nothing.",
    )
    if reserved_concurrent_executions is None:
        skip_checkov(
            fn,
            "CKV_AWS_115",
            "Invoked by CloudFormation for this stack's custom resources (a handful of requests per deployment) or "
            "by a schedule; reserving concurrency would take it from the account's pool, which new accounts lack.",
        )
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permission, so CDK's tracing "
        "grant uses Resource '*'.",
        applies_to="Resource::*",
    )
    alarm_on_any(
        scope,
        f"{id}Errors",
        fn.metric_errors(period=Duration.minutes(5), statistic="Sum"),
        description=f"{description}: the function raised errors",
        action=cw_actions.SnsAction(topic) if topic is not None else None,
    )
    return fn
