"""AutopilotJob: the rendered state machine (request, poll loop, catches), permissions, triggers, alarms, and the
props that fail at synth."""

from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Match

from sagemaker_tiers import MlBucket, MlEncryptionKey, ModelPackageGroup, SageMakerNetwork, ValidationError
from sagemaker_tiers.autopilot import (
    AutoMLMode,
    AutopilotJob,
    CompletionCriteria,
    DatasetFormat,
    ImageClassificationProblem,
    TabularProblem,
    TabularProblemType,
    TextClassificationProblem,
    TimeSeriesForecastingProblem,
)
from tests.autopilot.autopilot_fakes import GROUP, JOB_PREFIX
from tests.conftest import app_context


@pytest.fixture(scope="module")
def definition(synthesized) -> dict:  # noqa: ANN001
    return synthesized.definition()


def _policies(synthesized, role) -> list[dict]:  # noqa: ANN001
    """Statements of the policies attached to ``role``."""
    role_id = synthesized.logical_id(role)
    statements = []
    for policy in synthesized.template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_create_request_renders_problem_algorithms_security_and_kms(synthesized, definition) -> None:  # noqa: ANN001
    state = definition["States"]["CreateAutoMLJob"]
    assert state["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:createAutoMLJobV2"
    request = state["Parameters"]
    values = _values(synthesized)
    key_arn = values[f"{synthesized.logical_id(synthesized.job.encryption_key)}.Arn"]
    bucket = values[synthesized.logical_id(synthesized.job.bucket)]
    assert request["AutoMLJobName.$"] == "$.run.jobName"
    assert request["AutoMLProblemTypeConfig"] == {
        "TabularJobConfig": {
            "TargetAttributeName": "churn",
            "ProblemType": "BinaryClassification",
            "Mode": "ENSEMBLING",
            "CompletionCriteria": {
                "MaxAutoMLJobRuntimeInSeconds": 600,
                "MaxCandidates": 20,
                "MaxRuntimePerTrainingJobInSeconds": 300,
            },
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost", "lightgbm", "catboost"]}]},
        }
    }
    assert request["AutoMLJobObjective"] == {"MetricName": "AUC"}
    assert request["AutoMLJobInputDataConfig"] == [
        {
            "ChannelType": "training",
            "ContentType": "text/csv;header=present",
            "CompressionType": "None",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/datasets/churn/"}},
        }
    ]
    assert request["DataSplitConfig"] == {"ValidationFraction": 0.25}
    assert request["OutputDataConfig"] == {"S3OutputPath": f"s3://{bucket}/autopilot/churn/", "KmsKeyId": key_arn}
    subnets = [values[synthesized.stack.resolve(s)["Ref"]] for s in synthesized.job.network.subnet_ids]
    assert request["SecurityConfig"] == {
        "VolumeKmsKeyId": key_arn,
        "EnableInterContainerTrafficEncryption": True,
        "VpcConfig": {"SecurityGroupIds": [values[f"{synthesized.logical_id(synthesized.job.network.security_group)}.GroupId"]], "Subnets": subnets},
    }
    assert len(subnets) == 2
    assert request["RoleArn"] == values[f"{synthesized.logical_id(synthesized.job.job_role)}.Arn"]
    assert request["Tags"] == [{"Key": "team", "Value": "ml-platform"}]


def test_job_names_are_unique_and_fit_32_characters(definition) -> None:  # noqa: ANN001
    prepare = definition["States"]["Prepare"]["Parameters"]["run"]
    assert prepare["pollCount"] == 0
    expression = prepare["jobName.$"]
    assert expression.startswith(f"States.Format('{JOB_PREFIX}-{{}}{{}}', ")
    # Two fully random UUID groups: 8 + 4 hex characters.
    assert expression.count("States.UUID()") == 2
    assert "States.StringSplit(States.UUID(), '-'), 0)" in expression
    assert "States.StringSplit(States.UUID(), '-'), 1)" in expression
    assert len(JOB_PREFIX) + 1 + 12 <= 32


def test_poll_loop_is_bounded_and_handles_every_status(synthesized, definition) -> None:  # noqa: ANN001
    states = definition["States"]
    assert synthesized.job.max_polls == 3  # 15-minute timeout / 5-minute polls
    assert states["WaitForJob"] == {"Type": "Wait", "Seconds": 300, "Next": "DescribeAutoMLJob"}
    assert states["DescribeAutoMLJob"]["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:describeAutoMLJobV2"
    assert states["DescribeAutoMLJob"]["Parameters"] == {"AutoMLJobName.$": "$.run.jobName"}
    choices = states["JobStatus"]["Choices"]
    assert {c["StringEquals"]: c["Next"] for c in choices if "StringEquals" in c} == {
        "Completed": "Leaderboard", "Failed": "HasFailureReason", "Stopped": "JobStopped"
    }
    # Stopped at the runtime limit with a best candidate is finished: it is ranked and registered, checked
    # before the plain Stopped branch.
    (runtime_limit,) = [c for c in choices if "And" in c]
    assert choices.index(runtime_limit) < [c.get("StringEquals") for c in choices].index("Stopped")
    assert runtime_limit["Next"] == "Leaderboard"
    assert {"Variable": "$.job.AutoMLJobStatus", "StringEquals": "Stopped"} in runtime_limit["And"]
    assert {"Variable": "$.job.AutoMLJobSecondaryStatus", "StringEquals": "MaxAutoMLJobRuntimeReached"} in runtime_limit["And"]
    assert {"Variable": "$.job.BestCandidate.CandidateName", "IsPresent": True} in runtime_limit["And"]
    assert states["JobStatus"]["Default"] == "CountPoll"
    assert states["CountPoll"]["Parameters"]["pollCount.$"] == "States.MathAdd($.run.pollCount, 1)"
    budget = states["PollBudgetLeft"]
    assert budget["Choices"] == [{"Variable": "$.run.pollCount", "NumericGreaterThanEquals": 3, "Next": "JobTimedOut"}]
    assert budget["Default"] == "WaitForJob"
    # A timed-out job is stopped, then the run fails with its own error.
    assert states["JobTimedOut"]["Next"] == "StopAutoMLJob"
    assert states["JobTimedOut"]["Parameters"]["error"] == "AutopilotJobTimedOut"
    assert states["StopAutoMLJob"]["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:stopAutoMLJob"
    assert states["StopAutoMLJob"]["Next"] == "NotifyFailed"
    assert states["Failed"] == {"Type": "Fail", "ErrorPath": "$.failure.error", "CausePath": "$.failure.cause"}
    errors = {states[s]["Parameters"]["error"] for s in ("JobFailed", "JobFailedWithoutReason", "JobStopped", "JobTimedOut", "PollFailed", "CreateFailed", "LeaderboardFailed", "RegistrationFailed")}
    assert errors == {
        "AutopilotJobFailed", "AutopilotJobStopped", "AutopilotJobTimedOut", "AutopilotJobPollFailed",
        "AutopilotJobNotCreated", "AutopilotLeaderboardFailed", "AutopilotRegistrationFailed",
    }
    # The state machine's own timeout is a last resort above the poll loop's.
    state_machine = synthesized.template.find_resources("AWS::StepFunctions::StateMachine")
    (props,) = [r["Properties"] for r in state_machine.values()]
    assert definition["TimeoutSeconds"] == 15 * 60 + 3600
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True


def test_every_step_that_can_fail_is_caught(definition) -> None:  # noqa: ANN001
    states = definition["States"]

    def catches(name: str) -> list[tuple[list[str], str]]:
        return [(c["ErrorEquals"], c["Next"]) for c in states[name]["Catch"]]

    assert catches("CreateAutoMLJob") == [
        (["SageMaker.ResourceInUseException"], "WaitForJob"),  # our own job, created by an earlier attempt
        (["States.ALL"], "CreateFailed"),
    ]
    assert catches("DescribeAutoMLJob") == [(["States.ALL"], "PollFailed")]
    assert states["PollFailed"]["Next"] == "StopAutoMLJob"
    assert catches("StopAutoMLJob") == [(["States.ALL"], "NotifyFailed")]
    assert catches("Leaderboard") == [(["States.ALL"], "LeaderboardFailed")]
    assert catches("RegisterBestCandidate") == [(["States.ALL"], "RegistrationFailed")]
    for name in ("CreateFailed", "LeaderboardFailed", "RegistrationFailed", "JobFailed", "JobStopped"):
        assert states[name]["Next"] == "NotifyFailed", name
        assert states[name]["ResultPath"] == "$.failure"
    for name in ("CreateAutoMLJob", "DescribeAutoMLJob", "StopAutoMLJob", "RegisterBestCandidate"):
        assert states[name]["Retry"][0]["ErrorEquals"] == ["States.TaskFailed"], name
        assert states[name]["Retry"][0]["MaxAttempts"] <= 5
    assert states["NotifyFailed"]["Next"] == "Failed"


def test_registration_is_pending_approval_idempotent_and_notified(synthesized, definition) -> None:  # noqa: ANN001
    states = definition["States"]
    leaderboard = states["Leaderboard"]
    assert leaderboard["Parameters"]["Payload"] == {"AutoMLJobName.$": "$.run.jobName"}
    register = states["RegisterBestCandidate"]
    assert register["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:createModelPackage"
    assert register["Parameters"]["ModelPackageGroupName"] == GROUP
    assert register["Parameters"]["ModelApprovalStatus"] == "PendingManualApproval"
    assert register["Parameters"]["ClientToken.$"] == "$.run.jobName"
    assert register["Parameters"]["InferenceSpecification.$"] == "$.leaderboard.result.ModelPackage.InferenceSpecification"
    assert register["Next"] == "NotifySucceeded"
    topic = _values(synthesized)[synthesized.logical_id(synthesized.job.topic)]
    for name in ("NotifySucceeded", "NotifyFailed"):
        assert states[name]["Resource"] == "arn:aws:states:::sns:publish"
        assert states[name]["Parameters"]["TopicArn"] == topic
    assert set(states["Outputs"]["Parameters"]) >= {"modelPackageArn.$", "leaderboard.$", "artifacts.$", "bestCandidate.$"}


def test_state_machine_role_is_least_privilege(synthesized) -> None:  # noqa: ANN001
    job = synthesized.job
    statements = _policies(synthesized, job.state_machine.role)
    by_action: dict[str, list[dict]] = {}
    for statement in statements:
        for action in _actions(statement):
            by_action.setdefault(action, []).append(statement)
    (pass_role,) = by_action["iam:PassRole"]
    assert pass_role["Resource"] == {"Fn::GetAtt": [synthesized.logical_id(job.job_role), "Arn"]}
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    # Registration only ever creates packages pending approval.
    for statement in by_action["sagemaker:CreateModelPackage"]:
        assert statement["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
    job_arn = json.dumps(synthesized.stack.resolve(job.job_arn_pattern))
    for action in ("sagemaker:CreateAutoMLJobV2", "sagemaker:DescribeAutoMLJobV2", "sagemaker:StopAutoMLJob", "sagemaker:AddTags"):
        (statement,) = by_action[action]
        assert json.dumps(statement["Resource"]) == job_arn, action
    assert f"automl-job/{JOB_PREFIX}-*" in job_arn
    for statement in by_action["kms:GenerateDataKey"]:
        assert statement["Condition"]["StringEquals"]["kms:ViaService"] == {"Fn::Join": ["", ["sns.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}


def test_no_policy_grants_wildcard_actions(synthesized) -> None:  # noqa: ANN001
    for policy in synthesized.template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in _actions(statement):
                assert "*" not in action, (action, statement)


def test_job_role_reads_data_writes_outputs_and_stays_in_the_network(synthesized) -> None:  # noqa: ANN001
    job = synthesized.job
    synthesized.template.has_resource_properties(
        "AWS::IAM::Role",
        {"AssumeRolePolicyDocument": {"Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]}},
    )
    statements = _policies(synthesized, job.job_role)
    text = json.dumps(statements)
    assert "datasets/churn/*" in text and "autopilot/churn/*" in text
    writes = [s for s in statements if "s3:PutObject" in _actions(s)]
    assert len(writes) == 1 and "autopilot/churn/*" in json.dumps(writes[0]["Resource"])
    kms = [s for s in statements if any(a.startswith("kms:") for a in _actions(s))]
    assert kms and all("kms:ViaService" in json.dumps(s.get("Condition", {})) for s in kms)
    (eni,) = [s for s in statements if "ec2:CreateNetworkInterface" in _actions(s)]
    resources = json.dumps(eni["Resource"])
    assert resources.count(":subnet/") == 2 and ":security-group/" in resources
    (pass_role,) = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    _assert_list_candidates_on_any_resource(statements)


def _assert_list_candidates_on_any_resource(statements: list[dict]) -> None:
    # ListCandidatesForAutoMLJob has no resource type in IAM: only Resource "*" allows it (on an automl-job ARN
    # the leaderboard would get AccessDenied after every completed job).
    granting = [s for s in statements if "sagemaker:ListCandidatesForAutoMLJob" in _actions(s)]
    assert granting and all(s["Resource"] == "*" for s in granting), granting


def test_leaderboard_function_is_traced_encrypted_and_scoped(synthesized) -> None:  # noqa: ANN001
    job = synthesized.job
    functions = synthesized.template.find_resources("AWS::Lambda::Function")
    (fn,) = [f["Properties"] for f in functions.values() if f["Properties"].get("Handler") == "autopilot_leaderboard.handler"]
    assert fn["TracingConfig"] == {"Mode": "Active"}
    assert fn["Runtime"] == "python3.14"
    assert fn["KmsKeyArn"] == {"Fn::GetAtt": [synthesized.logical_id(job.encryption_key), "Arn"]}
    assert fn["Environment"]["Variables"]["OUTPUT_PREFIX"] == "autopilot/churn/"
    assert fn["Environment"]["Variables"]["JOB_NAME_PREFIX"] == JOB_PREFIX
    statements = _policies(synthesized, job.leaderboard_function.role)
    (describe,) = [s for s in statements if "sagemaker:DescribeAutoMLJobV2" in _actions(s)]
    assert f"automl-job/{JOB_PREFIX}-*" in json.dumps(describe["Resource"])
    _assert_list_candidates_on_any_resource(statements)
    assert not [s for s in statements if "s3:GetObject" in _actions(s)]  # writes leaderboards, reads nothing
    # It lists the output prefix to find Autopilot's JSON reports, and nothing else in the bucket.
    (listing,) = [s for s in statements if "s3:ListBucket" in _actions(s)]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["autopilot/churn/*"]}}
    assert listing["Resource"] == {"Fn::GetAtt": [synthesized.logical_id(job.bucket), "Arn"]}


def test_triggers_start_runs_with_a_dead_letter_queue(synthesized) -> None:  # noqa: ANN001
    job = synthesized.job
    state_machine = {"Ref": synthesized.logical_id(job.state_machine)}
    dlq = {"Arn": {"Fn::GetAtt": [synthesized.logical_id(job.dead_letter_queue), "Arn"]}}
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(7 days)",
            "Targets": [Match.object_like({"Arn": state_machine, "DeadLetterConfig": dlq, "Input": '{"trigger":"schedule"}'})],
        },
    )
    synthesized.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [{"Ref": synthesized.logical_id(job.bucket)}]},
                    "object": {"key": [{"prefix": "datasets/churn/"}]},
                },
            },
            "Targets": [Match.object_like({"Arn": state_machine, "DeadLetterConfig": dlq})],
        },
    )
    synthesized.template.has_resource_properties(
        "AWS::SQS::Queue", {"KmsMasterKeyId": {"Fn::GetAtt": [synthesized.logical_id(job.encryption_key), "Arn"]}}
    )


def test_alarms_notify_the_topic(synthesized) -> None:  # noqa: ANN001
    job = synthesized.job
    assert set(job.alarms) == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", "LeaderboardErrors", "TriggerDeadLetters"}
    topic = {"Ref": synthesized.logical_id(job.topic)}
    for metric in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
        synthesized.template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {"MetricName": metric, "Namespace": "AWS/States", "Threshold": 0, "AlarmActions": [topic]},
        )
    synthesized.template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [synthesized.logical_id(job.encryption_key), "Arn"]}}
    )


def _values(synthesized) -> dict:  # noqa: ANN001
    from tests.autopilot.autopilot_fakes import physical

    return physical(synthesized.template_json)


# -- props that fail at synth --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def base() -> dict:
    """Valid props in a stack that is never synthesized; each case changes one thing."""
    stack = Stack(App(context=app_context()), "AutopilotInvalid")
    key = MlEncryptionKey(stack, "Key")
    return {
        "stack": stack,
        "props": {
            "bucket": MlBucket(stack, "Data", encryption_key=key),
            "dataset_prefix": "datasets/churn/",
            "output_prefix": "autopilot/churn/",
            "problem": TabularProblem(target_column="churn", problem_type=TabularProblemType.BINARY_CLASSIFICATION),
            "network": SageMakerNetwork(stack, "Network", encryption_key=key),
            "model_package_group": ModelPackageGroup(stack, "Group", model_package_group_name="g"),
        },
    }


_BINARY = TabularProblemType.BINARY_CLASSIFICATION


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        (lambda: TabularProblem(target_column="churn", problem_type=_BINARY, algorithms=["xgboost"]), "only be restricted with mode ENSEMBLING or HYPERPARAMETER_TUNING"),
        (lambda: TabularProblem(target_column="churn", problem_type=_BINARY, mode=AutoMLMode.HYPERPARAMETER_TUNING, algorithms=["lightgbm"]), r"mode 'HYPERPARAMETER_TUNING' must only name 'linear-learner', 'mlp', 'xgboost', got 'lightgbm'"),
        (lambda: TabularProblem(target_column="churn", problem_type=_BINARY, mode="ENSEMBLING", algorithms=["mlp"]), r"mode 'ENSEMBLING' must only name .*got 'mlp'"),
        (lambda: TabularProblem(target_column="churn", problem_type=_BINARY, mode="ENSEMBLING", algorithms=["xgboost", "xgboost"]), "must not repeat values"),
        (lambda: TabularProblem(target_column="price", problem_type=TabularProblemType.REGRESSION, objective_metric="AUC"), r"objective_metric for Regression must be one of 'MSE', 'MAE', 'R2', 'RMSE', got 'AUC'"),
        (lambda: TabularProblem(target_column="kind", problem_type="MulticlassClassification", objective_metric="F1"), "objective_metric for MulticlassClassification"),
        (lambda: TabularProblem(target_column="churn", problem_type="Clustering"), r"problem.problem_type must be one of .*got 'Clustering'"),
        # SageMaker supports sample weights in Ensembling mode only (API_TabularJobConfig).
        (lambda: TabularProblem(target_column="churn", problem_type=_BINARY, sample_weight_column="weight"), r"problem.sample_weight_column needs mode 'ENSEMBLING' .*got sample_weight_column='weight' with mode 'AUTO'"),
        (lambda: TabularProblem(target_column="churn", problem_type=_BINARY, mode="HYPERPARAMETER_TUNING", sample_weight_column="weight"), r"needs mode 'ENSEMBLING' .* with mode 'HYPERPARAMETER_TUNING'"),
        (lambda: TabularProblem(target_column="", problem_type=_BINARY), "problem.target_column"),
        (lambda: TimeSeriesForecastingProblem(target_column="demand", timestamp_column="ts", item_id_column="sku", forecast_frequency="D"), "forecast_horizon is required for time-series forecasting"),
        (lambda: TimeSeriesForecastingProblem(target_column="demand", timestamp_column="ts", item_id_column="sku", forecast_frequency="D", forecast_horizon=501), "forecast_horizon must be a whole number between 1 and 500"),
        (lambda: TimeSeriesForecastingProblem(target_column="demand", timestamp_column="ts", item_id_column="sku", forecast_frequency="2 days", forecast_horizon=7), "forecast_frequency must be a forecast frequency"),
        (lambda: TimeSeriesForecastingProblem(target_column="demand", timestamp_column="ts", item_id_column="sku", forecast_frequency="D", forecast_horizon=7, forecast_quantiles=["p50", "p100"]), "forecast_quantiles"),
        (lambda: TimeSeriesForecastingProblem(target_column="demand", timestamp_column="ts", item_id_column="sku", forecast_frequency="D", forecast_horizon=7, algorithms=["xgboost"]), "time-series forecasting must only name"),
        (lambda: TimeSeriesForecastingProblem(target_column="demand", timestamp_column="ts", item_id_column="sku", forecast_frequency="D", forecast_horizon=7, objective_metric="F1"), "objective_metric for time-series forecasting"),
        (lambda: CompletionCriteria(max_candidates=751), "max_candidates must be a whole number between 1 and 750"),
        (lambda: CompletionCriteria(max_total_runtime=Duration.hours(1), max_runtime_per_candidate=Duration.hours(2)), "max_runtime_per_candidate must be between"),
    ],
)
def test_invalid_problem_configs_fail(problem, message: str) -> None:  # noqa: ANN001
    with pytest.raises(ValidationError, match=message):
        problem()


_TS = dict(target_column="demand", timestamp_column="ts", item_id_column="sku", forecast_frequency="D", forecast_horizon=14)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"validation_prefix": "validation/churn/", "validation_fraction": 0.2}, "provide either validation_prefix or validation_fraction, not both"),
        ({"validation_fraction": 1.5}, "validation_fraction must be between 0.01 and 0.99"),
        ({"validation_prefix": "datasets/churn/holdout/"}, "validation_prefix must not overlap dataset_prefix"),
        ({"output_prefix": "datasets/churn/out/"}, "output_prefix must not overlap dataset_prefix"),
        ({"dataset_prefix": "datasets/churn"}, "dataset_prefix must end with '/'"),
        ({"dataset_prefix": "/datasets/"}, "dataset_prefix must be a relative S3 key prefix"),
        ({"problem": TimeSeriesForecastingProblem(**_TS), "validation_fraction": 0.2}, "TimeSeriesForecastingProblem takes neither validation_prefix nor validation_fraction"),
        ({"problem": TextClassificationProblem(content_column="text", target_label_column="label"), "completion_criteria": CompletionCriteria(max_candidates=5)}, "max_candidates must be 1 for TextClassificationProblem"),
        ({"problem": ImageClassificationProblem(), "dataset_format": DatasetFormat.CSV}, "dataset_format for ImageClassificationProblem must be one of DatasetFormat.IMAGES"),
        ({"dataset_format": DatasetFormat.IMAGES_PNG}, "dataset_format for TabularProblem must be one of DatasetFormat.CSV, DatasetFormat.PARQUET"),
        ({"dataset_format": "csv"}, "dataset_format for TabularProblem"),
        ({"job_name_prefix": "a-very-long-prefix-x"}, r"job_name_prefix must be 1-19 lowercase letters"),
        ({"job_name_prefix": "Churn"}, "job_name_prefix must be 1-19 lowercase letters"),
        ({"poll_interval": Duration.seconds(10)}, "poll_interval must be between 30 seconds and 1 hour"),
        ({"completion_criteria": CompletionCriteria(max_total_runtime=Duration.days(10))}, r"timeout must be at most 1500 poll intervals .* = 2892 polls"),
        ({"timeout": Duration.hours(1)}, "timeout must be at least 6 hours"),
        ({"tags": {"aws:owner": "me"}}, "tags must be keys of 1-128"),
        ({"trigger_on_new_data": True}, r"trigger_on_new_data needs S3 events in EventBridge: create the bucket with MlBucket\(..., event_bridge_enabled=True\)"),
        ({"problem": "BinaryClassification"}, "problem must be a TabularProblem"),
        ({"completion_criteria": {"max_candidates": 3}}, "completion_criteria must be a CompletionCriteria"),
    ],
)
def test_invalid_props_fail_at_synth(base, changes: dict, message: str) -> None:  # noqa: ANN001
    props = {**base["props"], **changes}
    index = len(base["stack"].node.children)
    with pytest.raises(ValidationError, match=message):
        AutopilotJob(base["stack"], f"Invalid{index}", **props)


def test_valid_non_tabular_problems_render_their_configs(base) -> None:  # noqa: ANN001
    props = {**base["props"]}
    ts = AutopilotJob(
        base["stack"], "Forecast", **{**props, "problem": TimeSeriesForecastingProblem(
            **_TS, forecast_quantiles=["p10", "p90"], holiday_country_code="US", algorithms=["deepar", "prophet"])},
        dataset_format=DatasetFormat.PARQUET,
    )
    config = ts.job_request["AutoMLProblemTypeConfig"]["TimeSeriesForecastingJobConfig"]
    assert config["ForecastHorizon"] == 14 and config["ForecastFrequency"] == "D"
    assert config["TimeSeriesConfig"] == {"TargetAttributeName": "demand", "TimestampAttributeName": "ts", "ItemIdentifierAttributeName": "sku"}
    assert config["HolidayConfig"] == [{"CountryCode": "US"}]
    assert config["CandidateGenerationConfig"] == {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["deepar", "prophet"]}]}
    assert ts.job_request["AutoMLJobObjective"] == {"MetricName": "AverageWeightedQuantileLoss"}
    assert ts.job_request["AutoMLJobInputDataConfig"][0]["ContentType"] == "x-application/vnd.amazon+parquet"
    assert "DataSplitConfig" not in ts.job_request
    assert re.fullmatch(r"[a-z0-9-]{1,19}", ts.job_name_prefix) and ts.job_name_prefix == "forecast"

    image = AutopilotJob(base["stack"], "Images", **{**props, "problem": ImageClassificationProblem(), "output_prefix": "autopilot/images/"})
    assert image.job_request["AutoMLProblemTypeConfig"] == {
        "ImageClassificationJobConfig": {"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 6 * 3600}}
    }
    assert image.job_request["AutoMLJobInputDataConfig"][0]["ContentType"] == "image/*"
    text = AutopilotJob(base["stack"], "Texts", **{**props, "problem": TextClassificationProblem(content_column="review", target_label_column="sentiment")})
    assert text.job_request["AutoMLProblemTypeConfig"]["TextClassificationJobConfig"]["ContentColumn"] == "review"
    assert text.job_request["AutoMLJobObjective"] == {"MetricName": "Accuracy"}
    assert text.max_polls == 84  # (6 h + 1 h) / 5 min


def test_sample_weights_render_with_ensembling() -> None:
    problem = TabularProblem(target_column="churn", problem_type=_BINARY, mode=AutoMLMode.ENSEMBLING, sample_weight_column="weight")
    assert problem.render({"MaxAutoMLJobRuntimeInSeconds": 60})["TabularJobConfig"]["SampleWeightAttributeName"] == "weight"
