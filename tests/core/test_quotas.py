"""core.quotas: a role that would need more managed policies than IAM allows fails at synth, naming the role."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam

from sagemaker_tiers.core.quotas import check_iam_role_quotas, managed_policies_per_role


def _role_with_grants(stack: Stack, id: str, statements: int) -> iam.Role:
    role = iam.Role(stack, id, assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AWSLambdaBasicExecutionRole"))
    for i in range(statements):
        # Distinct conditions keep CDK from merging the statements, as per-group grants do.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:CreateModelPackage"],
                resources=[f"arn:aws:sagemaker:us-east-1:123456789012:model-package/group-{i}-{'x' * 40}/*"],
                conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": f"PendingManualApproval-{i}"}},
            )
        )
    return role


def test_counts_attached_and_overflow_policies_and_fails_over_the_quota() -> None:
    app = App()
    stack = Stack(app, "S")
    small = _role_with_grants(stack, "Small", 3)
    big = _role_with_grants(stack, "Big", 600)
    check_iam_role_quotas(app)
    with pytest.raises(Exception, match=r"IAM role S/Big/Resource needs \d+ managed policies, but IAM allows 10 per role") as caught:
        app.synth()
    assert "S/Small" not in str(caught.value)
    counts = managed_policies_per_role(app)
    assert counts[small.node.default_child.node.path] == 1  # the AWS managed policy only
    assert counts[big.node.default_child.node.path] > 10


def test_a_raised_quota_lets_the_same_role_through() -> None:
    app = App()
    _role_with_grants(Stack(app, "S"), "Big", 150)
    check_iam_role_quotas(app, max_managed_policies=20)
    app.synth()
    assert 1 < max(managed_policies_per_role(app).values()) <= 20
