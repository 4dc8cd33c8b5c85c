"""The calls-against-policy gate catches today's main's ListCandidatesForAutoMLJob defect from a real handler run.

The leaderboard handler runs in moto as in test_leaderboard_handler; the calls it made (recorded by the gate's
botocore hook) are evaluated against a temporary copy of its role as main synthesized it before the fix
(ListCandidatesForAutoMLJob granted on the automl-job ARN) and as it is now (on "*").
"""

from __future__ import annotations

import copy

import autopilot_leaderboard as board

from tests import iam_calls
from tests.autopilot.autopilot_fakes import JOB_PREFIX, automl_jobs, candidate, complete_job
from tests.autopilot.test_leaderboard_handler import BUCKET, OUTPUT_PREFIX, SETTINGS, aws, create_job  # noqa: F401
from tests.iam_support import Reference, Templates

JOB_ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, f":automl-job/{JOB_PREFIX}-*"]]}
BUCKET_ARN = {"Fn::GetAtt": ["Bucket", "Arn"]}
BEFORE_THE_FIX = [
    {"Action": ["s3:AbortMultipartUpload", "s3:PutObject"], "Effect": "Allow", "Resource": {"Fn::Join": ["", [BUCKET_ARN, f"/{OUTPUT_PREFIX}*"]]}},
    {"Action": "s3:ListBucket", "Condition": {"StringLike": {"s3:prefix": [f"{OUTPUT_PREFIX}*"]}}, "Effect": "Allow", "Resource": BUCKET_ARN},
    {"Action": ["sagemaker:DescribeAutoMLJobV2", "sagemaker:ListCandidatesForAutoMLJob"], "Effect": "Allow", "Resource": JOB_ARN},
]


def _leaderboard_stack(statements: list[dict]) -> dict:
    return {
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}},
            "LeaderboardRole": {"Type": "AWS::IAM::Role", "Properties": {}, "Metadata": {"aws:cdk:path": "planted/Leaderboard/Role/Resource"}},
            "LeaderboardRoleDefaultPolicy": {
                "Type": "AWS::IAM::Policy",
                "Properties": {"PolicyDocument": {"Statement": statements}, "Roles": [{"Ref": "LeaderboardRole"}]},
            },
            "Leaderboard": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "autopilot_leaderboard.handler", "Role": {"Fn::GetAtt": ["LeaderboardRole", "Arn"]}},
            },
        }
    }


def test_list_candidates_on_the_job_arn_is_denied_and_on_any_resource_allowed(aws) -> None:  # noqa: ANN001, F811
    sagemaker, s3, store = aws
    job = f"{JOB_PREFIX}-0123456789ab"
    create_job(sagemaker, job)
    store.by_job[job] = [candidate("only", 0.9, job=job)]
    complete_job(automl_jobs()[job], f"s3://{BUCKET}/{OUTPUT_PREFIX}", best=store.by_job[job][0])
    before = len(iam_calls.recorded())

    board.build_leaderboard(sagemaker, s3, job, SETTINGS)

    calls = iam_calls.recorded()[before:]
    module = "constructs/sagemaker_tiers/autopilot/autopilot_handlers/autopilot_leaderboard.py"
    assert {c["caller"]["modules"][0] for c in calls} == {module}
    assert {"DescribeAutoMLJobV2", "ListCandidatesForAutoMLJob", "PutObject"} <= {c["operation"] for c in calls}
    reference = Reference()
    recorded = {"calls": calls, "state_machine_roles": {}}

    failures, reports = iam_calls.evaluate_recorded(recorded, Templates(templates={"planted": _leaderboard_stack(BEFORE_THE_FIX)}), reference)

    (failure,) = failures
    assert failure.startswith("denied: sagemaker:ListCandidatesForAutoMLJob (test tests/autopilot/test_leaderboard_calls_gate.py::")
    assert "needs sagemaker:ListCandidatesForAutoMLJob on *; role planted/LeaderboardRole (planted/Leaderboard/Role/Resource, role of Leaderboard)" in failure
    assert f"no statement allows sagemaker:ListCandidatesForAutoMLJob on *; statements with the action: statement " in failure
    assert f"automl-job/{JOB_PREFIX}-*" in failure  # the statement that has the action, on the wrong resource
    (report,) = reports.values()
    assert report.denied == 1 and report.calls == len(calls)

    fixed = copy.deepcopy(BEFORE_THE_FIX)
    fixed[2]["Action"] = "sagemaker:DescribeAutoMLJobV2"
    fixed.append({"Action": "sagemaker:ListCandidatesForAutoMLJob", "Effect": "Allow", "Resource": "*"})
    assert iam_calls.evaluate_recorded(recorded, Templates(templates={"planted": _leaderboard_stack(fixed)}), reference)[0] == []
