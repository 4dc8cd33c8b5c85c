"""The walking skeleton: the seed's whole chain in one test, in-process, through each tier's public entry points.

trained model -> registry -> EventBridge -> email -> approved via the API -> Parameter Store -> inference pipeline
-> the model answers. One stack holds the pieces as a CDK user wires them (``TrainingPipeline`` with the example
image, ``ModelPackageGroup``, ``ApprovalWorkflow``, ``ApprovedModelEndpoint``); it is synthesized once, and its
resources the handlers and state machines use (bucket, topic, secret, tables) are created in moto from the
template. Then:

1. the training pipeline's state machine runs under moto's Step Functions interpreter (its ``completion="poll"``
   rendering: moto cannot run ``.sync``). Where SageMaker would run ``docker run <image> train``, the example
   image's entry point runs as a local process on the channel data the job names, laid out as ``/opt/ml``, and
   its ``model.tar.gz`` lands where SageMaker puts it (``<S3OutputPath>/<job>/output/model.tar.gz``); the state
   machine registers the version, ``PendingManualApproval``;
2. SageMaker's "Model Package State Change" event (EventBridge; built from the package as SageMaker describes
   it, since moto emits none) goes to the notify function's handler, which emails the reviewers through SNS;
3. the link in that email is followed as a browser would: the review page through the approval API's handler,
   then its form posted back, which approves the version;
4. the "Approved" event goes to the promote function's handler, which writes the approved-model parameter;
5. the endpoint's deployment state machine runs under moto (started with ``{}``) and records the version it
   deployed: moto's endpoint is InService with the model built from the package;
6. where SageMaker would run ``docker run <image> serve``, the image's entry point serves the registered
   ``model.tar.gz`` (unpacked into ``/opt/ml/model``, as SageMaker does) as a local process: ``GET /ping`` and a
   CSV ``POST /invocations`` answer with predictions.

The AWS rules each step depends on are cited where the code relies on them (and in README, "The chain as it
works"). What moto cannot show: IAM (proven by the template gates), EventBridge delivery (the rules' patterns are
asserted in the registry tests), and SageMaker running the image in a container.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import tempfile
import urllib.parse
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import import_handlers_from, lambda_context
from tests.sfn_support import ACCOUNT, REGION, aws_sdk_integrations_as_in_aws, physical_values, run_execution, state_machine_definition
from tests.training.example_image_support import run_container, serving, write_csv

import_handlers_from("registry", "approval_handlers")

GROUP = "churn"


@dataclass
class Chain:
    """The synthesized stack: its template and the constructs whose resources the test looks up."""

    template: dict[str, Any]
    stack: Any
    bucket: Any
    workflow: Any
    pipeline: Any
    endpoint: Any

    def logical_id(self, construct: Any) -> str:
        return self.stack.get_logical_id(construct.node.default_child or construct)


@pytest.fixture(scope="module")
def chain() -> Chain:
    from aws_cdk import App, Duration, Stack

    from sagemaker_tiers import ApprovalWorkflow, MlBucket, MlEncryptionKey, ModelPackageGroup, SageMakerNetwork
    from sagemaker_tiers.inference import ApprovedModelEndpoint
    from sagemaker_tiers.training import (
        EXAMPLE_HYPERPARAMETERS,
        EXAMPLE_IMAGE_DIRECTORY,
        EXAMPLE_METRIC_DEFINITIONS,
        TrainingChannel,
        TrainingPipeline,
    )
    from tests.conftest import app_context

    app = App(context=app_context())
    stack = Stack(app, "WalkingSkeleton")
    key = MlEncryptionKey(stack, "Key")
    bucket = MlBucket(stack, "Data", encryption_key=key)
    network = SageMakerNetwork(stack, "Network", encryption_key=key)
    group = ModelPackageGroup(stack, "Group", model_package_group_name=GROUP)
    workflow = ApprovalWorkflow(stack, "Approval", encryption_key=key, admin_emails=["ml-admin@example.com"])
    workflow.watch(group)
    pipeline = TrainingPipeline(
        stack,
        "Training",
        bucket=bucket,
        encryption_key=key,
        network=network,
        model_package_group=group,
        image_directory=EXAMPLE_IMAGE_DIRECTORY,  # trains and serves: registered as its own inference image
        input_channels=[
            TrainingChannel("train", "datasets/churn/train/", content_type="text/csv"),
            TrainingChannel("validation", "datasets/churn/validation/", content_type="text/csv"),
        ],
        output_prefix="models/churn/",
        hyperparameters=EXAMPLE_HYPERPARAMETERS,
        metric_definitions=EXAMPLE_METRIC_DEFINITIONS,
        completion="poll",
        poll_interval=Duration.seconds(1),
        notification_topic=workflow.topic,
    )
    endpoint = ApprovedModelEndpoint(
        stack,
        "Endpoint",
        group=group,
        encryption_key=key,
        network=network,
        workflow=workflow,
        bucket=bucket,
        model_data_prefixes=[pipeline.output_prefix],  # where the training tier writes the artifacts it registers
        endpoint_name="churn",
        poll_interval=Duration.seconds(1),
        deployment_timeout=Duration.minutes(12),
        lock_poll_interval=Duration.seconds(1),
        lock_timeout=Duration.minutes(1),
    )
    template = app.synth().get_stack_by_name(stack.stack_name).template
    return Chain(template, stack, bucket, workflow, pipeline, endpoint)


class Account:
    """moto's account with the template's data resources created: buckets, topics, secrets, tables."""

    def __init__(self, chain: Chain) -> None:
        import boto3

        self.chain = chain
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sm = boto3.client("sagemaker", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.ssm = boto3.client("ssm", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        ddb = boto3.client("dynamodb", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        resources = chain.template["Resources"]
        overrides: dict[str, str] = {}
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::SecretsManager::Secret":
                overrides[logical_id] = secrets.create_secret(Name=logical_id.lower(), SecretString="k" * 64)["ARN"]
        self.physical = physical_values(chain.template, **overrides)
        for logical_id, resource in resources.items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::S3::Bucket":
                self.s3.create_bucket(Bucket=self.physical[logical_id])
            elif kind == "AWS::SNS::Topic":
                self.sns.create_topic(Name=self.physical[f"{logical_id}.TopicName"])
            elif kind == "AWS::DynamoDB::Table":
                ddb.create_table(
                    TableName=self.physical[logical_id],
                    KeySchema=props["KeySchema"],
                    AttributeDefinitions=props["AttributeDefinitions"],
                    BillingMode="PAY_PER_REQUEST",
                )
            elif kind == "Custom::ModelPackageGroup":  # what the group provider creates (or adopts) at deploy time
                self.sm.create_model_package_group(ModelPackageGroupName=props["ModelPackageGroupName"])
        self.bucket = self.physical[chain.logical_id(chain.bucket)]
        self.topic_arn = self.physical[chain.logical_id(chain.workflow.topic)]

    def state_machine(self, construct: Any, name: str) -> str:
        definition = state_machine_definition(self.chain.template, self.chain.logical_id(construct.state_machine), self.physical)
        return self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}"
        )["stateMachineArn"]

    def environment(self, function: Any) -> dict[str, str]:
        """The environment the template gives a deployed function."""
        from tests.sfn_support import resolve

        properties = self.chain.template["Resources"][self.chain.logical_id(function)]["Properties"]
        return {k: str(resolve(v, self.physical)) for k, v in properties.get("Environment", {}).get("Variables", {}).items()}

    def invoke(self, function: Any, event: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
        """Run a deployed function's handler in-process with the environment the template gives it."""
        import importlib

        properties = self.chain.template["Resources"][self.chain.logical_id(function)]["Properties"]
        for name, value in self.environment(function).items():
            monkeypatch.setenv(name, value)
        module_name, handler_name = properties["Handler"].rsplit(".", 1)
        module = importlib.import_module(module_name)
        if hasattr(module, "common"):  # the approval handlers cache clients and the signing secret
            module.common.reset_clients()
        return getattr(module, handler_name)(event, lambda_context(self.chain.logical_id(function)))

    def emails(self) -> list[dict[str, str]]:
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][REGION].topics[self.topic_arn]
        return [{"message": m[1], "subject": m[2]} for m in topic.sent_notifications]

    def state_change_event(self, arn: str) -> dict[str, Any]:
        """SageMaker's EventBridge event for the package as it is now (moto emits none)."""
        package = self.sm.describe_model_package(ModelPackageName=arn)
        keys = (
            "ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn", "ModelPackageDescription",
            "InferenceSpecification", "ModelApprovalStatus", "ModelPackageStatus", "ModelMetrics",
            "CustomerMetadataProperties", "ApprovalDescription",
        )
        detail = {k: package[k] for k in keys if k in package}
        detail["CreationTime"] = int(package["CreationTime"].timestamp() * 1000)
        return {
            "version": "0",
            "id": f"event-{arn.rsplit('/', 1)[-1]}-{package['ModelApprovalStatus']}",
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": ACCOUNT,
            "time": "2026-11-30T12:00:00Z",
            "region": REGION,
            "resources": [arn],
            "detail": detail,
        }


class Form(HTMLParser):
    """The first form of a page: method, action and the fields a browser would post for a button."""

    def __init__(self) -> None:
        super().__init__()
        self.method: str | None = None
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form" and self.method is None:
            self.method, self.action = values.get("method", "get").lower(), values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden" and "name" in values:
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "button" and values.get("name") and "disabled" not in values:
            self.buttons[values.get("value", "")] = values["name"]


def api_event(method: str, url: str, *, body: str | None = None) -> dict[str, Any]:
    """The API Gateway REST proxy event (payload format 1.0) for ``url``: ``https://<api>/<stage>/<resource>``."""
    split = urllib.parse.urlsplit(url)
    _, stage, rest = split.path.split("/", 2)
    resource = "/" + rest
    query = dict(urllib.parse.parse_qsl(split.query)) or None
    headers = {"Host": split.netloc, "User-Agent": "walking-skeleton"}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return {
        "resource": resource,
        "path": resource,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": split.path,
            "stage": stage,
            "accountId": ACCOUNT,
            "apiId": split.netloc.split(".", 1)[0],
            "requestId": f"request-{method}-{resource}",
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "walking-skeleton", "userArn": None, "caller": None, "accountId": None},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def test_a_trained_model_is_registered_emailed_approved_deployed_and_answers(chain: Chain, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws
    from moto.sagemaker.models import FakeTrainingJob

    original_init = FakeTrainingJob.__init__
    containers: list[dict[str, Any]] = []

    def run_training_container(job: Any, *args: Any, **kwargs: Any) -> None:
        """SageMaker runs ``docker run <image> train`` with the channels under /opt/ml/input/data and uploads
        /opt/ml/model as <S3OutputPath>/<job>/output/model.tar.gz
        (https://docs.aws.amazon.com/sagemaker/latest/dg/your-algorithms-training-algo-running-container.html)."""
        original_init(job, *args, **kwargs)
        import boto3

        s3 = boto3.client("s3", region_name=REGION)
        root = Path(tempfile.mkdtemp(prefix="opt-ml-"))
        (root / "input" / "config").mkdir(parents=True)
        (root / "input" / "config" / "hyperparameters.json").write_text(json.dumps(job.hyper_parameters or {}))
        for channel in job.input_data_config:
            bucket, prefix = channel["DataSource"]["S3DataSource"]["S3Uri"].removeprefix("s3://").split("/", 1)
            for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
                target = root / "input" / "data" / channel["ChannelName"] / item["Key"][len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        result = run_container(root, "train")
        containers.append({"job": job.training_job_name, "image": job.algorithm_specification["TrainingImage"], "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr})
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            for path in sorted((root / "model").iterdir()):
                tar.add(path, arcname=path.name)
        bucket, key = job.model_artifacts["S3ModelArtifacts"].removeprefix("s3://").split("/", 1)
        s3.put_object(Bucket=bucket, Key=key, Body=archive.getvalue())

    monkeypatch.setattr(FakeTrainingJob, "__init__", run_training_container)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        with aws_sdk_integrations_as_in_aws():
            account = Account(chain)

            # 1. Data lands in the bucket; the training pipeline trains and registers a version for approval.
            with tempfile.TemporaryDirectory() as data:
                for channel, rows, seed in (("train", 300, 1), ("validation", 100, 3)):
                    path = Path(data) / f"{channel}.csv"
                    write_csv(path, rows, seed)
                    account.s3.put_object(Bucket=account.bucket, Key=f"datasets/churn/{channel}/part-0.csv", Body=path.read_bytes())
            training = run_execution(account.sfn, account.state_machine(chain.pipeline, "training"), {}, timeout=120)
            assert training["status"] == "SUCCEEDED", (training.get("error"), training.get("cause"), containers)
            (container,) = containers
            assert container["returncode"] == 0, container["stderr"]
            assert re.search(r"^validation:accuracy=0\.[89]\d+$", container["stdout"], re.MULTILINE)
            (summary,) = account.sm.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
            arn = summary["ModelPackageArn"]
            package = account.sm.describe_model_package(ModelPackageName=arn)
            assert package["ModelApprovalStatus"] == "PendingManualApproval"
            (registered,) = package["InferenceSpecification"]["Containers"]
            # The training image serves, so it is registered as its own inference image.
            assert registered["Image"] == container["image"]
            assert registered["ModelDataUrl"].endswith(f"{container['job']}/output/model.tar.gz")

            # 2. SageMaker's state-change event -> the notify function emails the reviewers.
            account.invoke(chain.workflow.notify_function, account.state_change_event(arn), monkeypatch)
            (email,) = account.emails()
            api_url = account.environment(chain.workflow.notify_function)["APPROVAL_URL"]
            link = re.search(rf"{re.escape(api_url)}\S+", email["message"]).group(0)

            # 3. The reviewer follows the link: a review page (nothing changes), then its form posted back.
            page = account.invoke(chain.workflow.api_function, api_event("GET", link), monkeypatch)
            assert page["statusCode"] == 200
            assert account.sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "PendingManualApproval"
            form = Form()
            form.feed(page["body"])
            assert form.method == "post" and "approve" in form.buttons
            fields = {**form.fields, "name": "Grace", "comment": "walking skeleton", form.buttons["approve"]: "approve"}
            decided = account.invoke(
                chain.workflow.api_function,
                api_event("POST", urllib.parse.urljoin(link, form.action), body=urllib.parse.urlencode(fields)),
                monkeypatch,
            )
            assert decided["statusCode"] == 200, decided
            assert account.sm.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == "Approved"

            # 4. SageMaker's "Approved" event -> the promote function writes the approved-model parameter.
            account.invoke(chain.workflow.promote_function, account.state_change_event(arn), monkeypatch)
            approved = account.ssm.get_parameter(Name=chain.endpoint.approved_model_parameter_name)["Parameter"]["Value"]
            assert arn in approved

            # 5. The parameter's change starts the endpoint's deployment: it deploys the approved version.
            deployment = run_execution(account.sfn, account.state_machine(chain.endpoint, "deployment"), {}, timeout=120)
            assert deployment["status"] == "SUCCEEDED", (deployment.get("error"), deployment.get("cause"))
            assert account.ssm.get_parameter(Name=chain.endpoint.deployed_model_parameter_name)["Parameter"]["Value"] == approved
            endpoint = account.sm.describe_endpoint(EndpointName=chain.endpoint.endpoint_name)
            assert endpoint["EndpointStatus"] == "InService"
            config = account.sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
            model = account.sm.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
            assert model["PrimaryContainer"]["ModelPackageName"] == arn

            # What SageMaker unpacks into /opt/ml/model for the endpoint: the registered model.tar.gz.
            bucket, key = registered["ModelDataUrl"].removeprefix("s3://").split("/", 1)
            artifact = account.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    # 6. docker run <image> serve, on the model the endpoint serves: /ping and a CSV /invocations.
    with tempfile.TemporaryDirectory() as serving_root:
        with tarfile.open(fileobj=io.BytesIO(artifact), mode="r:gz") as tar:
            tar.extractall(Path(serving_root) / "model", filter="data")
        with serving(Path(serving_root)) as server:
            ping_status, _, ping_body = server.request("GET", "/ping")
            assert (ping_status, ping_body) == (200, b"")
            status, headers, answer = server.request(
                "POST", "/invocations", b"2,110,8\n70,25,0\n", {"Content-Type": "text/csv", "Accept": "text/csv"}
            )
    assert status == 200 and headers["content-type"] == "text/csv"
    labels = [int(line.split(",")[0]) for line in answer.decode().splitlines()]
    assert labels == [1, 0]  # a short-tenure, high-charge, many-calls customer churns; a long, cheap, quiet one stays
