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


#: Layout of the SVG chart, in pixels.
_SVG_WIDTH = 860
_SVG_LABEL_WIDTH = 300
_SVG_VALUE_WIDTH = 90
_SVG_ROW = 26
_SVG_TOP = 56
_SVG_BAR_HEIGHT = 18


def svg_chart(rows: list[dict[str, Any]], metric: str, direction: str, best: str | None, title: str) -> str:
    """A horizontal bar chart of the objective metric, one bar per row (ranked order, best marked), as a standalone
    SVG document; written by hand so the CLI needs no plotting library (GitHub and browsers render it).

    Bars start at zero: negative values (an R2 below zero) extend left of the zero line. A row without a value gets
    an empty bar and the text "no value".
    """
    from xml.sax.saxutils import escape, quoteattr

    values = [r.get("objective_value") for r in rows]
    present = [float(v) for v in values if isinstance(v, (int, float))]
    low, high = min([0.0, *present]), max([0.0, *present])
    span = (high - low) or 1.0
    area = _SVG_WIDTH - _SVG_LABEL_WIDTH - _SVG_VALUE_WIDTH - 20
    zero_x = _SVG_LABEL_WIDTH + (0.0 - low) / span * area
    height = _SVG_TOP + _SVG_ROW * len(rows) + 16
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_SVG_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_SVG_WIDTH} {height}" font-family="sans-serif" font-size="13" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{_SVG_WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="12" y="24" font-size="16" font-weight="bold">{escape(title)}</text>',
        f'<text x="12" y="44" fill="#555555">{escape(metric)} ({escape(direction)}); best: {escape(best or "none")}</text>',
    ]
    for index, (row, value) in enumerate(zip(rows, values)):
        y = _SVG_TOP + index * _SVG_ROW
        name = str(row.get("candidate_name"))
        rank = row.get("rank")
        is_best = name == best
        label = f"{rank}. {name}" if rank is not None else f"{name} (not ranked)"
        if isinstance(value, (int, float)):
            x1 = _SVG_LABEL_WIDTH + (float(value) - low) / span * area
            x, width = min(zero_x, x1), abs(x1 - zero_x)
            shown = f"{float(value):.6g}"
        else:
            x, width, shown = zero_x, 0.0, "no value"
        fill = "#2e7d32" if is_best else "#4a78b5"
        weight = ' font-weight="bold"' if is_best else ""
        out += [
            f'<g class="bar" data-rank={quoteattr(str(rank if rank is not None else ""))} data-candidate={quoteattr(name)}>',
            f'<text x="{_SVG_LABEL_WIDTH - 8}" y="{y + 14}" text-anchor="end"{weight}>{escape(label)}</text>',
            f'<rect x="{x:.1f}" y="{y + 2}" width="{width:.1f}" height="{_SVG_BAR_HEIGHT}" fill="{fill}"/>',
            f'<text x="{_SVG_WIDTH - _SVG_VALUE_WIDTH - 12}" y="{y + 14}">{escape(shown)}</text>',
            "</g>",
        ]
    axis_bottom = _SVG_TOP + _SVG_ROW * len(rows)
    out.append(f'<line x1="{zero_x:.1f}" y1="{_SVG_TOP - 2}" x2="{zero_x:.1f}" y2="{axis_bottom}" stroke="#333333"/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
