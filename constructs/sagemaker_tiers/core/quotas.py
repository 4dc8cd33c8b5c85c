"""Synth-time checks for IAM quotas that would otherwise fail only at deploy time.

CDK splits a role's policy into extra managed policies ("OverflowPolicy") when the inline policy outgrows
IAM's size limit. Grants on many model package groups (the registry's functions, Studio personas) grow policies
with every group, and IAM attaches at most 10 managed policies to a role by default (20 after a quota
increase). Past that, CloudFormation fails mid-deployment. :func:`check_iam_role_quotas` turns that into a synth
error that names the role and the count.
"""

from __future__ import annotations

from collections import Counter

import jsii
from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct, IValidation

#: IAM's default quota of managed policies attached to one role.
MANAGED_POLICIES_PER_ROLE = 10


def check_iam_role_quotas(scope: IConstruct, *, max_managed_policies: int = MANAGED_POLICIES_PER_ROLE) -> None:
    """Fail synthesis if any role under ``scope`` would have more than ``max_managed_policies`` managed policies.

    :param max_managed_policies: The account's quota (raise it to at most 20 after a quota increase).
        Default: 10, IAM's default.
    """
    scope.node.add_validation(_RoleManagedPolicyQuota(scope, max_managed_policies))


def managed_policies_per_role(scope: IConstruct) -> dict[str, int]:
    """Managed policies (attached by ARN, or overflow policies CDK created) per role path under ``scope``."""
    roles: dict[str, tuple[Stack, str, iam.CfnRole]] = {}
    for node in scope.node.find_all():
        if isinstance(node, iam.CfnRole):
            stack = Stack.of(node)
            roles[f"{stack.artifact_id}/{stack.get_logical_id(node)}"] = (stack, node.node.path, node)
    counts: Counter[str] = Counter()
    for node in scope.node.find_all():
        if isinstance(node, iam.CfnManagedPolicy):
            stack = Stack.of(node)
            for ref in stack.resolve(node.roles) or []:
                if isinstance(ref, dict) and "Ref" in ref:
                    counts[f"{stack.artifact_id}/{ref['Ref']}"] += 1
    result: dict[str, int] = {}
    for key, (stack, path, role) in roles.items():
        attached = stack.resolve(role.managed_policy_arns) or []
        result[path] = counts[key] + len(attached)
    return result


@jsii.implements(IValidation)
class _RoleManagedPolicyQuota:
    def __init__(self, scope: IConstruct, limit: int) -> None:
        self._scope = scope
        self._limit = limit

    def validate(self) -> list[str]:
        return [
            f"IAM role {path} needs {count} managed policies, but IAM allows {self._limit} per role: its grants "
            "(often one per model package group) outgrew the inline policy. Watch fewer groups per approval "
            "workflow or Studio domain, split them across workflows, or raise the quota and max_managed_policies."
            for path, count in sorted(managed_policies_per_role(self._scope).items())
            if count > self._limit
        ]
