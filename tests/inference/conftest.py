"""Shared pieces of the inference tests: the test stack, and moto's SageMaker completed with UpdateEndpoint.

moto 5.2.5's SageMaker has CreateModel, CreateEndpointConfig, CreateEndpoint, DescribeEndpoint, List* and
Delete*, but no UpdateEndpoint, and its endpoints are InService the moment they are created.
:class:`FakeSageMakerEndpoints` adds UpdateEndpoint (switching the endpoint to the new configuration, or, when a
test asks for it, "rolling back": staying InService on the old configuration as SageMaker does when an alarm
fires) and lets a test make DescribeEndpoint report Creating/Updating (or fail with throttling) a number of times
first, so the state machine's polling loops really loop.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest


class FakeSageMakerEndpoints:
    """UpdateEndpoint and slow endpoints for moto's SageMaker backend, patched in with :meth:`install`."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.busy_checks: dict[str, int] = {}
        #: DescribeEndpoint calls that answer Updating after each UpdateEndpoint.
        self.update_takes = 0
        self.roll_back = False
        #: DescribeEndpoint calls that fail with throttling before the real answer.
        self.throttled_describes = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from moto.core.responses import ActionResult
        from moto.sagemaker.models import SageMakerModelBackend
        from moto.sagemaker.responses import SageMakerResponse

        fake = self
        original_describe = SageMakerModelBackend.describe_endpoint

        def update_endpoint(response: SageMakerResponse) -> ActionResult:
            backend = response.sagemaker_backend
            name = response._get_param("EndpointName")
            config_name = response._get_param("EndpointConfigName")
            endpoint = backend.endpoints[name]  # KeyError -> moto answers 500, as a missing endpoint should fail
            config = backend.describe_endpoint_config(config_name)
            fake.updates.append(
                {
                    "EndpointName": name,
                    "EndpointConfigName": config_name,
                    "DeploymentConfig": response._get_param("DeploymentConfig"),
                    "RolledBack": fake.roll_back,
                }
            )
            fake.busy_checks[name] = fake.update_takes
            if not fake.roll_back:
                endpoint.endpoint_config_name = config_name
                endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
            return ActionResult({"EndpointArn": endpoint.arn})

        def describe_endpoint(backend: SageMakerModelBackend, endpoint_name: str) -> dict[str, Any]:
            if fake.throttled_describes > 0:
                from moto.core.exceptions import JsonRESTError

                fake.throttled_describes -= 1
                raise JsonRESTError("ThrottlingException", "Rate exceeded")
            described = dict(original_describe(backend, endpoint_name))
            if fake.busy_checks.get(endpoint_name, 0) > 0:
                fake.busy_checks[endpoint_name] -= 1
                described["EndpointStatus"] = "Updating"
            return described

        monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
        monkeypatch.setattr(SageMakerModelBackend, "describe_endpoint", describe_endpoint)


def atomic_dynamodb_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's DynamoDB conditional writes atomic, as DynamoDB's are.

    moto's in-memory backend checks a condition and writes without a lock, so two executions running in moto's
    interpreter threads can both pass ``attribute_not_exists(pk)``. The lock tests need the real guarantee.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "get_item"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self, *args, __original=original, **kwargs):  # noqa: ANN001, ANN202
            with lock:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)


GROUP = "churn"
MODEL_DATA_PREFIXES = ["models/churn/", "autopilot/churn/"]


def rendered_state(endpoint: Any, state_id: str) -> dict:
    """One state of ``endpoint``'s definition as it renders, without synthesizing the stack."""
    from aws_cdk import Stack

    state = endpoint.node.find_child("States").node.find_child(state_id)
    return Stack.of(endpoint).resolve(state.to_state_json())


def build_test_stack(**endpoint_props: Any):  # type: ignore[no-untyped-def]
    """A stack with the foundation and registry pieces an endpoint needs; returns ``(stack, deps)``."""
    from aws_cdk import App, Stack

    from sagemaker_tiers import ApprovalWorkflow, MlBucket, MlEncryptionKey, ModelPackageGroup, SageMakerNetwork
    from tests.conftest import app_context

    stack = Stack(App(context=app_context()), "InferenceTest")
    key = MlEncryptionKey(stack, "Key")
    deps = {
        "encryption_key": key,
        "bucket": MlBucket(stack, "Bucket", encryption_key=key),
        "network": SageMakerNetwork(stack, "Network", encryption_key=key),
        "workflow": ApprovalWorkflow(stack, "Approval", encryption_key=key, admin_emails=["ml-admin@example.com"]),
        "group": ModelPackageGroup(stack, "Group", model_package_group_name=GROUP),
        # Where the tiers that register into the group write (a training pipeline and an Autopilot job).
        "model_data_prefixes": MODEL_DATA_PREFIXES,
    }
    deps["workflow"].watch(deps["group"])
    return stack, deps


class Synthesized:
    """The package's one synthesized test stack: three endpoints of one group.

    * ``serverless``: defaults but 1-second checks (executed under moto);
    * ``realtime``: ml.m5.large x2, canary, data capture, 1-second polls, a 3-second lock timeout (executed
      under moto);
    * ``defaults``: only the required props (for default values; named ``churn-defaults``).
    """

    def __init__(self) -> None:
        from aws_cdk import Duration, Stack

        from sagemaker_tiers.inference import ApprovedModelEndpoint

        stack, deps = build_test_stack()
        # One-second checks; short timeouts keep them within an execution's history limit.
        fast = {
            "poll_interval": Duration.seconds(1),
            "deployment_timeout": Duration.minutes(12),
            "lock_poll_interval": Duration.seconds(1),
            "lock_timeout": Duration.minutes(1),
        }
        self.endpoints = {
            "serverless": ApprovedModelEndpoint(stack, "Serverless", endpoint_name="churn-serverless", **deps, **fast),
            "realtime": ApprovedModelEndpoint(
                stack,
                "RealTime",
                endpoint_name="churn-realtime",
                instance_type="ml.m5.large",
                instance_count=2,
                traffic_shift="canary",
                traffic_step_percent=25,
                data_capture_prefix="capture/churn/",
                data_capture_sampling_percentage=20,
                **deps,
                **{**fast, "lock_timeout": Duration.seconds(3)},
            ),
            "defaults": ApprovedModelEndpoint(stack, "Defaults", endpoint_name="churn-defaults", **deps),
        }
        self.deps = deps
        self.stack = stack
        from aws_cdk.assertions import Template

        self.assertions = Template.from_stack(stack)
        self.template = self.assertions.to_json()
        self.logical_ids = {
            name: Stack.of(endpoint).get_logical_id(endpoint.state_machine.node.default_child)  # type: ignore[arg-type]
            for name, endpoint in self.endpoints.items()
        }

    def state_machine(self, name: str) -> dict:
        return self.template["Resources"][self.logical_ids[name]]


@pytest.fixture(scope="package")
def synthesized() -> Synthesized:
    return Synthesized()
