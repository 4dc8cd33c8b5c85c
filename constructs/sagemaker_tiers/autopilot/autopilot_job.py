"""Autopilot (AutoML V2) as code: a Step Functions workflow that runs, polls, ranks and registers AutoML jobs."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from collections.abc import Callable

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from sagemaker_tiers.autopilot.problems import (
    AutopilotProblem,
    CompletionCriteria,
    DatasetFormat,
    objective_direction,
)
from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.delivery import alarm_on_any, encrypted_topic, last_stop_queue
from sagemaker_tiers.core.functions import tiers_function
from sagemaker_tiers.core.model_registration import register_model_package
from sagemaker_tiers.core.nag import acknowledge, acknowledge_outside_vpc, skip_checkov
from sagemaker_tiers.core.polling import MAX_HISTORY_EVENTS, bounded_poll, sagemaker_call
from sagemaker_tiers.core.state_values import state_path
from sagemaker_tiers.core.training_jobs import grant_pass_role
from sagemaker_tiers.core.validation import (
    require_customer_managed_key,
    ValidationError,
    is_token,
    require_duration,
    require_in_range,
    require_match,
    require_s3_prefix,
)
from sagemaker_tiers.foundation.ml_bucket import MlBucket
from sagemaker_tiers.foundation.network import SageMakerNetwork
from sagemaker_tiers.operations.runs import RunMetrics
from sagemaker_tiers.registry.model_package_group import IModelPackageGroup

HANDLERS = Path(__file__).parent / "autopilot_handlers"
#: CloudWatch namespace of the Autopilot tier's function (the leaderboard).
METRICS_NAMESPACE = "sagemaker-tiers/Autopilot"
#: AutoML job names are at most 32 characters: ``<prefix>-`` plus 12 random hex characters.
JOB_NAME_SUFFIX_LENGTH = 12
MAX_JOB_NAME_PREFIX_LENGTH = 32 - 1 - JOB_NAME_SUFFIX_LENGTH
#: Step Functions keeps at most 25,000 history events per execution (MAX_HISTORY_EVENTS); one poll costs about 13.
MAX_POLLS = 1500
#: How much longer than the completion criteria's total runtime a run waits by default before stopping the job.
DEFAULT_TIMEOUT_MARGIN = Duration.hours(1)
#: The name of a job prefix: lowercase (SageMaker lower-cases names in ARNs, which IAM matches), at most 19 characters.
JOB_NAME_PREFIX_PATTERN = r"(?=.{1,%d}\Z)[a-z0-9](-*[a-z0-9])*" % MAX_JOB_NAME_PREFIX_LENGTH

#: The distinct ``Error`` names a failed run ends with.
ERROR_JOB_FAILED = "AutopilotJobFailed"
ERROR_JOB_STOPPED = "AutopilotJobStopped"
ERROR_JOB_TIMED_OUT = "AutopilotJobTimedOut"
ERROR_NOT_CREATED = "AutopilotJobNotCreated"
ERROR_POLL_FAILED = "AutopilotJobPollFailed"
ERROR_LEADERBOARD = "AutopilotLeaderboardFailed"
ERROR_REGISTRATION = "AutopilotRegistrationFailed"
#: The secondary status of a job SageMaker stopped at ``MaxAutoMLJobRuntimeInSeconds``.
RUNTIME_REACHED = "MaxAutoMLJobRuntimeReached"


class AutopilotJob(RunMetrics, Construct):
    """Runs SageMaker Autopilot (``CreateAutoMLJobV2``) jobs from a Step Functions state machine, writes a leaderboard
    of every candidate, and registers the best one for approval.

    Why Step Functions: CloudFormation has no AutoML job resource, and SageMaker sends no AutoML job state-change
    events to EventBridge, so a job must be started by API and polled. Each execution of :attr:`state_machine`:

    1. names the job ``<job_name_prefix>-<12 random hex>`` (AutoML job names are at most 32 characters) and calls
       ``CreateAutoMLJobV2`` (AWS SDK integration) with the dataset, problem, objective, completion criteria,
       KMS-encrypted output and the security config: the network's subnets and security group, the volume KMS key
       and inter-container traffic encryption;
    2. polls ``DescribeAutoMLJobV2`` every ``poll_interval``: ``Completed`` goes on, and so does ``Stopped`` with
       secondary status ``MaxAutoMLJobRuntimeReached`` and a ``BestCandidate`` (SageMaker stops a job at
       ``MaxAutoMLJobRuntimeInSeconds`` and marks the best model trained so far:
       https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoMLJobCompletionCriteria.html); ``Failed``
       and any other ``Stopped`` fail the run (``AutopilotJobFailed``, ``AutopilotJobStopped``), and after
       ``timeout`` the job is stopped with ``StopAutoMLJob`` and the run fails with ``AutopilotJobTimedOut`` (a
       bounded loop: at most ``timeout / poll_interval`` polls, counted in the state);
    3. invokes the leaderboard function, which lists every candidate (all pages of
       ``ListCandidatesForAutoMLJob``), ranks them by the objective metric and writes ``leaderboard.json`` and
       ``leaderboard.csv`` (SSE-KMS) to ``<output_prefix><job>/leaderboard/``, and returns the locations of the
       candidate definition and data exploration notebooks and the explainability (SHAP) and model insights reports;
    4. registers SageMaker's ``BestCandidate`` (the leaderboard reports, it does not choose) with
       ``CreateModelPackage`` in ``model_package_group`` with ``PendingManualApproval``: its inference containers,
       ``ModelMetrics`` pointing at Autopilot's own model quality and explainability JSON reports of that
       candidate (which Studio's model registry renders) and metadata; the job name is the idempotency token. That
       starts the registry's approval workflow;
    5. publishes the outcome to :attr:`topic` and ends with the leaderboard, artifacts and model package ARN as
       its output. Every failure (create, poll, leaderboard, registration) is caught, notified and ends the run
       with a distinct error; alarms on failed, timed-out and aborted executions notify the same topic.

    Runs start by hand (``StartExecution``, see :meth:`grant_start_execution`), on ``schedule``, or when an object
    is created under ``dataset_prefix`` (``trigger_on_new_data``).

    Example::

        AutopilotJob(self, "Churn", bucket=bucket, dataset_prefix="datasets/churn/", output_prefix="autopilot/churn/",
                     problem=TabularProblem(target_column="churn", problem_type=TabularProblemType.BINARY_CLASSIFICATION),
                     network=network, model_package_group=group)

    :param bucket: The ML bucket holding the dataset and receiving the outputs.
    :param dataset_prefix: Key prefix of the training data, e.g. ``"datasets/churn/"``.
    :param output_prefix: Key prefix of the job outputs and leaderboards; must not overlap the dataset prefixes.
    :param problem: A :class:`TabularProblem`, :class:`TimeSeriesForecastingProblem`,
        :class:`TextClassificationProblem` or :class:`ImageClassificationProblem` (target column, problem type,
        objective metric, mode and allowed algorithms).
    :param network: The network the job's processing and training run in (its subnets and security group).
    :param model_package_group: Group the best candidate is registered in.
    :param dataset_format: ``DatasetFormat.CSV`` (default, with a header row) or ``PARQUET``; images for image
        classification (default there: ``IMAGES``).
    :param validation_prefix: Key prefix of a separate validation channel. Default: none (Autopilot splits).
    :param validation_fraction: Share of the data Autopilot holds out for validation, between 0 and 1 exclusive.
        Default: Autopilot's (0.2). Not with ``validation_prefix``; neither for time-series forecasting.
    :param completion_criteria: Candidates and runtime limits. Default: ``CompletionCriteria()`` (6 hours in all).
    :param encryption_key: Key of the outputs, volumes, logs, topic and queues. Default: the bucket's key.
    :param enable_inter_container_traffic_encryption: Encrypt traffic between training containers. Default: True.
    :param job_name_prefix: Start of every job name, 1-19 lowercase letters, digits or '-'; the roles may only touch
        jobs named ``<prefix>-*``. Default: the construct id, lower-cased and cut to 19 characters.
    :param tags: Tags of every AutoML job (at most 50). Default: none (the app's tags do not reach API-made jobs).
    :param poll_interval: Wait between two ``DescribeAutoMLJobV2`` calls, 30 seconds to 1 hour. Default: 5 minutes.
    :param timeout: How long a run waits for its job before stopping it; at least the completion criteria's
        ``max_total_runtime`` and at most ``1500 * poll_interval``. Default: ``max_total_runtime`` + 1 hour.
    :param schedule: Start a run on this schedule. Default: none.
    :param trigger_on_new_data: Start a run when an object is created under ``dataset_prefix``; the bucket must send
        its events to EventBridge (``MlBucket(event_bridge_enabled=True)``). Every matching object starts a run: upload a dataset as one object (or stage
        part files elsewhere and copy the final file in last). Default: False.
    :param topic: Topic for run outcomes and alarms. Default: a new KMS-encrypted, SSL-only topic.
    :param job_role: Execution role Autopilot runs the job with. Default: a new role that can read the dataset
        prefixes, read and write the output prefix, use the key through S3 and SageMaker, place network interfaces
        in the network, write SageMaker logs, and run Autopilot's own processing, training, transform and tuning jobs.
    :param log_retention: Retention of the state machine's and the function's logs. Default: one year.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: MlBucket,
        dataset_prefix: str,
        output_prefix: str,
        problem: AutopilotProblem,
        network: SageMakerNetwork,
        model_package_group: IModelPackageGroup,
        dataset_format: DatasetFormat | None = None,
        validation_prefix: str | None = None,
        validation_fraction: float | None = None,
        completion_criteria: CompletionCriteria | None = None,
        encryption_key: kms.IKey | None = None,
        enable_inter_container_traffic_encryption: bool = True,
        job_name_prefix: str | None = None,
        tags: Mapping[str, str] | None = None,
        poll_interval: Duration | None = None,
        timeout: Duration | None = None,
        schedule: events.Schedule | None = None,
        trigger_on_new_data: bool = False,
        topic: sns.ITopic | None = None,
        job_role: iam.IRole | None = None,
        log_retention: logs.RetentionDays = defaults.LOG_RETENTION,
    ) -> None:
        super().__init__(scope, id)
        if not isinstance(bucket, s3.Bucket):
            raise ValidationError(f"bucket must be an MlBucket (an s3.Bucket with a KMS key), got {bucket!r}")
        if not isinstance(problem, AutopilotProblem):
            raise ValidationError(
                "problem must be a TabularProblem, TimeSeriesForecastingProblem, TextClassificationProblem or "
                f"ImageClassificationProblem, got {problem!r}"
            )
        if not isinstance(network, SageMakerNetwork):
            raise ValidationError(f"network must be a SageMakerNetwork, got {network!r}")
        if not isinstance(model_package_group, IModelPackageGroup):
            raise ValidationError(f"model_package_group must be an IModelPackageGroup, got {model_package_group!r}")
        completion = completion_criteria or CompletionCriteria()
        if not isinstance(completion, CompletionCriteria):
            raise ValidationError(f"completion_criteria must be a CompletionCriteria, got {completion!r}")
        dataset_format = dataset_format or problem.formats[0]
        self._validate_data(problem, dataset_prefix, output_prefix, dataset_format, validation_prefix, validation_fraction)
        if not problem.multiple_candidates and completion.max_candidates not in (None, 1):
            raise ValidationError(
                f"completion_criteria.max_candidates must be 1 for {type(problem).__name__} (Autopilot trains one "
                f"candidate), got {completion.max_candidates}"
            )
        job_name_prefix = job_name_prefix if job_name_prefix is not None else _prefix_from_id(id)
        require_match(
            "job_name_prefix",
            job_name_prefix,
            JOB_NAME_PREFIX_PATTERN,
            f"1-{MAX_JOB_NAME_PREFIX_LENGTH} lowercase letters, digits or '-', starting and ending with a letter or "
            f"digit (AutoML job names are at most 32 characters and {JOB_NAME_SUFFIX_LENGTH + 1} go to '-<random>')",
        )
        self._validate_tags(tags or {})
        poll_interval = poll_interval or Duration.minutes(5)
        require_duration("poll_interval", poll_interval, minimum=Duration.seconds(30), maximum=Duration.hours(1))
        runtime = completion.max_total_runtime
        timeout = timeout or runtime.plus(DEFAULT_TIMEOUT_MARGIN)
        require_duration("timeout", timeout, minimum=runtime)
        self.max_polls = math.ceil(timeout.to_seconds() / poll_interval.to_seconds())
        if self.max_polls > MAX_POLLS:
            raise ValidationError(
                f"timeout must be at most {MAX_POLLS} poll intervals (Step Functions keeps {MAX_HISTORY_EVENTS:,} history events per "
                f"execution): {timeout.to_human_string()} / {poll_interval.to_human_string()} = {self.max_polls} polls; "
                "raise poll_interval or lower timeout or completion_criteria.max_total_runtime"
            )
        if not isinstance(trigger_on_new_data, bool):
            raise ValidationError(f"trigger_on_new_data must be true or false, got {trigger_on_new_data!r}")
        if trigger_on_new_data and not _event_bridge_enabled(bucket):
            raise ValidationError(
                "trigger_on_new_data needs S3 events in EventBridge: create the bucket with "
                "MlBucket(..., event_bridge_enabled=True), got a bucket without EventBridge notifications"
            )

        require_customer_managed_key("encryption_key", encryption_key, required=False)
        key = encryption_key or bucket.encryption_key
        if key is None:  # pragma: no cover - MlBucket always has a key
            raise ValidationError("encryption_key must be given for a bucket without a KMS key, got None")
        self.bucket = bucket
        self.encryption_key = key
        self.problem = problem
        self.dataset_prefix = dataset_prefix
        self.output_prefix = output_prefix
        self.job_name_prefix = job_name_prefix
        self.runs_title = f"Autopilot {job_name_prefix}"
        self.triggers_hint = "schedule or trigger_on_new_data"
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.model_package_group = model_package_group
        self.network = network
        self.objective_metric = problem.objective
        self.objective_direction = objective_direction(problem.objective)
        self._log_retention = log_retention
        stack = Stack.of(self)
        self.job_arn_pattern = stack.format_arn(
            service="sagemaker", resource="automl-job", resource_name=f"{job_name_prefix}-*"
        )

        self.topic = topic or encrypted_topic(self, "Topic", display_name="SageMaker Autopilot runs", encryption_key=key)
        self.job_role = job_role or iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"Autopilot jobs {job_name_prefix}-*: read the dataset, write outputs, run in the VPC",
        )
        self.grant_principal = self.job_role
        self._grant_job_role(network, validation_prefix)

        self.leaderboard_function = self._leaderboard_function()
        self.job_request = self._job_request(
            problem, completion, network, dataset_format, validation_prefix, validation_fraction,
            enable_inter_container_traffic_encryption, tags or {},
        )
        self.log_group = logs.LogGroup(
            self, "StateMachineLogs", encryption_key=key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        self.state_machine = sfn.StateMachine(
            self,
            "Resource",
            definition_body=sfn.DefinitionBody.from_chainable(self._definition()),
            state_machine_type=sfn.StateMachineType.STANDARD,
            # A last resort above the poll loop's own timeout, which stops the job first.
            timeout=Duration.seconds(timeout.to_seconds() + 3600),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            comment=f"Runs, polls, ranks and registers Autopilot jobs {job_name_prefix}-*",
        )
        self._grant_state_machine()

        self.dead_letter_queue: sqs.Queue | None = None
        self.schedule_rule: events.Rule | None = None
        self.new_data_rule: events.Rule | None = None
        if schedule is not None:
            self.schedule_rule = events.Rule(
                self, "Schedule", schedule=schedule, description=f"Scheduled Autopilot runs {job_name_prefix}-*",
                targets=[self._rule_target("schedule")],
            )
        if trigger_on_new_data:
            self.new_data_rule = events.Rule(
                self,
                "NewData",
                description=f"Autopilot run {job_name_prefix}-* for new data under {dataset_prefix}",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": events.Match.prefix(dataset_prefix)}},
                ),
                targets=[self._rule_target("new-data")],
            )
        self._alarms()

    # -- public API -----------------------------------------------------------------------------------------

    @property
    def output_s3_uri(self) -> str:
        """``s3://<bucket>/<output_prefix>``: Autopilot writes ``<job>/...`` below it."""
        return self.bucket.s3_uri(self.output_prefix)

    def grant_read_outputs(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` read the job outputs, notebooks and leaderboards under ``output_prefix``."""
        return self.bucket.grant_read_prefix(grantee, self.output_prefix)

    # -- validation -----------------------------------------------------------------------------------------

    @staticmethod
    def _validate_data(
        problem: AutopilotProblem,
        dataset_prefix: str,
        output_prefix: str,
        dataset_format: DatasetFormat,
        validation_prefix: str | None,
        validation_fraction: float | None,
    ) -> None:
        require_s3_prefix("dataset_prefix", dataset_prefix)
        require_s3_prefix("output_prefix", output_prefix)
        for prop, value in (("dataset_prefix", dataset_prefix), ("output_prefix", output_prefix)):
            if not is_token(value) and not value.endswith("/"):
                raise ValidationError(f"{prop} must end with '/' (a folder), got {value!r}")
        prefixes = [("dataset_prefix", dataset_prefix)]
        if validation_prefix is not None:
            require_s3_prefix("validation_prefix", validation_prefix)
            if not validation_prefix.endswith("/"):
                raise ValidationError(f"validation_prefix must end with '/' (a folder), got {validation_prefix!r}")
            if validation_prefix.startswith(dataset_prefix) or dataset_prefix.startswith(validation_prefix):
                raise ValidationError(
                    f"validation_prefix must not overlap dataset_prefix {dataset_prefix!r} (the training channel "
                    f"would read the validation data), got {validation_prefix!r}"
                )
            prefixes.append(("validation_prefix", validation_prefix))
        for prop, prefix in prefixes:
            if output_prefix.startswith(prefix) or prefix.startswith(output_prefix):
                raise ValidationError(
                    f"output_prefix must not overlap {prop} {prefix!r} (jobs would train on their own outputs), "
                    f"got {output_prefix!r}"
                )
        allowed = [f.name for f in problem.formats]
        if not isinstance(dataset_format, DatasetFormat) or dataset_format not in problem.formats:
            raise ValidationError(
                f"dataset_format for {type(problem).__name__} must be one of DatasetFormat.{', DatasetFormat.'.join(allowed)}, "
                f"got {dataset_format!r}"
            )
        if validation_prefix is not None and validation_fraction is not None:
            raise ValidationError(
                "provide either validation_prefix or validation_fraction, not both, got "
                f"{validation_prefix!r} and {validation_fraction!r}"
            )
        if not problem.accepts_validation_data and (validation_prefix is not None or validation_fraction is not None):
            raise ValidationError(
                f"{type(problem).__name__} takes neither validation_prefix nor validation_fraction (Autopilot splits "
                f"time series itself), got {validation_prefix or validation_fraction!r}"
            )
        if validation_fraction is not None:
            require_in_range("validation_fraction", validation_fraction, minimum=0.01, maximum=0.99)

    @staticmethod
    def _validate_tags(tags: Mapping[str, str]) -> None:
        if not isinstance(tags, Mapping):
            raise ValidationError(f"tags must be a mapping of tag keys to values, got {tags!r}")
        if len(tags) > 50:
            raise ValidationError(f"tags must hold at most 50 tags, got {len(tags)}")
        for tag_key, value in tags.items():
            require_match("tags", tag_key, r"(?!aws:)[\w\s.:/=+\-@]{1,128}", "keys of 1-128 letters, digits, spaces or _.:/=+-@ not starting with 'aws:'")
            require_match("tags", value, r"[\w\s.:/=+\-@]{0,256}", "values of 0-256 letters, digits, spaces or _.:/=+-@")

    # -- the job request ------------------------------------------------------------------------------------

    def _job_request(
        self,
        problem: AutopilotProblem,
        completion: CompletionCriteria,
        network: SageMakerNetwork,
        dataset_format: DatasetFormat,
        validation_prefix: str | None,
        validation_fraction: float | None,
        inter_container_encryption: bool,
        tags: Mapping[str, str],
    ) -> dict[str, Any]:
        """The ``CreateAutoMLJobV2`` parameters, the job name taken from the state (``$.run.jobName``)."""
        subnets = network.subnet_ids
        if len(subnets) > 16:
            raise ValidationError(f"network must offer at most 16 subnets (SageMaker VpcConfig), got {len(subnets)}")

        def channel(channel_type: str, prefix: str) -> dict[str, Any]:
            return {
                "ChannelType": channel_type,
                "ContentType": dataset_format.value,
                "CompressionType": "None",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": self.bucket.s3_uri(prefix)}},
            }

        channels = [channel("training", self.dataset_prefix)]
        if validation_prefix is not None:
            channels.append(channel("validation", validation_prefix))
        request: dict[str, Any] = {
            "AutoMLJobName.$": "$.run.jobName",
            "AutoMLJobInputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": self.output_s3_uri, "KmsKeyId": self.encryption_key.key_arn},
            "AutoMLProblemTypeConfig": problem.render(completion.render()),
            "AutoMLJobObjective": {"MetricName": problem.objective},
            "RoleArn": self.job_role.role_arn,
            "SecurityConfig": {
                "VolumeKmsKeyId": self.encryption_key.key_arn,
                "EnableInterContainerTrafficEncryption": inter_container_encryption,
                "VpcConfig": {"SecurityGroupIds": [network.security_group.security_group_id], "Subnets": subnets},
            },
        }
        if validation_fraction is not None:
            request["DataSplitConfig"] = {"ValidationFraction": validation_fraction}
        if tags:
            request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return request

    # -- the state machine ----------------------------------------------------------------------------------

    def _definition(self) -> sfn.IChainable:
        states = Construct(self, "States")
        uuid_part: Callable[[int], str] = lambda index: sfn.JsonPath.array_get_item(sfn.JsonPath.string_split(sfn.JsonPath.uuid(), "-"), index)  # noqa: E731
        prepare = sfn.Pass(
            states,
            "Prepare",
            comment="Name the job <prefix>-<12 random hex> (AutoML job names are at most 32 characters)",
            parameters={
                "run": {
                    "jobName": sfn.JsonPath.format(f"{self.job_name_prefix}-{{}}{{}}", uuid_part(0), uuid_part(1)),
                    "pollCount": 0,
                }
            },
        )
        create = sagemaker_call(
            states,
            "CreateAutoMLJob",
            "createAutoMLJobV2",
            resources=[self.job_arn_pattern],
            additional_iam_statements=[
                iam.PolicyStatement(actions=["sagemaker:AddTags"], resources=[self.job_arn_pattern])
            ],
            parameters=self.job_request,
            result_path=sfn.JsonPath.DISCARD,
        )
        describe = sagemaker_call(
            states,
            "DescribeAutoMLJob",
            "describeAutoMLJobV2",
            resources=[self.job_arn_pattern],
            parameters={"AutoMLJobName.$": "$.run.jobName"},
            result_path="$.job",
        )
        stop = sagemaker_call(
            states,
            "StopAutoMLJob",
            "stopAutoMLJob",
            resources=[self.job_arn_pattern],
            parameters={"AutoMLJobName.$": "$.run.jobName"},
            result_path=sfn.JsonPath.DISCARD,
        )
        leaderboard = tasks.LambdaInvoke(
            states,
            "Leaderboard",
            lambda_function=self.leaderboard_function,
            payload=sfn.TaskInput.from_object({"AutoMLJobName": sfn.JsonPath.string_at("$.run.jobName")}),
            result_selector={"result.$": "$.Payload"},
            result_path="$.leaderboard",
        )
        register = register_model_package(
            states,
            "RegisterBestCandidate",
            comment="CreateModelPackage, PendingManualApproval; the job name is the idempotency token",
            group=self.model_package_group,
            client_token=state_path("$.run.jobName"),
            description=state_path("$.leaderboard.result.ModelPackage.ModelPackageDescription"),
            inference_specification=state_path("$.leaderboard.result.ModelPackage.InferenceSpecification"),
            model_metrics=state_path("$.leaderboard.result.ModelPackage.ModelMetrics"),
            customer_metadata=state_path("$.leaderboard.result.ModelPackage.CustomerMetadataProperties"),
            retry=False,
        )
        notify_success = tasks.SnsPublish(
            states,
            "NotifySucceeded",
            topic=self.topic,
            subject="Autopilot run succeeded: best candidate registered for approval",
            message=sfn.TaskInput.from_object(
                {
                    "outcome": "Succeeded",
                    "execution": sfn.JsonPath.execution_id,
                    "jobName": sfn.JsonPath.string_at("$.run.jobName"),
                    "modelPackageArn": sfn.JsonPath.string_at("$.registration.ModelPackageArn"),
                    "bestCandidate": sfn.JsonPath.object_at("$.leaderboard.result.BestCandidate"),
                    "leaderboard": sfn.JsonPath.object_at("$.leaderboard.result.Leaderboard"),
                    "artifacts": sfn.JsonPath.object_at("$.leaderboard.result.Artifacts"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        outputs = sfn.Pass(
            states,
            "Outputs",
            comment="The run's output: what was registered and where the leaderboard and reports are",
            parameters={
                "jobName.$": "$.run.jobName",
                "modelPackageArn.$": "$.registration.ModelPackageArn",
                "objectiveMetric.$": "$.leaderboard.result.ObjectiveMetric",
                "candidateCount.$": "$.leaderboard.result.CandidateCount",
                "bestCandidate.$": "$.leaderboard.result.BestCandidate",
                "leaderboard.$": "$.leaderboard.result.Leaderboard",
                "artifacts.$": "$.leaderboard.result.Artifacts",
            },
        )
        succeeded = sfn.Succeed(states, "Succeeded")

        notify_failure = tasks.SnsPublish(
            states,
            "NotifyFailed",
            topic=self.topic,
            subject="Autopilot run failed",
            message=sfn.TaskInput.from_object(
                {
                    "outcome": "Failed",
                    "execution": sfn.JsonPath.execution_id,
                    "jobName": sfn.JsonPath.string_at("$.run.jobName"),
                    "error": sfn.JsonPath.string_at("$.failure.error"),
                    "cause": sfn.JsonPath.string_at("$.failure.cause"),
                }
            ),
            result_path=sfn.JsonPath.DISCARD,
        )
        failed = sfn.Fail(states, "Failed", error_path="$.failure.error", cause_path="$.failure.cause")
        notify_failure.next(failed)

        def failure(id: str, error: str, cause: str) -> sfn.Pass:
            return sfn.Pass(states, id, parameters={"error": error, "cause": cause}, result_path="$.failure")

        def caught(id: str, error: str) -> sfn.Pass:
            return sfn.Pass(states, id, parameters={"error": error, "cause.$": "$.error.Cause"}, result_path="$.failure")

        job_failed_reason = failure(
            "JobFailed", ERROR_JOB_FAILED,
            sfn.JsonPath.format("Autopilot job {} failed: {}", sfn.JsonPath.string_at("$.run.jobName"), sfn.JsonPath.string_at("$.job.FailureReason")),
        )
        job_failed_status = failure(
            "JobFailedWithoutReason", ERROR_JOB_FAILED,
            sfn.JsonPath.format("Autopilot job {} failed ({})", sfn.JsonPath.string_at("$.run.jobName"), sfn.JsonPath.string_at("$.job.AutoMLJobSecondaryStatus")),
        )
        job_failed = (
            sfn.Choice(states, "HasFailureReason")
            .when(sfn.Condition.is_present("$.job.FailureReason"), job_failed_reason)
            .otherwise(job_failed_status)
        )
        job_stopped = failure(
            "JobStopped", ERROR_JOB_STOPPED,
            sfn.JsonPath.format(
                "Autopilot job {} was stopped ({}) without a best candidate at its runtime limit; nothing to register",
                sfn.JsonPath.string_at("$.run.jobName"), sfn.JsonPath.string_at("$.job.AutoMLJobSecondaryStatus"),
            ),
        )
        timed_out = failure(
            "JobTimedOut", ERROR_JOB_TIMED_OUT,
            sfn.JsonPath.format(
                f"Autopilot job {{}} was still running after {self.max_polls} polls ({self.timeout.to_human_string()}); "
                "it was stopped",
                sfn.JsonPath.string_at("$.run.jobName"),
            ),
        )
        poll_failed = caught("PollFailed", ERROR_POLL_FAILED)
        for reason in (job_failed_reason, job_failed_status, job_stopped):
            reason.next(notify_failure)
        timed_out.next(stop)
        poll_failed.next(stop)
        stop.next(notify_failure)

        throttled: dict[str, Any] = {"errors": [sfn.Errors.TASKS_FAILED], "interval": Duration.seconds(10), "max_attempts": 3, "backoff_rate": 2}
        create.add_retry(**throttled)
        describe.add_retry(errors=[sfn.Errors.TASKS_FAILED], interval=Duration.seconds(15), max_attempts=5, backoff_rate=2)
        describe.add_catch(poll_failed, result_path="$.error")
        stop.add_retry(errors=[sfn.Errors.TASKS_FAILED], interval=Duration.seconds(10), max_attempts=3, backoff_rate=2)
        # The failure is notified even when the stop call fails (for example, the job ended meanwhile).
        stop.add_catch(notify_failure, result_path="$.stopError")
        leaderboard.add_retry(errors=[sfn.Errors.TASKS_FAILED], interval=Duration.seconds(5), max_attempts=2, backoff_rate=2)
        leaderboard.add_catch(caught("LeaderboardFailed", ERROR_LEADERBOARD).next(notify_failure), result_path="$.error")
        register.add_retry(errors=[sfn.Errors.TASKS_FAILED], interval=Duration.seconds(5), max_attempts=3, backoff_rate=2)
        register.add_catch(caught("RegistrationFailed", ERROR_REGISTRATION).next(notify_failure), result_path="$.error")
        notify_success.add_retry(errors=[sfn.Errors.TASKS_FAILED], interval=Duration.seconds(5), max_attempts=3, backoff_rate=2)
        notify_failure.add_retry(errors=[sfn.Errors.TASKS_FAILED], interval=Duration.seconds(5), max_attempts=3, backoff_rate=2)

        status = (
            sfn.Choice(states, "JobStatus")
            .when(sfn.Condition.string_equals("$.job.AutoMLJobStatus", "Completed"), leaderboard)
            # Stopped by SageMaker at MaxAutoMLJobRuntimeInSeconds, with the best model trained so far: finished.
            .when(
                sfn.Condition.and_(
                    sfn.Condition.string_equals("$.job.AutoMLJobStatus", "Stopped"),
                    sfn.Condition.is_present("$.job.AutoMLJobSecondaryStatus"),
                    sfn.Condition.string_equals("$.job.AutoMLJobSecondaryStatus", RUNTIME_REACHED),
                    sfn.Condition.is_present("$.job.BestCandidate.CandidateName"),
                ),
                leaderboard,
            )
            .when(sfn.Condition.string_equals("$.job.AutoMLJobStatus", "Failed"), job_failed)
            .when(sfn.Condition.string_equals("$.job.AutoMLJobStatus", "Stopped"), job_stopped)
        )
        # At most max_polls polls: the counter starts at 0 in Prepare, counts every unfinished status.
        wait = bounded_poll(
            states,
            describe=describe,
            status=status,
            interval=self.poll_interval,
            limit=self.max_polls,
            inclusive=True,
            on_limit=timed_out,
            counter="$.run.pollCount",
            keep=["jobName"],
            wait_id="WaitForJob",
            count_id="CountPoll",
            limit_id="PollBudgetLeft",
        )
        # A retried create whose first attempt went through finds its own job: poll it instead of failing.
        create.add_catch(wait, errors=["SageMaker.ResourceInUseException"], result_path="$.error")
        create.add_catch(caught("CreateFailed", ERROR_NOT_CREATED).next(notify_failure), result_path="$.error")
        leaderboard.next(register).next(notify_success).next(outputs).next(succeeded)
        return prepare.next(create).next(wait)

    # -- permissions ----------------------------------------------------------------------------------------

    def _grant_job_role(self, network: SageMakerNetwork, validation_prefix: str | None) -> None:
        role = self.job_role
        stack = Stack.of(self)
        self.bucket.grant_read_prefix(role, self.dataset_prefix)
        if validation_prefix is not None:
            self.bucket.grant_read_prefix(role, validation_prefix)
        self.bucket.grant_read_write_prefix(role, self.output_prefix)
        # Output and volume encryption through SageMaker only (exact actions: no GenerateDataKey* / ReEncrypt*).
        iam.Grant.add_to_principal(
            grantee=role,
            actions=[
                "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
            ],
            resource_arns=[self.encryption_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"sagemaker.{stack.region}.amazonaws.com"}},
        )
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["kms:CreateGrant"],
            resource_arns=[self.encryption_key.key_arn],
            conditions={
                "StringEquals": {"kms:ViaService": f"sagemaker.{stack.region}.amazonaws.com"},
                "Bool": {"kms:GrantIsForAWSResource": "true"},
            },
        )
        # The job's containers get network interfaces in the network's subnets and security group only.
        ec2_arn: Callable[[str, str], str] = lambda kind, name: stack.format_arn(service="ec2", resource=kind, resource_name=name)  # noqa: E731
        iam.Grant.add_to_principal(
            grantee=role,
            actions=[
                "ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface", "ec2:DeleteNetworkInterfacePermission",
            ],
            resource_arns=[
                *(ec2_arn("subnet", subnet) for subnet in network.subnet_ids),
                ec2_arn("security-group", network.security_group.security_group_id),
                ec2_arn("network-interface", "*"),
            ],
        )
        iam.Grant.add_to_principal(
            grantee=role,
            actions=[
                "ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets", "ec2:DescribeVpcs",
            ],
            resource_arns=["*"],
        )
        # Autopilot runs its data processing, training, tuning, transform and explainability steps as jobs of its
        # own naming, with this role, inside the same security config.
        child_jobs = [
            stack.format_arn(service="sagemaker", resource=kind, resource_name="*")
            for kind in ("processing-job", "training-job", "transform-job", "hyper-parameter-tuning-job", "model")
        ]
        iam.Grant.add_to_principal(
            grantee=role,
            actions=[
                "sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob",
                "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                "sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob",
                "sagemaker:CreateHyperParameterTuningJob", "sagemaker:DescribeHyperParameterTuningJob",
                "sagemaker:StopHyperParameterTuningJob", "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                "sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel",
                "sagemaker:AddTags", "sagemaker:ListTags",
            ],
            resource_arns=child_jobs,
        )
        iam.Grant.add_to_principal(grantee=role, actions=["sagemaker:DescribeAutoMLJobV2"], resource_arns=[self.job_arn_pattern])
        _grant_list_candidates(role)
        log_group = stack.format_arn(
            service="logs", resource="log-group", resource_name="/aws/sagemaker/*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            resource_arns=[log_group],
        )
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["cloudwatch:PutMetricData"],
            resource_arns=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
        )
        # Autopilot passes the role on to its own jobs: only this role, only to SageMaker.
        grant_pass_role(role, role)
        if isinstance(role, Construct):
            self._acknowledge_job_role(role)

    def _acknowledge_job_role(self, role: Construct) -> None:
        reasons = {
            "Resource::*": "EC2 Describe* calls for VPC placement, sagemaker:ListCandidatesForAutoMLJob and "
            "cloudwatch:PutMetricData (limited to the /aws/sagemaker/* namespaces by condition) support no "
            "resource-level permission.",
            "Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*": "Network "
            "interfaces are created per job container with generated IDs; creation is limited to the network's "
            "subnets and security group.",
            "Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/*": "SageMaker "
            "jobs log to fixed /aws/sagemaker/<JobType> groups with one stream per generated job; no other group.",
        }
        for kind in ("processing-job", "training-job", "transform-job", "hyper-parameter-tuning-job", "model"):
            reasons[f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:{kind}/*"] = (
                f"Autopilot names the {kind} resources of its candidates itself (derived, not settable); only this "
                "role's Autopilot jobs create them."
            )
        reasons[self._nag_job_arn()] = self._job_arn_reason()
        for applies_to, reason in reasons.items():
            acknowledge(role, "AwsSolutions-IAM5", reason, applies_to=applies_to)
        for applies_to in self._bucket_findings([self.dataset_prefix, self.output_prefix]):
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "Autopilot reads every object of the dataset prefix and writes generated keys under the output "
                "prefix; access is limited to those prefixes.",
                applies_to=applies_to,
            )

    def _grant_state_machine(self) -> None:
        role = self.state_machine.role
        grant_pass_role(role, self.job_role)
        self.model_package_group.grant_register(role)
        # SNS encrypts the message with the topic's key on the publisher's behalf.
        iam.Grant.add_to_principal(
            grantee=role,
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resource_arns=[self.encryption_key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"sns.{Stack.of(self).region}.amazonaws.com"}},
        )
        acknowledge(role, "AwsSolutions-IAM5", self._job_arn_reason(), applies_to=self._nag_job_arn())
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Step Functions log delivery (logs:*LogDelivery, DescribeResourcePolicies, DescribeLogGroups) and X-Ray "
            "trace writes support no resource-level permission, so CDK grants them on Resource '*'.",
            applies_to="Resource::*",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "CDK's LambdaInvoke grants the function and its versions ('<arn>:*'); the state machine invokes only "
            "the unqualified leaderboard function.",
            applies_to=f"Resource::<{Stack.of(self).get_logical_id(self.leaderboard_function.node.default_child)}.Arn>:*",  # type: ignore[arg-type]
        )

    # -- building blocks ------------------------------------------------------------------------------------

    def _leaderboard_function(self) -> lambda_.Function:
        scope = Construct(self, "Leaderboard")
        log_group = logs.LogGroup(
            scope, "Logs", encryption_key=self.encryption_key, retention=self._log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Leaderboard of Autopilot jobs {self.job_name_prefix}-*",
        )
        fn = tiers_function(
            scope,
            "Function",
            code_dir=HANDLERS,
            handler="autopilot_leaderboard.handler",
            description="Ranks every candidate of an Autopilot job, writes the leaderboard, prepares SageMaker's best candidate for registration",
            role=role,
            log_group=log_group,
            memory_size=512,
            timeout=Duration.minutes(5),
            metrics_namespace=METRICS_NAMESPACE,
            service=self.node.path,
            environment={
                "OUTPUT_BUCKET": self.bucket.bucket_name,
                "OUTPUT_PREFIX": self.output_prefix,
                "KMS_KEY_ARN": self.encryption_key.key_arn,
                "JOB_NAME_PREFIX": self.job_name_prefix,
            },
            environment_encryption=self.encryption_key,
        )
        log_group.grant_write(role)
        self.bucket.grant_write_prefix(role, self.output_prefix)
        # It finds Autopilot's JSON reports by listing their prefixes under the output prefix; it reads no object.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self.bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{self.output_prefix}*"]}},
            )
        )
        fn.add_to_role_policy(iam.PolicyStatement(actions=["sagemaker:DescribeAutoMLJobV2"], resources=[self.job_arn_pattern]))
        _grant_list_candidates(role)
        acknowledge(role, "AwsSolutions-IAM5", self._job_arn_reason(), applies_to=self._nag_job_arn())
        for applies_to in self._bucket_findings([self.output_prefix]):
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "The function writes leaderboard files under <output_prefix><job>/leaderboard/ of jobs named at run "
                "time; it may write nowhere else in the bucket.",
                applies_to=applies_to,
            )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "X-Ray's PutTraceSegments/PutTelemetryRecords and SageMaker's ListCandidatesForAutoMLJob support no "
            "resource-level permission (IAM requires Resource '*'); CDK's tracing grant and the leaderboard use it.",
            applies_to="Resource::*",
        )
        sync_reason = (
            "The state machine invokes the function synchronously, retries it and catches its failure into a "
            "notified, failed run; a DLQ or on-failure destination only applies to asynchronous invocations."
        )
        acknowledge(fn, "Serverless-LambdaDLQ", sync_reason)
        skip_checkov(fn, "CKV_AWS_116", sync_reason)
        acknowledge_outside_vpc(
            fn,
            "The function calls only AWS APIs (SageMaker, S3) over TLS with IAM; it reaches no VPC resource, and a "
            "VPC would need NAT or interface endpoints.",
        )
        skip_checkov(
            fn,
            "CKV_AWS_115",
            "Invoked once per Autopilot run by the state machine only; reserving concurrency would take it from the "
            "account's pool, which new accounts do not have.",
        )
        return fn

    def _rule_target(self, trigger: str) -> targets.SfnStateMachine:
        if self.dead_letter_queue is None:
            self.dead_letter_queue = last_stop_queue(
                self, "TriggerDeadLetterQueue", encryption_key=self.encryption_key, holds="trigger events that could not start a run"
            )
        return targets.SfnStateMachine(
            self.state_machine,
            input=events.RuleTargetInput.from_object({"trigger": trigger}),
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=185,
            max_event_age=Duration.hours(24),
        )

    def _alarms(self) -> None:
        alarms = Construct(self, "Alarms")
        action = cw_actions.SnsAction(self.topic)
        specs = [
            ("ExecutionsFailed", self.metric_executions_failed(), "Autopilot runs failed (see the topic's failure notices)"),
            ("ExecutionsTimedOut", self.metric_executions_timed_out(), "Autopilot runs outlived the state machine timeout"),
            ("ExecutionsAborted", self.metric_executions_aborted(), "Autopilot runs were stopped; stop their AutoML jobs too"),
            (
                "LeaderboardErrors",
                self.leaderboard_function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                "The Autopilot leaderboard function raised errors",
            ),
        ]
        if self.dead_letter_queue is not None:
            specs.append(
                (
                    "TriggerDeadLetters",
                    self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
                    "Scheduled or new-data triggers could not start an Autopilot run (see the dead-letter queue)",
                )
            )
        self.alarms: dict[str, cw.Alarm] = {
            alarm_id: alarm_on_any(alarms, alarm_id, metric, description=description, action=action)
            for alarm_id, metric, description in specs
        }

    # -- cdk-nag findings -----------------------------------------------------------------------------------

    def _nag_job_arn(self) -> str:
        return f"Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:automl-job/{self.job_name_prefix}-*"

    def _job_arn_reason(self) -> str:
        return (
            f"AutoML jobs are named '{self.job_name_prefix}-<random>' per run; IAM can only name them by this "
            "construct's job name prefix."
        )

    def _bucket_findings(self, prefixes: list[str]) -> list[str]:
        """How cdk-nag prints the bucket object ARNs that the prefix grants create."""
        bucket = _nag_ref(self, self.bucket)
        return [f"Resource::{bucket}/{prefix}*" for prefix in prefixes]


def _nag_ref(scope: Construct, bucket: s3.IBucket) -> str:
    """How cdk-nag prints ``bucket.bucket_arn`` in a policy of ``scope``'s stack: ``<Logical.Arn>`` in the same
    stack, else the name of the export the reference becomes (``Stack.export_value`` makes the same export that
    CDK's automatic cross-stack reference makes, and tells its name)."""
    owner = Stack.of(bucket)
    logical = owner.get_logical_id(bucket.node.default_child)  # type: ignore[arg-type]
    if owner is Stack.of(scope):
        return f"<{logical}.Arn>"
    imported = Stack.of(scope).resolve(owner.export_value(bucket.bucket_arn))
    return str(imported["Fn::ImportValue"])


def _grant_list_candidates(grantee: iam.IGrantable) -> iam.Grant:
    """ListCandidatesForAutoMLJob: IAM defines no resource type for it, so only ``Resource: "*"`` can allow it.

    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html
    """
    return iam.Grant.add_to_principal(grantee=grantee, actions=["sagemaker:ListCandidatesForAutoMLJob"], resource_arns=["*"])


def _prefix_from_id(id: str) -> str:
    prefix = re.sub(r"[^a-z0-9]+", "-", id.lower()).strip("-")[:MAX_JOB_NAME_PREFIX_LENGTH].strip("-")
    return prefix or "autopilot"


def _event_bridge_enabled(bucket: s3.Bucket) -> bool:
    """Whether the bucket sends its events to EventBridge (``MlBucket(event_bridge_enabled=True)`` sets it on the L1)."""
    cfn = bucket.node.default_child
    config = cfn.notification_configuration if isinstance(cfn, s3.CfnBucket) else None
    event_bridge = getattr(config, "event_bridge_configuration", None)
    return bool(getattr(event_bridge, "event_bridge_enabled", False))
