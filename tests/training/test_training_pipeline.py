"""TrainingPipeline as synthesized: the rendered state machine, its roles, triggers and alarms.

The fixture stack (``conftest.py``) holds the production pipeline (``completion="sync"``, with a schedule and a
new-data trigger) and the same pipeline with ``completion="poll"``; both are synthesized once per session.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from sagemaker_tiers.training import INVALID_INPUT_ERROR
from tests.sfn_support import physical_values, state_machine_definition
from tests.training.conftest import ALLOWED_TYPES, GROUP_NAME, HYPERPARAMETERS, JOB_PREFIX, METRICS, POLL_JOB_PREFIX

SG_ID = "sg-0123456789abcdef0"


@pytest.fixture(scope="module")
def rendered(synthesized) -> dict[str, Any]:
    """Both definitions as Step Functions receives them, resolved with the template's physical names."""
    physical = physical_values(
        synthesized.template, **{f"{synthesized.logical_id(synthesized.network.security_group)}.GroupId": SG_ID}
    )
    definitions = {
        name: state_machine_definition(synthesized.template, synthesized.logical_id(p.state_machine), physical)
        for name, p in (("sync", synthesized.sync), ("poll", synthesized.poll))
    }
    return {"physical": physical, **definitions}


def _value(synthesized, rendered, construct: Any, attribute: str | None = None) -> Any:
    logical_id = synthesized.logical_id(construct)
    return rendered["physical"][f"{logical_id}.{attribute}" if attribute else logical_id]


def _states(definition: dict) -> dict[str, dict]:
    """Every state of a definition, including those inside Parallel branches and Map processors."""
    found: dict[str, dict] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in state.get("Branches", []):
            found.update(_states(branch))
        if "ItemProcessor" in state:
            found.update(_states(state["ItemProcessor"]))
    return found


def _policy_statements(template: dict, role_logical_id: str) -> list[dict]:
    statements = []
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_logical_id} in resource["Properties"]["Roles"]:
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


# -- the CreateTrainingJob request -------------------------------------------------------------------------


def test_create_training_job_runs_to_completion_with_sync(rendered):
    create = rendered["sync"]["States"]["CreateTrainingJob"]
    assert create["Type"] == "Task"
    assert create["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    assert rendered["poll"]["States"]["CreateTrainingJob"]["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob"


def test_the_request_runs_in_the_vpc_isolated_and_encrypted_with_the_customer_key(synthesized, rendered):
    request = rendered["sync"]["States"]["CreateTrainingJob"]["Parameters"]
    key_arn = _value(synthesized, rendered, synthesized.key, "Arn")
    subnets = [_value(synthesized, rendered, s) for s in synthesized.network.subnets.subnets]
    assert request["VpcConfig"] == {"SecurityGroupIds": [SG_ID], "Subnets": subnets}
    assert len(subnets) == 2
    assert request["EnableNetworkIsolation"] is True
    assert request["EnableInterContainerTrafficEncryption"] is True
    assert request["OutputDataConfig"] == {"S3OutputPath": f"s3://{_value(synthesized, rendered, synthesized.bucket)}/models/churn/", "KmsKeyId": key_arn}
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == key_arn
    assert request["RoleArn"] == _value(synthesized, rendered, synthesized.sync.role, "Arn")


def test_the_request_carries_spot_checkpoints_stopping_condition_and_retry_strategy(synthesized, rendered):
    request = rendered["sync"]["States"]["CreateTrainingJob"]["Parameters"]
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 2 * 3600, "MaxWaitTimeInSeconds": 3 * 3600}
    assert request["CheckpointConfig"] == {"S3Uri.$": "$.run.checkpointUri", "LocalPath": "/opt/ml/checkpoints"}
    assert request["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    name_job = _states(rendered["sync"])["NameTrainingJob"]["Parameters"]
    assert name_job["checkpointUri.$"] == "States.Format('{}{}/', $.checkpointBase, States.Hash($$.Execution.Id, 'MD5'))"
    bucket = _value(synthesized, rendered, synthesized.bucket)
    assert _states(rendered["sync"])["CheckpointBase"]["Result"] == f"s3://{bucket}/checkpoints/churn/"


def test_the_request_takes_image_channels_hyperparameters_metrics_and_the_run_settings(synthesized, rendered):
    request = rendered["sync"]["States"]["CreateTrainingJob"]["Parameters"]
    bucket = _value(synthesized, rendered, synthesized.bucket)
    algorithm = request["AlgorithmSpecification"]
    assert re.fullmatch(r"123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com/cdk-\w+-container-assets-123456789012-us-east-1:[0-9a-f]{64}", algorithm["TrainingImage"])
    assert algorithm["TrainingInputMode"] == "File"
    assert algorithm["MetricDefinitions"] == [{"Name": n, "Regex": r} for n, r in METRICS.items()]
    assert request["InputDataConfig"] == [
        {
            "ChannelName": "train",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/datasets/churn/train/", "S3DataDistributionType": "FullyReplicated"}},
            "CompressionType": "None",
            "ContentType": "text/csv",
        },
        {
            "ChannelName": "validation",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/datasets/churn/validation/", "S3DataDistributionType": "ShardedByS3Key"}},
            "CompressionType": "None",
        },
    ]
    assert request["TrainingJobName.$"] == "$.run.jobName"
    assert request["HyperParameters.$"] == "$.run.hyperparameters"
    assert request["ResourceConfig"]["InstanceType.$"] == "$.run.instanceType"
    assert request["ResourceConfig"]["InstanceCount.$"] == "$.run.instanceCount"
    assert request["Environment"] == {"LOG_LEVEL": "info"}
    assert request["Tags"] == [{"Key": "team", "Value": "ml-platform"}]
    assert "KeepAlivePeriodInSeconds" not in request["ResourceConfig"] and "RemoteDebugConfig" not in request


def test_polling_renders_the_same_request_and_the_same_states(synthesized, rendered):
    sync, poll = rendered["sync"], rendered["poll"]
    assert sorted(_states(sync)) == sorted(_states(poll))
    request = dict(sync["States"]["CreateTrainingJob"]["Parameters"])
    other = dict(poll["States"]["CreateTrainingJob"]["Parameters"])
    # Only what names the pipeline differs: its role.
    assert request.pop("RoleArn") != other.pop("RoleArn")
    assert request == other
    for name, state in _states(sync).items():
        transitions = {k: state.get(k) for k in ("Next", "Default", "Catch", "Retry")}
        assert transitions == {k: _states(poll)[name].get(k) for k in transitions}, name


def test_throttling_and_limit_errors_are_retried_with_backoff_and_failures_are_caught(rendered):
    create = rendered["sync"]["States"]["CreateTrainingJob"]
    limits, throttling = create["Retry"]
    assert "SageMaker.ResourceLimitExceededException" in limits["ErrorEquals"]
    assert limits["IntervalSeconds"] == 60 and limits["BackoffRate"] == 2 and limits["MaxAttempts"] == 5
    assert "SageMaker.ThrottlingException" in throttling["ErrorEquals"] and throttling["BackoffRate"] == 2
    assert create["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "DescribeFailedTrainingJob"}]
    # A job that failed for capacity is retried as a new job, a bounded number of times.
    [capacity] = rendered["sync"]["States"]["RetryOnCapacityError"]["Choices"]
    assert {"Variable": "$.job.FailureReason", "StringMatches": "CapacityError*"} in capacity["And"]
    assert {"Variable": "$.run.attempt", "NumericLessThan": 3} in capacity["And"]
    assert rendered["sync"]["States"]["NextAttempt"]["Next"] == "CreateTrainingJob"


def test_every_task_ends_in_a_notification_and_a_fail_state_when_it_fails(synthesized, rendered):
    states = _states(rendered["sync"])
    tasks = {n: s for n, s in states.items() if s["Type"] in ("Task", "Parallel")}
    assert set(tasks) == {
        "ValidateInput", "CreateTrainingJob", "DescribeTrainingJob", "DescribeFailedTrainingJob", "WriteTrainingReport",
        "RegisterModelPackage", "NotifyFailure",
    }
    for name, state in tasks.items():
        [catch] = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        assert catch["Next"] in ("NotifyFailure", "DescribeFailedTrainingJob", "EndWithError"), name
    notify = states["NotifyFailure"]
    assert notify["Resource"] == "arn:aws:states:::sns:publish"
    assert notify["Parameters"]["TopicArn"] == _value(synthesized, rendered, synthesized.sync.topic)
    assert "$$.Execution.Id" in notify["Parameters"]["Message.$"]
    assert notify["Next"] == "EndWithError"
    assert {states[c["Next"]]["Type"] for c in states["EndWithError"]["Choices"]} | {states[states["EndWithError"]["Default"]]["Type"]} == {"Fail"}


def test_input_is_validated_before_any_job_starts(rendered):
    states = _states(rendered["sync"])
    assert rendered["sync"]["StartAt"] == "ValidateInput"
    fails = {n: s for n, s in states.items() if s.get("Error") == INVALID_INPUT_ERROR}
    assert set(fails) == {"InvalidHyperparameters", "InvalidInstanceType", "InvalidInstanceCount", "UnknownInputKey"}
    assert all(s["Type"] == "Fail" for s in fails.values())
    defaults = states["ApplyDefaults"]["Parameters"]["defaults"]
    assert defaults == {"hyperparameters": HYPERPARAMETERS, "instanceType": "ml.m5.xlarge", "instanceCount": 1, "trigger": {"source": "manual"}}
    choices = json.dumps(states["CheckRunInput"]["Choices"])
    for instance_type in ALLOWED_TYPES:
        assert json.dumps({"Variable": "$.instanceType", "StringEquals": instance_type}) in choices
    assert json.dumps({"Variable": "$.instanceCount", "NumericGreaterThan": 4}) in choices
    # A name with '-' is addressed in bracket notation.
    assert "$.hyperparameters['learning-rate']" in choices
    assert states["CheckHyperparameterNames"]["Choices"][0]["Not"] == {"Variable": "$.hyperparameterCount", "NumericEquals": 3}
    name = states["NameTrainingJob"]["Parameters"]["jobName.$"]
    assert name == f"States.Format('{JOB_PREFIX}-{{}}-1', States.Hash($$.Execution.Id, 'MD5'))"


def test_a_successful_run_registers_a_package_pending_manual_approval(synthesized, rendered):
    states = rendered["sync"]["States"]
    register = states["RegisterModelPackage"]
    assert register["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:createModelPackage"
    request = register["Parameters"]
    image = states["CreateTrainingJob"]["Parameters"]["AlgorithmSpecification"]["TrainingImage"]
    assert request["ModelPackageGroupName"] == GROUP_NAME
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    assert request["InferenceSpecification"]["Containers"] == [{"Image": image, "ModelDataUrl.$": "$.job.ModelArtifacts.S3ModelArtifacts"}]
    assert request["ModelMetrics"]["ModelQuality"]["Statistics"] == {"ContentType": "application/json", "S3Uri.$": "$.results.reportUri"}
    assert request["CustomerMetadataProperties"]["sagemaker-tiers:execution-arn.$"] == "$$.Execution.Id"
    assert request["CustomerMetadataProperties"]["sagemaker-tiers:training-image"] == image
    assert states["TrainingJobStatus"]["Choices"][0] == {"Variable": "$.job.TrainingJobStatus", "StringEquals": "Completed", "Next": "CollectResults"}
    report = states["BuildReport"]["Parameters"]["report"]
    assert report["hyperparameters.$"] == "$.run.hyperparameters" and report["finalMetrics.$"] == "$.results.metrics"
    assert states["WriteTrainingReport"]["Parameters"]["Bucket"] == _value(synthesized, rendered, synthesized.bucket)


# -- the state machine resource ----------------------------------------------------------------------------


def test_the_state_machine_logs_everything_encrypted_and_is_traced(synthesized):
    template = Template.from_json(synthesized.template)
    machine = synthesized.template["Resources"][synthesized.logical_id(synthesized.sync.state_machine)]["Properties"]
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["LoggingConfiguration"]["IncludeExecutionData"] is True
    log_group = synthesized.logical_id(synthesized.sync.log_group)
    assert machine["LoggingConfiguration"]["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group, "Arn"]}}}
    ]
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {"KmsKeyId": {"Fn::GetAtt": [synthesized.logical_id(synthesized.key), "Arn"]}, "RetentionInDays": 365},
            "DeletionPolicy": "Retain",
        },
    )


def test_the_state_machine_role_is_scoped_to_the_pipeline_jobs_role_and_group(synthesized):
    template = synthesized.template
    role = synthesized.stack.get_logical_id(synthesized.sync.state_machine.role.node.default_child)
    statements = _policy_statements(template, role)
    text = json.dumps(statements)
    job_arn = f":training-job/{JOB_PREFIX}-*"
    allow_jobs = next(s for s in statements if s.get("Sid") == "PipelineTrainingJobs")
    assert sorted(_actions(allow_jobs)) == [
        "sagemaker:AddTags", "sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:ListTags", "sagemaker:StopTrainingJob",
    ]
    assert job_arn in json.dumps(allow_jobs["Resource"])
    pass_role = next(s for s in statements if "iam:PassRole" in _actions(s))
    assert pass_role["Resource"] == {"Fn::GetAtt": [synthesized.logical_id(synthesized.sync.role), "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    sync_rule = next(s for s in statements if "events:PutRule" in _actions(s))
    assert "rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule" in json.dumps(sync_rule["Resource"])
    register = next(s for s in statements if "sagemaker:CreateModelPackage" in _actions(s))
    assert register["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
    denies = {s["Sid"]: s["Condition"] for s in statements if s["Effect"] == "Deny"}
    assert denies["DenyJobsWithoutNetworkIsolation"] == {"Bool": {"sagemaker:NetworkIsolation": "false"}}
    assert denies["DenyOtherInstanceTypes"] == {"ForAnyValue:StringNotEquals": {"sagemaker:InstanceTypes": ALLOWED_TYPES}}
    assert "sagemaker:VpcSubnets" in json.dumps(denies["DenyJobsOutsidePipelineSubnets"])
    assert not any(a.endswith("*") for s in statements for a in _actions(s)), "no wildcard actions"
    assert "training-report.json" in text
    # The polling pipeline needs no managed rule and no StopTrainingJob.
    poll_role = synthesized.stack.get_logical_id(synthesized.poll.state_machine.role.node.default_child)
    poll_actions = {a for s in _policy_statements(template, poll_role) for a in _actions(s)}
    assert "events:PutRule" not in poll_actions and "sagemaker:StopTrainingJob" not in poll_actions
    assert f"training-job/{POLL_JOB_PREFIX}-*" in json.dumps(_policy_statements(template, poll_role))


def test_the_execution_role_reads_inputs_writes_outputs_and_nothing_else(synthesized):
    role = synthesized.logical_id(synthesized.sync.role)
    trust = synthesized.template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}]
    statements = _policy_statements(synthesized.template, role)
    bucket = synthesized.logical_id(synthesized.bucket)

    def objects(action: str) -> set[str]:
        found = set()
        for s in statements:
            if action in _actions(s):
                for r in s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]:
                    if "Fn::Join" in r and r["Fn::Join"][1][0] == {"Fn::GetAtt": [bucket, "Arn"]}:
                        found.add(r["Fn::Join"][1][1])
        return found

    assert objects("s3:GetObject") == {"/datasets/churn/train/*", "/datasets/churn/validation/*", "/checkpoints/churn/*"}
    assert objects("s3:PutObject") == {"/models/churn/*", "/checkpoints/churn/*"}
    assert not any(a.startswith("s3:Delete") for s in statements for a in _actions(s))
    metrics = next(s for s in statements if s.get("Sid") == "TrainingJobMetrics")
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}}
    logs = next(s for s in statements if s.get("Sid") == "TrainingJobLogs")
    assert "log-group:/aws/sagemaker/TrainingJobs:log-stream:churn-*" in json.dumps(logs["Resource"])
    kms = next(s for s in statements if "kms:CreateGrant" in _actions(s))
    assert "sagemaker." in json.dumps(kms["Condition"]["StringEquals"]["kms:ViaService"])
    pull = next(s for s in statements if "ecr:BatchGetImage" in _actions(s))
    assert "container-assets" in json.dumps(pull["Resource"])
    eni = next(s for s in statements if s.get("Sid") == "JobNetworkInterfacesInPipelineVpc")
    assert list(eni["Condition"]) == ["ArnEquals"] and "ec2:Vpc" in eni["Condition"]["ArnEquals"]
    everything = {a for s in statements for a in _actions(s)}
    assert not {a for a in everything if a.split(":")[1] == "*"}
    assert "sagemaker:CreateTrainingJob" not in everything and "iam:PassRole" not in everything


# -- triggers and alarms -----------------------------------------------------------------------------------


def test_schedule_and_new_data_start_runs_with_retries_and_a_dead_letter_queue(synthesized):
    template = Template.from_json(synthesized.template)
    machine = {"Ref": synthesized.logical_id(synthesized.sync.state_machine)}
    dlq = {"Fn::GetAtt": [synthesized.logical_id(synthesized.sync.dead_letter_queue), "Arn"]}
    target = Match.object_like(
        {"Arn": machine, "DeadLetterConfig": {"Arn": dlq}, "RetryPolicy": {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 20}}
    )
    template.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 day)", "Targets": [target]})
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [{"Ref": synthesized.logical_id(synthesized.bucket)}]},
                    "object": {"key": [{"wildcard": "datasets/churn/*_SUCCESS"}]},
                },
            },
            "Targets": [target],
        },
    )
    queue = synthesized.template["Resources"][synthesized.logical_id(synthesized.sync.dead_letter_queue)]["Properties"]
    assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": [synthesized.logical_id(synthesized.key), "Arn"]}
    assert synthesized.poll.schedule_rule is None and synthesized.poll.new_data_rule is None


def test_alarms_on_failed_and_timed_out_runs_notify_the_topic(synthesized):
    topic = {"Ref": synthesized.logical_id(synthesized.sync.topic)}
    machine = {"Ref": synthesized.logical_id(synthesized.sync.state_machine)}
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in synthesized.template["Resources"].values()
        if a["Type"] == "AWS::CloudWatch::Alarm" and {"Name": "StateMachineArn", "Value": machine} in a["Properties"].get("Dimensions", [])
    }
    assert set(alarms) == {"ExecutionsFailed", "ExecutionsTimedOut"}
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [topic]
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert set(synthesized.sync.alarms) == {*alarms, "UndeliveredTriggers"}
    metric = synthesized.sync.metric_executions_failed(statistic="Average")
    assert metric.metric_name == "ExecutionsFailed" and metric.statistic == "Average"
    topic_props = synthesized.template["Resources"][synthesized.logical_id(synthesized.sync.topic)]["Properties"]
    assert topic_props["KmsMasterKeyId"] == {"Fn::GetAtt": [synthesized.logical_id(synthesized.key), "Arn"]}


def test_widgets_show_runs_duration_and_the_trigger_dead_letter_queue_only_when_triggered(synthesized):
    from aws_cdk import Stack

    def metrics(pipeline) -> list[tuple[str, str]]:
        stack = Stack.of(pipeline)
        return [
            (entry[0], entry[1])
            for widget in pipeline.widgets()
            for entry in stack.resolve(widget.to_json())[0]["properties"]["metrics"]
            if isinstance(entry[0], str)
        ]

    runs = [("AWS/States", m) for m in ("ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted")]
    duration = [("AWS/States", "ExecutionTime")] * 2  # average and longest
    assert metrics(synthesized.sync) == [*runs, *duration, ("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert metrics(synthesized.poll) == [*runs, *duration]
