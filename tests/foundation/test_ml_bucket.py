from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from sagemaker_tiers import MlBucket, MlEncryptionKey, ValidationError
from sagemaker_tiers.core.flags import S3_LOGS_BY_BUCKET_POLICY

#: The feature flag MlBucket needs (a new `cdk init` app's cdk.json sets it).
FLAGS = {S3_LOGS_BY_BUCKET_POLICY: True}


@pytest.fixture(scope="module")
def template() -> Template:
    stack = Stack(App(context=FLAGS), "BucketStack")
    bucket = MlBucket(stack, "Data", encryption_key=MlEncryptionKey(stack, "Key"))
    reader = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    writer = iam.Role(stack, "Writer", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    bucket.grant_read_prefix(reader, "datasets/churn/")
    bucket.grant_write_prefix(writer, "models/churn/")
    return Template.from_stack(stack)


def _data_bucket(template: Template) -> dict:
    buckets = template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"BucketEncryption": Match.object_like({})}}
    )
    return next(b for b in buckets.values() if "KMSMasterKeyID" in str(b["Properties"]["BucketEncryption"]))


def test_bucket_is_kms_encrypted_versioned_private_logged_and_retained(template: Template) -> None:
    bucket = _data_bucket(template)
    props = bucket["Properties"]
    rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["BucketKeyEnabled"] is True
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "ml-bucket/"
    assert props["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    assert bucket["DeletionPolicy"] == "Retain"


def test_every_bucket_denies_insecure_transport(template: Template) -> None:
    policies = template.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 2  # data bucket and log bucket
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(
            s["Effect"] == "Deny" and s["Condition"].get("Bool") == {"aws:SecureTransport": "false"} for s in statements
        )


def test_log_bucket_skips_its_own_access_logging_with_a_reason(template: Template) -> None:
    skipped = template.find_resources("AWS::S3::Bucket", {"Metadata": {"checkov": Match.any_value()}})
    assert len(skipped) == 1
    (log_bucket,) = skipped.values()
    assert "LoggingConfiguration" not in log_bucket["Properties"]
    assert log_bucket["Metadata"]["checkov"]["skip"][0]["id"] == "CKV_AWS_18"


def _policy_of(template: Template, role_prefix: str) -> list[dict]:
    policies = template.find_resources("AWS::IAM::Policy")
    for policy in policies.values():
        if policy["Properties"]["Roles"][0]["Ref"].startswith(role_prefix):
            return policy["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(f"no policy for {role_prefix}")


def test_read_prefix_grants_get_and_prefix_scoped_list_only(template: Template) -> None:
    statements = _policy_of(template, "Reader")
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == ["kms:Decrypt", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["datasets/churn/*"]}}
    objects = next(s for s in statements if "s3:GetObject" in s["Action"])
    assert "datasets/churn/*" in str(objects["Resource"])


def test_write_prefix_grants_put_only(template: Template) -> None:
    statements = _policy_of(template, "Writer")
    actions = sorted(a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
    assert actions == ["kms:Decrypt", "kms:GenerateDataKey", "s3:AbortMultipartUpload", "s3:PutObject"]
    assert all("s3:GetObject" not in str(s["Action"]) for s in statements)
    assert "models/churn/*" in str(statements)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"encryption_key": None}, r"encryption_key must be a customer-managed kms.IKey .*, got None"),
        ({"noncurrent_version_expiration": Duration.days(0)}, r"noncurrent_version_expiration must be between"),
        ({"noncurrent_version_expiration": Duration.days(4000)}, r"noncurrent_version_expiration must be between"),
        ({"noncurrent_version_expiration": Duration.hours(36)}, r"whole number of days, got 1.5 days|whole number of days"),
        ({"bucket_name": "Bad_Name"}, r"bucket_name must be 3-63 lowercase.*got 'Bad_Name'"),
        ({"bucket_name": "ab"}, r"bucket_name must be .* got 'ab'"),
        ({"event_bridge_enabled": "yes"}, r"event_bridge_enabled must be True or False, got 'yes'"),
        ({"access_logs_prefix": "/logs"}, r"access_logs_prefix must be a relative S3 key prefix.*got '/logs'"),
    ],
)
def test_invalid_props_fail_at_synth(props: dict, message: str) -> None:
    stack = Stack(App(context=FLAGS), "S")
    props.setdefault("encryption_key", MlEncryptionKey(stack, "Key"))
    with pytest.raises(ValidationError, match=message):
        MlBucket(stack, "Data", **props)


def test_grant_prefix_is_validated() -> None:
    stack = Stack(App(context=FLAGS), "S")
    bucket = MlBucket(stack, "Data", encryption_key=MlEncryptionKey(stack, "Key"))
    role = iam.Role(stack, "R", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    with pytest.raises(ValidationError, match=r"prefix must not contain '.' or '..' path segments, got '../x/'"):
        bucket.grant_read_prefix(role, "../x/")
    assert bucket.s3_uri("datasets/").endswith("/datasets/")


def test_event_bridge_notifications_are_opt_in() -> None:
    stack = Stack(App(context=FLAGS), "S")
    key = MlEncryptionKey(stack, "Key")
    MlBucket(stack, "Quiet", encryption_key=key)
    MlBucket(stack, "Eventful", encryption_key=key, event_bridge_enabled=True)
    template = Template.from_stack(stack)
    template.resource_properties_count_is(
        "AWS::S3::Bucket", {"NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}}, 1
    )
    template.resource_count_is("AWS::Lambda::Function", 0)  # no notifications custom resource


@pytest.mark.parametrize(("context", "got"), [({}, "unset"), ({S3_LOGS_BY_BUCKET_POLICY: False}, "False")])
def test_without_the_access_log_flag_synth_fails_naming_it(context: dict, got: str) -> None:
    stack = Stack(App(context=context), "S")
    with pytest.raises(
        ValidationError,
        match=rf"^MlBucket needs the feature flag '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy' set to true in "
        rf"cdk.json's \"context\", got {got}: without it CDK grants S3 access logging by ACL",
    ):
        MlBucket(stack, "Data", encryption_key=MlEncryptionKey(stack, "Key"))


def test_the_log_bucket_takes_logs_by_bucket_policy_with_acls_off(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "AccessControl": Match.absent(),
        },
    )
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject"})])}},
    )


#: The CORS rule of AWS's "Give your users the ability to upload local files" for SageMaker Canvas, written out
#: here from the page (not from the code's constants), so a drift on either side fails:
#: https://docs.aws.amazon.com/sagemaker/latest/dg/canvas-set-up-local-upload.html
CANVAS_DOCUMENTED_CORS = {
    "AllowedHeaders": ["*"],
    "AllowedMethods": ["POST", "PUT", "GET", "HEAD", "DELETE"],
    "AllowedOrigins": ["https://*.sagemaker.aws"],
    "ExposedHeaders": [
        "ETag",
        "x-amz-delete-marker",
        "x-amz-id-2",
        "x-amz-request-id",
        "x-amz-server-side-encryption",
        "x-amz-version-id",
    ],
}


def test_no_cors_by_default(template: Template) -> None:
    assert "CorsConfiguration" not in _data_bucket(template)["Properties"]


def test_canvas_uploads_add_exactly_the_documented_cors_rule_once() -> None:
    stack = Stack(App(context=FLAGS), "S")
    key = MlEncryptionKey(stack, "Key")
    quiet = MlBucket(stack, "Quiet", encryption_key=key)
    canvas = MlBucket(stack, "Canvas", encryption_key=key)
    canvas.allow_canvas_uploads()
    canvas.allow_canvas_uploads()  # a second caller (two domains on one bucket) adds nothing
    resources = Template.from_stack(stack).to_json()["Resources"]
    assert quiet.canvas_uploads_allowed is False and canvas.canvas_uploads_allowed is True
    assert "CorsConfiguration" not in resources[stack.get_logical_id(quiet.node.default_child)]["Properties"]  # type: ignore[arg-type]
    cors = resources[stack.get_logical_id(canvas.node.default_child)]["Properties"]["CorsConfiguration"]  # type: ignore[arg-type]
    (rule,) = cors["CorsRules"]
    assert rule.pop("Id") == "sagemaker-canvas-local-upload"
    assert rule == CANVAS_DOCUMENTED_CORS  # nothing more: no MaxAge, no other origin, method or header
