"""architecture_diagram on a small app of planted resources: what is drawn, and which arrow each grant makes."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from sagemaker_tiers.core.diagram import architecture_diagram
from sagemaker_tiers.foundation import MlEncryptionKey
from tests.mermaid_subset import mermaid_subset_errors

ARN = "arn:aws:{service}:us-east-1:111122223333:{resource}"

#: A construct class of a tier package that does not exist yet (as issue 16's new constructs will be): it is drawn
#: without a change to the generator.
NewTierConstruct = type("NewTierConstruct", (Construct,), {"__module__": "sagemaker_tiers.newtier.thing"})


class UsersOwn(Construct):
    """Not a library construct: what it holds is drawn directly in its stack."""


def _function(scope: Construct, id: str, *actions_and_resources: tuple[str, str]) -> lambda_.Function:
    function = lambda_.Function(
        scope, id, runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler", code=lambda_.Code.from_inline("def handler(e, c): pass")
    )
    for action, resource in actions_and_resources:
        function.add_to_role_policy(iam.PolicyStatement(actions=[action], resources=[resource]))
    return function


@pytest.fixture(scope="module")
def diagram(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stack = Stack(app, "Planted")
    MlEncryptionKey(stack, "Key")
    new_tier = NewTierConstruct(stack, "Thing")
    sns.Topic(new_tier, "Topic")
    own = UsersOwn(stack, "Own")
    sns.Topic(own, 'Say"Hi')
    parameter = lambda service, name: ARN.format(service=service, resource=f"parameter{name}")  # noqa: E731
    _function(stack, "ExactWriter", ("ssm:PutParameter", parameter("ssm", "/app/served")))
    _function(
        stack,
        "PatternWriter",
        ("ssm:PutParameter", parameter("ssm", "/app/*")),
        ("sagemaker:CreateEndpoint", ARN.format(service="sagemaker", resource="endpoint/*canvas*")),
        ("ssm:GetParameter", parameter("ssm", "/other/read")),  # not a flow action: no arrow, no box
    )
    _function(stack, "Unconnected")
    deploy = _function(stack, "Deploy")
    events.Rule(
        stack,
        "ParameterChanged",
        event_pattern=events.EventPattern(
            source=["aws.ssm"], detail_type=["Parameter Store Change"], detail={"name": ["/app/served", "/app/approved"]}
        ),
        targets=[targets.LambdaFunction(deploy)],
    )
    return architecture_diagram(app)


def test_library_constructs_are_boxes_and_other_constructs_are_not(diagram) -> None:
    stack = next(c for c in diagram.containers if c.label == "Stack Planted")
    assert diagram.node("MlEncryptionKey Key").container == stack.id
    assert diagram.node("NewTierConstruct Thing<br/>SNS topic").container == stack.id
    assert diagram.node('SNS topic: Own/Say"Hi').container == stack.id
    assert not [c for c in diagram.containers if "Own" in c.label]


def test_functions_are_drawn_only_when_an_arrow_reaches_them(diagram) -> None:
    labels = {n.label for n in diagram.nodes}
    assert {"Lambda function: ExactWriter", "Lambda function: PatternWriter", "Lambda function: Deploy"} <= labels
    assert "Lambda function: Unconnected" not in labels


def test_an_exact_grant_wins_over_a_pattern_and_rules_name_parameters(diagram) -> None:
    served, approved = "SSM parameter: /app/served", "SSM parameter: /app/approved"
    assert diagram.edge_labels("Lambda function: ExactWriter", served) == ["PutParameter"]
    assert diagram.edge_labels("Lambda function: PatternWriter", served) == []
    assert diagram.edge_labels("Lambda function: PatternWriter", approved) == ["PutParameter"]
    for parameter in (served, approved):
        assert diagram.node(parameter).style == "runtime"
        assert diagram.edge_labels(parameter, "Lambda function: Deploy") == ["EventBridge: Parameter Store Change"]
        assert next(e for e in diagram.edges if e.source == diagram.node(parameter).id).dotted


def test_patterns_that_name_no_place_are_left_out(diagram) -> None:
    labels = {n.label for n in diagram.nodes}
    # /app/* matched concrete names, *canvas* is not a prefix, GetParameter is no flow action.
    assert not [label for label in labels if "*" in label or "/other" in label]


def test_labels_are_escaped_for_mermaid(diagram) -> None:
    text = diagram.mermaid()
    assert "Say#quot;Hi" in text
    assert mermaid_subset_errors(text) == []

