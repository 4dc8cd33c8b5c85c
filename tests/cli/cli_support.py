"""The deployed app as the stacks create it, in moto: stacks with the outputs the CLI reads, the registry's
parameters, groups and packages, the dead-letter queues and the state machines; and a CLI runner."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from sagemaker_tiers.cli import main

REGION = "us-east-1"
PROJECT = "sagemaker-tiers"
GROUPS = ("example-churn", "fraud")
PREFIX = f"/{PROJECT}/registry"
ENDPOINT = f"{PROJECT}-example-churn"
DEPLOYED_PARAMETER = f"{PREFIX}/example-churn/deployed-model"
PASS_DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
ROLE_ARN = "arn:aws:iam::123456789012:role/sfn"
#: The training stack's RunInputRules output (TrainingPipeline.run_input_rules) for the example pipeline.
RUN_INPUT_RULES = {
    "keys": ["hyperparameters", "instanceType", "instanceCount", "trigger"],
    "hyperparameters": ["l2", "learning-rate", "target"],
    "instanceTypes": ["ml.m5d.xlarge", "ml.c5d.xlarge"],
    "maxInstanceCount": 4,
}


@dataclass
class Deployed:
    session: Any
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    packages: dict[tuple[str, int], str] = field(default_factory=dict)

    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self.session.client(service)
        return self.clients[service]

    def register(self, group: str, status: str = "PendingManualApproval") -> str:
        arn = self.client("sagemaker").create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus=status,
            ModelPackageDescription=f"{group} candidate",
            InferenceSpecification={
                "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1", "ModelDataUrl": "s3://b/models/m.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        self.packages[(group, int(arn.rsplit("/", 1)[1]))] = arn
        return arn

    def put(self, name: str, value: str) -> None:
        self.client("ssm").put_parameter(Name=name, Value=value, Type="String", Overwrite=True)

    def create_stack(self, tier: str, outputs: dict[str, str]) -> None:
        """A stack ``<project>-<tier>`` whose outputs carry the deployed values, as CloudFormation reports them."""
        template = {
            "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }
        with warnings.catch_warnings():  # moto creates no WaitConditionHandle and says so; the outputs are the point
            warnings.simplefilter("ignore", UserWarning)
            self.client("cloudformation").create_stack(StackName=f"{PROJECT}-{tier}", TemplateBody=json.dumps(template))
        self.outputs[tier] = outputs


def _queue(app: Deployed, name: str) -> str:
    return app.client("sqs").create_queue(QueueName=name)["QueueUrl"]


def _state_machine(app: Deployed, name: str) -> str:
    return app.client("stepfunctions").create_state_machine(name=name, definition=PASS_DEFINITION, roleArn=ROLE_ARN)["stateMachineArn"]


@pytest.fixture
def deployed() -> Deployed:
    """Every tier the CLI reads, deployed with the app's defaults plus a second group ("fraud", not served)."""
    with mock_aws():
        yield deployed_app()


def deployed_app() -> Deployed:
    """The deployed app in moto (call it inside ``mock_aws``)."""
    app = Deployed(boto3.Session(region_name=REGION))
    sagemaker = app.client("sagemaker")
    for group in GROUPS:
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    app.create_stack(
        "registry",
        {
            "ApprovalApiUrl": "https://abc123.execute-api.us-east-1.amazonaws.com/prod/",
            "AdminTopicArn": f"arn:aws:sns:{REGION}:123456789012:admins",
            "ParameterPrefix": PREFIX,
            "ModelPackageGroups": ",".join(GROUPS),
            "EventDeadLetterQueueUrl": _queue(app, "registry-events-dlq"),
            "FailedInvocationsQueueUrl": _queue(app, "registry-invocations-dlq"),
        },
    )
    app.create_stack(
        "training",
        {
            "StateMachineArn": _state_machine(app, "training"),
            "DatasetPrefix": "datasets/churn/",
            "ModelPrefix": "models/",
            "ModelPackageGroup": "example-churn",
            "DeadLetterQueueUrl": _queue(app, "training-dlq"),
            "RunInputRules": json.dumps(RUN_INPUT_RULES),
        },
    )
    app.create_stack(
        "autopilot",
        {"StateMachineArn": _state_machine(app, "autopilot"), "OutputPrefix": "autopilot/", "ModelPackageGroup": "example-churn"},
    )
    app.create_stack(
        "studio",
        {
            "DomainId": "d-abc123",
            "DomainFailedInvocationsQueueUrl": _queue(app, "studio-failed-invocations"),
            "HubFailedInvocationsQueueUrl": _queue(app, "hub-failed-invocations"),
        },
    )
    app.create_stack(
        "inference",
        {
            "EndpointName": ENDPOINT,
            "DeploymentStateMachineArn": _state_machine(app, "deploy"),
            "DeployedModelParameter": DEPLOYED_PARAMETER,
            "ModelPackageGroup": "example-churn",
            "DeadLetterQueueUrl": _queue(app, "inference-dlq"),
        },
    )
    return app


@pytest.fixture
def run(deployed: Deployed, monkeypatch: pytest.MonkeyPatch):
    """``run("status", "--output", "json")``: the CLI in-process on the moto session; returns the click Result."""
    monkeypatch.setattr(main, "make_session", lambda profile, region: deployed.session)
    return invoke


def invoke(*args: str):
    """The CLI in-process (on whatever session ``main.make_session`` gives); the click Result."""
    return CliRunner().invoke(main.cli, list(args), catch_exceptions=False)


def deny(session: Any, event: str, code: str = "AccessDeniedException") -> None:
    """Make every call matching ``event`` (``before-call.<service>.<Operation>``) answer 403 ``code``."""

    class _Http:
        status_code = 403

    def refuse(**_: Any) -> tuple[Any, dict]:
        return _Http(), {"Error": {"Code": code, "Message": "User: arn:aws:iam::123456789012:user/op is not authorized"}, "ResponseMetadata": {}}

    session.events.register(event, refuse)
