"""Keep a SageMaker endpoint on the approved version of a model package group, with blue/green and rollback.

See :class:`ApprovedModelEndpoint`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from aws_cdk import ArnFormat, Duration, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IConstruct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.delivery import alarm_on_any, grant_key_via, last_stop_queue
from sagemaker_tiers.core.instance_storage import has_local_storage
from sagemaker_tiers.core.names import unique_per_stack_instance, unique_per_stack_instance_nag_text
from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.polling import EVENTS_PER_POLL, MAX_HISTORY_EVENTS, bounded_poll, count_and_limit, sagemaker_call
from sagemaker_tiers.core.validation import (
    require_customer_managed_key,
    ValidationError,
    require_duration,
    require_int_in_range,
    require_match,
    require_one_of,
    require_s3_prefix,
)
from sagemaker_tiers.foundation.network import SageMakerNetwork
from sagemaker_tiers.inference.instance_types import REALTIME_INSTANCE_TYPES
from sagemaker_tiers.registry.approval_workflow import RECONCILE_INTERVAL, ApprovalWorkflow, require_reconcile_interval
from sagemaker_tiers.operations.widgets import graph, hourly, queue_depth_widget, runs_widgets
from sagemaker_tiers.registry.model_package_group import IModelPackageGroup

TrafficShift = Literal["all-at-once", "canary", "linear"]
TRAFFIC_SHIFTS: tuple[str, ...] = ("all-at-once", "canary", "linear")
SERVERLESS_MEMORY_SIZES: tuple[int, ...] = (1024, 2048, 3072, 4096, 5120, 6144)
#: The one production variant of every endpoint configuration (blue/green needs the same name on both sides).
VARIANT_NAME = "AllTraffic"
#: Value of the approved-model parameter when no version of the group is approved.
NONE = "NONE"
_ENDPOINT_NAME = r"[a-z0-9](-*[a-z0-9]){0,39}"
_PARAMETER_NAME = r"(/[A-Za-z0-9_.-]+){1,15}"
_RETRY: dict[str, Any] = {"errors": ["States.TaskFailed"], "interval": Duration.seconds(5), "max_attempts": 3, "backoff_rate": 2.0}
#: SageMaker answers DescribeEndpoint for a missing endpoint with an unmodelled ValidationException
#: ('Could not find endpoint "<arn>".'), which a Step Functions aws-sdk task reports as a task failure just as it
#: reports throttling; only the message tells them apart.
_ENDPOINT_MISSING = "*Could not find endpoint*"
#: Failed endpoint lookups (other than "missing") tolerated before an execution gives up.
_MAX_LOOKUP_ERRORS = 4
#: Step Functions' limit of events in one execution's history, and what the loops of this definition cost.
_MAX_HISTORY_EVENTS = MAX_HISTORY_EVENTS
_EVENTS_PER_LOCK_CHECK = 25
_EVENTS_PER_ENDPOINT_CHECK = EVENTS_PER_POLL
_EVENTS_OTHERWISE = 2_500
#: Lock checks the default lock_poll_interval allows within lock_timeout.
_DEFAULT_LOCK_CHECKS = 240


class ApprovedModelEndpoint(Construct):
    """A SageMaker endpoint that always serves the approved version of one model package group.

    Example::

        endpoint = ApprovedModelEndpoint(
            self, "ChurnEndpoint",
            workflow=registry.workflow, group=registry.groups["example-churn"],
            encryption_key=foundation.key, network=foundation.network, bucket=foundation.bucket,
        )
        endpoint.endpoint_name        # what clients pass to InvokeEndpoint
        endpoint.grant_invoke(app_role)

    **Trigger.** The registry's promote function writes ``<prefix>/<group>/approved-model`` (a model package ARN,
    or ``NONE``) whenever the group's approvals change, reconciled and deduplicated. Parameter Store emits a
    "Parameter Store Change" event (``aws.ssm``; operation Create or Update) for each write, and an EventBridge
    rule on exactly that parameter name starts the deployment state machine (24 h of retries, then an encrypted
    dead-letter queue). Listening to the parameter rather than to SageMaker's approval events means the registry
    decides which version is "the approved one" (newest approved, ``NONE`` after a revocation) in one place. The
    state machine never trusts the event: it reads the parameter itself, so any execution (also one started by
    hand with ``{}``) deploys what is approved *now*, and repeated or out-of-order events are harmless. Systems
    Manager sends its events to EventBridge on a best-effort basis
    (https://docs.aws.amazon.com/eventbridge/latest/ref/event-delivery-level.html), so a second rule starts the state
    machine with ``{}`` every ``reconcile_interval`` (hourly by default): a lost event, or an execution that failed on
    a passing error, heals within the interval; when nothing changed the run only checks what the endpoint serves.

    **Why Step Functions.** The endpoint's model and configuration change with every approval, at run time, from
    a model package ARN CloudFormation does not know; a CloudFormation ``AWS::SageMaker::Endpoint`` would need a
    stack update per approval. A state machine makes every step explicit, retried and visible.

    **What an execution does.** Acquire the endpoint's lock (below) -> read the approved-model parameter and the
    ``deployed-model`` parameter -> stop (success) when nothing is approved (``NONE``: the endpoint keeps serving
    what it serves, the administrators are told when the revocation's event started the run (scheduled runs stay
    quiet), nothing is torn down: deleting an endpoint clients call is not
    something a registry revocation should do silently) or when the approved version is already deployed ->
    DescribeModelPackage (it must be ``Approved``, versioned, belong to ``group`` and have an inference
    specification, else fail; a serverless endpoint also refuses an inference pipeline of several containers, which
    Serverless Inference does not host) -> CreateModel from the
    package -> CreateEndpointConfig -> DescribeEndpoint: CreateEndpoint if there is none, UpdateEndpoint with a
    blue/green deployment and automatic rollback on the endpoint's error-rate alarms if it is ``InService`` (a
    serverless construct refuses to update a real-time endpoint: SageMaker cannot make it serverless), delete it
    first if it is ``Failed`` (a failed endpoint serves nothing), wait if it is busy -> poll DescribeEndpoint
    (Wait + Choice, at most ``deployment_timeout / poll_interval`` times) until ``InService`` on the NEW
    configuration -> PutParameter ``deployed-model`` -> delete the group's older endpoint configurations and models,
    keeping the new and the previous one (for rollback) -> release the lock. Model and configuration names are
    ``<endpoint_name>-V<package version>-<8 random hex>``, unique per execution. The capital ``V`` makes them this
    endpoint's alone: endpoint names are lowercase, so another endpoint whose name starts with this one
    (``churn`` and ``churn-v2``) makes ``churn-v2-V3-...``, which never matches ``churn-V*``, and cleanup never
    touches it. When the approved version is the recorded one, the execution still checks what the endpoint
    serves (DescribeEndpoint -> DescribeEndpointConfig -> DescribeModel): if the endpoint is gone or ``Failed``, or
    serves another package (an execution switched it and ended before recording), the approved version is
    deployed again; ``OutOfService`` and ``UpdateRollbackFailed`` fail the execution. A missing endpoint is told
    from throttling by SageMaker's message ("Could not find endpoint"); other lookup errors are retried in the
    bounded loops. The lock and endpoint checks are bounded so that an execution fits Step Functions' 25,000
    history events (checked at synth).

    **On failure** (package not approved, an API error after retries, a deployment that SageMaker rolled back or
    that did not finish in time): the administrators' topic gets the error, the lock is released and the execution
    FAILS (the ExecutionsFailed alarm fires too). An update that fails leaves the endpoint on its previous
    configuration: SageMaker only switches traffic when the new fleet is healthy and rolls back when an alarm
    fires during the baking period. Objects of a failed attempt are removed by the next successful deployment.

    **Concurrency: serialized, newest wins.** A DynamoDB item per endpoint is the lock, taken with a conditional
    write (``attribute_not_exists(pk) OR holder = <me>``). An execution that finds it taken checks the holder with
    DescribeExecution: while the holder runs, it waits (``lock_poll_interval``, up to ``lock_timeout``); if the
    holder is no longer running (failed, timed out, aborted, expired) it takes the lock over with a write
    conditional on that stale holder, so a crashed execution never blocks deployments and two waiters never both
    win. Every execution reads the parameter only after it holds the lock, so waiting executions deploy the newest
    approval and the ones after it find it deployed and stop. No two executions ever act on one endpoint at once.

    **Serverless vs real-time.** By default the endpoint is serverless (``memory_size_in_mb``, ``max_concurrency``):
    nothing bills while idle. SageMaker Serverless Inference does not support VPC configuration, network
    isolation or data capture, and canary/linear traffic shifting sizes are instance counts; ``KmsKeyId``
    encrypts the storage volume of the ML compute instances, which a serverless endpoint does not have. So a
    serverless model is created without ``VpcConfig`` and ``EnableNetworkIsolation``, its configuration without
    ``KmsKeyId``, and updates shift all traffic at once after the baking period. Give ``instance_type`` for a real-time endpoint: the model then runs in
    ``network``'s private subnets and security group with network isolation, the volume is encrypted with
    ``encryption_key`` (unless the type has local NVMe storage, which CreateEndpointConfig rejects a key for), and
    data capture and canary/linear shifting are available. Asking for a serverless-incompatible feature without
    ``instance_type`` fails at synth.

    **What outlives the stack.** The endpoint, its models and configurations are made by the state machine, not
    by CloudFormation, so deleting the stack leaves them (a real-time endpoint keeps billing: delete it with
    ``aws sagemaker delete-endpoint --endpoint-name <endpoint_name>``). The endpoint's log group
    ``/aws/sagemaker/Endpoints/<endpoint_name>`` (KMS-encrypted, with retention) is retained like every log group
    of the library; re-creating the stack with the same ``endpoint_name`` needs it deleted first.

    :param group: The model package group to serve.
    :param encryption_key: KMS key of the lock table, queue, logs and (real-time) the endpoint volume and
        captured data.
    :param network: Subnets and security group of a real-time endpoint's model (unused for serverless).
    :param workflow: The approval workflow that promotes ``group`` (its parameter and topic are used). Default:
        none; then give ``approved_model_parameter_name`` and ``topic``.
    :param approved_model_parameter_name: SSM parameter holding the approved package ARN or ``NONE``. Default:
        ``workflow.approved_model_parameter_name(group)``.
    :param deployed_model_parameter_name: SSM parameter the state machine writes after a successful deployment.
        Default: the approved-model name with ``/deployed-model`` instead of ``/approved-model``.
    :param topic: Topic for failure notifications and alarms. Default: ``workflow.topic``.
    :param bucket: The ML bucket: model artifacts are read from ``model_data_prefixes`` of it and captured data
        written to ``data_capture_prefix``. Default: none (the model role then reads no bucket).
    :param model_data_prefixes: Key prefixes of ``bucket`` holding the artifacts of ``group``'s versions: where every
        tier that registers into ``group`` writes (``TrainingPipeline.output_prefix``, ``AutopilotJob.output_prefix``;
        a package's ``ModelDataUrl`` points there). Required with ``bucket``; no default, since a fixed prefix would
        leave the artifacts of other tiers unreadable and their endpoints Failed.
    :param image_repository_arns: ECR repositories the model images come from. Default: every repository of this
        account and region (model packages may come from any training tier).
    :param endpoint_name: Name of the endpoint, 1-40 lowercase letters, digits and '-' (models and configurations
        are named after it). Default: generated from the construct path.
    :param memory_size_in_mb: Serverless memory, 1024-6144 in steps of 1024. Default: 2048 (serverless only).
    :param max_concurrency: Serverless maximum concurrent invocations, 1-200. Default: 5 (serverless only).
    :param provisioned_concurrency: Serverless provisioned (always warm, always billed) concurrency, 1 to
        ``max_concurrency``. Default: none.
    :param instance_type: A real-time instance type (``ml.m5.large``). Default: none (serverless).
    :param instance_count: Real-time instances, 1-100. Default: 1 (only with ``instance_type``).
    :param traffic_shift: Blue/green traffic shifting of updates: ``"all-at-once"``, ``"canary"`` or ``"linear"``
        (the last two need ``instance_type`` and ``instance_count >= 2``). Default: ``"all-at-once"``.
    :param traffic_step_percent: Canary size (1-50) or linear step (10-50) in percent of capacity. Default: 50
        for canary, 50 for linear.
    :param bake_time: How long SageMaker watches the rollback alarms after each traffic shift, 0-60 minutes.
        Default: 5 minutes.
    :param rollback_alarms: More CloudWatch alarms that roll an update back (at most 8; the endpoint's own 5XX
        and model-error rate alarms always do). Default: none.
    :param error_rate_threshold_percent: The ``Invocation5XXErrorRate`` alarm fires when more than this share of
        requests is answered 5XX in each of ``alarm_periods`` one-minute periods, 0-100. Default: 5.
    :param model_error_rate_threshold_percent: The ``ModelErrorRate`` alarm fires when more than this share of
        requests fails in the model (``InvocationModelErrors`` minus the 4XX answers, which are the client's
        errors, not the model's) in each of ``alarm_periods`` one-minute periods, 0-100. Default: 5.
    :param alarm_periods: One-minute periods in a row both rate alarms need before they fire, 1-10 (so a single bad
        request during the baking period does not roll a good model back). Default: 3.
    :param data_capture_prefix: Capture requests and responses to this prefix of ``bucket`` (real-time only).
        Default: none (no capture).
    :param data_capture_sampling_percentage: Percentage of requests captured, 1-100. Default: 100.
    :param poll_interval: Wait between DescribeEndpoint calls, 1 second to 10 minutes. Default: 1 minute.
    :param deployment_timeout: How long a create or update may take before the execution fails, 10 minutes to
        8 hours (SageMaker's blue/green execution timeout bounds) and longer than the update's baking periods.
        Default: 90 minutes.
    :param lock_poll_interval: Wait between attempts to take the lock, 1 second to 10 minutes. Default: 1 minute,
        or ``lock_timeout / 240`` (at most 10 minutes) when that is longer.
    :param lock_timeout: How long an execution waits for another one of the same endpoint, at least
        ``lock_poll_interval``, at most 24 hours. Default: 4 hours, or ``2 x deployment_timeout + 1 hour`` when that
        is longer (the longest a holder can take). A shorter value can give up behind a holder that is still
        deploying: that execution fails with ``LockTimeout`` and the newest approval waits for the next run.
        Together, the lock checks and twice the endpoint checks must fit an execution's 25,000 history events
        (checked at synth).
    :param reconcile_interval: How often the state machine is started with ``{}`` whatever events arrived, 1
        minute to 1 day. Default: 1 hour (about 720 executions a month that find the approved version deployed).
    :param log_retention: Retention of the state machine's and the endpoint's logs. Default: one year.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        group: IModelPackageGroup,
        encryption_key: kms.IKey,
        network: SageMakerNetwork,
        workflow: ApprovalWorkflow | None = None,
        approved_model_parameter_name: str | None = None,
        deployed_model_parameter_name: str | None = None,
        topic: sns.ITopic | None = None,
        bucket: s3.IBucket | None = None,
        model_data_prefixes: Sequence[str] | None = None,
        image_repository_arns: Sequence[str] | None = None,
        endpoint_name: str | None = None,
        memory_size_in_mb: int | None = None,
        max_concurrency: int | None = None,
        provisioned_concurrency: int | None = None,
        instance_type: str | None = None,
        instance_count: int | None = None,
        traffic_shift: TrafficShift = "all-at-once",
        traffic_step_percent: int | None = None,
        bake_time: Duration | None = None,
        rollback_alarms: Sequence[cw.IAlarm] = (),
        error_rate_threshold_percent: float = 5,
        model_error_rate_threshold_percent: float = 5,
        alarm_periods: int = 3,
        data_capture_prefix: str | None = None,
        data_capture_sampling_percentage: int = 100,
        poll_interval: Duration | None = None,
        deployment_timeout: Duration | None = None,
        lock_poll_interval: Duration | None = None,
        lock_timeout: Duration | None = None,
        reconcile_interval: Duration | None = None,
        log_retention: logs.RetentionDays = defaults.LOG_RETENTION,
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(group, IModelPackageGroup):
            raise ValidationError(f"group must be an IModelPackageGroup, got {group!r}")
        require_customer_managed_key("encryption_key", encryption_key)
        if network is None:
            raise ValidationError("network must be a SageMakerNetwork, got None")
        serverless = instance_type is None
        self._validate_compute(serverless, memory_size_in_mb, max_concurrency, provisioned_concurrency, instance_type, instance_count)
        memory_size_in_mb = memory_size_in_mb or 2048
        max_concurrency = max_concurrency or 5
        instance_count = instance_count or 1
        traffic_step_percent = self._validate_traffic(serverless, traffic_shift, traffic_step_percent, instance_count)
        bake_time = bake_time or Duration.minutes(5)
        poll_interval = poll_interval or Duration.minutes(1)
        deployment_timeout = deployment_timeout or Duration.minutes(90)
        # A holder may take two deployment timeouts (waiting for a busy endpoint, then for its own deployment)
        # plus retries and cleanup; a waiter that gave up before would leave the newest approval undeployed.
        lock_timeout = lock_timeout or Duration.seconds(max(4 * 3600, 2 * int(deployment_timeout.to_seconds()) + 3600))
        lock_poll_interval = lock_poll_interval or Duration.seconds(min(600, max(60, math.ceil(lock_timeout.to_seconds() / _DEFAULT_LOCK_CHECKS))))
        require_duration("bake_time", bake_time, minimum=Duration.seconds(0), maximum=Duration.hours(1))
        require_duration("poll_interval", poll_interval, minimum=Duration.seconds(1), maximum=Duration.minutes(10))
        # SageMaker's blue/green MaximumExecutionTimeoutInSeconds takes 600-28800 s; the same bound serves a create.
        require_duration("deployment_timeout", deployment_timeout, minimum=Duration.minutes(10), maximum=Duration.hours(8))
        require_duration("lock_poll_interval", lock_poll_interval, minimum=Duration.seconds(1), maximum=Duration.minutes(10))
        require_duration("lock_timeout", lock_timeout, minimum=lock_poll_interval, maximum=Duration.hours(24))
        self._require_history_room(poll_interval, deployment_timeout, lock_poll_interval, lock_timeout)
        reconcile_interval = reconcile_interval or RECONCILE_INTERVAL
        require_reconcile_interval("reconcile_interval", reconcile_interval)
        for prop, value in (("error_rate_threshold_percent", error_rate_threshold_percent), ("model_error_rate_threshold_percent", model_error_rate_threshold_percent)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 100:
                raise ValidationError(f"{prop} must be a number from 0 up to (not including) 100, got {value!r}")
        require_int_in_range("alarm_periods", alarm_periods, minimum=1, maximum=10)
        if len(rollback_alarms) > 8:
            raise ValidationError(f"rollback_alarms must name at most 8 alarms (SageMaker takes 10, 2 are the endpoint's own), got {len(rollback_alarms)}")
        if data_capture_prefix is not None:
            if serverless:
                raise ValidationError(
                    f"data_capture_prefix needs a real-time endpoint (serverless inference does not support data capture), got {data_capture_prefix!r} without instance_type"
                )
            if bucket is None:
                raise ValidationError("data_capture_prefix needs bucket (captured data is written to it), got bucket=None")
            require_s3_prefix("data_capture_prefix", data_capture_prefix)
        require_int_in_range("data_capture_sampling_percentage", data_capture_sampling_percentage, minimum=1, maximum=100)
        if bucket is not None and not model_data_prefixes:
            raise ValidationError(
                "model_data_prefixes must name where the tiers registering into the group write model artifacts "
                f"(e.g. [pipeline.output_prefix, autopilot.output_prefix]) when bucket is given, got {model_data_prefixes!r}"
            )
        if bucket is None and model_data_prefixes:
            raise ValidationError(f"model_data_prefixes needs bucket (the prefixes are of the ML bucket), got {list(model_data_prefixes)!r} without bucket")
        model_data_prefixes = model_data_prefixes or ()
        if isinstance(model_data_prefixes, str):
            raise ValidationError(f"model_data_prefixes must be a list of S3 key prefixes, got the string {model_data_prefixes!r}")
        for prefix in model_data_prefixes:
            require_s3_prefix("model_data_prefixes", prefix)

        if endpoint_name is None:
            endpoint_name = Names.unique_resource_name(self, max_length=40, separator="-").lower()
        require_match("endpoint_name", endpoint_name, _ENDPOINT_NAME, "1-40 lowercase letters, digits or '-', starting and ending with a letter or digit")
        if Token.is_unresolved(endpoint_name):
            raise ValidationError("endpoint_name must be a literal string (IAM policies and names are built from it), got a token")

        if workflow is not None and not isinstance(workflow, ApprovalWorkflow):
            raise ValidationError(f"workflow must be an ApprovalWorkflow, got {workflow!r}")
        if approved_model_parameter_name is None:
            if workflow is None:
                raise ValidationError("give workflow or approved_model_parameter_name, got neither")
            approved_model_parameter_name = workflow.approved_model_parameter_name(group)
        require_match("approved_model_parameter_name", approved_model_parameter_name, _PARAMETER_NAME, "an SSM parameter path such as '/sagemaker-tiers/registry/churn/approved-model'")
        if deployed_model_parameter_name is None:
            if not approved_model_parameter_name.endswith("/approved-model"):
                raise ValidationError(
                    f"deployed_model_parameter_name must be given when approved_model_parameter_name does not end with '/approved-model', got {approved_model_parameter_name!r}"
                )
            deployed_model_parameter_name = approved_model_parameter_name[: -len("approved-model")] + "deployed-model"
        require_match("deployed_model_parameter_name", deployed_model_parameter_name, _PARAMETER_NAME, "an SSM parameter path such as '/sagemaker-tiers/registry/churn/deployed-model'")
        if deployed_model_parameter_name == approved_model_parameter_name:
            raise ValidationError(f"deployed_model_parameter_name must differ from approved_model_parameter_name, got {deployed_model_parameter_name!r} for both")
        topic = topic or (workflow.topic if workflow is not None else None)
        if topic is None:
            raise ValidationError("give workflow or topic (failures and alarms are sent to it), got neither")

        self.group = group
        self.encryption_key = encryption_key
        self.network = network
        self.topic = topic
        self.bucket = bucket
        self.endpoint_name = endpoint_name
        self.serverless = serverless
        self.instance_type = instance_type
        self.approved_model_parameter_name = approved_model_parameter_name
        self.deployed_model_parameter_name = deployed_model_parameter_name
        self._log_retention = log_retention
        stack = Stack.of(self)
        self._stack = stack
        # Named (its role may describe only its own executions) but per stack instance: a state machine deleted with
        # its stack stays DELETING while an execution waits (the lock and InService polls wait for hours), so the same
        # name would fail the next deployment or turning inference_enabled off and on.
        # https://docs.aws.amazon.com/step-functions/latest/apireference/API_DeleteStateMachine.html
        self._state_machine_name = unique_per_stack_instance(self, 80)

        self.log_group = logs.LogGroup(
            self,
            "EndpointLogs",
            log_group_name=f"/aws/sagemaker/Endpoints/{endpoint_name}",
            encryption_key=encryption_key,
            retention=log_retention,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.model_role = self._model_role(model_data_prefixes, image_repository_arns, data_capture_prefix)

        self.lock_table = dynamodb.Table(
            self,
            "LockTable",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=encryption_key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            # It holds one lock item per endpoint and nothing worth keeping.
            removal_policy=RemovalPolicy.DESTROY,
        )

        alarms = Construct(self, "Alarms")
        action = cw_actions.SnsAction(topic)
        self.alarms: dict[str, cw.Alarm] = {}
        # Rates over several periods, not "any error in one minute": a client's bad request (4XX) or one failure
        # during the baking period must not roll a good model back. Metric definitions:
        # https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
        for alarm_id, rate, threshold, description in (
            (
                "Invocation5XXErrorRate",
                self.metric_invocation_5xx_error_rate(),
                error_rate_threshold_percent,
                f"Endpoint {endpoint_name} answered more than {error_rate_threshold_percent}% of requests 5XX for {alarm_periods} minutes (rolls back a deployment in progress)",
            ),
            (
                "ModelErrorRate",
                self.metric_model_error_rate(),
                model_error_rate_threshold_percent,
                f"The model of endpoint {endpoint_name} failed more than {model_error_rate_threshold_percent}% of requests (client 4XX excluded) for {alarm_periods} minutes (rolls back a deployment in progress)",
            ),
        ):
            alarm = cw.Alarm(
                alarms,
                alarm_id,
                metric=rate,
                alarm_description=description,
                threshold=threshold,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=alarm_periods,
                datapoints_to_alarm=alarm_periods,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(action)
            self.alarms[alarm_id] = alarm
        self.rollback_alarms: list[cw.IAlarm] = [self.alarms["Invocation5XXErrorRate"], self.alarms["ModelErrorRate"], *rollback_alarms]

        self.role = iam.Role(
            self,
            "StateMachineRole",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Deploys the approved model of {group.model_package_group_name} to endpoint {endpoint_name}",
        )
        self.grant_principal = self.role
        self._grant_state_machine_role()

        definition = self._definition(
            memory_size_in_mb=memory_size_in_mb,
            max_concurrency=max_concurrency,
            provisioned_concurrency=provisioned_concurrency,
            instance_count=instance_count,
            traffic_shift=traffic_shift,
            traffic_step_percent=traffic_step_percent,
            bake_time=bake_time,
            data_capture_prefix=data_capture_prefix,
            data_capture_sampling_percentage=data_capture_sampling_percentage,
            poll_interval=poll_interval,
            max_polls=math.ceil(deployment_timeout.to_seconds() / poll_interval.to_seconds()),
            lock_poll_interval=lock_poll_interval,
            max_lock_waits=math.ceil(lock_timeout.to_seconds() / lock_poll_interval.to_seconds()),
            deployment_timeout=deployment_timeout,
        )
        self.state_machine_log_group = logs.LogGroup(
            self, "StateMachineLogs", encryption_key=encryption_key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        self.state_machine = sfn.StateMachine(
            self,
            "Resource",
            state_machine_name=self._state_machine_name,
            comment=f"Deploys the approved model package of {group.model_package_group_name} to endpoint {endpoint_name}",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            role=self.role,
            timeout=lock_timeout.plus(deployment_timeout).plus(deployment_timeout).plus(Duration.hours(1)),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.state_machine_log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Resource '*' only where IAM has no resource-level permission: X-Ray trace writes, CloudWatch Logs "
            "delivery for the state machine's log group, and sagemaker:ListEndpointConfigs/ListModels (read-only; "
            "the cleanup filters by this endpoint's name prefix).",
            applies_to="Resource::*",
        )

        self.dead_letter_queue = last_stop_queue(
            self,
            "TriggerDeadLetterQueue",
            encryption_key=encryption_key,
            holds="approved-model events whose state machine start failed for 24 hours",
        )
        self.trigger_rule = events.Rule(
            self,
            "ApprovedModelChanged",
            description=f"Parameter {approved_model_parameter_name} created or updated: deploy the approved model",
            event_pattern=events.EventPattern(
                source=["aws.ssm"],
                detail_type=["Parameter Store Change"],
                detail={"name": [approved_model_parameter_name], "operation": ["Create", "Update"]},
            ),
            targets=[
                targets.SfnStateMachine(
                    self.state_machine,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            ],
        )

        self.reconcile_rule = events.Rule(
            self,
            "Reconcile",
            description=f"Deploy the approved model of {group.model_package_group_name} to endpoint {endpoint_name} if it is not serving (Parameter Store events are best-effort)",
            schedule=events.Schedule.rate(reconcile_interval),
            targets=[
                targets.SfnStateMachine(
                    self.state_machine,
                    input=events.RuleTargetInput.from_object({}),
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=2,
                    max_event_age=reconcile_interval,
                )
            ],
        )

        for alarm_id, metric, description in (
            ("ExecutionsFailed", self.metric_executions_failed(), f"A deployment to endpoint {endpoint_name} failed"),
            ("ExecutionsTimedOut", self.metric_executions_timed_out(), f"A deployment to endpoint {endpoint_name} timed out"),
            ("DeadLetters", self.metric_dead_letters(), f"Approved-model events for endpoint {endpoint_name} could not start a deployment"),
        ):
            self.alarms[alarm_id] = self._alarm(alarms, alarm_id, metric, description, action, evaluation_periods=1)

    # -- public API -----------------------------------------------------------------------------------------

    @property
    def endpoint_arn(self) -> str:
        """ARN of the endpoint (it exists once the first approved version is deployed)."""
        return self._sagemaker_arn("endpoint", self.endpoint_name)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` call InvokeEndpoint (and the async and streaming variants) on the endpoint."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointAsync", "sagemaker:InvokeEndpointWithResponseStream"],
            resource_arns=[self.endpoint_arn],
        )

    def grant_start_deployment(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` start a deployment by hand (``states:StartExecution`` with any input, e.g. ``{}``)."""
        return self.state_machine.grant_start_execution(grantee)

    def metric_executions_failed(self, **props: Any) -> cw.Metric:
        """Deployments that failed (Sum over 5 minutes)."""
        return self.state_machine.metric_failed(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_executions_timed_out(self, **props: Any) -> cw.Metric:
        """Deployments that hit the state machine timeout (Sum over 5 minutes)."""
        return self.state_machine.metric_timed_out(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_executions_succeeded(self, **props: Any) -> cw.Metric:
        """Executions that succeeded, deployments and no-ops alike (Sum over 5 minutes)."""
        return self.state_machine.metric_succeeded(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_dead_letters(self, **props: Any) -> cw.Metric:
        """Trigger events that could not start the state machine within 24 hours (visible DLQ messages)."""
        return self.dead_letter_queue.metric_approximate_number_of_messages_visible(**{"period": Duration.minutes(5), "statistic": "Maximum", **props})

    def metric_invocations(self, **props: Any) -> cw.Metric:
        """InvokeEndpoint requests (Sum per minute)."""
        return self._endpoint_metric("Invocations", **props)

    def metric_invocation_5xx_errors(self, **props: Any) -> cw.Metric:
        """Requests the endpoint answered with 5XX (Sum per minute)."""
        return self._endpoint_metric("Invocation5XXErrors", **props)

    def metric_invocation_model_errors(self, **props: Any) -> cw.Metric:
        """Requests that did not get a valid model response: 4XX/5XX from the container, timeouts (Sum per minute)."""
        return self._endpoint_metric("InvocationModelErrors", **props)

    def metric_invocation_4xx_errors(self, **props: Any) -> cw.Metric:
        """Requests the model answered 4XX: the client's errors (Sum per minute)."""
        return self._endpoint_metric("Invocation4XXErrors", **props)

    def metric_invocation_5xx_error_rate(self, **props: Any) -> cw.MathExpression:
        """Percentage of requests answered 5XX per minute (0 without requests)."""
        return cw.MathExpression(
            expression="IF(invocations > 0, 100 * errors / invocations, 0)",
            using_metrics={"invocations": self.metric_invocations(), "errors": self.metric_invocation_5xx_errors()},
            label="Invocation5XXErrorRate",
            period=Duration.minutes(1),
            **props,
        )

    def metric_model_error_rate(self, **props: Any) -> cw.MathExpression:
        """Percentage of requests that failed in the model per minute, the client's 4XX excluded (0 without requests)."""
        return cw.MathExpression(
            expression="IF(invocations > 0, 100 * IF(modelErrors > clientErrors, modelErrors - clientErrors, 0) / invocations, 0)",
            using_metrics={
                "invocations": self.metric_invocations(),
                "modelErrors": self.metric_invocation_model_errors(),
                "clientErrors": self.metric_invocation_4xx_errors(),
            },
            label="ModelErrorRate",
            period=Duration.minutes(1),
            **props,
        )

    def metric_model_latency(self, **props: Any) -> cw.Metric:
        """Time the model took to respond, in microseconds (p90 per minute)."""
        return self._endpoint_metric("ModelLatency", **{"statistic": "p90", **props})

    def metric_executions_started(self, **props: Any) -> cw.Metric:
        """Deployment executions started: approved-model events, scheduled reconciles and manual starts (Sum over 5 minutes)."""
        return self.state_machine.metric_started(**{"period": Duration.minutes(5), "statistic": "Sum", **props})

    def metric_execution_time(self, **props: Any) -> cw.Metric:
        """How long deployment executions took, in milliseconds (Average over 5 minutes)."""
        return self.state_machine.metric_time(**{"period": Duration.minutes(5), "statistic": "Average", **props})

    def widgets(self) -> list[cw.IWidget]:
        """Dashboard widgets: deployments by outcome and duration (hourly), requests and errors, model latency,
        and the dead-letter queue of approved-model events."""
        name = self.endpoint_name
        return [
            *runs_widgets(
                f"Deployments to {name}",
                started=hourly(self.metric_executions_started()),
                succeeded=hourly(self.metric_executions_succeeded()),
                failed=hourly(self.metric_executions_failed()),
                timed_out=hourly(self.metric_executions_timed_out()),
                aborted=None,
                duration=hourly(self.metric_execution_time()),
            ),
            graph(
                f"Endpoint {name}: requests and errors",
                {
                    "Invocations": self.metric_invocations(),
                    "5XX": self.metric_invocation_5xx_errors(),
                    "4XX (client)": self.metric_invocation_4xx_errors(),
                    "Model errors": self.metric_invocation_model_errors(),
                },
                width=8,
                unit="requests per minute",
            ),
            graph(f"Endpoint {name}: model latency", {"p90": self.metric_model_latency()}, width=8, unit="microseconds"),
            queue_depth_widget(f"Endpoint {name}: dead letters", {"Undeployed approvals": self.metric_dead_letters()}, width=8),
        ]

    # -- validation -----------------------------------------------------------------------------------------

    @staticmethod
    def _validate_compute(
        serverless: bool,
        memory: int | None,
        concurrency: int | None,
        provisioned: int | None,
        instance_type: str | None,
        instance_count: int | None,
    ) -> None:
        if not serverless:
            given = [name for name, value in (("memory_size_in_mb", memory), ("max_concurrency", concurrency), ("provisioned_concurrency", provisioned)) if value is not None]
            if given:
                raise ValidationError(
                    f"provide either serverless settings (memory_size_in_mb, max_concurrency, provisioned_concurrency) or "
                    f"instance settings (instance_type, instance_count), not both: got instance_type={instance_type!r} and {', '.join(given)}"
                )
            require_one_of(
                "instance_type", instance_type, sorted(REALTIME_INSTANCE_TYPES),
                allowed_name="sagemaker_tiers.inference.REALTIME_INSTANCE_TYPES",
            )
            if instance_count is not None:
                require_int_in_range("instance_count", instance_count, minimum=1, maximum=100)
            return
        if instance_count is not None:
            raise ValidationError(f"instance_count needs instance_type (a serverless endpoint has no instances), got instance_count={instance_count!r}")
        if memory is not None:
            require_one_of("memory_size_in_mb", memory, SERVERLESS_MEMORY_SIZES)
        if concurrency is not None:
            require_int_in_range("max_concurrency", concurrency, minimum=1, maximum=200)
        if provisioned is not None:
            require_int_in_range("provisioned_concurrency", provisioned, minimum=1, maximum=concurrency or 5)

    @staticmethod
    def _validate_traffic(serverless: bool, shift: str, step: int | None, instance_count: int) -> int | None:
        require_one_of("traffic_shift", shift, TRAFFIC_SHIFTS)
        if shift == "all-at-once":
            if step is not None:
                raise ValidationError(f"traffic_step_percent needs traffic_shift 'canary' or 'linear', got {step!r} with 'all-at-once'")
            return None
        if serverless:
            raise ValidationError(
                f"traffic_shift {shift!r} needs a real-time endpoint (canary and linear steps are instance capacity; serverless updates shift all at once), got no instance_type"
            )
        if instance_count < 2:
            raise ValidationError(f"traffic_shift {shift!r} needs instance_count >= 2 (a step is at most half the fleet), got {instance_count}")
        step = 50 if step is None else step
        require_int_in_range("traffic_step_percent", step, minimum=1 if shift == "canary" else 10, maximum=50)
        return step

    # -- roles ----------------------------------------------------------------------------------------------

    def _model_role(self, prefixes: Sequence[str], repositories: Sequence[str] | None, capture_prefix: str | None) -> iam.Role:
        role = iam.Role(
            self,
            "ModelRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Execution role of the models served by endpoint {self.endpoint_name}",
        )
        stack = Stack.of(self)
        if self.bucket is not None:
            for prefix in prefixes:
                grant_read = getattr(self.bucket, "grant_read_prefix", None)
                if grant_read is not None:
                    grant_read(role, prefix)
                else:
                    self.bucket.grant_read(role, f"{prefix}*")
            if capture_prefix is not None:
                grant_write = getattr(self.bucket, "grant_write_prefix", None)
                if grant_write is not None:
                    grant_write(role, capture_prefix)
                else:
                    self.bucket.grant_put(role, f"{capture_prefix}*")
            for prefix in [*prefixes, *([capture_prefix] if capture_prefix else [])]:
                acknowledge(
                    role,
                    "AwsSolutions-IAM5",
                    "Model artifacts and captured data are objects under one key prefix of the ML bucket; their "
                    "names are only known at run time, so IAM names them by prefix.",
                    applies_to=f"Resource::{self._nag_bucket_arn()}/{prefix}*",
                )
        repository_arns = list(repositories) if repositories is not None else [
            stack.format_arn(service="ecr", resource="repository", resource_name="*")
        ]
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                resources=repository_arns,
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        # What SageMaker's documented CreateModel execution-role policy holds
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms),
        # scoped: the endpoint's own log group, and metrics only in SageMaker's endpoint namespaces
        # (cloudwatch:namespace; PutMetricData has no resource type, so its Resource is "*").
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:log-stream:*"],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup"],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints*", "aws/sagemaker/Endpoints*"]}},
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level permission; image pulls "
            "themselves are limited to image_repository_arns and metrics to SageMaker's endpoint namespaces "
            "(cloudwatch:namespace condition).",
            applies_to="Resource::*",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "The endpoint's containers write one log stream per instance into the endpoint's own log group; the "
            "stream names are chosen by SageMaker at run time.",
            applies_to=f"Resource::<{self._logical_id_of(self.log_group)}.Arn>:log-stream:*",
        )
        if repositories is None:
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "Model packages may reference an image in any repository of this account (each training tier "
                "pushes its own); pass image_repository_arns to narrow the pulls.",
                applies_to="Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/*",
            )
        if not self.serverless:
            subnets = [
                stack.format_arn(service="ec2", resource="subnet", resource_name=subnet_id)
                for subnet_id in self.network.subnet_ids
            ]
            security_group = stack.format_arn(service="ec2", resource="security-group", resource_name=self.network.security_group.security_group_id)
            interfaces = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
            role.add_to_policy(iam.PolicyStatement(actions=["ec2:CreateNetworkInterface"], resources=[*subnets, security_group, interfaces]))
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission"],
                    resources=[interfaces],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=[
                        "ec2:DescribeDhcpOptions",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSecurityGroups",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeVpcs",
                    ],
                    resources=["*"],
                )
            )
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "A real-time endpoint in the VPC creates one network interface per instance, named at run time, "
                "and EC2 Describe* calls have no resource-level permission.",
                applies_to="Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*",
            )
        return role

    def _grant_state_machine_role(self) -> None:
        role = self.role
        stack = self._stack
        prefix = self.endpoint_name
        models = self._sagemaker_arn("model", f"{prefix}-*")
        configs = self._sagemaker_arn("endpoint-config", f"{prefix}-*")
        endpoint = self.endpoint_arn
        role.add_to_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self._parameter_arn(self.approved_model_parameter_name)])
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[self._parameter_arn(self.deployed_model_parameter_name)]
            )
        )
        self.group.grant_read(role)
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:CreateModel", "sagemaker:DeleteModel"], resources=[models]))
        role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:CreateEndpointConfig", "sagemaker:DeleteEndpointConfig"], resources=[configs])
        )
        role.add_to_policy(
            iam.PolicyStatement(actions=["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"], resources=[endpoint, configs])
        )
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint"], resources=[endpoint]))
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:AddTags"], resources=[models, configs, endpoint]))
        role.add_to_policy(iam.PolicyStatement(actions=["sagemaker:ListEndpointConfigs", "sagemaker:ListModels"], resources=["*"]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.model_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        # The endpoint volume (real-time) is encrypted with the key on behalf of the CreateEndpoint caller.
        if not self.serverless:
            self._grant_key(role, "sagemaker", "kms:CreateGrant", "kms:DescribeKey")
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:DescribeAlarms"],
                resources=[
                    stack.format_arn(service="cloudwatch", resource="alarm", resource_name=a.alarm_name, arn_format=ArnFormat.COLON_RESOURCE_NAME)
                    for a in self.rollback_alarms
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"], resources=[self.lock_table.table_arn]
            )
        )
        self._grant_key(role, "dynamodb", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:DescribeExecution"],
                resources=[
                    stack.format_arn(
                        service="states",
                        resource="execution",
                        resource_name=f"{self._state_machine_name}:*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        role.add_to_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]))
        topic_key = getattr(self.topic, "master_key", None)
        if topic_key is not None:
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=[topic_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"sns.{stack.region}.amazonaws.com"}},
                )
            )
        reason = (
            "Models and endpoint configurations are created per deployment as '<endpoint_name>-V<version>-<random>'; "
            "IAM can only name them by the endpoint's own name prefix."
        )
        for kind in ("model", "endpoint-config"):
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                reason,
                applies_to=f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:{kind}/{prefix}-*",
            )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "The lock holder is another execution of this same state machine, named at run time; DescribeExecution "
            "is limited to this state machine's executions.",
            applies_to=f"Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{unique_per_stack_instance_nag_text(self, 80)}:*",
        )

    @staticmethod
    def _require_history_room(poll_interval: Duration, deployment_timeout: Duration, lock_poll_interval: Duration, lock_timeout: Duration) -> None:
        """Fail unless the longest execution fits Step Functions' 25,000 history events.

        Counted from the definition: a lock check enters 9 states (about 25 events), an endpoint check 5 (about
        13), and an execution may wait for the lock, then for a busy endpoint, then for its deployment; the
        cleanup Maps and the rest stay under 2,500.
        """
        lock_checks = math.ceil(lock_timeout.to_seconds() / lock_poll_interval.to_seconds())
        endpoint_checks = math.ceil(deployment_timeout.to_seconds() / poll_interval.to_seconds())
        events = _EVENTS_PER_LOCK_CHECK * lock_checks + 2 * _EVENTS_PER_ENDPOINT_CHECK * endpoint_checks + _EVENTS_OTHERWISE
        if events > _MAX_HISTORY_EVENTS:
            raise ValidationError(
                f"lock_timeout / lock_poll_interval ({lock_checks} lock checks) and deployment_timeout / poll_interval "
                f"({endpoint_checks} endpoint checks, twice) must fit one execution's {_MAX_HISTORY_EVENTS:,} history "
                f"events, got about {events:,}: raise lock_poll_interval or poll_interval, or lower lock_timeout or "
                "deployment_timeout"
            )

    # -- the state machine ----------------------------------------------------------------------------------

    def _definition(
        self,
        *,
        memory_size_in_mb: int,
        max_concurrency: int,
        provisioned_concurrency: int | None,
        instance_count: int,
        traffic_shift: str,
        traffic_step_percent: int | None,
        bake_time: Duration,
        data_capture_prefix: str | None,
        data_capture_sampling_percentage: int,
        poll_interval: Duration,
        max_polls: int,
        lock_poll_interval: Duration,
        max_lock_waits: int,
        deployment_timeout: Duration,
    ) -> sfn.IChainable:
        name = self.endpoint_name
        states = Construct(self, "States")
        tags = [
            {"Key": "sagemaker-tiers:endpoint", "Value": name},
            {"Key": "sagemaker-tiers:model-package-group", "Value": self.group.model_package_group_name},
        ]
        lock_key = {"pk": tasks.DynamoAttributeValue.from_string(name)}
        me = tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$$.Execution.Id"))

        # -- failure and exits --
        release_after_failure = tasks.DynamoDeleteItem(
            states,
            "ReleaseLockAfterFailure",
            table=self.lock_table,
            key=lock_key,
            condition_expression="holder = :me",
            expression_attribute_values={":me": me},
            result_path=sfn.JsonPath.DISCARD,
        )
        failed = sfn.Fail(states, "DeploymentFailed", error="InferenceDeploymentFailed", cause="See the administrators' notification and the execution history")
        release_after_failure.add_retry(errors=["DynamoDB.ConditionalCheckFailedException"], max_attempts=0)
        release_after_failure.add_retry(**_RETRY)
        release_after_failure.add_catch(failed, errors=["States.ALL"], result_path="$.releaseError")
        release_after_failure.next(failed)
        notify_failure = tasks.SnsPublish(
            states,
            "NotifyFailure",
            topic=self.topic,
            subject=f"SageMaker deployment failed: {name}"[:100],
            message=sfn.TaskInput.from_text(
                sfn.JsonPath.format(
                    f"Deployment of the approved model of {self.group.model_package_group_name} to endpoint {name} failed "
                    "(execution {}). A deployment that failed before the switch leaves the previous configuration "
                    "serving; the next execution compares what the endpoint serves with the approved version and "
                    "repairs any difference. Error: {}",
                    sfn.JsonPath.string_at("$$.Execution.Id"),
                    sfn.JsonPath.json_to_string(sfn.JsonPath.object_at("$.error")),
                )
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        notify_failure.add_retry(**_RETRY)
        notify_failure.add_catch(release_after_failure, errors=["States.ALL"], result_path="$.notifyError")
        notify_failure.next(release_after_failure)

        def fail_with(state_id: str, error: str, cause: str) -> sfn.Chain:
            """A Pass that records a detected failure as ``$.error`` and continues to the failure path."""
            return sfn.Pass(
                states, state_id, parameters={"Error": error, "Cause.$": cause}, result_path="$.error"
            ).next(notify_failure)

        def counted(check: str, counter: str, limit: int, exceeded: sfn.IChainable, otherwise: sfn.IChainable) -> sfn.Pass:
            """``Count<check>`` adds one to ``<counter>.count``; ``<check>Exceeded`` goes to ``exceeded`` past ``limit``."""
            return count_and_limit(
                states,
                count_id=f"Count{check}",
                limit_id=f"{check}Exceeded",
                counter=f"{counter}.count",
                limit=limit,
                exceeded=exceeded,
                otherwise=otherwise,
            )

        def unusable(state_id: str, status_path: str) -> tuple[sfn.Condition, sfn.Chain]:
            """The endpoint statuses no update gets out of, and the failure that reports them."""
            return (
                sfn.Condition.or_(*(sfn.Condition.string_equals(status_path, status) for status in ("OutOfService", "UpdateRollbackFailed"))),
                fail_with(
                    state_id,
                    "EndpointUnusable",
                    f"States.Format('Endpoint {name} is {{}}: it cannot be updated; see DescribeEndpoint FailureReason and fix or delete it', {status_path})",
                ),
            )

        def on_error(task: sfn.TaskStateBase, *, retry: bool = True) -> sfn.TaskStateBase:
            if retry:
                task.add_retry(**_RETRY)
            task.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
            return task

        def describe_endpoint(state_id: str, result_path: str) -> tasks.CallAwsService:
            """DescribeEndpoint of this endpoint, keeping its status and configuration name at ``result_path``."""
            return sagemaker_call(
                states,
                state_id,
                "describeEndpoint",
                resources=[self.endpoint_arn],
                parameters={"EndpointName": name},
                result_selector={"Status": sfn.JsonPath.string_at("$.EndpointStatus"), "ConfigName": sfn.JsonPath.string_at("$.EndpointConfigName")},
                result_path=result_path,
            )

        release = tasks.DynamoDeleteItem(
            states,
            "ReleaseLock",
            table=self.lock_table,
            key=lock_key,
            condition_expression="holder = :me",
            expression_attribute_values={":me": me},
            result_path=sfn.JsonPath.DISCARD,
        )
        done = sfn.Succeed(states, "Done")
        release.add_retry(errors=["DynamoDB.ConditionalCheckFailedException"], max_attempts=0)
        release.add_retry(**_RETRY)
        release.add_catch(done, errors=["DynamoDB.ConditionalCheckFailedException"], result_path="$.releaseError")
        release.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
        release.next(done)

        # -- lock --
        start = sfn.Pass(states, "Start", parameters={"trigger.$": "$", "lock": {"stale": "none", "waits": 0}, "lookups": {"count": 0}})
        acquire = tasks.DynamoPutItem(
            states,
            "AcquireLock",
            table=self.lock_table,
            item={
                "pk": tasks.DynamoAttributeValue.from_string(name),
                "holder": me,
                "acquired": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$$.State.EnteredTime")),
            },
            condition_expression="attribute_not_exists(pk) OR holder = :me OR holder = :stale",
            expression_attribute_values={":me": me, ":stale": tasks.DynamoAttributeValue.from_string(sfn.JsonPath.string_at("$.lock.stale"))},
            result_path=sfn.JsonPath.DISCARD,
        )
        read_lock = tasks.DynamoGetItem(states, "ReadLock", table=self.lock_table, key=lock_key, consistent_read=True, result_path="$.lock.item")
        acquire.add_retry(errors=["DynamoDB.ConditionalCheckFailedException"], max_attempts=0)
        acquire.add_retry(**_RETRY)
        acquire.add_catch(read_lock, errors=["DynamoDB.ConditionalCheckFailedException"], result_path="$.lock.conflict")
        acquire.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
        on_error(read_lock)
        describe_holder = tasks.CallAwsService(
            states,
            "DescribeLockHolder",
            service="sfn",
            action="describeExecution",
            iam_action="states:DescribeExecution",
            iam_resources=[self._stack.format_arn(service="states", resource="execution", resource_name=f"{self._state_machine_name}:*", arn_format=ArnFormat.COLON_RESOURCE_NAME)],
            parameters={"ExecutionArn": sfn.JsonPath.string_at("$.lock.item.Item.holder.S")},
            result_selector={"Status": sfn.JsonPath.string_at("$.Status")},
            result_path="$.lock.holder",
        )
        take_over = sfn.Pass(
            states,
            "TakeOverStaleLock",
            parameters={"stale.$": "$.lock.item.Item.holder.S", "waits.$": "$.lock.waits"},
            result_path="$.lock",
        ).next(acquire)
        describe_holder.add_retry(errors=["Sfn.ExecutionDoesNotExistException"], max_attempts=0)
        describe_holder.add_retry(**_RETRY)
        describe_holder.add_catch(take_over, errors=["Sfn.ExecutionDoesNotExistException"], result_path="$.lock.holder")
        describe_holder.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
        wait_for_lock = sfn.Wait(states, "WaitForLock", time=sfn.WaitTime.duration(lock_poll_interval))
        count_lock_wait = sfn.Pass(
            states,
            "CountLockWait",
            parameters={"stale": "none", "waits.$": "States.MathAdd($.lock.waits, 1)", "item.$": "$.lock.item"},
            result_path="$.lock",
        )
        lock_timeout = fail_with(
            "LockTimeout",
            "LockTimeout",
            f"States.Format('Another deployment to endpoint {name} held the lock for {max_lock_waits} checks: {{}}. Start this state machine again once it has ended to deploy the newest approval.', $.lock.item.Item.holder.S)",
        )
        wait_for_lock.next(count_lock_wait).next(
            sfn.Choice(states, "LockWaitExceeded")
            .when(sfn.Condition.number_greater_than("$.lock.waits", max_lock_waits), lock_timeout)
            .otherwise(acquire)
        )
        read_lock.next(
            sfn.Choice(states, "LockStillHeld")
            .when(sfn.Condition.is_not_present("$.lock.item.Item"), acquire)
            .otherwise(describe_holder)
        )
        describe_holder.next(
            sfn.Choice(states, "HolderRunning")
            .when(sfn.Condition.string_equals("$.lock.holder.Status", "RUNNING"), wait_for_lock)
            .otherwise(take_over)
        )

        # -- what to deploy --
        read_approved = tasks.CallAwsService(
            states,
            "ReadApprovedModel",
            service="ssm",
            action="getParameter",
            iam_action="ssm:GetParameter",
            iam_resources=[self._parameter_arn(self.approved_model_parameter_name)],
            parameters={"Name": self.approved_model_parameter_name},
            result_selector={"Value": sfn.JsonPath.string_at("$.Parameter.Value")},
            result_path="$.approved",
        )
        # Before the first approval there is no parameter: a scheduled (or manual) run has nothing to do.
        nothing_approved_yet = sfn.Pass(states, "NothingApprovedYet", result_path=sfn.JsonPath.DISCARD)
        read_approved.add_retry(errors=["Ssm.ParameterNotFoundException"], max_attempts=0)
        read_approved.add_retry(**_RETRY)
        read_approved.add_catch(nothing_approved_yet, errors=["Ssm.ParameterNotFoundException"], result_path="$.approvedLookup")
        read_approved.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
        read_deployed = tasks.CallAwsService(
            states,
            "ReadDeployedModel",
            service="ssm",
            action="getParameter",
            iam_action="ssm:GetParameter",
            iam_resources=[self._parameter_arn(self.deployed_model_parameter_name)],
            parameters={"Name": self.deployed_model_parameter_name},
            result_selector={"Value": sfn.JsonPath.string_at("$.Parameter.Value")},
            result_path="$.deployed",
        )
        nothing_deployed = sfn.Pass(states, "NothingDeployedYet", result=sfn.Result.from_object({"Value": NONE}), result_path="$.deployed")
        read_deployed.add_retry(errors=["Ssm.ParameterNotFoundException"], max_attempts=0)
        read_deployed.add_retry(**_RETRY)
        read_deployed.add_catch(nothing_deployed, errors=["Ssm.ParameterNotFoundException"], result_path="$.deployed")
        read_deployed.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
        notify_nothing_approved = on_error(
            tasks.SnsPublish(
                states,
                "NotifyNothingApproved",
                topic=self.topic,
                subject=f"No approved model for endpoint {name}"[:100],
                message=sfn.TaskInput.from_text(
                    sfn.JsonPath.format(
                        f"No version of {self.group.model_package_group_name} is approved. Endpoint {name} keeps serving "
                        "the last deployed package ({}) until a version is approved; delete the endpoint by hand if that "
                        "model must stop serving.",
                        sfn.JsonPath.string_at("$.deployed.Value"),
                    )
                ),
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        notify_nothing_approved.next(release)
        nothing_approved_yet.next(release)
        # The administrators hear about a revocation from its event; the hourly reconcile (input {}) stays quiet.
        nothing_approved = (
            sfn.Choice(states, "RevocationEvent")
            .when(sfn.Condition.is_present("$.trigger.source"), notify_nothing_approved)
            .otherwise(sfn.Pass(states, "StillNothingApproved").next(release))
        )
        already_deployed = sfn.Pass(states, "AlreadyDeployed").next(release)
        check_serving = describe_endpoint("CheckServingEndpoint", "$.serving")

        describe_package_call = on_error(
            sagemaker_call(
                states,
                "DescribeModelPackage",
                "describeModelPackage",
                resources=[self.group.model_package_arn_pattern],
                parameters={"ModelPackageName": sfn.JsonPath.string_at("$.approved.Value")},
                # The whole answer: a ResultSelector path the response lacks (an unversioned package has no group,
                # version or approval status) would raise States.Runtime, which no Catch handles.
                result_path="$.package",
            )
        )
        # The role may describe only this group's versions (IAM would deny any other ARN with AccessDenied), so an
        # ARN of another group or account is refused before SageMaker is called.
        not_of_group = fail_with(
            "ModelPackageNotOfGroup",
            "ModelPackageNotApproved",
            f"States.Format('{{}} is not a version of group {self.group.model_package_group_name}; endpoint {name} only serves Approved versions of that group', $.approved.Value)",
        )
        describe_package = (
            sfn.Choice(states, "PackageOfGroup")
            .when(sfn.Condition.string_matches("$.approved.Value", self.group.model_package_arn_pattern), describe_package_call)
            .otherwise(not_of_group)
        )
        not_approved = fail_with(
            "ModelPackageNotApproved",
            "ModelPackageNotApproved",
            f"States.Format('{{}} is not an Approved, versioned package of group {self.group.model_package_group_name} with an inference specification; endpoint {name} only serves those', $.package.ModelPackageArn)",
        )
        not_approved_here = fail_with(
            "ModelPackageNotApprovedInGroup",
            "ModelPackageNotApproved",
            f"States.Format('{{}} is {{}} in group {{}}; endpoint {name} only serves Approved versions of {self.group.model_package_group_name}', $.package.Arn, $.package.Status, $.package.Group)",
        )
        summarize_package = sfn.Pass(
            states,
            "SummarizePackage",
            parameters={
                "Arn.$": "$.package.ModelPackageArn",
                "Group.$": "$.package.ModelPackageGroupName",
                "Version.$": "$.package.ModelPackageVersion",
                "Status.$": "$.package.ModelApprovalStatus",
                "Containers.$": "States.ArrayLength($.package.InferenceSpecification.Containers)",
            },
            result_path="$.package",
        )
        # SageMaker Serverless Inference does not host inference pipelines (several containers); a real-time
        # endpoint hosts 2-15 of them: https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html
        # (Feature exclusions), https://docs.aws.amazon.com/sagemaker/latest/dg/inference-pipelines.html
        pipeline_on_serverless = fail_with(
            "PipelineOnServerless",
            "ModelPackageNotServable",
            f"States.Format('{{}} (version {{}}) is an inference pipeline of {{}} containers; serverless endpoint {name} hosts one container only, so it keeps serving what it serves. Give the endpoint an instance_type, or register a single-container version', $.package.Arn, $.package.Version, $.package.Containers)",
        )
        names = sfn.Pass(
            states,
            "NameResources",
            parameters={
                "resource.$": f"States.Format('{self._own_prefix}{{}}-{{}}', $.package.Version, States.ArrayGetItem(States.StringSplit(States.UUID(), '-'), 0))"
            },
            result_path="$.names",
        )

        # -- model and configuration --
        container: dict[str, Any] = {"ModelPackageName": sfn.JsonPath.string_at("$.approved.Value")}
        create_model_params: dict[str, Any] = {
            "ModelName": sfn.JsonPath.string_at("$.names.resource"),
            "ExecutionRoleArn": self.model_role.role_arn,
            "PrimaryContainer": container,
            "Tags": tags,
        }
        if not self.serverless:
            create_model_params["VpcConfig"] = {
                "SecurityGroupIds": [self.network.security_group.security_group_id],
                "Subnets": self.network.subnet_ids,
            }
            create_model_params["EnableNetworkIsolation"] = True
        create_model = on_error(
            sagemaker_call(
                states,
                "CreateModel",
                "createModel",
                resources=[self._sagemaker_arn("model", f"{name}-*")],
                parameters=create_model_params,
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        variant: dict[str, Any] = {"VariantName": VARIANT_NAME, "ModelName": sfn.JsonPath.string_at("$.names.resource")}
        if self.serverless:
            serverless_config: dict[str, Any] = {"MemorySizeInMB": memory_size_in_mb, "MaxConcurrency": max_concurrency}
            if provisioned_concurrency is not None:
                serverless_config["ProvisionedConcurrency"] = provisioned_concurrency
            variant["ServerlessConfig"] = serverless_config
        else:
            variant.update({"InstanceType": self.instance_type, "InitialInstanceCount": instance_count, "InitialVariantWeight": 1})
        config_params: dict[str, Any] = {
            "EndpointConfigName": sfn.JsonPath.string_at("$.names.resource"),
            "ProductionVariants": [variant],
            "Tags": tags,
        }
        if not self.serverless and not has_local_storage(self.instance_type or ""):
            config_params["KmsKeyId"] = self.encryption_key.key_arn
        if data_capture_prefix is not None and self.bucket is not None:
            config_params["DataCaptureConfig"] = {
                "EnableCapture": True,
                "InitialSamplingPercentage": data_capture_sampling_percentage,
                "DestinationS3Uri": f"s3://{self.bucket.bucket_name}/{data_capture_prefix}",
                "KmsKeyId": self.encryption_key.key_arn,
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]},
            }
        create_config = on_error(
            sagemaker_call(
                states,
                "CreateEndpointConfig",
                "createEndpointConfig",
                resources=[self._sagemaker_arn("endpoint-config", f"{name}-*")],
                parameters=config_params,
                result_path=sfn.JsonPath.DISCARD,
            )
        )

        # -- create or update --
        init_polls = sfn.Pass(states, "StartEndpointChecks", result=sfn.Result.from_object({"count": 0}), result_path="$.polls")
        check_endpoint = describe_endpoint("DescribeEndpoint", "$.endpoint")
        no_endpoint = sfn.Pass(states, "NoEndpointYet", result=sfn.Result.from_object({"Status": "Missing", "ConfigName": "none"}), result_path="$.endpoint")
        # "Could not find endpoint" means create it; any other failure is looked up again in the bounded busy loop.
        unreadable = sfn.Pass(states, "EndpointUnreadable", result=sfn.Result.from_object({"Status": "Unreadable", "ConfigName": "none"}), result_path="$.endpoint")
        check_endpoint.add_catch(
            sfn.Choice(states, "EndpointLookup")
            .when(sfn.Condition.string_matches("$.endpointLookup.Cause", _ENDPOINT_MISSING), no_endpoint)
            .otherwise(unreadable),
            errors=["States.TaskFailed"],
            result_path="$.endpointLookup",
        )
        check_endpoint.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
        create_endpoint = on_error(
            sagemaker_call(
                states,
                "CreateEndpoint",
                "createEndpoint",
                resources=[self.endpoint_arn, self._sagemaker_arn("endpoint-config", f"{name}-*")],
                parameters={"EndpointName": name, "EndpointConfigName": sfn.JsonPath.string_at("$.names.resource"), "Tags": tags},
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        routing: dict[str, Any] = {"Type": {"all-at-once": "ALL_AT_ONCE", "canary": "CANARY", "linear": "LINEAR"}[traffic_shift], "WaitIntervalInSeconds": int(bake_time.to_seconds())}
        if traffic_shift == "canary":
            routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": traffic_step_percent}
        elif traffic_shift == "linear":
            routing["LinearStepSize"] = {"Type": "CAPACITY_PERCENT", "Value": traffic_step_percent}
        steps = 1 if traffic_shift == "all-at-once" else (2 if traffic_shift == "canary" else math.ceil(100 / (traffic_step_percent or 50)))
        max_execution = int(deployment_timeout.to_seconds())
        if max_execution <= steps * int(bake_time.to_seconds()):
            raise ValidationError(
                f"deployment_timeout must be longer than the baking periods of an update ({steps} x bake_time = {steps * int(bake_time.to_seconds())} s), got {int(deployment_timeout.to_seconds())} s"
            )
        update_endpoint = on_error(
            sagemaker_call(
                states,
                "UpdateEndpoint",
                "updateEndpoint",
                resources=[self.endpoint_arn, self._sagemaker_arn("endpoint-config", f"{name}-*")],
                parameters={
                    "EndpointName": name,
                    "EndpointConfigName": sfn.JsonPath.string_at("$.names.resource"),
                    "RetainAllVariantProperties": False,
                    "DeploymentConfig": {
                        "BlueGreenUpdatePolicy": {
                            "TrafficRoutingConfiguration": routing,
                            "TerminationWaitInSeconds": 0,
                            "MaximumExecutionTimeoutInSeconds": max_execution,
                        },
                        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": a.alarm_name} for a in self.rollback_alarms]},
                    },
                },
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        delete_failed = on_error(
            sagemaker_call(
                states,
                "DeleteFailedEndpoint",
                "deleteEndpoint",
                resources=[self.endpoint_arn],
                parameters={"EndpointName": name},
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        wait_busy = sfn.Wait(states, "WaitForEndpointIdle", time=sfn.WaitTime.duration(poll_interval))
        busy_timeout = fail_with(
            "EndpointBusyTimeout",
            "EndpointBusyTimeout",
            f"States.Format('Endpoint {name} stayed {{}} for {max_polls} checks', $.endpoint.Status)",
        )
        wait_busy.next(counted("EndpointCheck", "$.polls", max_polls, busy_timeout, check_endpoint))
        delete_failed.next(wait_busy)
        unreadable.next(wait_busy)  # throttling or another passing error: looked up again after poll_interval
        no_endpoint.next(create_endpoint)

        # -- wait for the deployment --
        reset_polls = sfn.Pass(states, "StartDeploymentChecks", result=sfn.Result.from_object({"count": 0}), result_path="$.polls")
        describe_deploy = on_error(describe_endpoint("DescribeDeployment", "$.deployment"))
        deploy_timeout = fail_with(
            "DeploymentTimedOut",
            "DeploymentTimedOut",
            f"States.Format('Endpoint {name} was still {{}} after {max_polls} checks', $.deployment.Status)",
        )
        rolled_back = fail_with(
            "DeploymentRolledBack",
            "DeploymentRolledBack",
            f"States.Format('Endpoint {name} is InService on {{}}, not on {{}}: SageMaker rolled the update back (an alarm fired or the new fleet was unhealthy); see DescribeEndpoint FailureReason', $.deployment.ConfigName, $.names.resource)",
        )
        endpoint_failed = fail_with(
            "EndpointFailed",
            "EndpointFailed",
            f"States.Format('Endpoint {name} is {{}}; see DescribeEndpoint FailureReason', $.deployment.Status)",
        )
        record = on_error(
            tasks.CallAwsService(
                states,
                "RecordDeployedModel",
                service="ssm",
                action="putParameter",
                iam_action="ssm:PutParameter",
                iam_resources=[self._parameter_arn(self.deployed_model_parameter_name)],
                parameters={
                    "Name": self.deployed_model_parameter_name,
                    "Value": sfn.JsonPath.string_at("$.approved.Value"),
                    "Type": "String",
                    "Overwrite": True,
                    "Description": f"Model package deployed to SageMaker endpoint {name}",
                },
                result_path=sfn.JsonPath.DISCARD,
            )
        )
        deployment_state = (
            sfn.Choice(states, "DeploymentState")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals("$.deployment.Status", "InService"),
                    sfn.Condition.string_equals_json_path("$.deployment.ConfigName", "$.names.resource"),
                ),
                record,
            )
            .when(sfn.Condition.string_equals("$.deployment.Status", "InService"), rolled_back)
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals("$.deployment.Status", "Failed"),
                    sfn.Condition.string_equals("$.deployment.Status", "UpdateRollbackFailed"),
                    sfn.Condition.string_equals("$.deployment.Status", "OutOfService"),
                ),
                endpoint_failed,
            )
        )
        wait_deploy = bounded_poll(
            states,
            describe=describe_deploy,
            status=deployment_state,
            interval=poll_interval,
            limit=max_polls,
            on_limit=deploy_timeout,
            counter="$.polls.count",
            wait_id="WaitForDeployment",
            count_id="CountDeploymentCheck",
            limit_id="DeploymentCheckExceeded",
        )
        create_endpoint.next(reset_polls)
        update_endpoint.next(reset_polls)
        reset_polls.next(wait_deploy)

        # -- cleanup: everything of this endpoint but the new and the previous configuration and model --
        # A cleanup problem never fails a deployment that is serving; the next run tries again.
        cleanup_done = sfn.Pass(states, "CleanupDone")
        cleanup_done.next(release)
        prune_models = self._prune(states, "Models", "listModels", "Models", "ModelName", "deleteModel", "model", cleanup_done)
        prune_configs = self._prune(
            states, "EndpointConfigs", "listEndpointConfigs", "EndpointConfigs", "EndpointConfigName", "deleteEndpointConfig", "endpoint-config", prune_models
        )
        record.next(prune_configs)

        # -- the main line --
        start.next(acquire)
        acquire.next(read_approved)
        read_approved.next(read_deployed)
        nothing_deployed.next(
            what_to_do := sfn.Choice(states, "WhatToDo")
            .when(sfn.Condition.string_equals("$.approved.Value", NONE), nothing_approved)
            .when(sfn.Condition.string_equals_json_path("$.approved.Value", "$.deployed.Value"), check_serving)
            .otherwise(describe_package)
        )
        read_deployed.next(what_to_do)
        wait_serving = sfn.Wait(states, "WaitToLookUpServingEndpoint", time=sfn.WaitTime.duration(poll_interval))
        serving_lookup_failed = sfn.Choice(states, "ServingEndpointLookup").when(
            sfn.Condition.string_matches("$.servingLookup.Cause", _ENDPOINT_MISSING), describe_package
        ).otherwise(
            counted(
                "ServingLookup",
                "$.lookups",
                _MAX_LOOKUP_ERRORS,
                fail_with(
                    "ServingLookupFailed",
                    "EndpointLookupFailed",
                    f"States.Format('DescribeEndpoint {name} failed {_MAX_LOOKUP_ERRORS + 1} times: {{}}', $.servingLookup.Cause)",
                ),
                wait_serving,
            )
        )
        wait_serving.next(check_serving)
        # The deployed-model parameter says what was last recorded, not what the endpoint serves: the endpoint may
        # be gone or Failed, or an execution may have switched it and died before recording. So the endpoint's
        # model package is compared with the approved one, and any difference is deployed.
        check_serving.add_catch(serving_lookup_failed, errors=["States.TaskFailed"], result_path="$.servingLookup")
        check_serving.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
        describe_serving_config = sagemaker_call(
            states,
            "DescribeServingConfig",
            "describeEndpointConfig",
            resources=[self._sagemaker_arn("endpoint-config", f"{name}-*")],
            parameters={"EndpointConfigName": sfn.JsonPath.string_at("$.serving.ConfigName")},
            # Whole answers here and below: a variant need not name a model, a model need not have a
            # PrimaryContainer (ResultSelector paths a response lacks raise the uncatchable States.Runtime).
            result_path="$.servingConfig",
        )
        describe_serving_model = sagemaker_call(
            states,
            "DescribeServingModel",
            "describeModel",
            resources=[self._sagemaker_arn("model", f"{name}-*")],
            # An intrinsic rather than "$.servingConfig.ProductionVariants[0].ModelName", which moto's interpreter
            # renders as a list.
            parameters={"ModelName": sfn.JsonPath.array_get_item(sfn.JsonPath.list_at("$.servingConfig.ProductionVariants[*].ModelName"), 0)},
            result_path="$.servingModel",
        )
        # What this execution cannot read (a configuration or model deleted or made by hand) is replaced.
        for lookup in (describe_serving_config, describe_serving_model):
            lookup.add_retry(**_RETRY)
            lookup.add_catch(describe_package, errors=["States.TaskFailed"], result_path="$.servingLookup")
            lookup.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
        check_serving.next(
            sfn.Choice(states, "StillServing")
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals("$.serving.Status", "Failed"),
                    sfn.Condition.string_equals("$.serving.Status", "Deleting"),
                    sfn.Condition.not_(sfn.Condition.string_matches("$.serving.ConfigName", f"{self._own_prefix}*")),
                ),
                describe_package,
            )
            .when(*unusable("ServingEndpointUnusable", "$.serving.Status"))
            .otherwise(describe_serving_config)
        )
        describe_serving_config.next(
            sfn.Choice(states, "ServingConfigNamesModel")
            .when(sfn.Condition.is_present("$.servingConfig.ProductionVariants[0].ModelName"), describe_serving_model)
            .otherwise(describe_package)
        )
        describe_serving_model.next(
            sfn.Choice(states, "ServingModelHasPackage")
            .when(
                sfn.Condition.is_present("$.servingModel.PrimaryContainer.ModelPackageName"),
                sfn.Choice(states, "ServesApprovedModel")
                .when(sfn.Condition.string_equals_json_path("$.servingModel.PrimaryContainer.ModelPackageName", "$.approved.Value"), already_deployed)
                .otherwise(describe_package),
            )
            .otherwise(describe_package)
        )
        # A package that lists the real-time instance types its model supports (a JumpStart model registered by
        # sagemaker_tiers.jumpstart does) is served only on one of them: CreateModelPackage's
        # InferenceSpecification.SupportedRealtimeInferenceInstanceTypes
        # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_InferenceSpecification.html).
        fits_instance_type: sfn.IChainable = summarize_package
        if not self.serverless:
            types_path = "$.package.InferenceSpecification.SupportedRealtimeInferenceInstanceTypes"
            type_not_supported = fail_with(
                "InstanceTypeNotSupported",
                "ModelPackageNotServable",
                f"States.Format('{{}} supports the real-time instance types {{}}; endpoint {name} runs on {self.instance_type}, so it keeps serving what it serves. Give the endpoint one of those instance types', $.package.ModelPackageArn, States.JsonToString({types_path}))",
            )
            check_type = sfn.Pass(
                states,
                "CheckInstanceTypeSupported",
                parameters={"supported.$": f"States.ArrayContains({types_path}, '{self.instance_type}')"},
                result_path="$.instanceType",
            )
            check_type.next(
                sfn.Choice(states, "SupportsInstanceType")
                .when(sfn.Condition.boolean_equals("$.instanceType.supported", False), type_not_supported)
                .otherwise(summarize_package)
            )
            fits_instance_type = (
                sfn.Choice(states, "ListsInstanceTypes").when(sfn.Condition.is_present(types_path), check_type).otherwise(summarize_package)
            )
        describe_package_call.next(
            sfn.Choice(states, "IsVersionedWithInferenceSpecification")
            .when(
                sfn.Condition.and_(
                    *(
                        sfn.Condition.is_present(f"$.package.{field}")
                        for field in ("ModelApprovalStatus", "ModelPackageGroupName", "ModelPackageVersion", "InferenceSpecification")
                    )
                ),
                fits_instance_type,
            )
            .otherwise(not_approved)
        )
        servable = (
            sfn.Choice(states, "FitsServerlessEndpoint").when(sfn.Condition.number_greater_than("$.package.Containers", 1), pipeline_on_serverless).otherwise(names)
            if self.serverless
            else names
        )
        summarize_package.next(
            sfn.Choice(states, "IsApprovedVersionOfGroup")
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals("$.package.Status", "Approved"),
                    sfn.Condition.string_equals("$.package.Group", self.group.model_package_group_name),
                ),
                servable,
            )
            .otherwise(not_approved_here)
        )
        names.next(create_model).next(create_config).next(init_polls).next(check_endpoint)
        in_service: sfn.IChainable = update_endpoint
        if self.serverless:
            # SageMaker does not update a real-time endpoint to serverless
            # (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-update.html): every UpdateEndpoint
            # would fail. Refuse before touching it, so the real-time endpoint keeps serving and the message says how.
            describe_current = sagemaker_call(
                states,
                "DescribeCurrentConfig",
                "describeEndpointConfig",
                resources=[self._sagemaker_arn("endpoint-config", f"{name}-*")],
                parameters={"EndpointConfigName": sfn.JsonPath.string_at("$.endpoint.ConfigName")},
                result_path="$.currentConfig",
            )
            describe_current.add_retry(**_RETRY)
            # A configuration that cannot be read (deleted by hand) tells nothing: the update decides.
            describe_current.add_catch(update_endpoint, errors=["States.TaskFailed"], result_path="$.currentConfigLookup")
            describe_current.add_catch(notify_failure, errors=["States.ALL"], result_path="$.error")
            refuse_switch = fail_with(
                "RealTimeToServerless",
                "EndpointTypeChangeRefused",
                f"States.Format('Endpoint {name} is real-time (configuration {{}}) and SageMaker cannot update a real-time endpoint to serverless, so it keeps serving {{}}. Delete it (aws sagemaker delete-endpoint --endpoint-name {name}; clients get errors until the next run has created it serverless, a few minutes) and start this state machine again, or give the construct another endpoint_name', $.endpoint.ConfigName, $.deployed.Value)",
            )
            describe_current.next(
                sfn.Choice(states, "CurrentEndpointIsServerless")
                .when(sfn.Condition.is_present("$.currentConfig.ProductionVariants[0].ServerlessConfig"), update_endpoint)
                .otherwise(refuse_switch)
            )
            in_service = describe_current
        check_endpoint.next(
            sfn.Choice(states, "EndpointState")
            .when(sfn.Condition.string_equals("$.endpoint.Status", "InService"), in_service)
            .when(sfn.Condition.string_equals("$.endpoint.Status", "Failed"), delete_failed)
            .when(*unusable("EndpointUnusable", "$.endpoint.Status"))
            .otherwise(wait_busy)
        )
        return start

    def _prune(
        self,
        states: Construct,
        kind: str,
        list_action: str,
        list_key: str,
        name_key: str,
        delete_action: str,
        arn_kind: str,
        after: sfn.State,
    ) -> sfn.State:
        """List this endpoint's ``kind`` (configs or models) and delete all but the current and previous one."""
        name = self.endpoint_name
        listing = sagemaker_call(
            states,
            f"List{kind}",
            list_action,
            resources=["*"],
            parameters={"NameContains": self._own_prefix, "SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": 100},
            result_selector={"Names": sfn.JsonPath.list_at(f"$.{list_key}[*].{name_key}")},
            result_path=f"$.prune{kind}",
        )
        listing.add_retry(**_RETRY)
        prune = sfn.Map(
            states,
            f"Prune{kind}",
            items_path=f"$.prune{kind}.Names",
            item_selector={
                "name": sfn.JsonPath.string_at("$$.Map.Item.Value"),
                "current": sfn.JsonPath.string_at("$.names.resource"),
                "previous": sfn.JsonPath.string_at("$.endpoint.ConfigName"),
            },
            max_concurrency=2,
            result_path=sfn.JsonPath.DISCARD,
        )
        delete = sagemaker_call(
            states,
            f"Delete{kind[:-1]}",
            delete_action,
            resources=[self._sagemaker_arn(arn_kind, f"{name}-*")],
            parameters={name_key: sfn.JsonPath.string_at("$.name")},
            result_path=sfn.JsonPath.DISCARD,
        )
        delete.add_retry(**_RETRY)
        keep = sfn.Pass(states, f"Keep{kind[:-1]}")
        prune.item_processor(
            sfn.Choice(states, f"{kind[:-1]}InUse")
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals_json_path("$.name", "$.current"),
                    sfn.Condition.string_equals_json_path("$.name", "$.previous"),
                    sfn.Condition.not_(sfn.Condition.string_matches("$.name", f"{self._own_prefix}*")),
                ),
                keep,
            )
            .otherwise(delete)
        )
        listing.add_catch(after, errors=["States.ALL"], result_path="$.cleanupError")
        prune.add_catch(after, errors=["States.ALL"], result_path="$.cleanupError")
        listing.next(prune)
        prune.next(after)
        return listing

    # -- helpers --------------------------------------------------------------------------------------------

    def _alarm(self, scope: Construct, id: str, metric: cw.Metric, description: str, action: cw.IAlarmAction, *, evaluation_periods: int) -> cw.Alarm:
        return alarm_on_any(scope, id, metric, description=description, action=action, evaluation_periods=evaluation_periods)

    def _endpoint_metric(self, metric_name: str, **props: Any) -> cw.Metric:
        return cw.Metric(
            **{
                "namespace": "AWS/SageMaker",
                "metric_name": metric_name,
                "dimensions_map": {"EndpointName": self.endpoint_name, "VariantName": VARIANT_NAME},
                "period": Duration.minutes(1),
                "statistic": "Sum",
                **props,
            }
        )

    @property
    def _own_prefix(self) -> str:
        """Start of every model and configuration name this endpoint makes, and of no other endpoint's (the names
        are lowercase, the ``V`` is not)."""
        return f"{self.endpoint_name}-V"

    def _sagemaker_arn(self, resource: str, name: str) -> str:
        return Stack.of(self).format_arn(service="sagemaker", resource=resource, resource_name=name)

    def _parameter_arn(self, name: str) -> str:
        stack = Stack.of(self)
        return f"arn:{stack.partition}:ssm:{stack.region}:{stack.account}:parameter{name}"

    def _grant_key(self, grantee: iam.IGrantable, service: str, *actions: str) -> None:
        grant_key_via(grantee, self.encryption_key, service, *actions)

    def _nag_bucket_arn(self) -> str:
        """How cdk-nag prints the bucket's ARN in a finding of this stack (a GetAtt, or the import of another stack's export)."""
        assert self.bucket is not None
        bucket_stack, own_stack = Stack.of(self.bucket), Stack.of(self)
        if bucket_stack is own_stack:
            return f"<{self._logical_id_of(self.bucket)}.Arn>"
        # export_value returns the very export the automatic cross-stack reference uses, by name.
        imported = own_stack.resolve(bucket_stack.export_value(self.bucket.bucket_arn))
        return str(imported["Fn::ImportValue"])

    @staticmethod
    def _logical_id_of(construct: IConstruct) -> str:
        child = construct.node.default_child
        return Stack.of(construct).get_logical_id(child) if child is not None else construct.node.id  # type: ignore[arg-type]
