"""The registry stack: example model package group(s) and the shared approval workflow."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.foundation import MlEncryptionKey
from sagemaker_tiers.registry import ApprovalWorkflow, ModelPackageGroup
from stacks.config import AppConfig


class RegistryStack(Stack):
    """Deploys one :class:`ModelPackageGroup` per configured name and one :class:`ApprovalWorkflow` for all."""

    def __init__(self, scope: Construct, id: str, *, config: AppConfig, key: MlEncryptionKey, **kwargs: Any) -> None:
        super().__init__(scope, id, description="sagemaker-tiers model registry and approval workflow", **kwargs)
        Tags.of(self).add(defaults.TIER_TAG_KEY, "registry")
        self.workflow = ApprovalWorkflow(
            self,
            "Approval",
            encryption_key=key,
            admin_emails=config.admin_emails,
            parameter_prefix=f"/{config.project_name}/registry",
            token_ttl=Duration.hours(config.approval_link_ttl_hours),
        )
        groups = Construct(self, "Groups")
        self.groups = {
            name: ModelPackageGroup(groups, name, model_package_group_name=name, description=f"{name} models")
            for name in config.model_package_groups
        }
        for group in self.groups.values():
            self.workflow.watch(group)
        CfnOutput(self, "ApprovalApiUrl", value=self.workflow.api.url, description="Base URL of the approval API")
        CfnOutput(self, "AdminTopicArn", value=self.workflow.topic.topic_arn)
