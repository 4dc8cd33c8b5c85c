"""Fine-tune a curated JumpStart model on a dataset of the ML bucket and register the result for approval.

See :class:`JumpStartFineTuning`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from sagemaker_tiers.core import defaults as lib_defaults
from sagemaker_tiers.core.delivery import encrypted_topic
from sagemaker_tiers.core.model_registration import inference_specification, model_container, register_model_package
from sagemaker_tiers.core.nag import acknowledge, acknowledge_grant
from sagemaker_tiers.core.polling import bounded_poll, poll_limit
from sagemaker_tiers.core.state_values import state_path
from sagemaker_tiers.core.training_jobs import (
    create_training_job_task,
    describe_training_job_task,
    grant_create_training_jobs,
    grant_training_execution_role,
    training_channel,
    training_job_arn_pattern,
    training_job_request,
    training_log_group_arn,
    validate_hyperparameters,
)
from sagemaker_tiers.core.validation import (
    ValidationError,
    require_duration,
    require_int_in_range,
    require_match,
    require_one_of,
    require_s3_folder,
    require_whole_seconds,
)
from sagemaker_tiers.foundation import MlBucket, MlEncryptionKey, SageMakerNetwork
from sagemaker_tiers.jumpstart import _hub_content as hc
from sagemaker_tiers.jumpstart import _runs
from sagemaker_tiers.operations.runs import RunMetrics
from sagemaker_tiers.registry.model_package_group import IModelPackageGroup
from sagemaker_tiers.studio.hub import CuratedHub
from sagemaker_tiers.training.instance_types import require_training_instance_type
# The Training Job tier's readings of a bucket's EventBridge setting and of EventBridge's wildcard escaping.
from sagemaker_tiers.training.training_pipeline import _escape_wildcard, _sends_events_to_eventbridge

Completion = Literal["sync", "poll"]
#: Channels a JumpStart training script reads (the SageMaker Python SDK's JumpStart estimator uses these names):
#: the dataset, the base model's artifacts and, with network isolation, the training script itself.
TRAINING_CHANNEL, VALIDATION_CHANNEL, MODEL_CHANNEL, CODE_CHANNEL = "training", "validation", "model", "code"
_JOB_PREFIX = r"[a-z0-9](-*[a-z0-9]){0,23}"


class JumpStartFineTuning(RunMetrics, Construct):
    """Fine-tune an allowlisted JumpStart model on a dataset prefix of the ML bucket, then register the fine-tuned
    model as a version of a model package group, pending approval.

    Example::

        tuned = JumpStartFineTuning(self, "FlanT5Tuned",
            hub=studio.hub, model_id="huggingface-text2text-flan-t5-base",
            bucket=foundation.bucket, encryption_key=foundation.key, network=foundation.network,
            model_package_group=registry.groups["example-jumpstart-tuned"],
            dataset_prefix="datasets/flan-t5/", output_prefix="models/flan-t5/",
            hyperparameters={"epochs": "3"}, notification_topic=registry.workflow.topic)

    **What a run does** (a Step Functions state machine; training jobs are runs, not infrastructure):

    1. ``DescribeHubContent`` of the model on SageMaker's public hub (``model_version`` or the newest), the document
       merged over defaults for its optional fields.
    2. Refusals, before anything is created, each failing the run with its own error after notifying
       ``notification_topic``: a model without ``TrainingSupported`` (``JumpStart.TrainingNotSupported``); a gated
       model without ``accept_eula`` (``JumpStart.EulaNotAccepted``); a document without a training image, script or
       base artifacts (``JumpStart.TrainingNotSupported``), or without a hosting image or supported inference instance
       types (``JumpStart.ModelNotServable``: the result could not be served);
       ``instance_type`` not in the document's ``SupportedTrainingInstanceTypes``
       (``JumpStart.InstanceTypeNotSupported``); network isolation asked for a model whose document says
       ``TrainingEnableNetworkIsolation: false`` (``JumpStart.NetworkIsolationNotSupported``); a ``hyperparameters``
       name the document does not declare (scope ``algorithm``) (``JumpStart.UnknownHyperparameter``, naming it and
       the declared ones).
    3. The hyperparameters: every default of the document's ``Hyperparameters`` (the algorithm's and the container's
       ``sagemaker_program``/``sagemaker_submit_directory``), then ``hyperparameters`` over them.
    4. ``CreateTrainingJob`` (shared request of :mod:`sagemaker_tiers.core.training_jobs`, the same security as the
       Training Job tier): the document's ``TrainingEcrUri`` image and ``TrainingMetrics``; channels ``training``
       (``dataset_prefix``), ``validation`` (``validation_prefix``, if given), ``model`` (``TrainingArtifactUri``,
       with ``ModelAccessConfig.AcceptEula`` when the EULA is accepted) and ``code`` (``TrainingScriptUri``: with
       network isolation the script comes in as a channel, where the document's ``sagemaker_submit_directory``
       expects it); in the VPC's private subnets and security group; network isolation (unless
       ``enable_network_isolation=False``); inter-container traffic encrypted; output and volume encrypted with the
       customer key; optional spot with per-run checkpoints; output compression as the document says
       (``DisableOutputCompression``).
    5. Wait for it: ``completion="sync"`` (default) uses ``createTrainingJob.sync``; ``"poll"`` a bounded
       ``DescribeTrainingJob`` loop (:func:`~sagemaker_tiers.core.polling.bounded_poll`; moto runs this one).
    6. Register (:func:`~sagemaker_tiers.core.model_registration.register_model_package`): ``PendingManualApproval``,
       the document's ``HostingEcrUri`` with the job's model artifacts and the document's inference environment,
       ``SupportedRealtimeInferenceInstanceTypes`` from the document, and the model, version, training job and
       execution in ``CustomerMetadataProperties``. The approval workflow and the inference tier take it from there
       (the endpoint's model role reads ``output_prefix``).

    **Triggers, notifications, alarms** as in the Training Job tier: by hand (``start-execution --input '{}'``),
    on ``schedule``, when ``<dataset_prefix>...<new_data_suffix>`` is written (the bucket must send events to
    EventBridge); undeliverable trigger events go to an encrypted dead-letter queue; failed and timed-out runs and
    undelivered triggers raise alarms on ``notification_topic``.

    **What bills.** Each run bills its training job (``instance_type`` per second while it runs; JumpStart models
    want GPU instances, such as ml.g5.2xlarge at about 1.5 USD per hour in us-east-1); nothing bills between runs.

    :param hub: The curated hub whose allowlist ``model_id`` must be in (checked at synth).
    :param model_id: The JumpStart model id.
    :param bucket: The ML bucket with the dataset, the output and the checkpoints.
    :param encryption_key: Customer-managed key: job volume and output, log group, topic, queue.
    :param network: Subnets and security group the training jobs run in.
    :param model_package_group: Group that receives a version, pending approval, per successful run.
    :param dataset_prefix: Key prefix (a folder) of the training data (channel ``training``).
    :param output_prefix: Key prefix (a folder) the fine-tuned model artifacts go to.
    :param validation_prefix: Key prefix of validation data (channel ``validation``). Default: none.
    :param model_version: JumpStart version (``"2.1.0"``). Default: the newest at each run.
    :param accept_eula: The model id again, to accept the model's end-user license agreement. Default: not accepted.
    :param hyperparameters: Overrides of the document's defaults: names it declares (checked at run time), string
        values. Default: none (the document's defaults).
    :param instance_type: Training instance type (must be in the document's ``SupportedTrainingInstanceTypes``
        where it lists them). Default: ``ml.g5.2xlarge``.
    :param instance_count: Instances per job, 1-1000. Default: 1.
    :param volume_size_gb: EBS volume per instance. Default: 256 (JumpStart's text models need room for weights).
    :param max_runtime: ``MaxRuntimeInSeconds``. Default: 1 day.
    :param use_spot: Managed spot training (needs ``checkpoint_prefix``). Default: False.
    :param max_wait: Spot wait plus run time. Default: twice ``max_runtime`` with spot.
    :param checkpoint_prefix: Key prefix of per-run checkpoints. Default: none.
    :param enable_network_isolation: Train with network isolation (refused at run time for a model that cannot).
        Default: True.
    :param supported_content_types: Registered request MIME types. Default: ``["application/json"]``.
    :param supported_response_mime_types: Registered response MIME types. Default: ``["application/json"]``.
    :param job_name_prefix: Training job names and the IAM scope, 1-24 lowercase letters, digits or '-'. Default:
        derived from the model id.
    :param completion: ``"sync"`` or ``"poll"``. Default: ``"sync"``.
    :param poll_interval: Wait between ``DescribeTrainingJob`` calls with ``"poll"``. Default: 1 minute.
    :param notification_topic: Failure notifications and alarms. Default: a new topic encrypted with the key.
    :param schedule: Start a run on this schedule. Default: none.
    :param trigger_on_new_data: Start a run when an object ending in ``new_data_suffix`` lands under
        ``dataset_prefix``. Default: False.
    :param new_data_suffix: Key suffix of the marker object. Default: ``_SUCCESS``.
    :param role: Execution role SageMaker assumes. Default: a new role with exactly the permissions described.
    :param log_retention: Retention of the state machine's log group. Default: one year.

    Attributes: ``state_machine``, ``role`` and ``grant_principal``, ``topic``, ``log_group``,
    ``training_job_request`` (as rendered), ``job_name_prefix``, ``output_prefix``, ``model_package_group``,
    ``alarms``, and with triggers ``schedule_rule``, ``new_data_rule``, ``dead_letter_queue``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        hub: CuratedHub,
        model_id: str,
        bucket: MlBucket,
        encryption_key: MlEncryptionKey,
        network: SageMakerNetwork,
        model_package_group: IModelPackageGroup,
        dataset_prefix: str,
        output_prefix: str,
        validation_prefix: str | None = None,
        model_version: str | None = None,
        accept_eula: str | None = None,
        hyperparameters: Mapping[str, str] | None = None,
        instance_type: str = "ml.g5.2xlarge",
        instance_count: int = 1,
        volume_size_gb: int = 256,
        max_runtime: Duration | None = None,
        use_spot: bool = False,
        max_wait: Duration | None = None,
        checkpoint_prefix: str | None = None,
        enable_network_isolation: bool = True,
        supported_content_types: tuple[str, ...] | list[str] = ("application/json",),
        supported_response_mime_types: tuple[str, ...] | list[str] = ("application/json",),
        job_name_prefix: str | None = None,
        completion: Completion = "sync",
        poll_interval: Duration | None = None,
        notification_topic: sns.ITopic | None = None,
        schedule: events.Schedule | None = None,
        trigger_on_new_data: bool = False,
        new_data_suffix: str = "_SUCCESS",
        role: iam.IRole | None = None,
        log_retention: logs.RetentionDays = lib_defaults.LOG_RETENTION,
    ) -> None:
        accepted = hc.validate_model("", hub, model_id, model_version, accept_eula)
        for prop, value, cls, what in (
            ("bucket", bucket, MlBucket, "an MlBucket"),
            ("encryption_key", encryption_key, MlEncryptionKey, "an MlEncryptionKey"),
            ("network", network, SageMakerNetwork, "a SageMakerNetwork"),
        ):
            if not isinstance(value, cls):
                raise ValidationError(f"{prop} must be {what}, got {value!r}")
        if not isinstance(model_package_group, IModelPackageGroup):
            raise ValidationError(f"model_package_group must be an IModelPackageGroup, got {model_package_group!r}")
        prefixes = [("dataset_prefix", dataset_prefix), ("output_prefix", output_prefix)]
        if validation_prefix is not None:
            prefixes.append(("validation_prefix", validation_prefix))
        if checkpoint_prefix is not None:
            prefixes.append(("checkpoint_prefix", checkpoint_prefix))
        for prop, prefix in prefixes:
            require_s3_folder(prop, prefix)
        # The job writes the output and checkpoints: neither may sit inside (or contain) a prefix it reads, or each other.
        writable = {"output_prefix", "checkpoint_prefix"}
        for i, (prop, prefix) in enumerate(prefixes):
            for other_prop, other in prefixes[i + 1 :]:
                if (prop in writable or other_prop in writable) and (prefix.startswith(other) or other.startswith(prefix)):
                    raise ValidationError(f"{prop} must not overlap {other_prop} (the job writes output and checkpoints), got {prefix!r} and {other!r}")
        overrides = dict(hyperparameters or {})
        validate_hyperparameters(overrides)
        require_training_instance_type("instance_type", instance_type)
        require_int_in_range("instance_count", instance_count, minimum=1, maximum=1000)
        max_runtime = max_runtime or Duration.days(1)
        require_whole_seconds("max_runtime", max_runtime)
        if use_spot and checkpoint_prefix is None:
            raise ValidationError("checkpoint_prefix must be given with use_spot=True (spot jobs resume from checkpoints), got None")
        for prop, flag in (("use_spot", use_spot), ("enable_network_isolation", enable_network_isolation), ("trigger_on_new_data", trigger_on_new_data)):
            if not isinstance(flag, bool):
                raise ValidationError(f"{prop} must be True or False, got {flag!r}")
        require_one_of("completion", completion, ("sync", "poll"))
        poll_interval = poll_interval or Duration.minutes(1)
        require_whole_seconds("poll_interval", poll_interval)
        require_duration("poll_interval", poll_interval, minimum=Duration.seconds(1), maximum=Duration.hours(1))
        if job_name_prefix is None:
            job_name_prefix = _default_job_prefix(scope, id)
        require_match("job_name_prefix", job_name_prefix, _JOB_PREFIX, "1-24 lowercase letters, digits or '-', starting and ending with a letter or digit")
        content_types = hc.require_mime_types("supported_content_types", supported_content_types)
        response_types = hc.require_mime_types("supported_response_mime_types", supported_response_mime_types)
        if schedule is not None and not isinstance(schedule, events.Schedule):
            raise ValidationError(f"schedule must be an aws_events.Schedule, got {schedule!r}")
        require_match("new_data_suffix", new_data_suffix, r"[A-Za-z0-9!_.'()=-]{0,128}", "a key suffix of at most 128 letters, digits or !_.'()=-")
        if trigger_on_new_data and not _sends_events_to_eventbridge(bucket):
            raise ValidationError(
                "trigger_on_new_data needs the bucket to send object events to EventBridge: create it with "
                "MlBucket(..., event_bridge_enabled=True), got a bucket without EventBridge notifications"
            )
        super().__init__(scope, id)
        self.model_id = model_id
        self.runs_title = f"JumpStart fine-tuning {model_id}"
        self.triggers_hint = "schedule or trigger_on_new_data"
        self.model_version = model_version
        self.model_package_group = model_package_group
        self.bucket = bucket
        self.encryption_key = encryption_key
        self.network = network
        self.output_prefix = output_prefix
        self.dataset_prefix = dataset_prefix
        self.job_name_prefix = job_name_prefix
        self.instance_type = instance_type
        self.completion = completion
        self.hyperparameters = overrides
        self.eula_accepted = accepted
        self._stack = Stack.of(self)

        self.role: iam.IRole = role or iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker fine-tuning jobs {job_name_prefix}-* of JumpStart model {model_id}",
        )
        self.grant_principal = self.role
        self._grant_execution_role([p for _, p in prefixes if p not in (output_prefix, checkpoint_prefix)], checkpoint_prefix)

        self.topic: sns.ITopic = notification_topic or encrypted_topic(
            self, "Notifications", display_name="JumpStart fine-tuning", encryption_key=encryption_key
        )
        channels = [training_channel(TRAINING_CHANNEL, bucket.s3_uri(dataset_prefix))]
        if validation_prefix is not None:
            channels.append(training_channel(VALIDATION_CHANNEL, bucket.s3_uri(validation_prefix)))
        model_channel = training_channel(MODEL_CHANNEL, state_path("$.document.TrainingArtifactUri"))
        if accepted:
            model_channel["DataSource"]["S3DataSource"]["ModelAccessConfig"] = {"AcceptEula": True}
        channels += [model_channel, training_channel(CODE_CHANNEL, state_path("$.document.TrainingScriptUri"))]
        request = training_job_request(
            job_name=state_path("$.names.jobName"),
            role=self.role,
            image_uri=state_path("$.document.TrainingEcrUri"),
            channels=channels,
            output_s3_uri=bucket.s3_uri(output_prefix),
            encryption_key=encryption_key,
            subnet_ids=network.subnet_ids,
            security_group_ids=[network.security_group.security_group_id],
            instance_type=instance_type,
            instance_count=instance_count,
            volume_size_gb=volume_size_gb,
            hyperparameters=state_path("$.hp.values"),
            max_runtime=max_runtime,
            use_spot=use_spot,
            max_wait=max_wait,
            checkpoint_s3_uri=state_path("$.names.checkpointUri") if checkpoint_prefix is not None else None,
            enable_network_isolation=enable_network_isolation,
        )
        # From the document at run time: the model's own metric regexes and its output compression.
        request["AlgorithmSpecification"]["MetricDefinitions.$"] = "$.document.TrainingMetrics"
        request["OutputDataConfig"]["CompressionType.$"] = "$.output.jobCompression"
        #: The ``CreateTrainingJob`` request as rendered into the definition (JSONPath fields end in ``.$``).
        self.training_job_request = request
        self.log_group = logs.LogGroup(
            self, "StateMachineLogs", encryption_key=encryption_key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        definition = self._definition(
            request, accepted, overrides, enable_network_isolation, checkpoint_prefix, poll_interval, max_runtime,
            max_wait if use_spot else None, content_types, response_types,
        )
        job_time = (max_wait or max_runtime).to_seconds() if use_spot else max_runtime.to_seconds()
        self.state_machine = sfn.StateMachine(
            self,
            "Resource",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            comment=f"Fine-tunes JumpStart model {model_id} ({job_name_prefix}-* jobs) and registers it in {model_package_group.model_package_group_name}",
            timeout=Duration.seconds(int(job_time) + 3600),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self._grant_state_machine(enable_network_isolation)

        self.dead_letter_queue: sqs.Queue | None = None
        self.schedule_rule: events.Rule | None = None
        self.new_data_rule: events.Rule | None = None
        rules: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        if schedule is not None:
            rules.append(("Schedule", f"Fine-tunes JumpStart model {model_id} on a schedule", {"schedule": schedule},
                          {"source": "schedule", "time": events.EventField.time}))
        if trigger_on_new_data:
            key_pattern = events.Match.wildcard(f"{_escape_wildcard(dataset_prefix)}*{_escape_wildcard(new_data_suffix)}") if new_data_suffix else events.Match.prefix(dataset_prefix)
            rules.append((
                "NewData",
                f"Fine-tunes JumpStart model {model_id} when new data lands under {dataset_prefix}",
                {"event_pattern": events.EventPattern(
                    source=["aws.s3"], detail_type=["Object Created"],
                    detail={"bucket": {"name": [bucket.bucket_name]}, "object": {"key": key_pattern}},
                )},
                {"source": "new-data", "bucket": events.EventField.from_path("$.detail.bucket.name"), "key": events.EventField.from_path("$.detail.object.key")},
            ))
        if rules:
            self.dead_letter_queue, made = _runs.trigger_rules(
                self, self.state_machine, encryption_key, holds="trigger events that could not start a fine-tuning run", rules=rules
            )
            self.schedule_rule = made.get("Schedule")
            self.new_data_rule = made.get("NewData")
        specs: list[tuple[str, cw.IMetric, str]] = [
            ("ExecutionsFailed", self.metric_executions_failed(), f"Fine-tuning runs of JumpStart model {model_id} failed"),
            ("ExecutionsTimedOut", self.metric_executions_timed_out(), f"Fine-tuning runs of JumpStart model {model_id} timed out"),
        ]
        if self.dead_letter_queue is not None:
            specs.append(("UndeliveredTriggers", self.metric_undelivered_triggers(), "Trigger events could not start a fine-tuning run"))
        self.alarms = _runs.run_alarms(self, self.topic, specs)

    # -- public API (runs: grant_start_execution, metric_*, widgets from operations.runs.RunMetrics) -------------------------

    # -- the state machine ---------------------------------------------------------------------------------

    def _definition(
        self,
        request: dict[str, Any],
        accepted: bool,
        overrides: dict[str, str],
        isolation: bool,
        checkpoint_prefix: str | None,
        poll_interval: Duration,
        max_runtime: Duration,
        max_wait: Duration | None,
        content_types: list[str],
        response_types: list[str],
    ) -> sfn.IChainable:
        states = Construct(self, "States")
        notify = hc.failure_ending(states, self.topic, "JumpStart fine-tuning run failed", "JumpStart fine-tuning")

        start = sfn.Pass(states, "ApplyInputDefaults", parameters={"defaults": {"trigger": {"source": "manual"}}, "input.$": "$"})
        merge_input = sfn.Pass(states, "MergeInput", parameters={"run.$": "States.JsonMerge($.defaults, $.input, false)"})
        describe = hc.describe_hub_content(states, self.model_id, self.model_version)
        describe.add_catch(notify, errors=["States.ALL"], result_path="$.error")
        doc_defaults, merged = hc.apply_document_defaults(
            states,
            {
                "TrainingSupported": False,
                "GatedBucket": False,
                "HostingEulaUri": "(not given in the document)",
                "Hyperparameters": [],
                "TrainingMetrics": [],
                "TrainingEnableNetworkIsolation": True,
                "DisableOutputCompression": False,
                "InferenceEnvironmentVariables": [],
                "DefaultInferenceInstanceType": "",
            },
            carry=["run"],
        )
        model_and_version = "$.hub.name, $.hub.version"

        def refuse(state_id: str, error: str, cause: str) -> sfn.Pass:
            return hc.refusal(states, state_id, error, f"States.Format('{cause}', {model_and_version})", notify)

        def missing(state_id: str, field: str, error: str) -> tuple[sfn.Condition, sfn.Pass]:
            return (
                sfn.Condition.not_(sfn.Condition.is_present(f"$.document.{field}")),
                refuse(state_id, error, f"JumpStart model {{}} version {{}} has no {field} in its hub content document; nothing was trained"),
            )

        not_trainable = refuse(
            "TrainingNotSupported",
            hc.TRAINING_NOT_SUPPORTED,
            "JumpStart model {} version {} does not support fine-tuning (its hub content document says TrainingSupported is not true); nothing was trained",
        )
        checks = sfn.Choice(states, "CheckTrainable").when(
            sfn.Condition.not_(sfn.Condition.boolean_equals("$.document.TrainingSupported", True)), not_trainable
        )
        for state_id, field, error in (
            ("NoTrainingImage", "TrainingEcrUri", hc.TRAINING_NOT_SUPPORTED),
            ("NoTrainingScript", "TrainingScriptUri", hc.TRAINING_NOT_SUPPORTED),
            ("NoBaseArtifacts", "TrainingArtifactUri", hc.TRAINING_NOT_SUPPORTED),
            ("NoHostingImage", "HostingEcrUri", hc.NOT_SERVABLE),
            ("NoInferenceInstanceTypes", "SupportedInferenceInstanceTypes", hc.NOT_SERVABLE),
        ):
            checks.when(*missing(state_id, field, error))
        if not accepted:
            checks.when(
                sfn.Condition.boolean_equals("$.document.GatedBucket", True),
                hc.refusal(
                    states, "EulaNotAccepted", hc.EULA_NOT_ACCEPTED,
                    "States.Format('JumpStart model {} version {} is gated: read its end-user license agreement ({}) and "
                    "accept it with accept_eula set to the model id; nothing was trained', $.hub.name, $.hub.version, $.document.HostingEulaUri)",
                    notify,
                ),
            )
        if isolation:
            checks.when(
                sfn.Condition.boolean_equals("$.document.TrainingEnableNetworkIsolation", False),
                refuse(
                    "NetworkIsolationNotSupported", hc.ISOLATION_NOT_SUPPORTED,
                    "JumpStart model {} version {} cannot train with network isolation (TrainingEnableNetworkIsolation is false); "
                    "set enable_network_isolation=False to fine-tune it; nothing was trained",
                ),
            )

        # The instance type, where the document lists the supported ones.
        type_check = sfn.Pass(
            states, "CheckTrainingInstanceType",
            parameters={"supported.$": f"States.ArrayContains($.document.SupportedTrainingInstanceTypes, '{self.instance_type}')"},
            result_path="$.instanceType",
        )
        type_refused = hc.refusal(
            states, "InstanceTypeNotSupported", hc.INSTANCE_TYPE_NOT_SUPPORTED,
            f"States.Format('JumpStart model {{}} version {{}} trains on {{}}, not on {self.instance_type}; nothing was trained', "
            "$.hub.name, $.hub.version, States.JsonToString($.document.SupportedTrainingInstanceTypes))",
            notify,
        )

        # Hyperparameters: overrides must be declared by the document (scope "algorithm").
        declared = sfn.Pass(
            states, "DeclaredHyperparameters",
            parameters={"names.$": "$.document.Hyperparameters[?(@.Scope == 'algorithm')].Name"},
            result_path="$.declared",
        )
        collect = sfn.Pass(
            states, "CollectHyperparameters",
            parameters={"defaults.$": "$.hyperparameterDefaults.map", "overrides": dict(overrides)},
            result_path="$.hp",
        )
        merge_hp = sfn.Pass(
            states, "MergeHyperparameters",
            parameters={"values.$": "States.JsonMerge($.hp.defaults, $.hp.overrides, false)"},
            result_path="$.hp",
        )
        defaults_map = hc.name_default_map(states, "Hyperparameter", "$.document.Hyperparameters", "$.hyperparameterDefaults", collect)
        if overrides:
            names = sorted(overrides)
            known = sfn.Pass(
                states, "CheckHyperparameterNames",
                parameters={f"h{i}.$": f"States.ArrayContains($.declared.names, '{name}')" for i, name in enumerate(names)},
                result_path="$.known",
            )
            unknown = sfn.Choice(states, "AllHyperparametersDeclared")
            for i, name in enumerate(names):
                unknown.when(
                    sfn.Condition.boolean_equals(f"$.known.h{i}", False),
                    hc.refusal(
                        states, f"UnknownHyperparameter{i}", hc.UNKNOWN_HYPERPARAMETER,
                        f"States.Format('hyperparameters names {name}, which JumpStart model {{}} version {{}} does not declare "
                        "(it declares {}); nothing was trained', $.hub.name, $.hub.version, States.JsonToString($.declared.names))",
                        notify,
                    ),
                )
            unknown.otherwise(defaults_map)
            declared.next(known).next(unknown)
        else:
            declared.next(defaults_map)
        type_ok = (
            sfn.Choice(states, "ListsTrainingInstanceTypes")
            .when(sfn.Condition.is_present("$.document.SupportedTrainingInstanceTypes"), type_check)
            .otherwise(declared)
        )
        type_check.next(
            sfn.Choice(states, "SupportsTrainingInstanceType")
            .when(sfn.Condition.boolean_equals("$.instanceType.supported", False), type_refused)
            .otherwise(declared)
        )
        checks.otherwise(type_ok)

        # Output compression, as the document says; the registered model data follows it.
        uncompressed = sfn.Pass(
            states, "UncompressedOutput",
            parameters={"jobCompression": "NONE", "dataType": "S3Prefix", "dataCompression": "None"}, result_path="$.output",
        )
        compressed = sfn.Pass(
            states, "CompressedOutput",
            parameters={"jobCompression": "GZIP", "dataType": "S3Object", "dataCompression": "Gzip"}, result_path="$.output",
        )
        run_id = "States.Hash($$.Execution.Id, 'MD5')"
        name_parameters: dict[str, Any] = {"jobName.$": f"States.Format('{self.job_name_prefix}-{{}}', {run_id})"}
        if checkpoint_prefix is not None:
            name_parameters["checkpointUri.$"] = f"States.Format('{{}}{{}}/', $.names.checkpointBase, {run_id})"
        names_first = sfn.Pass(
            states, "CheckpointBase", parameters={"checkpointBase": self.bucket.s3_uri(checkpoint_prefix or "")}, result_path="$.names"
        )
        name_job = sfn.Pass(states, "NameTrainingJob", parameters=name_parameters, result_path="$.names")
        compression = sfn.Choice(states, "OutputCompression").when(
            sfn.Condition.boolean_equals("$.document.DisableOutputCompression", True), uncompressed
        ).otherwise(compressed)
        naming: sfn.IChainable = names_first.next(name_job) if checkpoint_prefix is not None else name_job
        uncompressed.next(naming)
        compressed.next(naming)
        collect.next(merge_hp).next(compression)

        create = create_training_job_task(states, request, sync=self.completion == "sync")
        create.add_catch(notify, errors=["States.ALL"], result_path="$.error")

        describe_job = describe_training_job_task(states, "DescribeTrainingJob", job_name_path="$.names.jobName")
        describe_job.add_catch(notify, errors=["States.ALL"], result_path="$.error")
        job_failed = sfn.Pass(
            states, "RecordJobFailure",
            parameters={"Error": "SageMaker.TrainingJobFailed", "Cause.$": "States.Format('Training job {} ended {} ({})', $.job.TrainingJobName, $.job.TrainingJobStatus, $.job.SecondaryStatus)"},
            result_path="$.error",
        )
        job_failed.next(notify)
        register = self._registration(states, notify, content_types, response_types)
        status = (
            sfn.Choice(states, "TrainingJobStatus")
            .when(sfn.Condition.string_equals("$.job.TrainingJobStatus", "Completed"), register)
            .when(
                sfn.Condition.or_(
                    sfn.Condition.string_equals("$.job.TrainingJobStatus", "Failed"),
                    sfn.Condition.string_equals("$.job.TrainingJobStatus", "Stopped"),
                ),
                job_failed,
            )
        )
        if self.completion == "poll":
            # The job's own limit plus time to provision instances and upload the model.
            limit = poll_limit(Duration.seconds(int((max_wait or max_runtime).to_seconds()) + 900), poll_interval)
            start_polls = sfn.Pass(states, "StartPolling", parameters={"count": 0}, result_path="$.polls")
            poll_timeout = sfn.Pass(
                states, "PollLimitReached",
                parameters={"Error": "JumpStart.TrainingJobTimedOut", "Cause.$": "States.Format('Training job {} still {} after the poll limit', $.job.TrainingJobName, $.job.TrainingJobStatus)"},
                result_path="$.error",
            )
            poll_timeout.next(notify)
            bounded_poll(
                states, describe=describe_job, status=status, interval=poll_interval, limit=limit, on_limit=poll_timeout,
                counter="$.polls.count", wait_id="WaitForTrainingJob", count_id="CountPoll", limit_id="PollLimit",
            )
            name_job.next(create).next(start_polls).next(describe_job)
        else:
            status.otherwise(job_failed)
            # The .sync task returns once the job has ended; DescribeTrainingJob reads how.
            name_job.next(create).next(describe_job).next(status)
        start.next(merge_input).next(describe).next(doc_defaults)
        merged.next(checks)
        return start

    def _registration(self, states: Construct, notify: sfn.IChainable, content_types: list[str], response_types: list[str]) -> sfn.IChainable:
        data = sfn.Pass(
            states, "ServingModelData",
            parameters={
                "source": {
                    "S3Uri.$": "$.job.ModelArtifacts.S3ModelArtifacts",
                    "S3DataType.$": "$.output.dataType",
                    "CompressionType.$": "$.output.dataCompression",
                }
            },
            result_path="$.data",
        )
        spec = inference_specification(
            [
                model_container(
                    state_path("$.document.HostingEcrUri"),
                    ModelDataSource={"S3DataSource.$": "$.data.source"},
                    **{"Environment.$": "$.environment.map"},
                )
            ],
            content_types=content_types,
            response_mime_types=response_types,
            realtime_instance_types=state_path("$.document.SupportedInferenceInstanceTypes"),
        )
        register = register_model_package(
            states,
            "RegisterModelPackage",
            group=self.model_package_group,
            inference_specification=spec,
            client_token=state_path("States.Hash($.job.TrainingJobArn, 'MD5')"),
            description=state_path(
                "States.Format('JumpStart model {} version {} fine-tuned by training job {} in execution {}', $.hub.name, $.hub.version, $.job.TrainingJobName, $$.Execution.Id)"
            ),
            customer_metadata={
                "sagemaker-tiers:jumpstart-model-id.$": "$.hub.name",
                "sagemaker-tiers:jumpstart-model-version.$": "$.hub.version",
                "sagemaker-tiers:hub-content-arn.$": "$.hub.arn",
                "sagemaker-tiers:training-job-name.$": "$.job.TrainingJobName",
                "sagemaker-tiers:default-instance-type.$": "$.document.DefaultInferenceInstanceType",
                "sagemaker-tiers:execution-arn.$": "$$.Execution.Id",
            },
        )
        register.add_catch(notify, errors=["States.ALL"], result_path="$.error")
        done = sfn.Pass(
            states, "Registered",
            parameters={
                "modelId.$": "$.hub.name",
                "modelVersion.$": "$.hub.version",
                "trainingJobName.$": "$.job.TrainingJobName",
                "hyperparameters.$": "$.hp.values",
                "modelPackageArn.$": "$.registration.ModelPackageArn",
            },
        )
        environment = hc.name_default_map(
            states, "Environment", "$.document.InferenceEnvironmentVariables[?(@.Scope == 'container')]", "$.environment", register
        )
        register.next(done)
        data.next(environment)
        return data

    # -- permissions ---------------------------------------------------------------------------------------

    def _grant_execution_role(self, read_prefixes: list[str], checkpoint_prefix: str | None) -> None:
        role = self.role
        for prefix in read_prefixes:
            self.bucket.grant_read_prefix(role, prefix)
        self.bucket.grant_write_prefix(role, self.output_prefix)
        if checkpoint_prefix is not None:
            self.bucket.grant_read_write_prefix(role, checkpoint_prefix)
        self.encryption_key.grant_sagemaker_use(role)
        grant_training_execution_role(
            role,
            job_name_prefix=self.job_name_prefix,
            vpc_id=self.network.vpc.vpc_id,
            subnet_ids=self.network.subnet_ids,
            security_group_id=self.network.security_group.security_group_id,
        )
        hc.grant_artifacts_read(role, reason=f"Fine-tuning jobs read the JumpStart model {self.model_id}'s base artifacts and training script.")
        if isinstance(role, Construct):
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "Resource '*' only where IAM has no resource-level permission: cloudwatch:PutMetricData (limited to "
                "SageMaker's training namespace by condition) and ec2:Describe* for jobs in the VPC.",
                applies_to="Resource::*",
            )
        log_group_arn = training_log_group_arn(self)
        acknowledge_grant(
            role,
            f"{log_group_arn}:log-stream:{self.job_name_prefix}-*",
            "SageMaker names a job's log streams <job name>/algo-<n>-<time>; IAM can only name these jobs' streams by "
            "the job name prefix.",
        )
        acknowledge_grant(
            role,
            self._stack.format_arn(service="ec2", resource="network-interface", resource_name="*"),
            "SageMaker creates and deletes the job's network interfaces, whose IDs do not exist beforehand; the "
            "statement is limited to this VPC by an ec2:Vpc condition.",
        )

    def _grant_state_machine(self, isolation: bool) -> None:
        machine = self.state_machine
        hc.grant_describe_model(machine.role, self.model_id)
        grant_create_training_jobs(
            machine,
            job_name_prefix=self.job_name_prefix,
            execution_role=self.role,
            subnet_ids=self.network.subnet_ids,
            security_group_ids=[self.network.security_group.security_group_id],
            instance_types=[self.instance_type],
            network_isolation=isolation,
            sync=self.completion == "sync",
        )
        self.model_package_group.grant_register(machine)
        hc.grant_publish(machine, self.topic, self._stack)
        acknowledge_grant(
            machine,
            training_job_arn_pattern(self, self.job_name_prefix),
            "Training job names are generated per run (<prefix>-<run id>); IAM can only name this construct's jobs by "
            f"the '{self.job_name_prefix}-*' prefix.",
        )
        acknowledge(
            machine.role,
            "AwsSolutions-IAM5",
            "Step Functions' log delivery and X-Ray's PutTraceSegments support no resource-level permission; CDK adds "
            "them with Resource '*' for logging and tracing.",
            applies_to="Resource::*",
        )


def _default_job_prefix(scope: Construct, id: str) -> str:
    """A job name prefix unique to the construct path (two fine-tunes never share an IAM scope)."""
    import hashlib

    path = f"{scope.node.path}/{id}"
    base = hc.id_fragment(id, 15) or "jumpstart"
    return f"{base.strip('-')}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"
