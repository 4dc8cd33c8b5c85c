"""A SageMaker training job as a Step Functions task: the ``CreateTrainingJob`` request and the IAM that goes with it.

CloudFormation has no training job resource and CDK's ``SageMakerCreateTrainingJob`` task renders no spot,
checkpoint, retry-strategy, warm-pool or remote-debug settings, so every construct that trains (the Training Job
tier, a JumpStart fine-tune) renders the request itself. This module does it once, secure by default:

* :func:`training_job_request`: the whole request from typed inputs (VPC, network isolation, encrypted
  inter-container traffic, the customer KMS key on volume and output, spot with checkpoints, stopping condition,
  retry strategy, warm pool, remote debug, hyperparameters, environment, metric definitions, tags). Any field may
  be read from the execution's state at run time (:class:`~sagemaker_tiers.core.state_values.StatePath`).
* :func:`training_channel`: one ``InputDataConfig`` entry.
* :func:`grant_create_training_jobs`: what the state machine's role needs to start, describe (and with ``.sync``
  stop) training jobs of one name prefix, with explicit denies for jobs outside the network, instance types,
  isolation and encryption, and ``iam:PassRole`` of the execution role to SageMaker only.
* :func:`grant_training_execution_role`: what the execution role SageMaker assumes needs besides data and key
  access: log streams of the prefix's jobs, metrics in SageMaker's training namespace, network interfaces in the
  VPC (and SSM channels for remote debug).

Request fields and limits: https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTrainingJob.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from sagemaker_tiers.core.instance_storage import has_local_storage
from sagemaker_tiers.core.state_values import StatePath, literal, put
from sagemaker_tiers.core.validation import (
    ValidationError,
    is_token,
    require_duration,
    require_int_in_range,
    require_match,
    require_one_of,
    require_unique,
    require_whole_seconds,
)

INPUT_MODES: tuple[str, ...] = ("File", "FastFile", "Pipe")
DISTRIBUTIONS: tuple[str, ...] = ("FullyReplicated", "ShardedByS3Key")
COMPRESSIONS: tuple[str, ...] = ("None", "Gzip")
#: Log group SageMaker writes training job logs to (fixed by SageMaker); also the metrics namespace of the jobs.
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
#: Rule Step Functions manages for ``.sync`` SageMaker training tasks (fixed by Step Functions).
SYNC_RULE_NAME = "StepFunctionsGetEventsForSageMakerTrainingJobsRule"
#: Longest ``StoppingCondition.MaxRuntimeInSeconds`` (and ``MaxWaitTimeInSeconds``) SageMaker accepts.
MAX_RUNTIME_LIMIT = Duration.days(28)
#: Most subnets a ``VpcConfig`` takes.
MAX_SUBNETS = 16
HYPERPARAMETER_NAME = r"[A-Za-z_][A-Za-z0-9_.-]{0,127}"
HYPERPARAMETER_NAME_RULE = "1-128 letters, digits, '_', '.' or '-', starting with a letter or '_'"
_TAG_TEXT = r"[\w\s.:/=+\-@]*"


# -- validation (shared with the constructs, which call these on their own props first) ----------------------


def validate_hyperparameters(hyperparameters: Mapping[str, str]) -> None:
    """At most 100; names that cannot read as a JSONPath; string values of at most 2500 characters."""
    if len(hyperparameters) > 100:
        raise ValidationError(f"hyperparameters must have at most 100 entries, got {len(hyperparameters)}")
    for name, value in hyperparameters.items():
        require_match("hyperparameters name", name, HYPERPARAMETER_NAME, HYPERPARAMETER_NAME_RULE)
        if not isinstance(value, str) or is_token(value):
            raise ValidationError(f"hyperparameters[{name!r}] must be a literal string (SageMaker passes strings), got {value!r}")
        require_match(f"hyperparameters[{name!r}]", value, r"[^\x00-\x1f\x7f]{0,2500}", "at most 2500 characters without control characters")


def validate_environment(environment: Mapping[str, str]) -> None:
    """At most 100 variables of at most 512 characters."""
    if len(environment) > 100:
        raise ValidationError(f"environment must have at most 100 variables, got {len(environment)}")
    for name, value in environment.items():
        require_match("environment name", name, r"[A-Za-z_][A-Za-z0-9_]{0,511}", "a variable name of letters, digits and '_' (at most 512)")
        if not isinstance(value, str):
            raise ValidationError(f"environment[{name!r}] must be a string, got {value!r}")
        require_match(f"environment[{name!r}]", value, r"[\s\S]{0,512}", "at most 512 characters")


def validate_metric_definitions(metric_definitions: Mapping[str, str]) -> None:
    """At most 40 metrics, each a valid regex with a capture group."""
    if len(metric_definitions) > 40:
        raise ValidationError(f"metric_definitions must have at most 40 metrics, got {len(metric_definitions)}")
    for name, regex in metric_definitions.items():
        require_match("metric_definitions name", name, r"[^\x00-\x1f]{1,255}", "1-255 printable characters")
        require_match(f"metric_definitions[{name!r}]", regex, r"[^\x00-\x1f]{1,500}", "a regex of 1-500 printable characters")
        try:
            groups = re.compile(regex).groups
        except re.error as error:
            raise ValidationError(f"metric_definitions[{name!r}] must be a valid regex, got {regex!r} ({error})") from None
        if groups < 1:
            raise ValidationError(
                f"metric_definitions[{name!r}] must capture the value in a group, such as {name}=([0-9.eE+-]+), got {regex!r}"
            )


def validate_tags(tags: Mapping[str, str]) -> None:
    """At most 50 tags; keys not starting with ``aws:``; SageMaker's tag characters."""
    if len(tags) > 50:
        raise ValidationError(f"tags must have at most 50 entries, got {len(tags)}")
    for key, value in tags.items():
        require_match("tags key", key, rf"(?!aws:){_TAG_TEXT[:-1]}{{1,128}}", "1-128 letters, digits, spaces or _.:/=+-@, not starting with 'aws:'")
        require_match(f"tags[{key!r}]", value, rf"{_TAG_TEXT[:-1]}{{0,256}}", "at most 256 letters, digits, spaces or _.:/=+-@")


def default_max_wait(max_runtime: Duration) -> Duration:
    """Spot's default ``MaxWaitTimeInSeconds``: twice ``max_runtime``, at most twice SageMaker's runtime limit."""
    return Duration.seconds(min(2 * max_runtime.to_seconds(), 2 * MAX_RUNTIME_LIMIT.to_seconds()))


# -- the request ------------------------------------------------------------------------------------------------


def training_channel(
    name: str,
    s3_uri: str | StatePath,
    *,
    content_type: str | None = None,
    input_mode: str | None = None,
    distribution: str = "FullyReplicated",
    compression: str = "None",
) -> dict[str, Any]:
    """One ``InputDataConfig`` entry: every object under ``s3_uri``, in ``/opt/ml/input/data/<name>/``.

    :param name: Channel name, 1-64 letters, digits, '.', '-' or '_' (``train``, ``model``).
    :param s3_uri: ``s3://bucket/prefix/`` (``MlBucket.s3_uri(prefix)``), or a :class:`StatePath` to one resolved
        at run time (a JumpStart model's artifacts).
    :param content_type: MIME type passed to the container. Default: none.
    :param input_mode: ``File``, ``FastFile`` or ``Pipe`` for this channel. Default: the job's input mode.
    :param distribution: ``FullyReplicated`` or ``ShardedByS3Key``. Default: ``FullyReplicated``.
    :param compression: ``None`` or ``Gzip``. Default: ``None``.
    """
    require_match("channel name", name, r"[A-Za-z0-9.\-_]{1,64}", "1-64 letters, digits, '.', '-' or '_'")
    if not isinstance(s3_uri, StatePath) and not is_token(s3_uri):
        require_match(f"channel {name!r} s3_uri", s3_uri, r"s3://[^\s]{3,1021}", "an s3:// URI")
    if content_type is not None:
        require_match(f"channel {name!r} content_type", content_type, r"[^\x00-\x1f]{1,256}", "1-256 printable characters")
    if input_mode is not None:
        require_one_of(f"channel {name!r} input_mode", input_mode, INPUT_MODES)
    require_one_of(f"channel {name!r} distribution", distribution, DISTRIBUTIONS)
    require_one_of(f"channel {name!r} compression", compression, COMPRESSIONS)
    source: dict[str, Any] = {"S3DataType": "S3Prefix"}
    put(source, "S3Uri", s3_uri)
    source["S3DataDistributionType"] = distribution
    rendered: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {"S3DataSource": source},
        "CompressionType": compression,
    }
    if content_type is not None:
        rendered["ContentType"] = content_type
    if input_mode is not None:
        rendered["InputMode"] = input_mode
    return rendered


def training_job_request(
    *,
    job_name: str | StatePath,
    role: iam.IRole,
    image_uri: str | StatePath,
    channels: Sequence[Mapping[str, Any]],
    output_s3_uri: str | StatePath,
    encryption_key: kms.IKey,
    subnet_ids: Sequence[str],
    security_group_ids: Sequence[str],
    instance_type: str | StatePath,
    instance_count: int | StatePath = 1,
    encrypt_volume: bool | None = None,
    volume_size_gb: int = 30,
    input_mode: str = "File",
    hyperparameters: Mapping[str, str] | StatePath | None = None,
    max_runtime: Duration | None = None,
    use_spot: bool = False,
    max_wait: Duration | None = None,
    checkpoint_s3_uri: str | StatePath | None = None,
    checkpoint_local_path: str = "/opt/ml/checkpoints",
    environment: Mapping[str, str] | None = None,
    metric_definitions: Mapping[str, str] | None = None,
    enable_network_isolation: bool = True,
    inter_container_traffic_encryption: bool = True,
    max_retry_attempts: int = 2,
    keep_alive: Duration | None = None,
    enable_remote_debug: bool = False,
    tags: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``Parameters`` of a ``CreateTrainingJob`` task (``arn:aws:states:::sagemaker:createTrainingJob[.sync]``).

    Literal values are validated here, at synth; :class:`StatePath` values are read by the task at run time.

    :param job_name: Training job name, unique per run: usually a :class:`StatePath` to a name made by an earlier
        Pass state. IAM scopes jobs by a name prefix (:func:`grant_create_training_jobs`).
    :param role: Execution role SageMaker assumes (``RoleArn``).
    :param image_uri: Training image (``AlgorithmSpecification.TrainingImage``).
    :param channels: 1-20 ``InputDataConfig`` entries with distinct names (:func:`training_channel`).
    :param output_s3_uri: Where the model artifact goes (``OutputDataConfig.S3OutputPath``), encrypted with
        ``encryption_key``.
    :param encryption_key: Customer-managed key for the output and (see ``encrypt_volume``) the volume.
    :param subnet_ids: Private subnets the job runs in (``VpcConfig.Subnets``), 1-16.
    :param security_group_ids: Security groups of the job (``VpcConfig.SecurityGroupIds``), 1-5.
    :param instance_type: ``ResourceConfig.InstanceType``.
    :param instance_count: ``ResourceConfig.InstanceCount``, 1-1000. Default: 1.
    :param encrypt_volume: Send ``VolumeKmsKeyId``. SageMaker rejects it for instance types with local NVMe storage.
        Default: decided from a literal ``instance_type`` (:func:`~sagemaker_tiers.core.instance_storage.has_local_storage`);
        required when ``instance_type`` is read at run time.
    :param volume_size_gb: EBS volume per instance, 1-16384 GB. Default: 30.
    :param input_mode: ``File``, ``FastFile`` or ``Pipe``. Default: ``File``.
    :param hyperparameters: String hyperparameters, or a :class:`StatePath` to the run's. Default: none sent.
    :param max_runtime: ``StoppingCondition.MaxRuntimeInSeconds``, whole seconds, 1 second to 28 days.
        Default: 1 day.
    :param use_spot: Managed spot training; needs ``checkpoint_s3_uri``. Default: False.
    :param max_wait: ``MaxWaitTimeInSeconds``, at least ``max_runtime``; only with ``use_spot``. Default: with spot,
        twice ``max_runtime`` (:func:`default_max_wait`).
    :param checkpoint_s3_uri: ``CheckpointConfig.S3Uri`` (a spot job resumes from it). Default: no checkpoints.
    :param checkpoint_local_path: Where the container writes checkpoints. Default: ``/opt/ml/checkpoints``.
    :param environment: Container environment, at most 100 variables. Default: none.
    :param metric_definitions: Metric name -> regex with one capture group, at most 40. Default: none.
    :param enable_network_isolation: No network access from the container. Default: True.
    :param inter_container_traffic_encryption: Encrypt traffic between instances. Default: True.
    :param max_retry_attempts: ``RetryStrategy.MaximumRetryAttempts``, 0-30; 0 sends none. Default: 2.
    :param keep_alive: Warm pool period, 1 second to 6 hours; not with spot. Default: no warm pool.
    :param enable_remote_debug: SSM access into the container; not with network isolation. Default: False.
    :param tags: Tags of the job, at most 50. Default: none.
    """
    max_runtime = max_runtime or Duration.days(1)
    environment = dict(environment or {})
    metric_definitions = dict(metric_definitions or {})
    tags = dict(tags or {})
    if not hasattr(role, "role_arn"):
        raise ValidationError(f"role must be an aws_iam.IRole, got {role!r}")
    if not hasattr(encryption_key, "key_arn"):
        raise ValidationError(f"encryption_key must be an aws_kms.IKey, got {encryption_key!r}")
    if isinstance(channels, (str, Mapping)) or not 1 <= len(channels) <= 20:
        raise ValidationError(f"channels must be a list of 1 to 20 channels (training_channel), got {channels!r}")
    require_unique("channels names", [c.get("ChannelName") for c in channels])
    for prop, ids, most in (("subnet_ids", subnet_ids, MAX_SUBNETS), ("security_group_ids", security_group_ids, 5)):
        if isinstance(ids, str) or not 1 <= len(ids) <= most:
            raise ValidationError(f"{prop} must be a list of 1 to {most} ids, got {ids!r}")
    count = literal(instance_count)
    if count is not None:
        require_int_in_range("instance_count", count, minimum=1, maximum=1000)
    type_text = literal(instance_type)
    if encrypt_volume is None:
        if type_text is None:
            raise ValidationError(
                "encrypt_volume must be given when instance_type is read at run time (SageMaker rejects a volume key "
                "for instance types with local NVMe storage), got None"
            )
        encrypt_volume = not has_local_storage(type_text)
    require_int_in_range("volume_size_gb", volume_size_gb, minimum=1, maximum=16384)
    require_one_of("input_mode", input_mode, INPUT_MODES)
    require_whole_seconds("max_runtime", max_runtime)
    require_duration("max_runtime", max_runtime, minimum=Duration.seconds(1), maximum=MAX_RUNTIME_LIMIT)
    if use_spot:
        if checkpoint_s3_uri is None:
            raise ValidationError("checkpoint_s3_uri must be given with use_spot=True (spot jobs resume from checkpoints), got None")
        max_wait = max_wait or default_max_wait(max_runtime)
        require_whole_seconds("max_wait", max_wait)
        require_duration("max_wait", max_wait, minimum=max_runtime)
    elif max_wait is not None:
        raise ValidationError(f"max_wait only applies with use_spot=True, got max_wait={max_wait.to_human_string()} without spot")
    require_match("checkpoint_local_path", checkpoint_local_path, r"/[A-Za-z0-9_./-]{0,4095}", "an absolute path in the container")
    require_int_in_range("max_retry_attempts", max_retry_attempts, minimum=0, maximum=30)
    if keep_alive is not None:
        require_whole_seconds("keep_alive", keep_alive)
        require_duration("keep_alive", keep_alive, minimum=Duration.seconds(1), maximum=Duration.hours(6))
        if use_spot:
            raise ValidationError("keep_alive (warm pool) cannot be combined with use_spot=True: SageMaker keeps no warm pool of spot instances")
    if enable_remote_debug and enable_network_isolation:
        raise ValidationError(
            "enable_remote_debug needs the container to reach SSM, which network isolation blocks: set "
            "enable_network_isolation=False to debug, got both True"
        )
    literal_hyperparameters = literal(hyperparameters)
    if literal_hyperparameters is not None:
        validate_hyperparameters(literal_hyperparameters)
    validate_environment(environment)
    validate_metric_definitions(metric_definitions)
    validate_tags(tags)

    algorithm: dict[str, Any] = {}
    put(algorithm, "TrainingImage", image_uri)
    algorithm["TrainingInputMode"] = input_mode
    if metric_definitions:
        algorithm["MetricDefinitions"] = [{"Name": n, "Regex": r} for n, r in metric_definitions.items()]
    resources: dict[str, Any] = {}
    put(resources, "InstanceType", instance_type)
    put(resources, "InstanceCount", instance_count)
    resources["VolumeSizeInGB"] = volume_size_gb
    if encrypt_volume:
        resources["VolumeKmsKeyId"] = encryption_key.key_arn
    if keep_alive is not None:
        resources["KeepAlivePeriodInSeconds"] = int(keep_alive.to_seconds())
    stopping: dict[str, Any] = {"MaxRuntimeInSeconds": int(max_runtime.to_seconds())}
    output: dict[str, Any] = {}
    put(output, "S3OutputPath", output_s3_uri)
    output["KmsKeyId"] = encryption_key.key_arn
    request: dict[str, Any] = {}
    put(request, "TrainingJobName", job_name)
    request["RoleArn"] = role.role_arn
    request["AlgorithmSpecification"] = algorithm
    if hyperparameters is not None:
        put(request, "HyperParameters", hyperparameters if isinstance(hyperparameters, StatePath) else dict(hyperparameters))
    request.update(
        {
            "InputDataConfig": [dict(c) for c in channels],
            "OutputDataConfig": output,
            "ResourceConfig": resources,
            "VpcConfig": {"SecurityGroupIds": list(security_group_ids), "Subnets": list(subnet_ids)},
            "StoppingCondition": stopping,
            "EnableNetworkIsolation": enable_network_isolation,
            "EnableInterContainerTrafficEncryption": inter_container_traffic_encryption,
            "EnableManagedSpotTraining": use_spot,
        }
    )
    if use_spot:
        assert max_wait is not None
        stopping["MaxWaitTimeInSeconds"] = int(max_wait.to_seconds())
    if checkpoint_s3_uri is not None:
        checkpoint: dict[str, Any] = {}
        put(checkpoint, "S3Uri", checkpoint_s3_uri)
        checkpoint["LocalPath"] = checkpoint_local_path
        request["CheckpointConfig"] = checkpoint
    if max_retry_attempts:
        request["RetryStrategy"] = {"MaximumRetryAttempts": max_retry_attempts}
    if enable_remote_debug:
        request["RemoteDebugConfig"] = {"EnableRemoteDebug": True}
    if environment:
        request["Environment"] = environment
    if tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    return request


# -- permissions --------------------------------------------------------------------------------------------------


def create_training_job_task(states: Construct, request: Mapping[str, Any], *, sync: bool) -> sfn.CustomState:
    """``CreateTrainingJob`` with ``request`` (``.sync`` waits for the job when ``sync``), keeping only the job's ARN
    in ``$.created``. Retried on ``ResourceLimitExceeded`` (too many concurrent jobs or instances: 1 minute, doubling,
    5 times) and on throttling (5 seconds, 4 times); add your own catch.

    Optimized SageMaker integrations name throttling (and validation) errors ``AmazonSageMakerException``;
    ``ResourceLimitExceeded`` has its own exception.

    :param states: The scope of the state (its id is ``CreateTrainingJob``).
    :param request: The request, e.g. from :func:`training_job_request`.
    :param sync: Use the ``.sync`` integration (Step Functions waits through its managed EventBridge rule).
    """
    partition = Stack.of(states).partition
    create = sfn.CustomState(
        states,
        "CreateTrainingJob",
        state_json={
            "Type": "Task",
            "Resource": f"arn:{partition}:states:::sagemaker:createTrainingJob" + (".sync" if sync else ""),
            "Parameters": dict(request),
            "ResultSelector": {"TrainingJobArn.$": "$.TrainingJobArn"},
            "ResultPath": "$.created",
        },
    )
    create.add_retry(
        errors=["SageMaker.ResourceLimitExceededException", "SageMaker.ResourceLimitExceeded"],
        interval=Duration.minutes(1), max_attempts=5, backoff_rate=2, jitter_strategy=sfn.JitterType.FULL,
    )
    create.add_retry(
        errors=["SageMaker.ThrottlingException", "SageMaker.AmazonSageMakerException"],
        interval=Duration.seconds(5), max_attempts=4, backoff_rate=2, jitter_strategy=sfn.JitterType.FULL,
    )
    return create


def describe_training_job_task(states: Construct, id: str, *, job_name_path: str) -> sfn.CustomState:
    """``DescribeTrainingJob`` (AWS SDK integration) of the job named at ``job_name_path``, the whole answer in
    ``$.job`` (a ResultSelector path the answer lacks, such as a failed job's ``ModelArtifacts``, would raise
    ``States.Runtime``, which no Catch handles). Retried on throttling and service errors (2 seconds, 5 times);
    add your own catch.

    :param id: The state's id.
    :param job_name_path: Where the job's name is in the state (``"$.run.jobName"``).
    """
    partition = Stack.of(states).partition
    describe = sfn.CustomState(
        states,
        id,
        state_json={
            "Type": "Task",
            "Resource": f"arn:{partition}:states:::aws-sdk:sagemaker:describeTrainingJob",
            "Parameters": {"TrainingJobName.$": job_name_path},
            "ResultPath": "$.job",
        },
    )
    describe.add_retry(
        errors=["SageMaker.ThrottlingException", "SageMaker.SageMakerException"],
        interval=Duration.seconds(2), max_attempts=5, backoff_rate=2, jitter_strategy=sfn.JitterType.FULL,
    )
    return describe


def training_job_arn_pattern(scope: IConstruct, job_name_prefix: str) -> str:
    """``arn:<partition>:sagemaker:<region>:<account>:training-job/<job_name_prefix>-*``."""
    return Stack.of(scope).format_arn(service="sagemaker", resource="training-job", resource_name=f"{job_name_prefix}-*")


def training_log_group_arn(scope: IConstruct) -> str:
    """ARN of SageMaker's ``/aws/sagemaker/TrainingJobs`` log group in ``scope``'s account and region."""
    return Stack.of(scope).format_arn(
        service="logs", resource="log-group", resource_name=TRAINING_LOG_GROUP, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


def grant_pass_role(grantee: iam.IGrantable, role: iam.IRole, *, sid: str | None = None) -> None:
    """Let ``grantee`` pass ``role`` to SageMaker only (``iam:PassRole`` with ``iam:PassedToService``).

    :param sid: Statement id. Default: none.
    """
    grantee.grant_principal.add_to_principal_policy(
        iam.PolicyStatement(
            sid=sid,
            actions=["iam:PassRole"],
            resources=[role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )


def grant_create_training_jobs(
    grantee: iam.IGrantable,
    *,
    job_name_prefix: str,
    execution_role: iam.IRole,
    subnet_ids: Sequence[str],
    security_group_ids: Sequence[str],
    instance_types: Sequence[str],
    network_isolation: bool = True,
    inter_container_traffic_encryption: bool = True,
    sync: bool = False,
) -> None:
    """Let ``grantee`` (a state machine) run training jobs named ``<job_name_prefix>-*`` and nothing else.

    Allows ``CreateTrainingJob``, ``DescribeTrainingJob`` and ``AddTags`` (with ``sync`` also ``StopTrainingJob``,
    ``ListTags`` and the ``.sync`` integration's EventBridge rule) on those jobs; denies, as defense in depth
    against an edited definition, jobs outside ``subnet_ids``, ``security_group_ids`` or ``instance_types``,
    without network isolation (when ``network_isolation``) or with clear inter-container traffic (when
    ``inter_container_traffic_encryption``); passes ``execution_role`` to SageMaker only. Condition keys:
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsagemaker.html

    :param job_name_prefix: Prefix of the job names (the only wildcard IAM can scope generated names by).
    :param execution_role: The role the jobs run as (``RoleArn`` of the request).
    :param subnet_ids: The only subnets a job may use.
    :param security_group_ids: The only security groups a job may use.
    :param instance_types: The only instance types a job may use.
    :param network_isolation: Deny jobs without network isolation. Default: True.
    :param inter_container_traffic_encryption: Deny jobs without encrypted inter-container traffic. Default: True.
    :param sync: The task is ``createTrainingJob.sync`` (Step Functions stops the job with the execution and
        manages an EventBridge rule). Default: False.
    """
    principal = grantee.grant_principal
    anchor: IConstruct = grantee if isinstance(grantee, Construct) else execution_role
    stack = Stack.of(anchor)
    job_arn = training_job_arn_pattern(anchor, job_name_prefix)
    actions = ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:AddTags"]
    if sync:
        actions += ["sagemaker:StopTrainingJob", "sagemaker:ListTags"]
    principal.add_to_principal_policy(iam.PolicyStatement(sid="PipelineTrainingJobs", actions=actions, resources=[job_arn]))
    guards: list[tuple[str, dict[str, Any]]] = [
        ("DenyJobsOutsidePipelineSubnets", {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": list(subnet_ids)}}),
        ("DenyJobsOutsidePipelineSecurityGroup", {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSecurityGroupIds": list(security_group_ids)}}),
        ("DenyOtherInstanceTypes", {"ForAnyValue:StringNotEquals": {"sagemaker:InstanceTypes": list(instance_types)}}),
    ]
    if network_isolation:
        guards.append(("DenyJobsWithoutNetworkIsolation", {"Bool": {"sagemaker:NetworkIsolation": "false"}}))
    if inter_container_traffic_encryption:
        guards.append(("DenyUnencryptedInterContainerTraffic", {"Bool": {"sagemaker:InterContainerTrafficEncryption": "false"}}))
    for sid, conditions in guards:
        principal.add_to_principal_policy(
            iam.PolicyStatement(sid=sid, effect=iam.Effect.DENY, actions=["sagemaker:CreateTrainingJob"], resources=[job_arn], conditions=conditions)
        )
    grant_pass_role(grantee, execution_role, sid="PassExecutionRoleToSageMaker")
    if sync:
        principal.add_to_principal_policy(
            iam.PolicyStatement(
                sid="SyncTrainingJobEvents",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[stack.format_arn(service="events", resource="rule", resource_name=SYNC_RULE_NAME)],
            )
        )


def grant_training_execution_role(
    role: iam.IRole,
    *,
    job_name_prefix: str,
    vpc_id: str,
    subnet_ids: Sequence[str],
    security_group_id: str,
    enable_remote_debug: bool = False,
) -> None:
    """What a training job's execution role needs besides its data, image and key: write the log streams of
    ``<job_name_prefix>-*`` jobs in ``/aws/sagemaker/TrainingJobs``, put metrics in that namespace only, create
    network interfaces in the given subnets and security group and manage them in the VPC, describe the network,
    and with ``enable_remote_debug`` open SSM channels.

    Grant data (``MlBucket.grant_read_prefix``/``grant_write_prefix``), the key
    (``MlEncryptionKey.grant_sagemaker_use``) and an ECR image (``repository.grant_pull``) before this call.

    :param role: The execution role SageMaker assumes.
    :param job_name_prefix: Prefix of the job names (their log streams are ``<job name>/algo-<n>-<time>``).
    :param vpc_id: The VPC the jobs run in.
    :param subnet_ids: The subnets the jobs' network interfaces may be created in.
    :param security_group_id: The security group of the jobs.
    :param enable_remote_debug: Also allow SSM's message channels. Default: False.
    """
    stack = Stack.of(role)
    log_group_arn = training_log_group_arn(role)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="TrainingJobLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_group_arn, f"{log_group_arn}:log-stream:{job_name_prefix}-*"],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="TrainingJobMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": TRAINING_LOG_GROUP}},
        )
    )
    vpc_arn = stack.format_arn(service="ec2", resource="vpc", resource_name=vpc_id)
    subnet_arns = [stack.format_arn(service="ec2", resource="subnet", resource_name=s) for s in subnet_ids]
    sg_arn = stack.format_arn(service="ec2", resource="security-group", resource_name=security_group_id)
    eni_arn = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
    role.add_to_principal_policy(
        iam.PolicyStatement(sid="JobNetworkInterfacesInPipelineSubnets", actions=["ec2:CreateNetworkInterface"], resources=[*subnet_arns, sg_arn])
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="JobNetworkInterfacesInPipelineVpc",
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            resources=[eni_arn],
            conditions={"ArnEquals": {"ec2:Vpc": vpc_arn}},
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid="DescribeNetworkForVpcJobs",
            actions=[
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            ],
            resources=["*"],
        )
    )
    if enable_remote_debug:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RemoteDebugSessions",
                actions=[
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                resources=["*"],
            )
        )
