"""The registry stack: example model package group(s) and the shared approval workflow."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_s3 as s3
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.validation import ValidationError
from sagemaker_tiers.foundation import MlEncryptionKey
from sagemaker_tiers.registry import ApprovalWorkflow, ModelPackageGroup
from stacks.config import CONTEXT_PREFIX, AppConfig


class RegistryStack(Stack):
    """Deploys one :class:`ModelPackageGroup` per configured name and one :class:`ApprovalWorkflow` for all."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AppConfig,
        key: MlEncryptionKey,
        reports_bucket: s3.IBucket | None = None,
        **kwargs: Any,
    ) -> None:
        """:param reports_bucket: Where the tiers write the metrics reports they register (the review page shows
        their values). Default: none (the page lists the report locations only)."""
        super().__init__(scope, id, description="sagemaker-tiers model registry and approval workflow", **kwargs)
        Tags.of(self).add(defaults.TIER_TAG_KEY, "registry")
        self.workflow = ApprovalWorkflow(
            self,
            "Approval",
            encryption_key=key,
            admin_emails=config.admin_emails,
            parameter_prefix=f"/{config.project_name}/registry",
            token_ttl=Duration.hours(config.approval_link_ttl_hours),
            metrics_bucket=reports_bucket,
            reconcile_interval=Duration.minutes(config.reconcile_interval_minutes),
        )
        groups = Construct(self, "Groups")
        # Retained on destroy and adopted by the next deployment (see ModelPackageGroup); tagged explicitly, because
        # the app's tag aspects do not reach the custom resource.
        tags = {defaults.PROJECT_TAG_KEY: config.project_name, defaults.TIER_TAG_KEY: "registry"}
        self.groups = {
            name: ModelPackageGroup(
                groups, name, model_package_group_name=name, description=f"{name} models", encryption_key=key, tags=tags
            )
            for name in config.model_package_groups
        }
        for group in self.groups.values():
            self.workflow.watch(group)
        CfnOutput(self, "ApprovalApiUrl", value=self.workflow.api.url, description="Base URL of the approval API")
        CfnOutput(self, "AdminTopicArn", value=self.workflow.topic.topic_arn)
        # What the operator CLI (sagemaker_tiers.cli) reads to find the registry's parameters, groups and queues.
        CfnOutput(self, "ParameterPrefix", value=self.workflow.parameter_prefix,
                  description="SSM prefix of the approved-model parameters: <prefix>/<group>/approved-model")
        CfnOutput(self, "ModelPackageGroups", value=",".join(self.groups), description="Model package groups the approval workflow watches")
        CfnOutput(self, "EventDeadLetterQueueUrl", value=self.workflow.dead_letter_queue.queue_url,
                  description="Model package events that failed every delivery attempt")
        CfnOutput(self, "FailedInvocationsQueueUrl", value=self.workflow.failed_invocations_queue.queue_url,
                  description="Approval handler invocations that failed every retry")

    def group(self, key: str, name: str) -> ModelPackageGroup:
        """The group called ``name``, which the tier's context key ``sagemaker-tiers:<key>`` named.

        :raises ValidationError: naming the key, the value and the configured groups, if there is no such group.
        """
        if name not in self.groups:
            raise ValidationError(
                f"{CONTEXT_PREFIX}{key} must be one of the registry's groups {sorted(self.groups)} "
                f"(see {CONTEXT_PREFIX}model_package_groups), got {name!r}"
            )
        return self.groups[name]
