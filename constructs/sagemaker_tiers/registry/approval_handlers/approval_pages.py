"""HTML of the approval pages: what a reviewer decides on, what each button causes, and what was decided.

Pure functions (no AWS calls): the API gathers the facts, these render them. Every value from outside
(package fields, report contents, the recorded decision) is escaped. The pages load nothing external:
one inline style sheet and one inline script, allowed by the Content-Security-Policy through its hash.

The script does two things, both only conveniences on top of what the server enforces:
- a page restored from the browser's back/forward cache (``pageshow`` with ``persisted``) reloads, so a
  review page left behind after a decision never offers working buttons (the server would refuse them
  with 409 anyway);
- after the form is submitted its buttons are disabled, so a double click sends one request.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import approval_common as common

COMMENT_MAX = 1000
NAME_MAX = 100

SCRIPT = (
    "addEventListener('pageshow',function(e){if(e.persisted)location.reload()});"
    "document.addEventListener('submit',function(e){var b=e.target.querySelectorAll('button');"
    "setTimeout(function(){for(var i=0;i<b.length;i++)b[i].disabled=true},0)});"
)
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

STYLE = (
    "*{box-sizing:border-box}"
    "body{font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1b1b1b;background:#f6f7f9}"
    "main{max-width:46rem;margin:0 auto;padding:1rem;background:#fff;min-height:100vh}"
    "h1{font-size:1.5rem;line-height:1.25;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}"
    "p,li{overflow-wrap:anywhere}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;vertical-align:top;padding:.4rem .5rem .4rem 0;border-bottom:1px solid #e3e5e8}"
    "th{font-weight:600;width:38%}td{overflow-wrap:anywhere}"
    ".note{background:#eef4ff;border-left:4px solid #3561c4;padding:.6rem .8rem;margin:1rem 0}"
    ".warn{background:#fff4e5;border-left:4px solid #b35c00;padding:.6rem .8rem;margin:1rem 0}"
    ".effects li{margin:.4rem 0}"
    "label{display:block;font-weight:600;margin:1rem 0 .3rem}"
    "textarea,input[type=text]{display:block;width:100%;font-size:16px;padding:.6rem;border:1px solid #8a9099;border-radius:6px}"
    "textarea{min-height:6rem}"
    ".actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1.25rem}"
    "button{font-size:16px;min-height:48px;padding:.75rem 1.5rem;border-radius:6px;cursor:pointer;flex:1 1 12rem}"
    "button.approve{background:#1a7f37;border:2px solid #1a7f37;color:#fff;font-weight:700}"
    "button.reject{background:#fff;border:2px solid #b42318;color:#b42318;font-weight:700}"
    "button.secondary{background:#fff;border:2px solid #3561c4;color:#3561c4;font-weight:600}"
    "button:disabled{opacity:.6;cursor:default}"
    "small{color:#555}"
)

_PLAIN_STATUS = {
    common.PENDING: "waiting for a decision",
    common.APPROVED: "approved",
    common.REJECTED: "rejected",
}
# "<Status> by <actor> via <channel> at <time>. Comment: <comment>" (approval_api.approval_description).
_DESCRIPTION_RE = re.compile(
    r"^(?P<status>Approved|Rejected) by (?P<actor>.*) via (?P<channel>.*) at "
    r"(?P<when>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\. Comment: (?P<comment>.*)\Z",
    re.DOTALL,
)


@dataclass(frozen=True)
class Metric:
    name: str
    value: str


@dataclass(frozen=True)
class Report:
    label: str
    uri: str
    console_url: str | None
    metrics: tuple[Metric, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class GroupState:
    """The group's approved and serving versions (None: none; "" unknown)."""

    approved: str | None = ""
    serving: str | None = ""


@dataclass(frozen=True)
class Facts:
    package: dict[str, Any]
    now: float
    group: GroupState = field(default_factory=GroupState)
    reports: tuple[Report, ...] = ()


def plain_status(status: str | None) -> str:
    return _PLAIN_STATUS.get(status or "", status or "unknown")


def duration_text(seconds: float) -> str:
    """``2 days 3 hours``, ``45 minutes``, ``less than a minute``."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    for amount, unit in ((days, "day"), (hours, "hour"), (minutes, "minute")):
        if amount:
            parts.append(f"{amount} {unit}{'s' if amount != 1 else ''}")
    return " ".join(parts[:2]) or "less than a minute"


def when_text(ts: float | datetime | None, now: float) -> str:
    """``30 Nov 2026, 14:05 UTC (in 2 days 3 hours)`` or ``(... ago)``."""
    if ts is None:
        return "unknown"
    moment = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, tz=timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    delta = moment.timestamp() - now
    relative = f"in {duration_text(delta)}" if delta > 0 else f"{duration_text(delta)} ago"
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC ({relative})"


def version_of(package: dict[str, Any]) -> str:
    version = package.get("ModelPackageVersion") or common.version_from_arn(package.get("ModelPackageArn", ""))
    return f"v{version}" if version else "?"


def label_of(package: dict[str, Any]) -> str:
    return f"{package.get('ModelPackageGroupName', '?')} {version_of(package)}"


def recorded_decision(package: dict[str, Any]) -> dict[str, str] | None:
    """Who decided, how, when and with what comment, from ApprovalDescription (None while pending)."""
    status = package.get("ModelApprovalStatus")
    if status not in (common.APPROVED, common.REJECTED):
        return None
    text = package.get("ApprovalDescription") or ""
    match = _DESCRIPTION_RE.match(text)
    if match:
        when = datetime.strptime(match.group("when"), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return {
            "status": match.group("status"),
            "who": match.group("actor"),
            "how": match.group("channel"),
            "when": when.strftime("%-d %b %Y, %H:%M:%S UTC"),
            "comment": match.group("comment"),
        }
    modified = package.get("LastModifiedTime")
    who = (package.get("LastModifiedBy") or {}).get("UserProfileName") or (
        (package.get("LastModifiedBy") or {}).get("IamIdentity") or {}
    ).get("Arn")
    return {
        "status": status,
        "who": who or "someone outside this approval page (Studio, the CLI or the SDK)",
        "how": "SageMaker Studio, the CLI or the SDK",
        "when": modified.astimezone(timezone.utc).strftime("%-d %b %Y, %H:%M:%S UTC") if isinstance(modified, datetime) else "unknown",
        "comment": text or "-",
    }


# ------------------------------------------------------------------ building blocks


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _rows(rows: list[tuple[str, str]]) -> str:
    """A table of (label, already-escaped HTML) rows."""
    return "<table>" + "".join(f"<tr><th scope=row>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def page(title: str, body_html: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{_e(title)}</h1>{body_html}</main><script>{SCRIPT}</script></body></html>"
    )


def message_page(title: str, message: str, extra_html: str = "") -> str:
    return page(title, f"<p>{_e(message)}</p>{extra_html}")


def package_table(facts: Facts, token_exp: int | None = None) -> str:
    package = facts.package
    created = package.get("CreationTime")
    rows = [
        ("Model", _e(label_of(package))),
        ("Status now", _e(plain_status(package.get("ModelApprovalStatus")))),
        ("Description", _e(package.get("ModelPackageDescription") or "-")),
        ("Created", _e(when_text(created, facts.now) if created is not None else "unknown")),
        ("Created by", _e(common.creator_text(package))),
        ("Package ARN", f"<small>{_e(package.get('ModelPackageArn', '?'))}</small>"),
    ]
    if token_exp is not None:
        rows.append(("This link works until", _e(when_text(token_exp, facts.now))))
    return _rows(rows)


def group_table(facts: Facts) -> str:
    group = facts.package.get("ModelPackageGroupName", "?")

    def version_text(arn: str | None) -> str:
        if arn is None:
            return "none"
        if arn == "":
            return "unknown (could not be read)"
        version = common.version_from_arn(arn)
        if arn == facts.package.get("ModelPackageArn"):
            return f"v{version} (this version)"
        return f"v{version}" if version else arn

    return _rows(
        [
            (f"Approved version of {group}", _e(version_text(facts.group.approved))),
            (f"Serving version of {group}", _e(version_text(facts.group.serving))),
        ]
    )


def report_title(label: str) -> str:
    """``ModelQuality.Statistics`` -> ``Model quality: statistics``."""
    words = [re.sub(r"(?<=[a-z])(?=[A-Z])", " ", part).lower() for part in label.split(".")]
    text = ": ".join(words)
    return text[:1].upper() + text[1:]


def metrics_html(facts: Facts) -> str:
    if not facts.reports:
        return "<p>No metrics reports were registered with this version.</p>"
    parts = []
    for report in facts.reports:
        link = (
            f'<a href="{_e(report.console_url)}" rel="noreferrer noopener">full report</a>'
            if report.console_url
            else _e(report.uri)
        )
        if report.metrics:
            table = _rows([(m.name, _e(m.value)) for m in report.metrics])
        else:
            table = f"<p>{_e(report.problem or 'No values could be read from this report.')}</p>"
        parts.append(f"<h3>{_e(report_title(report.label))}</h3>{table}<p><small>{link}: {_e(report.uri)}</small></p>")
    return "".join(parts)


def effects_html(facts: Facts) -> str:
    package = facts.package
    this = version_of(package)
    approved = facts.group.approved
    if approved:
        previous = f"{version_of({'ModelPackageArn': approved})}"
        approve_replaces = f", replacing {previous}" if approved != package.get("ModelPackageArn") else ""
        reject_keeps = f"{previous} stays the approved version and keeps serving."
    else:
        approve_replaces = ""
        reject_keeps = "Nothing else is approved, so nothing is deployed."
    return (
        "<ul class=effects>"
        f"<li><strong>Approve</strong>: {_e(this)} becomes the approved version{_e(approve_replaces)}. "
        "The inference endpoint then deploys it automatically, with no further step.</li>"
        f"<li><strong>Reject</strong>: {_e(this)} is marked rejected and is never deployed. {_e(reject_keeps)}</li>"
        "</ul>"
    )


def review_page(facts: Facts, token: str, token_exp: int) -> str:
    """The review page with the decision form (a pending package and an unused link)."""
    label = label_of(facts.package)
    # The first submit button is the form's default button; it is disabled so that pressing
    # Enter in a text field submits nothing instead of approving.
    form = (
        '<form method="post" action="decision">'
        f'<input type="hidden" name="token" value="{_e(token)}">'
        '<label for="comment">Comment (optional, kept with the decision)</label>'
        f'<textarea id="comment" name="comment" rows="4" maxlength="{COMMENT_MAX}"></textarea>'
        '<label for="name">Your name (optional, kept with the decision)</label>'
        f'<input type="text" id="name" name="name" maxlength="{NAME_MAX}" autocomplete="name">'
        '<button type="submit" disabled hidden aria-hidden="true"></button>'
        '<div class="actions">'
        f'<button type="submit" class="approve" name="decision" value="approve">Approve {_e(version_of(facts.package))}</button>'
        f'<button type="submit" class="reject" name="decision" value="reject">Reject {_e(version_of(facts.package))}</button>'
        "</div></form>"
    )
    body = (
        '<p class="note">Opening this page changed nothing. Nothing happens until you press Approve or Reject, '
        "and this link can record one decision.</p>"
        "<h2>What each button does</h2>"
        f"{effects_html(facts)}"
        "<h2>Key metrics</h2>"
        f"{metrics_html(facts)}"
        "<h2>This version</h2>"
        f"{package_table(facts, token_exp)}"
        "<h2>The group now</h2>"
        f"{group_table(facts)}"
        "<h2>Your decision</h2>"
        f"{form}"
    )
    return page(f"Review model {label}", body)


def decision_html(package: dict[str, Any]) -> str:
    decided = recorded_decision(package)
    if decided is None:
        return ""
    return "<h2>The recorded decision</h2>" + _rows(
        [
            ("Decision", _e(plain_status(decided["status"]))),
            ("Decided by", _e(decided["who"])),
            ("How", _e(decided["how"])),
            ("When", _e(decided["when"])),
            ("Comment", _e(decided["comment"])),
        ]
    )


def next_steps_html(package: dict[str, Any]) -> str:
    status = package.get("ModelApprovalStatus")
    this = version_of(package)
    if status == common.APPROVED:
        text = (
            f"{this} is now an approved version of {package.get('ModelPackageGroupName', '?')}. If it is the newest "
            "approved version, the approved-model parameter points at it and the inference endpoint deploys it "
            "automatically within minutes; the administrators are told if the deployment fails."
        )
    elif status == common.REJECTED:
        text = f"{this} will not be deployed. The newest version still approved, if any, keeps serving."
    else:
        text = f"{this} is waiting for a decision."
    return f"<h2>What happens next</h2><p>{_e(text)}</p>"


def result_page(facts: Facts, status: str) -> str:
    label = label_of(facts.package)
    verb = "approved" if status == common.APPROVED else "rejected"
    body = (
        f'<p class="note">Your decision was recorded: {_e(label)} is now {_e(plain_status(status))}. Thank you.</p>'
        f"{decision_html(facts.package)}{next_steps_html(facts.package)}"
        "<p><small>This page cannot be used to decide again; the link is spent.</small></p>"
    )
    return page(f"Model {label} {verb}", body)


def decided_html(package: dict[str, Any], now: float) -> str:
    """The body of a "this version was already decided" answer."""
    return decision_html(package) + next_steps_html(package) + package_table(Facts(package=package, now=now))


def renew_form(token: str) -> str:
    return (
        '<form method="post" action="renew">'
        f'<input type="hidden" name="token" value="{_e(token)}">'
        "<p>The administrators can be sent a new review link for this version (it is still waiting for a "
        "decision). The new link goes to the administrators' email list, not to you.</p>"
        '<div class="actions"><button type="submit" class="secondary">Send a new link to the administrators</button></div>'
        "</form>"
    )
