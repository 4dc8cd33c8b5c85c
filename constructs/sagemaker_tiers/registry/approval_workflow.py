"""The model approval workflow: registry -> EventBridge -> email -> signed approval page -> Parameter Store.

One workflow serves any number of model package groups: :meth:`ApprovalWorkflow.watch` adds a group to the
event patterns and the handlers' permissions; it creates no resource. The flow:

1. A package enters ``PendingManualApproval`` in a watched group. An EventBridge rule invokes the *notify*
   function, which emails the administrators (SNS) a link to a review page carrying a signed token (HMAC with a
   Secrets Manager secret) bound to that package, expiring after ``token_ttl``.
2. Opening the link (GET ``/review``) only shows the model and Approve / Reject buttons: mail scanners that
   prefetch it change nothing. The decision is a POST ``/decision`` with the token, accepted once (DynamoDB
   conditional writes: one per link, one per package across both channels). Programs decide with a
   SigV4-signed POST ``/decisions`` (IAM authorization).
3. Any state change of a watched package (our API, Studio, the CLI; any approval status, back to pending
   included) invokes the *promote* function through a second rule;
   it reconciles ``<parameter_prefix>/<group>/approved-model`` to the newest approved version (``NONE`` when none
   is), so duplicate and out-of-order events change nothing. The parameter's history is the audit trail.

A lost event heals: SageMaker delivers its events to EventBridge on a best-effort basis
(https://docs.aws.amazon.com/eventbridge/latest/ref/event-delivery-level.html), so a scheduled rule runs the promote
reconcile for every watched group every ``reconcile_interval`` (hourly by default).

Nothing is lost: every rule target retries for 24 hours and then goes to an encrypted dead-letter queue; async
invocations that still fail go to an on-failure queue; alarms on both queues, on function errors and on API 5xx
notify the administrators' topic.

Observable: the functions log through Powertools for AWS Lambda (JSON lines with the event's correlation id, never a
token, link, secret or body) and emit business metrics in CloudWatch's embedded metric format, read with
:meth:`ApprovalWorkflow.metric_decisions`, :meth:`~ApprovalWorkflow.metric_time_to_decision`,
:meth:`~ApprovalWorkflow.metric_promotions` and :meth:`~ApprovalWorkflow.metric_pending_approvals`.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable, Sequence
from pathlib import Path

from aws_cdk import Duration, IStableListProducer, IStableStringProducer, Lazy, Names, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
import jsii
from constructs import Construct, IValidation

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.delivery import ExactSqsDestination, alarm_on_any, encrypted_topic, grant_key_via, last_stop_queue
from sagemaker_tiers.core.flags import IAM_MINIMIZE_POLICIES, warn_unless_flag
from sagemaker_tiers.core.functions import tiers_function
from sagemaker_tiers.core.nag import acknowledge, acknowledge_grant, acknowledge_outside_vpc, skip_checkov
from sagemaker_tiers.core.validation import (
    ValidationError,
    claim_unique,
    require_customer_managed_key,
    require_duration,
    require_int_in_range,
    require_match,
    require_unique,
)
from sagemaker_tiers.operations.widgets import graph, queue_depth_widget
from sagemaker_tiers.registry.model_package_group import METRICS_NAMESPACE, IModelPackageGroup

HANDLERS = Path(__file__).parent / "approval_handlers"
STATE_CHANGE = "SageMaker Model Package State Change"
#: Default interval of the scheduled reconciles (the registry's promote and the inference tier's deployment).
RECONCILE_INTERVAL = Duration.hours(1)
#: The decisions :meth:`ApprovalWorkflow.metric_decisions` counts, as SageMaker names the approval statuses.
DECISION_OUTCOMES = ("Approved", "Rejected")


def require_reconcile_interval(name: str, interval: Duration) -> None:
    """A reconcile interval is a whole number of minutes (EventBridge rates), 1 minute to 1 day."""
    require_duration(name, interval, minimum=Duration.minutes(1), maximum=Duration.days(1))
    if int(interval.to_seconds()) % 60:
        raise ValidationError(f"{name} must be a whole number of minutes (an EventBridge rate), got {interval.to_seconds()} s")
_EMAIL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"


class ApprovalWorkflow(Construct):
    """Email, signed-link approval and promotion to Parameter Store for any number of model package groups.

    Example::

        workflow = ApprovalWorkflow(self, "Approval", encryption_key=key, admin_emails=["ml-admin@example.com"])
        workflow.watch(churn_group)
        workflow.watch(fraud_group)
        workflow.approved_model_parameter_name(churn_group)  # "/sagemaker-tiers/registry/<group>/approved-model"

    :param encryption_key: KMS key for the topic, queues, table, secret and log groups.
    :param admin_emails: Administrators emailed for each pending package (each confirms the SNS subscription).
        Default: none; then give ``topic``, or synth fails.
    :param topic: Existing topic for approval requests and alarms. Default: a new KMS-encrypted, SSL-only topic.
    :param groups: Groups to watch from the start (more with :meth:`watch`). Default: none.
    :param parameter_prefix: SSM parameter path prefix. Default: "/sagemaker-tiers/registry".
    :param token_ttl: How long an emailed link can decide, 15 minutes to 14 days. Default: 72 hours.
    :param throttling_rate_limit: API steady-state requests per second, 1-1000. Default: 5.
    :param throttling_burst_limit: API burst, 1-2000, at least the rate. Default: 10.
    :param web_acl_arn: A WAFv2 web ACL to associate with the API stage. Default: none (throttling and tokens
        only; a web ACL costs at least 5 USD a month).
    :param reconcile_interval: How often the promote function reconciles every watched group, whatever events
        arrived (SageMaker's events are best-effort), 1 minute to 1 day. Default: 1 hour.
    :param log_retention: Retention of the functions' and the API's logs. Default: one year.
    :param metrics_bucket: Bucket holding the metrics reports registered with model packages (``ModelMetrics``
        S3 locations); the review page reads their values from it (read-only, at most 64 KiB per report).
        Default: none; the page then lists the report locations without values.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        encryption_key: kms.IKey,
        admin_emails: Sequence[str] = (),
        topic: sns.ITopic | None = None,
        groups: Sequence[IModelPackageGroup] = (),
        parameter_prefix: str = "/sagemaker-tiers/registry",
        token_ttl: Duration | None = None,
        throttling_rate_limit: int = 5,
        throttling_burst_limit: int = 10,
        web_acl_arn: str | None = None,
        reconcile_interval: Duration | None = None,
        log_retention: logs.RetentionDays = defaults.LOG_RETENTION,
        metrics_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, id)
        warn_unless_flag(
            self,
            IAM_MINIMIZE_POLICIES,
            "every watched group lengthens the functions' policies unmerged, and IAM's policy limits come after "
            "about 50 groups instead of 68",
        )
        token_ttl = token_ttl or Duration.hours(72)
        require_customer_managed_key("encryption_key", encryption_key)
        if isinstance(admin_emails, str):
            raise ValidationError(f"admin_emails must be a list of email addresses, got the string {admin_emails!r}")
        for email in admin_emails:
            require_match("admin_emails", email, _EMAIL, "a list of email addresses such as 'ml-admin@example.com'")
        require_unique("admin_emails", list(admin_emails))
        require_match(
            "parameter_prefix",
            parameter_prefix,
            r"(/[A-Za-z0-9_.-]+){1,10}",
            "an SSM path such as '/sagemaker-tiers/registry' (leading '/', no trailing '/', letters, digits, _ . -)",
        )
        if parameter_prefix.lower().startswith(("/aws", "/ssm")):
            raise ValidationError(f"parameter_prefix must not start with '/aws' or '/ssm' (reserved), got {parameter_prefix!r}")
        require_duration("token_ttl", token_ttl, minimum=Duration.minutes(15), maximum=Duration.days(14))
        reconcile_interval = reconcile_interval or RECONCILE_INTERVAL
        require_reconcile_interval("reconcile_interval", reconcile_interval)
        require_int_in_range("throttling_rate_limit", throttling_rate_limit, minimum=1, maximum=1000)
        require_int_in_range("throttling_burst_limit", throttling_burst_limit, minimum=max(1, throttling_rate_limit), maximum=2000)
        if web_acl_arn is not None:
            require_match("web_acl_arn", web_acl_arn, r"arn:aws[a-z-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/.+", "a regional WAFv2 web ACL ARN")

        self.encryption_key = encryption_key
        self.parameter_prefix = parameter_prefix
        #: Powertools service name of the workflow's functions: the ``service`` key of their log lines and the
        #: ``service`` dimension of their metrics (the construct path, unique in the app).
        self.service_name = self.node.path
        self.reconcile_interval = reconcile_interval
        self._groups: list[IModelPackageGroup] = []
        self._log_retention = log_retention
        if topic is None and not admin_emails:
            self.node.add_validation(_NoRecipients())
        self.node.add_validation(_WatchesSomething(self))

        self.topic = topic or encrypted_topic(
            self, "AdminTopic", display_name="SageMaker model approvals", encryption_key=encryption_key
        )
        self.dead_letter_queue = self._queue("EventDeadLetterQueue", "model package events that failed every delivery attempt")
        self.failed_invocations_queue = self._queue("FailedInvocationsQueue", "approval handler invocations that failed every retry")
        for email in admin_emails:
            # Undeliverable notifications land in the dead-letter queue too (and raise its alarm).
            self.topic.add_subscription(subscriptions.EmailSubscription(email, dead_letter_queue=self.dead_letter_queue))

        self.signing_secret = secretsmanager.Secret(
            self,
            "SigningSecret",
            description="HMAC key that signs model approval links",
            encryption_key=encryption_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.signing_secret,
            "AwsSolutions-SMG4",
            "The secret only signs approval links that expire within token_ttl; rotating it would void links in "
            "flight. Rotate by hand (put a new random value) when a link may have leaked.",
        )
        self.decisions_table = dynamodb.Table(
            self,
            "DecisionsTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute="expires_at",
            removal_policy=defaults.DATA_REMOVAL_POLICY,
        )

        watched = Lazy.string(_LazyString(lambda: ",".join(g.model_package_group_name for g in self._groups)))
        # The handlers refuse a package ARN of another partition, region or account before calling SageMaker.
        stack = Stack.of(self)
        own_packages = f"arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:model-package/"
        functions = Construct(self, "Functions")
        self.notify_function = self._function(
            functions,
            "Notify",
            "approval_notify.handler",
            "Emails the administrators a signed review link for a model package pending approval",
            {
                "TOPIC_ARN": self.topic.topic_arn,
                "SECRET_ARN": self.signing_secret.secret_arn,
                "TABLE_NAME": self.decisions_table.table_name,
                "TOKEN_TTL_SECONDS": str(int(token_ttl.to_seconds())),
                "MODEL_PACKAGE_ARN_PREFIX": own_packages,
            },
        )
        self.api_function = self._function(
            functions,
            "ApprovalApi",
            "approval_api.handler",
            "Review page and single-use signed decisions for model packages",
            {
                "SECRET_ARN": self.signing_secret.secret_arn,
                "TABLE_NAME": self.decisions_table.table_name,
                "WATCHED_GROUPS": watched,
                "MODEL_PACKAGE_ARN_PREFIX": own_packages,
            },
        )
        self.promote_function = self._function(
            functions,
            "Promote",
            "approval_promote.handler",
            "Points the approved-model SSM parameter of a group at its newest approved version",
            # One reconcile per group at a time (two could write an older view last): a lease in the table, not
            # reserved concurrency, which Lambda refuses where it would leave fewer than 100 unreserved executions
            # (new accounts often have 10): https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
            {"PARAMETER_PREFIX": parameter_prefix, "WATCHED_GROUPS": watched, "TABLE_NAME": self.decisions_table.table_name},
        )

        self.notify_function.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn])
        )
        self._grant_key_via(self.notify_function, "sns", "kms:Decrypt", "kms:GenerateDataKey")
        for fn in (self.notify_function, self.api_function):
            self._grant_secret_read(fn)
        for fn, actions in (
            (self.notify_function, ["dynamodb:GetItem", "dynamodb:UpdateItem"]),
            (self.api_function, ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]),
            (self.promote_function, ["dynamodb:PutItem", "dynamodb:DeleteItem"]),  # the per-group lock
        ):
            fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[self.decisions_table.table_arn]))
            self._grant_key_via(fn, "dynamodb", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
        self._grant_parameters(self.promote_function)
        self.promote_function.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:ListModelPackages"], resources=["*"])
        )
        acknowledge(
            self.promote_function.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "sagemaker:ListModelPackages supports no resource-level permission (IAM requires Resource '*'); it is "
            "read-only and the function filters by watched group.",
            applies_to="Resource::*",
        )

        self.api = self._rest_api(throttling_rate_limit, throttling_burst_limit, web_acl_arn)
        self.notify_function.add_environment("APPROVAL_URL", self.api.url)
        # The API sends renewed links itself; its own URL is built from the API's id, not api.url, which refers
        # to the stage and so (through the methods' integrations) back to the function: a cycle.
        self.api_function.add_environment(
            "APPROVAL_URL", f"https://{self.api.rest_api_id}.execute-api.{stack.region}.{stack.url_suffix}/prod/"
        )
        self._grant_renew_and_facts(metrics_bucket, token_ttl)

        rules = Construct(self, "Rules")
        group_names = Lazy.list(_LazyList(lambda: [g.model_package_group_name for g in self._groups]))
        self.pending_rule = self._rule(rules, "PendingApproval", group_names, ["PendingManualApproval"], self.notify_function)
        # Every state change of a watched group's package reconciles the parameter, whatever the status it
        # reports: a version taken back from Approved to PendingManualApproval must stop being the approved model,
        # and SageMaker sends a state change event on every status change, possibly several, in any order
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html).
        self.decision_rule = self._rule(rules, "ApprovalDecided", group_names, None, self.promote_function)
        self.reconcile_rule = events.Rule(
            rules,
            "Reconcile",
            description="Reconcile the approved-model parameter of every watched group (SageMaker's events are best-effort)",
            schedule=events.Schedule.rate(reconcile_interval),
            targets=[
                targets.LambdaFunction(
                    self.promote_function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=2,
                    max_event_age=reconcile_interval,
                )
            ],
        )

        self._alarms()
        for group in groups:
            self.watch(group)

    # -- public API -----------------------------------------------------------------------------------------

    @property
    def groups(self) -> list[IModelPackageGroup]:
        """The watched groups."""
        return list(self._groups)

    def watch(self, group: IModelPackageGroup) -> None:
        """Serve ``group``: its pending packages are emailed and its approvals promoted. Adds no resource."""
        if not isinstance(group, IModelPackageGroup):
            raise ValidationError(f"group must be an IModelPackageGroup, got {group!r}")
        if any(g.model_package_group_name == group.model_package_group_name for g in self._groups):
            raise ValidationError(f"group {group.model_package_group_name!r} is already watched")
        claim_unique(
            self,
            "watched-group",
            group.model_package_group_name,
            f"group {group.model_package_group_name!r} is already watched by the ApprovalWorkflow at {{other}}; "
            "watch a group with one workflow per account and region (two would both email and both promote)",
        )
        self._groups.append(group)
        group.grant_read(self.notify_function)
        group.grant_read(self.api_function)
        group.grant_approve(self.api_function)
        group.grant_read(self.promote_function)

    def approved_model_parameter_name(self, group: IModelPackageGroup) -> str:
        """Name of the SSM parameter holding the ARN of ``group``'s newest approved version (``NONE`` if none)."""
        return f"{self.parameter_prefix}/{group.model_package_group_name}/approved-model"

    def grant_decide(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` approve or reject through the IAM-authorized ``POST /decisions`` API."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["execute-api:Invoke"],
            resource_arns=[self.api.arn_for_execute_api("POST", "/decisions", self.api.deployment_stage.stage_name)],
        )

    def grant_read_approved_models(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read the approved-model parameters (for example an inference pipeline).

        The parameters of every watched group share the workflow's prefix (``<parameter_prefix>/*``); that
        wildcard's AwsSolutions-IAM5 finding is acknowledged on the grantee for that one resource.
        """
        pattern = self._parameter_arn_pattern()
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParameterHistory"],
            resource_arns=[pattern],
        )
        acknowledge_grant(
            grantee,
            pattern,
            f"Reads the approved-model parameters of the groups workflow {self.node.path} watches, one per group "
            f"under {self.parameter_prefix}/; groups are added after the grant, so IAM names them by the prefix.",
        )
        return grant

    def metric_dead_letters(self, **props: Any) -> cw.Metric:
        """Events that exhausted their retries (visible messages in the dead-letter queue)."""
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible(**{"period": Duration.minutes(5), "statistic": "Maximum", **props})

    def metric_failed_invocations(self, **props: Any) -> cw.Metric:
        """Async invocations that failed every retry (visible messages in the on-failure queue)."""
        return self.failed_invocations_queue.metric_approximate_number_of_messages_visible(**{"period": Duration.minutes(5), "statistic": "Maximum", **props})

    def metric_api_server_errors(self, **props: Any) -> cw.Metric:
        """5xx responses of the approval API."""
        return self.api.metric_server_error(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_api_client_errors(self, **props: Any) -> cw.Metric:
        """4xx responses of the approval API: expired or used links, refused decisions, unauthorized calls (Sum)."""
        return self.api.metric_client_error(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_api_requests(self, **props: Any) -> cw.Metric:
        """Requests to the approval API (``Count``, whose SampleCount statistic is the number of requests:
        https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html)."""
        return self.api.metric_count(**{"period": Duration.minutes(5), "statistic": "SampleCount", **props})

    def metric_api_latency(self, **props: Any) -> cw.Metric:
        """Time from request to response of the approval API, in milliseconds (p90 over 5 minutes)."""
        return self.api.metric_latency(**{"period": Duration.minutes(5), "statistic": "p90", **props})

    def widgets(self) -> list[cw.IWidget]:
        """Dashboard widgets: versions pending approval now, decisions by outcome and promotions (hourly), time from
        registration to decision (hours); the approval API's requests, 4xx and 5xx, its latency; and the depth of
        the dead-letter and failed-invocations queues (each message an event or invocation that gave up)."""
        time_to_decision = self.metric_time_to_decision()
        hours = {
            label: cw.MathExpression(
                expression=f"{id} / 3600", using_metrics={id: time_to_decision.with_(statistic=statistic)}, label=label,
                period=time_to_decision.period,
            )
            for label, id, statistic in (("Average", "average", "Average"), ("Longest", "longest", "Maximum"))
        }
        return [
            graph("Approvals: versions pending now", {"Pending manual approval": self.metric_pending_approvals()}, width=8, unit="model packages"),
            graph(
                "Approvals: decisions and promotions",
                {
                    "Approved": self.metric_decisions("Approved"),
                    "Rejected": self.metric_decisions("Rejected"),
                    "Promoted": self.metric_promotions(),
                },
                width=8,
                unit="per hour",
            ),
            graph("Approvals: registration to decision", hours, width=8, unit="hours"),
            graph(
                "Approval API: requests and errors",
                {"Requests": self.metric_api_requests(), "4xx": self.metric_api_client_errors(), "5xx": self.metric_api_server_errors()},
                width=8,
                unit="requests",
            ),
            graph("Approval API: latency", {"p90": self.metric_api_latency()}, width=8, unit="milliseconds"),
            queue_depth_widget(
                "Approvals: dead letters and failed invocations",
                {"Undelivered events": self.metric_dead_letters(), "Failed invocations": self.metric_failed_invocations()},
                width=8,
            ),
        ]

    # Business metrics: the approval functions emit them in CloudWatch's embedded metric format (Powertools
    # Metrics) under METRICS_NAMESPACE, with the dimension ``service`` = :attr:`service_name` (plus ``Outcome`` for
    # decisions). They exist in CloudWatch once the first datapoint has been emitted.

    def metric_decisions(self, outcome: str, **props: Any) -> cw.Metric:
        """Decisions applied through the approval API (emailed link or ``POST /decisions``) with ``outcome``
        ("Approved" or "Rejected"); one datapoint of 1 per decision. Decisions made outside the API (Studio, the
        SageMaker API) are not counted here; the promote function still reconciles them.

        Default: Sum over 1 hour.
        """
        if outcome not in DECISION_OUTCOMES:
            raise ValidationError(f"outcome must be one of {', '.join(DECISION_OUTCOMES)}, got {outcome!r}")
        return self._metric("Decisions", {"Outcome": outcome}, "Sum", Duration.hours(1), props)

    def metric_time_to_decision(self, **props: Any) -> cw.Metric:
        """Seconds from a model package's registration (its CreationTime) to the decision applied through the
        approval API; one datapoint per decision, either outcome.

        Default: Average over 1 hour (use ``statistic="Maximum"`` for the slowest decision).
        """
        return self._metric("TimeToDecision", {}, "Average", Duration.hours(1), props)

    def metric_promotions(self, **props: Any) -> cw.Metric:
        """Promotions: the promote function pointed a group's approved-model parameter at a newly approved
        version (one datapoint of 1 each; a parameter set back to ``NONE`` is not a promotion).

        Default: Sum over 1 hour.
        """
        return self._metric("Promotions", {}, "Sum", Duration.hours(1), props)

    def metric_pending_approvals(self, **props: Any) -> cw.Metric:
        """Model packages of the watched groups waiting for a decision (PendingManualApproval), all groups together.

        A gauge: the promote function counts them (ListModelPackages) each time it runs, that is on every state
        change of a watched group's package (a new pending version, each decision) and on every scheduled
        reconcile, so each ``reconcile_interval`` holds at least one datapoint. Read it with ``Maximum``.

        Default: Maximum over ``reconcile_interval`` (1 hour by default).
        """
        return self._metric("PendingApprovals", {}, "Maximum", self.reconcile_interval, props)

    def _metric(self, name: str, dimensions: dict[str, str], statistic: str, period: Duration, props: dict[str, Any]) -> cw.Metric:
        return cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": self.service_name, **dimensions},
            **{"period": period, "statistic": statistic, **props},
        )

    # -- building blocks ------------------------------------------------------------------------------------

    def _queue(self, id: str, holds: str) -> sqs.Queue:
        return last_stop_queue(self, id, encryption_key=self.encryption_key, holds=holds)

    def _function(
        self,
        scope: Construct,
        id: str,
        handler: str,
        description: str,
        environment: dict[str, str],
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            scope,
            f"{id}Logs",
            encryption_key=self.encryption_key,
            retention=self._log_retention,
            removal_policy=RemovalPolicy.RETAIN,
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
            # Under API Gateway's 29-second integration timeout, so a slow call never outlives its request.
            timeout=Duration.seconds(25),
            metrics_namespace=METRICS_NAMESPACE,
            service=self.service_name,
            environment=environment,
            environment_encryption=self.encryption_key,
            retry_attempts=2,
            max_event_age=Duration.hours(6),
            on_failure=ExactSqsDestination(self.failed_invocations_queue, self.encryption_key),
        )
        # Write permission to its own log group only (instead of AWSLambdaBasicExecutionRole on every group).
        log_group.grant_write(role)
        dlq_reason = (
            "Failed async invocations go to an SQS on-failure destination (with the request and error), which "
            "supersedes DeadLetterConfig; the API function is invoked synchronously."
        )
        acknowledge(fn, "Serverless-LambdaDLQ", dlq_reason)
        skip_checkov(fn, "CKV_AWS_116", dlq_reason)
        acknowledge_outside_vpc(
            fn,
            "The function calls only AWS APIs (SageMaker, SNS, SSM, DynamoDB, Secrets Manager) over TLS with IAM; "
            "it reaches no VPC resource, and a VPC would need NAT or six interface endpoints.",
        )
        skip_checkov(
            fn,
            "CKV_AWS_115",
            "Bounded upstream (API stage throttling, EventBridge retries); reserving concurrency would take it "
            "from the account's pool, which new accounts do not have.",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permission, so CDK's "
            "tracing grant uses Resource '*'.",
            applies_to="Resource::*",
        )
        return fn

    def _grant_secret_read(self, fn: lambda_.Function) -> None:
        # Secret.grant_read would add the role to the key policy (a ViaService principal), which ties the key's
        # stack to this one; an IAM statement on the role does the same with the key's default policy.
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[self.signing_secret.secret_arn],
            )
        )
        self._grant_key_via(fn, "secretsmanager", "kms:Decrypt")

    def _grant_key_via(self, fn: lambda_.Function, service: str, *actions: str) -> None:
        grant_key_via(fn, self.encryption_key, service, *actions)

    def _parameter_arn_pattern(self) -> str:
        stack = Stack.of(self)
        return f"arn:{stack.partition}:ssm:{stack.region}:{stack.account}:parameter{self.parameter_prefix}/*"

    def _grant_parameters(self, fn: lambda_.Function) -> None:
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[self._parameter_arn_pattern()]
            )
        )
        acknowledge(
            fn.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The promote function writes one approved-model parameter per watched group under the workflow's own "
            "parameter prefix; the group names are only known as groups are added.",
            applies_to=f"Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter{self.parameter_prefix}/*",
        )

    def _grant_renew_and_facts(self, metrics_bucket: s3.IBucket | None, token_ttl: Duration) -> None:
        """What the review page reads (the group's parameters, metrics reports) and what renewing a link sends."""
        fn = self.api_function
        for name, value in {
            "TOPIC_ARN": self.topic.topic_arn,
            "TOKEN_TTL_SECONDS": str(int(token_ttl.to_seconds())),
            "PARAMETER_PREFIX": self.parameter_prefix,
        }.items():
            fn.add_environment(name, value)
        fn.add_to_role_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]))
        self._grant_key_via(fn, "sns", "kms:Decrypt", "kms:GenerateDataKey")
        fn.add_to_role_policy(iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self._parameter_arn_pattern()]))
        acknowledge(
            fn.role,  # type: ignore[arg-type]
            "AwsSolutions-IAM5",
            "The review page reads the approved-model and deployed-model parameters of the package's group, under "
            "the workflow's own parameter prefix; the group names are only known as groups are added.",
            applies_to=f"Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter{self.parameter_prefix}/*",
        )
        if metrics_bucket is None:
            return
        fn.add_environment("METRICS_BUCKET", metrics_bucket.bucket_name)
        fn.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[metrics_bucket.arn_for_objects("*")]))
        if metrics_bucket.encryption_key is not None:
            grant_key_via(fn, metrics_bucket.encryption_key, "s3", "kms:Decrypt")
        acknowledge_grant(
            fn,
            metrics_bucket.arn_for_objects("*"),
            "The review page reads the metrics reports a model package names (ModelMetrics S3 locations), which the "
            "training and Autopilot tiers write under run-specific keys: read-only, 64 KiB per report, only numbers "
            "are shown.",
        )

    def _rule(
        self,
        scope: Construct,
        id: str,
        group_names: list[str],
        statuses: list[str] | None,
        fn: lambda_.IFunction,
    ) -> events.Rule:
        detail: dict[str, Any] = {"ModelPackageGroupName": group_names}
        if statuses:
            detail["ModelApprovalStatus"] = statuses
        return events.Rule(
            scope,
            id,
            description=(
                f"Model packages of the watched groups entering {' or '.join(statuses)}"
                if statuses
                else "Every state change (approval status included) of a watched group's model packages"
            ),
            event_pattern=events.EventPattern(source=["aws.sagemaker"], detail_type=[STATE_CHANGE], detail=detail),
            targets=[
                targets.LambdaFunction(
                    fn,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            ],
        )

    def _rest_api(self, rate: int, burst: int, web_acl_arn: str | None) -> apigw.RestApi:
        access_logs = logs.LogGroup(
            self, "ApiAccessLogs", encryption_key=self.encryption_key, retention=self._log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        api = apigw.RestApi(
            self,
            "Api",
            # API Gateway's metrics are keyed by ApiName only; CDK's default name is the construct id ("Api"), which
            # every other API so named in the region would share. A name per construct path keeps the metrics this API's.
            rest_api_name=Names.unique_resource_name(self, max_length=128, separator="-") + "-api",
            description="Model package approval: review page and signed single-use decisions",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # never log request bodies: they carry tokens
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=rate,
                throttling_burst_limit=burst,
            ),
            disable_execute_api_endpoint=False,
        )
        acknowledge(
            api,
            "AwsSolutions-IAM4",
            "API Gateway's account-level CloudWatch role needs AmazonAPIGatewayPushToCloudWatchLogs to write "
            "execution and access logs; AWS maintains that policy and it grants only CloudWatch Logs writes.",
            applies_to="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        )
        if web_acl_arn is None:
            acknowledge(
                api,
                "AwsSolutions-APIG3",
                "No WAF by default (it costs at least 5 USD a month): the stage is throttled, every decision needs a "
                "signed single-use token or SigV4. Pass web_acl_arn to attach one.",
            )
        else:
            from aws_cdk import aws_wafv2 as wafv2

            wafv2.CfnWebACLAssociation(self, "WebAcl", resource_arn=api.deployment_stage.stage_arn, web_acl_arn=web_acl_arn)

        integration = apigw.LambdaIntegration(self.api_function)
        token_validator = api.add_request_validator("TokenParameter", validate_request_parameters=True)
        body_validator = api.add_request_validator("JsonBody", validate_request_body=True, validate_request_parameters=True)
        decision_model = api.add_model(
            "Decision",
            content_type="application/json",
            schema=apigw.JsonSchema(
                schema=apigw.JsonSchemaVersion.DRAFT4,
                type=apigw.JsonSchemaType.OBJECT,
                required=["modelPackageArn", "decision"],
                additional_properties=False,
                properties={
                    "modelPackageArn": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, max_length=256),
                    "decision": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, enum=["approve", "reject"]),
                    "comment": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, max_length=1000),
                },
            ),
        )
        token_reason = (
            "{method} {path} is opened from an emailed link; its credential is the signed token bound to one model "
            "package, checked in the function (signature, expiry, single use). Programs use IAM-authorized /decisions."
        )
        review = api.root.add_resource("review")
        review_get = review.add_method(
            "GET",
            integration,
            authorization_type=apigw.AuthorizationType.NONE,
            request_parameters={"method.request.querystring.token": True},
            request_validator=token_validator,
        )
        decision = api.root.add_resource("decision")
        decision_post = decision.add_method(
            "POST",
            integration,
            authorization_type=apigw.AuthorizationType.NONE,
            request_parameters={"method.request.header.Content-Type": True},
            request_validator=token_validator,
        )
        renew_post = api.root.add_resource("renew").add_method(
            "POST",
            integration,
            authorization_type=apigw.AuthorizationType.NONE,
            request_parameters={"method.request.header.Content-Type": True},
            request_validator=token_validator,
        )
        for method, verb, path in (
            (review_get, "GET", "/review"),
            (decision_post, "POST", "/decision"),
            (renew_post, "POST", "/renew"),
        ):
            for rule in ("AwsSolutions-APIG4", "AwsSolutions-COG4"):
                acknowledge(method, rule, token_reason.format(method=verb, path=path))
            skip_checkov(method, "CKV_AWS_59", token_reason.format(method=verb, path=path))
        skip_checkov(
            api.deployment_stage,
            "CKV_AWS_120",
            "Every response is specific to one signed token or caller and marked Cache-Control: no-store; a cache "
            "would serve stale approval state and costs from about 14 USD a month.",
        )
        api.root.add_resource("decisions").add_method(
            "POST",
            integration,
            authorization_type=apigw.AuthorizationType.IAM,
            request_validator=body_validator,
            request_models={"application/json": decision_model},
        )
        acknowledge(
            api.root.node.find_child("decisions").node.find_child("POST"),
            "AwsSolutions-COG4",
            "POST /decisions is for programs and uses IAM (SigV4) authorization, which is stronger than a Cognito "
            "user pool for service callers; see grant_decide().",
        )
        return api

    def _alarms(self) -> None:
        alarms = Construct(self, "Alarms")
        action = cw_actions.SnsAction(self.topic)
        specs = [
            ("DeadLetters", self.metric_dead_letters(), "Model approval events failed every retry (see the DLQ)"),
            ("FailedInvocations", self.metric_failed_invocations(), "Model approval handler invocations failed every retry"),
            ("ApiServerErrors", self.metric_api_server_errors(), "The model approval API answered 5xx"),
        ]
        for fn_id, fn in (("Notify", self.notify_function), ("ApprovalApi", self.api_function), ("Promote", self.promote_function)):
            specs.append(
                (f"{fn_id}Errors", fn.metric_errors(period=Duration.minutes(5), statistic="Sum"), f"The {fn_id} function raised errors")
            )
        self.alarms: dict[str, cw.Alarm] = {
            id: alarm_on_any(alarms, id, metric, description=description, action=action) for id, metric, description in specs
        }


@jsii.implements(IStableStringProducer)
class _LazyString:
    """A string computed at synth, when every group has been watched."""

    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce

    def produce(self) -> str:
        return self._produce()


@jsii.implements(IStableListProducer)
class _LazyList:
    """A list computed at synth, when every group has been watched."""

    def __init__(self, produce: Callable[[], list[str]]) -> None:
        self._produce = produce

    def produce(self) -> list[str]:
        return self._produce()


@jsii.implements(IValidation)
class _WatchesSomething:
    """Synth-time check: the rules' group lists must not be empty (groups may be watched until synth).

    "The value of each field in an event pattern is an array containing one or more values"; EventBridge rejects an
    empty one, so a workflow watching nothing would synthesize and then fail at deploy:
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html
    """

    def __init__(self, workflow: ApprovalWorkflow) -> None:
        self._workflow = workflow

    def validate(self) -> list[str]:
        if self._workflow.groups:
            return []
        return [
            f"ApprovalWorkflow {self._workflow.node.path} watches no model package group (EventBridge rejects the "
            "empty group list of its rules at deploy): pass groups=[...] or call workflow.watch(group)"
        ]


@jsii.implements(IValidation)
class _NoRecipients:
    """Synth-time check: someone must receive approval requests."""

    def validate(self) -> list[str]:
        return ["admin_emails is empty and no topic was given: nobody would receive approval requests"]
