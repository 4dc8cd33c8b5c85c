from __future__ import annotations

import json
import re

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from sagemaker_tiers import ApprovalWorkflow, MlEncryptionKey, ModelPackageGroup, ValidationError
from tests.conftest import app_context


def _stack(groups: int = 2, **props) -> tuple[Stack, ApprovalWorkflow]:
    stack = Stack(App(context=app_context()), "RegistryTest")
    key = MlEncryptionKey(stack, "Key")
    props.setdefault("admin_emails", ["ml-admin@example.com", "lead@example.org"])
    workflow = ApprovalWorkflow(stack, "Approval", encryption_key=key, **props)
    for i in range(groups):
        workflow.watch(ModelPackageGroup(stack, f"Group{i}", model_package_group_name=f"group-{i}", encryption_key=key))
    return stack, workflow


@pytest.fixture(scope="module")
def synthesized() -> tuple[Template, ApprovalWorkflow]:
    stack, workflow = _stack()
    caller = iam.Role(stack, "Pipeline", assumed_by=iam.AccountRootPrincipal())
    workflow.grant_decide(caller)
    return Template.from_stack(stack), workflow


def _methods(template: Template) -> dict[str, dict]:
    resources = template.find_resources("AWS::ApiGateway::Resource")
    paths = {logical: r["Properties"]["PathPart"] for logical, r in resources.items()}
    return {
        f'{m["Properties"]["HttpMethod"]} /{paths[m["Properties"]["ResourceId"]["Ref"]]}': m["Properties"]
        for m in template.find_resources("AWS::ApiGateway::Method").values()
    }


def test_api_has_exactly_three_methods_each_authenticated(synthesized) -> None:
    template, _ = synthesized
    methods = _methods(template)
    assert set(methods) == {"GET /review", "POST /decision", "POST /decisions", "POST /renew"}
    # The two browser methods carry their credential (a signed single-use token) in the request, validated.
    assert methods["GET /review"]["AuthorizationType"] == "NONE"
    assert methods["GET /review"]["RequestParameters"] == {"method.request.querystring.token": True}
    assert methods["POST /decision"]["AuthorizationType"] == "NONE"
    assert methods["POST /renew"]["AuthorizationType"] == "NONE"  # the token proves the link; admins get the mail
    for method in ("GET /review", "POST /decision", "POST /renew"):
        assert "RequestValidatorId" in methods[method]
    # Programs use SigV4.
    assert methods["POST /decisions"]["AuthorizationType"] == "AWS_IAM"
    assert "application/json" in methods["POST /decisions"]["RequestModels"]


def test_stage_logs_access_not_bodies_and_is_throttled_and_traced(synthesized) -> None:
    template, _ = synthesized
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": "prod",
            "TracingEnabled": True,
            "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
            "MethodSettings": [
                Match.object_like(
                    {"DataTraceEnabled": False, "LoggingLevel": "ERROR", "ThrottlingRateLimit": 5, "ThrottlingBurstLimit": 10}
                )
            ],
        },
    )
    model = next(iter(template.find_resources("AWS::ApiGateway::Model").values()))
    assert model["Properties"]["Schema"]["properties"]["decision"]["enum"] == ["approve", "reject"]
    assert model["Properties"]["Schema"]["additionalProperties"] is False


def test_rules_watch_every_group_and_never_lose_an_event(synthesized) -> None:
    template, _ = synthesized
    rules = {k: r for k, r in template.find_resources("AWS::Events::Rule").items() if "EventPattern" in r["Properties"]}
    assert len(rules) == 2  # and the scheduled reconcile
    for rule in rules.values():
        pattern = rule["Properties"]["EventPattern"]
        assert pattern["source"] == ["aws.sagemaker"]
        assert pattern["detail-type"] == ["SageMaker Model Package State Change"]
        assert pattern["detail"]["ModelPackageGroupName"] == ["group-0", "group-1"]
        (target,) = rule["Properties"]["Targets"]
        assert target["DeadLetterConfig"]["Arn"]
        assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}


def _routed(template: Template, event: dict) -> set[str]:
    """The handlers EventBridge invokes for ``event``, by the synthesized rules (moto's pattern matcher)."""
    from moto.events.models import EventPattern

    handlers = {k: f["Properties"]["Handler"] for k, f in template.find_resources("AWS::Lambda::Function").items()}
    routed = set()
    for rule in template.find_resources("AWS::Events::Rule").values():
        if "EventPattern" not in rule["Properties"]:
            continue  # the scheduled reconcile
        if EventPattern.load(json.dumps(rule["Properties"]["EventPattern"])).matches_event(event):
            routed |= {handlers[t["Arn"]["Fn::GetAtt"][0]] for t in rule["Properties"]["Targets"]}
    return routed


def _state_change(group: str, status: str) -> dict:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2026-11-30T10:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/2"],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": 2,
            "ModelPackageArn": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group}/2",
            "ModelApprovalStatus": status,
            "ModelPackageStatus": "Completed",
        },
    }


@pytest.mark.parametrize(
    ("status", "handlers"),
    [
        # Registered, or taken back from Approved to pending: email a reviewer and reconcile the parameter.
        ("PendingManualApproval", {"approval_notify.handler", "approval_promote.handler"}),
        ("Approved", {"approval_promote.handler"}),
        ("Rejected", {"approval_promote.handler"}),
    ],
)
def test_every_approval_status_change_reconciles_the_parameter(synthesized, status: str, handlers: set) -> None:
    template, _ = synthesized
    assert _routed(template, _state_change("group-1", status)) == handlers
    assert _routed(template, _state_change("not-watched", status)) == set()


def test_handlers_know_the_accounts_own_package_arns(synthesized) -> None:
    template, _ = synthesized
    own = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":model-package/"],
        ]
    }
    for handler in ("approval_api.handler", "approval_notify.handler"):
        template.has_resource_properties(
            "AWS::Lambda::Function",
            {"Handler": handler, "Environment": {"Variables": Match.object_like({"MODEL_PACKAGE_ARN_PREFIX": own})}},
        )


def test_async_failures_go_to_an_on_failure_queue(synthesized) -> None:
    template, _ = synthesized
    configs = template.find_resources("AWS::Lambda::EventInvokeConfig")
    assert len(configs) == 3
    for config in configs.values():
        assert config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
        assert config["Properties"]["MaximumRetryAttempts"] == 2


def test_functions_are_traced_sized_and_none_reserves_concurrency(synthesized) -> None:
    template, workflow = synthesized
    functions = template.find_resources("AWS::Lambda::Function")
    assert len(functions) == 4  # notify, approval API, promote, and the stack's model package group provider
    for fn in functions.values():
        props = fn["Properties"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Runtime"].startswith("python3.")
        assert props["LoggingConfig"]["LogGroup"]
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "approval_promote.handler", "Environment": {"Variables": Match.object_like({"PARAMETER_PREFIX": "/sagemaker-tiers/registry", "WATCHED_GROUPS": "group-0,group-1", "TABLE_NAME": Match.any_value()})}},
    )
    # No function reserves concurrency: Lambda lets a function reserve only what leaves the account 100 unreserved
    # executions (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html), and new accounts
    # often have a quota of 10, so any reservation fails there. Promote serializes per group with a lease instead.
    assert all("ReservedConcurrentExecutions" not in fn["Properties"] for fn in functions.values())
    [promote] = [s for p in template.find_resources("AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]
                 if s["Action"] == ["dynamodb:DeleteItem", "dynamodb:PutItem"]]
    assert "DecisionsTable" in json.dumps(promote["Resource"])
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Handler": "approval_notify.handler", "Environment": {"Variables": Match.object_like({"TOKEN_TTL_SECONDS": "259200", "APPROVAL_URL": Match.any_value()})}},
    )


def test_everything_at_rest_uses_the_customer_key(synthesized) -> None:
    template, _ = synthesized
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    for queue in template.find_resources("AWS::SQS::Queue").values():
        assert queue["Properties"]["KmsMasterKeyId"]
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like(
                {
                    "SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"}),
                    "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                    "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
                }
            ),
            "DeletionPolicy": "Retain",
        },
    )
    template.has_resource_properties("AWS::SecretsManager::Secret", {"KmsKeyId": Match.any_value()})
    for group in template.find_resources("AWS::Logs::LogGroup").values():
        assert group["Properties"]["KmsKeyId"] and group["Properties"]["RetentionInDays"] == 365


def test_topic_and_queues_are_ssl_only_and_emails_have_a_redrive_policy(synthesized) -> None:
    template, _ = synthesized
    policies = list(template.find_resources("AWS::SNS::TopicPolicy").values()) + list(
        template.find_resources("AWS::SQS::QueuePolicy").values()
    )
    assert len(policies) >= 3
    for policy in policies:
        assert "aws:SecureTransport" in json.dumps(policy)
    subscriptions = template.find_resources("AWS::SNS::Subscription")
    assert sorted(s["Properties"]["Endpoint"] for s in subscriptions.values()) == ["lead@example.org", "ml-admin@example.com"]
    for subscription in subscriptions.values():
        assert subscription["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]


def test_alarms_cover_queues_functions_and_api_and_notify_admins(synthesized) -> None:
    template, workflow = synthesized
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 6 == len(workflow.alarms)
    metrics = sorted(a["Properties"]["MetricName"] for a in alarms.values())
    assert metrics == ["5XXError", "ApproximateNumberOfMessagesVisible", "ApproximateNumberOfMessagesVisible", "Errors", "Errors", "Errors"]
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": Match.any_value()}] or alarm["Properties"]["AlarmActions"]


def _all_statements(template: Template) -> list[dict]:
    return [s for p in template.find_resources("AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def test_no_wildcard_actions_and_scoped_permissions(synthesized) -> None:
    template, _ = synthesized
    for statement in _all_statements(template):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            assert "*" not in action, statement
        if statement["Resource"] == "*":
            assert set(actions) <= {"sagemaker:ListModelPackages", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    update = [s for s in _all_statements(template) if s["Action"] == "sagemaker:UpdateModelPackage"]
    assert len(update) == 1 and re.search(r"model-package/group-0/\*.*model-package/group-1/\*", json.dumps(update[0]["Resource"]))
    ssm = next(s for s in _all_statements(template) if "ssm:PutParameter" in s["Action"])
    assert json.dumps(ssm["Resource"]).endswith(':parameter/sagemaker-tiers/registry/*"]]}')
    invoke = next(s for s in _all_statements(template) if s["Action"] == "execute-api:Invoke")
    assert json.dumps(invoke["Resource"]).endswith('"/POST/decisions"]]}')
    for role in template.find_resources("AWS::IAM::Role").values():
        assert "SageMakerFullAccess" not in json.dumps(role)


def test_a_group_adds_one_resource_and_no_api_or_function() -> None:
    one = Template.from_stack(_stack(groups=1)[0]).to_json()["Resources"]
    three = Template.from_stack(_stack(groups=3)[0]).to_json()["Resources"]
    added = {r["Type"] for k, r in three.items() if k not in one}
    assert len(three) - len(one) == 2
    assert added == {"Custom::ModelPackageGroup"}  # the stack's one group provider serves them all


def test_no_recipients_fails_at_synth() -> None:
    stack, _ = _stack(admin_emails=[])
    with pytest.raises(RuntimeError, match="admin_emails is empty and no topic was given"):
        App.of(stack).synth()


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"admin_emails": ["not-an-email"]}, r"admin_emails must be a list of email addresses.*got 'not-an-email'"),
        ({"admin_emails": "a@example.com"}, r"admin_emails must be a list of email addresses, got the string"),
        ({"admin_emails": ["a@example.com", "a@example.com"]}, r"admin_emails must not repeat values"),
        ({"parameter_prefix": "registry"}, r"parameter_prefix must be an SSM path.*got 'registry'"),
        ({"parameter_prefix": "/registry/"}, r"parameter_prefix must be an SSM path.*got '/registry/'"),
        ({"parameter_prefix": "/aws/x"}, r"parameter_prefix must not start with '/aws' or '/ssm'"),
        ({"token_ttl": Duration.minutes(5)}, r"token_ttl must be between 15 minutes and 14 days, got 5 minutes"),
        ({"token_ttl": Duration.days(15)}, r"token_ttl must be between 15 minutes and 14 days, got 15 days"),
        ({"throttling_rate_limit": 0}, r"throttling_rate_limit must be a whole number between 1 and 1000, got 0"),
        ({"throttling_burst_limit": 2}, r"throttling_burst_limit must be a whole number between 5 and 2000, got 2"),
        ({"web_acl_arn": "arn:aws:waf::1:x"}, r"web_acl_arn must be a regional WAFv2 web ACL ARN"),
    ],
)
def test_invalid_props_fail_at_synth(props: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _stack(groups=0, **props)


def test_watching_a_group_twice_fails() -> None:
    stack, workflow = _stack(groups=1)
    again = ModelPackageGroup.from_model_package_group_name(stack, "Again", "group-0")
    with pytest.raises(ValidationError, match=r"group 'group-0' is already watched"):
        workflow.watch(again)
    with pytest.raises(ValidationError, match=r"group must be an IModelPackageGroup, got 'group-1'"):
        workflow.watch("group-1")  # type: ignore[arg-type]


def test_parameter_name_helper(synthesized) -> None:
    _, workflow = synthesized
    group = workflow.groups[0]
    assert workflow.approved_model_parameter_name(group) == "/sagemaker-tiers/registry/group-0/approved-model"


def test_review_page_reads_the_reports_bucket_the_parameters_and_sends_renewed_links() -> None:
    stack = Stack(App(context=app_context()), "RegistryReports")
    key = MlEncryptionKey(stack, "Key")
    from sagemaker_tiers import MlBucket

    bucket = MlBucket(stack, "Data", encryption_key=key)
    workflow = ApprovalWorkflow(stack, "Approval", encryption_key=key, admin_emails=["a@example.com"], metrics_bucket=bucket)
    workflow.watch(ModelPackageGroup(stack, "Group", model_package_group_name="churn"))
    template = Template.from_stack(stack)
    api_role = stack.resolve(workflow.api_function.role.role_name)["Ref"]  # type: ignore[union-attr]
    statements = [
        s
        for p in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": api_role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_action = {a: s for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert json.dumps(by_action["s3:GetObject"]["Resource"]).endswith('"/*"]]}')
    assert by_action["sns:Publish"]["Resource"] == {"Ref": Match.any_value()} or by_action["sns:Publish"]["Resource"]
    assert json.dumps(by_action["ssm:GetParameter"]["Resource"]).endswith(':parameter/sagemaker-tiers/registry/*"]]}')
    decrypt_via = [s["Condition"]["StringEquals"]["kms:ViaService"] for s in statements if s["Action"] == "kms:Decrypt"]
    assert any("s3." in json.dumps(v) for v in decrypt_via)
    assert "s3:PutObject" not in by_action and "s3:DeleteObject" not in by_action
    env = template.find_resources("AWS::Lambda::Function", {"Properties": {"Handler": "approval_api.handler"}})
    (variables,) = [f["Properties"]["Environment"]["Variables"] for f in env.values()]
    assert {"METRICS_BUCKET", "TOPIC_ARN", "APPROVAL_URL", "TOKEN_TTL_SECONDS", "PARAMETER_PREFIX"} <= set(variables)
    # The API's own URL comes from its id (a reference to the stage would be a dependency cycle).
    assert "Stage" not in json.dumps(variables["APPROVAL_URL"])


def test_a_workflow_watching_no_group_fails_at_synth_naming_the_fix() -> None:
    # EventBridge rejects the empty group list the rules would get, so this must not reach a deployment.
    stack, _ = _stack(groups=0)
    with pytest.raises(RuntimeError, match=r"watches no model package group.*workflow\.watch\(group\)"):
        stack.node.root.synth()  # type: ignore[attr-defined]


def test_groups_watched_after_construction_satisfy_the_check() -> None:
    stack, workflow = _stack(groups=0)
    workflow.watch(ModelPackageGroup(stack, "Late", model_package_group_name="late"))
    Template.from_stack(stack)  # synthesizes


def test_cloudwatch_alarms_of_this_account_may_publish_to_the_encrypted_ssl_only_topic(synthesized) -> None:
    # enforce_ssl writes a topic policy, which replaces SNS's default one: without this Allow no alarm arrives.
    template, workflow = synthesized
    [policy] = template.find_resources("AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    [allow] = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert allow["Condition"]["ArnLike"]["aws:SourceArn"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":cloudwatch:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":alarm:*"]]
    }
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)


def test_the_promote_function_reconciles_every_hour_by_default(synthesized) -> None:
    # SageMaker sends its events best-effort (https://docs.aws.amazon.com/eventbridge/latest/ref/event-delivery-level.html).
    template, workflow = synthesized
    promote = template.to_json()["Resources"]
    rule = next(r for r in promote.values() if r["Type"] == "AWS::Events::Rule" and "ScheduleExpression" in r["Properties"])
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 hour)"
    [target] = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [Stack.of(workflow).get_logical_id(workflow.promote_function.node.default_child), "Arn"]}
    assert "DeadLetterConfig" in target and "Input" not in target  # the scheduled event itself asks for all groups


@pytest.mark.parametrize(("interval", "message"), [(Duration.seconds(30), "between 1 minute and 1 day"), (Duration.days(2), "between 1 minute and 1 day"), (Duration.seconds(150), "a whole number of minutes")])
def test_reconcile_interval_is_validated(interval, message) -> None:
    with pytest.raises(ValidationError, match=f"reconcile_interval must be {message}"):
        _stack(groups=1, reconcile_interval=interval)
