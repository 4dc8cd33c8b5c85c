"""Benchmarks, not tests: synth time of the full app against a one-bucket app, and resources per stack.

Each app is synthesized in a fresh Python process (what `cdk synth` pays), alternating full and baseline runs
back to back, ``--runs`` times each. Prints medians and the resource count of every stack of the full app.

Usage: python scripts/bench.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FULL_APP = """
import json, sys
sys.path[:0] = ['{root}', '{root}/constructs']
from aws_cdk import App
from stacks.app import add_nag_checks, build_app
ctx = json.load(open('{root}/cdk.json'))['context']
ctx.update({extra})
app = App(outdir='{outdir}', context=ctx)
add_nag_checks(app)
build_app(app)
app.synth()
"""

BASELINE_APP = """
from aws_cdk import App, Stack, aws_s3 as s3
app = App(outdir='{outdir}')
s3.Bucket(Stack(app, 'Baseline'), 'Bucket')
app.synth()
"""


def _time(source: str, outdir: Path, extra: dict | None = None) -> float:
    code = source.format(root=ROOT, outdir=outdir, extra=repr(extra or {}))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


#: Tier context keys that must name one of the registry's groups.
GROUP_KEYS = ("training_model_package_group", "autopilot_model_package_group", "inference_group")


def scaling_context(count: int) -> dict:
    """Context overrides for an app with ``count`` groups; the tiers that use one group point at the first."""
    return {
        "sagemaker-tiers:model_package_groups": [f"group-{i}" for i in range(count)],
        **{f"sagemaker-tiers:{key}": "group-0" for key in GROUP_KEYS},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    full, baseline = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            full.append(_time(FULL_APP, Path(tmp) / f"full{i}"))
            baseline.append(_time(BASELINE_APP, Path(tmp) / f"base{i}"))
        print(f"synth, fresh process, median of {args.runs}:")
        print(f"  full app (with cdk-nag): {statistics.median(full):6.2f} s   runs: {', '.join(f'{t:.2f}' for t in full)}")
        print(f"  one-bucket app:          {statistics.median(baseline):6.2f} s   runs: {', '.join(f'{t:.2f}' for t in baseline)}")
        print("resources per stack of the full app:")
        total = 0
        for template in sorted((Path(tmp) / "full0").glob("*.template.json")):
            resources = json.loads(template.read_text())["Resources"]
            total += len(resources)
            top = ", ".join(f"{t.split('::', 1)[1]} {n}" for t, n in Counter(r["Type"] for r in resources.values()).most_common(4))
            print(f"  {template.name.removesuffix('.template.json'):40} {len(resources):4}   ({top}, ...)")
        print(f"  {'total':40} {total:4}")

        print("registry scaling (model package groups watched by one approval workflow):")
        for count in (1, 50):
            extra = scaling_context(count)
            outdir = Path(tmp) / f"groups{count}"
            seconds = statistics.median(_time(FULL_APP, outdir, extra) for _ in range(args.runs))
            registry = next(outdir.glob("*-registry.template.json"))
            resources = len(json.loads(registry.read_text())["Resources"])
            print(f"  {count:3} groups: registry stack {resources:4} resources, full-app synth {seconds:6.2f} s")


if __name__ == "__main__":
    main()
