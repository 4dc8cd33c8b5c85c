"""Canvas idle shutdown: Canvas bills per session hour while its app runs, used or not."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.validation import require_customer_managed_key, require_duration
from sagemaker_tiers.studio import _functions
from sagemaker_tiers.studio.domain import StudioDomain, _nag_attr


class CanvasIdleShutdown(Construct):
    """Deletes the Canvas apps of a domain that have been idle longer than ``idle_limit``, every ``check_every``.

    A scheduled Lambda function (``studio_canvas_idle.py``) lists the domain's ``InService`` Canvas apps and reads,
    per user profile, the newest ``TimeSinceLastActive`` datapoint Canvas publishes to CloudWatch
    (``/aws/sagemaker/Canvas/AppActivity``, dimensions ``DomainId`` and ``UserProfileName``). An app idle for more
    than ``idle_limit`` is deleted with ``DeleteApp``; datasets and models stay in S3 and the user relaunches
    Canvas in about a minute. Without a datapoint the idle time is the time since the later of the app's creation
    and ``DescribeApp``'s ``LastUserActivityTimestamp`` (which SageMaker's health checks also refresh, so the
    fallback never deletes an app in use). An app can therefore run up to ``idle_limit + check_every`` idle.

    Example::

        CanvasIdleShutdown(self, "CanvasIdle", domain=domain, encryption_key=key, idle_limit=Duration.hours(2))

    :param domain: The Studio domain whose Canvas apps are watched.
    :param encryption_key: KMS key of the function's logs, environment and failure queue.
    :param idle_limit: Idle time after which an app is deleted, 15 minutes to 7 days. Default: 2 hours.
    :param check_every: Schedule of the check, 5 to 60 minutes. Default: 15 minutes.
    :param failure_queue: Queue for invocations that failed every retry. Default: the domain's, or a new one.
    :param alarm_topic: Topic the function's alarms notify. Default: none.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        domain: StudioDomain,
        encryption_key: kms.IKey,
        idle_limit: Duration | None = None,
        check_every: Duration | None = None,
        failure_queue: sqs.IQueue | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        idle_limit = idle_limit or Duration.hours(2)
        check_every = check_every or Duration.minutes(15)
        require_duration("idle_limit", idle_limit, minimum=Duration.minutes(15), maximum=Duration.days(7))
        require_duration("check_every", check_every, minimum=Duration.minutes(5), maximum=Duration.minutes(60))
        require_customer_managed_key("encryption_key", encryption_key)
        super().__init__(scope, id)
        self.idle_limit = idle_limit
        self.failure_queue = (
            failure_queue
            or domain.failed_invocations_queue
            or _functions.failure_queue(self, "FailedInvocations", encryption_key, alarm_topic)
        )
        self.function = _functions.handler_function(
            self,
            "Handler",
            handler="studio_canvas_idle.handler",
            description="Deletes Canvas apps idle longer than the limit (Canvas bills per session hour)",
            key=encryption_key,
            queue=self.failure_queue,
            topic=alarm_topic,
            timeout=Duration.minutes(5),
            environment={
                "DOMAIN_ID": domain.domain_id,
                "IDLE_LIMIT_SECONDS": str(int(idle_limit.to_seconds())),
                "METRIC_LOOKBACK_SECONDS": "3600",
            },
            # One check at a time: two overlapping checks would delete the same app twice.
            reserved_concurrent_executions=1,
        )
        stack = Stack.of(self)
        base = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}"
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["sagemaker:ListApps", "cloudwatch:GetMetricData"], resources=["*"]))
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeApp", "sagemaker:DeleteApp"],
                resources=[f"{base}:app/{domain.domain_id}/*/Canvas/*", f"{base}:app/{domain.domain_id}/*/canvas/*"],
            )
        )
        role = self.function.role
        acknowledge(
            role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "sagemaker:ListApps and cloudwatch:GetMetricData support no resource-level permission (IAM requires "
            "Resource '*'); both are read-only and the function filters by this domain.",
            applies_to="Resource::*",
        )
        nag_domain = _nag_attr(domain.node.default_child, "DomainId")  # type: ignore[arg-type]
        for spelling in ("Canvas", "canvas"):
            acknowledge(
                role,  # type: ignore[arg-type]
                "AwsSolutions-IAM5",
                "Canvas apps are named per user profile at launch; the ARN pins this domain and the Canvas app type, "
                "so only Canvas apps of this domain can be described or deleted.",
                applies_to=f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:app/{nag_domain}/*/{spelling}/*",
            )
        self.rule = events.Rule(
            self,
            "Schedule",
            description="Checks the Studio domain's Canvas apps for idleness",
            schedule=events.Schedule.rate(check_every),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.failure_queue,
                    retry_attempts=2,
                    max_event_age=Duration.hours(1),
                )
            ],
        )

    def metric_errors(self, **props) -> cw.Metric:
        """Failed idle checks (each leaves idle apps running until the next check)."""
        return self.function.metric_errors(**{"period": Duration.minutes(15), "statistic": "Sum", **props})
