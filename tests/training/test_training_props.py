"""TrainingPipeline props: every invalid value or combination fails at construction, naming the prop and the value;
valid options render the request they promise. Nothing here synthesizes an app."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_s3 as s3

from sagemaker_tiers.core import ValidationError
from sagemaker_tiers.training import TRAINING_INSTANCE_TYPES, TrainingChannel, TrainingPipeline, has_instance_storage
from tests.training.conftest import pipeline_props

SAGEMAKER_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


@pytest.fixture(scope="module")
def scope() -> dict[str, Any]:
    from sagemaker_tiers.foundation import MlBucket, MlEncryptionKey, SageMakerNetwork
    from sagemaker_tiers.registry import ModelPackageGroup
    from tests.conftest import app_context

    stack = Stack(App(context=app_context()), "Props")
    key = MlEncryptionKey(stack, "Key")
    return {
        "stack": stack,
        "counter": [0],
        "common": {
            "bucket": MlBucket(stack, "Data", encryption_key=key, event_bridge_enabled=True),
            "encryption_key": key,
            "network": SageMakerNetwork(stack, "Network", encryption_key=key),
            "model_package_group": ModelPackageGroup(stack, "Group", model_package_group_name="churn"),
        },
        "quiet_bucket": MlBucket(stack, "Quiet", encryption_key=key),
    }


def build(scope: dict[str, Any], **overrides: Any) -> TrainingPipeline:
    scope["counter"][0] += 1
    props = {**scope["common"], **pipeline_props(), **overrides}
    props = {k: v for k, v in props.items() if v is not _UNSET}
    return TrainingPipeline(scope["stack"], f"Pipeline{scope['counter'][0]}", **props)


def request_of(scope: dict[str, Any], pipeline: TrainingPipeline) -> dict:
    return scope["stack"].resolve(pipeline.training_job_request)


_UNSET = object()
CHANNEL = TrainingChannel("train", "datasets/churn/train/")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        # spot, checkpoints and the stopping condition
        ({"checkpoint_prefix": _UNSET}, r"checkpoint_prefix must be given with use_spot=True .* got None"),
        ({"max_runtime": Duration.hours(4), "max_wait": Duration.hours(3)}, r"max_wait must be at least 4 hours, got 3 hours"),
        ({"use_spot": False}, r"max_wait only applies with use_spot=True, got max_wait=3 hours"),
        ({"max_runtime": Duration.days(29), "max_wait": _UNSET}, r"max_runtime must be between 1 second and 28 days, got 29 days"),
        ({"max_runtime": Duration.millis(1500), "max_wait": _UNSET}, r"max_runtime must be a whole number of seconds"),
        ({"keep_alive": Duration.minutes(10)}, r"keep_alive \(warm pool\) cannot be combined with use_spot=True"),
        ({"use_spot": False, "max_wait": _UNSET, "keep_alive": Duration.hours(7)}, r"keep_alive must be between 1 second and 6 hours, got 7 hours"),
        ({"max_retry_attempts": 31}, r"max_retry_attempts must be a whole number between 0 and 30, got 31"),
        # instances
        ({"instance_count": 0}, r"instance_count must be a whole number between 1 and 1000, got 0"),
        ({"instance_count": 1.5}, r"instance_count must be a whole number between 1 and 1000, got 1\.5"),
        ({"instance_count": True}, r"instance_count must be a whole number between 1 and 1000, got True"),
        ({"instance_type": "ml.m5.huge"}, r"instance_type must be a SageMaker training instance type .*got 'ml\.m5\.huge'"),
        ({"instance_type": "m5.xlarge"}, r"prefix, such as 'ml\.m5\.xlarge'\), got 'm5\.xlarge'"),
        ({"allowed_instance_types": ["ml.m5.2xlarge"]}, r"allowed_instance_types must include instance_type 'ml\.m5\.xlarge'"),
        ({"allowed_instance_types": ["ml.m5.xlarge", "ml.g5.xlarge"]}, r"all have local NVMe storage or all not .*\['ml\.g5\.xlarge'\]"),
        ({"allowed_instance_types": ["ml.m5.xlarge", "ml.m5.xlarge"]}, r"allowed_instance_types must not repeat values, got 'ml\.m5\.xlarge' twice"),
        ({"allowed_instance_types": []}, r"allowed_instance_types must be a non-empty list"),
        ({"max_instance_count": 0}, r"max_instance_count must be a whole number between 1 and 1000, got 0"),
        ({"instance_count": 5}, r"max_instance_count must be a whole number between 5 and 1000, got 4"),
        ({"volume_size_gb": 0}, r"volume_size_gb must be a whole number between 1 and 16384, got 0"),
        # image sources
        ({"image_uri": SAGEMAKER_IMAGE}, r"exactly one image source .* got image_directory and image_uri"),
        ({"image_directory": None}, r"exactly one image source .* got none"),
        ({"image_directory": None, "tag": "v1"}, r"exactly one image source"),
        ({"image_directory": None, "image_uri": "xgboost:latest"}, r"image_uri must be an ECR image URI .* got 'xgboost:latest'"),
        ({"image_directory": "/nonexistent"}, r"image_directory must be a folder containing a Dockerfile, got '/nonexistent'"),
        ({"image_directory": None, "image_uri": SAGEMAKER_IMAGE, "tag": "v1"}, r"tag is only used with repository, got tag='v1'"),
        # hyperparameters, environment, metrics, tags
        ({"hyperparameters": {"learning rate": "0.1"}}, r"hyperparameters name must be 1-128 letters.*got 'learning rate'"),
        ({"hyperparameters": {"lr.$": "0.1"}}, r"hyperparameters name must be .*got 'lr\.\$'"),
        ({"hyperparameters": {"1st": "0.1"}}, r"hyperparameters name must be .*got '1st'"),
        ({"hyperparameters": {"lr": 0.1}}, r"hyperparameters\['lr'\] must be a literal string .* got 0\.1"),
        ({"hyperparameters": {"lr": "0.1\n0.2"}}, r"hyperparameters\['lr'\] must be at most 2500 characters without control characters"),
        ({"hyperparameters": {f"h{i}": "1" for i in range(101)}}, r"hyperparameters must have at most 100 entries, got 101"),
        ({"environment": {"1ABC": "x"}}, r"environment name must be a variable name .* got '1ABC'"),
        ({"metric_definitions": {"rmse": "rmse=[0-9.]+"}}, r"metric_definitions\['rmse'\] must capture the value in a group"),
        ({"metric_definitions": {"rmse": "rmse=([0-9.]+"}}, r"metric_definitions\['rmse'\] must be a valid regex"),
        ({"tags": {"aws:team": "x"}}, r"tags key must be 1-128 .* not starting with 'aws:', got 'aws:team'"),
        # channels and prefixes
        ({"input_channels": []}, r"input_channels must have 1 to 20 channels, got 0"),
        ({"input_channels": [CHANNEL, CHANNEL]}, r"input_channels names must not repeat values, got 'train' twice"),
        ({"input_channels": [TrainingChannel("train data", "d/")]}, r"input_channels name must be 1-64 .* got 'train data'"),
        ({"input_channels": [TrainingChannel("train", "/abs/")]}, r"input_channels\[train\] prefix must be a relative S3 key prefix"),
        ({"input_channels": [TrainingChannel("train", "d/", distribution="Sharded")]}, r"distribution must be one of 'FullyReplicated', 'ShardedByS3Key', got 'Sharded'"),
        ({"input_channels": [TrainingChannel("train", "d/", input_mode="Stream")]}, r"input_mode must be one of 'File', 'FastFile', 'Pipe', got 'Stream'"),
        ({"input_channels": CHANNEL}, r"input_channels must be a list of TrainingChannel"),
        ({"output_prefix": "datasets/"}, r"output_prefix must not overlap input_channels\[train\] prefix .* got 'datasets/' and 'datasets/churn/train/'"),
        ({"checkpoint_prefix": "models/churn/checkpoints/"}, r"output_prefix must not overlap checkpoint_prefix"),
        ({"output_prefix": "../models/"}, r"output_prefix must not contain '\.' or '\.\.' path segments"),
        # the rest
        ({"enable_network_isolation": True, "enable_remote_debug": True}, r"enable_remote_debug needs the container to reach SSM"),
        ({"enable_network_isolation": "yes"}, r"enable_network_isolation must be True or False, got 'yes'"),
        ({"job_name_prefix": "Churn_1"}, r"job_name_prefix must be 1-24 lowercase letters.* got 'Churn_1'"),
        ({"job_name_prefix": "c" * 25}, r"job_name_prefix must be 1-24"),
        ({"completion": "async"}, r"completion must be one of 'sync', 'poll', got 'async'"),
        ({"capacity_retries": 11}, r"capacity_retries must be a whole number between 0 and 10, got 11"),
        ({"poll_interval": Duration.seconds(0)}, r"poll_interval must be between 1 second and 1 hour"),
        ({"supported_content_types": "text/csv"}, r"supported_content_types must be a non-empty list of MIME types, got 'text/csv'"),
        ({"supported_response_mime_types": ["csv"]}, r"supported_response_mime_types must be a list of MIME types such as 'text/csv', got 'csv'"),
        ({"new_data_suffix": "*"}, r"new_data_suffix must be a key suffix"),
    ],
)
def test_invalid_props_fail_at_construction(scope, overrides, match):
    with pytest.raises(ValidationError, match=match):
        build(scope, **overrides)


def test_a_repository_needs_a_valid_tag(scope):
    repository = ecr.Repository.from_repository_name(scope["stack"], "Repo", "trainers")
    with pytest.raises(ValidationError, match=r"tag must be given with repository .* got None"):
        build(scope, image_directory=None, repository=repository)
    with pytest.raises(ValidationError, match=r"tag must be an image tag .* got 'v 1'"):
        build(scope, image_directory=None, repository=repository, tag="v 1")


def test_resources_of_the_wrong_kind_are_rejected(scope):
    plain = s3.Bucket(scope["stack"], "Plain")
    with pytest.raises(ValidationError, match=r"bucket must be an MlBucket"):
        build(scope, bucket=plain)
    with pytest.raises(ValidationError, match=r"model_package_group must be an IModelPackageGroup, got 'churn'"):
        build(scope, model_package_group="churn")


def test_new_data_needs_a_bucket_that_sends_events_to_eventbridge(scope):
    with pytest.raises(ValidationError, match=r"trigger_on_new_data_prefix needs the bucket to send object events to EventBridge"):
        build(scope, bucket=scope["quiet_bucket"], trigger_on_new_data_prefix="datasets/churn/")
    assert build(scope, trigger_on_new_data_prefix="datasets/churn/").new_data_rule is not None


# -- valid options render what they promise ----------------------------------------------------------------


def test_nvme_instance_types_get_no_volume_key(scope):
    assert has_instance_storage("ml.g5.xlarge") and not has_instance_storage("ml.m5.xlarge")
    ebs = request_of(scope, build(scope))
    nvme = request_of(scope, build(scope, instance_type="ml.g5.xlarge", allowed_instance_types=["ml.g5.xlarge", "ml.g5.2xlarge"]))
    assert "VolumeKmsKeyId" in ebs["ResourceConfig"]
    assert "VolumeKmsKeyId" not in nvme["ResourceConfig"]
    assert nvme["OutputDataConfig"]["KmsKeyId"] == ebs["OutputDataConfig"]["KmsKeyId"]


def test_on_demand_warm_pool_and_remote_debug(scope):
    pipeline = build(
        scope,
        use_spot=False,
        max_wait=_UNSET,
        checkpoint_prefix=_UNSET,
        keep_alive=Duration.minutes(30),
        enable_network_isolation=False,
        enable_remote_debug=True,
        max_retry_attempts=0,
        inter_container_traffic_encryption=False,
    )
    request = request_of(scope, pipeline)
    assert request["EnableManagedSpotTraining"] is False
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 7200}
    assert request["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 1800
    assert request["RemoteDebugConfig"] == {"EnableRemoteDebug": True}
    assert request["EnableNetworkIsolation"] is False and request["EnableInterContainerTrafficEncryption"] is False
    assert "CheckpointConfig" not in request and "RetryStrategy" not in request
    statements = scope["stack"].resolve(pipeline.role.node.find_child("DefaultPolicy").document.to_json())["Statement"]
    debug = next(s for s in statements if s.get("Sid") == "RemoteDebugSessions")
    assert "ssmmessages:OpenDataChannel" in debug["Action"]


def test_spot_without_max_wait_waits_twice_the_runtime(scope):
    request = request_of(scope, build(scope, max_wait=_UNSET, max_runtime=Duration.hours(5)))
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 5 * 3600, "MaxWaitTimeInSeconds": 10 * 3600}


def test_image_from_a_repository_tag_or_digest_or_a_sagemaker_uri(scope):
    repository = ecr.Repository.from_repository_name(scope["stack"], "Trainers", "trainers")
    digest = "sha256:" + "a" * 64
    by_tag = build(scope, image_directory=None, repository=repository, tag="v1")
    by_digest = build(scope, image_directory=None, repository=repository, tag=digest)
    by_uri = build(scope, image_directory=None, image_uri=SAGEMAKER_IMAGE, inference_image_uri=SAGEMAKER_IMAGE + "-inference")
    resolve = scope["stack"].resolve
    assert resolve(by_tag.image_uri)["Fn::Join"][1][-1] == "/trainers:v1"
    assert resolve(by_digest.image_uri)["Fn::Join"][1][-1] == f"/trainers@{digest}"
    assert by_uri.image_uri == SAGEMAKER_IMAGE and by_uri.inference_image_uri == SAGEMAKER_IMAGE + "-inference"
    assert by_tag.inference_image_uri == by_tag.image_uri
    # A SageMaker-provided image needs no ECR permission on the role; a repository gets pull on itself only.
    uri_statements = resolve(by_uri.role.node.find_child("DefaultPolicy").document.to_json())["Statement"]
    assert not any("ecr:" in str(s["Action"]) for s in uri_statements)
    tag_statements = resolve(by_tag.role.node.find_child("DefaultPolicy").document.to_json())["Statement"]
    pull = next(s for s in tag_statements if "ecr:BatchGetImage" in s["Action"])
    assert pull["Resource"]["Fn::Join"][1][-1] == ":repository/trainers"


def test_the_default_job_prefix_is_lowercase_and_fits_the_name_limit(scope):
    pipeline = build(scope, job_name_prefix=_UNSET)
    prefix = pipeline.job_name_prefix
    assert 1 <= len(prefix) <= 24 and prefix == prefix.lower()
    assert len(f"{prefix}-{'0' * 32}-11") <= 63


def test_the_instance_type_list_is_sagemakers(root):
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    assert set(TRAINING_INSTANCE_TYPES) <= set(model.shape_for("TrainingInstanceType").enum)
    assert len(set(TRAINING_INSTANCE_TYPES)) == len(TRAINING_INSTANCE_TYPES)


# -- an image that declares it cannot serve needs an inference image -----------------------------------------------


def _image_folder(tmp_path, label: str | None) -> str:
    folder = tmp_path / "image"
    folder.mkdir()
    lines = ["FROM public.ecr.aws/docker/library/python:3.12-slim"]
    if label is not None:
        lines.append(f'LABEL maintainer="ml" \\\n      sagemaker-tiers.serves={label}')
    lines.append('ENTRYPOINT ["python3", "/opt/program/train.py"]')
    (folder / "Dockerfile").write_text("\n".join(lines) + "\n")
    return str(folder)


def test_an_image_declaring_it_cannot_serve_needs_an_inference_image(scope, tmp_path) -> None:
    folder = _image_folder(tmp_path, '"false"')
    with pytest.raises(ValidationError, match=r"inference_image_uri is required: the training image cannot serve \(declared by its Dockerfile \(LABEL sagemaker-tiers.serves=\"false\"\)\).*got inference_image_uri=None"):
        build(scope, image_directory=folder)
    # With an inference image, the same training image is fine and the inference image is what gets registered.
    assert build(scope, image_directory=folder, inference_image_uri=SAGEMAKER_IMAGE).inference_image_uri == SAGEMAKER_IMAGE


def test_image_serves_false_needs_an_inference_image_whatever_the_source(scope) -> None:
    with pytest.raises(ValidationError, match=r"inference_image_uri is required: .*declared by image_serves=False"):
        build(scope, image_directory=None, image_uri=SAGEMAKER_IMAGE, image_serves=False)
    with pytest.raises(ValidationError, match=r"image_serves must be True, False or None, got 'no'"):
        build(scope, image_serves="no")


@pytest.mark.parametrize("label", [None, '"true"', "TRUE"])
def test_an_image_that_serves_or_declares_nothing_registers_itself(scope, tmp_path, label) -> None:
    pipeline = build(scope, image_directory=_image_folder(tmp_path, label))
    assert pipeline.inference_image_uri == pipeline.image_uri


def test_a_malformed_serves_label_fails_naming_it(scope, tmp_path) -> None:
    with pytest.raises(ValidationError, match=r'LABEL sagemaker-tiers.serves must be "true" or "false", got \'maybe\''):
        build(scope, image_directory=_image_folder(tmp_path, "maybe"))


def test_the_example_image_declares_it_serves() -> None:
    from sagemaker_tiers.training import EXAMPLE_IMAGE_DIRECTORY, dockerfile_serves

    assert dockerfile_serves(EXAMPLE_IMAGE_DIRECTORY / "Dockerfile") is True
