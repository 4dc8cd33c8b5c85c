"""The operator policy (``OperatorPolicy``, stack output ``OperatorPolicyArn``) against every AWS call the CLI makes.

A tour runs every command against moto with the deployed resources (status, approvals list/approve through the
signed ``POST /decisions``, train start/follow with metrics, autopilot start/follow with candidates, leaderboard).
The calls-against-policy gate (tests/iam_calls.py) recorded each call as the operator's (its caller is
``sagemaker_tiers/cli``); here they are evaluated against the policy of the app synthesized now: every call is
allowed, the policy grants no action the CLI does not make, and a planted copy without one action fails naming
the call. ``make iam-gate`` evaluates the same calls of the whole suite against ``cdk.out``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import warnings
from pathlib import Path

import pytest
from moto import mock_aws

from sagemaker_tiers.cli import main, runs
from tests import iam_calls
from tests.cli.cli_support import PROJECT, deployed_app, invoke
from tests.iam_calls import evaluate_recorded, operator_policy
from tests.iam_support import Reference, Templates, as_list

#: What the CLI needs that it does not call itself: S3 decrypts a leaderboard with the caller's kms:Decrypt.
SERVICE_SIDE = {"kms:Decrypt"}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    from aws_cdk import App

    from stacks.app import build_app
    from tests.conftest import app_context

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir), context=app_context())
    build_app(app)
    app.synth()
    return Templates(outdir)


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference()


def _tour() -> list[dict]:
    """Every CLI command once, against moto; the calls the gate recorded for them."""
    from tests.autopilot.autopilot_fakes import automl_jobs, candidate, complete_job, serve_candidates
    from tests.cli.test_cli_approvals import DecisionsApi
    from tests.cli.test_cli_runs import _automl_job, _backend, _leaderboard_document, _publish, _running_training_job, _history

    before = len(iam_calls.recorded())
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        app = deployed_app()
        patch.setattr(main, "make_session", lambda profile, region: app.session)
        run = invoke
        app.register("example-churn")
        api = DecisionsApi()
        api.thread.start()
        try:
            app.outputs["registry"]["ApprovalApiUrl"] = api.url
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                app.client("cloudformation").update_stack(StackName=f"{PROJECT}-registry", TemplateBody=json.dumps({
                    "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
                    "Outputs": {k: {"Value": v} for k, v in app.outputs["registry"].items()},
                }))
            assert run("status").exit_code == 0
            assert run("approvals", "list").exit_code == 0
            assert run("approvals", "approve", "example-churn/1").exit_code == 0
        finally:
            api.server.shutdown()
            api.server.server_close()
        assert len(api.requests) == 1

        # Training: start, then follow a running job whose metric is published.
        assert run("train", "start", "--name", "tour-1").exit_code == 0
        started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(minutes=10)
        _running_training_job(app, "churn-tour-1", started)
        _publish(app, "churn-tour-1", "train:loss", 0.5, started + dt.timedelta(minutes=1))
        training = _backend().describe_execution(app.outputs["training"]["StateMachineArn"].replace(":stateMachine:", ":execution:") + ":tour-1")
        training.get_execution_history = lambda role: _history("WaitForTrainingJob", "churn-tour-1")
        training.status, training.stop_date = "SUCCEEDED", training.start_date
        assert run("train", "follow", "tour-1").exit_code == 0

        # Autopilot: start, follow with candidates, leaderboard.
        store = serve_candidates(patch)
        assert run("autopilot", "start", "--name", "tour-2").exit_code == 0
        _automl_job(app, "ap-tour-1")
        store.by_job["ap-tour-1"] = [candidate("c-1", 0.7, job="ap-tour-1")]
        complete_job(automl_jobs()["ap-tour-1"], "s3://b/autopilot/")
        autopilot = _backend().describe_execution(app.outputs["autopilot"]["StateMachineArn"].replace(":stateMachine:", ":execution:") + ":tour-2")
        history = _history("WaitForAutoMLJob", "ap-tour-1")
        history[1]["taskScheduledEventDetails"]["parameters"] = json.dumps({"AutoMLJobName": "ap-tour-1"})
        autopilot.get_execution_history = lambda role: history
        s3 = app.client("s3")
        s3.create_bucket(Bucket="ml-bucket")
        key = "autopilot/ap-tour-1/leaderboard/leaderboard.json"
        s3.put_object(Bucket="ml-bucket", Key=key, Body=json.dumps(_leaderboard_document()).encode())
        autopilot.status, autopilot.stop_date = "SUCCEEDED", autopilot.start_date
        autopilot.output = json.dumps({"leaderboard": {"Json": f"s3://ml-bucket/{key}"}})
        assert run("autopilot", "follow", "tour-2").exit_code == 0
        assert run("autopilot", "leaderboard", "tour-2").exit_code == 0
    return iam_calls.recorded()[before:]


@pytest.fixture(scope="module")
def cli_calls() -> list[dict]:
    return _tour()


def _actions(calls: list[dict], reference: Reference) -> set[str]:
    from tests.iam_calls import Evaluator

    evaluator = Evaluator(reference)
    return {evaluator.action_of(c["service"], c["operation"]) for c in calls}


def test_every_cli_call_is_recorded_as_the_operators(cli_calls) -> None:
    assert cli_calls, "the gate recorded no CLI call"
    assert {c["caller"]["kind"] for c in cli_calls} == {"operator"}
    operations = {(c["service"], c["operation"]) for c in cli_calls}
    # The signed POST /decisions is an HTTP request, not a botocore call: the gate records its signing.
    assert ("execute-api", "Invoke") in operations
    assert {("cloudwatch", "GetMetricData"), ("sagemaker", "ListCandidatesForAutoMLJob"), ("s3", "GetObject")} <= operations


def test_the_operator_policy_allows_every_call_the_cli_makes(cli_calls, templates, reference) -> None:
    failures, reports = evaluate_recorded({"calls": cli_calls, "state_machine_roles": {}}, templates, reference)
    assert failures == []
    (role,) = reports
    assert "OperatorPolicy" in role and reports[role].calls >= len(cli_calls)


def test_the_operator_policy_grants_exactly_what_the_cli_calls(cli_calls, templates, reference) -> None:
    _, statements = operator_policy(templates)
    granted = {a for s in statements for a in as_list(s["Action"])}
    assert granted == _actions(cli_calls, reference) | SERVICE_SIDE


def test_a_policy_missing_an_action_the_cli_calls_fails_the_gate(cli_calls, templates, reference) -> None:
    stack, _ = operator_policy(templates)
    planted = copy.deepcopy(stack.template)
    policy = next(r for r in planted["Resources"].values() if r["Type"] == "AWS::IAM::ManagedPolicy")
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        statement["Action"] = [a for a in as_list(statement["Action"]) if a != "cloudwatch:GetMetricData"] or ["cloudwatch:ListMetrics"]
    others = {name: s.template for name, s in templates.stacks.items() if name != stack.name}
    failures, _ = evaluate_recorded({"calls": cli_calls, "state_machine_roles": {}}, Templates(templates={**others, stack.name: planted}), reference)
    assert failures and all("cloudwatch:GetMetricData" in f for f in failures)
    assert "no statement has cloudwatch:GetMetricData" in failures[0]


def test_without_the_operator_policy_in_cdk_out_cli_calls_are_unmapped(cli_calls, reference) -> None:
    failures, _ = evaluate_recorded({"calls": cli_calls[:1], "state_machine_roles": {}}, Templates(templates={}), reference)
    (failure,) = failures
    assert failure.startswith("unmapped call") and "OperatorPolicyArn" in failure
