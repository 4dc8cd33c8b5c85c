from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import cdklabs.cdk_validator_cfnguard
import pytest
from aws_cdk import App, Aspects, Stack, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

from sagemaker_tiers.core.nag import (
    CONTROL_TOWER_PLUGIN,
    CONTROL_TOWER_RULES,
    FindingsAsErrors,
    UnseenReferenceAcknowledgments,
    acknowledge,
    skip_checkov,
)
from sagemaker_tiers.core.validation import ValidationError


@pytest.fixture()
def bucket() -> s3.Bucket:
    return s3.Bucket(Stack(App(), "S"), "B")


def test_acknowledge_needs_a_known_pack_and_a_specific_reason(bucket: s3.Bucket) -> None:
    with pytest.raises(ValidationError, match=r"rule must look like 'AwsSolutions-IAM5'.*got 'IAM5'"):
        acknowledge(bucket, "IAM5", "x" * 50)
    with pytest.raises(ValidationError, match=r"reason must say specifically why AwsSolutions-S1.*got 'ok'"):
        acknowledge(bucket, "AwsSolutions-S1", "ok")


def test_skip_checkov_writes_each_skip_with_its_reason(bucket: s3.Bucket) -> None:
    reason = "a reason that is long enough to explain the exception here"
    skip_checkov(bucket, "CKV_AWS_18", reason)
    skip_checkov(bucket, "CKV_AWS_21", reason)
    resource = next(iter(Template.from_stack(Stack.of(bucket)).find_resources("AWS::S3::Bucket").values()))
    assert resource["Metadata"]["checkov"]["skip"] == [
        {"id": "CKV_AWS_18", "comment": reason},
        {"id": "CKV_AWS_21", "comment": reason},
    ]
    with pytest.raises(ValidationError, match="check_id must be a checkov id"):
        skip_checkov(bucket, "S1", reason)


def test_acknowledge_takes_only_known_control_tower_controls(bucket: s3.Bucket) -> None:
    with pytest.raises(ValidationError, match=r"Control Tower control of CONTROL_TOWER_RULES.*got 'CT.S3.PR.99'"):
        acknowledge(bucket, "CT.S3.PR.99", "x" * 50)
    with pytest.raises(ValidationError, match=r"reason must say specifically why CT.S3.PR.9"):
        acknowledge(bucket, "CT.S3.PR.9", "ok")


def _bundled_control_tower_rules() -> dict[str, str]:
    """Control id -> guard rule name, read from the .guard files the installed plugin bundles."""
    package = Path(cdklabs.cdk_validator_cfnguard.__file__).parent / "_jsii"
    (tgz,) = package.glob("*.jsii.tgz")
    rules: dict[str, str] = {}
    with tarfile.open(tgz) as archive:
        for member in archive.getmembers():
            if member.name.endswith(".guard") and "/control-tower/cfn-guard/" in member.name:
                text = archive.extractfile(member).read().decode()  # type: ignore[union-attr]
                control = re.search(r"\[(CT\.[A-Z0-9]+\.PR\.\d+)\]", text)
                rule = re.search(r"^rule (\w+) when is_cfn_template", text, re.MULTILINE)
                if control and rule:
                    rules[control.group(1)] = rule.group(1)
    return rules


def test_control_tower_rule_names_are_those_the_plugin_bundles() -> None:
    bundled = _bundled_control_tower_rules()
    assert len(bundled) > 200  # the plugin's whole catalogue was read
    assert {control: bundled.get(control) for control in CONTROL_TOWER_RULES} == CONTROL_TOWER_RULES


def test_unseen_references_are_acknowledged_only_where_the_rule_cannot_read_a_value_that_is_set(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    Validations.of(app).add_plugins(FindingsAsErrors(CfnGuardValidator(control_tower_rules_enabled=True)))
    Aspects.of(app).add(UnseenReferenceAcknowledgments())
    keys = Stack(app, "Keys")
    key = kms.Key(keys, "Key", enable_key_rotation=True)
    acknowledge(key, "CT.S3.PR.9", "not under test here: only log groups are; this key is a fixture of the test")
    logs_stack = Stack(app, "Logs")
    logs.LogGroup(logs_stack, "CrossStackKey", encryption_key=key, retention=logs.RetentionDays.ONE_YEAR)
    logs.LogGroup(logs_stack, "NoKey", retention=logs.RetentionDays.ONE_YEAR)
    logs.LogGroup(keys, "SameStackKey", encryption_key=key, retention=logs.RetentionDays.ONE_YEAR)
    # The unacknowledged log group fails the synth although another finding of the plugin is acknowledged
    # (without FindingsAsErrors, aws-cdk-lib would let it pass).
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == CONTROL_TOWER_PLUGIN]

    def paths(entries: list[dict], rule: str) -> set[str]:
        return {c["constructPath"] for e in entries if e["ruleName"] == rule for c in e["violatingConstructs"]}

    rule = CONTROL_TOWER_RULES["CT.CLOUDWATCH.PR.3"]
    assert paths(plugin["violations"], rule) == {"Logs/NoKey/Resource"}
    assert paths(plugin.get("suppressedViolations", []), rule) == {"Logs/CrossStackKey/Resource"}
    (suppressed,) = [e for e in plugin["suppressedViolations"] if e["ruleName"] == rule]
    assert "KmsKeyId is set, to Keys/Key/Resource of stack Keys (Fn::ImportValue)" in suppressed["reason"]
