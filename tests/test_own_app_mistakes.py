"""Mistakes a user makes composing the constructs in their own app fail at construction (synth), naming the prop,
the value and what is allowed, in a short message."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_kms as kms

from sagemaker_tiers import ApprovalWorkflow, MlBucket, MlEncryptionKey, ModelPackageGroup, SageMakerNetwork, ValidationError
from sagemaker_tiers.inference import ApprovedModelEndpoint
from sagemaker_tiers.studio import CuratedHub
from sagemaker_tiers.training import EXAMPLE_IMAGE_DIRECTORY, TrainingChannel, TrainingPipeline
from tests.conftest import app_context

_ids = iter(range(10_000))


def _id() -> str:
    return f"Case{next(_ids)}"


@pytest.fixture(scope="module")
def deps() -> dict[str, Any]:
    """One app and stack with the pieces the constructs need; each case adds its constructs with fresh ids."""
    app = App(context=app_context())
    stack = Stack(app, "Own")
    key = MlEncryptionKey(stack, "Key")
    return {
        "app": app,
        "stack": stack,
        "key": key,
        "bucket": MlBucket(stack, "Bucket", encryption_key=key),
        "network": SageMakerNetwork(stack, "Network", encryption_key=key),
        "workflow": ApprovalWorkflow(stack, "Approval", encryption_key=key, admin_emails=["ml-admin@example.com"]),
        "group": ModelPackageGroup(stack, "Churn", model_package_group_name="churn"),
    }


# -- two workflows, one group; two groups, one name ------------------------------------------------------------


def test_a_group_watched_by_a_second_workflow_fails_naming_the_first(deps: dict[str, Any]) -> None:
    deps["workflow"].watch(deps["group"])
    other_stack = Stack(deps["app"], "OtherStack")  # same (unknown) account and region
    second = ApprovalWorkflow(other_stack, "Approval", encryption_key=deps["key"], admin_emails=["ml-admin@example.com"])
    imported = ModelPackageGroup.from_model_package_group_name(other_stack, "Imported", "churn")
    with pytest.raises(ValidationError, match=r"^group 'churn' is already watched by the ApprovalWorkflow at Own/Approval; watch a group with one workflow per account and region"):
        second.watch(imported)


def test_the_same_group_name_in_another_region_may_have_its_own_workflow(deps: dict[str, Any]) -> None:
    stack = Stack(deps["app"], "Ireland", env=Environment(account="111122223333", region="eu-west-1"))
    key = MlEncryptionKey(stack, "Key")
    group = ModelPackageGroup(stack, "Churn", model_package_group_name="churn")
    ApprovalWorkflow(stack, "Approval", encryption_key=key, admin_emails=["ml-admin@example.com"], groups=[group])
    assert group.model_package_group_name == "churn"


@pytest.mark.parametrize("name", ["churn", "Churn"])
def test_a_second_group_with_the_same_name_fails_naming_the_first(deps: dict[str, Any], name: str) -> None:
    stack = Stack(deps["app"], f"Groups{next(_ids)}")
    with pytest.raises(ValidationError, match=rf"^model_package_group_name '{name}' is already used by the ModelPackageGroup at Own/Churn in the same account and region"):
        ModelPackageGroup(stack, "Churn", model_package_group_name=name)


# -- prefixes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("prop", "value"), [("output_prefix", "models/churn-v2"), ("checkpoint_prefix", "checkpoints/churn")])
def test_training_folders_need_a_trailing_slash(deps: dict[str, Any], prop: str, value: str) -> None:
    props: dict[str, Any] = {"output_prefix": "models/churn/", "checkpoint_prefix": "checkpoints/churn/", prop: value}
    with pytest.raises(ValidationError, match=rf"^{prop} must end with '/' \(a folder such as 'models/churn/'\), got '{value}'$"):
        TrainingPipeline(
            deps["stack"], _id(), bucket=deps["bucket"], encryption_key=deps["key"], network=deps["network"],
            model_package_group=deps["group"], image_directory=EXAMPLE_IMAGE_DIRECTORY,
            input_channels=[TrainingChannel("train", "datasets/churn/train/")], **props,
        )


# -- keys -------------------------------------------------------------------------------------------------------


def _aws_managed_alias(stack: Stack) -> kms.IKey:
    return kms.Alias.from_alias_name(stack, _id(), "alias/aws/s3")


def _aws_managed_alias_arn(stack: Stack) -> kms.IKey:
    return kms.Key.from_key_arn(stack, _id(), "arn:aws:kms:us-east-1:111122223333:alias/aws/sagemaker")


_KEY_USERS = {
    "MlBucket": lambda d, key: MlBucket(d["stack"], _id(), encryption_key=key),
    "ApprovalWorkflow": lambda d, key: ApprovalWorkflow(d["stack"], _id(), encryption_key=key, admin_emails=["a@example.com"]),
    "SageMakerNetwork": lambda d, key: SageMakerNetwork(d["stack"], _id(), encryption_key=key),
    "ApprovedModelEndpoint": lambda d, key: ApprovedModelEndpoint(
        d["stack"], _id(), workflow=d["workflow"], group=d["group"], encryption_key=key, network=d["network"]
    ),
    "CuratedHub": lambda d, key: CuratedHub(d["stack"], _id(), model_ids=["pytorch-ic-mobilenet-v2"], encryption_key=key),
}


@pytest.mark.parametrize("construct", sorted(_KEY_USERS))
@pytest.mark.parametrize(("make_key", "shown"), [(_aws_managed_alias, "alias/aws/s3"), (_aws_managed_alias_arn, "alias/aws/sagemaker")])
def test_an_aws_managed_key_is_refused(deps: dict[str, Any], construct: str, make_key: Any, shown: str) -> None:
    with pytest.raises(ValidationError, match=rf"^encryption_key must be a customer-managed kms.IKey .*, got the AWS managed key '{shown}'"):
        _KEY_USERS[construct](deps, make_key(deps["stack"]))


@pytest.mark.parametrize("construct", sorted(_KEY_USERS))
def test_a_key_arn_string_is_refused_naming_the_prop(deps: dict[str, Any], construct: str) -> None:
    arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with pytest.raises(ValidationError, match=rf"^encryption_key must be a customer-managed kms.IKey \(MlEncryptionKey, kms.Key, or kms.Key.from_key_arn\), got the string '{arn}'$"):
        _KEY_USERS[construct](deps, arn)


# -- short errors -----------------------------------------------------------------------------------------------


def test_an_unknown_endpoint_instance_type_names_the_list_instead_of_printing_it(deps: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as error:
        ApprovedModelEndpoint(
            deps["stack"], _id(), workflow=deps["workflow"], group=deps["group"], encryption_key=deps["key"],
            network=deps["network"], instance_type="ml.m5.huge",
        )
    message = str(error.value)
    assert message.startswith("instance_type must be one of the ")
    assert "values in sagemaker_tiers.inference.REALTIME_INSTANCE_TYPES (e.g. 'ml." in message
    assert message.endswith("got 'ml.m5.huge'")
    assert len(message) < 200, message
