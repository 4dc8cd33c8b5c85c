"""Print every accepted finding of a synthesized app, each with its reason.

cdk-nag and Control Tower (cdk-validator-cfnguard) acknowledgments come from ``validation-report.json``; checkov skips from each template's
``Metadata.checkov.skip``. Usage: python scripts/nag_report.py cdk.out/validation-report.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: str) -> int:
    report = json.loads(Path(path).read_text())
    rows = []
    for plugin in report.get("pluginReports", []):
        for violation in plugin.get("violations", []):
            for construct in violation["violatingConstructs"]:
                rows.append(("UNACKNOWLEDGED", violation["ruleName"], construct["constructPath"], ""))
        for suppressed in plugin.get("suppressedViolations", []):
            for construct in suppressed["violatingConstructs"]:
                rows.append(("acknowledged", suppressed["acknowledgedId"], construct["constructPath"], suppressed["reason"]))
    for status, rule, path_, reason in sorted(rows, key=lambda r: (r[0] != "UNACKNOWLEDGED", r[1], r[2])):
        print(f"{status:15} {rule}\n    at {path_}\n    {reason}")
    print(f"{len(rows)} cdk-nag and Control Tower findings, {sum(r[0] == 'UNACKNOWLEDGED' for r in rows)} unacknowledged")
    skips = 0
    for template in sorted(Path(path).parent.glob("*.template.json")):
        for logical_id, resource in json.loads(template.read_text())["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                skips += 1
                print(f"checkov skip    {skip['id']}\n    at {template.name} {logical_id}\n    {skip['comment']}")
    print(f"{skips} checkov checks skipped on single resources (none globally)")
    return 1 if any(r[0] == "UNACKNOWLEDGED" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "cdk.out/validation-report.json"))
