"""core.flags: a construct that depends on a CDK feature flag fails or warns at synth, naming the flag."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Annotations, Match

from sagemaker_tiers import ApprovalWorkflow, MlEncryptionKey, ModelPackageGroup
from sagemaker_tiers.core.flags import IAM_MINIMIZE_POLICIES


@pytest.mark.parametrize(("context", "warnings"), [({}, 1), ({IAM_MINIMIZE_POLICIES: True}, 0)])
def test_the_workflow_warns_without_minimized_policies(context: dict, warnings: int) -> None:
    stack = Stack(App(context=context), "S")
    ApprovalWorkflow(
        stack, "Approval", encryption_key=MlEncryptionKey(stack, "Key"), admin_emails=["a@example.com"],
        groups=[ModelPackageGroup(stack, "Group", model_package_group_name="g")],  # a workflow watching none fails synth
    )
    found = Annotations.from_stack(stack).find_warning(
        "/S/Approval",
        Match.string_like_regexp(r"Set the feature flag '@aws-cdk/aws-iam:minimizePolicies' to true in cdk.json: without it every watched group"),
    )
    assert len(found) == warnings
