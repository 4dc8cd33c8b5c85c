"""Use a curated JumpStart model as it is: register it as a model package version, pending approval.

See :class:`JumpStartModelVersion`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from sagemaker_tiers.core import defaults as lib_defaults
from sagemaker_tiers.core.delivery import encrypted_topic
from sagemaker_tiers.core.nag import acknowledge
from sagemaker_tiers.core.validation import ValidationError, require_customer_managed_key
from sagemaker_tiers.jumpstart import _hub_content as hc
from sagemaker_tiers.jumpstart import _runs
from sagemaker_tiers.operations.runs import RunMetrics
from sagemaker_tiers.registry.model_package_group import IModelPackageGroup
from sagemaker_tiers.studio.hub import PUBLIC_HUB, CuratedHub

#: Stack statuses after which a deployment starts a registration run (CloudFormation's "Stack Status Change"
#: events: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/event-detail-stack-status-change.html).
DEPLOYED_STATUSES: tuple[str, ...] = ("CREATE_COMPLETE", "UPDATE_COMPLETE")
#: ListModelPackages' largest page: how many of the group's newest versions a run checks for an earlier
#: registration of the same model version.
RECENT_VERSIONS = 100


class JumpStartModelVersion(RunMetrics, Construct):
    """Register an allowlisted JumpStart model, as it is, as a version of a model package group, pending approval.

    The version then goes through the registry's approval workflow like any trained model, and
    :class:`~sagemaker_tiers.inference.ApprovedModelEndpoint` serves it once approved (real-time; the endpoint
    refuses an instance type the package does not list in ``SupportedRealtimeInferenceInstanceTypes``).

    Example::

        flan = JumpStartModelVersion(self, "FlanT5",
            hub=studio.hub, model_id="huggingface-text2text-flan-t5-base",
            model_package_group=registry.groups["jumpstart-flan-t5"], encryption_key=foundation.key,
            notification_topic=registry.workflow.topic)
        flan.grant_read_model_data(endpoint.model_role)

    **Why a state machine, at run time.** What to register (hosting image, model artifacts, environment, supported
    instance types) is in the model's hub content document, which only ``DescribeHubContent`` answers; synth stays
    offline and environment-agnostic, and AWS publishes new versions without a code change. A custom resource could
    call it too, but would hide the registration inside a deployment (a refusal would roll the stack back) and
    need a Lambda function; a state machine is the same path as the training tiers: visible, retried, alarmed,
    with the administrators told why a run failed. It needs no Lambda function.

    **What a run does.** ``DescribeHubContent`` on SageMaker's public hub (``SageMakerPublicHub``) for
    ``model_id`` (``model_version``, or the newest) -> merge the document over defaults for its optional fields ->
    refuse a gated model (``GatedBucket``) without ``accept_eula`` (``JumpStart.EulaNotAccepted``), and a model
    without a hosting image, artifacts or supported inference instance types (``JumpStart.ModelNotServable``) ->
    the model data source: ``HostingPrepackedArtifactUri`` when the document has one (artifacts with their
    inference code), else ``HostingArtifactUri`` with its ``HostingArtifactS3DataType`` and
    ``HostingArtifactCompressionType``; ``ModelAccessConfig.AcceptEula`` for a gated model -> the container
    environment from the document's ``InferenceEnvironmentVariables`` (scope ``container``) -> stop if one of the
    group's newest 100 versions already registered this model version (so a run is idempotent) -> otherwise
    ``CreateModelPackage``: ``PendingManualApproval``, the document's ``HostingEcrUri`` image, the data source, the
    environment, ``SupportedRealtimeInferenceInstanceTypes`` from ``SupportedInferenceInstanceTypes``, and
    ``CustomerMetadataProperties`` (model id and version, hub content ARN, default instance type, execution).
    Any failure notifies ``notification_topic`` and fails the run with the error's name.

    **When it runs.** After every deployment of the stack (an EventBridge rule on the stack's ``CREATE_COMPLETE``
    and ``UPDATE_COMPLETE`` events), on ``schedule`` if given (to pick up a new version when ``model_version`` is
    None), and by hand: ``aws stepfunctions start-execution --state-machine-arn <arn> --input '{}'``. Runs that find
    the version registered end without registering it again.

    **What bills.** Registering bills nothing (a few state transitions); an endpoint serving the approved version
    bills while it runs, on the instance type the inference tier chooses.

    :param hub: The curated hub whose allowlist ``model_id`` must be in (checked at synth).
    :param model_id: The JumpStart model id, such as ``"huggingface-text2text-flan-t5-base"``.
    :param model_package_group: Group that receives the version, pending approval.
    :param encryption_key: Customer-managed key of the state machine's logs, a new topic and the trigger queue.
    :param model_version: JumpStart version (``"2.1.0"``). Default: the newest at each run.
    :param accept_eula: The model id again, to accept the model's end-user license agreement (gated models are
        refused without it: at synth when ``hub.gated_model_ids`` declares the model gated, else at run time from
        the document). Read the agreement first (``HostingEulaUri`` of the document; the refusal names it).
        Default: not accepted.
    :param supported_content_types: Registered request MIME types. Default: ``["application/json"]``.
    :param supported_response_mime_types: Registered response MIME types. Default: ``["application/json"]``.
    :param notification_topic: Topic for failure notifications and alarms. Default: a new topic encrypted with
        ``encryption_key``.
    :param register_on_deploy: Start a run after each deployment of the stack. Default: True.
    :param schedule: Also start a run on this schedule. Default: none.
    :param log_retention: Retention of the state machine's log group. Default: one year.

    Attributes: ``state_machine`` (also ``node.default_child``), ``topic``, ``log_group``, ``model_id``,
    ``model_package_group``, ``alarms``, ``deploy_rule``, ``schedule_rule`` and ``dead_letter_queue`` (trigger
    events that could not start a run).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        hub: CuratedHub,
        model_id: str,
        model_package_group: IModelPackageGroup,
        encryption_key: kms.IKey,
        model_version: str | None = None,
        accept_eula: str | None = None,
        supported_content_types: Sequence[str] = ("application/json",),
        supported_response_mime_types: Sequence[str] = ("application/json",),
        notification_topic: sns.ITopic | None = None,
        register_on_deploy: bool = True,
        schedule: events.Schedule | None = None,
        log_retention: logs.RetentionDays = lib_defaults.LOG_RETENTION,
    ) -> None:
        accepted = hc.validate_model("", hub, model_id, model_version, accept_eula)
        if not isinstance(model_package_group, IModelPackageGroup):
            raise ValidationError(f"model_package_group must be an IModelPackageGroup, got {model_package_group!r}")
        require_customer_managed_key("encryption_key", encryption_key)
        content_types = hc.require_mime_types("supported_content_types", supported_content_types)
        response_types = hc.require_mime_types("supported_response_mime_types", supported_response_mime_types)
        if not isinstance(register_on_deploy, bool):
            raise ValidationError(f"register_on_deploy must be True or False, got {register_on_deploy!r}")
        if schedule is not None and not isinstance(schedule, events.Schedule):
            raise ValidationError(f"schedule must be an aws_events.Schedule, got {schedule!r}")
        if notification_topic is not None and not hasattr(notification_topic, "topic_arn"):
            raise ValidationError(f"notification_topic must be an sns.ITopic, got {notification_topic!r}")
        super().__init__(scope, id)
        self.model_id = model_id
        self.runs_title = f"JumpStart registration {model_id}"
        self.triggers_hint = "register_on_deploy or schedule"
        self.model_version = model_version
        self.model_package_group = model_package_group
        self.eula_accepted = accepted
        #: Versions registered here keep their artifacts in JumpStart's buckets, not under a prefix of the ML bucket.
        self.output_prefix: str | None = None
        self._stack = Stack.of(self)

        self.topic: sns.ITopic = notification_topic or encrypted_topic(
            self, "Notifications", display_name="JumpStart model registration", encryption_key=encryption_key
        )
        self.log_group = logs.LogGroup(
            self, "StateMachineLogs", encryption_key=encryption_key, retention=log_retention, removal_policy=RemovalPolicy.RETAIN
        )
        definition = self._definition(accepted, content_types, response_types)
        self.state_machine = sfn.StateMachine(
            self,
            "Resource",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            comment=f"Registers JumpStart model {model_id} in {model_package_group.model_package_group_name}, pending approval",
            timeout=Duration.hours(1),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        self._grant()

        self.dead_letter_queue: sqs.Queue | None = None
        self.deploy_rule: events.Rule | None = None
        self.schedule_rule: events.Rule | None = None
        if register_on_deploy or schedule is not None:
            self._triggers(register_on_deploy, schedule, encryption_key)
        self._alarms()

    # -- public API (runs: grant_start_execution, metric_*, widgets from operations.runs.RunMetrics) -------------------------

    def grant_read_model_data(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` (an endpoint's model role) read the artifacts this version's container downloads:
        JumpStart's regional artifact buckets, read-only."""
        return hc.grant_artifacts_read(grantee, reason=f"The model role reads the JumpStart model {self.model_id}'s artifacts.")

    # -- the state machine ---------------------------------------------------------------------------------

    def _definition(self, accepted: bool, content_types: list[str], response_types: list[str]) -> sfn.IChainable:
        states = Construct(self, "States")
        partition = self._stack.partition
        notify = hc.failure_ending(states, self.topic, "JumpStart model registration failed", "JumpStart registration")
        group = self.model_package_group.model_package_group_name

        start = sfn.Pass(
            states, "ApplyInputDefaults", parameters={"defaults": {"trigger": {"source": "manual"}}, "input.$": "$"}
        )
        merge_input = sfn.Pass(states, "MergeInput", parameters={"run.$": "States.JsonMerge($.defaults, $.input, false)"})
        describe = hc.describe_hub_content(states, self.model_id, self.model_version)
        describe.add_catch(notify, errors=["States.ALL"], result_path="$.error")
        defaults, merged = hc.apply_document_defaults(
            states,
            {
                "GatedBucket": False,
                "HostingEulaUri": "(not given in the document)",
                "InferenceEnvironmentVariables": [],
                "HostingArtifactS3DataType": "S3Object",
                "HostingArtifactCompressionType": "Gzip",
                "DefaultInferenceInstanceType": "",
            },
            carry=["run"],
        )
        gated = sfn.Condition.boolean_equals("$.document.GatedBucket", True)
        refuse_eula = hc.refusal(
            states,
            "EulaNotAccepted",
            hc.EULA_NOT_ACCEPTED,
            "States.Format('JumpStart model {} version {} is gated: read its end-user license agreement ({}) and accept "
            "it with accept_eula set to the model id; nothing was registered', $.hub.name, $.hub.version, $.document.HostingEulaUri)",
            notify,
        )

        def not_servable(state_id: str, missing: str) -> sfn.Pass:
            return hc.refusal(
                states,
                state_id,
                hc.NOT_SERVABLE,
                f"States.Format('JumpStart model {{}} version {{}} has no {missing} in its hub content document, so it "
                "cannot be registered for a SageMaker endpoint; nothing was registered', $.hub.name, $.hub.version)",
                notify,
            )

        artifact_fields = {"type.$": "$.document.HostingArtifactS3DataType", "compression.$": "$.document.HostingArtifactCompressionType"}
        prepacked = sfn.Pass(
            states, "PrepackedArtifact",
            parameters={"uri.$": "$.document.HostingPrepackedArtifactUri", "type": "S3Object", "compression": "Gzip"},
            result_path="$.artifact",
        )
        artifact = sfn.Pass(
            states, "HostingArtifact", parameters={"uri.$": "$.document.HostingArtifactUri", **artifact_fields}, result_path="$.artifact"
        )
        source = {"S3Uri.$": "$.artifact.uri", "S3DataType.$": "$.artifact.type", "CompressionType.$": "$.artifact.compression"}
        gated_source = sfn.Pass(
            states, "GatedModelDataSource",
            parameters={"source": {**source, "ModelAccessConfig": {"AcceptEula": True}}},
            result_path="$.data",
        )
        open_source = sfn.Pass(states, "ModelDataSource", parameters={"source": source}, result_path="$.data")

        list_versions = sfn.CustomState(
            states,
            "ListRecentVersions",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:sagemaker:listModelPackages",
                "Parameters": {
                    "ModelPackageGroupName": group,
                    "SortBy": "CreationTime",
                    "SortOrder": "Descending",
                    "MaxResults": RECENT_VERSIONS,
                },
                "ResultSelector": {"descriptions.$": "$.ModelPackageSummaryList[*].ModelPackageDescription"},
                "ResultPath": "$.recent",
            },
        )
        list_versions.add_retry(
            errors=["SageMaker.ThrottlingException", "SageMaker.SageMakerException"],
            interval=Duration.seconds(2), max_attempts=5, backoff_rate=2, jitter_strategy=sfn.JitterType.FULL,
        )
        list_versions.add_catch(notify, errors=["States.ALL"], result_path="$.error")
        environment = hc.name_default_map(
            states, "Environment", "$.document.InferenceEnvironmentVariables[?(@.Scope == 'container')]", "$.environment", list_versions
        )
        describe_version = sfn.Pass(
            states,
            "DescribeVersion",
            parameters={
                "text.$": f"States.Format('JumpStart model {{}} version {{}} from {PUBLIC_HUB}, used as is', $.hub.name, $.hub.version)"
            },
            result_path="$.description",
        )
        check_registered = sfn.Pass(
            states,
            "CheckRegistered",
            parameters={"registered.$": "States.ArrayContains($.recent.descriptions, $.description.text)"},
            result_path="$.registered",
        )
        create_package = sfn.CustomState(
            states,
            "RegisterModelPackage",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{partition}:states:::aws-sdk:sagemaker:createModelPackage",
                "Parameters": {
                    "ModelPackageGroupName": group,
                    "ModelPackageDescription.$": "$.description.text",
                    "ModelApprovalStatus": "PendingManualApproval",
                    "ClientToken.$": "States.Hash(States.Format('{}{}', $$.Execution.Id, $.description.text), 'MD5')",
                    "InferenceSpecification": {
                        "Containers": [
                            {
                                "Image.$": "$.document.HostingEcrUri",
                                "ModelDataSource": {"S3DataSource.$": "$.data.source"},
                                "Environment.$": "$.environment.map",
                            }
                        ],
                        "SupportedRealtimeInferenceInstanceTypes.$": "$.document.SupportedInferenceInstanceTypes",
                        "SupportedContentTypes": content_types,
                        "SupportedResponseMIMETypes": response_types,
                    },
                    "CustomerMetadataProperties": {
                        "sagemaker-tiers:jumpstart-model-id.$": "$.hub.name",
                        "sagemaker-tiers:jumpstart-model-version.$": "$.hub.version",
                        "sagemaker-tiers:hub-content-arn.$": "$.hub.arn",
                        "sagemaker-tiers:default-instance-type.$": "$.document.DefaultInferenceInstanceType",
                        "sagemaker-tiers:execution-arn.$": "$$.Execution.Id",
                    },
                },
                "ResultSelector": {"ModelPackageArn.$": "$.ModelPackageArn"},
                "ResultPath": "$.registration",
            },
        )
        create_package.add_retry(
            errors=["SageMaker.ThrottlingException", "SageMaker.SageMakerException"],
            interval=Duration.seconds(2), max_attempts=5, backoff_rate=2, jitter_strategy=sfn.JitterType.FULL,
        )
        create_package.add_catch(notify, errors=["States.ALL"], result_path="$.error")
        registered = sfn.Pass(
            states,
            "Registered",
            parameters={"modelId.$": "$.hub.name", "modelVersion.$": "$.hub.version", "modelPackageArn.$": "$.registration.ModelPackageArn"},
        )
        already = sfn.Pass(
            states, "AlreadyRegistered", parameters={"modelId.$": "$.hub.name", "modelVersion.$": "$.hub.version", "alreadyRegistered": True}
        )

        data_source = sfn.Choice(states, "IsGated").when(gated, gated_source).otherwise(open_source)
        gated_source.next(environment)
        open_source.next(environment)
        prepacked.next(data_source)
        artifact.next(data_source)
        choose_artifact = (
            sfn.Choice(states, "ChooseModelData")
            .when(sfn.Condition.not_(sfn.Condition.is_present("$.document.HostingEcrUri")), not_servable("NoHostingImage", "HostingEcrUri"))
            .when(
                sfn.Condition.not_(sfn.Condition.is_present("$.document.SupportedInferenceInstanceTypes")),
                not_servable("NoInferenceInstanceTypes", "SupportedInferenceInstanceTypes"),
            )
            .when(sfn.Condition.is_present("$.document.HostingPrepackedArtifactUri"), prepacked)
            .when(sfn.Condition.is_present("$.document.HostingArtifactUri"), artifact)
            .otherwise(not_servable("NoHostingArtifact", "HostingArtifactUri"))
        )
        # Accepted: a gated model is registered with the acceptance (GatedModelDataSource); no check needed.
        check_eula: sfn.IChainable = (
            choose_artifact if accepted else sfn.Choice(states, "CheckEula").when(gated, refuse_eula).otherwise(choose_artifact)
        )
        list_versions.next(describe_version).next(check_registered).next(
            sfn.Choice(states, "IsRegistered")
            .when(sfn.Condition.boolean_equals("$.registered.registered", True), already)
            .otherwise(create_package.next(registered))
        )
        start.next(merge_input).next(describe).next(defaults)
        merged.next(check_eula)
        return start

    # -- permissions, triggers, alarms -----------------------------------------------------------------------

    def _grant(self) -> None:
        machine = self.state_machine
        hc.grant_describe_model(machine.role, self.model_id)
        # ListModelPackages has no resource-level permission that a group filter could use: Resource "*".
        machine.add_to_role_policy(iam.PolicyStatement(sid="FindEarlierRegistrations", actions=["sagemaker:ListModelPackages"], resources=["*"]))
        self.model_package_group.grant_register(machine)
        hc.grant_publish(machine, self.topic, self._stack)
        acknowledge(
            machine.role,
            "AwsSolutions-IAM5",
            "Step Functions' log delivery and X-Ray's PutTraceSegments support no resource-level permission (CDK adds "
            "them with Resource '*'); sagemaker:ListModelPackages supports none either (read-only: the run looks for an "
            "earlier registration of the same model version).",
            applies_to="Resource::*",
        )

    def _triggers(self, on_deploy: bool, schedule: events.Schedule | None, key: kms.IKey) -> None:
        rules: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        if on_deploy:
            rules.append((
                "Deployed",
                f"Registers JumpStart model {self.model_id} after each deployment of its stack",
                {"event_pattern": events.EventPattern(
                    source=["aws.cloudformation"],
                    detail_type=["CloudFormation Stack Status Change"],
                    detail={"stack-id": [self._stack.stack_id], "status-details": {"status": list(DEPLOYED_STATUSES)}},
                )},
                {"source": "deployment", "status": events.EventField.from_path("$.detail.status-details.status")},
            ))
        if schedule is not None:
            rules.append((
                "Schedule",
                f"Registers the newest version of JumpStart model {self.model_id} on a schedule",
                {"schedule": schedule},
                {"source": "schedule", "time": events.EventField.time},
            ))
        self.dead_letter_queue, made = _runs.trigger_rules(
            self, self.state_machine, key, holds="trigger events that could not start a registration run", rules=rules
        )
        self.deploy_rule = made.get("Deployed")
        self.schedule_rule = made.get("Schedule")

    def _alarms(self) -> None:
        specs: list[tuple[str, cw.IMetric, str]] = [
            ("ExecutionsFailed", self.metric_executions_failed(), f"Registration runs of JumpStart model {self.model_id} failed"),
            ("ExecutionsTimedOut", self.metric_executions_timed_out(), f"Registration runs of JumpStart model {self.model_id} timed out"),
        ]
        if self.dead_letter_queue is not None:
            specs.append(("UndeliveredTriggers", self.metric_undelivered_triggers(), "Trigger events could not start a JumpStart registration run"))
        self.alarms: dict[str, cw.Alarm] = _runs.run_alarms(self, self.topic, specs)
