"""Cold-start import time of every Lambda handler module, beyond boto3's own import.

Each sample is a fresh interpreter (``-B``: no bytecode written) that puts the handler's folder first on
``sys.path`` (as Lambda puts the code root), imports boto3, then the handler module, and reports both durations.
Lambda's Python runtime imports neither before the handler module, so a handler's cold-start import is boto3 (which
every function here uses) plus what the module adds beyond it: the figure issue 17 bounds (at most 150 ms beyond
boto3). Powertools is imported from this environment's site-packages, as Lambda imports it from the layer's
``/opt/python``: the same release (pinned in pyproject.toml and core/functions.py).

Times are CPU time of the importing process (``time.process_time``), which a busy machine inflates far less than
wall-clock time (an import is CPU-bound once its files are in the page cache); the wall-clock median is printed
too.

``--compare REF`` measures the handler folders of git revision REF too (extracted with ``git archive`` into a
temporary directory), sample by sample interleaved with the working tree's, so that both columns see the same
machine load. The first sample of each is a warm-up (page cache) and is discarded; the median is reported.

    python scripts/bench_cold_start.py [--runs 9] [--compare 390e42d] [--markdown]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path("constructs") / "sagemaker_tiers"

#: Handler folders (under sagemaker_tiers); each module in them that defines ``handler(`` is a Lambda entry point.
HANDLER_FOLDERS = ("registry/approval_handlers", "registry/group_handlers", "studio/studio_handlers", "autopilot/autopilot_handlers")

_PROBE = """
import sys, time, json
sys.path.insert(0, {folder!r})
c0, t0 = time.process_time(), time.perf_counter()
import boto3
c1, t1 = time.process_time(), time.perf_counter()
import {module}
c2, t2 = time.process_time(), time.perf_counter()
print(json.dumps({{"boto3": (c1 - c0) * 1000, "beyond": (c2 - c1) * 1000, "wall_boto3": (t1 - t0) * 1000, "wall_beyond": (t2 - t1) * 1000}}))
"""

_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "PATH": "/usr/bin:/bin",
    # What the function factory sets on every function (Logger and Metrics read them at import).
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "bench",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


def handler_modules(root: Path) -> list[tuple[str, str]]:
    """``(folder, module)`` of every module of a handler folder that defines a Lambda entry point."""
    found = []
    for folder in HANDLER_FOLDERS:
        for path in sorted((root / PACKAGE / folder).glob("*.py")):
            if "\ndef handler(" in path.read_text(encoding="utf-8"):
                found.append((folder, path.stem))
    return found


def sample(root: Path, folder: str, module: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-B", "-c", _PROBE.format(folder=str(root / PACKAGE / folder), module=module)],
        capture_output=True, text=True, check=True, env=_ENV,
    ).stdout.strip().splitlines()[-1]
    return json.loads(out)


def summary(samples: list[dict[str, float]]) -> dict[str, float]:
    beyond = [s["beyond"] for s in samples]
    return {
        "boto3": statistics.median(s["boto3"] for s in samples),
        "beyond": statistics.median(beyond),
        "beyond_max": max(beyond),
        "wall_beyond": statistics.median(s["wall_beyond"] for s in samples),
    }


def checkout(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, str(PACKAGE)], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="samples per module after the warm-up (default 9)")
    parser.add_argument("--compare", metavar="REF", help="also measure the handlers of this git revision")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"now": ROOT}
        if args.compare:
            trees = {args.compare: checkout(args.compare, Path(tmp)), "now": ROOT}
        modules = handler_modules(ROOT)
        results: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
        for folder, module in modules:
            samples: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
            for i in range(args.runs + 1):
                for label, root in trees.items():  # interleaved: both trees see the same load
                    if (root / PACKAGE / folder / f"{module}.py").exists():
                        measured = sample(root, folder, module)
                        if i:
                            samples[label].append(measured)
            results[(folder, module)] = {label: summary(s) for label, s in samples.items() if s}
    labels = list(trees)
    if args.markdown:
        head = "| Handler module | boto3 import (CPU ms) |" + "".join(
            f" beyond boto3, {label} (CPU ms, median / max; wall median) |" for label in labels
        )
        print(head)
        print("|---|---:|" + "---:|" * len(labels))
        for (folder, module), by_label in results.items():
            cells = "".join(
                f" {by_label[label]['beyond']:.0f} / {by_label[label]['beyond_max']:.0f}; {by_label[label]['wall_beyond']:.0f} |"
                if label in by_label
                else " - |"
                for label in labels
            )
            print(f"| `{folder}/{module}` | {by_label['now']['boto3']:.0f} |{cells}")
    else:
        for (folder, module), by_label in results.items():
            parts = ", ".join(
                f"{label}: beyond boto3 {m['beyond']:.0f} ms CPU (max {m['beyond_max']:.0f}, wall {m['wall_beyond']:.0f})"
                for label, m in by_label.items()
            )
            print(f"{folder}/{module}: boto3 {by_label['now']['boto3']:.0f} ms CPU; {parts}")
    print(f"\n{args.runs} fresh interpreters per module and tree (after one warm-up), Python {sys.version.split()[0]}.")


if __name__ == "__main__":
    main()
