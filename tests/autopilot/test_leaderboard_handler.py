"""autopilot_leaderboard: every candidate ranked, leaderboard files in S3 (SSE-KMS), SageMaker's best candidate
registered with Autopilot's own reports as its model metrics.

In-process with moto (ListCandidatesForAutoMLJob added by the ``candidates`` fixture, see conftest).
"""

from __future__ import annotations

from tests.conftest import emitted, lambda_context

import csv
import io
import json

import autopilot_leaderboard as board
import boto3
import pytest

from tests.autopilot.autopilot_fakes import ACCOUNT, IMAGES, JOB_PREFIX, REGION, automl_jobs, candidate, complete_job

BUCKET = "ml-data"
OUTPUT_PREFIX = "autopilot/churn/"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555"
SETTINGS = board.Settings(bucket=BUCKET, prefix=OUTPUT_PREFIX, kms_key_arn=KEY_ARN, job_name_prefix=JOB_PREFIX)


@pytest.fixture
def aws(moto_account, candidates):  # noqa: ANN001
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    return sagemaker, s3, candidates


def create_job(sagemaker, name: str, *, problem_type: str = "BinaryClassification", metric: str = "F1") -> None:  # noqa: ANN001
    sagemaker.create_auto_ml_job_v2(
        AutoMLJobName=name,
        AutoMLJobInputDataConfig=[
            {"ChannelType": "training", "ContentType": "text/csv;header=present",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/datasets/churn/"}}}
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/{OUTPUT_PREFIX}", "KmsKeyId": KEY_ARN},
        AutoMLProblemTypeConfig={
            "TabularJobConfig": {
                "TargetAttributeName": "churn",
                "ProblemType": problem_type,
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 3600},
            }
        },
        AutoMLJobObjective={"MetricName": metric},
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/autopilot",
    )


def read(s3, key: str) -> str:  # noqa: ANN001
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")


def test_ranks_every_candidate_of_every_page_and_writes_json_and_csv_with_kms(aws) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-0123456789ab"
    create_job(sagemaker, job)
    # 230 candidates over three pages of 100; F1 is maximized, so the highest value ranks first.
    values = [round(0.5 + (i * 37 % 230) / 1000, 4) for i in range(230)]
    store.by_job[job] = [candidate(f"cand-{i:03d}", v, job=job) for i, v in enumerate(values)]
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=store.by_job[job][values.index(max(values))])

    result = board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    assert [r["NextToken"] for r in store.requests] == [None, "100", "200"]
    assert result["CandidateCount"] == 230
    assert result["ObjectiveMetric"] == {"MetricName": "F1", "Direction": "Maximize"}
    base = f"{OUTPUT_PREFIX}{job}/leaderboard/"
    assert result["Leaderboard"] == {
        "Json": f"s3://{BUCKET}/{base}leaderboard.json",
        "Csv": f"s3://{BUCKET}/{base}leaderboard.csv",
        "BestCandidateMetrics": f"s3://{BUCKET}/{base}best-candidate-metrics.json",
    }
    document = json.loads(read(s3, base + "leaderboard.json"))
    ranked = [c["objective_value"] for c in document["Candidates"]]
    assert ranked == sorted(values, reverse=True)
    assert [c["rank"] for c in document["Candidates"]] == list(range(1, 231))
    best_index = values.index(max(values))
    assert document["BestCandidate"] == result["BestCandidate"]["CandidateName"] == f"cand-{best_index:03d}"
    rows = list(csv.DictReader(io.StringIO(read(s3, base + "leaderboard.csv"))))
    assert len(rows) == 230
    assert rows[0]["rank"] == "1" and rows[0]["candidate_name"] == f"cand-{best_index:03d}"
    assert rows[0]["algorithm"] == "xgboost" and rows[0]["candidate_status"] == "Completed"
    assert "Validation:F1=" in rows[0]["metrics"]
    for key in ("leaderboard.json", "leaderboard.csv", "best-candidate-metrics.json"):
        head = s3.head_object(Bucket=BUCKET, Key=base + key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == KEY_ARN


def test_minimized_metrics_rank_ascending_and_unscored_candidates_come_last(aws) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-aaaaaaaaaaaa"
    create_job(sagemaker, job, problem_type="Regression", metric="MSE")
    store.by_job[job] = [
        candidate("high-loss", 9.5, metric="MSE", direction="Minimize", job=job),
        candidate("diverged", None, metric="MSE", status="Failed", containers=False, job=job),
        candidate("low-loss", 1.25, metric="MSE", direction="Minimize", algorithm="linear-learner", job=job),
        candidate("mid-loss", 3.0, metric="MSE", direction="Minimize", algorithm="ensemble", job=job),
    ]
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=store.by_job[job][2])

    result = board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    document = json.loads(read(s3, f"{OUTPUT_PREFIX}{job}/leaderboard/leaderboard.json"))
    assert [(c["candidate_name"], c["rank"]) for c in document["Candidates"]] == [
        ("low-loss", 1), ("mid-loss", 2), ("high-loss", 3), ("diverged", None)
    ]
    assert document["Candidates"][3]["failure_reason"] == "AlgorithmError: training diverged"
    assert [c["algorithm"] for c in document["Candidates"][:3]] == ["linear-learner", "ensemble", "xgboost"]
    assert result["ObjectiveMetric"]["Direction"] == "Minimize"
    assert result["BestCandidate"] == {"CandidateName": "low-loss", "Algorithm": "linear-learner", "ObjectiveValue": 1.25}


def test_returns_artifacts_and_model_package_fields_of_sagemakers_best_candidate(aws) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-bbbbbbbbbbbb"
    create_job(sagemaker, job)
    store.by_job[job] = [
        # The top score never completed (stopped mid-way); SageMaker names the best completed one.
        candidate("best-but-stopped", 0.99, status="Stopped", job=job),
        candidate("winner", 0.91, algorithm="ensemble", job=job),
        candidate("runner-up", 0.85, job=job),
    ]
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=store.by_job[job][1])

    result = board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    assert result["BestCandidate"]["CandidateName"] == "winner"
    described = sagemaker.describe_auto_ml_job_v2(AutoMLJobName=job)["AutoMLJobArtifacts"]
    assert result["Artifacts"] == {
        "CandidateDefinitionNotebook": described["CandidateDefinitionNotebookLocation"],
        "DataExplorationNotebook": described["DataExplorationNotebookLocation"],
        "Explainability": f"s3://outputs/{job}/documentation/explainability/output/winner",
        "ModelInsights": f"s3://outputs/{job}/documentation/model_monitor/output/winner",
    }
    package = result["ModelPackage"]
    containers = package["InferenceSpecification"]["Containers"]
    assert [c["Image"] for c in containers] == [IMAGES["sklearn"], IMAGES["ensemble"]]
    assert containers[1]["ModelDataUrl"] == f"s3://outputs/{job}/tuning/winner/output/model.tar.gz"
    assert package["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]
    assert package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == result["Leaderboard"]["BestCandidateMetrics"]
    metadata = package["CustomerMetadataProperties"]
    assert metadata["autopilot:candidate"] == "winner"
    assert metadata["autopilot:objective-value"] == "0.91"
    assert metadata["autopilot:explainability"] == result["Artifacts"]["Explainability"]
    assert all(len(v) <= 256 for v in metadata.values())
    metrics = json.loads(read(s3, f"{OUTPUT_PREFIX}{job}/leaderboard/best-candidate-metrics.json"))
    assert metrics["CandidateName"] == "winner" and metrics["ObjectiveMetric"]["Value"] == 0.91
    # The package fields are a valid CreateModelPackage request once the group and status are added.
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=sagemaker.create_model_package_group(ModelPackageGroupName="g")["ModelPackageGroupArn"].split("/")[-1],
        ModelApprovalStatus="PendingManualApproval",
        **package,
    )["ModelPackageArn"]
    assert sagemaker.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"] == metadata


def test_a_repeated_call_writes_the_same_objects(aws) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-cccccccccccc"
    create_job(sagemaker, job)
    store.by_job[job] = [candidate("a", 0.7, job=job), candidate("b", 0.8, job=job)]
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=store.by_job[job][1])

    first = board.build_leaderboard(sagemaker, s3, job, SETTINGS)
    content = read(s3, f"{OUTPUT_PREFIX}{job}/leaderboard/leaderboard.csv")
    second = board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    assert first == second
    assert read(s3, f"{OUTPUT_PREFIX}{job}/leaderboard/leaderboard.csv") == content
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sorted(keys) == sorted(f"{OUTPUT_PREFIX}{job}/leaderboard/{k}" for k in ("leaderboard.json", "leaderboard.csv", "best-candidate-metrics.json"))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (None, "event must be an object"),
        ({}, "AutoMLJobName must be an AutoML job name"),
        ({"AutoMLJobName": "x" * 33}, "AutoMLJobName must be an AutoML job name"),
        ({"AutoMLJobName": "bad_name"}, "AutoMLJobName must be an AutoML job name"),
        ({"AutoMLJobName": f"{JOB_PREFIX}-" + "a-" * 11}, "AutoMLJobName must be an AutoML job name"),
        ({"AutoMLJobName": "other-team-0123456789ab"}, "not a job of this workflow"),
    ],
)
def test_malformed_events_are_rejected(event, message: str) -> None:  # noqa: ANN001
    with pytest.raises(board.LeaderboardError, match=message):
        board.parse_event(event, JOB_PREFIX)


def test_unfinished_or_empty_jobs_write_nothing(aws) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    running = f"{JOB_PREFIX}-dddddddddddd"
    create_job(sagemaker, running)
    with pytest.raises(board.LeaderboardError, match=r"is InProgress \(Completed\), not Completed or Stopped at its runtime limit"):
        board.build_leaderboard(sagemaker, s3, running, SETTINGS)

    failed_only = f"{JOB_PREFIX}-eeeeeeeeeeee"
    create_job(sagemaker, failed_only)
    store.by_job[failed_only] = [candidate("diverged", None, status="Failed", containers=False)]
    complete_job(automl_jobs()[failed_only], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=None)
    with pytest.raises(board.LeaderboardError, match="reports no BestCandidate; nothing to register"):
        board.build_leaderboard(sagemaker, s3, failed_only, SETTINGS)

    empty = f"{JOB_PREFIX}-ffffffffffff"
    create_job(sagemaker, empty)
    complete_job(automl_jobs()[empty], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=candidate("unlisted", 0.5))
    with pytest.raises(board.LeaderboardError, match="has no candidates"):
        board.build_leaderboard(sagemaker, s3, empty, SETTINGS)

    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_handler_reads_its_settings_from_the_environment(aws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-999999999999"
    create_job(sagemaker, job)
    store.by_job[job] = [candidate("only", 0.75, job=job)]
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=store.by_job[job][0])
    for name, value in {"OUTPUT_BUCKET": BUCKET, "OUTPUT_PREFIX": "autopilot/churn", "KMS_KEY_ARN": KEY_ARN, "JOB_NAME_PREFIX": JOB_PREFIX}.items():
        monkeypatch.setenv(name, value)

    result = board.handler({"AutoMLJobName": job}, lambda_context())

    assert result["Leaderboard"]["Json"] == f"s3://{BUCKET}/autopilot/churn/{job}/leaderboard/leaderboard.json"
    logs, _ = emitted(capsys.readouterr().out)
    written = next(r for r in logs if r["message"] == "leaderboard written")
    assert (written["level"], written["candidates"], written["best"], written["correlation_id"]) == ("INFO", 1, "only", job)
    with pytest.raises(board.LeaderboardError, match="not a job of this workflow"):
        board.handler({"AutoMLJobName": "someone-else-0123"}, lambda_context())
    board.settings.cache_clear()
    monkeypatch.delenv("KMS_KEY_ARN")
    with pytest.raises(board.LeaderboardError, match="KMS_KEY_ARN"):
        board.handler({"AutoMLJobName": job}, lambda_context())


# -- SageMaker's BestCandidate is registered, with Autopilot's own reports as its model metrics ------------------


def _report(s3, uri: str, body: str = "{}") -> str:  # noqa: ANN001
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return uri


def test_registers_sagemakers_best_candidate_not_the_leaderboard_top(aws) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-111111111111"
    create_job(sagemaker, job)
    output = f"s3://{BUCKET}/{OUTPUT_PREFIX}"
    listed = [
        candidate("top-of-board", 0.95, job=job, output_uri=output),  # ranks first on the final objective value
        candidate("sagemakers-choice", 0.91, algorithm="ensemble", job=job, output_uri=output),
    ]
    store.by_job[job] = listed
    complete_job(automl_jobs()[job], output, best=listed[1])

    result = board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    assert result["BestCandidate"] == {"CandidateName": "sagemakers-choice", "Algorithm": "ensemble", "ObjectiveValue": 0.91}
    assert [c["Image"] for c in result["ModelPackage"]["InferenceSpecification"]["Containers"]] == [IMAGES["sklearn"], IMAGES["ensemble"]]
    assert result["ModelPackage"]["CustomerMetadataProperties"]["autopilot:leaderboard-rank"] == "2"
    assert "SageMaker's best candidate sagemakers-choice" in result["ModelPackage"]["ModelPackageDescription"]
    document = json.loads(read(s3, f"{OUTPUT_PREFIX}{job}/leaderboard/leaderboard.json"))
    assert document["BestCandidate"] == "sagemakers-choice" and document["LeaderboardTop"] == "top-of-board"
    assert [c["candidate_name"] for c in document["Candidates"]] == ["top-of-board", "sagemakers-choice"]  # it still reports
    assert json.loads(read(s3, f"{OUTPUT_PREFIX}{job}/leaderboard/best-candidate-metrics.json"))["CandidateName"] == "sagemakers-choice"


def test_model_metrics_point_at_autopilots_own_reports_of_the_best_candidate(aws) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-222222222222"
    create_job(sagemaker, job)
    output = f"s3://{BUCKET}/{OUTPUT_PREFIX}"
    best = candidate("winner", 0.9, algorithm="ensemble", job=job, output_uri=output)
    store.by_job[job] = [best]
    complete_job(automl_jobs()[job], output, best=best)
    locations = best["CandidateProperties"]["CandidateArtifactLocations"]
    # The prefixes hold the reports in several formats; one JSON report each (Clarify's is analysis.json).
    explainability = _report(s3, locations["Explainability"] + "/analysis.json")
    _report(s3, locations["Explainability"] + "/analysis_config.json")
    _report(s3, locations["Explainability"] + "/report.pdf", "%PDF")
    insights = _report(s3, locations["ModelInsights"] + "/statistics.json")
    _report(s3, locations["ModelInsights"] + "/report.pdf", "%PDF")

    result = board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    metrics = result["ModelPackage"]["ModelMetrics"]
    assert metrics == {
        "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": insights}},
        "Explainability": {"Report": {"ContentType": "application/json", "S3Uri": explainability}},
    }
    # A valid CreateModelPackage request: SageMaker (moto) records the metrics Studio's registry renders.
    group = sagemaker.create_model_package_group(ModelPackageGroupName="reports")["ModelPackageGroupArn"].split("/")[-1]
    arn = sagemaker.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval", **result["ModelPackage"])["ModelPackageArn"]
    assert sagemaker.describe_model_package(ModelPackageName=arn)["ModelMetrics"] == metrics


def test_without_autopilot_reports_model_quality_falls_back_to_the_leaderboards_metrics(aws) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-333333333333"
    create_job(sagemaker, job)
    # Artifacts outside the workflow's output prefix are not looked at (the function may list only its prefix).
    best = candidate("winner", 0.9, job=job)
    store.by_job[job] = [best]
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=best)

    result = board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    assert result["ModelPackage"]["ModelMetrics"] == {
        "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": result["Leaderboard"]["BestCandidateMetrics"]}}
    }
    assert result["Reports"] == {"Explainability": None, "ModelInsights": None}


def test_a_job_stopped_at_its_runtime_limit_with_a_best_candidate_is_registered(aws) -> None:  # noqa: ANN001
    # "If an AutoML job exceeds the maximum runtime, the job is stopped automatically ... and marks it as the
    # best-performing model" (API_AutoMLJobCompletionCriteria).
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-444444444444"
    create_job(sagemaker, job)
    best = candidate("so-far", 0.8, job=job)
    store.by_job[job] = [best, candidate("cut-short", None, status="Stopped", containers=False, job=job)]
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=best)
    automl_jobs()[job].auto_ml_job_status = "Stopped"
    automl_jobs()[job].auto_ml_job_secondary_status = "MaxAutoMLJobRuntimeReached"

    result = board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    assert result["BestCandidate"]["CandidateName"] == "so-far"
    document = json.loads(read(s3, f"{OUTPUT_PREFIX}{job}/leaderboard/leaderboard.json"))
    assert document["JobStatus"] == {"Status": "Stopped", "SecondaryStatus": "MaxAutoMLJobRuntimeReached"}


def test_a_job_stopped_otherwise_or_without_a_best_candidate_registers_nothing(aws) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    stopped = f"{JOB_PREFIX}-555555555555"
    create_job(sagemaker, stopped)
    best = candidate("so-far", 0.8, job=stopped)
    store.by_job[stopped] = [best]
    complete_job(automl_jobs()[stopped], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=best)
    automl_jobs()[stopped].auto_ml_job_status = "Stopped"
    automl_jobs()[stopped].auto_ml_job_secondary_status = "Stopped"  # by hand, not by the runtime limit
    with pytest.raises(board.LeaderboardError, match=r"is Stopped \(Stopped\), not Completed or Stopped at its runtime limit"):
        board.build_leaderboard(sagemaker, s3, stopped, SETTINGS)

    unnamed = f"{JOB_PREFIX}-666666666666"
    create_job(sagemaker, unnamed)
    store.by_job[unnamed] = [candidate("a", 0.8, job=unnamed)]
    complete_job(automl_jobs()[unnamed], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=None)
    with pytest.raises(board.LeaderboardError, match="reports no BestCandidate; nothing to register"):
        board.build_leaderboard(sagemaker, s3, unnamed, SETTINGS)
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)
