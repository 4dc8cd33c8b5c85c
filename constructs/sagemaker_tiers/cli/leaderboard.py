"""An Autopilot run's leaderboard (``autopilot leaderboard``): the ``leaderboard.json`` the run's leaderboard
function wrote (autopilot_handlers/autopilot_leaderboard.py), found through the execution's output
(``leaderboard.Json``), read from the ML bucket."""

from __future__ import annotations

import json
from typing import Any

from sagemaker_tiers.cli.errors import CliError


def _s3_location(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise CliError("BadLeaderboard", f"the run's leaderboard location is not an s3:// URI: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def leaderboard(session: Any, execution_arn: str) -> dict[str, Any]:
    """The run's leaderboard document; CliError when the run has not produced one."""
    execution = session.client("stepfunctions").describe_execution(executionArn=execution_arn)
    if execution["status"] != "SUCCEEDED":
        raise CliError("NoLeaderboard", f"run {execution['name']} is {execution['status']}: only a succeeded run has a leaderboard")
    try:
        location = json.loads(execution.get("output") or "{}")["leaderboard"]["Json"]
    except (ValueError, KeyError, TypeError):
        raise CliError("NoLeaderboard", f"run {execution['name']} has no leaderboard in its output") from None
    bucket, key = _s3_location(location)
    body = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        document = json.loads(body)
    except ValueError:
        raise CliError("BadLeaderboard", f"{location} is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("Candidates"), list):
        raise CliError("BadLeaderboard", f"{location} holds no Candidates list")
    return document


def bars(values: list[float | None], width: int) -> list[str]:
    """A bar per value, its length proportional to the value between 0 and the largest absolute value."""
    present = [abs(v) for v in values if v is not None]
    top = max(present, default=0.0)
    out = []
    for value in values:
        if value is None or top == 0:
            out.append("")
            continue
        eighths = round(abs(value) / top * width * 8)
        full, part = divmod(eighths, 8)
        out.append("█" * full + (" ▏▎▍▌▋▊▉"[part] if part else ""))
    return out
