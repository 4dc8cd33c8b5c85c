"""The Training Job tier: a bring-your-own-image SageMaker training job, run by Step Functions, registered for approval.

CloudFormation has no resource for a training job (a job is a run, not infrastructure), and CDK's
``SageMakerCreateTrainingJob`` task renders no spot, checkpoint, retry-strategy, warm-pool or remote-debug settings.
So :class:`TrainingPipeline` deploys a Step Functions state machine whose ``CreateTrainingJob`` request is rendered
here in full, and everything around it: the execution role, the triggers, the alarms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

from aws_cdk import Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
import jsii
from constructs import Construct, IConstruct, IValidation

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.delivery import alarm_on_any, encrypted_topic, last_stop_queue
from sagemaker_tiers.core.model_registration import inference_specification, model_container, register_model_package, require_mime_types
from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.run_failure import notify_then_fail
from sagemaker_tiers.core.state_values import state_path
from sagemaker_tiers.core.training_jobs import (
    COMPRESSIONS as COMPRESSIONS,
    DISTRIBUTIONS as DISTRIBUTIONS,
    INPUT_MODES as INPUT_MODES,
    MAX_RUNTIME_LIMIT as _MAX_RUNTIME_LIMIT,
    SYNC_RULE_NAME as SYNC_RULE_NAME,
    TRAINING_LOG_GROUP as TRAINING_LOG_GROUP,
    create_training_job_task,
    default_max_wait,
    describe_training_job_task,
    grant_create_training_jobs,
    grant_training_execution_role,
    training_channel,
    training_job_arn_pattern,
    training_job_request,
    training_log_group_arn,
    validate_environment as _validate_environment,
    validate_hyperparameters as _validate_hyperparameters,
    validate_metric_definitions as _validate_metric_definitions,
    validate_tags as _validate_tags,
)
from sagemaker_tiers.core.validation import (
    require_whole_seconds as _require_whole_seconds,
    ValidationError,
    is_token,
    require_duration,
    require_int_in_range,
    require_match,
    require_one_of,
    require_s3_folder,
    require_s3_prefix,
    require_unique,
)
from sagemaker_tiers.foundation import MlBucket, MlEncryptionKey, SageMakerNetwork
from sagemaker_tiers.operations.runs import RunMetrics
from sagemaker_tiers.registry.model_package_group import IModelPackageGroup
from sagemaker_tiers.training.image_labels import SERVES_LABEL, dockerfile_serves
from sagemaker_tiers.training.instance_types import (
    has_instance_storage,
    require_training_instance_type,
    require_training_instance_types,
)

Completion = Literal["sync", "poll"]
#: Keys a run's input may carry (see :class:`TrainingPipeline`, "Starting a run").
RUN_INPUT_KEYS: tuple[str, ...] = ("hyperparameters", "instanceType", "instanceCount", "trigger")
#: Error name of every input the state machine rejects before a job starts.
INVALID_INPUT_ERROR = "TrainingPipeline.InvalidInput"
REPORT_NAME = "training-report.json"

_JOB_PREFIX = r"[a-z0-9](-*[a-z0-9]){0,23}"
#: An ECR image URI with a tag or a digest (what ``image_uri`` accepts).
IMAGE_URI_PATTERN = (
    r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9]+([._/-][a-z0-9]+)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})"
)


@dataclass(frozen=True)
class TrainingChannel:
    """One input channel of the training job: objects under ``prefix`` of the pipeline's bucket.

    The container finds them in ``/opt/ml/input/data/<name>/``.

    :param name: Channel name, 1-64 letters, digits, '.', '-' or '_' (``train``, ``validation``).
    :param prefix: Key prefix in the bucket, such as ``datasets/churn/train/``. The execution role may read it.
    :param content_type: MIME type passed to the container. Default: none.
    :param input_mode: ``File``, ``FastFile`` or ``Pipe``. Default: the pipeline's ``input_mode``.
    :param distribution: ``FullyReplicated`` (every instance gets all objects) or ``ShardedByS3Key`` (each of
        ``instance_count`` instances gets a share: distributed training). Default: ``FullyReplicated``.
    :param compression: ``None`` or ``Gzip`` (Pipe mode). Default: ``None``.
    """

    name: str
    prefix: str
    content_type: str | None = None
    input_mode: str | None = None
    distribution: str = "FullyReplicated"
    compression: str = "None"


class TrainingPipeline(RunMetrics, Construct):
    """Train a model from your Docker image on SageMaker, then register it for approval: on demand, on a
    schedule or when new data lands.

    **Why Step Functions.** A training job is a run, not infrastructure: CloudFormation has no resource for one,
    and CDK's ``SageMakerCreateTrainingJob`` task renders no spot, checkpoint, retry strategy or warm pool. The
    pipeline is a state machine that renders the whole ``CreateTrainingJob`` request itself:

    1. **Validate the run's input** (Choice and Pass states, before anything is created): overrides of declared
       hyperparameters, ``instanceType`` from ``allowed_instance_types``, ``instanceCount`` up to
       ``max_instance_count``. Anything else fails the run with ``TrainingPipeline.InvalidInput``.
    2. **Create the training job** with a unique name ``<job_name_prefix>-<md5 of the execution ARN>-<attempt>``:
       in the VPC's private subnets and security group, network isolation on, inter-container traffic encrypted,
       volume (EBS types) and output encrypted with the customer key, ``StoppingCondition``, and as configured
       spot with checkpoints (``MaxWaitTimeInSeconds``), ``RetryStrategy``, warm pool, remote debug, tags.
       ``ThrottlingException`` and ``ResourceLimitExceeded`` are retried with exponential backoff.
    3. **Wait for it.** ``completion="sync"`` (default, production) uses ``createTrainingJob.sync``: Step
       Functions waits through its managed EventBridge rule, with no polling transitions, and stops the
       training job when the execution is stopped. ``completion="poll"`` renders the SAME request with the
       request-response ``createTrainingJob`` and a bounded ``DescribeTrainingJob``/Wait loop every
       ``poll_interval``; it is a legitimate production design too (no managed rule), and the one moto's Step
       Functions interpreter can run, which the tests use. Either way a ``DescribeTrainingJob`` reads the final
       state. A job that failed with ``CapacityError`` is retried as a new job (attempt + 1) after
       ``capacity_retry_interval``, doubling, up to ``capacity_retries`` times; checkpoints are kept per run, so
       a retried spot job resumes from them.
    4. **Record and register.** A JSON training report (hyperparameters, final metrics, job, image, trigger) is
       written next to the model artifact, then ``CreateModelPackage`` adds a version with
       ``PendingManualApproval`` to ``model_package_group``: the model artifact, the inference image, the report
       as ``ModelMetrics.ModelQuality.Statistics``, and ``CustomerMetadataProperties`` (execution ARN, training job,
       training image, instance type and count). That starts the registry's approval workflow. Hyperparameters
       and metrics are in the report rather than in the metadata: SageMaker limits metadata values to 256
       letters, digits, spaces and ``_.:/=+-@``, which arbitrary hyperparameter values and JSON do not fit.
    5. **On any failure** the error is published to ``notification_topic`` and the run ends in a Fail state with
       the error that stopped it (``TrainingPipeline.InvalidInput``, ``SageMaker.TrainingJobFailed``, ...).

    The state machine logs ALL events with execution data to a KMS-encrypted log group and is traced with X-Ray.
    Alarms on failed and timed-out executions (and on undeliverable trigger events) notify the topic.

    **Permissions.** The execution role SageMaker assumes may read the channel prefixes, write the output prefix,
    read and write the checkpoint prefix, use the key only through SageMaker, pull the image from its repository
    (nothing for a SageMaker-provided ``image_uri``), write ``/aws/sagemaker/TrainingJobs`` log streams of this
    pipeline's jobs, put metrics in that namespace only, and manage the job's network interfaces in this VPC. The
    state machine's role may create, describe and tag (and with ``.sync`` stop) only ``<job_name_prefix>-*`` jobs,
    with explicit denies for jobs outside the pipeline's subnets, security group or instance types or without
    network isolation; pass the execution role to SageMaker only; register pending versions in the group; write
    ``training-report.json`` files; publish to the topic.

    **Starting a run.** ``aws stepfunctions start-execution --state-machine-arn ... --input '{...}'`` with an
    input of at most these keys (all optional; ``{}`` runs the defaults)::

        {"hyperparameters": {"l2": "0.5"}, "instanceType": "ml.m5.2xlarge", "instanceCount": 2,
         "trigger": {"by": "alice"}}

    Hyperparameter values are strings and only the names declared in ``hyperparameters`` may be overridden.
    The schedule and new-data triggers start runs with ``{"trigger": {...}}`` only.

    Example::

        pipeline = TrainingPipeline(self, "Churn",
            bucket=foundation.bucket, encryption_key=foundation.key, network=foundation.network,
            model_package_group=registry.groups["example-churn"],
            image_directory="path/to/folder-with-Dockerfile",
            input_channels=[TrainingChannel("train", "datasets/churn/train/")],
            output_prefix="models/churn/",
            notification_topic=registry.workflow.topic)

    :param bucket: The ML bucket holding the input channels, the output and the checkpoints.
    :param encryption_key: Customer-managed key for the job's volume and output, the log group and a new topic.
    :param network: Subnets and security group the job runs in.
    :param model_package_group: Group that receives a version, pending approval, per successful run.
    :param image_directory: Folder with a Dockerfile, built and published at deploy time as an image asset.
    :param repository: An existing ECR repository holding the image (with ``tag``).
    :param tag: Image tag in ``repository``, or an image digest ``sha256:<64 hex>``. Required with
        ``repository``.
    :param image_uri: A SageMaker-provided image URI (``<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>``),
        pulled by SageMaker without ECR permissions on the role. Exactly one of ``image_directory``,
        ``repository`` and ``image_uri`` is required.
    :param inference_image_uri: Image registered for inference. Default: the training image, which must then
        answer SageMaker's hosting contract (``serve``: ``/ping`` and ``/invocations`` on port 8080).
    :param image_serves: Whether the training image also serves (SageMaker runs it as ``docker run <image>
        serve``). ``False`` without ``inference_image_uri`` fails at synth: every approved version would become a
        Failed endpoint. Default: the ``LABEL sagemaker-tiers.serves="true|false"`` of ``image_directory``'s
        Dockerfile (:data:`SERVES_LABEL`); unknown (not checked) when the Dockerfile has no such label or the image
        comes from ``repository`` or ``image_uri``.
    :param input_channels: 1-20 :class:`TrainingChannel` (distinct names).
    :param output_prefix: Key prefix (a folder ending in ``/``) the model artifacts and the training reports go to.
    :param checkpoint_prefix: Key prefix (ending in ``/``) for checkpoints (each run gets ``<prefix><run id>/``). Required with
        ``use_spot``. Default: no checkpoints.
    :param checkpoint_local_path: Where the container writes checkpoints. Default: ``/opt/ml/checkpoints``.
    :param instance_type: Default training instance type (``ml.*``). Default: ``ml.m5.xlarge``.
    :param instance_count: Default number of instances, 1-1000; more than one is distributed training.
        Default: 1.
    :param allowed_instance_types: Types a run may choose in its input. They must all have local NVMe storage or
        all not (the volume key is sent only for EBS-backed types). Default: ``[instance_type]`` only.
    :param max_instance_count: Largest ``instanceCount`` a run may ask for. Default: ``instance_count``.
    :param volume_size_gb: EBS volume per instance, 1-16384 GB (ignored by SageMaker for NVMe types).
        Default: 30.
    :param input_mode: ``File``, ``FastFile`` or ``Pipe``. Default: ``File``.
    :param max_runtime: ``StoppingCondition.MaxRuntimeInSeconds``, 1 second to 28 days. Default: 1 day.
    :param use_spot: Managed spot training (needs ``checkpoint_prefix``). Default: False.
    :param max_wait: ``MaxWaitTimeInSeconds``: spot wait plus run time, at least ``max_runtime``. Only with
        ``use_spot``. Default: twice ``max_runtime`` with spot.
    :param hyperparameters: Default hyperparameters, at most 100: names of 1-128 letters, digits, '_', '.' or '-'
        starting with a letter or '_' (so no name can read as a JSONPath), string values of at most 2500
        characters without control characters. Runs may override these names only. Default: none.
    :param environment: Container environment, at most 100 variables. Default: none.
    :param metric_definitions: Metric name -> regex with one capture group over the job's log, at most 40
        (``{"validation:rmse": r"validation:rmse=([0-9.eE+-]+)"}``). Default: none.
    :param enable_network_isolation: No network access from the container. Default: True.
    :param inter_container_traffic_encryption: Encrypt traffic between instances of a distributed job.
        Default: True.
    :param max_retry_attempts: ``RetryStrategy.MaximumRetryAttempts`` (SageMaker retries a job that fails with an
        internal server error), 0-30; 0 sends no retry strategy. Default: 2.
    :param keep_alive: Warm pool: keep the instances this long after the job for the next matching job,
        1 second to 6 hours (billed while kept). Not with spot. Default: no warm pool.
    :param enable_remote_debug: SSM access into the running container (needs network access: not with network
        isolation). Default: False.
    :param tags: Tags of every training job. Default: none.
    :param job_name_prefix: Prefix of training job names and of the IAM resource scope, 1-24 lowercase letters,
        digits or '-'. Default: derived from the construct path.
    :param completion: ``"sync"`` or ``"poll"`` (see above). Default: ``"sync"``.
    :param poll_interval: Wait between ``DescribeTrainingJob`` calls with ``completion="poll"``, 1 second to
        1 hour. Default: 1 minute.
    :param capacity_retries: New attempts after a ``CapacityError``, 0-10. Default: 2.
    :param capacity_retry_interval: Wait before the first of them (doubling), 1 second to 1 hour.
        Default: 5 minutes.
    :param supported_content_types: Registered inference request types. Default: ``["text/csv"]``.
    :param supported_response_mime_types: Registered inference response types. Default: ``["text/csv"]``.
    :param notification_topic: Topic for failure notifications and alarms. The state machine may use the topic's
        KMS key through SNS when the topic knows it (``sns.Topic(master_key=...)``); for an imported encrypted
        topic, grant that yourself. Default: a new topic encrypted with ``encryption_key``, SSL-only (subscribe to
        it).
    :param schedule: Start a run on this schedule (an EventBridge rule with retries and a dead-letter queue).
        Default: no schedule.
    :param trigger_on_new_data_prefix: Start a run when an object whose key starts with this prefix and ends
        with ``new_data_suffix`` is created in ``bucket`` (the bucket must send events to EventBridge:
        ``MlBucket(..., event_bridge_enabled=True)``). Default: no such trigger.
    :param new_data_suffix: Key suffix of the object that starts a run, so uploading a dataset of many objects
        starts one run (write the marker last). Empty string: every object starts a run. Default: ``_SUCCESS``.
    :param role: Execution role SageMaker assumes. Default: a new role with exactly the permissions below.
    :param log_retention: Retention of the state machine's log group. Default: one year.

    Attributes: ``state_machine`` (also ``node.default_child``), ``role`` and ``grant_principal`` (the execution
    role), ``topic``, ``log_group``, ``image_uri``, ``inference_image_uri``, ``image_asset`` and ``repository``
    (when the image comes from one), ``training_job_request`` (the rendered request), ``job_name_prefix``,
    ``alarms``, and with triggers ``schedule_rule``, ``new_data_rule``, ``dead_letter_queue``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: MlBucket,
        encryption_key: MlEncryptionKey,
        network: SageMakerNetwork,
        model_package_group: IModelPackageGroup,
        input_channels: Sequence[TrainingChannel],
        output_prefix: str,
        image_directory: str | Path | None = None,
        repository: ecr.IRepository | None = None,
        tag: str | None = None,
        image_uri: str | None = None,
        inference_image_uri: str | None = None,
        image_serves: bool | None = None,
        checkpoint_prefix: str | None = None,
        checkpoint_local_path: str = "/opt/ml/checkpoints",
        instance_type: str = "ml.m5.xlarge",
        instance_count: int = 1,
        allowed_instance_types: Sequence[str] | None = None,
        max_instance_count: int | None = None,
        volume_size_gb: int = 30,
        input_mode: str = "File",
        max_runtime: Duration | None = None,
        use_spot: bool = False,
        max_wait: Duration | None = None,
        hyperparameters: Mapping[str, str] | None = None,
        environment: Mapping[str, str] | None = None,
        metric_definitions: Mapping[str, str] | None = None,
        enable_network_isolation: bool = True,
        inter_container_traffic_encryption: bool = True,
        max_retry_attempts: int = 2,
        keep_alive: Duration | None = None,
        enable_remote_debug: bool = False,
        tags: Mapping[str, str] | None = None,
        job_name_prefix: str | None = None,
        completion: Completion = "sync",
        poll_interval: Duration | None = None,
        capacity_retries: int = 2,
        capacity_retry_interval: Duration | None = None,
        supported_content_types: Sequence[str] = ("text/csv",),
        supported_response_mime_types: Sequence[str] = ("text/csv",),
        notification_topic: sns.ITopic | None = None,
        schedule: events.Schedule | None = None,
        trigger_on_new_data_prefix: str | None = None,
        new_data_suffix: str = "_SUCCESS",
        role: iam.IRole | None = None,
        log_retention: logs.RetentionDays = defaults.LOG_RETENTION,
    ) -> None:
        super().__init__(scope, id)
        max_runtime = max_runtime or Duration.days(1)
        poll_interval = poll_interval or Duration.minutes(1)
        capacity_retry_interval = capacity_retry_interval or Duration.minutes(5)
        hyperparameters = dict(hyperparameters or {})
        environment = dict(environment or {})
        metric_definitions = dict(metric_definitions or {})
        tags = dict(tags or {})

        # -- validation: everything that can be wrong fails here, at synth --------------------------------
        _require_instance("bucket", bucket, MlBucket, "an MlBucket (its prefix grants scope the role)")
        _require_instance("encryption_key", encryption_key, MlEncryptionKey, "an MlEncryptionKey")
        _require_instance("network", network, SageMakerNetwork, "a SageMakerNetwork")
        if not isinstance(model_package_group, IModelPackageGroup):
            raise ValidationError(f"model_package_group must be an IModelPackageGroup, got {model_package_group!r}")
        for prop, value in (
            ("use_spot", use_spot),
            ("enable_network_isolation", enable_network_isolation),
            ("inter_container_traffic_encryption", inter_container_traffic_encryption),
            ("enable_remote_debug", enable_remote_debug),
        ):
            if not isinstance(value, bool):
                raise ValidationError(f"{prop} must be True or False, got {value!r}")
        sources = {
            "image_directory": image_directory,
            "repository": repository,
            "image_uri": image_uri,
        }
        given = [name for name, value in sources.items() if value is not None]
        if len(given) != 1:
            raise ValidationError(
                "exactly one image source must be given: image_directory (a folder with a Dockerfile), repository "
                f"with tag, or image_uri; got {' and '.join(given) if given else 'none'}"
            )
        if repository is not None and not hasattr(repository, "repository_uri_for_tag"):
            raise ValidationError(f"repository must be an aws_ecr.IRepository, got {repository!r}")
        if tag is not None and repository is None:
            raise ValidationError(f"tag is only used with repository, got tag={tag!r} without a repository")
        if repository is not None:
            if tag is None:
                raise ValidationError("tag must be given with repository (an image tag or 'sha256:<digest>'), got None")
            require_match(
                "tag",
                tag,
                r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|sha256:[0-9a-f]{64}",
                "an image tag (letters, digits, '_', '.', '-', at most 128) or a digest 'sha256:<64 hex digits>'",
            )
        if image_directory is not None:
            folder = Path(image_directory)
            if not (folder / "Dockerfile").is_file():
                raise ValidationError(f"image_directory must be a folder containing a Dockerfile, got {str(image_directory)!r}")
        if image_uri is not None:
            require_match("image_uri", image_uri, IMAGE_URI_PATTERN, "an ECR image URI '<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>' or '@sha256:<digest>'")
        if inference_image_uri is not None:
            require_match("inference_image_uri", inference_image_uri, r"[^\s]{1,255}", "an image URI of at most 255 characters without spaces")
        if image_serves is not None and not isinstance(image_serves, bool):
            raise ValidationError(f"image_serves must be True, False or None, got {image_serves!r}")
        serves, declared_by = image_serves, "image_serves=False"
        if serves is None and image_directory is not None:
            serves, declared_by = dockerfile_serves(Path(image_directory) / "Dockerfile"), f'its Dockerfile (LABEL {SERVES_LABEL}="false")'
        if serves is False and inference_image_uri is None:
            raise ValidationError(
                f"inference_image_uri is required: the training image cannot serve (declared by {declared_by}), and "
                "SageMaker hosts the registered image as `docker run <image> serve` with /ping and /invocations on "
                "port 8080 (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-inference-code.html); "
                "got inference_image_uri=None"
            )

        channels = _validate_channels(input_channels)
        require_s3_folder("output_prefix", output_prefix)
        if checkpoint_prefix is not None:
            require_s3_folder("checkpoint_prefix", checkpoint_prefix)
        require_match("checkpoint_local_path", checkpoint_local_path, r"/[A-Za-z0-9_./-]{0,4095}", "an absolute path in the container")
        _require_no_overlap(channels, output_prefix, checkpoint_prefix)
        require_one_of("input_mode", input_mode, INPUT_MODES)

        require_training_instance_type("instance_type", instance_type)
        require_int_in_range("instance_count", instance_count, minimum=1, maximum=1000)
        allowed = list(allowed_instance_types) if allowed_instance_types is not None else [instance_type]
        require_training_instance_types("allowed_instance_types", allowed)
        if instance_type not in allowed:
            raise ValidationError(f"allowed_instance_types must include instance_type {instance_type!r}, got {allowed!r}")
        storage = {t: has_instance_storage(t) for t in allowed}
        if len(set(storage.values())) > 1:
            nvme = sorted(t for t, local in storage.items() if local)
            ebs = sorted(t for t, local in storage.items() if not local)
            raise ValidationError(
                "allowed_instance_types must all have local NVMe storage or all not (SageMaker rejects a volume KMS "
                f"key for NVMe types, so the request differs), got NVMe {nvme} and EBS {ebs}"
            )
        max_instance_count = instance_count if max_instance_count is None else max_instance_count
        require_int_in_range("max_instance_count", max_instance_count, minimum=instance_count, maximum=1000)
        require_int_in_range("volume_size_gb", volume_size_gb, minimum=1, maximum=16384)

        _require_whole_seconds("max_runtime", max_runtime)
        require_duration("max_runtime", max_runtime, minimum=Duration.seconds(1), maximum=_MAX_RUNTIME_LIMIT)
        if use_spot:
            if checkpoint_prefix is None:
                raise ValidationError(
                    "checkpoint_prefix must be given with use_spot=True (spot instances are reclaimed and the job "
                    "resumes from its checkpoints), got None"
                )
            max_wait = max_wait or default_max_wait(max_runtime)
            _require_whole_seconds("max_wait", max_wait)
            require_duration("max_wait", max_wait, minimum=max_runtime)
        elif max_wait is not None:
            raise ValidationError(f"max_wait only applies with use_spot=True, got max_wait={max_wait.to_human_string()} without spot")
        # max_retry_attempts, keep_alive and enable_remote_debug are checked by training_job_request (below).

        _validate_hyperparameters(hyperparameters)
        _validate_environment(environment)
        _validate_metric_definitions(metric_definitions)
        _validate_tags(tags)
        if job_name_prefix is None:
            job_name_prefix = _default_job_prefix(self)
        require_match("job_name_prefix", job_name_prefix, _JOB_PREFIX, "1-24 lowercase letters, digits or '-', starting and ending with a letter or digit")
        require_one_of("completion", completion, ("sync", "poll"))
        _require_whole_seconds("poll_interval", poll_interval)
        require_duration("poll_interval", poll_interval, minimum=Duration.seconds(1), maximum=Duration.hours(1))
        require_int_in_range("capacity_retries", capacity_retries, minimum=0, maximum=10)
        _require_whole_seconds("capacity_retry_interval", capacity_retry_interval)
        require_duration("capacity_retry_interval", capacity_retry_interval, minimum=Duration.seconds(1), maximum=Duration.hours(1))
        for prop, types in (
            ("supported_content_types", supported_content_types),
            ("supported_response_mime_types", supported_response_mime_types),
        ):
            require_mime_types(prop, types)
        if notification_topic is not None and not hasattr(notification_topic, "topic_arn"):
            raise ValidationError(f"notification_topic must be an sns.ITopic, got {notification_topic!r}")
        if schedule is not None and not isinstance(schedule, events.Schedule):
            raise ValidationError(f"schedule must be an aws_events.Schedule, got {schedule!r}")
        if trigger_on_new_data_prefix is not None:
            require_s3_prefix("trigger_on_new_data_prefix", trigger_on_new_data_prefix)
            if not _sends_events_to_eventbridge(bucket):
                raise ValidationError(
                    "trigger_on_new_data_prefix needs the bucket to send object events to EventBridge: create it with "
                    "MlBucket(..., event_bridge_enabled=True), got a bucket without EventBridge notifications"
                )
        require_match("new_data_suffix", new_data_suffix, r"[A-Za-z0-9!_.'()=-]{0,128}", "a key suffix of at most 128 letters, digits or !_.'()=-")

        # -- state -----------------------------------------------------------------------------------------
        self.bucket = bucket
        self.encryption_key = encryption_key
        self.network = network
        self.model_package_group = model_package_group
        self.job_name_prefix = job_name_prefix
        self.runs_title = f"Training {job_name_prefix}"
        self.triggers_hint = "schedule or trigger_on_new_data_prefix"
        self.completion = completion
        self.hyperparameters = hyperparameters
        self.allowed_instance_types = tuple(allowed)
        self.max_instance_count = max_instance_count
        self.input_channels = tuple(channels)
        self.output_prefix = output_prefix
        self.checkpoint_prefix = checkpoint_prefix
        self._instance_type = instance_type
        self._instance_count = instance_count
        self._capacity_retries = capacity_retries
        stack = Stack.of(self)
        self._stack = stack

        # -- image -----------------------------------------------------------------------------------------
        self.image_asset: ecr_assets.DockerImageAsset | None = None
        self.repository: ecr.IRepository | None = None
        if image_directory is not None:
            self.image_asset = ecr_assets.DockerImageAsset(
                self,
                "Image",
                directory=str(image_directory),
                platform=ecr_assets.Platform.LINUX_AMD64,
            )
            self.repository = self.image_asset.repository
            self.image_uri = self.image_asset.image_uri
        elif repository is not None:
            self.repository = repository
            assert tag is not None
            self.image_uri = (
                repository.repository_uri_for_digest(tag) if tag.startswith("sha256:") else repository.repository_uri_for_tag(tag)
            )
        else:
            assert image_uri is not None
            self.image_uri = image_uri
        self.inference_image_uri = inference_image_uri or self.image_uri

        # -- execution role ----------------------------------------------------------------------------------
        self.role: iam.IRole = role or iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker training jobs {job_name_prefix}-*: read inputs, write outputs, logs, metrics",
        )
        self.grant_principal = self.role
        self._grant_execution_role(channels, enable_remote_debug)

        # -- notification topic ------------------------------------------------------------------------------
        self.topic: sns.ITopic = notification_topic or encrypted_topic(
            self, "Notifications", display_name="SageMaker training pipeline", encryption_key=encryption_key
        )

        # -- state machine -----------------------------------------------------------------------------------
        request = self._training_job_request(
            channels=channels,
            volume_size_gb=volume_size_gb,
            input_mode=input_mode,
            max_runtime=max_runtime,
            use_spot=use_spot,
            max_wait=max_wait,
            environment=environment,
            metric_definitions=metric_definitions,
            enable_network_isolation=enable_network_isolation,
            inter_container_traffic_encryption=inter_container_traffic_encryption,
            max_retry_attempts=max_retry_attempts,
            keep_alive=keep_alive,
            enable_remote_debug=enable_remote_debug,
            tags=tags,
            checkpoint_local_path=checkpoint_local_path,
        )
        #: The ``CreateTrainingJob`` request as rendered into the definition (JSONPath fields end in ``.$``).
        self.training_job_request = request
        self.log_group = logs.LogGroup(
            self, "StateMachineLogs", encryption_key=encryption_key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        definition = self._definition(
            request=request,
            poll_interval=poll_interval,
            capacity_retry_interval=capacity_retry_interval,
            supported_content_types=list(supported_content_types),
            supported_response_mime_types=list(supported_response_mime_types),
        )
        retry_wait = capacity_retry_interval.to_seconds() * (2**capacity_retries - 1)
        job_time = (max_wait or max_runtime).to_seconds() + 3600  # plus provisioning, upload and registration
        timeout_seconds = min(job_time * (capacity_retries + 1) + retry_wait, 365 * 86400)
        self.state_machine = sfn.StateMachine(
            self,
            "Resource",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            comment=f"Trains {job_name_prefix}-* jobs and registers them in {model_package_group.model_package_group_name}",
            timeout=Duration.seconds(timeout_seconds),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self._grant_state_machine(enable_network_isolation, inter_container_traffic_encryption)

        # -- triggers and alarms -------------------------------------------------------------------------------
        self.dead_letter_queue: sqs.Queue | None = None
        self.schedule_rule: events.Rule | None = None
        self.new_data_rule: events.Rule | None = None
        if schedule is not None or trigger_on_new_data_prefix is not None:
            self._triggers(schedule, trigger_on_new_data_prefix, new_data_suffix)
        self._alarms()

    # -- public API ---------------------------------------------------------------------------------------

    # -- the CreateTrainingJob request -------------------------------------------------------------------------

    def _training_job_request(
        self,
        *,
        channels: list[TrainingChannel],
        volume_size_gb: int,
        input_mode: str,
        max_runtime: Duration,
        use_spot: bool,
        max_wait: Duration | None,
        environment: dict[str, str],
        metric_definitions: dict[str, str],
        enable_network_isolation: bool,
        inter_container_traffic_encryption: bool,
        max_retry_attempts: int,
        keep_alive: Duration | None,
        enable_remote_debug: bool,
        tags: dict[str, str],
        checkpoint_local_path: str,
    ) -> dict[str, Any]:
        """The shared request (:func:`~sagemaker_tiers.core.training_jobs.training_job_request`), with the job
        name, instance type and count, hyperparameters and checkpoint folder of the run read from ``$.run``."""
        return training_job_request(
            job_name=state_path("$.run.jobName"),
            role=self.role,
            image_uri=self.image_uri,
            channels=[
                training_channel(
                    c.name,
                    self.bucket.s3_uri(c.prefix),
                    content_type=c.content_type,
                    input_mode=c.input_mode,
                    distribution=c.distribution,
                    compression=c.compression,
                )
                for c in channels
            ],
            output_s3_uri=self.bucket.s3_uri(self.output_prefix),
            encryption_key=self.encryption_key,
            subnet_ids=self.network.subnet_ids,
            security_group_ids=[self.network.security_group.security_group_id],
            instance_type=state_path("$.run.instanceType"),
            instance_count=state_path("$.run.instanceCount"),
            # Every allowed type has local storage or none does (checked above): the default type decides.
            encrypt_volume=not has_instance_storage(self._instance_type),
            volume_size_gb=volume_size_gb,
            input_mode=input_mode,
            hyperparameters=state_path("$.run.hyperparameters"),
            max_runtime=max_runtime,
            use_spot=use_spot,
            max_wait=max_wait,
            checkpoint_s3_uri=state_path("$.run.checkpointUri") if self.checkpoint_prefix is not None else None,
            checkpoint_local_path=checkpoint_local_path,
            environment=environment,
            metric_definitions=metric_definitions,
            enable_network_isolation=enable_network_isolation,
            inter_container_traffic_encryption=inter_container_traffic_encryption,
            max_retry_attempts=max_retry_attempts,
            keep_alive=keep_alive,
            enable_remote_debug=enable_remote_debug,
            tags=tags,
        )

    # -- the state machine ---------------------------------------------------------------------------------

    def _definition(
        self,
        *,
        request: dict[str, Any],
        poll_interval: Duration,
        capacity_retry_interval: Duration,
        supported_content_types: list[str],
        supported_response_mime_types: list[str],
    ) -> sfn.IChainable:
        states = Construct(self, "States")

        # The run ends with the error that stopped it (every path here has set $.error), after notifying.
        notify = notify_then_fail(
            states,
            self.topic,
            subject="SageMaker training pipeline run failed",
            message="Training run {} of pipeline {} failed. Error: {}",
            error="TrainingPipeline.Failed",
        )

        validate = self._validation(states, capacity_retry_interval)
        validate.add_catch(notify, errors=["States.ALL"], result_path="$.error")

        create = create_training_job_task(states, request, sync=self.completion == "sync")

        def describe(state_id: str, catch_path: str) -> sfn.CustomState:
            state = describe_training_job_task(states, state_id, job_name_path="$.run.jobName")
            state.add_catch(notify, errors=["States.ALL"], result_path=catch_path)
            return state

        describe_job = describe("DescribeTrainingJob", "$.error")
        inspect_failure = describe("DescribeFailedTrainingJob", "$.describeError")
        create.add_catch(inspect_failure, errors=["States.ALL"], result_path="$.error")

        wait_for_job = sfn.Wait(states, "WaitForTrainingJob", time=sfn.WaitTime.duration(poll_interval))
        record_failure = sfn.Pass(
            states,
            "RecordJobFailure",
            parameters={
                "Error": "SageMaker.TrainingJobFailed",
                "Cause.$": "States.Format('Training job {} failed: {}', $.job.TrainingJobName, $.job.FailureReason)",
            },
            result_path="$.error",
        )
        record_stop = sfn.Pass(
            states,
            "RecordJobStopped",
            parameters={
                "Error": "SageMaker.TrainingJobStopped",
                "Cause.$": "States.Format('Training job {} stopped ({})', $.job.TrainingJobName, $.job.SecondaryStatus)",
            },
            result_path="$.error",
        )
        wait_to_retry = sfn.Wait(states, "WaitBeforeCapacityRetry", time=sfn.WaitTime.seconds_path("$.run.backoffSeconds"))
        next_attempt = sfn.Pass(
            states,
            "NextAttempt",
            parameters={
                **self._run_fields(),
                "attempt.$": "States.MathAdd($.run.attempt, 1)",
                "backoffSeconds.$": "States.MathAdd($.run.backoffSeconds, $.run.backoffSeconds)",
                "jobName.$": f"States.Format('{self.job_name_prefix}-{{}}-{{}}', $.run.runId, States.MathAdd($.run.attempt, 1))",
            },
            result_path="$.run",
        )
        capacity_error = sfn.Condition.and_(
            sfn.Condition.is_present("$.job.FailureReason"),
            sfn.Condition.string_matches("$.job.FailureReason", "CapacityError*"),
            sfn.Condition.number_less_than("$.run.attempt", self._capacity_retries + 1),
        )
        retry_on_capacity = (
            sfn.Choice(states, "RetryOnCapacityError")
            .when(capacity_error, wait_to_retry.next(next_attempt).next(create))
            .otherwise(notify)
        )
        inspect_failure.next(retry_on_capacity)

        register = self._registration(states, supported_content_types, supported_response_mime_types, notify)
        job_status = (
            sfn.Choice(states, "TrainingJobStatus")
            .when(sfn.Condition.string_equals("$.job.TrainingJobStatus", "Completed"), register)
            .when(sfn.Condition.string_equals("$.job.TrainingJobStatus", "Failed"), record_failure.next(retry_on_capacity))
            .when(sfn.Condition.string_equals("$.job.TrainingJobStatus", "Stopped"), record_stop.next(notify))
            .otherwise(wait_for_job.next(describe_job))
        )
        return validate.next(create).next(describe_job).next(job_status)

    def _run_fields(self) -> dict[str, str]:
        """Carry every field of ``$.run`` into a Pass state's new ``$.run``."""
        fields = ["runId", "hyperparameters", "instanceType", "instanceCount", "trigger", "attempt", "backoffSeconds"]
        if self.checkpoint_prefix is not None:
            fields.append("checkpointUri")
        return {f"{name}.$": f"$.run.{name}" for name in fields}

    def run_input_rules(self) -> dict[str, Any]:
        """What a run's input may override, as the state machine's ``ValidateInput`` checks it: the input keys,
        the declared hyperparameter names (string values), the allowed instance types and the maximum count."""
        return {
            "keys": list(RUN_INPUT_KEYS),
            "hyperparameters": sorted(self.hyperparameters),
            "instanceTypes": list(self.allowed_instance_types),
            "maxInstanceCount": self.max_instance_count,
        }

    def _validation(self, states: Construct, capacity_retry_interval: Duration) -> sfn.Parallel:
        """Check the run's input with Choice states; output ``{"run": {...}}`` or fail with InvalidInput."""

        def invalid(state_id: str, cause: str) -> sfn.Fail:
            return sfn.Fail(states, state_id, error=INVALID_INPUT_ERROR, cause=cause)

        declared = sorted(self.hyperparameters)
        allowed_types = list(self.allowed_instance_types)
        bad_hyperparameters = invalid(
            "InvalidHyperparameters",
            "hyperparameters must be an object of string values overriding only the declared names: "
            + (", ".join(declared) if declared else "(this pipeline declares none)"),
        )
        bad_type = invalid("InvalidInstanceType", "instanceType must be one of " + ", ".join(allowed_types))
        bad_count = invalid(
            "InvalidInstanceCount", f"instanceCount must be a whole number from 1 to {self.max_instance_count}"
        )
        bad_key = invalid("UnknownInputKey", "the input may only have the keys " + ", ".join(RUN_INPUT_KEYS))

        hp = "$.hyperparameters"
        not_an_object = sfn.Condition.or_(
            sfn.Condition.is_string(hp),
            sfn.Condition.is_numeric(hp),
            sfn.Condition.is_boolean(hp),
            sfn.Condition.is_null(hp),
            sfn.Condition.is_present(f"{hp}[0]"),
        )
        shape = (
            sfn.Choice(states, "CheckInputShape")
            .when(
                sfn.Condition.and_(sfn.Condition.is_present(hp), not_an_object if declared else sfn.Condition.is_present(hp)),
                bad_hyperparameters,
            )
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.instanceType"), sfn.Condition.not_(sfn.Condition.is_string("$.instanceType"))
                ),
                bad_type,
            )
            .when(
                sfn.Condition.and_(
                    sfn.Condition.is_present("$.instanceCount"), sfn.Condition.not_(sfn.Condition.is_numeric("$.instanceCount"))
                ),
                bad_count,
            )
        )
        apply_defaults = sfn.Pass(
            states,
            "ApplyDefaults",
            parameters={
                "defaults": {
                    "hyperparameters": dict(self.hyperparameters),
                    "instanceType": self._instance_type,
                    "instanceCount": self._instance_count,
                    "trigger": {"source": "manual"},
                },
                "input.$": "$",
            },
        )
        merge = sfn.Pass(
            states,
            "MergeInput",
            parameters={
                "run.$": "States.JsonMerge($.defaults, $.input, false)",
                "defaultHyperparameters.$": "$.defaults.hyperparameters",
            },
        )
        merge_hyperparameters = sfn.Pass(
            states,
            "MergeHyperparameters",
            parameters={
                "hyperparameters.$": "States.JsonMerge($.defaultHyperparameters, $.run.hyperparameters, false)",
                "instanceType.$": "$.run.instanceType",
                "instanceCount.$": "$.run.instanceCount",
                "instanceCountText.$": "States.Format('{}', $.run.instanceCount)",
                "trigger.$": "$.run.trigger",
                "inputValues.$": "$.run.*",
            },
        )
        count_parameters: dict[str, Any] = {
            "hyperparameters.$": "$.hyperparameters",
            "instanceType.$": "$.instanceType",
            "instanceCount.$": "$.instanceCount",
            "instanceCountText.$": "$.instanceCountText",
            "trigger.$": "$.trigger",
            "inputKeyCount.$": "States.ArrayLength($.inputValues)",
        }
        if declared:
            count_parameters["hyperparameterValues.$"] = "$.hyperparameters.*"
        count = sfn.Pass(states, "CountInputKeys", parameters=count_parameters)

        rules: list[tuple[sfn.Condition, sfn.Fail]] = [
            (sfn.Condition.not_(sfn.Condition.number_equals("$.inputKeyCount", len(RUN_INPUT_KEYS))), bad_key)
        ]
        if declared:
            rules.append(
                (
                    sfn.Condition.or_(
                        *[sfn.Condition.not_(sfn.Condition.is_string(f"$.hyperparameters{_path_key(k)}")) for k in declared]
                    )
                    if len(declared) > 1
                    else sfn.Condition.not_(sfn.Condition.is_string(f"$.hyperparameters{_path_key(declared[0])}")),
                    bad_hyperparameters,
                )
            )
        type_ok = [sfn.Condition.string_equals("$.instanceType", t) for t in allowed_types]
        rules.append(
            (
                sfn.Condition.not_(sfn.Condition.or_(*type_ok) if len(type_ok) > 1 else type_ok[0]),
                bad_type,
            )
        )
        rules.append(
            (
                sfn.Condition.or_(
                    sfn.Condition.number_less_than("$.instanceCount", 1),
                    sfn.Condition.number_greater_than("$.instanceCount", self.max_instance_count),
                    sfn.Condition.string_matches("$.instanceCountText", "*.*"),
                    sfn.Condition.string_matches("$.instanceCountText", "*E*"),
                    sfn.Condition.string_matches("$.instanceCountText", "*e*"),
                ),
                bad_count,
            )
        )
        check = sfn.Choice(states, "CheckRunInput")
        for condition, target in rules:
            check.when(condition, target)

        run_id = "States.Hash($$.Execution.Id, 'MD5')"
        name_parameters: dict[str, Any] = {
            "runId.$": run_id,
            "jobName.$": f"States.Format('{self.job_name_prefix}-{{}}-1', {run_id})",
            "hyperparameters.$": "$.hyperparameters",
            "instanceType.$": "$.instanceType",
            "instanceCount.$": "$.instanceCount",
            "trigger.$": "$.trigger",
            "attempt": 1,
            "backoffSeconds": int(capacity_retry_interval.to_seconds()),
        }
        if self.checkpoint_prefix is not None:
            name_parameters["checkpointUri.$"] = f"States.Format('{{}}{{}}/', $.checkpointBase, {run_id})"
            # The base is a literal field, never inside the format string, so no S3 key character needs escaping.
            checkpoint_base = sfn.Pass(
                states,
                "CheckpointBase",
                result=sfn.Result.from_string(self.bucket.s3_uri(self.checkpoint_prefix)),
                result_path="$.checkpointBase",
            )
        name = sfn.Pass(states, "NameTrainingJob", parameters=name_parameters)
        if self.checkpoint_prefix is not None:
            check.otherwise(checkpoint_base.next(name))
        else:
            check.otherwise(name)
        if declared:
            count_hyperparameters = sfn.Choice(states, "CheckHyperparameterNames").when(
                sfn.Condition.not_(
                    sfn.Condition.number_equals("$.hyperparameterCount", len(declared))
                ),
                bad_hyperparameters,
            ).otherwise(check)
            length = sfn.Pass(
                states,
                "CountHyperparameters",
                parameters={
                    **{f"{k}.$": f"$.{k}" for k in ("hyperparameters", "instanceType", "instanceCount", "instanceCountText", "trigger", "inputKeyCount")},
                    "hyperparameterCount.$": "States.ArrayLength($.hyperparameterValues)",
                },
            )
            tail: sfn.IChainable = length.next(count_hyperparameters)
        else:
            tail = check
        branch = shape.otherwise(
            apply_defaults.next(merge).next(merge_hyperparameters).next(count).next(tail)
        )
        validate = sfn.Parallel(
            states,
            "ValidateInput",
            comment="Reject malformed run input before any training job is created",
            result_selector={"run.$": "$[0]"},
        )
        validate.branch(branch)
        return validate

    def _registration(
        self,
        states: Construct,
        supported_content_types: list[str],
        supported_response_mime_types: list[str],
        notify: sfn.IChainable,
    ) -> sfn.IChainable:
        partition = self._stack.partition
        # DescribeTrainingJob may omit FinalMetricDataList (no metric definitions); merge it over a default so the
        # report never references a missing path (a runtime error no Catch can handle).
        collect = sfn.Pass(
            states,
            "CollectResults",
            parameters={
                "defaults": {"FinalMetricDataList": []},
                "job.$": "$.job",
                "outputPrefix": self.output_prefix,
                "bucketUri": self.bucket.s3_uri(),
            },
            result_path="$.results",
        )
        merge_metrics = sfn.Pass(
            states,
            "MergeFinalMetrics",
            parameters={
                "job.$": "States.JsonMerge($.results.defaults, $.results.job, false)",
                "outputPrefix.$": "$.results.outputPrefix",
                "bucketUri.$": "$.results.bucketUri",
            },
            result_path="$.results",
        )
        summarize = sfn.Map(
            states,
            "SummarizeFinalMetrics",
            items_path="$.results.job.FinalMetricDataList",
            item_selector={"name.$": "$$.Map.Item.Value.MetricName", "value.$": "$$.Map.Item.Value.Value"},
            result_path="$.results.metrics",
        )
        summarize.item_processor(sfn.Pass(states, "FinalMetric"))
        build_report = sfn.Pass(
            states,
            "BuildReport",
            parameters={
                "report": {
                    "trainingJobName.$": "$.job.TrainingJobName",
                    "trainingJobArn.$": "$.job.TrainingJobArn",
                    "executionArn.$": "$$.Execution.Id",
                    "trainingImage": self.image_uri,
                    "modelArtifact.$": "$.job.ModelArtifacts.S3ModelArtifacts",
                    "hyperparameters.$": "$.run.hyperparameters",
                    "instanceType.$": "$.run.instanceType",
                    "instanceCount.$": "$.run.instanceCount",
                    "attempt.$": "$.run.attempt",
                    "trigger.$": "$.run.trigger",
                    "finalMetrics.$": "$.results.metrics",
                },
                "reportKey.$": "States.Format('{}{}/" + REPORT_NAME + "', $.results.outputPrefix, $.job.TrainingJobName)",
                "reportUri.$": "States.Format('{}{}{}/" + REPORT_NAME + "', $.results.bucketUri, $.results.outputPrefix, $.job.TrainingJobName)",
            },
            result_path="$.results",
        )
        write_report = sfn.CustomState(
            states,
            "WriteTrainingReport",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:s3:putObject",
                "Parameters": {
                    "Bucket": self.bucket.bucket_name,
                    "Key.$": "$.results.reportKey",
                    # An object Body is written as its JSON text (a string Body would be JSON-quoted).
                    "Body.$": "$.results.report",
                    "ContentType": "application/json",
                },
                # (A raw state cannot say "ResultPath": null from Python: None is dropped, and "$" would replace
                # the state with PutObject's answer.)
                "ResultSelector": {"ETag.$": "$.ETag"},
                "ResultPath": "$.reportObject",
            },
        )
        write_report.add_retry(errors=["S3.S3Exception", "S3.SdkClientException"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2)
        write_report.add_catch(notify, errors=["States.ALL"], result_path="$.error")
        create_package = register_model_package(
            states,
            "RegisterModelPackage",
            group=self.model_package_group,
            description=state_path(
                "States.Format('Trained by SageMaker training job {} in execution {}', $.job.TrainingJobName, $$.Execution.Id)"
            ),
            client_token=state_path("States.Hash($.job.TrainingJobArn, 'MD5')"),
            inference_specification=inference_specification(
                [model_container(self.inference_image_uri, state_path("$.job.ModelArtifacts.S3ModelArtifacts"))],
                content_types=supported_content_types,
                response_mime_types=supported_response_mime_types,
            ),
            model_metrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri.$": "$.results.reportUri"}}},
            customer_metadata={
                "sagemaker-tiers:execution-arn.$": "$$.Execution.Id",
                "sagemaker-tiers:training-job-name.$": "$.job.TrainingJobName",
                "sagemaker-tiers:training-image": self.image_uri,
                "sagemaker-tiers:instance-type.$": "$.run.instanceType",
                "sagemaker-tiers:instance-count.$": "States.Format('{}', $.run.instanceCount)",
                "sagemaker-tiers:training-report.$": "$.results.reportUri",
            },
        )
        create_package.add_catch(notify, errors=["States.ALL"], result_path="$.error")
        done = sfn.Pass(
            states,
            "Registered",
            parameters={
                "trainingJobName.$": "$.job.TrainingJobName",
                "modelArtifact.$": "$.job.ModelArtifacts.S3ModelArtifacts",
                "modelPackageArn.$": "$.registration.ModelPackageArn",
                "trainingReport.$": "$.results.reportUri",
            },
        )
        return collect.next(merge_metrics).next(summarize).next(build_report).next(write_report).next(create_package).next(done)

    # -- permissions ---------------------------------------------------------------------------------------

    def _job_arn_pattern(self) -> str:
        return training_job_arn_pattern(self, self.job_name_prefix)

    def _grant_execution_role(self, channels: list[TrainingChannel], enable_remote_debug: bool) -> None:
        role = self.role
        for channel in channels:
            self.bucket.grant_read_prefix(role, channel.prefix)
        self.bucket.grant_write_prefix(role, self.output_prefix)
        if self.checkpoint_prefix is not None:
            # A resumed spot job reads its checkpoints back.
            self.bucket.grant_read_write_prefix(role, self.checkpoint_prefix)
        self.encryption_key.grant_sagemaker_use(role)
        if self.repository is not None:
            self.repository.grant_pull(role)
        grant_training_execution_role(
            role,
            job_name_prefix=self.job_name_prefix,
            vpc_id=self.network.vpc.vpc_id,
            subnet_ids=self.network.subnet_ids,
            security_group_id=self.network.security_group.security_group_id,
            enable_remote_debug=enable_remote_debug,
        )
        log_group_arn = training_log_group_arn(self)
        self._acknowledge_execution_role(log_group_arn, channels)

    def _acknowledge_execution_role(self, log_group_arn: str, channels: list[TrainingChannel]) -> None:
        role = self.role
        if not isinstance(role, Construct):
            return  # an imported role: its owner reviews its policy
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Resource '*' only where IAM has no resource-level permission: cloudwatch:PutMetricData (limited to "
            "SageMaker's training namespace by condition), ec2:Describe* for VPC jobs, ecr:GetAuthorizationToken, "
            "and ssmmessages for remote debug when enabled.",
            applies_to="Resource::*",
        )
        wildcards: list[tuple[str, str]] = [
            (
                self.bucket.arn_for_objects(f"{c.prefix}*"),
                f"Input channel {c.name!r}: the job reads every object under its prefix {c.prefix!r}, whose keys "
                "are only known when the data is uploaded.",
            )
            for c in channels
        ]
        wildcards.append(
            (
                self.bucket.arn_for_objects(f"{self.output_prefix}*"),
                f"The job writes its model artifact under the output prefix {self.output_prefix!r}, in a folder named "
                "after the generated job name.",
            )
        )
        if self.checkpoint_prefix is not None:
            wildcards.append(
                (
                    self.bucket.arn_for_objects(f"{self.checkpoint_prefix}*"),
                    f"Spot jobs write and read back checkpoints under {self.checkpoint_prefix!r}, in a folder per run.",
                )
            )
        wildcards.append(
            (
                f"{log_group_arn}:log-stream:{self.job_name_prefix}-*",
                "SageMaker names a job's log streams <job name>/algo-<n>-<time>; IAM can only name the pipeline's "
                "streams by the job name prefix.",
            )
        )
        wildcards.append(
            (
                self._stack.format_arn(service="ec2", resource="network-interface", resource_name="*"),
                "SageMaker creates and deletes the job's network interfaces, whose IDs do not exist beforehand; "
                "the statement is limited to this VPC by an ec2:Vpc condition.",
            )
        )
        _AcknowledgeResolved.add(role, wildcards)

    def _grant_state_machine(self, enable_network_isolation: bool, inter_container_traffic_encryption: bool) -> None:
        machine = self.state_machine
        job_arn = self._job_arn_pattern()
        grant_create_training_jobs(
            machine,
            job_name_prefix=self.job_name_prefix,
            execution_role=self.role,
            subnet_ids=self.network.subnet_ids,
            security_group_ids=[self.network.security_group.security_group_id],
            instance_types=list(self.allowed_instance_types),
            network_isolation=enable_network_isolation,
            inter_container_traffic_encryption=inter_container_traffic_encryption,
            sync=self.completion == "sync",
        )
        self.model_package_group.grant_register(machine)
        report_pattern = f"{self.output_prefix}{self.job_name_prefix}-*/{REPORT_NAME}"
        self.bucket.grant_write_prefix(machine, report_pattern)
        machine.add_to_role_policy(iam.PolicyStatement(sid="PublishFailures", actions=["sns:Publish"], resources=[self.topic.topic_arn]))
        topic_key = self.topic.master_key
        if topic_key is not None:
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    sid="EncryptFailureNotifications",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[topic_key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"sns.{self._stack.region}.amazonaws.com"}},
                )
            )
        self._acknowledge_state_machine(job_arn, report_pattern)

    def _acknowledge_state_machine(self, job_arn: str, report_pattern: str) -> None:
        role = self.state_machine.role
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Step Functions' log delivery (CreateLogDelivery, PutResourcePolicy, ...) and X-Ray's PutTraceSegments "
            "support no resource-level permission; CDK adds them with Resource '*' for logging and tracing.",
            applies_to="Resource::*",
        )
        _AcknowledgeResolved.add(
            role,
            [
                (
                    job_arn,
                    "Training job names are generated per run (<prefix>-<run id>-<attempt>); IAM can only name the "
                    f"pipeline's jobs by the '{self.job_name_prefix}-*' prefix.",
                ),
                (
                    self.bucket.arn_for_objects(f"{report_pattern}*"),
                    "The state machine writes one training-report.json per job, next to the job's model artifact; "
                    "only the job name part of the key is a wildcard.",
                ),
            ],
        )

    # -- triggers and alarms ---------------------------------------------------------------------------------

    def _triggers(self, schedule: events.Schedule | None, prefix: str | None, suffix: str) -> None:
        triggers = Construct(self, "Triggers")
        self.dead_letter_queue = last_stop_queue(
            triggers, "DeadLetterQueue", encryption_key=self.encryption_key, holds="trigger events that could not start a run"
        )

        def target(trigger: dict[str, Any]) -> targets.SfnStateMachine:
            return targets.SfnStateMachine(
                self.state_machine,
                input=events.RuleTargetInput.from_object({"trigger": trigger}),
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=20,
                max_event_age=Duration.hours(6),
            )

        if schedule is not None:
            self.schedule_rule = events.Rule(
                triggers,
                "Schedule",
                description=f"Starts a training run of {self.job_name_prefix} on a schedule",
                schedule=schedule,
                targets=[target({"source": "schedule", "time": events.EventField.time})],
            )
        if prefix is not None:
            if suffix:
                key_pattern = events.Match.wildcard(f"{_escape_wildcard(prefix)}*{_escape_wildcard(suffix)}")
            else:
                key_pattern = events.Match.prefix(prefix)
            self.new_data_rule = events.Rule(
                triggers,
                "NewData",
                description=f"Starts a training run of {self.job_name_prefix} when new data lands under {prefix}",
                event_pattern=events.EventPattern(
                    source=["aws.s3"],
                    detail_type=["Object Created"],
                    detail={"bucket": {"name": [self.bucket.bucket_name]}, "object": {"key": key_pattern}},
                ),
                targets=[
                    target(
                        {
                            "source": "new-data",
                            "bucket": events.EventField.from_path("$.detail.bucket.name"),
                            "key": events.EventField.from_path("$.detail.object.key"),
                        }
                    )
                ],
            )

    def _alarms(self) -> None:
        alarms = Construct(self, "Alarms")
        action = cw_actions.SnsAction(self.topic)
        specs: list[tuple[str, cw.Metric, str]] = [
            ("ExecutionsFailed", self.metric_executions_failed(), f"Training runs of {self.job_name_prefix} failed"),
            ("ExecutionsTimedOut", self.metric_executions_timed_out(), f"Training runs of {self.job_name_prefix} timed out"),
        ]
        if self.dead_letter_queue is not None:
            specs.append(("UndeliveredTriggers", self.metric_undelivered_triggers(), "Trigger events could not start a training run"))
        self.alarms: dict[str, cw.Alarm] = {
            alarm_id: alarm_on_any(alarms, alarm_id, metric, description=description, action=action)
            for alarm_id, metric, description in specs
        }


# -- validation helpers ---------------------------------------------------------------------------------------


def _require_instance(prop: str, value: Any, cls: type, description: str) -> None:
    if not isinstance(value, cls):
        raise ValidationError(f"{prop} must be {description}, got {value!r}")


def _validate_channels(channels: Sequence[TrainingChannel]) -> list[TrainingChannel]:
    if isinstance(channels, (str, TrainingChannel)) or not isinstance(channels, Sequence):
        raise ValidationError(f"input_channels must be a list of TrainingChannel, got {channels!r}")
    if not 1 <= len(channels) <= 20:
        raise ValidationError(f"input_channels must have 1 to 20 channels, got {len(channels)}")
    for channel in channels:
        if not isinstance(channel, TrainingChannel):
            raise ValidationError(f"input_channels must be a list of TrainingChannel, got an element {channel!r}")
        require_match("input_channels name", channel.name, r"[A-Za-z0-9.\-_]{1,64}", "1-64 letters, digits, '.', '-' or '_'")
        require_s3_prefix(f"input_channels[{channel.name}] prefix", channel.prefix)
        if channel.content_type is not None:
            require_match(f"input_channels[{channel.name}] content_type", channel.content_type, r"[^\x00-\x1f]{1,256}", "1-256 printable characters")
        if channel.input_mode is not None:
            require_one_of(f"input_channels[{channel.name}] input_mode", channel.input_mode, INPUT_MODES)
        require_one_of(f"input_channels[{channel.name}] distribution", channel.distribution, DISTRIBUTIONS)
        require_one_of(f"input_channels[{channel.name}] compression", channel.compression, COMPRESSIONS)
    require_unique("input_channels names", [c.name for c in channels])
    return list(channels)


def _require_no_overlap(channels: list[TrainingChannel], output_prefix: str, checkpoint_prefix: str | None) -> None:
    """The job writes output and checkpoints: neither may sit inside (or contain) data it reads, or each other."""
    writable = [("output_prefix", output_prefix)]
    if checkpoint_prefix is not None:
        writable.append(("checkpoint_prefix", checkpoint_prefix))
    readable = [(f"input_channels[{c.name}] prefix", c.prefix) for c in channels]
    for prop, prefix in writable:
        for other_prop, other in readable + [w for w in writable if w[0] != prop]:
            if is_token(prefix) or is_token(other):
                continue
            if prefix.startswith(other) or other.startswith(prefix):
                raise ValidationError(
                    f"{prop} must not overlap {other_prop} (the job writes under it), got {prefix!r} and {other!r}"
                )


def _default_job_prefix(scope: Construct) -> str:
    name = Names.unique_resource_name(scope, max_length=24, separator="-").lower()
    name = re.sub(r"[^a-z0-9-]", "", name).strip("-")
    return re.sub(r"-{2,}", "-", name)[:24].strip("-") or "training"


def _path_key(name: str) -> str:
    """A JSONPath member for a declared hyperparameter name (bracket notation when it has '.' or '-')."""
    return f".{name}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f"['{name}']"


def _escape_wildcard(text: str) -> str:
    """EventBridge wildcard patterns treat '*' as a wildcard and '\\' as the escape character."""
    return text.replace("\\", "\\\\").replace("*", "\\*")


def _sends_events_to_eventbridge(bucket: s3.IBucket) -> bool:
    cfn = bucket.node.default_child
    if not isinstance(cfn, s3.CfnBucket):
        return False
    config = cfn.notification_configuration
    if config is None:
        return False
    if isinstance(config, s3.CfnBucket.NotificationConfigurationProperty):
        eventbridge = config.event_bridge_configuration
        if isinstance(eventbridge, s3.CfnBucket.EventBridgeConfigurationProperty):
            return bool(eventbridge.event_bridge_enabled)
        return eventbridge is not None
    return True  # a token: assume the owner configured it


@jsii.implements(IValidation)
class _AcknowledgeResolved:
    """Acknowledge IAM5 wildcard findings on exact resources, worded as cdk-nag prints them.

    cdk-nag matches an acknowledgment by the finding's text, which holds the resource as the template renders it:
    the ``Fn::ImportValue`` export name for another stack's bucket, ``<LogicalId.Arn>`` for this stack's. Export
    names exist only once CDK has resolved cross-stack references, so the acknowledgment is added by a construct
    validation, which runs after that and before the validation plugins.
    """

    def __init__(self, role: IConstruct, resources: list[tuple[str, str]]) -> None:
        self._role = role
        self._resources = resources

    @classmethod
    def add(cls, role: IConstruct, resources: list[tuple[str, str]]) -> None:
        role.node.add_validation(cls(role, resources))

    def validate(self) -> list[str]:
        stack = Stack.of(self._role)
        for resource, reason in self._resources:
            acknowledge(self._role, "AwsSolutions-IAM5", reason, applies_to=f"Resource::{_flatten(stack.resolve(resource))}")
        return []


def _flatten(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag flattens it (its ``flattenCfnReference``)."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Fn::Join":
            return cast(str, arg[0]).join(_flatten(v) for v in arg[1])
        if key == "Fn::Sub":
            return _flatten(arg)
        if key == "Fn::GetAtt":
            return f"<{_flatten(arg[0])}.{_flatten(arg[1])}>"
        if key == "Fn::ImportValue":
            return _flatten(arg)
        if key == "Ref":
            return f"<{_flatten(arg)}>"
    return json.dumps(value, separators=(",", ":"))
