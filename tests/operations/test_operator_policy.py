"""``OperatorPolicy`` in the app: one managed policy, scoped to the app's resources, its ARN a stack output.

What it must allow is proven against the CLI's own calls in tests/cli/test_cli_operator_policy.py.
"""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Match, Template

from sagemaker_tiers.core.validation import ValidationError
from sagemaker_tiers.operations import OperatorPolicy
from sagemaker_tiers.operations.operator_policy import STAR_ONLY
from stacks.app import TiersApp, build_app
from tests.conftest import app_context


@pytest.fixture(scope="module")
def app() -> TiersApp:
    return build_app(App(context=app_context()))


@pytest.fixture(scope="module")
def template(app: TiersApp) -> Template:
    return Template.from_stack(app.operations)


def _statements(template: Template) -> list[dict]:
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_the_app_outputs_the_policy_arn(template: Template) -> None:
    (logical_id,) = template.find_resources("AWS::IAM::ManagedPolicy")
    template.has_output("OperatorPolicyArn", {"Value": {"Ref": logical_id}})


def test_only_actions_without_resource_scope_get_star(template: Template) -> None:
    star = {a for s in _statements(template) if s["Resource"] == "*" for a in _actions(s)}
    assert star == set(STAR_ONLY)


def test_no_write_action_but_starting_runs_and_no_action_wildcard(template: Template) -> None:
    actions = {a for s in _statements(template) for a in _actions(s)}
    assert all("*" not in a for a in actions)
    writes = {a for a in actions if a.split(":", 1)[1].startswith(("Create", "Update", "Delete", "Put", "Stop", "Send"))}
    assert writes == set()
    assert {"states:StartExecution", "execute-api:Invoke"} <= actions


def test_resources_are_the_apps_own(template: Template, app: TiersApp) -> None:
    text = {s.get("Sid"): str(s["Resource"]) for s in _statements(template)}
    for tier in ("foundation", "registry", "training", "autopilot", "studio", "inference", "operations"):
        assert f":stack/sagemaker-tiers-{tier}/*" in text["ReadStackOutputs"]
    assert f":training-job/{app.training.pipeline.job_name_prefix}-*" in text["DescribeTrainingJobs"]
    assert f":automl-job/{app.autopilot.autopilot.job_name_prefix}-*" in text["DescribeAutoMLJobs"]
    assert f"/{app.autopilot.autopilot.output_prefix}*/leaderboard/leaderboard.json" in text["ReadLeaderboards"]
    assert ":endpoint/sagemaker-tiers-example-churn" in text["DescribeEndpoint"]
    assert "/POST/decisions" in text["DecideApprovals"]
    assert "/example-churn/approved-model" in text["ReadApprovedModelParameters"]
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {"PolicyDocument": {"Statement": Match.array_with([
        Match.object_like({"Sid": "DecryptLeaderboards", "Action": "kms:Decrypt",
                           "Condition": {"StringEquals": {"kms:ViaService": Match.any_value()}}}),
    ])}})


def test_bad_input_fails_at_synth_naming_the_prop() -> None:
    stack = Stack(App(), "s")
    with pytest.raises(ValidationError, match="stacks must name at least one stack"):
        OperatorPolicy(stack, "Operator", stacks=[])
