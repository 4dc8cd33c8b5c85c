from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from sagemaker_tiers.core.nag import acknowledge, skip_checkov
from sagemaker_tiers.core.validation import ValidationError


@pytest.fixture()
def bucket() -> s3.Bucket:
    return s3.Bucket(Stack(App(), "S"), "B")


def test_acknowledge_needs_a_known_pack_and_a_specific_reason(bucket: s3.Bucket) -> None:
    with pytest.raises(ValidationError, match=r"rule must look like 'AwsSolutions-IAM5'.*got 'IAM5'"):
        acknowledge(bucket, "IAM5", "x" * 50)
    with pytest.raises(ValidationError, match=r"reason must say specifically why AwsSolutions-S1.*got 'ok'"):
        acknowledge(bucket, "AwsSolutions-S1", "ok")


def test_skip_checkov_writes_each_skip_with_its_reason(bucket: s3.Bucket) -> None:
    reason = "a reason that is long enough to explain the exception here"
    skip_checkov(bucket, "CKV_AWS_18", reason)
    skip_checkov(bucket, "CKV_AWS_21", reason)
    resource = next(iter(Template.from_stack(Stack.of(bucket)).find_resources("AWS::S3::Bucket").values()))
    assert resource["Metadata"]["checkov"]["skip"] == [
        {"id": "CKV_AWS_18", "comment": reason},
        {"id": "CKV_AWS_21", "comment": reason},
    ]
    with pytest.raises(ValidationError, match="check_id must be a checkov id"):
        skip_checkov(bucket, "S1", reason)
