"""Execute the synthesized deployment state machines under moto's Step Functions interpreter and SageMaker.

What runs for real here: every state of the definition as synthesized (resolved with test names), against
moto's DynamoDB (the lock), SSM (both parameters), SNS (notifications), Step Functions (the lock holder) and
SageMaker (packages, models, configurations, endpoints). Every AWS SDK request is validated against botocore's
model (tests/sfn_support.py). What moto cannot do and is emulated in tests/inference/conftest.py: UpdateEndpoint
(moto has none) and endpoints that take time (moto's are InService at once). Blue/green traffic shifting and
alarm-driven rollback happen inside SageMaker; the tests check the request and how the state machine reacts to
both outcomes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.inference.conftest import GROUP, FakeSageMakerEndpoints, atomic_dynamodb_writes
from tests.sfn_support import (
    ACCOUNT,
    REGION,
    aws_sdk_integrations_as_in_aws,
    entered_states,
    physical_values,
    run_execution,
    resolve,
    state_machine_definition,
    wait_for_execution,
)

IMAGE = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/churn:1"


class Env:
    """A moto account holding what the synthesized state machines need."""

    def __init__(self, synthesized: Any, calls: list[dict], fake: FakeSageMakerEndpoints) -> None:
        import boto3

        self.synthesized = synthesized
        self.calls = calls
        self.fake = fake
        self.sm = boto3.client("sagemaker", region_name=REGION)
        self.ssm = boto3.client("ssm", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.physical = physical_values(synthesized.template)
        self.topic_arn = self.sns.create_topic(Name=self.physical[self._logical(synthesized.deps["workflow"].topic)].split(":")[-1])["TopicArn"]
        self.sm.create_model_package_group(ModelPackageGroupName=GROUP)
        self.state_machines: dict[str, str] = {}

    def _logical(self, construct: Any) -> str:
        from aws_cdk import Stack

        child = construct.node.default_child
        return Stack.of(construct).get_logical_id(child)

    def endpoint(self, name: str) -> Any:
        return self.synthesized.endpoints[name]

    def state_machine_name(self, name: str) -> str:
        """The state machine's name as CloudFormation resolves it (it ends in 8 hex digits of the stack's ID)."""
        from aws_cdk import Stack

        endpoint = self.endpoint(name)
        return resolve(Stack.of(endpoint).resolve(endpoint._state_machine_name), self.physical)

    def deploy(self, name: str) -> str:
        """Create the lock table and the state machine of endpoint ``name`` in moto; returns its ARN."""
        endpoint = self.endpoint(name)
        self.ddb.create_table(
            TableName=self.physical[self._logical(endpoint.lock_table)],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        definition = state_machine_definition(self.synthesized.template, self.synthesized.logical_ids[name], self.physical)
        arn = self.sfn.create_state_machine(
            name=self.state_machine_name(name),
            definition=json.dumps(definition),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/deployer",
        )["stateMachineArn"]
        self.state_machines[name] = arn
        return arn

    def register(self, status: str = "Approved", group: str = GROUP) -> str:
        if group != GROUP:
            try:
                self.sm.create_model_package_group(ModelPackageGroupName=group)
            except Exception:  # noqa: BLE001 - already there
                pass
        return self.sm.create_model_package(
            ModelPackageGroupName=group,
            InferenceSpecification={
                "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://bucket/models/churn/model.tar.gz"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            ModelApprovalStatus=status,
        )["ModelPackageArn"]

    def approve(self, name: str, value: str) -> None:
        """What the registry's promote function does: point the approved-model parameter at ``value``."""
        self.ssm.put_parameter(Name=self.endpoint(name).approved_model_parameter_name, Value=value, Type="String", Overwrite=True)

    def run(self, name: str, **kwargs: Any) -> dict:
        return run_execution(self.sfn, self.state_machines[name], {"source": "test"}, **kwargs)

    def deployed(self, name: str) -> str | None:
        try:
            return self.ssm.get_parameter(Name=self.endpoint(name).deployed_model_parameter_name)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None

    def describe_endpoint(self, name: str) -> dict:
        return self.sm.describe_endpoint(EndpointName=self.endpoint(name).endpoint_name)

    def messages(self) -> list[dict]:
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][REGION].topics[self.topic_arn]
        return [{"message": m[1], "subject": m[2]} for m in topic.sent_notifications]

    def lock_items(self, name: str) -> list[dict]:
        return self.ddb.scan(TableName=self.physical[self._logical(self.endpoint(name).lock_table)])["Items"]

    def names(self, kind: str, name: str) -> list[str]:
        prefix = self.endpoint(name).endpoint_name + "-"
        if kind == "models":
            return sorted(m["ModelName"] for m in self.sm.list_models()["Models"] if m["ModelName"].startswith(prefix))
        return sorted(
            c["EndpointConfigName"]
            for c in self.sm.list_endpoint_configs()["EndpointConfigs"]
            if c["EndpointConfigName"].startswith(prefix)
        )

    def sdk_calls(self, action: str) -> list[dict]:
        return [c["parameters"] for c in self.calls if c["action"] == action]


@pytest.fixture
def env(synthesized, monkeypatch):
    from moto import mock_aws

    fake = FakeSageMakerEndpoints()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        fake.install(monkeypatch)
        atomic_dynamodb_writes(monkeypatch)
        with aws_sdk_integrations_as_in_aws() as calls:
            yield Env(synthesized, calls, fake)


def _hold_lock(env: Env, name: str, *, seconds: int) -> tuple[str, str]:
    """Put endpoint ``name``'s lock in the hands of another execution that runs ``seconds``; returns it and the table."""
    blocker = env.sfn.create_state_machine(
        name=f"holder-of-{name}",
        definition=json.dumps({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": seconds, "End": True}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/deployer",
    )["stateMachineArn"]
    holder = env.sfn.start_execution(stateMachineArn=blocker, name="holder")["executionArn"]
    table = env.physical[env._logical(env.endpoint(name).lock_table)]
    env.ddb.put_item(TableName=table, Item={"pk": {"S": env.endpoint(name).endpoint_name}, "holder": {"S": holder}})
    return holder, table


def _serve(env: Env, name: str, version: str) -> None:
    """Approve ``version`` for endpoint ``name`` and run its deployment to success."""
    env.approve(name, version)
    _succeeded(env.run(name))


def _succeeded(result: dict) -> None:
    assert result["status"] == "SUCCEEDED", (result.get("error"), result.get("cause"))


def test_first_approval_creates_a_serverless_endpoint_and_records_the_package(env) -> None:
    env.deploy("serverless")
    v1 = env.register()
    env.approve("serverless", v1)

    result = env.run("serverless")

    _succeeded(result)
    endpoint = env.describe_endpoint("serverless")
    assert endpoint["EndpointStatus"] == "InService"
    config_name = endpoint["EndpointConfigName"]
    assert config_name.startswith("churn-serverless-V1-") and len(config_name) == len("churn-serverless-V1-") + 8
    assert env.deployed("serverless") == v1
    model = env.sm.describe_model(ModelName=config_name)
    assert model["PrimaryContainer"]["ModelPackageName"] == v1
    assert model["ExecutionRoleArn"].endswith(env.physical[env._logical(env.endpoint("serverless").model_role)])
    config = env.sm.describe_endpoint_config(EndpointConfigName=config_name)
    assert config["ProductionVariants"][0]["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    [create_model] = env.sdk_calls("createModel")
    assert "VpcConfig" not in create_model and "EnableNetworkIsolation" not in create_model  # serverless cannot
    assert env.sdk_calls("updateEndpoint") == []
    assert env.lock_items("serverless") == []  # released
    assert env.messages() == []


def test_second_approval_updates_blue_green_waits_for_it_and_cleans_up_keeping_the_previous(env) -> None:
    arn = env.deploy("serverless")
    versions = [env.register() for _ in range(3)]
    _serve(env, "serverless", versions[0])
    first_config = env.describe_endpoint("serverless")["EndpointConfigName"]

    env.approve("serverless", versions[1])
    env.fake.update_takes = 3  # the update is Updating for three DescribeEndpoint calls
    result = env.run("serverless")

    _succeeded(result)
    second_config = env.describe_endpoint("serverless")["EndpointConfigName"]
    assert second_config.startswith("churn-serverless-V2-")
    assert env.deployed("serverless") == versions[1]
    [update] = env.fake.updates
    assert update["EndpointConfigName"] == second_config
    policy = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 300}
    alarms = [a["AlarmName"] for a in update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert len(alarms) == 2 and all(alarms)
    states = entered_states(env.sfn, result["executionArn"])
    assert states.count("DescribeDeployment") == 4  # three Updating answers, then InService
    assert states.index("UpdateEndpoint") < states.index("RecordDeployedModel")
    # Two configurations and models so far: nothing to clean up yet.
    assert env.names("configs", "serverless") == sorted([first_config, second_config])

    _serve(env, "serverless", versions[2])
    third_config = env.describe_endpoint("serverless")["EndpointConfigName"]
    # The oldest is gone; the serving one and the previous one (rollback target) stay.
    assert env.names("configs", "serverless") == sorted([second_config, third_config])
    assert env.names("models", "serverless") == sorted([second_config, third_config])
    assert arn


def test_realtime_endpoint_runs_in_the_vpc_isolated_encrypted_with_capture_and_canary(env) -> None:
    synthesized = env.synthesized
    env.deploy("realtime")
    v1, v2 = env.register(), env.register()
    _serve(env, "realtime", v1)
    _serve(env, "realtime", v2)

    create_model = env.sdk_calls("createModel")[-1]
    network = synthesized.deps["network"]
    assert create_model["EnableNetworkIsolation"] is True
    assert create_model["VpcConfig"]["SecurityGroupIds"] == [env.physical[f"{env._logical(network.security_group)}.GroupId"]]
    assert len(create_model["VpcConfig"]["Subnets"]) == 2
    config = env.sdk_calls("createEndpointConfig")[-1]
    key_arn = env.physical[f"{env._logical(synthesized.deps['encryption_key'])}.Arn"]
    assert config["KmsKeyId"] == key_arn
    assert config["ProductionVariants"] == [
        {"VariantName": "AllTraffic", "ModelName": create_model["ModelName"], "InstanceType": "ml.m5.large", "InitialInstanceCount": 2, "InitialVariantWeight": 1}
    ]
    capture = config["DataCaptureConfig"]
    assert capture["DestinationS3Uri"].endswith("/capture/churn/") and capture["InitialSamplingPercentage"] == 20
    assert capture["KmsKeyId"] == key_arn
    [update] = env.fake.updates
    routing = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}
    assert env.deployed("realtime") == v2


def test_rolled_back_update_fails_visibly_and_the_previous_model_keeps_serving(env) -> None:
    env.deploy("serverless")
    v1, v2 = env.register(), env.register()
    _serve(env, "serverless", v1)
    serving = env.describe_endpoint("serverless")["EndpointConfigName"]

    env.fake.roll_back = True
    env.approve("serverless", v2)
    result = env.run("serverless")

    assert result["status"] == "FAILED" and result["error"] == "InferenceDeploymentFailed"
    assert env.describe_endpoint("serverless")["EndpointConfigName"] == serving
    assert env.deployed("serverless") == v1
    [message] = env.messages()
    assert "DeploymentRolledBack" in message["message"] and "churn-serverless" in message["subject"]
    assert env.lock_items("serverless") == []


def test_nothing_approved_and_already_deployed_change_nothing(env) -> None:
    env.deploy("serverless")
    v1 = env.register()
    _serve(env, "serverless", v1)
    serving = env.describe_endpoint("serverless")["EndpointConfigName"]

    again = env.run("serverless")  # a repeated event
    _succeeded(again)
    assert "AlreadyDeployed" in entered_states(env.sfn, again["executionArn"])

    env.approve("serverless", "NONE")  # the only approved version was rejected
    revoked = env.run("serverless")
    _succeeded(revoked)
    assert env.describe_endpoint("serverless")["EndpointConfigName"] == serving
    assert env.deployed("serverless") == v1
    [message] = env.messages()
    assert v1 in message["message"]
    assert len(env.sdk_calls("createModel")) == 1


@pytest.mark.parametrize("case", ["pending", "other-group"])
def test_a_parameter_that_is_not_an_approved_version_of_the_group_fails(env, case) -> None:
    env.deploy("serverless")
    arn = env.register(status="PendingManualApproval") if case == "pending" else env.register(group="fraud")
    env.approve("serverless", arn)

    result = env.run("serverless")

    assert result["status"] == "FAILED"
    assert "ModelPackageNotApproved" in env.messages()[0]["message"]
    assert env.sdk_calls("createModel") == [] and env.deployed("serverless") is None
    if case == "other-group":  # refused before SageMaker is asked: the role may describe its own group's versions only
        assert "PackageOfGroup" in entered_states(env.sfn, result["executionArn"])
        assert "DescribeModelPackage" not in entered_states(env.sfn, result["executionArn"])


def test_failed_endpoint_is_replaced(env) -> None:
    from moto.sagemaker.models import sagemaker_backends

    env.deploy("serverless")
    v1 = env.register()
    _serve(env, "serverless", v1)
    sagemaker_backends[ACCOUNT][REGION].endpoints["churn-serverless"].endpoint_status = "Failed"

    result = env.run("serverless")  # v1 is still the approved and the recorded version

    _succeeded(result)
    states = entered_states(env.sfn, result["executionArn"])
    assert states.index("StillServing") < states.index("DescribeModelPackage") < states.index("DeleteFailedEndpoint") < states.index("CreateEndpoint")
    assert env.describe_endpoint("serverless")["EndpointStatus"] == "InService"
    assert env.deployed("serverless") == v1


def test_an_endpoint_switched_but_not_recorded_is_brought_back_to_the_approved_version(env) -> None:
    # An execution switched the endpoint to v2 and died before recording it; then v2 was rejected, so the
    # approved version is v1 again and equals the recorded one. The endpoint must not keep serving v2.
    env.deploy("serverless")
    v1, v2 = env.register(), env.register()
    _serve(env, "serverless", v1)
    _serve(env, "serverless", v2)
    assert env.describe_endpoint("serverless")["EndpointConfigName"].startswith("churn-serverless-V2-")
    env.ssm.put_parameter(Name=env.endpoint("serverless").deployed_model_parameter_name, Value=v1, Type="String", Overwrite=True)
    env.approve("serverless", v1)

    result = env.run("serverless")

    _succeeded(result)
    states = entered_states(env.sfn, result["executionArn"])
    assert "AlreadyDeployed" not in states and states.index("ServesApprovedModel") < states.index("UpdateEndpoint")
    serving = env.describe_endpoint("serverless")["EndpointConfigName"]
    assert serving.startswith("churn-serverless-V1-")
    assert env.sm.describe_model(ModelName=serving)["PrimaryContainer"]["ModelPackageName"] == v1


def test_throttled_endpoint_lookups_are_retried_not_taken_for_a_missing_endpoint(env) -> None:
    env.deploy("serverless")
    v1 = env.register()
    env.approve("serverless", v1)
    env.fake.throttled_describes = 1

    first = env.run("serverless")

    _succeeded(first)
    states = entered_states(env.sfn, first["executionArn"])
    assert states.index("EndpointUnreadable") < states.index("WaitForEndpointIdle") < states.index("NoEndpointYet")
    assert len(env.sdk_calls("createEndpoint")) == 1

    env.fake.throttled_describes = 2
    again = env.run("serverless")

    _succeeded(again)
    states = entered_states(env.sfn, again["executionArn"])
    assert states.count("CountServingLookup") == 2 and "AlreadyDeployed" in states
    assert len(env.sdk_calls("createModel")) == 1 and env.sdk_calls("updateEndpoint") == []


def test_stale_lock_of_a_dead_execution_is_taken_over(env) -> None:
    env.deploy("serverless")
    env.approve("serverless", env.register())
    ghost = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{env.state_machine_name('serverless')}:ghost"
    env.ddb.put_item(
        TableName=env.physical[env._logical(env.endpoint("serverless").lock_table)],
        Item={"pk": {"S": "churn-serverless"}, "holder": {"S": ghost}},
    )

    result = env.run("serverless")

    _succeeded(result)
    states = entered_states(env.sfn, result["executionArn"])
    assert states[:7] == ["Start", "AcquireLock", "ReadLock", "LockStillHeld", "DescribeLockHolder", "TakeOverStaleLock", "AcquireLock"]
    assert env.lock_items("serverless") == []


def test_a_running_holder_is_waited_for_and_concurrent_runs_deploy_once(env) -> None:
    env.deploy("serverless")
    holder, table = _hold_lock(env, "serverless", seconds=120)  # stopped below
    env.approve("serverless", env.register())

    # Two executions (two events) while the lock is held: both wait.
    executions = [
        env.sfn.start_execution(stateMachineArn=env.state_machines["serverless"], name=f"event-{i}", input="{}")["executionArn"]
        for i in range(2)
    ]
    # Both reach WaitForLock and stay RUNNING (polled, not slept: a loaded machine may take seconds to get there).
    deadline = time.monotonic() + 60
    while not all("WaitForLock" in entered_states(env.sfn, e) for e in executions) and time.monotonic() < deadline:
        time.sleep(0.2)
    for execution in executions:
        assert env.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"
        assert entered_states(env.sfn, execution).count("WaitForLock") >= 1
    assert env.sdk_calls("createModel") == []

    env.ddb.delete_item(TableName=table, Key={"pk": {"S": "churn-serverless"}})  # the holder releases
    env.sfn.stop_execution(executionArn=holder)
    results = [wait_for_execution(env.sfn, e, timeout=60) for e in executions]

    for result in results:
        _succeeded(result)
    assert len(env.sdk_calls("createModel")) == 1  # one deployed; the other found it deployed
    assert sorted("AlreadyDeployed" in entered_states(env.sfn, r["executionArn"]) for r in results) == [False, True]


def test_cleanup_never_touches_another_endpoints_objects_that_share_the_name_prefix(env) -> None:
    # Another endpoint named "churn-serverless-b" (its objects: "churn-serverless-b-V<n>-<hex>") and objects made
    # by hand whose names start with "churn-serverless-" sit in the same account.
    foreign = ["churn-serverless-b-V1-0123abcd", "churn-serverless-b-V2-4567ef01", "churn-serverless-notes"]
    for name in foreign:
        env.sm.create_model(ModelName=name, ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/other", PrimaryContainer={"Image": IMAGE})
        env.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 1}}],
        )
    env.deploy("serverless")
    served = []
    for _ in range(3):
        env.approve("serverless", env.register())
        _succeeded(env.run("serverless"))
        served.append(env.describe_endpoint("serverless")["EndpointConfigName"])

    configs = {c["EndpointConfigName"] for c in env.sm.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]}
    models = {m["ModelName"] for m in env.sm.list_models(MaxResults=100)["Models"]}
    assert set(foreign) <= configs and set(foreign) <= models  # untouched
    assert served[0] not in configs and served[0] not in models  # this endpoint's oldest is cleaned up
    assert {served[1], served[2]} <= configs


def test_a_lock_held_past_lock_timeout_fails_visibly_and_leaves_the_holders_lock(env) -> None:
    env.deploy("realtime")
    holder, _ = _hold_lock(env, "realtime", seconds=60)
    env.approve("realtime", env.register())

    result = env.run("realtime", timeout=60)
    env.sfn.stop_execution(executionArn=holder)

    assert result["status"] == "FAILED" and result["error"] == "InferenceDeploymentFailed"
    assert entered_states(env.sfn, result["executionArn"]).count("WaitForLock") == 4  # lock_timeout 3 s / 1 s polls, + 1
    [message] = env.messages()
    assert "LockTimeout" in message["message"] and holder in message["message"]
    assert env.lock_items("realtime") == [{"pk": {"S": "churn-realtime"}, "holder": {"S": holder}}]
    assert env.sdk_calls("createModel") == []


def test_an_already_deployed_version_is_deployed_again_when_its_endpoint_is_gone(env) -> None:
    env.deploy("serverless")
    v1 = env.register()
    _serve(env, "serverless", v1)
    env.sm.delete_endpoint(EndpointName="churn-serverless")  # deleted by hand; the parameter still names v1

    result = env.run("serverless")

    _succeeded(result)
    states = entered_states(env.sfn, result["executionArn"])
    assert "AlreadyDeployed" not in states and states.index("CheckServingEndpoint") < states.index("CreateEndpoint")
    assert env.describe_endpoint("serverless")["EndpointStatus"] == "InService"
    assert env.deployed("serverless") == v1 and len(env.sdk_calls("createModel")) == 2


@pytest.mark.parametrize(("status", "new_version"), [("OutOfService", True), ("UpdateRollbackFailed", False)])
def test_an_endpoint_that_cannot_be_updated_fails_at_once(env, status, new_version) -> None:
    from moto.sagemaker.models import sagemaker_backends

    env.deploy("serverless")
    v1, v2 = env.register(), env.register()
    _serve(env, "serverless", v1)
    sagemaker_backends[ACCOUNT][REGION].endpoints["churn-serverless"].endpoint_status = status
    if new_version:
        env.approve("serverless", v2)  # the deploy path; otherwise the already-deployed path

    result = env.run("serverless")

    assert result["status"] == "FAILED"
    states = entered_states(env.sfn, result["executionArn"])
    assert ("EndpointUnusable" if new_version else "ServingEndpointUnusable") in states
    assert "WaitForEndpointIdle" not in states and "AlreadyDeployed" not in states
    assert status in env.messages()[0]["message"] and env.deployed("serverless") == v1


def _register_pipeline(env: Env, containers: int = 2) -> str:
    """A version whose inference specification is a pipeline of ``containers`` containers (as Autopilot's HPO
    candidates are)."""
    return env.sm.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": f"s3://bucket/autopilot/churn/step{i}.tar.gz"} for i in range(containers)],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]


def test_a_pipeline_is_refused_by_a_serverless_endpoint_which_keeps_serving_and_a_realtime_one_serves_it(env) -> None:
    # Serverless Inference hosts no inference pipelines (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html).
    env.deploy("serverless")
    v1 = env.register()
    _serve(env, "serverless", v1)
    serving = env.describe_endpoint("serverless")["EndpointConfigName"]
    pipeline = _register_pipeline(env, containers=3)
    env.approve("serverless", pipeline)

    result = env.run("serverless")

    assert result["status"] == "FAILED" and result["error"] == "InferenceDeploymentFailed"
    [message] = env.messages()
    assert "ModelPackageNotServable" in message["message"] and "3 containers" in message["message"] and pipeline in message["message"]
    assert "PipelineOnServerless" in entered_states(env.sfn, result["executionArn"])
    assert env.describe_endpoint("serverless")["EndpointConfigName"] == serving and env.deployed("serverless") == v1
    assert len(env.sdk_calls("createModel")) == 1 and env.lock_items("serverless") == []

    env.deploy("realtime")
    env.approve("realtime", pipeline)
    _succeeded(env.run("realtime"))
    assert env.deployed("realtime") == pipeline


def test_an_unversioned_package_fails_visibly_instead_of_crashing_the_execution(env) -> None:
    # An unversioned package has no group, version or approval status: selecting them raised States.Runtime.
    env.deploy("serverless")
    unversioned = env.sm.create_model_package(
        ModelPackageName="churn-by-hand",
        InferenceSpecification={"Containers": [{"Image": IMAGE}], "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
    )["ModelPackageArn"]
    env.approve("serverless", unversioned)

    result = env.run("serverless")

    assert result["status"] == "FAILED" and result["error"] == "InferenceDeploymentFailed"
    [message] = env.messages()
    assert "ModelPackageNotApproved" in message["message"] and unversioned in message["message"]
    assert env.lock_items("serverless") == [] and env.sdk_calls("createModel") == []


def test_a_realtime_endpoint_is_never_updated_to_serverless_and_keeps_serving(env) -> None:
    # SageMaker cannot update a real-time endpoint to serverless
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-update.html): the construct switched to
    # serverless finds the real-time endpoint it made before and refuses, naming the fix.
    env.deploy("serverless")
    old = "churn-serverless-V1-0123abcd"
    env.sm.create_model(ModelName=old, ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/model", PrimaryContainer={"Image": IMAGE})
    env.sm.create_endpoint_config(
        EndpointConfigName=old,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": old, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
    )
    env.sm.create_endpoint(EndpointName="churn-serverless", EndpointConfigName=old)
    env.approve("serverless", env.register())

    result = env.run("serverless")

    assert result["status"] == "FAILED"
    [message] = env.messages()
    assert "EndpointTypeChangeRefused" in message["message"] and "delete-endpoint --endpoint-name churn-serverless" in message["message"]
    assert env.fake.updates == [] and env.describe_endpoint("serverless")["EndpointConfigName"] == old


def test_scheduled_runs_are_quiet_before_the_first_approval_and_after_a_revocation(env) -> None:
    # The hourly reconcile starts the state machine with {}: nothing to do must not fail or email every hour.
    arn = env.deploy("serverless")
    first = run_execution(env.sfn, arn, {})
    _succeeded(first)
    assert "NothingApprovedYet" in entered_states(env.sfn, first["executionArn"])

    v1 = env.register()
    _serve(env, "serverless", v1)
    _succeeded(run_execution(env.sfn, arn, {}))  # already deployed: checks and stops
    env.approve("serverless", "NONE")
    _succeeded(env.run("serverless"))  # the revocation's event tells the administrators once
    _succeeded(run_execution(env.sfn, arn, {}))
    assert len(env.messages()) == 1 and env.deployed("serverless") == v1
    assert len(env.sdk_calls("createModel")) == 1


def _register_with_types(env: Env, types: list[str]) -> str:
    """An Approved version that lists the real-time instance types its model supports (as a JumpStart model's does)."""
    return env.sm.create_model_package(
        ModelPackageGroupName=GROUP,
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://bucket/models/churn/model.tar.gz"}],
            "SupportedRealtimeInferenceInstanceTypes": types,
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus="Approved",
    )["ModelPackageArn"]


def test_a_realtime_endpoint_serves_only_a_version_that_supports_its_instance_type(env) -> None:
    # The realtime test endpoint runs on ml.m5.large (InferenceSpecification.SupportedRealtimeInferenceInstanceTypes:
    # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_InferenceSpecification.html).
    env.deploy("realtime")
    v1 = env.register()  # lists no types: served as before
    _serve(env, "realtime", v1)
    gpu_only = _register_with_types(env, ["ml.g5.2xlarge", "ml.g5.4xlarge"])
    env.approve("realtime", gpu_only)

    result = env.run("realtime")

    assert result["status"] == "FAILED" and result["error"] == "InferenceDeploymentFailed"
    assert "InstanceTypeNotSupported" in entered_states(env.sfn, result["executionArn"])
    [message] = env.messages()
    assert "ModelPackageNotServable" in message["message"] and "ml.g5.2xlarge" in message["message"] and "ml.m5.large" in message["message"]
    assert env.deployed("realtime") == v1 and len(env.sdk_calls("createModel")) == 1

    fits = _register_with_types(env, ["ml.g5.2xlarge", "ml.m5.large"])
    env.approve("realtime", fits)
    _succeeded(env.run("realtime"))
    assert env.deployed("realtime") == fits
