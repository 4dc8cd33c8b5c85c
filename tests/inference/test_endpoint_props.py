"""Bad props of ApprovedModelEndpoint fail at construction, naming the prop, the value and what is allowed."""

from __future__ import annotations

import pytest
from aws_cdk import Duration

from sagemaker_tiers import ValidationError
from sagemaker_tiers.inference import REALTIME_INSTANCE_TYPES, ApprovedModelEndpoint
from sagemaker_tiers.core.instance_storage import has_local_storage
from tests.inference.conftest import build_test_stack, rendered_state


@pytest.fixture(scope="module")
def base():
    """One stack with the dependencies; each case adds an endpoint with its own id (construction only, no synth)."""
    return build_test_stack()


_counter = iter(range(1000))


def _endpoint(base, **props):
    stack, deps = base
    return ApprovedModelEndpoint(stack, f"Case{next(_counter)}", **{**deps, **props})


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"memory_size_in_mb": 1000}, r"memory_size_in_mb must be one of 1024, 2048, 3072, 4096, 5120, 6144, got 1000"),
        ({"memory_size_in_mb": 8192}, r"memory_size_in_mb must be one of .*got 8192"),
        ({"max_concurrency": 0}, r"max_concurrency must be a whole number between 1 and 200, got 0"),
        ({"max_concurrency": 201}, r"max_concurrency must be a whole number between 1 and 200, got 201"),
        ({"max_concurrency": 4, "provisioned_concurrency": 5}, r"provisioned_concurrency must be a whole number between 1 and 4, got 5"),
        ({"instance_type": "ml.m5.large", "instance_count": 0}, r"instance_count must be a whole number between 1 and 100, got 0"),
        ({"instance_count": 2}, r"instance_count needs instance_type .*got instance_count=2"),
        ({"instance_type": "ml.m5.huge"}, r"instance_type must be one of .*got 'ml.m5.huge'"),
        ({"instance_type": "m5.large"}, r"instance_type must be one of .*got 'm5.large'"),
        ({"instance_type": "ml.m5.large", "memory_size_in_mb": 2048}, r"either serverless settings .* or instance settings .*not both: got instance_type='ml.m5.large' and memory_size_in_mb"),
        ({"instance_type": "ml.m5.large", "max_concurrency": 3}, r"not both: .*max_concurrency"),
        ({"data_capture_prefix": "capture/"}, r"data_capture_prefix needs a real-time endpoint .*got 'capture/' without instance_type"),
        ({"instance_type": "ml.m5.large", "data_capture_prefix": "/abs"}, r"data_capture_prefix must be a relative S3 key prefix"),
        ({"instance_type": "ml.m5.large", "data_capture_prefix": "c/", "data_capture_sampling_percentage": 0}, r"data_capture_sampling_percentage must be a whole number between 1 and 100, got 0"),
        ({"traffic_shift": "canary"}, r"traffic_shift 'canary' needs a real-time endpoint"),
        ({"traffic_shift": "rolling"}, r"traffic_shift must be one of 'all-at-once', 'canary', 'linear', got 'rolling'"),
        ({"instance_type": "ml.m5.large", "traffic_shift": "linear"}, r"traffic_shift 'linear' needs instance_count >= 2 .*got 1"),
        ({"instance_type": "ml.m5.large", "instance_count": 4, "traffic_shift": "linear", "traffic_step_percent": 5}, r"traffic_step_percent must be a whole number between 10 and 50, got 5"),
        ({"instance_type": "ml.m5.large", "instance_count": 4, "traffic_shift": "canary", "traffic_step_percent": 60}, r"traffic_step_percent must be a whole number between 1 and 50, got 60"),
        ({"traffic_step_percent": 10}, r"traffic_step_percent needs traffic_shift 'canary' or 'linear', got 10"),
        ({"endpoint_name": "Churn_Endpoint"}, r"endpoint_name must be 1-40 lowercase letters, digits or '-'.*got 'Churn_Endpoint'"),
        ({"endpoint_name": "a" * 41}, r"endpoint_name must be 1-40 .*got 'a{41}'"),
        ({"bake_time": Duration.hours(2)}, r"bake_time must be between 0 seconds and 1 hour, got 2 hours"),
        ({"poll_interval": Duration.minutes(20)}, r"poll_interval must be between 1 second and 10 minutes, got 20 minutes"),
        ({"deployment_timeout": Duration.hours(9)}, r"deployment_timeout must be between 10 minutes and 8 hours, got 9 hours"),
        ({"deployment_timeout": Duration.minutes(5)}, r"deployment_timeout must be between 10 minutes and 8 hours, got 5 minutes"),
        ({"lock_timeout": Duration.days(2)}, r"lock_timeout must be between .* and 1 day, got 2 days"),
        ({"poll_interval": Duration.seconds(1), "deployment_timeout": Duration.hours(8)}, r"lock_timeout / lock_poll_interval \(240 lock checks\) and deployment_timeout / poll_interval \(28800 endpoint checks, twice\) must fit one execution's 25,000 history events, got about 757,\d{3}: raise lock_poll_interval or poll_interval"),
        ({"lock_poll_interval": Duration.seconds(1), "lock_timeout": Duration.hours(1)}, r"\(3600 lock checks\).*got about 94,840"),
        ({"bake_time": Duration.minutes(50), "deployment_timeout": Duration.minutes(30)}, r"deployment_timeout must be longer than the baking periods of an update"),
        ({"model_data_prefixes": "models/"}, r"model_data_prefixes must be a list of S3 key prefixes, got the string 'models/'"),
        # No fixed default: an endpoint fed by Autopilot could not read "models/"-only artifacts.
        ({"model_data_prefixes": None}, r"model_data_prefixes must name where the tiers registering into the group write model artifacts .* got None"),
        ({"model_data_prefixes": []}, r"model_data_prefixes must name where .* got \[\]"),
        ({"bucket": None}, r"model_data_prefixes needs bucket .*got \['models/churn/', 'autopilot/churn/'\] without bucket"),
        ({"reconcile_interval": Duration.seconds(30)}, r"reconcile_interval must be between 1 minute and 1 day, got 30 seconds"),
        ({"reconcile_interval": Duration.seconds(90)}, r"reconcile_interval must be a whole number of minutes"),
        ({"approved_model_parameter_name": "no-slash"}, r"approved_model_parameter_name must be an SSM parameter path"),
        ({"workflow": None, "approved_model_parameter_name": "/x/approved"}, r"deployed_model_parameter_name must be given when approved_model_parameter_name does not end with '/approved-model'"),
        ({"workflow": None, "approved_model_parameter_name": "/x/approved-model"}, r"give workflow or topic"),
        ({"workflow": None}, r"give workflow or approved_model_parameter_name, got neither"),
    ],
)
def test_bad_props_fail_at_construction(base, props, message) -> None:
    with pytest.raises(ValidationError, match=message):
        _endpoint(base, **props)


def _endpoint_config_request(endpoint) -> dict:
    return rendered_state(endpoint, "CreateEndpointConfig")["Parameters"]


def test_valid_realtime_props_are_accepted_and_local_storage_types_get_no_volume_key(base) -> None:
    local = _endpoint(base, instance_type="ml.g5.xlarge", instance_count=2, traffic_shift="linear", traffic_step_percent=50)
    ebs = _endpoint(base, instance_type="ml.m5.large")
    assert not local.serverless and local.instance_type == "ml.g5.xlarge"
    assert has_local_storage("ml.g5.xlarge") and not has_local_storage("ml.m5.large")
    # CreateEndpointConfig rejects a KmsKeyId for instance types with local NVMe storage.
    assert "KmsKeyId" not in _endpoint_config_request(local)
    assert "KmsKeyId" in _endpoint_config_request(ebs)
    assert _endpoint_config_request(local)["ProductionVariants"][0]["InstanceType"] == "ml.g5.xlarge"


def test_instance_types_match_botocores_model() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    assert REALTIME_INSTANCE_TYPES == frozenset(model.shape_for("ProductionVariantInstanceType").enum)


def test_default_lock_settings_outlast_a_holder_and_fit_the_history(base) -> None:
    """The default lock_timeout covers the longest a holder can take (two deployment timeouts and an hour), and
    the default lock_poll_interval keeps the checks within the history limit, up to the longest deployment_timeout."""
    import math

    for hours in (1, 4, 8):
        endpoint = _endpoint(base, deployment_timeout=Duration.hours(hours))
        checks = rendered_state(endpoint, "LockWaitExceeded")["Choices"][0]["NumericGreaterThan"]
        wait = rendered_state(endpoint, "WaitForLock")
        assert checks * wait["Seconds"] >= max(4 * 3600, (2 * hours + 1) * 3600)
        assert 25 * checks + 26 * math.ceil(hours * 3600 / 60) + 2500 <= 25_000

