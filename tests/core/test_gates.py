"""core.gates.add_gates: the library's gates in any app (the app's own stacks/app.py calls it too)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs

from sagemaker_tiers import add_gates
from sagemaker_tiers.core import gates


def test_both_nag_packs_fail_synth_on_planted_defects(tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    added = add_gates(app, control_tower=False)
    stack = Stack(app, "Planted")
    s3.Bucket(stack, "PlainBucket")  # AwsSolutions: no SSL-only policy, no access logs
    sqs.Queue(stack, "PlainQueue")  # Serverless: no redrive policy
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert added == ("AwsSolutions", "Serverless")
    assert {"AwsSolutions-S1", "AwsSolutions-S10", "Serverless-SQSRedrivePolicy"} <= rules


def test_without_cdk_nag_it_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cdk_nag", None)  # import cdk_nag now raises ImportError
    with pytest.raises(ImportError, match=r"^cdk-nag is not installed: pip install 'sagemaker-tiers\[nag\]'$"):
        add_gates(App())


def test_control_tower_rules_follow_the_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, gates.CFN_GUARD_MODULE, None)  # the plugin is not installed
    assert add_gates(App()) == ("AwsSolutions", "Serverless")
    with pytest.raises(ImportError, match=r"control_tower=True needs cdklabs' cfn-guard plugin: pip install cdklabs.cdk-validator-cfnguard"):
        add_gates(App(), control_tower=True)
