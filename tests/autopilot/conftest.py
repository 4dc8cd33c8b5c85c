"""Fixtures of the Autopilot tier tests: moto with ListCandidatesForAutoMLJob (see autopilot_fakes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.autopilot.autopilot_fakes import GROUP, JOB_PREFIX, CandidateStore, physical, serve_candidates


@pytest.fixture
def candidates(monkeypatch: pytest.MonkeyPatch) -> CandidateStore:
    """Add ListCandidatesForAutoMLJob to moto's SageMaker for this test (moto 5.2.5 lacks it), paginated with MaxResults/NextToken like the real API."""
    return serve_candidates(monkeypatch)


@pytest.fixture
def moto_account() -> Iterator[None]:
    from moto import mock_aws

    import autopilot_leaderboard

    autopilot_leaderboard.settings.cache_clear()
    autopilot_leaderboard._clients.cache_clear()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}):
        yield
    autopilot_leaderboard.settings.cache_clear()
    autopilot_leaderboard._clients.cache_clear()


@dataclass
class Synthesized:
    """The AutopilotJob test stack, synthesized once (with cdk-nag) for the assertion and execution tests."""

    stack: Any
    job: Any
    template: Any  # aws_cdk.assertions.Template
    template_json: dict[str, Any]
    outdir: Path

    def logical_id(self, construct: Any) -> str:
        """Logical id of an L1, or of an L2's default child."""
        return self.stack.resolve(self.stack.get_logical_id(construct.node.default_child or construct))

    def definition(self) -> dict[str, Any]:
        """The state machine's definition, resolved with :func:`autopilot_fakes.physical` values."""
        from tests.sfn_support import state_machine_definition

        return state_machine_definition(
            self.template_json, self.logical_id(self.job.state_machine), physical(self.template_json)
        )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every feature at once: ENSEMBLING with algorithms, validation fraction, tags, schedule and new-data triggers.

    The poll loop is short (5-minute polls, 10-minute job limit, 15-minute timeout: 3 polls) so that executions
    under moto reach their timeout quickly; cdk-nag runs on the synthesis.
    """
    from aws_cdk import App, Duration, Stack
    from aws_cdk import aws_events as events
    from aws_cdk import aws_iam as iam
    from aws_cdk.assertions import Template

    from sagemaker_tiers import MlBucket, MlEncryptionKey, ModelPackageGroup, SageMakerNetwork
    from sagemaker_tiers.autopilot import (
        AutoMLAlgorithm,
        AutoMLMode,
        AutopilotJob,
        CompletionCriteria,
        TabularProblem,
        TabularProblemType,
    )
    from sagemaker_tiers import add_gates
    from tests.conftest import app_context

    outdir = tmp_path_factory.mktemp("autopilot-cdk.out")
    app = App(outdir=str(outdir), context=app_context())
    # cdk-nag only: Control Tower's rules run once on the whole app (tests/stacks/test_app.py, `make synth`).
    add_gates(app, control_tower=False)
    stack = Stack(app, "AutopilotTest")
    key = MlEncryptionKey(stack, "Key")
    bucket = MlBucket(stack, "Data", encryption_key=key, event_bridge_enabled=True)
    network = SageMakerNetwork(stack, "Network", encryption_key=key)
    group = ModelPackageGroup(stack, "Group", model_package_group_name=GROUP)
    job = AutopilotJob(
        stack,
        "Churn",
        bucket=bucket,
        dataset_prefix="datasets/churn/",
        output_prefix="autopilot/churn/",
        problem=TabularProblem(
            target_column="churn",
            problem_type=TabularProblemType.BINARY_CLASSIFICATION,
            objective_metric="AUC",
            mode=AutoMLMode.ENSEMBLING,
            algorithms=[AutoMLAlgorithm.XGBOOST, AutoMLAlgorithm.LIGHTGBM, "catboost"],
        ),
        network=network,
        model_package_group=group,
        validation_fraction=0.25,
        completion_criteria=CompletionCriteria(
            max_candidates=20, max_runtime_per_candidate=Duration.minutes(5), max_total_runtime=Duration.minutes(10)
        ),
        job_name_prefix=JOB_PREFIX,
        tags={"team": "ml-platform"},
        poll_interval=Duration.minutes(5),
        timeout=Duration.minutes(15),
        schedule=events.Schedule.rate(Duration.days(7)),
        trigger_on_new_data=True,
    )
    job.grant_start_execution(iam.Role(stack, "Operator", assumed_by=iam.AccountRootPrincipal()))
    app.synth()  # raises on any unacknowledged cdk-nag finding
    template = Template.from_stack(stack)
    return Synthesized(stack=stack, job=job, template=template, template_json=template.to_json(), outdir=outdir)
