"""The synthesized Autopilot state machine, executed end to end under moto's Step Functions interpreter.

What is real and what is faked:

* The definition is the synthesized one (resolved with physical names), run unchanged; AWS SDK integration requests
  are validated against botocore's model (tests/sfn_support.py).
* SageMaker (CreateAutoMLJobV2, DescribeAutoMLJobV2, StopAutoMLJob, CreateModelPackage), S3 and SNS are moto's.
  moto lacks ListCandidatesForAutoMLJob: the ``candidates`` fixture adds it (conftest).
* moto's Lambda without Docker does not run code: its invoke is patched to run ``autopilot_leaderboard.handler``
  in-process with the function's environment from the template, so the leaderboard step is the real handler.
* Wait states and retry back-offs return at once. Each Wait is the test's clock: the scenario decides what the AutoML
  job's status is after the n-th wait (moto keeps AutoML jobs InProgress until a test changes them).
"""

from __future__ import annotations

from tests.conftest import lambda_context

import importlib
import io
import json
import re
import types
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from tests.autopilot.autopilot_fakes import ACCOUNT, GROUP, IMAGES, JOB_PREFIX, REGION, automl_jobs, candidate, complete_job, physical
from tests.sfn_support import aws_sdk_integrations_as_in_aws, entered_states, run_execution, state_machine_definition


@dataclass
class World:
    sfn: Any
    s3: Any
    sagemaker: Any
    state_machine_arn: str
    bucket: str
    topic_arn: str
    output_uri: str
    calls: list[dict[str, Any]]
    candidates: Any
    scenario: Callable[[int, Any], None] = lambda n, job: None
    waits: int = 0
    retry_sleeps: list[float] = field(default_factory=list)

    def calls_of(self, action: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["action"] == action]

    def notifications(self) -> list[dict[str, Any]]:
        from moto.sns.models import sns_backends

        topic = sns_backends[ACCOUNT][REGION].topics[self.topic_arn]
        return [{"message": json.loads(m[1]), "subject": m[2]} for m in topic.sent_notifications]

    def packages(self) -> list[dict[str, Any]]:
        summaries = self.sagemaker.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
        return [self.sagemaker.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]

    def keys(self) -> list[str]:
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])]


@pytest.fixture
def world(synthesized, moto_account, candidates, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:  # noqa: ANN001
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

    template = synthesized.template_json
    values = physical(template)
    job = synthesized.job
    definition = state_machine_definition(template, synthesized.logical_id(job.state_machine), values)
    bucket = values[synthesized.logical_id(job.bucket)]
    topic_arn = values[synthesized.logical_id(job.topic)]
    function_id = synthesized.logical_id(job.leaderboard_function)
    environment = {
        k: v if isinstance(v, str) else _resolve(v, values)
        for k, v in template["Resources"][function_id]["Properties"]["Environment"]["Variables"].items()
    }

    sfn = boto3.client("stepfunctions", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    s3.create_bucket(Bucket=bucket)
    boto3.client("sns", region_name=REGION).create_topic(Name=topic_arn.rsplit(":", 1)[1])
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    role = boto3.client("iam").create_role(RoleName="autopilot-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("autopilot_leaderboard.py", "")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=values[f"{function_id}.Arn"].rsplit(":", 1)[1],
        Runtime="python3.12",
        Role=role,
        Handler="autopilot_leaderboard.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": environment},
    )
    arn = sfn.create_state_machine(name="autopilot", definition=json.dumps(definition), roleArn=role)["stateMachineArn"]

    with aws_sdk_integrations_as_in_aws(model_member_names=True) as calls:
        world = World(
            sfn=sfn, s3=s3, sagemaker=sagemaker, state_machine_arn=arn, bucket=bucket, topic_arn=topic_arn,
            output_uri=f"s3://{bucket}/{job.output_prefix}", calls=calls, candidates=candidates,
        )

        def wait(self, env, wait_seconds):  # noqa: ANN001
            world.waits += 1
            (automl_job,) = automl_jobs().values()
            world.scenario(world.waits, automl_job)

        def invoke(self, function_name, qualifier, body, headers, response_headers):  # noqa: ANN001
            fn = self.get_function(function_name, qualifier)
            for name, value in fn.environment_vars.items():
                monkeypatch.setenv(name, value)
            module_name, handler_name = fn.handler.rsplit(".", 1)
            module = importlib.import_module(module_name)
            module.settings.cache_clear()
            try:
                return json.dumps(getattr(module, handler_name)(json.loads(body), lambda_context(fn.function_name)), default=str).encode()
            except Exception as error:  # what the Lambda runtime returns for an unhandled error
                response_headers["x-amz-function-error"] = "Unhandled"
                return json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)}).encode()

        monkeypatch.setattr(wait_function.WaitFunction, "_wait_interval", wait)
        monkeypatch.setattr(retrier_decl, "time", types.SimpleNamespace(sleep=world.retry_sleeps.append))
        monkeypatch.setattr(LambdaSimpleBackend, "invoke", invoke)
        yield world


def _resolve(value: Any, values: dict[str, Any]) -> Any:
    from tests.sfn_support import resolve

    return resolve(value, values)


def _ranked_candidates(job_name: str, output_uri: str = "s3://outputs/") -> list[dict[str, Any]]:
    return [
        candidate("runner-up", 0.88, metric="AUC", job=job_name, output_uri=output_uri),
        candidate("diverged", None, metric="AUC", status="Failed", containers=False, job=job_name, output_uri=output_uri),
        candidate("winner", 0.93, metric="AUC", algorithm="ensemble", job=job_name, output_uri=output_uri),
        candidate("third", 0.71, metric="AUC", algorithm="linear-learner", job=job_name, output_uri=output_uri),
    ]


def _write_reports(world: World, best: dict[str, Any]) -> dict[str, str]:
    """Autopilot's JSON reports of ``best`` under its artifact prefixes (with a PDF beside each)."""
    locations = best["CandidateProperties"]["CandidateArtifactLocations"]
    reports = {"Explainability": locations["Explainability"] + "/analysis.json", "ModelInsights": locations["ModelInsights"] + "/statistics.json"}
    for uri in [*reports.values(), locations["Explainability"] + "/report.pdf"]:
        world.s3.put_object(Bucket=world.bucket, Key=uri.removeprefix(f"s3://{world.bucket}/"), Body=b"{}")
    return reports


def test_a_completed_job_is_ranked_registered_and_notified(world: World) -> None:
    reports: dict[str, str] = {}

    def scenario(wait: int, job: Any) -> None:
        if wait == 2:  # InProgress at the first poll, Completed at the second
            listed = _ranked_candidates(job.auto_ml_job_name, world.output_uri)
            world.candidates.by_job[job.auto_ml_job_name] = listed
            complete_job(job, world.output_uri, best=listed[2])
            reports.update(_write_reports(world, listed[2]))

    world.scenario = scenario
    execution = run_execution(world.sfn, world.state_machine_arn, {"trigger": "manual"})

    assert execution["status"] == "SUCCEEDED", execution
    (created,) = world.calls_of("createAutoMLJobV2")
    job_name = created["parameters"]["AutoMLJobName"]
    assert re.fullmatch(rf"{JOB_PREFIX}-[0-9a-f]{{12}}", job_name) and len(job_name) <= 32
    assert created["parameters"]["SecurityConfig"]["EnableInterContainerTrafficEncryption"] is True
    assert created["parameters"]["AutoMLJobObjective"] == {"MetricName": "AUC"}
    assert len(world.calls_of("describeAutoMLJobV2")) == 2 and not world.calls_of("stopAutoMLJob")
    assert entered_states(world.sfn, execution["executionArn"]) == [
        "Prepare", "CreateAutoMLJob", "WaitForJob", "DescribeAutoMLJob", "JobStatus", "CountPoll", "PollBudgetLeft",
        "WaitForJob", "DescribeAutoMLJob", "JobStatus", "Leaderboard", "RegisterBestCandidate", "NotifySucceeded",
        "Outputs", "Succeeded",
    ]

    output = json.loads(execution["output"])
    base = f"{world.output_uri}{job_name}/leaderboard/"
    assert output["jobName"] == job_name
    assert output["leaderboard"] == {
        "Json": base + "leaderboard.json", "Csv": base + "leaderboard.csv", "BestCandidateMetrics": base + "best-candidate-metrics.json"
    }
    assert output["bestCandidate"] == {"CandidateName": "winner", "Algorithm": "ensemble", "ObjectiveValue": 0.93}
    assert output["objectiveMetric"] == {"MetricName": "AUC", "Direction": "Maximize"}
    assert output["artifacts"]["CandidateDefinitionNotebook"].endswith("SageMakerAutopilotCandidateDefinitionNotebook.ipynb")
    assert output["artifacts"]["DataExplorationNotebook"].endswith("SageMakerAutopilotDataExplorationNotebook.ipynb")
    assert output["artifacts"]["Explainability"] == f"{world.output_uri}{job_name}/documentation/explainability/output/winner"
    assert output["artifacts"]["ModelInsights"] == f"{world.output_uri}{job_name}/documentation/model_monitor/output/winner"

    key = base.removeprefix(f"s3://{world.bucket}/")
    document = json.loads(world.s3.get_object(Bucket=world.bucket, Key=key + "leaderboard.json")["Body"].read())
    assert [(c["candidate_name"], c["rank"]) for c in document["Candidates"]] == [
        ("winner", 1), ("runner-up", 2), ("third", 3), ("diverged", None)
    ]
    csv_lines = world.s3.get_object(Bucket=world.bucket, Key=key + "leaderboard.csv")["Body"].read().decode().splitlines()
    assert [line.split(",")[1] for line in csv_lines[1:]] == ["winner", "runner-up", "third", "diverged"]
    assert world.s3.head_object(Bucket=world.bucket, Key=key + "leaderboard.csv")["ServerSideEncryption"] == "aws:kms"

    (package,) = world.packages()
    assert package["ModelPackageArn"] == output["modelPackageArn"]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    assert [c["Image"] for c in package["InferenceSpecification"]["Containers"]] == [IMAGES["sklearn"], IMAGES["ensemble"]]
    # Autopilot's own reports of the candidate SageMaker chose, which Studio's model registry renders.
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == reports["ModelInsights"]
    assert package["ModelMetrics"]["Explainability"]["Report"]["S3Uri"] == reports["Explainability"]
    assert package["CustomerMetadataProperties"]["autopilot:job-name"] == job_name
    assert package["CustomerMetadataProperties"]["autopilot:candidate"] == "winner"
    (register,) = world.calls_of("createModelPackage")
    assert register["parameters"]["ClientToken"] == job_name

    (notice,) = world.notifications()
    assert notice["message"]["outcome"] == "Succeeded"
    assert notice["message"]["modelPackageArn"] == package["ModelPackageArn"]
    assert notice["message"]["leaderboard"]["Csv"] == base + "leaderboard.csv"


def test_a_failed_job_fails_the_run_with_its_reason(world: World) -> None:
    def scenario(wait: int, job: Any) -> None:
        job.auto_ml_job_status = "Failed"
        job.auto_ml_job_secondary_status = "Failed"
        job.failure_reason = "ClientError: target column churn not found"

    world.scenario = scenario
    execution = run_execution(world.sfn, world.state_machine_arn)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "AutopilotJobFailed"
    assert "target column churn not found" in execution["cause"]
    assert not world.calls_of("stopAutoMLJob") and not world.packages() and not world.keys()
    (notice,) = world.notifications()
    assert notice["message"]["outcome"] == "Failed" and notice["message"]["error"] == "AutopilotJobFailed"


def test_a_job_stopped_at_its_runtime_limit_registers_its_best_candidate(world: World) -> None:
    # SageMaker stops a job at MaxAutoMLJobRuntimeInSeconds and marks the best model trained so far
    # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoMLJobCompletionCriteria.html).
    def scenario(wait: int, job: Any) -> None:
        listed = _ranked_candidates(job.auto_ml_job_name, world.output_uri)
        world.candidates.by_job[job.auto_ml_job_name] = listed
        complete_job(job, world.output_uri, best=listed[0])
        job.auto_ml_job_status = "Stopped"
        job.auto_ml_job_secondary_status = "MaxAutoMLJobRuntimeReached"

    world.scenario = scenario
    execution = run_execution(world.sfn, world.state_machine_arn)

    assert execution["status"] == "SUCCEEDED", execution
    assert not world.calls_of("stopAutoMLJob")
    (package,) = world.packages()
    assert package["CustomerMetadataProperties"]["autopilot:candidate"] == "runner-up"  # SageMaker's choice
    assert json.loads(execution["output"])["bestCandidate"]["CandidateName"] == "runner-up"


def test_a_job_stopped_at_its_runtime_limit_without_a_best_candidate_fails(world: World) -> None:
    def scenario(wait: int, job: Any) -> None:
        complete_job(job, world.output_uri, best=None)
        job.auto_ml_job_status = "Stopped"
        job.auto_ml_job_secondary_status = "MaxAutoMLJobRuntimeReached"

    world.scenario = scenario
    execution = run_execution(world.sfn, world.state_machine_arn)

    assert (execution["status"], execution["error"]) == ("FAILED", "AutopilotJobStopped")
    assert "without a best candidate" in execution["cause"] and "MaxAutoMLJobRuntimeReached" in execution["cause"]
    assert not world.packages() and not world.keys()


def test_a_job_stopped_elsewhere_fails_the_run_distinctly(world: World) -> None:
    def scenario(wait: int, job: Any) -> None:
        job.auto_ml_job_status = "Stopped"
        job.auto_ml_job_secondary_status = "Stopped"

    world.scenario = scenario
    execution = run_execution(world.sfn, world.state_machine_arn)

    assert (execution["status"], execution["error"]) == ("FAILED", "AutopilotJobStopped")
    assert not world.calls_of("stopAutoMLJob") and not world.packages()


def test_a_job_that_outlives_the_timeout_is_stopped(world: World, synthesized) -> None:  # noqa: ANN001
    execution = run_execution(world.sfn, world.state_machine_arn)  # the job never leaves InProgress

    assert (execution["status"], execution["error"]) == ("FAILED", "AutopilotJobTimedOut")
    assert len(world.calls_of("describeAutoMLJobV2")) == synthesized.job.max_polls == 3
    (stopped,) = world.calls_of("stopAutoMLJob")
    (job,) = automl_jobs().values()
    assert stopped["parameters"] == {"AutoMLJobName": job.auto_ml_job_name}
    assert job.auto_ml_job_status == "Stopped"
    assert "it was stopped" in execution["cause"]
    assert not world.packages() and not world.keys()
    (notice,) = world.notifications()
    assert notice["message"]["error"] == "AutopilotJobTimedOut"


def test_a_job_without_a_registrable_candidate_fails_at_the_leaderboard(world: World) -> None:
    def scenario(wait: int, job: Any) -> None:
        complete_job(job, world.output_uri, best=None)
        world.candidates.by_job[job.auto_ml_job_name] = [
            candidate("diverged", None, metric="AUC", status="Failed", containers=False, job=job.auto_ml_job_name)
        ]

    world.scenario = scenario
    execution = run_execution(world.sfn, world.state_machine_arn)

    assert (execution["status"], execution["error"]) == ("FAILED", "AutopilotLeaderboardFailed")
    assert "nothing to register" in execution["cause"]
    assert world.retry_sleeps  # the function was retried before the run gave up
    assert not world.packages() and not world.keys()
