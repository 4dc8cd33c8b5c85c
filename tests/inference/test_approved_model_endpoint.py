"""ApprovedModelEndpoint: the rendered definition (each task's request, retries, catches), IAM, trigger, alarms."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk.assertions import Match

from tests.sfn_support import physical_values, state_machine_definition


def _definition(synthesized, name: str) -> dict:
    return state_machine_definition(synthesized.template, synthesized.logical_ids[name], physical_values(synthesized.template))


def _states(definition: dict) -> dict:
    """Every state, including those inside Map item processors."""
    found = {}
    for state_name, state in definition["States"].items():
        found[state_name] = state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found.update(_states(processor))
    return found


def _policy_statements(synthesized, role) -> list[dict]:
    from aws_cdk import Stack

    role_id = Stack.of(role).get_logical_id(role.node.default_child)
    statements = []
    for policy in synthesized.template["Resources"].values():
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_serverless_model_and_config_requests(synthesized) -> None:
    states = _states(_definition(synthesized, "defaults"))
    model = states["CreateModel"]
    assert model["Resource"] == "arn:aws:states:::aws-sdk:sagemaker:createModel"
    assert model["Parameters"]["PrimaryContainer"] == {"ModelPackageName.$": "$.approved.Value"}
    assert model["Parameters"]["ModelName.$"] == "$.names.resource"
    # Serverless Inference supports neither VPC configuration nor network isolation.
    assert "VpcConfig" not in model["Parameters"] and "EnableNetworkIsolation" not in model["Parameters"]
    config = states["CreateEndpointConfig"]["Parameters"]
    assert config["ProductionVariants"] == [
        {"VariantName": "AllTraffic", "ModelName.$": "$.names.resource", "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}
    ]
    assert "KmsKeyId" not in config and "DataCaptureConfig" not in config
    names = states["NameResources"]["Parameters"]["resource.$"]
    assert names.startswith("States.Format('churn-defaults-V{}-{}', $.package.Version, States.ArrayGetItem(States.StringSplit(States.UUID()")
    update = states["UpdateEndpoint"]["Parameters"]["DeploymentConfig"]
    assert update["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}
    assert update["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] == 5400
    assert len(update["AutoRollbackConfiguration"]["Alarms"]) == 2
    # Defaults: one-minute polls, 90 minutes of them; one-minute lock checks, 4 hours of them.
    assert states["WaitForDeployment"]["Seconds"] == 60
    assert states["DeploymentCheckExceeded"]["Choices"][0]["NumericGreaterThan"] == 90
    assert states["LockWaitExceeded"]["Choices"][0]["NumericGreaterThan"] == 240


def test_realtime_requests_have_vpc_isolation_kms_capture_and_canary(synthesized) -> None:
    states = _states(_definition(synthesized, "realtime"))
    physical = physical_values(synthesized.template)
    model = states["CreateModel"]["Parameters"]
    assert model["EnableNetworkIsolation"] is True
    assert model["VpcConfig"]["SecurityGroupIds"] and len(model["VpcConfig"]["Subnets"]) == 2
    assert all(s.startswith("subnet-") for s in model["VpcConfig"]["Subnets"])
    config = states["CreateEndpointConfig"]["Parameters"]
    key_arn = [v for k, v in physical.items() if k.startswith("Key") and k.endswith(".Arn")][0]
    assert config["KmsKeyId"] == key_arn
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
    assert config["DataCaptureConfig"]["KmsKeyId"] == key_arn
    assert config["DataCaptureConfig"]["CaptureOptions"] == [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]
    routing = states["UpdateEndpoint"]["Parameters"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}


def test_every_task_retries_and_catches_into_the_failure_path(synthesized) -> None:
    states = _states(_definition(synthesized, "defaults"))
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}
    in_map = {"DeleteEndpointConfig", "DeleteModel"}  # inside the cleanup Maps, whose failure is caught
    for name, task in tasks.items():
        errors = [e for r in task.get("Retry", []) for e in r["ErrorEquals"]]
        if name in ("DescribeEndpoint", "CheckServingEndpoint"):
            # Not retried: a missing endpoint is a task failure too. The catch tells "missing" from the rest by
            # SageMaker's message; the rest is looked up again in a bounded loop.
            assert errors == [], name
            catch = task["Catch"][0]
            assert catch["ErrorEquals"] == ["States.TaskFailed"], name
            lookup = states[catch["Next"]]
            assert lookup["Type"] == "Choice" and lookup["Choices"][0]["StringMatches"] == "*Could not find endpoint*", name
        else:
            assert "States.TaskFailed" in errors, name
        if name in in_map:
            continue
        catches = {e: c["Next"] for c in task.get("Catch", []) for e in c["ErrorEquals"]}
        assert catches, f"{name} has no Catch"
    for name in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint", "UpdateEndpoint", "RecordDeployedModel", "DescribeModelPackage"):
        assert {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"} in tasks[name]["Catch"]
    # Expected errors are caught without retrying.
    for name in ("AcquireLock", "ReleaseLock", "ReleaseLockAfterFailure"):
        assert tasks[name]["Retry"][0] == {"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "MaxAttempts": 0}, name
    assert tasks["ReadDeployedModel"]["Catch"][0]["ErrorEquals"] == ["Ssm.ParameterNotFoundException"]
    assert tasks["NotifyFailure"]["Next"] == "ReleaseLockAfterFailure"
    assert states["ReleaseLockAfterFailure"]["Next"] == "DeploymentFailed"
    assert states["DeploymentFailed"]["Type"] == "Fail"
    for name in ("PruneEndpointConfigs", "PruneModels"):
        assert states[name]["Catch"][0]["Next"] in ("PruneModels", "ListModels", "CleanupDone")


def test_lock_is_a_conditional_write_and_a_conditional_release(synthesized) -> None:
    states = _states(_definition(synthesized, "defaults"))
    acquire = states["AcquireLock"]["Parameters"]
    assert acquire["ConditionExpression"] == "attribute_not_exists(pk) OR holder = :me OR holder = :stale"
    assert acquire["Item"]["holder"] == {"S.$": "$$.Execution.Id"}
    for release in ("ReleaseLock", "ReleaseLockAfterFailure"):
        assert states[release]["Parameters"]["ConditionExpression"] == "holder = :me"
    assert states["DescribeLockHolder"]["Resource"] == "arn:aws:states:::aws-sdk:sfn:describeExecution"


def test_trigger_rule_matches_only_the_groups_parameter_and_never_loses_an_event(synthesized) -> None:
    endpoint = synthesized.endpoints["defaults"]
    synthesized.assertions.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.ssm"],
                "detail-type": ["Parameter Store Change"],
                "detail": {"name": ["/sagemaker-tiers/registry/churn/approved-model"], "operation": ["Create", "Update"]},
            },
            "Targets": [Match.object_like({"RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}, "DeadLetterConfig": Match.any_value()})],
        },
    )
    assert endpoint.deployed_model_parameter_name == "/sagemaker-tiers/registry/churn/deployed-model"


def test_rule_pattern_matches_a_parameter_store_change_event(synthesized) -> None:
    """moto's EventBridge matcher (its TestEventPattern API is a stub) on the synthesized pattern."""
    from moto.events.models import EventPattern

    rules = [r for r in synthesized.template["Resources"].values() if r["Type"] == "AWS::Events::Rule" and "aws.ssm" in json.dumps(r)]
    pattern = EventPattern.load(json.dumps(rules[0]["Properties"]["EventPattern"]))
    name = rules[0]["Properties"]["EventPattern"]["detail"]["name"][0]

    def event(name: str, operation: str) -> dict:
        return {
            "id": "1", "account": "123456789012", "source": "aws.ssm", "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1", "resources": [], "detail-type": "Parameter Store Change",
            "detail": {"name": name, "operation": operation, "type": "String"},
        }

    assert pattern.matches_event(event(name, "Update")) and pattern.matches_event(event(name, "Create"))
    assert not pattern.matches_event(event(name, "Delete"))
    assert not pattern.matches_event(event(name.replace("approved-model", "deployed-model"), "Update"))


def test_state_machine_role_is_least_privilege(synthesized) -> None:
    endpoint = synthesized.endpoints["defaults"]
    statements = _policy_statements(synthesized, endpoint.role)
    actions = [a for s in statements for a in _actions(s)]
    assert not any(a.endswith("*") for a in actions), actions
    [pass_role] = [s for s in statements if "iam:PassRole" in _actions(s)]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    text = json.dumps(statements)
    assert ":model/churn-defaults-*" in text and ":endpoint-config/churn-defaults-*" in text and ":endpoint/churn-defaults\"" in text
    for statement in statements:
        if any(a.startswith("kms:") for a in _actions(statement)):
            assert "kms:ViaService" in json.dumps(statement.get("Condition", {})), statement
    star = [s for s in statements if s["Resource"] == "*"]
    assert {a for s in star for a in _actions(s)} <= {
        "sagemaker:ListEndpointConfigs", "sagemaker:ListModels", "xray:PutTraceSegments", "xray:PutTelemetryRecords",
        "xray:GetSamplingRules", "xray:GetSamplingTargets", "logs:CreateLogDelivery", "logs:GetLogDelivery",
        "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    }


def test_model_role_reads_model_prefix_only_and_realtime_gets_network_interfaces(synthesized) -> None:
    serverless = json.dumps(_policy_statements(synthesized, synthesized.endpoints["defaults"].model_role))
    realtime = json.dumps(_policy_statements(synthesized, synthesized.endpoints["realtime"].model_role))
    assert "/models/churn/*" in serverless and "/autopilot/churn/*" in serverless and "s3:PutObject" not in serverless and "ec2:" not in serverless
    assert "/capture/churn/*" in realtime and "s3:PutObject" in realtime and "ec2:CreateNetworkInterface" in realtime
    synthesized.assertions.has_resource_properties(
        "AWS::IAM::Role",
        {"AssumeRolePolicyDocument": {"Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]}, "Description": Match.string_like_regexp("churn-defaults")},
    )


def test_rollback_alarms_are_error_rates_over_several_minutes_with_client_errors_apart(synthesized) -> None:
    # One bad request (or a client's 4XX) during the baking period must not roll a good model back:
    # https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html (InvocationModelErrors counts the
    # model's 4XX answers too; Invocation4XXErrors counts them alone).
    from aws_cdk import Stack

    endpoint = synthesized.endpoints["defaults"]
    assert set(endpoint.alarms) == {"Invocation5XXErrorRate", "ModelErrorRate", "ExecutionsFailed", "ExecutionsTimedOut", "DeadLetters"}
    alarms = {
        alarm_id: synthesized.template["Resources"][Stack.of(endpoint).get_logical_id(alarm.node.default_child)]["Properties"]
        for alarm_id, alarm in endpoint.alarms.items()
    }
    for alarm_id in ("Invocation5XXErrorRate", "ModelErrorRate"):
        props = alarms[alarm_id]
        assert (props["Threshold"], props["EvaluationPeriods"], props["DatapointsToAlarm"]) == (5, 3, 3)
        assert props["ComparisonOperator"] == "GreaterThanThreshold" and props["TreatMissingData"] == "notBreaching"
        assert props["AlarmActions"]
        metrics = {m["Id"]: m for m in props["Metrics"]}
        used = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics.values() if "MetricStat" in m}
        assert all(m["MetricStat"]["Period"] == 60 for m in metrics.values() if "MetricStat" in m)
        [expression] = [m["Expression"] for m in metrics.values() if "Expression" in m]
        assert "invocations > 0" in expression
        if alarm_id == "ModelErrorRate":
            assert used == {"Invocations", "InvocationModelErrors", "Invocation4XXErrors"}
            assert "modelErrors - clientErrors" in expression
        else:
            assert used == {"Invocations", "Invocation5XXErrors"}
    names = [a.alarm_name for a in endpoint.rollback_alarms]
    assert len(names) == 2
    metric = endpoint.metric_invocation_5xx_errors(period=Duration.minutes(5))
    assert metric.metric_name == "Invocation5XXErrors" and metric.period.to_seconds() == 300
    assert endpoint.metric_executions_failed().metric_name == "ExecutionsFailed"


def test_rollback_thresholds_are_props() -> None:
    import pytest
    from aws_cdk.assertions import Template

    from sagemaker_tiers import ValidationError
    from sagemaker_tiers.inference import ApprovedModelEndpoint
    from tests.inference.conftest import build_test_stack

    stack, deps = build_test_stack()
    for bad, message in (
        ({"error_rate_threshold_percent": 100}, r"error_rate_threshold_percent must be a number from 0 up to \(not including\) 100, got 100"),
        ({"model_error_rate_threshold_percent": "5"}, r"model_error_rate_threshold_percent must be a number .*got '5'"),
        ({"alarm_periods": 0}, r"alarm_periods must be a whole number between 1 and 10, got 0"),
    ):
        with pytest.raises(ValidationError, match=message):
            ApprovedModelEndpoint(stack, f"Bad{len(stack.node.children)}", **deps, **bad)
    ApprovedModelEndpoint(stack, "Tuned", error_rate_threshold_percent=1, model_error_rate_threshold_percent=10, alarm_periods=5, **deps)
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"Threshold": 10, "EvaluationPeriods": 5, "DatapointsToAlarm": 5, "AlarmDescription": Match.string_like_regexp("client 4XX excluded")})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"Threshold": 1, "EvaluationPeriods": 5, "AlarmDescription": Match.string_like_regexp("5XX")})


def test_model_role_holds_what_sagemakers_execution_role_policy_documents_scoped(synthesized) -> None:
    # https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms
    statements = _policy_statements(synthesized, synthesized.endpoints["defaults"].model_role)
    [metrics] = [s for s in statements if "cloudwatch:PutMetricData" in _actions(s)]
    assert metrics["Resource"] == "*" and _actions(metrics) == ["cloudwatch:PutMetricData"]
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints*", "aws/sagemaker/Endpoints*"]}}
    [create] = [s for s in statements if "logs:CreateLogGroup" in _actions(s)]
    assert "log-group:/aws/sagemaker/Endpoints/churn-defaults" in json.dumps(create["Resource"])
    assert json.dumps(create["Resource"]).count("log-group:") == 1


def test_state_machine_is_traced_logged_and_bounded(synthesized) -> None:
    synthesized.assertions.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {"TracingConfiguration": {"Enabled": True}, "LoggingConfiguration": Match.object_like({"Level": "ALL"})},
    )
    sm = synthesized.state_machine("defaults")
    definition = _definition(synthesized, "defaults")
    assert definition["TimeoutSeconds"] == 4 * 3600 + 2 * 5400 + 3600
    # Named per stack instance: a deleted state machine stays DELETING while an execution waits, so a fixed name
    # would fail the next deployment (or inference_enabled off and on).
    prefix, suffix = sm["Properties"]["StateMachineName"]["Fn::Join"][1]
    assert prefix.startswith("InferenceTest-Defaults") and len(prefix) <= 71
    assert suffix == {"Fn::Select": [0, {"Fn::Split": ["-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]}]}


def test_grants(synthesized) -> None:
    from aws_cdk import Stack
    from aws_cdk import aws_iam as iam

    endpoint = synthesized.endpoints["defaults"]
    role = iam.Role(Stack(), "Caller", assumed_by=iam.AccountRootPrincipal())
    grant = endpoint.grant_invoke(role)
    assert grant.success
    assert "sagemaker:InvokeEndpoint" in json.dumps(Stack.of(role).resolve(role.node.find_child("DefaultPolicy").document.to_json()))


def test_longest_endpoint_name_gives_resource_names_sagemaker_accepts() -> None:
    """The 40-character maximum endpoint name, a 9-digit version and the random part stay within SageMaker's
    63-character name pattern, rendered from the definition's own naming expression."""
    import re as regex

    from sagemaker_tiers.inference import ApprovedModelEndpoint
    from tests.inference.conftest import build_test_stack, rendered_state

    stack, deps = build_test_stack()
    longest = "e" * 38 + "-1"
    endpoint = ApprovedModelEndpoint(stack, "Longest", endpoint_name=longest, **deps)
    expression = rendered_state(endpoint, "NameResources")["Parameters"]["resource.$"]
    template = regex.match(r"States\.Format\('([^']*)', \$\.package\.Version, States\.ArrayGetItem\(States\.StringSplit\(States\.UUID\(\), '-'\), 0\)\)$", expression)
    assert template, expression
    # UUID group 0 is 8 hex characters.
    name = template.group(1).replace("{}", "999999999", 1).replace("{}", "0123abcd", 1)
    assert len(name) <= 63 and regex.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name), name
    assert name.startswith(f"{longest}-V")


#: ResultSelector paths whose members botocore does not mark required but AWS always returns on success, with why.
ALWAYS_ANSWERED = {
    ("ssm", "getParameter", "Parameter.Value"): "a successful GetParameter returns the parameter (a missing one is ParameterNotFound)",
    ("sagemaker", "describeEndpoint", "EndpointConfigName"): "every endpoint is created from a configuration and keeps one",
}


def _selected_paths(value) -> list[str]:  # noqa: ANN001
    """Every JSONPath a ResultSelector reads (``$.A.B``, also inside intrinsic functions)."""
    import re

    if isinstance(value, dict):
        paths = []
        for key, item in value.items():
            if key.endswith(".$"):
                paths += re.findall(r"\$((?:\.[A-Za-z0-9_]+|\[\*\])+)", item)
            else:
                paths += _selected_paths(item)
        return paths
    return []


def test_every_result_selector_reads_only_what_every_answer_has(synthesized) -> None:
    # A ResultSelector path a response lacks raises States.Runtime, which no Retry or Catch handles: the execution
    # dies without notifying and without releasing the lock. Each path must be a member botocore's model marks
    # required (all along the path), or the state must take the whole answer and check it with IsPresent.
    import botocore.session

    session = botocore.session.get_session()
    checked = 0
    for name in synthesized.endpoints:
        for state_name, state in _states(_definition(synthesized, name)).items():
            resource = state.get("Resource", "")
            if "ResultSelector" not in state or ":aws-sdk:" not in resource:
                continue
            service, action = resource.split(":aws-sdk:")[1].split(":")
            model = session.get_service_model({"sfn": "stepfunctions"}.get(service, service))
            operation = next(o for o in model.operation_names if o[0].lower() + o[1:] == action)
            for path in _selected_paths(state["ResultSelector"]):
                members = [m for m in path.lstrip(".").replace("[*]", ".[*]").split(".") if m]
                if (service, action, ".".join(members)) in ALWAYS_ANSWERED:
                    continue
                shape = model.operation_model(operation).output_shape
                for member in members:
                    if member == "[*]":
                        shape = shape.member
                        continue
                    names = {m[0].upper() + m[1:]: m for m in shape.members}
                    assert member in names and names[member] in shape.required_members, (
                        f"{name}: {state_name} selects {path}, but {member} may be missing from {operation}'s answer"
                    )
                    shape = shape.members[names[member]]
                checked += 1
    assert checked >= 9
