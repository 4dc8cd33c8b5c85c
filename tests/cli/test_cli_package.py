"""The CLI is an optional extra that stays light: no aws_cdk import, a console script, a clean --help."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner

from sagemaker_tiers.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_the_cli_imports_nothing_from_aws_cdk() -> None:
    code = (
        "import sys, sagemaker_tiers.cli.main; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'aws_cdk', 'jsii', 'constructs', 'cdk_nag'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT / "constructs")
    assert out.stdout.strip() == "[]"


def test_library_exports_still_load_on_use() -> None:
    import sagemaker_tiers

    assert sagemaker_tiers.MlBucket.__name__ == "MlBucket"
    assert set(sagemaker_tiers.__all__) <= set(dir(sagemaker_tiers))


def test_console_script_and_extra_are_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["sagemaker-tiers"] == "sagemaker_tiers.cli.main:main"
    cli_extra = {r.split(">")[0].split("=")[0] for r in project["optional-dependencies"]["cli"]}
    assert {"click", "rich", "boto3"} <= cli_extra
    dev = {r.split("==")[0] for r in project["optional-dependencies"]["dev"]}
    assert {"click", "rich"} <= dev
    assert all(not r.startswith(("click", "rich")) for r in project["dependencies"])


def test_usage_errors_exit_2_without_a_traceback() -> None:
    result = CliRunner().invoke(main.cli, ["status", "--limit", "0"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    help_text = CliRunner().invoke(main.cli, ["--help"]).output
    assert "approvals" in help_text and "status" in help_text and "--output" in help_text
