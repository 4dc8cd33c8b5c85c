"""``OperatorPolicy``: a customer-managed IAM policy with exactly what the operator CLI (``sagemaker-tiers``,
:mod:`sagemaker_tiers.cli`) calls, scoped to one app's stacks, state machines, jobs, queues, parameters, endpoint,
approval route and leaderboards.

Each ``add_*`` method adds what the CLI's commands do with one tier (the calls are listed per method). The
calls-against-policy gate proves it: every AWS call the CLI makes in its tests is evaluated against this policy as
synthesized (tests/iam_calls.py maps a call from ``sagemaker_tiers/cli`` to the stack output ``OperatorPolicyArn``),
and ``tests/cli/test_cli_operator_policy.py`` checks that the policy grants no action the CLI does not call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aws_cdk import ArnFormat, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from sagemaker_tiers.core.nag import acknowledge_resource
from sagemaker_tiers.core.validation import ValidationError

if TYPE_CHECKING:
    from sagemaker_tiers.autopilot import AutopilotJob
    from sagemaker_tiers.inference import ApprovedModelEndpoint
    from sagemaker_tiers.jumpstart import JumpStartModelVersion
    from sagemaker_tiers.registry import ApprovalWorkflow
    from sagemaker_tiers.training import TrainingPipeline

#: Actions IAM authorizes only on Resource "*" for what the CLI does with them, and why (the acknowledgment of
#: their AwsSolutions-IAM5 finding quotes this).
STAR_ONLY = {
    "sagemaker:ListModelPackages": "lists a group's versions by ModelPackageGroupName filter; the app grants it on '*' everywhere (ApprovalWorkflow)",
    "sagemaker:ListCandidatesForAutoMLJob": "has no resource type in the Service Authorization Reference",
    "cloudwatch:GetMetricData": "reads metrics, which have no ARN (its only resource type is a CloudWatch dataset)",
}


class OperatorPolicy(Construct):
    """A customer-managed policy for the people (or CI roles) who run the ``sagemaker-tiers`` CLI against one app.

    Attach :attr:`managed_policy` to their IAM users, groups or roles (the app outputs its ARN as
    ``OperatorPolicyArn``). It allows reading the app's stacks, groups, parameters, endpoint, queues, runs, jobs and
    leaderboards, starting training and Autopilot runs, and deciding through ``POST /decisions``, and nothing else:
    no SageMaker write, no approval outside the approval API (whose handler records the caller).

    :param stacks: The stacks whose outputs the CLI reads (``cloudformation:DescribeStacks`` on each, any stack ID).
    :param managed_policy_name: Name of the policy. Default: a name CloudFormation generates.

    Example::

        operator = OperatorPolicy(stack, "Operator", stacks=[registry_stack, training_stack])
        operator.add_approval_workflow(workflow)
        operator.add_training_pipeline(pipeline)
        operator.managed_policy.attach_to_group(operators)
    """

    def __init__(self, scope: Construct, id: str, *, stacks: Sequence[Stack], managed_policy_name: str | None = None) -> None:
        super().__init__(scope, id)
        if not stacks:
            raise ValidationError("stacks must name at least one stack whose outputs the CLI reads, got none")
        self.managed_policy = iam.ManagedPolicy(
            self,
            "Resource",
            managed_policy_name=managed_policy_name,
            description="Operator CLI (sagemaker-tiers): read the app's state, start and follow runs, decide approvals",
        )
        #: The ARN to attach.
        self.managed_policy_arn = self.managed_policy.managed_policy_arn
        self._added: set[str] = set()
        names = []
        for stack in stacks:
            if Token.is_unresolved(stack.stack_name):
                raise ValidationError(f"stacks must have literal names (the CLI finds them by name), got {stack.node.path}")
            names.append(stack.stack_name)
        self._statement(
            "ReadStackOutputs", ["cloudformation:DescribeStacks"],
            [self._arn("cloudformation", "stack", f"{name}/*") for name in names],
            why="a stack's ARN ends in an ID CloudFormation generates at creation (and again after a delete and redeploy); "
                "the name before it is literal",
        )

    # -- tiers --------------------------------------------------------------------------------------------------

    def add_approval_workflow(self, workflow: ApprovalWorkflow) -> None:
        """``status`` and ``approvals``: the approved-model parameter of each watched group (ssm:GetParameter),
        the groups' versions (sagemaker:ListModelPackages), the workflow's dead-letter queues
        (sqs:GetQueueAttributes) and ``POST /decisions`` (execute-api:Invoke)."""
        groups = workflow.groups
        if not groups:
            raise ValidationError(f"workflow {workflow.node.path} watches no model package group: call watch() before add_approval_workflow()")
        self._statement(
            "ReadApprovedModelParameters", ["ssm:GetParameter"],
            [self._arn("ssm", "parameter", workflow.approved_model_parameter_name(g).lstrip("/")) for g in groups],
        )
        self._star("sagemaker:ListModelPackages")
        self._queues("RegistryQueues", [workflow.dead_letter_queue, workflow.failed_invocations_queue])
        self._statement(
            "DecideApprovals", ["execute-api:Invoke"],
            [workflow.api.arn_for_execute_api("POST", "/decisions", workflow.api.deployment_stage.stage_name)],
        )

    def add_training_pipeline(self, pipeline: TrainingPipeline) -> None:
        """``train start|follow`` and ``status``: start, list and follow runs of the pipeline's state machine,
        describe its ``<job_name_prefix>-*`` training jobs and read their metrics (cloudwatch:GetMetricData), and
        its trigger dead-letter queue."""
        self._runs("Training", pipeline.state_machine, start=True)
        self._statement(
            "DescribeTrainingJobs", ["sagemaker:DescribeTrainingJob"],
            [self._arn("sagemaker", "training-job", f"{pipeline.job_name_prefix}-*")],
            why=f"training job names are generated per run; the pipeline names them {pipeline.job_name_prefix}-<run>-<attempt>",
        )
        self._star("cloudwatch:GetMetricData")
        self._queues("TrainingQueues", [pipeline.dead_letter_queue])

    def add_autopilot_job(self, job: AutopilotJob) -> None:
        """``autopilot start|follow|leaderboard`` and ``status``: start, list and follow runs, describe the
        ``<job_name_prefix>-*`` AutoML jobs and list their candidates, read each run's ``leaderboard.json``
        (s3:GetObject, kms:Decrypt through S3 only), and the trigger dead-letter queue."""
        self._runs("Autopilot", job.state_machine, start=True)
        self._statement(
            "DescribeAutoMLJobs", ["sagemaker:DescribeAutoMLJobV2"],
            [self._arn("sagemaker", "automl-job", f"{job.job_name_prefix}-*")],
            why=f"AutoML job names are generated per run; the job names them {job.job_name_prefix}-<12 hex>",
        )
        self._star("sagemaker:ListCandidatesForAutoMLJob")
        leaderboards = job.bucket.arn_for_objects(f"{job.output_prefix}*/leaderboard/leaderboard.json")
        self._statement(
            "ReadLeaderboards", ["s3:GetObject"], [leaderboards],
            why=f"each run writes {job.output_prefix}<job name>/leaderboard/leaderboard.json; the job name is generated per run",
        )
        key = job.encryption_key
        if key is not None:  # the bucket's key, used only by S3 on the caller's behalf
            self._statement(
                "DecryptLeaderboards", ["kms:Decrypt"], [key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Stack.of(self).region}.amazonaws.com"}},
            )
        self._queues("AutopilotQueues", [job.dead_letter_queue])

    def add_endpoint(self, endpoint: ApprovedModelEndpoint) -> None:
        """``status``: the endpoint's state (sagemaker:DescribeEndpoint), its deployed-model parameter, failed
        deployments (states:ListExecutions) and its dead-letter queue."""
        self._runs("Deployment", endpoint.state_machine, start=False)
        name = endpoint.endpoint_name
        self._statement(
            "DescribeEndpoint", ["sagemaker:DescribeEndpoint"],
            [self._arn("sagemaker", "endpoint", name.lower() if not Token.is_unresolved(name) else name)],
        )
        self._statement(
            "ReadDeployedModelParameter", ["ssm:GetParameter"],
            [self._arn("ssm", "parameter", endpoint.deployed_model_parameter_name.lstrip("/"))],
        )
        self._queues("DeploymentQueues", [endpoint.dead_letter_queue])

    def add_jumpstart_model(self, model: JumpStartModelVersion) -> None:
        """``status``: failed registrations of a JumpStart model (states:ListExecutions on its state machine) and
        its trigger dead-letter queue."""
        self._statement("JumpStartRuns", ["states:ListExecutions"], [model.state_machine.state_machine_arn])
        self._queues("JumpStartQueues", [model.dead_letter_queue])

    def add_dead_letter_queues(self, *queues: sqs.IQueue | None) -> None:
        """``status``: the depth of further dead-letter or failed-invocations queues (a Studio domain's, a curated
        hub's: ``sqs:GetQueueAttributes``); ``None`` entries are skipped."""
        self._queues("OtherQueues", list(queues))

    # -- helpers ------------------------------------------------------------------------------------------------

    def _arn(self, service: str, resource: str, name: str) -> str:
        return Stack.of(self).format_arn(service=service, resource=resource, resource_name=name)

    def _statement(self, sid: str, actions: list[str], resources: list[str], *, why: str | None = None,
                   conditions: dict[str, Any] | None = None) -> None:
        base, n = sid, 1
        while sid in self._added:  # a tier added twice (two pipelines, two endpoints): Sid2, Sid3, ...
            n += 1
            sid = f"{base}{n}"
        self._added.add(sid)
        self.managed_policy.add_statements(iam.PolicyStatement(sid=sid, actions=actions, resources=resources, conditions=conditions))
        if why is not None:
            for resource in resources:
                acknowledge_resource(
                    self.managed_policy, resource,
                    f"Operator CLI: {', '.join(actions)} on {resource if not Token.is_unresolved(resource) else 'this resource'} "
                    f"ends in a wildcard because {why}.",
                )

    def _star(self, action: str) -> None:
        if action in self._added:
            return
        self._added.add(action)
        self.managed_policy.add_statements(iam.PolicyStatement(actions=[action], resources=["*"]))
        if "*" not in self._added:  # one finding (Resource::*) for every such statement
            self._added.add("*")
            acknowledge_resource(
                self.managed_policy, "*",
                "Operator CLI: only these actions are granted on Resource '*', each because IAM scopes it no further "
                "for the calls the CLI makes: " + "; ".join(f"{a} {why}" for a, why in STAR_ONLY.items()) + ".",
            )

    def _runs(self, tier: str, machine: sfn.IStateMachine, *, start: bool) -> None:
        actions = ["states:ListExecutions"] + (["states:StartExecution"] if start else [])
        self._statement(f"{tier}Runs", actions, [machine.state_machine_arn])
        executions = Stack.of(self).format_arn(
            service="states", resource="execution", resource_name=f"{_machine_name(machine)}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self._statement(
            f"Follow{tier}Runs", ["states:DescribeExecution", "states:GetExecutionHistory"], [executions],
            why="execution names are chosen per run (by the caller or Step Functions)",
        )

    def _queues(self, sid: str, queues: Sequence[sqs.IQueue | None]) -> None:
        arns = [q.queue_arn for q in queues if q is not None]
        if arns:
            self._statement(sid, ["sqs:GetQueueAttributes"], arns)


def _machine_name(machine: Any) -> str:
    name: str = machine.state_machine_name
    return name
