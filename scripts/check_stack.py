"""Gate one tier stack while developing it: cdk-nag, cfn-lint and checkov on foundation + registry + it.

Usage: python scripts/check_stack.py stacks.training_stack:TrainingStack [--out /tmp/training-out]

The stack class must take ``(scope, id, *, config, foundation, registry)`` like every tier stack. Prints each
gate's findings and exits non-zero if any gate fails. ``make test`` runs the same gates on the whole app.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "constructs")]

from aws_cdk import App  # noqa: E402

from stacks.app import add_nag_checks  # noqa: E402
from tests.conftest import app_context, base_stacks  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("stack", help="module:Class, e.g. stacks.training_stack:TrainingStack")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    module, _, name = args.stack.partition(":")
    stack_cls = getattr(importlib.import_module(module), name)
    out = Path(args.out or tempfile.mkdtemp(prefix="check-stack-"))
    app = App(outdir=str(out), context=app_context())
    add_nag_checks(app)
    config, foundation, registry = base_stacks(app)
    stack_cls(app, f"{config.project_name}-check", config=config, foundation=foundation, registry=registry)
    failed = False
    try:
        app.synth()
        print(f"cdk-nag: ok ({out}/validation-report.json)")
    except Exception as error:  # the report says which findings
        print(f"cdk-nag: FAILED\n{error}")
        return 1
    lint = subprocess.run(
        [str(ROOT / ".venv/bin/cfn-lint"), "--config-file", str(ROOT / ".cfnlintrc.yaml"), "--", *map(str, out.glob("*.template.json"))],
        capture_output=True,
        text=True,
    )
    print("cfn-lint:", "ok" if lint.returncode == 0 else f"FAILED\n{lint.stdout}{lint.stderr}")
    failed |= lint.returncode != 0
    checkov = subprocess.run(
        [str(ROOT / ".venv-checkov/bin/checkov"), "--config-file", str(ROOT / ".checkov.yaml"), "-d", str(out)],
        capture_output=True,
        text=True,
        cwd=out,
    )
    print("checkov:", "ok" if checkov.returncode == 0 else "FAILED")
    print(checkov.stdout[-6000:])
    failed |= checkov.returncode != 0
    report = json.loads((out / "validation-report.json").read_text())
    acks = sum(len(p.get("suppressedViolations", [])) for p in report["pluginReports"])
    print(f"acknowledged cdk-nag findings in the app: {acks}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
