"""core.delivery: the last-stop queue, the any-failure alarm and the exact KMS grants every tier shares."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from sagemaker_tiers import MlEncryptionKey
from sagemaker_tiers.core.delivery import ExactSqsDestination, alarm_on_any, grant_key_via, last_stop_queue
from sagemaker_tiers.core.nag import CONTROL_TOWER_RULES
from stacks.app import add_nag_checks


@pytest.fixture()
def stack() -> Stack:
    return Stack(App(), "S")


def test_last_stop_queue_is_encrypted_ssl_only_kept_14_days_and_passes_nag(tmp_path) -> None:
    app = App(outdir=str(tmp_path))
    add_nag_checks(app)
    stack = Stack(app, "S")
    key = MlEncryptionKey(stack, "Key")  # passes Control Tower's key policy control, which a plain kms.Key does not
    last_stop_queue(stack, "Q", encryption_key=key, holds="events that failed every retry")
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^Key"), "Arn"]}, "MessageRetentionPeriod": 1209600},
    )
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {"PolicyDocument": {"Statement": [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]}},
    )
    app.synth()  # raises on any unacknowledged finding
    report = json.loads((tmp_path / "validation-report.json").read_text())
    suppressed = {v["ruleName"]: v["reason"] for plugin in report["pluginReports"] for v in plugin.get("suppressedViolations", [])}
    assert set(suppressed) == {"AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy", CONTROL_TOWER_RULES["CT.SQS.PR.1"]}
    assert all("last stop for events that failed every retry" in reason for reason in suppressed.values())


def test_alarm_on_any_fires_above_zero_and_notifies(stack: Stack) -> None:
    topic = sns.Topic(stack, "T")
    fn_metric = lambda_.Function.metric_all_errors(period=Duration.minutes(5))
    alarm_on_any(stack, "A", fn_metric, description="errors", action=cw_actions.SnsAction(topic), evaluation_periods=2)
    alarm_on_any(stack, "Silent", fn_metric, description="no action")
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmDescription": "errors",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 2,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": Match.string_like_regexp("^T")}],
        },
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"AlarmDescription": "no action", "AlarmActions": Match.absent()})


def test_grants_name_exact_kms_actions_through_one_service(stack: Stack) -> None:
    key = kms.Key(stack, "Key")
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    grant_key_via(role, key, "dynamodb", "kms:Decrypt", "kms:Encrypt")
    lambda_.Function(
        stack,
        "F",
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c): pass"),
        on_failure=ExactSqsDestination(last_stop_queue(stack, "Q", encryption_key=key, holds="failed invocations"), key),
    )
    statements = [
        s
        for policy in Template.from_stack(stack).find_resources("AWS::IAM::Policy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    kms_statements = [s for s in statements if str(s["Action"]).startswith(("kms:", "['kms:"))]
    assert sorted(str(s["Action"]) for s in kms_statements) == ["['kms:Decrypt', 'kms:Encrypt']", "['kms:GenerateDataKey', 'kms:Decrypt']"]
    services = sorted(str(s["Condition"]["StringEquals"]["kms:ViaService"]) for s in kms_statements)
    assert "dynamodb" in services[0] and "sqs" in services[1]
    assert {"Action": "sqs:SendMessage"}.items() <= next(s for s in statements if s["Action"] == "sqs:SendMessage").items()
    assert not any("*" in str(s["Action"]) for s in statements if s not in kms_statements and "xray" not in str(s["Action"]))
