"""The IAM reference gate (scripts/iam_gate.py, `make iam-gate`) catches planted defects in temporary templates.

Each test plants one defect in a copy of a statement as the app synthesizes it (a role's policy, a key policy)
and checks that the gate reports it with the stack, resource, statement, action and key or resource.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.iam_support import SEGMENT, Exceptions, Finding, Reference, Templates, check, patterns_intersect

ARN = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sagemaker:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}, ":"]]}


def _arn(resource: str) -> dict:
    parts = copy.deepcopy(ARN)
    parts["Fn::Join"][1].append(resource)
    return parts


def _template(*statements: dict, key_policy: list[dict] | None = None) -> dict:
    """A stack with one role and its default policy (as CDK renders them) holding ``statements``."""
    resources: dict = {
        "Role1ABCD": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [{"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}],
                    "Version": "2012-10-17",
                }
            },
            "Metadata": {"aws:cdk:path": "planted/Fn/ServiceRole/Resource"},
        },
        "RoleDefaultPolicy1234": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyDocument": {"Statement": list(statements), "Version": "2012-10-17"},
                "PolicyName": "RoleDefaultPolicy1234",
                "Roles": [{"Ref": "Role1ABCD"}],
            },
            "Metadata": {"aws:cdk:path": "planted/Fn/ServiceRole/DefaultPolicy/Resource"},
        },
    }
    resources["Key961B73FD"] = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": key_policy or [], "Version": "2012-10-17"}}}
    resources["Bucket"] = {"Type": "AWS::S3::Bucket", "Properties": {}}
    return {"Resources": resources}


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference()


def _findings(reference: Reference, template: dict) -> list[Finding]:
    findings, _ = check(Templates(templates={"planted": template}), reference)
    return findings


GOOD = [
    {"Action": "sagemaker:DescribeAutoMLJobV2", "Effect": "Allow", "Resource": _arn("automl-job/churn-*")},
    {"Action": "sagemaker:ListCandidatesForAutoMLJob", "Effect": "Allow", "Resource": "*"},
    {
        "Action": "sagemaker:CreateTrainingJob",
        "Condition": {"ArnEquals": {"sagemaker:VolumeKmsKeyArn": {"Fn::GetAtt": ["Key961B73FD", "Arn"]}}, "Bool": {"sagemaker:NetworkIsolation": "true"}},
        "Effect": "Allow",
        "Resource": _arn("training-job/*"),
    },
    {"Action": ["s3:GetObject", "s3:ListBucket"], "Effect": "Allow", "Resource": [{"Fn::Join": ["", [{"Fn::GetAtt": ["Bucket", "Arn"]}, "/data/*"]]}, {"Fn::GetAtt": ["Bucket", "Arn"]}]},
]


def test_the_statements_the_app_renders_pass(reference: Reference) -> None:
    assert _findings(reference, _template(*GOOD)) == []


def test_an_action_on_the_wrong_resource_type_is_reported(reference: Reference) -> None:
    # Planted: today's main granted ListCandidatesForAutoMLJob (no resource type in IAM) on the job ARN.
    planted = {"Action": ["sagemaker:DescribeAutoMLJobV2", "sagemaker:ListCandidatesForAutoMLJob"], "Effect": "Allow", "Resource": _arn("automl-job/churn-*")}
    (finding,) = _findings(reference, _template(planted))
    assert finding.action == "sagemaker:ListCandidatesForAutoMLJob"
    assert 'only Resource "*" allows it' in finding.problem
    assert finding.statement == "#0"
    assert finding.where == "planted/RoleDefaultPolicy1234 (planted/Fn/ServiceRole/DefaultPolicy/Resource)"
    assert finding.item == "arn:aws:sagemaker:us-east-1:123456789012:automl-job/churn-*"
    # A training-job action on an automl-job ARN: a resource of another type.
    wrong = {"Action": "sagemaker:DescribeTrainingJob", "Effect": "Allow", "Resource": _arn("automl-job/*"), "Sid": "Wrong"}
    problems = [(f.statement, f.problem) for f in _findings(reference, _template(wrong))]
    assert problems == [("Wrong", "no resource of the statement fits the action's resource types (training-job)")]
    # In a statement of several actions, a resource none of them takes is reported on its own.
    extra = {"Action": ["sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"], "Effect": "Allow", "Resource": [_arn("training-job/*"), _arn("model/*")]}
    (finding,) = _findings(reference, _template(extra))
    assert (finding.problem, finding.item) == ("resource fits none of the statement's actions", "arn:aws:sagemaker:us-east-1:123456789012:model/*")


def test_a_deprecated_condition_key_is_reported(reference: Reference) -> None:
    # Planted: today's main conditioned persona jobs on the deprecated sagemaker:VolumeKmsKey.
    planted = copy.deepcopy(GOOD[2])
    planted["Condition"]["ArnEquals"] = {"sagemaker:VolumeKmsKey": {"Fn::GetAtt": ["Key961B73FD", "Arn"]}}
    findings = _findings(reference, _template(planted))
    assert {(f.action, f.item) for f in findings} == {("sagemaker:CreateTrainingJob", "sagemaker:VolumeKmsKey")}
    assert {f.problem.split(" (")[0] for f in findings} == {"condition key not valid for the action", "deprecated condition key"}


def test_a_condition_key_the_action_never_carries_is_reported_in_a_key_policy(reference: Reference) -> None:
    # Planted: today's main allowed kms:DescribeKey under an encryption-context condition (DescribeKey has none).
    statement = {
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": "arn:aws:logs:us-east-1:123456789012:log-group:*"}},
        "Effect": "Allow",
        "Principal": {"Service": "logs.us-east-1.amazonaws.com"},
        "Resource": "*",
        "Sid": "AllowCloudWatchLogsOfThisAccount",
    }
    (finding,) = _findings(reference, _template(key_policy=[statement]))
    assert (finding.statement, finding.action, finding.item) == ("AllowCloudWatchLogsOfThisAccount", "kms:DescribeKey", "kms:EncryptionContext:aws:logs:arn")
    assert finding.where.startswith("planted/Key961B73FD KeyPolicy")


def test_unknown_actions_and_wildcards_matching_nothing_are_reported(reference: Reference) -> None:
    planted = [
        {"Action": "sagemaker:DescribeTrainingJobs", "Effect": "Allow", "Resource": "*"},
        {"Action": "s3:GetObjekt*", "Effect": "Allow", "Resource": "*"},
        {"Action": "kms:GenerateDataKey*", "Effect": "Allow", "Resource": "*"},  # expands: fine
    ]
    findings = _findings(reference, _template(*planted))
    assert [(f.action, f.problem) for f in findings] == [
        ("sagemaker:DescribeTrainingJobs", "no such action in the Service Authorization Reference"),
        ("s3:GetObjekt*", "no such action in the Service Authorization Reference"),
    ]


def test_cross_stack_imports_resolve_to_the_exporting_resource(reference: Reference) -> None:
    exporter = {
        "Resources": {"Bucket": {"Type": "AWS::S3::Bucket", "Properties": {}}},
        "Outputs": {"X": {"Value": {"Fn::GetAtt": ["Bucket", "Arn"]}, "Export": {"Name": "base:BucketArn"}}},
    }
    importer = _template({"Action": "s3:ListBucket", "Effect": "Allow", "Resource": {"Fn::Join": ["", [{"Fn::ImportValue": "base:BucketArn"}, "/data/*"]]}})
    templates = Templates(templates={"base": exporter, "planted": importer})
    (finding,) = check(templates, reference)[0]  # ListBucket is on the bucket, not on objects
    assert finding.item == "arn:aws:s3:::<unresolved>/data/*"


def test_arn_pattern_matching() -> None:
    automl = "arn:${Partition}:sagemaker:${Region}:${Account}:automl-job/${AutoMLJobJobName}"
    assert patterns_intersect("arn:aws:sagemaker:us-east-1:123456789012:automl-job/churn-*", automl)
    assert patterns_intersect("arn:aws:sagemaker:*:*:*", automl)
    assert not patterns_intersect("arn:aws:sagemaker:us-east-1:123456789012:training-job/*", automl)
    assert not patterns_intersect("arn:aws:sagemaker:us-east-1:123456789012:automl-job/a/b", automl)
    bucket, obj = "arn:${Partition}:s3:::${BucketName}", "arn:${Partition}:s3:::${BucketName}/${ObjectName}"
    assert patterns_intersect(f"arn:aws:s3:::{SEGMENT}", bucket) and not patterns_intersect(f"arn:aws:s3:::{SEGMENT}", obj)
    assert patterns_intersect(f"arn:aws:s3:::{SEGMENT}/a/b/*", obj) and not patterns_intersect(f"arn:aws:s3:::{SEGMENT}/a/*", bucket)


def test_exceptions_need_a_reason(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text(json.dumps([{"finding": "a|b|c|d", "reason": "because"}]))
    with pytest.raises(ValueError, match="specific reason"):
        Exceptions.load(tmp_path / "x.json")
    assert [e for e in Exceptions.load(ROOT / "iam_exceptions.json").entries if e.get("gate", "reference") == "reference"] == []  # none today


def test_the_gate_script_fails_on_a_planted_defect_and_names_it(tmp_path: Path) -> None:
    planted = {"Action": "sagemaker:ListCandidatesForAutoMLJob", "Effect": "Allow", "Resource": _arn("automl-job/churn-*")}
    (tmp_path / "planted.template.json").write_text(json.dumps(_template(planted)))
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "iam_gate.py"), str(tmp_path), "--calls", "none"], capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "planted/RoleDefaultPolicy1234 (planted/Fn/ServiceRole/DefaultPolicy/Resource) statement #0: sagemaker:ListCandidatesForAutoMLJob" in result.stdout
    (tmp_path / "planted.template.json").write_text(json.dumps(_template(*GOOD)))
    assert subprocess.run([sys.executable, str(ROOT / "scripts" / "iam_gate.py"), str(tmp_path), "--calls", "none"], capture_output=True).returncode == 0


def test_the_calls_gate_refuses_a_recording_of_part_of_the_suite(tmp_path: Path) -> None:
    # A recording of a few modules (or of a failed run) holds only some calls: judging it would pass vacuously.
    (tmp_path / "good.template.json").write_text(json.dumps(_template(*GOOD)))
    recording = {"calls": [], "state_machine_roles": {}, "test_functions": {}, "tests": 3}
    gate = [sys.executable, str(ROOT / "scripts" / "iam_gate.py"), str(tmp_path), "--calls", str(tmp_path / "calls.json")]
    outcomes = {}
    for complete, extra in ((False, ()), (False, ("--calls-partial",)), (True, ())):
        (tmp_path / "calls.json").write_text(json.dumps({**recording, "complete": complete}))
        outcomes[complete, extra] = subprocess.run([*gate, *extra], capture_output=True, text=True)
    refused = outcomes[False, ()]
    assert refused.returncode == 1 and "records part of the suite (3 tests" in refused.stdout, refused.stdout + refused.stderr
    assert outcomes[False, ("--calls-partial",)].returncode == 0
    assert outcomes[True, ()].returncode == 0, outcomes[True, ()].stdout
