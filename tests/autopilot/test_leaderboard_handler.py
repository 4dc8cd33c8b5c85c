"""autopilot_leaderboard: every candidate ranked, leaderboard files in S3 (SSE-KMS), the best registrable candidate.

In-process with moto (ListCandidatesForAutoMLJob added by the ``candidates`` fixture, see conftest).
"""

from __future__ import annotations

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
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}")
    # 230 candidates over three pages of 100; F1 is maximized, so the highest value ranks first.
    values = [round(0.5 + (i * 37 % 230) / 1000, 4) for i in range(230)]
    store.by_job[job] = [candidate(f"cand-{i:03d}", v, job=job) for i, v in enumerate(values)]

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
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}")
    store.by_job[job] = [
        candidate("high-loss", 9.5, metric="MSE", direction="Minimize", job=job),
        candidate("diverged", None, metric="MSE", status="Failed", containers=False, job=job),
        candidate("low-loss", 1.25, metric="MSE", direction="Minimize", algorithm="linear-learner", job=job),
        candidate("mid-loss", 3.0, metric="MSE", direction="Minimize", algorithm="ensemble", job=job),
    ]

    result = board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    document = json.loads(read(s3, f"{OUTPUT_PREFIX}{job}/leaderboard/leaderboard.json"))
    assert [(c["candidate_name"], c["rank"]) for c in document["Candidates"]] == [
        ("low-loss", 1), ("mid-loss", 2), ("high-loss", 3), ("diverged", None)
    ]
    assert document["Candidates"][3]["failure_reason"] == "AlgorithmError: training diverged"
    assert [c["algorithm"] for c in document["Candidates"][:3]] == ["linear-learner", "ensemble", "xgboost"]
    assert result["ObjectiveMetric"]["Direction"] == "Minimize"
    assert result["BestCandidate"] == {"CandidateName": "low-loss", "Algorithm": "linear-learner", "ObjectiveValue": 1.25}


def test_returns_artifacts_and_model_package_fields_of_the_best_registrable_candidate(aws) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-bbbbbbbbbbbb"
    create_job(sagemaker, job)
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}")
    store.by_job[job] = [
        # The top score never completed (stopped mid-way): the next completed one is registered.
        candidate("best-but-stopped", 0.99, status="Stopped", job=job),
        candidate("winner", 0.91, algorithm="ensemble", job=job),
        candidate("runner-up", 0.85, job=job),
    ]

    result = board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    assert result["BestCandidate"]["CandidateName"] == "winner"
    described = sagemaker.describe_auto_ml_job_v2(AutoMLJobName=job)["AutoMLJobArtifacts"]
    assert result["Artifacts"] == {
        "CandidateDefinitionNotebook": described["CandidateDefinitionNotebookLocation"],
        "DataExplorationNotebook": described["DataExplorationNotebookLocation"],
        "Explainability": f"s3://outputs/{job}/documentation/explainability/winner",
        "ModelInsights": f"s3://outputs/{job}/documentation/model_monitor/winner",
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
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}")
    store.by_job[job] = [candidate("a", 0.7, job=job), candidate("b", 0.8, job=job)]

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
    with pytest.raises(board.LeaderboardError, match="is InProgress, not Completed"):
        board.build_leaderboard(sagemaker, s3, running, SETTINGS)

    failed_only = f"{JOB_PREFIX}-eeeeeeeeeeee"
    create_job(sagemaker, failed_only)
    complete_job(automl_jobs()[failed_only], f"s3://{BUCKET}/{OUTPUT_PREFIX}")
    store.by_job[failed_only] = [candidate("diverged", None, status="Failed", containers=False)]
    with pytest.raises(board.LeaderboardError, match="nothing to register"):
        board.build_leaderboard(sagemaker, s3, failed_only, SETTINGS)

    empty = f"{JOB_PREFIX}-ffffffffffff"
    create_job(sagemaker, empty)
    complete_job(automl_jobs()[empty], f"s3://{BUCKET}/{OUTPUT_PREFIX}")
    with pytest.raises(board.LeaderboardError, match="has no candidates"):
        board.build_leaderboard(sagemaker, s3, empty, SETTINGS)

    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)


def test_handler_reads_its_settings_from_the_environment(aws, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-999999999999"
    create_job(sagemaker, job)
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}")
    store.by_job[job] = [candidate("only", 0.75, job=job)]
    for name, value in {"OUTPUT_BUCKET": BUCKET, "OUTPUT_PREFIX": "autopilot/churn", "KMS_KEY_ARN": KEY_ARN, "JOB_NAME_PREFIX": JOB_PREFIX}.items():
        monkeypatch.setenv(name, value)

    result = board.handler({"AutoMLJobName": job}, None)

    assert result["Leaderboard"]["Json"] == f"s3://{BUCKET}/autopilot/churn/{job}/leaderboard/leaderboard.json"
    with pytest.raises(board.LeaderboardError, match="not a job of this workflow"):
        board.handler({"AutoMLJobName": "someone-else-0123"}, None)
    board.settings.cache_clear()
    monkeypatch.delenv("KMS_KEY_ARN")
    with pytest.raises(board.LeaderboardError, match="KMS_KEY_ARN"):
        board.handler({"AutoMLJobName": job}, None)
