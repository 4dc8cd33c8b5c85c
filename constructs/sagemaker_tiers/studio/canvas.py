"""Canvas idle shutdown: Canvas bills per session hour while its app runs, used or not."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.validation import require_customer_managed_key, require_duration
from sagemaker_tiers.operations.widgets import graph
from sagemaker_tiers.studio import _functions
from sagemaker_tiers.studio.domain import StudioDomain, _nag_attr


class CanvasIdleShutdown(Construct):
    """Deletes the Canvas apps of a domain that have been idle longer than ``idle_limit``, every ``check_every``.

    A scheduled Lambda function (``studio_canvas_idle.py``) lists the domain's ``InService`` Canvas apps and reads,
    per user profile, the newest ``TimeSinceLastActive`` datapoint Canvas publishes to CloudWatch
    (``/aws/sagemaker/Canvas/AppActivity``, dimensions ``DomainId`` and ``UserProfileName``). An app idle for more
    than ``idle_limit`` is deleted with ``DeleteApp``; datasets and models stay in S3 and the user relaunches
    Canvas in about a minute. An app can therefore run up to ``idle_limit + check_every`` idle.

    Without a datapoint the app's idleness is unknown (``DescribeApp``'s ``LastUserActivityTimestamp`` is refreshed
    by SageMaker's health checks too, so it cannot show idleness): such an app is deleted once it has run longer than
    ``unmeasured_limit``, each check publishes how many apps were unmeasured
    (``sagemaker-tiers/Studio`` ``CanvasAppsWithoutIdleMetric``), and :attr:`unmeasured_alarm` fires when any was.
    Each check also emits how many apps it deleted (:meth:`metric_idle_shutdowns`).

    Example::

        CanvasIdleShutdown(self, "CanvasIdle", domain=domain, encryption_key=key, idle_limit=Duration.hours(2))

    :param domain: The Studio domain whose Canvas apps are watched.
    :param encryption_key: KMS key of the function's logs, environment and failure queue.
    :param idle_limit: Idle time after which an app is deleted, 15 minutes to 7 days. Default: 2 hours.
    :param check_every: Schedule of the check, 5 to 60 minutes. Default: 15 minutes.
    :param unmeasured_limit: How long an app without Canvas's idle metric may run before it is deleted, from
        ``idle_limit`` to 7 days. Default: 8 hours (a working day).
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
        unmeasured_limit: Duration | None = None,
        failure_queue: sqs.IQueue | None = None,
        alarm_topic: sns.ITopic | None = None,
    ) -> None:
        idle_limit = idle_limit or Duration.hours(2)
        check_every = check_every or Duration.minutes(15)
        require_duration("idle_limit", idle_limit, minimum=Duration.minutes(15), maximum=Duration.days(7))
        require_duration("check_every", check_every, minimum=Duration.minutes(5), maximum=Duration.minutes(60))
        require_customer_managed_key("encryption_key", encryption_key)
        unmeasured_limit = unmeasured_limit or Duration.hours(max(8, int(idle_limit.to_hours(integral=False)) + 1))
        require_duration("unmeasured_limit", unmeasured_limit, minimum=idle_limit, maximum=Duration.days(7))
        super().__init__(scope, id)
        self._domain = domain
        self.idle_limit = idle_limit
        self.unmeasured_limit = unmeasured_limit
        #: Powertools service name of the function: the ``service`` key of its log lines and the ``service``
        #: dimension of its metrics (the construct path).
        self.service_name = self.node.path
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
                "UNMEASURED_LIMIT_SECONDS": str(int(unmeasured_limit.to_seconds())),
            },
            # No reserved concurrency (Lambda refuses one that leaves an account fewer than 100 unreserved executions;
            # new accounts often have 10): overlapping checks are harmless, the handler treats an app another check
            # already deleted as done. https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
            service=self.node.path,
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
        self.unmeasured_alarm = cw.Alarm(
            self,
            "UnmeasuredApps",
            alarm_description="Canvas apps ran without Canvas's TimeSinceLastActive metric: their idleness is unknown "
            "and they are deleted only after the unmeasured limit",
            metric=self.metric_unmeasured_apps(domain),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        if alarm_topic is not None:
            self.unmeasured_alarm.add_alarm_action(cw_actions.SnsAction(alarm_topic))
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

    # The function emits its metrics in CloudWatch's embedded metric format (Powertools Metrics, in its log
    # stream; no PutMetricData permission) under the Studio namespace, with the dimensions ``service`` (the
    # function's Powertools service name, :attr:`service_name`) and ``DomainId``.

    def metric_unmeasured_apps(self, domain: StudioDomain | None = None, **props: Any) -> cw.Metric:
        """Running Canvas apps without Canvas's idle metric at the last check (their idleness is unknown).

        Default: Maximum over 1 hour.
        """
        return self._metric("CanvasAppsWithoutIdleMetric", domain or self._domain, "Maximum", props)

    def metric_idle_shutdowns(self, **props: Any) -> cw.Metric:
        """Canvas apps this construct deleted (``DeleteApp``) for idleness or as unmeasured apps past
        ``unmeasured_limit``; each check emits its count (0 when it deleted none). An app another, overlapping
        check deleted first is not counted twice.

        Default: Sum over 1 hour.
        """
        return self._metric("IdleShutdowns", self._domain, "Sum", props)

    def _metric(self, name: str, domain: StudioDomain, statistic: str, props: dict[str, Any]) -> cw.Metric:
        return cw.Metric(
            namespace=_functions.METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": self.service_name, "DomainId": domain.domain_id},
            **{"period": Duration.minutes(60), "statistic": statistic, **props},
        )

    def metric_errors(self, **props: Any) -> cw.Metric:
        """Failed idle checks (each leaves idle apps running until the next check)."""
        return self.function.metric_errors(**{"period": Duration.minutes(15), "statistic": "Sum", **props})

    def metric_failed_invocations(self, **props: Any) -> cw.Metric:
        """Idle checks that failed every retry (visible messages in the failure queue, the domain's when shared)."""
        return self.failure_queue.metric_approximate_number_of_messages_visible(**{"period": Duration.minutes(5), "statistic": "Maximum", **props})

    def widgets(self) -> list[cw.IWidget]:
        """Dashboard widgets: apps shut down (hourly); failed idle checks, and running apps whose idleness Canvas
        did not report. The failure queue is shown here only when it is the construct's own (the domain's widgets
        show a shared one)."""
        checks: dict[str, cw.IMetric] = {"Failed checks": self.metric_errors(), "Apps without idle metric": self.metric_unmeasured_apps()}
        if self.failure_queue is not self._domain.failed_invocations_queue:
            checks["Failed invocations"] = self.metric_failed_invocations()
        return [
            graph("Canvas idle shutdown: apps shut down", {"Idle apps deleted": self.metric_idle_shutdowns()}, width=8, unit="apps per hour"),
            graph("Canvas idle shutdown: checks", checks, width=8, unit="count"),
        ]
