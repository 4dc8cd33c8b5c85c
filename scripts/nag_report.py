"""Print every acknowledged cdk-nag finding of a synthesized app: rule, construct path, reason.

Usage: python scripts/nag_report.py cdk.out/validation-report.json
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
    print(f"{len(rows)} findings, {sum(r[0] == 'UNACKNOWLEDGED' for r in rows)} unacknowledged")
    return 1 if any(r[0] == "UNACKNOWLEDGED" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "cdk.out/validation-report.json"))
