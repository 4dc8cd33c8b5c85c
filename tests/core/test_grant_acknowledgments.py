"""Grants acknowledge their own prefix-scoped cdk-nag findings, so a user's app with cdk-nag on needs none.

One app, synthesized once with the AwsSolutions and Serverless packs: roles in the bucket's stack and in another
stack (where the bucket ARN arrives as an ``Fn::ImportValue``) get every prefix grant the library offers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam

from sagemaker_tiers import ApprovalWorkflow, MlBucket, MlEncryptionKey, ModelPackageGroup, add_gates
from tests.conftest import app_context


def _role(stack: Stack) -> iam.Role:
    return iam.Role(stack, "UserRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = App(outdir=str(outdir), context=app_context())
    # cdk-nag only: Control Tower's rules run once on the whole app (tests/stacks/test_app.py, `make synth`).
    add_gates(app, control_tower=False)
    data = Stack(app, "Data")
    key = MlEncryptionKey(data, "Key")
    bucket = MlBucket(data, "Bucket", encryption_key=key)
    workflow = ApprovalWorkflow(data, "Approval", encryption_key=key, admin_emails=["ml-admin@example.com"])
    workflow.watch(ModelPackageGroup(data, "Group", model_package_group_name="churn"))
    for role in (_role(data), _role(Stack(app, "Consumer"))):
        bucket.grant_read_prefix(role, "datasets/churn/")
        bucket.grant_write_prefix(role, "models/churn/")
        bucket.grant_read_write_prefix(role, "scratch/")
        workflow.grant_read_approved_models(role)
    app.synth()  # raises on any unacknowledged finding
    return json.loads((Path(outdir) / "validation-report.json").read_text())


def _acknowledged_on(report: dict, stack: str) -> dict[str, str]:
    return {
        v["ruleName"]: v["reason"]
        for plugin in report["pluginReports"]
        for v in plugin.get("suppressedViolations", [])
        if v["acknowledgedAt"] == f"{stack}/UserRole"
    }


@pytest.mark.parametrize("stack", ["Data", "Consumer"])
def test_each_prefix_is_acknowledged_for_its_one_resource_with_a_reason(report: dict, stack: str) -> None:
    acknowledged = _acknowledged_on(report, stack)
    assert [v["ruleName"] for p in report["pluginReports"] for v in p["violations"]] == []
    resources = sorted(rule.split("[Resource::", 1)[1].rstrip("]") for rule in acknowledged)
    bucket = "<Bucket" if stack == "Data" else "Data:ExportsOutputFnGetAttBucket"
    assert [r.split("/", 1)[1] for r in resources if r.startswith(bucket)] == [
        "datasets/churn/*", "models/churn/*", "scratch/*"
    ]
    assert "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/sagemaker-tiers/registry/*" in resources
    assert len(resources) == 4, resources
    assert all(rule.startswith("AwsSolutions-IAM5[") for rule in acknowledged)
    assert all("IAM can name them only by the prefix" in r or "IAM names them by the prefix" in r for r in acknowledged.values())
