"""Fixtures for the Model Registry approval handlers, tested in-process with moto.

The handlers are deployed from one Lambda asset folder and import each other as top-level
modules, so that folder goes at the front of sys.path and tests ``import approval_notify`` etc.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.parse
import uuid
from typing import Any

import pytest

from tests.conftest import import_handlers_from

import_handlers_from("registry", "approval_handlers")

from moto import mock_aws  # noqa: E402

ACCOUNT = "123456789012"
REGION = "us-east-1"
SECRET_VALUE = "s3cr3t-for-tests-" + "k" * 40
APPROVAL_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/"
WATCHED = "churn,fraud"
PARAMETER_PREFIX = "/sagemaker-tiers/registry"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:latest"
SOURCE_IP = "203.0.113.7"
MODEL_PACKAGE_ARN_PREFIX = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/"


class Registry:
    """A moto account with the approval workflow's resources, plus event builders."""

    def __init__(self) -> None:
        import boto3

        self.sm = boto3.client("sagemaker", region_name=REGION)
        self.ddb = boto3.client("dynamodb", region_name=REGION)
        self.sns = boto3.client("sns", region_name=REGION)
        self.ssm = boto3.client("ssm", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        self.secret = SECRET_VALUE.encode("utf-8")
        self.secret_arn = secrets.create_secret(Name="approval-token-secret", SecretString=SECRET_VALUE)["ARN"]
        self.table_name = "approval-state"
        self.ddb.create_table(
            TableName=self.table_name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.ddb.update_time_to_live(
            TableName=self.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
        self.topic_arn = self.sns.create_topic(Name="model-approval")["TopicArn"]
        self.groups: set[str] = set()

    # ------------------------------------------------------------ SageMaker

    def create_package(
        self, group: str = "churn", status: str = "PendingManualApproval", *, metrics: bool = True
    ) -> str:
        if group not in self.groups:
            self.sm.create_model_package_group(
                ModelPackageGroupName=group, ModelPackageGroupDescription=f"{group} models"
            )
            self.groups.add(group)
        kwargs: dict[str, Any] = {
            "ModelPackageGroupName": group,
            "ModelPackageDescription": f"{group} model <b>trained</b> & evaluated",
            "InferenceSpecification": {
                "Containers": [{"Image": IMAGE}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
            "ModelApprovalStatus": status,
            "CustomerMetadataProperties": {"pipeline": "training"},
        }
        if metrics:
            kwargs["ModelMetrics"] = {
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://metrics/{group}/statistics.json"}
                },
                "Bias": {"Report": {"ContentType": "application/json", "S3Uri": f"s3://metrics/{group}/bias.json"}},
            }
        return self.sm.create_model_package(**kwargs)["ModelPackageArn"]

    def describe(self, arn: str) -> dict[str, Any]:
        return self.sm.describe_model_package(ModelPackageName=arn)

    def status(self, arn: str) -> str:
        return self.describe(arn)["ModelApprovalStatus"]

    def set_status(self, arn: str, status: str) -> None:
        self.sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status)

    def state_change_event(self, arn: str) -> dict[str, Any]:
        """The EventBridge event SageMaker emits for the package as moto describes it now."""
        package = self.describe(arn)
        detail_keys = (
            "ModelPackageGroupName",
            "ModelPackageVersion",
            "ModelPackageArn",
            "ModelPackageDescription",
            "InferenceSpecification",
            "ModelApprovalStatus",
            "ModelPackageStatus",
            "CreatedBy",
            "ModelMetrics",
            "CustomerMetadataProperties",
            "ApprovalDescription",
        )
        detail = {k: package[k] for k in detail_keys if k in package}
        detail["CreationTime"] = int(package["CreationTime"].timestamp() * 1000)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "SageMaker Model Package State Change",
            "source": "aws.sagemaker",
            "account": ACCOUNT,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION,
            "resources": [arn],
            "detail": detail,
        }

    # ------------------------------------------------------------ SNS / DynamoDB / SSM

    def sent_messages(self) -> list[dict[str, Any]]:
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][REGION].topics[self.topic_arn]
        return [{"message": m[1], "subject": m[2]} for m in topic.sent_notifications]

    def item(self, pk: str) -> dict[str, Any] | None:
        return self.ddb.get_item(TableName=self.table_name, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")

    def items(self) -> list[dict[str, Any]]:
        return self.ddb.scan(TableName=self.table_name)["Items"]

    def parameter(self, group: str) -> str | None:
        try:
            return self.ssm.get_parameter(Name=f"{PARAMETER_PREFIX}/{group}/approved-model")["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None

    def parameter_history(self, group: str) -> list[dict[str, Any]]:
        name = f"{PARAMETER_PREFIX}/{group}/approved-model"
        history: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"Name": name}
        while True:
            page = self.ssm.get_parameter_history(**kwargs)
            history.extend(page["Parameters"])
            if not page.get("NextToken"):
                return history
            kwargs["NextToken"] = page["NextToken"]

    # ------------------------------------------------------------ tokens and API Gateway events

    def issue(self, arn: str, *, ttl: int = 3600, now: float | None = None) -> tuple[str, str, int]:
        import approval_tokens

        return approval_tokens.issue(self.secret, arn, ttl, time.time() if now is None else now)

    @staticmethod
    def api_event(
        method: str,
        resource: str,
        *,
        query: dict[str, str] | None = None,
        body: str | None = None,
        base64_body: bool = False,
        content_type: str | None = None,
        source_ip: str = SOURCE_IP,
        user_arn: str | None = None,
    ) -> dict[str, Any]:
        """An API Gateway REST proxy event (payload format 1.0) for stage ``prod``."""
        headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "User-Agent": "pytest"}
        if content_type:
            headers["Content-Type"] = content_type
        if body is not None and base64_body:
            body = base64.b64encode(body.encode("utf-8")).decode("ascii")
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
                "path": f"/prod{resource}",
                "stage": "prod",
                "accountId": ACCOUNT,
                "apiId": "abc123",
                "requestId": str(uuid.uuid4()),
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": "pytest",
                    "userArn": user_arn,
                    "caller": None,
                    "accountId": None,
                },
            },
            "body": body,
            "isBase64Encoded": base64_body,
        }

    def review_event(self, token: str) -> dict[str, Any]:
        return self.api_event("GET", "/review", query={"token": token})

    def decision_event(self, fields: dict[str, str], *, base64_body: bool = True, source_ip: str = SOURCE_IP) -> dict:
        return self.api_event(
            "POST",
            "/decision",
            body=urllib.parse.urlencode(fields),
            base64_body=base64_body,
            content_type="application/x-www-form-urlencoded",
            source_ip=source_ip,
        )

    def decisions_event(self, payload: Any, *, user_arn: str | None = "arn:aws:iam::123456789012:user/ci") -> dict:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        return self.api_event("POST", "/decisions", body=body, content_type="application/json", user_arn=user_arn)


@pytest.fixture(autouse=True)
def _fresh_handler_state():
    """Cached boto3 clients, the cached secret and metrics not yet flushed must not leak between tests (or outlive
    moto)."""
    import approval_common as common

    common.reset_clients()
    common.metrics.clear_metrics()
    yield
    common.reset_clients()
    common.metrics.clear_metrics()


_shared_session = None


def _boto3_session():
    """One boto3 session for the whole test run: service models are parsed once, not per test."""
    global _shared_session
    if _shared_session is None:
        import boto3

        _shared_session = boto3.session.Session(region_name=REGION)
    return _shared_session


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch):
    import boto3

    with mock_aws():
        # mock_aws resets boto3.DEFAULT_SESSION (restored when it stops); clients created from the
        # shared session inside the mock are mocked like any other.
        boto3.DEFAULT_SESSION = _boto3_session()
        reg = Registry()
        for name, value in {
            "TOPIC_ARN": reg.topic_arn,
            "SECRET_ARN": reg.secret_arn,
            "TABLE_NAME": reg.table_name,
            "APPROVAL_URL": APPROVAL_URL,
            "WATCHED_GROUPS": WATCHED,
            "PARAMETER_PREFIX": PARAMETER_PREFIX,
            "MODEL_PACKAGE_ARN_PREFIX": MODEL_PACKAGE_ARN_PREFIX,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("TOKEN_TTL_SECONDS", raising=False)
        yield reg


@pytest.fixture
def reports(registry, monkeypatch):
    """The metrics bucket the workflow may read, holding the reports of create_package()."""
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="metrics")
    monkeypatch.setenv("METRICS_BUCKET", "metrics")
    statistics = {
        "version": 0.0,
        "binary_classification_metrics": {
            "auc": {"value": 0.91234567, "standard_deviation": 0.01},
            "accuracy": {"value": 0.88},
            "<script>alert(1)</script>": {"value": 1},
            "confusion_matrix": {"0": {"0": 5}},
        },
    }
    s3.put_object(Bucket="metrics", Key="churn/statistics.json", Body=json.dumps(statistics).encode())
    s3.put_object(Bucket="metrics", Key="churn/bias.json", Body=b"{" + b" " * 70000 + b"}")
    return s3
