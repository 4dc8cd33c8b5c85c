"""The Step Functions building blocks the tiers share (core.training_jobs, core.model_registration, core.polling),
each rendered alone in a tiny stack: the request, the loop and the grants each produces, and what each refuses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from sagemaker_tiers.core.model_registration import inference_specification, model_container, register_model_package
from sagemaker_tiers.core.polling import (
    EVENTS_PER_POLL,
    MAX_HISTORY_EVENTS,
    bounded_poll,
    count_and_limit,
    poll_limit,
    sagemaker_call,
)
from sagemaker_tiers.core.state_values import StatePath, state_path
from sagemaker_tiers.core.training_jobs import (
    grant_create_training_jobs,
    grant_training_execution_role,
    training_channel,
    training_job_request,
)
from sagemaker_tiers.core.validation import ValidationError
from sagemaker_tiers.registry import ModelPackageGroup

SUBNETS = ["subnet-aaaa", "subnet-bbbb"]
SECURITY_GROUP = "sg-1234"


@dataclass
class Blocks:
    stack: Stack
    template: dict[str, Any]
    role: iam.Role
    key: kms.Key
    machines: dict[str, sfn.StateMachine]

    def states(self, name: str) -> dict[str, Any]:
        """The rendered States of one state machine (tokens resolved to CloudFormation expressions)."""
        machine = self.machines[name]
        lid = self.stack.get_logical_id(machine.node.default_child)  # type: ignore[arg-type]
        definition = self.template["Resources"][lid]["Properties"]["DefinitionString"]
        parts = definition["Fn::Join"][1] if isinstance(definition, dict) else [definition]
        text = "".join(p if isinstance(p, str) else json.dumps("<" + json.dumps(p, sort_keys=True) + ">")[1:-1] for p in parts)
        return dict(json.loads(text)["States"])

    def statements(self, name: str) -> list[dict[str, Any]]:
        """Every statement of the policies attached to the role of ``name`` (a machine, or ``"execution"``)."""
        role = self.role if name == "execution" else self.machines[name].role
        role_lid = self.stack.get_logical_id(role.node.default_child)  # type: ignore[arg-type]
        found = []
        for resource in self.template["Resources"].values():
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_lid} in resource["Properties"]["Roles"]:
                found.extend(resource["Properties"]["PolicyDocument"]["Statement"])
        return found


def _request(role: iam.IRole, key: kms.IKey, **overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "job_name": state_path("$.run.jobName"),
        "role": role,
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
        "channels": [training_channel("train", "s3://data/train/", content_type="text/csv")],
        "output_s3_uri": "s3://data/models/",
        "encryption_key": key,
        "subnet_ids": SUBNETS,
        "security_group_ids": [SECURITY_GROUP],
        "instance_type": "ml.m5.xlarge",
    }
    props.update(overrides)
    return training_job_request(**props)


def _machine(scope: Stack, id: str, start: sfn.IChainable) -> sfn.StateMachine:
    return sfn.StateMachine(scope, id, definition_body=sfn.DefinitionBody.from_chainable(start))


def _task(scope: Stack, id: str, request: dict[str, Any]) -> sfn.CustomState:
    return sfn.CustomState(
        Construct(scope, f"{id}States"), "CreateTrainingJob", state_json={"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob", "Parameters": request}
    )


@pytest.fixture(scope="module")
def blocks() -> Blocks:
    stack = Stack(App(), "Blocks")
    role = iam.Role(stack, "ExecutionRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    key = kms.Key(stack, "Key")
    machines: dict[str, sfn.StateMachine] = {}

    # 1. the whole training request, spot with checkpoints, everything from typed inputs
    spot = _request(
        role,
        key,
        instance_count=2,
        hyperparameters={"epochs": "3"},
        max_runtime=Duration.hours(2),
        use_spot=True,
        checkpoint_s3_uri=state_path("$.run.checkpointUri"),
        environment={"LOG_LEVEL": "info"},
        metric_definitions={"loss": r"loss=([0-9.]+)"},
        tags={"team": "ml"},
    )
    machines["spot"] = _machine(stack, "Spot", _task(stack, "Spot", spot))
    grant_create_training_jobs(
        machines["spot"],
        job_name_prefix="churn",
        execution_role=role,
        subnet_ids=SUBNETS,
        security_group_ids=[SECURITY_GROUP],
        instance_types=["ml.m5.xlarge"],
        sync=True,
    )
    grant_training_execution_role(
        role, job_name_prefix="churn", vpc_id="vpc-1", subnet_ids=SUBNETS, security_group_id=SECURITY_GROUP
    )

    # 2. a fine-tune's request: image, model channel and hyperparameters resolved at run time, NVMe type
    tune = _request(
        role,
        key,
        image_uri=state_path("$.model.TrainingImage"),
        channels=[
            training_channel("training", "s3://data/train/"),
            training_channel("model", state_path("$.model.ArtifactsUri")),
        ],
        instance_type=state_path("$.run.instanceType"),
        encrypt_volume=False,
        hyperparameters=state_path("$.run.hyperparameters"),
        max_retry_attempts=0,
    )
    machines["tune"] = _machine(stack, "Tune", _task(stack, "Tune", tune))
    grant_create_training_jobs(
        machines["tune"],
        job_name_prefix="tune",
        execution_role=role,
        subnet_ids=SUBNETS,
        security_group_ids=[SECURITY_GROUP],
        instance_types=["ml.g5.2xlarge"],
        network_isolation=False,
        inter_container_traffic_encryption=False,
    )

    # 3. registration, pending approval
    group = ModelPackageGroup(stack, "Group", model_package_group_name="churn")
    register = register_model_package(
        stack,
        "RegisterModelPackage",
        group=group,
        client_token=state_path("States.Hash($.job.TrainingJobArn, 'MD5')"),
        description="trained",
        inference_specification=inference_specification(
            [model_container(state_path("$.model.InferenceImage"), state_path("$.job.ModelArtifacts.S3ModelArtifacts"))],
            content_types=["application/json"],
            response_mime_types=["application/json"],
            realtime_instance_types=state_path("$.model.InstanceTypes"),
        ),
        customer_metadata={"source": "test"},
    )
    machines["register"] = _machine(stack, "Register", register)
    group.grant_register(machines["register"])

    # 4. the bounded poll loop: Wait -> Describe -> status Choice -> count -> limit Choice
    describe = sagemaker_call(
        stack,
        "DescribeTrainingJob",
        "describeTrainingJob",
        resources=[stack.format_arn(service="sagemaker", resource="training-job", resource_name="churn-*")],
        parameters={"TrainingJobName.$": "$.run.jobName"},
        result_path="$.job",
    )
    status = sfn.Choice(stack, "JobStatus").when(
        sfn.Condition.string_equals("$.job.TrainingJobStatus", "Completed"), sfn.Succeed(stack, "Done")
    )
    wait = bounded_poll(
        stack,
        describe=describe,
        status=status,
        interval=Duration.seconds(30),
        limit=10,
        on_limit=sfn.Fail(stack, "TimedOut", error="TimedOut"),
        counter="$.polls.count",
        wait_id="WaitForJob",
        count_id="CountPoll",
        limit_id="PollLimit",
    )
    start = sfn.Pass(stack, "StartPolls", result=sfn.Result.from_object({"count": 0}), result_path="$.polls")
    machines["poll"] = _machine(stack, "Poll", start.next(wait))

    template = App.of(stack).synth().get_stack_by_name("Blocks").template  # type: ignore[union-attr]
    return Blocks(stack, template, role, key, machines)


# -- training_job_request ---------------------------------------------------------------------------------------


def test_training_request_is_secure_by_default_with_spot_checkpoints_and_typed_inputs(blocks: Blocks) -> None:
    request = blocks.states("spot")["CreateTrainingJob"]["Parameters"]
    assert request["TrainingJobName.$"] == "$.run.jobName"
    assert request["VpcConfig"] == {"SecurityGroupIds": [SECURITY_GROUP], "Subnets": SUBNETS}
    assert request["EnableNetworkIsolation"] is True and request["EnableInterContainerTrafficEncryption"] is True
    key_arn = '<{"Fn::GetAtt": ["Key961B73FD", "Arn"]}>'
    assert request["OutputDataConfig"] == {"S3OutputPath": "s3://data/models/", "KmsKeyId": key_arn}
    assert request["ResourceConfig"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30, "VolumeKmsKeyId": key_arn}
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400}
    assert request["CheckpointConfig"] == {"S3Uri.$": "$.run.checkpointUri", "LocalPath": "/opt/ml/checkpoints"}
    assert request["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert request["HyperParameters"] == {"epochs": "3"}
    assert request["Environment"] == {"LOG_LEVEL": "info"}
    assert request["AlgorithmSpecification"]["MetricDefinitions"] == [{"Name": "loss", "Regex": "loss=([0-9.]+)"}]
    assert request["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert request["InputDataConfig"] == [
        {
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://data/train/", "S3DataDistributionType": "FullyReplicated"}},
            "CompressionType": "None",
            "ContentType": "text/csv",
        }
    ]


def test_training_request_reads_run_time_values_from_the_state(blocks: Blocks) -> None:
    request = blocks.states("tune")["CreateTrainingJob"]["Parameters"]
    assert request["AlgorithmSpecification"]["TrainingImage.$"] == "$.model.TrainingImage"
    assert request["HyperParameters.$"] == "$.run.hyperparameters"
    assert request["ResourceConfig"]["InstanceType.$"] == "$.run.instanceType"
    assert "VolumeKmsKeyId" not in request["ResourceConfig"]  # encrypt_volume=False (an NVMe type)
    assert request["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3Uri.$"] == "$.model.ArtifactsUri"
    assert "RetryStrategy" not in request and "CheckpointConfig" not in request
    assert request["EnableManagedSpotTraining"] is False and "MaxWaitTimeInSeconds" not in request["StoppingCondition"]


def test_training_request_leaves_out_the_volume_key_for_a_literal_nvme_type() -> None:
    stack = Stack(App(), "Nvme")
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    request = _request(role, kms.Key(stack, "K"), instance_type="ml.g5.xlarge")
    assert "VolumeKmsKeyId" not in request["ResourceConfig"]
    assert "VolumeKmsKeyId" in _request(role, kms.Key(stack, "K2"))["ResourceConfig"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"use_spot": True}, "checkpoint_s3_uri must be given with use_spot=True"),
        ({"enable_remote_debug": True}, "enable_remote_debug needs the container to reach SSM"),
        ({"instance_type": StatePath("$.run.instanceType")}, "encrypt_volume must be given when instance_type is read at run time"),
        ({"hyperparameters": {"$.bad": "1"}}, "hyperparameters name must be 1-128 letters"),
        ({"use_spot": True, "checkpoint_s3_uri": "s3://c/", "keep_alive": Duration.minutes(5)}, "keep_alive .warm pool. cannot be combined"),
        ({"max_wait": Duration.hours(1)}, "max_wait only applies with use_spot=True"),
        ({"channels": []}, "channels must be a list of 1 to 20 channels"),
        ({"subnet_ids": []}, "subnet_ids must be a list of 1 to 16 ids"),
        ({"instance_count": 0}, "instance_count must be a whole number between 1 and 1000, got 0"),
        ({"max_runtime": Duration.days(29)}, "max_runtime must be between 1 second and 28 days"),
        ({"tags": {"aws:x": "y"}}, "tags key must be 1-128"),
    ],
)
def test_training_request_refuses_bad_inputs_at_synth(overrides: dict[str, Any], message: str) -> None:
    stack = Stack(App(), "Bad")
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    with pytest.raises(ValidationError, match=message):
        _request(role, kms.Key(stack, "K"), **overrides)


def test_training_channel_refuses_a_bad_name_and_distribution() -> None:
    with pytest.raises(ValidationError, match="channel name must be 1-64"):
        training_channel("bad name", "s3://b/p/")
    with pytest.raises(ValidationError, match="distribution must be one of"):
        training_channel("train", "s3://b/p/", distribution="Random")
    with pytest.raises(ValidationError, match="s3_uri must be an s3:// URI"):
        training_channel("train", "datasets/train/")


def test_state_path_refuses_what_is_not_a_path() -> None:
    with pytest.raises(ValidationError, match="StatePath path must be a JSONPath"):
        state_path("run.jobName")


# -- grants ------------------------------------------------------------------------------------------------------


def _by_sid(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in statements if "Sid" in s}


def test_training_job_grants_scope_jobs_to_the_prefix_and_deny_jobs_outside_the_settings(blocks: Blocks) -> None:
    spot = _by_sid(blocks.statements("spot"))
    allow = spot["PipelineTrainingJobs"]
    assert sorted(allow["Action"]) == sorted(
        ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:AddTags", "sagemaker:StopTrainingJob", "sagemaker:ListTags"]
    )
    assert json.dumps(allow["Resource"]).endswith(':training-job/churn-*"]]}')
    assert spot["DenyJobsOutsidePipelineSubnets"]["Condition"] == {"ForAnyValue:StringNotEquals": {"sagemaker:VpcSubnets": SUBNETS}}
    assert spot["DenyOtherInstanceTypes"]["Condition"] == {"ForAnyValue:StringNotEquals": {"sagemaker:InstanceTypes": ["ml.m5.xlarge"]}}
    assert spot["DenyJobsWithoutNetworkIsolation"]["Effect"] == "Deny"
    assert spot["DenyUnencryptedInterContainerTraffic"]["Condition"] == {"Bool": {"sagemaker:InterContainerTrafficEncryption": "false"}}
    pass_role = spot["PassExecutionRoleToSageMaker"]
    assert pass_role["Action"] == "iam:PassRole"
    assert pass_role["Resource"] == {"Fn::GetAtt": ["ExecutionRole605A040B", "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert "SyncTrainingJobEvents" in spot

    tune = _by_sid(blocks.statements("tune"))
    assert "sagemaker:StopTrainingJob" not in tune["PipelineTrainingJobs"]["Action"] and "SyncTrainingJobEvents" not in tune
    assert "DenyJobsWithoutNetworkIsolation" not in tune and "DenyUnencryptedInterContainerTraffic" not in tune


def test_execution_role_grants_logs_metrics_and_network_of_the_prefix_only(blocks: Blocks) -> None:
    execution = _by_sid(blocks.statements("execution"))
    assert json.dumps(execution["TrainingJobLogs"]["Resource"]).count("log-stream:churn-*") == 1
    assert execution["TrainingJobMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}}
    assert "ArnEquals" in execution["JobNetworkInterfacesInPipelineVpc"]["Condition"]
    assert "RemoteDebugSessions" not in execution


# -- register_model_package ----------------------------------------------------------------------------------------


def test_registration_is_pending_approval_idempotent_and_retried(blocks: Blocks) -> None:
    state = blocks.states("register")["RegisterModelPackage"]
    assert state["Resource"] == 'arn:<{"Ref": "AWS::Partition"}>:states:::aws-sdk:sagemaker:createModelPackage'
    parameters = state["Parameters"]
    assert parameters["ModelApprovalStatus"] == "PendingManualApproval"
    assert parameters["ClientToken.$"] == "States.Hash($.job.TrainingJobArn, 'MD5')"
    assert parameters["ModelPackageDescription"] == "trained"
    assert parameters["InferenceSpecification"] == {
        "Containers": [{"Image.$": "$.model.InferenceImage", "ModelDataUrl.$": "$.job.ModelArtifacts.S3ModelArtifacts"}],
        "SupportedContentTypes": ["application/json"],
        "SupportedResponseMIMETypes": ["application/json"],
        "SupportedRealtimeInferenceInstanceTypes.$": "$.model.InstanceTypes",
    }
    assert parameters["CustomerMetadataProperties"] == {"source": "test"}
    assert state["ResultPath"] == "$.registration"
    assert state["Retry"][0]["ErrorEquals"] == ["SageMaker.ThrottlingException", "SageMaker.SageMakerException"]
    statements = blocks.statements("register")
    create = [s for s in statements if s["Action"] == "sagemaker:CreateModelPackage"]
    assert create and create[0]["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}


def test_registration_refuses_a_bad_token_group_or_content_type() -> None:
    stack = Stack(App(), "BadRegistration")
    group = ModelPackageGroup(stack, "Group", model_package_group_name="g")
    spec = inference_specification([model_container("img:1", "s3://b/model.tar.gz")])
    with pytest.raises(ValidationError, match="client_token must be 1-36"):
        register_model_package(stack, "A", group=group, inference_specification=spec, client_token="not a token!")
    with pytest.raises(ValidationError, match="group must be an IModelPackageGroup"):
        register_model_package(stack, "B", group="g", inference_specification=spec, client_token="t")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="content_types must be a non-empty list of MIME types"):
        inference_specification([model_container("img:1")], content_types=[])
    with pytest.raises(ValidationError, match="containers must be a list of 1 to 15"):
        inference_specification([])


# -- bounded_poll ---------------------------------------------------------------------------------------------------


def test_bounded_poll_waits_describes_counts_and_gives_up_past_the_limit(blocks: Blocks) -> None:
    states = blocks.states("poll")
    assert states["StartPolls"]["Next"] == "WaitForJob"
    assert states["WaitForJob"] == {"Type": "Wait", "Seconds": 30, "Next": "DescribeTrainingJob"}
    assert states["DescribeTrainingJob"]["Resource"].endswith(":states:::aws-sdk:sagemaker:describeTrainingJob")
    assert states["DescribeTrainingJob"]["Next"] == "JobStatus"
    assert states["JobStatus"]["Default"] == "CountPoll"
    assert states["CountPoll"]["Parameters"] == {"count.$": "States.MathAdd($.polls.count, 1)"}
    assert states["CountPoll"]["ResultPath"] == "$.polls"
    assert states["PollLimit"]["Choices"] == [{"Variable": "$.polls.count", "NumericGreaterThan": 10, "Next": "TimedOut"}]
    assert states["PollLimit"]["Default"] == "WaitForJob"
    # sagemaker_call derives the IAM action from the API action
    actions = [s["Action"] for s in blocks.statements("poll")]
    assert "sagemaker:DescribeTrainingJob" in actions


def test_count_and_limit_keeps_sibling_fields_and_can_stop_at_the_limit() -> None:
    stack = Stack(App(), "Count")
    count = count_and_limit(
        stack,
        count_id="CountPoll",
        limit_id="PollBudgetLeft",
        counter="$.run.pollCount",
        limit=3,
        inclusive=True,
        keep=["jobName"],
        exceeded=sfn.Fail(stack, "TimedOut"),
        otherwise=sfn.Succeed(stack, "Again"),
    )
    assert stack.resolve(count.to_state_json())["Parameters"] == {"jobName.$": "$.run.jobName", "pollCount.$": "States.MathAdd($.run.pollCount, 1)"}
    choice = stack.resolve(stack.node.find_child("PollBudgetLeft").to_state_json())  # type: ignore[attr-defined]
    assert choice["Choices"] == [{"Variable": "$.run.pollCount", "NumericGreaterThanEquals": 3, "Next": "TimedOut"}]


def test_poll_limits_that_cannot_fit_an_execution_history_fail_at_synth() -> None:
    assert poll_limit(Duration.hours(2), Duration.minutes(5)) == 24
    with pytest.raises(ValidationError, match="must fit one execution's 25,000 history events"):
        poll_limit(Duration.days(28), Duration.minutes(1))  # 40,320 polls
    too_many = MAX_HISTORY_EVENTS // EVENTS_PER_POLL + 1
    stack = Stack(App(), "TooLong")
    with pytest.raises(ValidationError, match=f"limit {too_many} = {too_many} polls must fit"):
        count_and_limit(
            stack, count_id="C", limit_id="L", counter="$.polls.count", limit=too_many,
            exceeded=sfn.Fail(stack, "F"), otherwise=sfn.Succeed(stack, "S"),
        )
    with pytest.raises(ValidationError, match="counter must be a field of an object"):
        count_and_limit(
            stack, count_id="C2", limit_id="L2", counter="$.count", limit=1,
            exceeded=sfn.Fail(stack, "F2"), otherwise=sfn.Succeed(stack, "S2"),
        )
    with pytest.raises(ValidationError, match="interval must be a whole number of seconds"):
        poll_limit(Duration.hours(1), Duration.millis(10))
    with pytest.raises(ValidationError, match="action must be a camel-case SageMaker API action"):
        sagemaker_call(stack, "X", "DescribeEndpoint", resources=["*"])


def test_bounded_poll_runs_limit_plus_one_checks_then_takes_the_limit_path_under_moto() -> None:
    """Executed by moto's interpreter: a status that never finishes is checked limit + 1 times, then the loop ends."""
    import boto3
    from moto import mock_aws

    from tests.sfn_support import entered_states, physical_values, run_execution, state_machine_definition

    stack = Stack(App(), "PollRun")
    describe = sfn.Pass(stack, "Describe", result=sfn.Result.from_object({"Status": "InProgress"}), result_path="$.job")
    status = sfn.Choice(stack, "Status").when(sfn.Condition.string_equals("$.job.Status", "Done"), sfn.Succeed(stack, "Done"))
    wait = bounded_poll(
        stack, describe=describe, status=status, interval=Duration.seconds(1), limit=2,
        on_limit=sfn.Fail(stack, "GaveUp", error="PollLimit"), counter="$.polls.count",
        wait_id="Wait", count_id="Count", limit_id="Limit",
    )
    start = sfn.Pass(stack, "Start", result=sfn.Result.from_object({"count": 0}), result_path="$.polls")
    machine = _machine(stack, "Machine", start.next(wait))
    template = App.of(stack).synth().get_stack_by_name("PollRun").template  # type: ignore[union-attr]
    lid = stack.get_logical_id(machine.node.default_child)  # type: ignore[arg-type]
    definition = state_machine_definition(template, lid, physical_values(template))
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[arg-type]
        client = boto3.client("stepfunctions", region_name="us-east-1")
        arn = client.create_state_machine(
            name="poll", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/poll"
        )["stateMachineArn"]
        execution = run_execution(client, arn, {})
        assert execution["status"] == "FAILED"
        assert entered_states(client, execution["executionArn"]).count("Describe") == 3


def test_notify_then_fail_publishes_the_error_then_fails_with_it_and_renames_reserved_errors() -> None:
    from aws_cdk import aws_sns as sns

    from sagemaker_tiers.core.run_failure import notify_then_fail

    stack = Stack(App(), "Failure")
    topic = sns.Topic(stack, "Topic")
    notify = notify_then_fail(stack, topic, subject="Run failed", message="Run {} of {} failed. Error: {}", error="Tier.Failed")
    blocks = Blocks(stack, {}, iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("states.amazonaws.com")), kms.Key(stack, "K"), {})
    blocks.machines["m"] = _machine(stack, "Machine", sfn.Pass(stack, "Start").next(notify))
    blocks.template = App.of(stack).synth().get_stack_by_name("Failure").template  # type: ignore[union-attr]
    states = blocks.states("m")
    published = states["NotifyFailure"]
    assert published["Parameters"]["Subject"] == "Run failed"
    assert published["Parameters"]["Message.$"] == (
        "States.Format('Run {} of {} failed. Error: {}', $$.Execution.Id, $$.StateMachine.Name, States.JsonToString($.error))"
    )
    assert published["Next"] == "EndWithError" and published["Retry"][0]["MaxAttempts"] == 3
    # A notification that cannot be sent still ends the run with the run's error.
    assert published["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.notificationError", "Next": "EndWithError"}]
    (reserved,) = states["EndWithError"]["Choices"]
    assert reserved["StringMatches"] == "States.*" and reserved["Variable"] == "$.error.Error"
    assert states[reserved["Next"]] == {"Type": "Fail", "Error": "Tier.Failed", "CausePath": "States.JsonToString($.error)"}
    assert states[states["EndWithError"]["Default"]] == {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}


def test_create_and_describe_training_job_tasks_keep_the_arn_and_retry_on_limits_and_throttling() -> None:
    from sagemaker_tiers.core.training_jobs import create_training_job_task, describe_training_job_task

    stack = Stack(App(), "Tasks")
    create = create_training_job_task(stack, {"TrainingJobName.$": "$.run.jobName"}, sync=True)
    describe = describe_training_job_task(stack, "Describe", job_name_path="$.names.jobName")
    blocks = Blocks(stack, {}, iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("states.amazonaws.com")), kms.Key(stack, "K"), {})
    blocks.machines["m"] = _machine(stack, "Machine", create.next(describe))
    blocks.template = App.of(stack).synth().get_stack_by_name("Tasks").template  # type: ignore[union-attr]
    states = blocks.states("m")
    created = states["CreateTrainingJob"]
    assert created["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
    assert created["ResultSelector"] == {"TrainingJobArn.$": "$.TrainingJobArn"} and created["ResultPath"] == "$.created"
    limits, throttling = created["Retry"]
    assert "SageMaker.ResourceLimitExceeded" in limits["ErrorEquals"] and limits["IntervalSeconds"] == 60 and limits["MaxAttempts"] == 5
    assert "SageMaker.ThrottlingException" in throttling["ErrorEquals"] and throttling["MaxAttempts"] == 4
    described = states["Describe"]
    assert described["Resource"].endswith("aws-sdk:sagemaker:describeTrainingJob")
    assert described["Parameters"] == {"TrainingJobName.$": "$.names.jobName"} and described["ResultPath"] == "$.job"
    assert "ResultSelector" not in described and described["Retry"][0]["MaxAttempts"] == 5
