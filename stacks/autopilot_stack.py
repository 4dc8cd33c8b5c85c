"""The Autopilot stack: an example AutoML V2 workflow (binary classification of ``churn``) registering into the
registry's ``example-churn`` group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack, Tags
from aws_cdk import aws_events as events
from constructs import Construct

from sagemaker_tiers.autopilot import (
    AutoMLMode,
    AutopilotJob,
    CompletionCriteria,
    DatasetFormat,
    TabularProblem,
    TabularProblemType,
)
from sagemaker_tiers.autopilot.autopilot_job import DEFAULT_TIMEOUT_MARGIN, JOB_NAME_PREFIX_PATTERN, MAX_JOB_NAME_PREFIX_LENGTH, MAX_POLLS
from sagemaker_tiers.autopilot.problems import MAX_TABULAR_CANDIDATES
from sagemaker_tiers.core import defaults
from sagemaker_tiers.core.validation import (
    ValidationError,
    require_int_in_range,
    require_match,
    require_one_of,
    require_s3_prefix,
)
from stacks.config import CONTEXT_PREFIX, AppConfig, read_config
from stacks.foundation_stack import FoundationStack
from stacks.registry_stack import RegistryStack

_FORMATS = {"csv": DatasetFormat.CSV, "parquet": DatasetFormat.PARQUET}


@dataclass(frozen=True)
class AutopilotConfig:
    """The Autopilot stack's configuration; each field is the context key ``sagemaker-tiers:<field>``."""

    #: Key prefix of the training data in the ML bucket.
    autopilot_dataset_prefix: str = "datasets/example-churn/"
    #: "csv" (with a header row) or "parquet".
    autopilot_dataset_format: str = "csv"
    #: Column to predict.
    autopilot_target_column: str = "churn"
    #: "BinaryClassification", "MulticlassClassification" or "Regression".
    autopilot_problem_type: str = "BinaryClassification"
    #: Objective metric; empty for the problem type's default (F1, Accuracy, MSE).
    autopilot_objective_metric: str = ""
    #: "ENSEMBLING" (one inference container per candidate, which every endpoint type hosts), "AUTO" (HPO for
    #: 100 MB of data or more) or "HYPERPARAMETER_TUNING" (inference pipelines of 2-3 containers, which serverless
    #: endpoints cannot host).
    autopilot_mode: str = "ENSEMBLING"
    #: Algorithms to restrict to (ENSEMBLING or HYPERPARAMETER_TUNING only); empty for all of the mode.
    autopilot_algorithms: tuple[str, ...] = ()
    #: Most candidates per job, 1-750; 0 for Autopilot's default (250).
    autopilot_max_candidates: int = 0
    #: Longest run of a job in hours (Autopilot stops it then and keeps the best candidate so far).
    autopilot_max_runtime_hours: int = 4
    #: Minutes between two status polls.
    autopilot_poll_interval_minutes: int = 5
    #: Key prefix of job outputs and leaderboards.
    autopilot_output_prefix: str = "autopilot/example-churn/"
    #: Model package group (one of model_package_groups) the best candidate is registered in.
    autopilot_model_package_group: str = "example-churn"
    #: Start of every AutoML job name.
    autopilot_job_name_prefix: str = "example-churn"
    #: EventBridge schedule expression such as "rate(7 days)" or "cron(0 3 ? * MON *)"; empty for none.
    autopilot_schedule: str = ""
    #: Start a run when an object is created under the dataset prefix.
    autopilot_trigger_on_new_data: bool = False

    def validate(self) -> None:
        key = CONTEXT_PREFIX
        require_s3_prefix(key + "autopilot_dataset_prefix", self.autopilot_dataset_prefix)
        require_s3_prefix(key + "autopilot_output_prefix", self.autopilot_output_prefix)
        require_one_of(key + "autopilot_dataset_format", self.autopilot_dataset_format, list(_FORMATS))
        require_match(key + "autopilot_target_column", self.autopilot_target_column, r"[^\x00-\x1f]{1,256}", "a column name")
        require_one_of(key + "autopilot_problem_type", self.autopilot_problem_type, [t.value for t in TabularProblemType])
        require_one_of(key + "autopilot_mode", self.autopilot_mode, [m.value for m in AutoMLMode])
        if not isinstance(self.autopilot_algorithms, tuple) or not all(isinstance(a, str) for a in self.autopilot_algorithms):
            raise ValidationError(f"{key}autopilot_algorithms must be a list of strings, got {self.autopilot_algorithms!r}")
        require_int_in_range(key + "autopilot_max_candidates", self.autopilot_max_candidates, minimum=0, maximum=MAX_TABULAR_CANDIDATES)
        require_int_in_range(key + "autopilot_max_runtime_hours", self.autopilot_max_runtime_hours, minimum=1, maximum=720)
        require_int_in_range(key + "autopilot_poll_interval_minutes", self.autopilot_poll_interval_minutes, minimum=1, maximum=60)
        # The state machine waits the runtime plus its default margin, in at most MAX_POLLS polls (history limit).
        longest = (MAX_POLLS * self.autopilot_poll_interval_minutes - int(DEFAULT_TIMEOUT_MARGIN.to_minutes())) // 60
        if self.autopilot_max_runtime_hours > longest:
            raise ValidationError(
                f"{key}autopilot_max_runtime_hours must be at most {longest} with "
                f"{key}autopilot_poll_interval_minutes={self.autopilot_poll_interval_minutes} (runtime + 1 hour in at "
                f"most {MAX_POLLS} polls), got {self.autopilot_max_runtime_hours}; raise the poll interval for longer jobs"
            )
        require_match(
            key + "autopilot_job_name_prefix",
            self.autopilot_job_name_prefix,
            JOB_NAME_PREFIX_PATTERN,
            f"1-{MAX_JOB_NAME_PREFIX_LENGTH} lowercase letters, digits or '-'",
        )
        if self.autopilot_schedule:
            require_match(
                key + "autopilot_schedule",
                self.autopilot_schedule,
                r"(rate|cron)\(.+\)",
                "an EventBridge schedule expression such as 'rate(7 days)' or 'cron(0 3 ? * MON *)', or empty",
            )
        if not isinstance(self.autopilot_trigger_on_new_data, bool):
            raise ValidationError(f"{key}autopilot_trigger_on_new_data must be true or false, got {self.autopilot_trigger_on_new_data!r}")


class AutopilotStack(Stack):
    """Deploys one :class:`AutopilotJob` from :class:`AutopilotConfig`, on the foundation's bucket, key and network,
    registering into a registry group and notifying the registry's administrators' topic."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: AppConfig,
        foundation: FoundationStack,
        registry: RegistryStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, description="sagemaker-tiers Autopilot (AutoML V2) workflow", **kwargs)
        Tags.of(self).add(defaults.TIER_TAG_KEY, "autopilot")
        self.autopilot_config = settings = read_config(AutopilotConfig, self.node)
        group = registry.group("autopilot_model_package_group", settings.autopilot_model_package_group)
        self.autopilot = AutopilotJob(
            self,
            "Autopilot",
            bucket=foundation.bucket,
            dataset_prefix=settings.autopilot_dataset_prefix,
            dataset_format=_FORMATS[settings.autopilot_dataset_format],
            output_prefix=settings.autopilot_output_prefix,
            problem=TabularProblem(
                target_column=settings.autopilot_target_column,
                problem_type=settings.autopilot_problem_type,
                objective_metric=settings.autopilot_objective_metric or None,
                mode=settings.autopilot_mode,
                algorithms=settings.autopilot_algorithms,
            ),
            completion_criteria=CompletionCriteria(
                max_candidates=settings.autopilot_max_candidates or None,
                max_total_runtime=Duration.hours(settings.autopilot_max_runtime_hours),
            ),
            network=foundation.network,
            model_package_group=group,
            encryption_key=foundation.key,
            job_name_prefix=settings.autopilot_job_name_prefix,
            tags={"sagemaker-tiers:tier": "autopilot", "sagemaker-tiers:project": config.project_name},
            poll_interval=Duration.minutes(settings.autopilot_poll_interval_minutes),
            schedule=events.Schedule.expression(settings.autopilot_schedule) if settings.autopilot_schedule else None,
            trigger_on_new_data=settings.autopilot_trigger_on_new_data,
            topic=registry.workflow.topic,
        )
        CfnOutput(self, "StateMachineArn", value=self.autopilot.state_machine.state_machine_arn,
                  description="Start a run: aws stepfunctions start-execution --state-machine-arn <this>")
        CfnOutput(
            self, "OutputPrefix", value=settings.autopilot_output_prefix,
            description="Key prefix of job outputs and leaderboards in the foundation's ML bucket",
        )
        CfnOutput(self, "ModelPackageGroup", value=settings.autopilot_model_package_group, description="Registry group a run registers into")
        if self.autopilot.dead_letter_queue is not None:
            CfnOutput(self, "DeadLetterQueueUrl", value=self.autopilot.dead_letter_queue.queue_url,
                      description="Trigger events that could not start a run")
