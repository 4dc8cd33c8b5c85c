"""Cold-start import time of every Lambda handler module, beyond boto3's own import.

Each run is a fresh interpreter (``python -S``-free, ``-B`` so no bytecode is written) that puts the handler's
folder first on ``sys.path`` (as Lambda puts the code root), imports boto3, then the handler module, and reports
both durations. Lambda's Python runtime imports neither before the handler module, so the handler's cold-start
import is boto3 (which every function here uses) plus what the module adds beyond it: the figure the issue bounds
(at most 150 ms beyond boto3). Powertools is imported from the environment's site-packages here, as Lambda
imports it from the layer's ``/opt/python``; the code is the same version (pinned in pyproject.toml).

The page cache is warm after the first run (as on a Lambda host that already holds the layer), so runs are
repeated and the median is reported; the first run of each module is a warm-up and is discarded.

    python scripts/bench_cold_start.py [--runs 7] [--markdown]

Prints one row per handler: median ms for boto3, median ms beyond it, and the maximum beyond it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "constructs" / "sagemaker_tiers"

#: (folder under sagemaker_tiers, module): every handler a construct deploys (the module named by a function's
#: ``handler``), found from the folders so that a new handler is measured without editing this list.
HANDLER_FOLDERS = ("registry/approval_handlers", "registry/group_handlers", "studio/studio_handlers", "autopilot/autopilot_handlers")

_PROBE = """
import sys, time, json
sys.path.insert(0, {folder!r})
t0 = time.perf_counter()
import boto3
t1 = time.perf_counter()
import {module}
t2 = time.perf_counter()
print(json.dumps({{"boto3": (t1 - t0) * 1000, "beyond": (t2 - t1) * 1000}}))
"""


def handler_modules() -> list[tuple[str, str]]:
    """Every module of a handler folder that defines a Lambda entry point (``def handler(``)."""
    found = []
    for folder in HANDLER_FOLDERS:
        for path in sorted((PACKAGE / folder).glob("*.py")):
            if "\ndef handler(" in path.read_text(encoding="utf-8"):
                found.append((folder, path.stem))
    return found


def measure(folder: str, module: str, runs: int) -> dict[str, float]:
    boto3_ms: list[float] = []
    beyond_ms: list[float] = []
    env = {"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin", "POWERTOOLS_SERVICE_NAME": "bench",
           "POWERTOOLS_METRICS_NAMESPACE": "bench"}
    for i in range(runs + 1):
        out = subprocess.run(
            [sys.executable, "-B", "-c", _PROBE.format(folder=str(PACKAGE / folder), module=module)],
            capture_output=True, text=True, check=True, env=env,
        ).stdout.strip().splitlines()[-1]
        if i == 0:
            continue  # warm-up: fills the page cache
        sample = json.loads(out)
        boto3_ms.append(sample["boto3"])
        beyond_ms.append(sample["beyond"])
    return {"boto3": statistics.median(boto3_ms), "beyond": statistics.median(beyond_ms), "beyond_max": max(beyond_ms)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    rows = [(folder, module, measure(folder, module, args.runs)) for folder, module in handler_modules()]
    if args.markdown:
        print(f"| Handler module | boto3 import (median ms) | beyond boto3 (median ms) | beyond boto3 (max ms) |")
        print("|---|---:|---:|---:|")
        for folder, module, m in rows:
            print(f"| `{folder}/{module}` | {m['boto3']:.0f} | {m['beyond']:.0f} | {m['beyond_max']:.0f} |")
    else:
        for folder, module, m in rows:
            print(f"{folder}/{module}: boto3 {m['boto3']:.0f} ms, beyond boto3 {m['beyond']:.0f} ms (max {m['beyond_max']:.0f} ms)")
    print(f"\n{args.runs} fresh interpreters per module (after one warm-up), Python {sys.version.split()[0]}.")


if __name__ == "__main__":
    main()
