"""The calls-against-policy gate (tests/iam_calls.py, run by `make iam-gate`) on planted calls and roles.

Real recorded calls are proven in tests/autopilot/test_leaderboard_calls_gate.py; here each rule of the
evaluation is planted once in temporary copies: a call its role does not allow, a condition the request
breaks, a role passed without iam:PassRole, a .sync task without its extra permissions, and calls that no
role can be found for (which fail, so a new test cannot escape the gate).
"""

from __future__ import annotations

import pytest

from tests.iam_calls import ANY, evaluate_recorded, summary, sync_calls, sync_requirements
from tests.iam_support import Reference, Templates

SM_ROLE = "DeployRole@abc"
GROUP_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/*"


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference()


def _sm_call(operation: str, params: dict, service: str = "sagemaker") -> dict:
    return {"test": "planted", "caller": {"kind": "state-machine", "role": SM_ROLE, "name": "deploy"}, "service": service, "operation": operation, "region": "us-east-1", "params": params}


def _recorded(calls: list[dict], statements: list[dict], sync: list[str] | None = None) -> dict:
    return {"calls": calls, "state_machine_roles": {SM_ROLE: {"path": "", "statements": statements, "sync": sync or []}}}


def _evaluate(reference: Reference, recorded: dict, templates: Templates | None = None) -> tuple[list[str], dict]:
    return evaluate_recorded(recorded, templates or Templates(templates={}), reference)


REGISTER = {"Action": "sagemaker:CreateModelPackage", "Effect": "Allow", "Resource": GROUP_ARN, "Condition": {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}}
DESCRIBE = {"Action": "sagemaker:DescribeEndpoint", "Effect": "Allow", "Resource": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn"}


def test_a_call_its_role_allows_passes_and_is_counted_fully(reference: Reference) -> None:
    failures, reports = _evaluate(reference, _recorded([_sm_call("DescribeEndpoint", {"EndpointName": "churn"})], [DESCRIBE]))
    assert failures == []
    (report,) = reports.values()
    assert (report.calls, report.full, report.partial, report.denied) == (1, 1, 0, 0)
    assert summary(reports)[-1].split() == ["1", "1", "0", "0", "all", "roles"]


def test_a_call_not_allowed_by_its_role_is_denied_naming_the_call_the_role_and_what_is_missing(reference: Reference) -> None:
    # Planted: the role may describe endpoint "churn" only; the execution describes "fraud" and deletes "churn".
    calls = [_sm_call("DescribeEndpoint", {"EndpointName": "fraud"}), _sm_call("DeleteEndpoint", {"EndpointName": "churn"})]
    failures, reports = _evaluate(reference, _recorded(calls, [DESCRIBE]))
    assert failures == [
        "denied: sagemaker:DescribeEndpoint (test planted) needs sagemaker:DescribeEndpoint on "
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud; role DeployRole (role of state machine deploy, as a test "
        "synthesized it): no statement allows sagemaker:DescribeEndpoint on arn:aws:sagemaker:us-east-1:123456789012:endpoint/fraud; "
        'statements with the action: statement "sagemaker:DescribeEndpoint" (resource "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn")',
        "denied: sagemaker:DeleteEndpoint (test planted) needs sagemaker:DeleteEndpoint on "
        "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn; role DeployRole (role of state machine deploy, as a test "
        "synthesized it): no statement allows sagemaker:DeleteEndpoint on arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn; "
        "no statement has sagemaker:DeleteEndpoint",
    ]
    assert next(iter(reports.values())).denied == 2


def test_conditions_the_request_breaks_deny_and_the_others_make_the_call_partial(reference: Reference) -> None:
    pending = _sm_call("CreateModelPackage", {"ModelPackageGroupName": "churn", "ModelApprovalStatus": "PendingManualApproval"})
    approved = _sm_call("CreateModelPackage", {"ModelPackageGroupName": "churn", "ModelApprovalStatus": "Approved"})
    failures, _ = _evaluate(reference, _recorded([pending, approved], [REGISTER]))
    (failure,) = failures
    assert "condition StringEquals sagemaker:ModelApprovalStatus=['Approved'] (allowed: ['PendingManualApproval'])" in failure
    # A condition on a key this gate cannot tell from the request is assumed to hold: the call counts as partial.
    via = {"Action": "sagemaker:DescribeEndpoint", "Effect": "Allow", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}
    failures, reports = _evaluate(reference, _recorded([_sm_call("DescribeEndpoint", {"EndpointName": "x"})], [via]))
    assert failures == [] and next(iter(reports.values())).partial == 1


def test_passing_a_role_needs_pass_role_to_the_service(reference: Reference) -> None:
    call = _sm_call("CreateModel", {"ModelName": "m", "ExecutionRoleArn": "arn:aws:iam::123456789012:role/model"})
    create = {"Action": "sagemaker:CreateModel", "Effect": "Allow", "Resource": "arn:aws:sagemaker:us-east-1:123456789012:model/*"}
    (failure,) = _evaluate(reference, _recorded([call], [create]))[0]
    assert "needs iam:PassRole on arn:aws:iam::123456789012:role/model" in failure
    wrong_service = {"Action": "iam:PassRole", "Effect": "Allow", "Resource": "arn:aws:iam::123456789012:role/model", "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}
    assert "iam:PassedToService" in _evaluate(reference, _recorded([call], [create, wrong_service]))[0][0]
    wrong_service["Condition"]["StringEquals"]["iam:PassedToService"] = "sagemaker.amazonaws.com"
    assert _evaluate(reference, _recorded([call], [create, wrong_service]))[0] == []


def test_a_sync_task_needs_the_polling_and_event_rule_permissions(reference: Reference) -> None:
    call = _sm_call("CreateTrainingJob", {"TrainingJobName": "t-1"})
    create = {"Action": "sagemaker:CreateTrainingJob", "Effect": "Allow", "Resource": "arn:aws:sagemaker:us-east-1:123456789012:training-job/*"}
    failures, _ = _evaluate(reference, _recorded([call], [create], sync=["arn:aws:states:::sagemaker:createTrainingJob.sync"]))
    needed = {f.split(" needs ", 1)[1].split(" for role", 1)[0] for f in failures}
    assert needed == {"sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "events:PutTargets", "events:PutRule", "events:DescribeRule"}
    granted = [
        create,
        {"Action": ["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"], "Effect": "Allow", "Resource": "arn:aws:sagemaker:us-east-1:123456789012:training-job/*"},
        {"Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"], "Effect": "Allow", "Resource": "arn:aws:events:us-east-1:123456789012:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"},
    ]
    assert _evaluate(reference, _recorded([call], granted, sync=["arn:aws:states:::sagemaker:createTrainingJob.sync"]))[0] == []
    assert sync_calls("arn:aws:states:::glue:startJobRun.sync") == [{"unknown_sync": "arn:aws:states:::glue:startJobRun.sync"}]


def test_calls_without_a_known_role_fail(reference: Reference) -> None:
    handler = {"test": "planted", "caller": {"kind": "handler", "modules": ["constructs/sagemaker_tiers/new/new_handlers/new_handler.py"]}, "service": "sagemaker", "operation": "ListModels", "region": "us-east-1", "params": {}}
    machine = {"test": "planted", "caller": {"kind": "state-machine", "unmapped": "the state machine definition was not rendered by tests.sfn_support.state_machine_definition"}, "service": "sns", "operation": "Publish", "region": "us-east-1", "params": {}}
    failures, _ = _evaluate(reference, {"calls": [handler, machine], "state_machine_roles": {}})
    assert failures == [
        "unmapped call sagemaker:ListModels (test planted): no Lambda function in cdk.out (or in a template the tests "
        "synthesized) deploys new_handler or a handler module of its folder that imports it",
        "unmapped call sns:Publish (test planted): the state machine definition was not rendered by tests.sfn_support.state_machine_definition",
    ]


def test_an_unresolved_cross_stack_value_matches_but_only_partially(reference: Reference) -> None:
    statement = {"Action": "sns:Publish", "Effect": "Allow", "Resource": ANY}
    failures, reports = _evaluate(reference, _recorded([_sm_call("Publish", {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t"}, service="sns")], [statement]))
    assert failures == [] and next(iter(reports.values())).partial == 1


def test_sync_tasks_of_every_state_machine_in_cdk_out_are_checked_without_running_them(reference: Reference) -> None:
    # moto cannot run .sync SageMaker tasks, so the app's .sync training state machine is checked statically.
    definition = {"Fn::Join": ["", ['{"StartAt":"Train","States":{"Train":{"Type":"Task","End":true,"Resource":"arn:', {"Ref": "AWS::Partition"}, ':states:::sagemaker:createTrainingJob.sync","Parameters":{}}}}']]}
    statements = [{"Action": ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"], "Effect": "Allow", "Resource": "*"}]
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "RolePolicy": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": statements}, "Roles": [{"Ref": "Role"}]}},
            "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": definition, "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]}}},
        }
    }
    failures, reports = sync_requirements(Templates(templates={"planted": template}), reference)
    assert [f.split(" needs ", 1)[1].split(" for role ", 1)[0] for f in failures] == ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    assert "for role planted/Role (, role of state machine Machine, .sync tasks)" in failures[0]
    statements.append({"Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"], "Effect": "Allow", "Resource": {"Fn::Join": ["", ["arn:aws:events:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"]]}})
    failures, reports = sync_requirements(Templates(templates={"planted": template}), reference)
    assert failures == [] and next(iter(reports.values())).full == 5


def test_public_hub_content_is_evaluated_as_the_account_aws(reference: Reference) -> None:
    # SageMaker's public JumpStart hub belongs to the account "aws" (DescribeHubContent's HubName pattern
    # (\d{12}|aws)), not to the caller's: a grant on the public hub passes, one on the caller's account does not.
    public = "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/huggingface-text2text-flan-t5-base"
    granted = {
        "Action": "sagemaker:DescribeHubContent", "Effect": "Allow",
        "Resource": ["arn:aws:sagemaker:us-east-1:aws:hub/SageMakerPublicHub", public, f"{public}/*"],
    }
    own_account = {**granted, "Resource": [r.replace(":aws:hub", ":123456789012:hub") for r in granted["Resource"]]}
    call = _sm_call("DescribeHubContent", {"HubName": "SageMakerPublicHub", "HubContentType": "Model", "HubContentName": "huggingface-text2text-flan-t5-base"})

    failures, reports = _evaluate(reference, _recorded([call], [granted]))
    assert failures == [] and next(iter(reports.values())).full == 1
    failures, _ = _evaluate(reference, _recorded([call], [own_account]))
    assert len(failures) == 1 and "arn:aws:sagemaker:us-east-1:aws:hub" in failures[0]
