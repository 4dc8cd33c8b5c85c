"""The operations stack: the app's one CloudWatch dashboard, a section per tier, from the tier constructs' widgets;
and the managed policy of the operator CLI (``sagemaker-tiers``), scoped to every tier's resources.

Why a stack of its own: the dashboard shows metrics of constructs in every tier stack, and no tier stack depends on
all the others (training, Autopilot, Studio and inference each depend on the foundation and the registry only). A
leaf stack that depends on every tier adds no dependency between tiers and no cycle. Dimension values known at synth
(endpoint and API names, namespaces, job-name prefixes) are written into the dashboard as they are; those only
CloudFormation or SageMaker know (state machine ARNs, generated queue and function names, the Studio domain's ID) are
imported from the tier stacks' exports, which CDK adds for each. A queue, function or state machine that is
replaced gets a new name, so the exported value must follow it; see the README ("Operating it") for the one
deployment order this asks for when a feature that owns such a resource is switched off.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from sagemaker_tiers.core import defaults
from sagemaker_tiers.operations import DashboardSection, OperatorPolicy, TiersDashboard
from stacks.autopilot_stack import AutopilotStack
from stacks.config import AppConfig
from stacks.foundation_stack import FoundationStack
from stacks.inference_stack import InferenceStack
from stacks.registry_stack import RegistryStack
from stacks.studio_stack import StudioStack
from stacks.training_stack import TrainingStack


class OperationsStack(Stack):
    """Deploys a :class:`TiersDashboard` named ``<project_name>-operations`` and outputs its name and URL, and an
    :class:`OperatorPolicy` for every tier and outputs its ARN (``OperatorPolicyArn``, for operators to attach)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AppConfig,
        foundation: FoundationStack,
        registry: RegistryStack,
        training: TrainingStack,
        autopilot: AutopilotStack,
        studio: StudioStack,
        inference: InferenceStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, description="sagemaker-tiers operations: one CloudWatch dashboard of every tier", **kwargs)
        Tags.of(self).add(defaults.TIER_TAG_KEY, "operations")
        studio_sources: list[Any] = [studio.domain, studio.canvas_idle]
        if studio.hub is not None:
            studio_sources.append(studio.hub)
        sections = [
            DashboardSection("Training", [training.pipeline], "Training pipeline runs by outcome, how long they take, triggers that could not start one"),
            DashboardSection("Autopilot", [autopilot.autopilot], "AutoML runs by outcome and how long they take"),
            DashboardSection(
                "Approvals", [registry.workflow],
                "Versions pending approval, decisions and promotions, time to decision; the approval API's requests, errors "
                "and latency; model package events and invocations that gave up",
            ),
        ]
        if inference.endpoints:
            sections.append(
                DashboardSection(
                    "Inference", list(inference.endpoints.values()),
                    "Deployments of approved versions, the endpoint's requests, errors and latency",
                )
            )
        sections.append(DashboardSection("Studio and Canvas", studio_sources, "Studio automation and Canvas idle shutdown"))
        if studio.jumpstart:
            sections.append(
                DashboardSection(
                    "JumpStart", list(studio.jumpstart.values()),
                    "JumpStart registrations and fine-tuning runs by outcome, how long they take, triggers that could not start one",
                )
            )
        self.dashboard = TiersDashboard(self, "Dashboard", dashboard_name=f"{config.project_name}-operations", sections=sections)
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard_name, description="CloudWatch dashboard of every tier")
        CfnOutput(self, "DashboardUrl", value=self.dashboard.dashboard_url, description="The dashboard in the CloudWatch console")
        # What the operator CLI calls, scoped to this app: the stacks whose outputs it reads (this one too).
        self.operator = OperatorPolicy(
            self, "OperatorPolicy", stacks=[foundation, registry, training, autopilot, studio, inference, self]
        )
        self.operator.add_approval_workflow(registry.workflow)
        self.operator.add_training_pipeline(training.pipeline)
        self.operator.add_autopilot_job(autopilot.autopilot)
        for endpoint in inference.endpoints.values():
            self.operator.add_endpoint(endpoint)
        for model in studio.jumpstart.values():
            self.operator.add_jumpstart_model(model)
        self.operator.add_dead_letter_queues(
            studio.domain.failed_invocations_queue, studio.hub.failure_queue if studio.hub is not None else None
        )
        CfnOutput(
            self, "OperatorPolicyArn", value=self.operator.managed_policy_arn,
            description="Attach to the IAM users, groups or roles that run the sagemaker-tiers CLI",
        )
