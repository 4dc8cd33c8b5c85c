"""Approval API: review pages and decisions for model packages pending manual approval.

API Gateway REST API, Lambda proxy integration (payload format 1.0).

Environment:
- SECRET_ARN: Secrets Manager secret whose SecretString signs the review tokens.
- TABLE_NAME: DynamoDB table (partition key ``pk`` (S), TTL attribute ``expires_at``).
- WATCHED_GROUPS: comma-separated model package group names; any other package is unknown.

Routes:
- ``GET /review?token=...``: read-only page about the package the token is bound to, with the
  decision form while the package is PendingManualApproval and the token unused.
  400 missing/malformed token, 403 bad signature or unknown package, 410 expired,
  409 already decided or token already used.
- ``POST /decision``: the form (``application/x-www-form-urlencoded``: token, decision,
  comment, name). The model package ARN comes only from the signed token. The token is
  claimed (``token#<jti>``, conditional PutItem) before UpdateModelPackage; if the update
  fails the claim is deleted and 503 returned, so the link still works.
- ``POST /decisions``: IAM-authorized JSON API for programs (the caller is
  ``requestContext.identity.userArn``). Idempotent through the pending check (409).

Every response carries no-store, nosniff, a restrictive CSP, no-referrer and DENY framing.
Errors never include exception text; unexpected ones are logged and answered with 500.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import time
import traceback
import unicodedata
import urllib.parse
from dataclasses import dataclass
from typing import Any

import approval_tokens
import approval_common as common
from approval_common import log

COMMENT_MAX = 1000
NAME_MAX = 100
BODY_MAX_BYTES = 16 * 1024
APPROVAL_DESCRIPTION_MAX = 1024
RECORD_RETENTION_SECONDS = 7 * 24 * 3600
# A claim older than this whose decision never reached SageMaker (the package is still
# pending) belongs to an invocation that died; it may be taken over.
CLAIM_LEASE_SECONDS = 300

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
HTML_TYPE = "text/html; charset=utf-8"
JSON_TYPE = "application/json"

_DECISIONS = {"approve": common.APPROVED, "reject": common.REJECTED}
_FORM_FIELDS = frozenset({"token", "decision", "comment", "name"})
_JSON_FIELDS = frozenset({"modelPackageArn", "decision", "comment"})
_ROUTES = {"/review": "GET", "/decision": "POST", "/decisions": "POST"}

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "th{text-align:left;vertical-align:top;padding-right:1rem}td{word-break:break-all}"
    "textarea,input[type=text]{width:100%;box-sizing:border-box}button{margin:1rem 1rem 0 0;padding:.5rem 1.5rem}"
)


class HttpError(Exception):
    """An expected refusal: rendered as a small page (browser routes) or ``{"message"}`` JSON."""

    def __init__(self, status: int, title: str, message: str, extra_html: str = "") -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message
        self.extra_html = extra_html


@dataclass(frozen=True)
class Config:
    secret_arn: str
    table_name: str
    watched_groups: frozenset[str]

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            secret_arn=common.require_env("SECRET_ARN"),
            table_name=common.require_env("TABLE_NAME"),
            watched_groups=common.watched_groups(),
        )


@dataclass(frozen=True)
class DecisionForm:
    token: str
    decision: str
    comment: str
    name: str


@dataclass(frozen=True)
class DecisionRequest:
    model_package_arn: str
    decision: str
    comment: str


# ---------------------------------------------------------------- responses


def _response(status: int, body: str, content_type: str, extra_headers: dict[str, str] | None = None) -> dict:
    headers = {"Content-Type": content_type, **SECURITY_HEADERS, **(extra_headers or {})}
    return {"statusCode": status, "headers": headers, "body": body, "isBase64Encoded": False}


def _page(title: str, body_html: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body_html}</main></body></html>"
    )


def html_response(status: int, title: str, message: str, extra_html: str = "", headers: dict | None = None) -> dict:
    return _response(status, _page(title, f"<p>{html.escape(message)}</p>{extra_html}"), HTML_TYPE, headers)


def json_response(status: int, payload: dict[str, Any], headers: dict | None = None) -> dict:
    return _response(status, json.dumps(payload), JSON_TYPE, headers)


# ---------------------------------------------------------------- pure helpers


def clean_text(text: str) -> str:
    """Replace control characters (line breaks included) with spaces: ApprovalDescription is one line."""
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text).strip()


def approval_description(status: str, actor: str, channel: str, when: float, comment: str) -> str:
    """``"<status> by <actor> via <channel> at <time>. Comment: <comment>"``, at most 1024 characters."""
    prefix = f"{status} by {actor} via {channel} at {common.utc_iso(when)}. Comment: "
    comment = clean_text(comment) or "-"
    text = prefix + comment
    if len(text) > APPROVAL_DESCRIPTION_MAX:
        text = text[: APPROVAL_DESCRIPTION_MAX - 3] + "..."
    return text


def link_approval_description(status: str, name: str, jti: str, source_ip: str, when: float, comment: str) -> str:
    actor = clean_text(name) or "unnamed reviewer"
    channel = f"signed email link (token {jti[:8]}, source IP {source_ip})"
    return approval_description(status, actor, channel, when, comment)


def _header(event: dict, name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if isinstance(key, str) and key.lower() == name.lower():
            return value if isinstance(value, str) else None
    return None


def _raw_body(event: dict) -> str:
    """The request body as text (base64-decoded when API Gateway encoded it); HttpError 400 otherwise."""
    body = event.get("body")
    if not isinstance(body, str) or not body:
        raise HttpError(400, "Bad request", "The request has no body.")
    if len(body) > BODY_MAX_BYTES * 2:
        raise HttpError(400, "Bad request", "The request body is too large.")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise HttpError(400, "Bad request", "The request body could not be decoded.") from None
    else:
        raw = body.encode("utf-8")
    if len(raw) > BODY_MAX_BYTES:
        raise HttpError(400, "Bad request", "The request body is too large.")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise HttpError(400, "Bad request", "The request body is not UTF-8.") from None


def parse_form(event: dict) -> DecisionForm:
    """The decision form of a ``POST /decision`` event; HttpError 400 when anything is off."""
    content_type = _header(event, "content-type")
    if content_type is not None and content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HttpError(400, "Bad request", "The form must be sent as application/x-www-form-urlencoded.")
    text = _raw_body(event)
    try:
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, strict_parsing=True, errors="strict", max_num_fields=len(_FORM_FIELDS)
        )
    except ValueError:
        raise HttpError(400, "Bad request", "The form could not be read.") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key not in _FORM_FIELDS or key in fields:
            raise HttpError(400, "Bad request", "The form has unexpected or repeated fields.")
        fields[key] = value.replace("\r\n", "\n")
    token = fields.get("token", "")
    decision = fields.get("decision", "")
    comment = fields.get("comment", "")
    name = fields.get("name", "")
    if not token:
        raise HttpError(400, "Bad request", "The form has no token.")
    if decision not in _DECISIONS:
        raise HttpError(400, "Bad request", "The decision must be approve or reject.")
    if len(comment) > COMMENT_MAX:
        raise HttpError(400, "Bad request", f"The comment is longer than {COMMENT_MAX} characters.")
    if len(name) > NAME_MAX:
        raise HttpError(400, "Bad request", f"The name is longer than {NAME_MAX} characters.")
    return DecisionForm(token=token, decision=decision, comment=comment, name=name)


def parse_decision_request(event: dict) -> DecisionRequest:
    """The JSON body of a ``POST /decisions`` event; HttpError 400 when anything is off."""
    try:
        payload = json.loads(_raw_body(event))
    except ValueError:
        raise HttpError(400, "Bad request", "The body is not valid JSON.") from None
    if not isinstance(payload, dict) or not set(payload) <= _JSON_FIELDS:
        raise HttpError(400, "Bad request", f"The body must be an object with the fields {sorted(_JSON_FIELDS)}.")
    arn = payload.get("modelPackageArn")
    decision = payload.get("decision")
    comment = payload.get("comment")
    if not isinstance(arn, str) or not common.MODEL_PACKAGE_ARN_RE.match(arn):
        raise HttpError(400, "Bad request", "modelPackageArn must be a versioned model package ARN.")
    if not isinstance(decision, str) or decision not in _DECISIONS:
        raise HttpError(400, "Bad request", "decision must be approve or reject.")
    if comment is None:
        comment = ""
    if not isinstance(comment, str) or len(comment) > COMMENT_MAX:
        raise HttpError(400, "Bad request", f"comment must be a string of at most {COMMENT_MAX} characters.")
    return DecisionRequest(model_package_arn=arn, decision=decision, comment=comment)


def _single_query_value(event: dict, name: str) -> str:
    multi = (event.get("multiValueQueryStringParameters") or {}).get(name)
    if isinstance(multi, list) and len(multi) > 1:
        raise HttpError(400, "Bad request", "The link is not valid.")
    value = (event.get("queryStringParameters") or {}).get(name)
    if not isinstance(value, str) or not value:
        raise HttpError(400, "Bad request", "The link has no token.")
    return value


def _package_label(package: dict[str, Any]) -> str:
    version = package.get("ModelPackageVersion") or common.version_from_arn(package["ModelPackageArn"])
    return f"{package.get('ModelPackageGroupName', '?')} v{version}"


def _details_table(package: dict[str, Any], token_exp: int | None) -> str:
    reports = common.metrics_report_uris(package.get("ModelMetrics"))
    created = package.get("CreationTime")
    rows = [
        ("Model package group", package.get("ModelPackageGroupName", "?")),
        ("Version", str(package.get("ModelPackageVersion") or common.version_from_arn(package["ModelPackageArn"]))),
        ("Package ARN", package["ModelPackageArn"]),
        ("Description", package.get("ModelPackageDescription") or "-"),
        ("Created at", common.utc_iso(created) if created is not None else "unknown"),
        ("Created by", common.creator_text(package)),
        ("Current status", package.get("ModelApprovalStatus", "unknown")),
    ]
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    report_html = "<ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in reports) + "</ul>" if reports else "none"
    cells += f"<tr><th>Metrics reports</th><td>{report_html}</td></tr>"
    if token_exp is not None:
        cells += f"<tr><th>Link expires at</th><td>{html.escape(common.utc_iso(token_exp))}</td></tr>"
    return f"<table>{cells}</table>"


def render_review_page(package: dict[str, Any], token: str, token_exp: int) -> str:
    """The review page with the decision form (only for a pending package and an unused token)."""
    # The first submit button is the form's default button; it is disabled so that pressing
    # Enter in a text field submits nothing instead of approving.
    form = (
        '<form method="post" action="decision">'
        f'<input type="hidden" name="token" value="{html.escape(token)}">'
        '<p><label for="comment">Comment (optional)</label><br>'
        f'<textarea id="comment" name="comment" rows="5" maxlength="{COMMENT_MAX}"></textarea></p>'
        '<p><label for="name">Your name (optional)</label><br>'
        f'<input type="text" id="name" name="name" maxlength="{NAME_MAX}" autocomplete="name"></p>'
        '<button type="submit" disabled hidden aria-hidden="true"></button>'
        '<button type="submit" name="decision" value="approve">Approve</button>'
        '<button type="submit" name="decision" value="reject">Reject</button>'
        "</form>"
    )
    intro = "<p>Opening this page changed nothing. The decision is made only when you press Approve or Reject.</p>"
    return _page(f"Review model {_package_label(package)}", intro + _details_table(package, token_exp) + form)


# ---------------------------------------------------------------- AWS steps


def _verify_token(token: str, config: Config, now: float) -> approval_tokens.Claims:
    try:
        return approval_tokens.verify(approval_tokens.load_secret(config.secret_arn), token, now)
    except approval_tokens.MalformedToken:
        raise HttpError(400, "Bad request", "The link is not valid.") from None
    except approval_tokens.BadSignature:
        raise HttpError(403, "Forbidden", "The link is not valid.") from None
    except approval_tokens.Expired:
        raise HttpError(410, "Link expired", "This review link has expired. Ask for a new one.") from None


def describe_watched(arn: str, config: Config) -> dict[str, Any] | None:
    """DescribeModelPackage, or None when the package does not exist or is outside WATCHED_GROUPS.

    The group is first checked from the ARN (SageMaker lower-cases it there), so no request is
    made for a package the function's role is not allowed to describe.
    """
    match = common.MODEL_PACKAGE_ARN_RE.match(arn)
    if not match or match.group("group").lower() not in {g.lower() for g in config.watched_groups}:
        return None
    try:
        package = common.client("sagemaker").describe_model_package(ModelPackageName=arn)
    except Exception as exc:
        if common.error_code(exc) in ("ValidationException", "ResourceNotFound"):
            return None
        raise
    if package.get("ModelPackageGroupName") not in config.watched_groups:
        return None
    return package


def _already_decided(package: dict[str, Any]) -> HttpError:
    label = _package_label(package)
    status = package.get("ModelApprovalStatus", "unknown")
    return HttpError(
        409,
        "Already decided",
        f"Model {label} was already decided: its current status is {status}.",
        _details_table(package, None),
    )


def _token_in_use(item: dict[str, Any] | None, now: float) -> bool:
    if not item:
        return False
    if item.get("state", {}).get("S") == "claimed":
        claimed_at = int(item.get("claimed_at", {}).get("N", "0"))
        return claimed_at >= int(now) - CLAIM_LEASE_SECONDS
    return True


def review(event: dict, config: Config, now: float) -> dict:
    token = _single_query_value(event, "token")
    claims = _verify_token(token, config, now)
    package = describe_watched(claims.arn, config)
    if package is None:
        raise HttpError(403, "Forbidden", "The link is not valid.")
    if package.get("ModelApprovalStatus") != common.PENDING:
        raise _already_decided(package)
    item = (
        common.client("dynamodb")
        .get_item(TableName=config.table_name, Key={"pk": {"S": f"token#{claims.jti}"}}, ConsistentRead=True)
        .get("Item")
    )
    if _token_in_use(item, now):
        raise HttpError(409, "Link already used", "This review link was already used for a decision.")
    log("INFO", "review page shown", jti=claims.jti, model_package_arn=claims.arn)
    return _response(200, render_review_page(package, token, claims.exp), HTML_TYPE)


def _update_package(arn: str, status: str, description: str) -> None:
    common.client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description
    )


def decide_by_link(event: dict, config: Config, now: float) -> dict:
    form = parse_form(event)
    claims = _verify_token(form.token, config, now)
    package = describe_watched(claims.arn, config)
    if package is None:
        raise HttpError(403, "Forbidden", "The link is not valid.")
    if package.get("ModelApprovalStatus") != common.PENDING:
        raise _already_decided(package)

    dynamodb = common.client("dynamodb")
    key = {"pk": {"S": f"token#{claims.jti}"}}
    record = {
        **key,
        "arn": {"S": claims.arn},
        "decision": {"S": form.decision},
        "expires_at": {"N": str(claims.exp + RECORD_RETENTION_SECONDS)},
    }
    if not common.claim(config.table_name, record, "claimed", CLAIM_LEASE_SECONDS, now):
        log("INFO", "token replayed", jti=claims.jti, model_package_arn=claims.arn)
        raise HttpError(409, "Link already used", "This review link was already used for a decision.")

    status = _DECISIONS[form.decision]
    source_ip = ((event.get("requestContext") or {}).get("identity") or {}).get("sourceIp") or "unknown"
    description = link_approval_description(status, form.name, claims.jti, source_ip, now, form.comment)
    try:
        _update_package(claims.arn, status, description)
    except Exception as exc:
        log("ERROR", "UpdateModelPackage failed; releasing the token", jti=claims.jti, error=type(exc).__name__)
        try:
            dynamodb.delete_item(TableName=config.table_name, Key=key)
        except Exception as cleanup_exc:
            log("ERROR", "could not release the token", jti=claims.jti, error=type(cleanup_exc).__name__)
        raise HttpError(
            503, "Try again later", "The decision could not be recorded. Nothing was changed; please try again."
        ) from None

    try:
        dynamodb.update_item(
            TableName=config.table_name,
            Key=key,
            UpdateExpression="SET #s = :used, decided_at = :now",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues={":used": {"S": "used"}, ":now": {"N": str(int(now))}},
        )
    except Exception as exc:  # the decision is recorded; the claim still blocks a replay
        log("WARNING", "could not mark the token used", jti=claims.jti, error=type(exc).__name__)
    log(
        "INFO",
        "decision recorded",
        channel="link",
        jti=claims.jti,
        model_package_arn=claims.arn,
        model_approval_status=status,
        source_ip=source_ip,
    )
    verb = "approved" if status == common.APPROVED else "rejected"
    label = _package_label(package)
    return html_response(200, f"Model {label} {verb}", f"Model {label} is now {status}. Thank you.")


def decide_by_iam(event: dict, config: Config, now: float) -> dict:
    identity = (event.get("requestContext") or {}).get("identity") or {}
    caller = identity.get("userArn")
    if not isinstance(caller, str) or not caller.strip():
        raise HttpError(400, "Bad request", "The caller identity is missing.")
    request = parse_decision_request(event)
    package = describe_watched(request.model_package_arn, config)
    if package is None:
        raise HttpError(404, "Not found", "No such model package in the watched groups.")
    if package.get("ModelApprovalStatus") != common.PENDING:
        raise HttpError(409, "Already decided", "The model package is not pending manual approval.")
    status = _DECISIONS[request.decision]
    description = approval_description(status, caller, "IAM-authenticated API", now, request.comment)
    try:
        _update_package(request.model_package_arn, status, description)
    except Exception as exc:
        log("ERROR", "UpdateModelPackage failed", error=type(exc).__name__)
        raise HttpError(503, "Try again later", "The decision could not be recorded; try again.") from None
    log(
        "INFO",
        "decision recorded",
        channel="iam",
        caller=caller,
        model_package_arn=request.model_package_arn,
        model_approval_status=status,
    )
    return json_response(200, {"modelPackageArn": request.model_package_arn, "modelApprovalStatus": status})


_HANDLERS = {"/review": review, "/decision": decide_by_link, "/decisions": decide_by_iam}


def route(event: dict, now: float) -> dict:
    """Dispatch one API Gateway proxy event; never raises."""
    resource = event.get("resource") if isinstance(event, dict) else None
    method = event.get("httpMethod") if isinstance(event, dict) else None
    is_json = resource == "/decisions"
    try:
        if resource not in _ROUTES:
            raise HttpError(404, "Not found", "There is nothing here.")
        if method != _ROUTES[resource]:
            error = HttpError(405, "Method not allowed", "This method is not allowed here.")
            return _error_response(error, is_json, {"Allow": _ROUTES[resource]})
        return _HANDLERS[resource](event, Config.from_env(), now)
    except HttpError as error:
        return _error_response(error, is_json)
    except Exception as exc:
        log(
            "ERROR",
            "unhandled error",
            route=resource,
            error=type(exc).__name__,
            traceback=traceback.format_exception(type(exc), exc, exc.__traceback__),
        )
        return _error_response(HttpError(500, "Something went wrong", "The request failed. Please try again later."), is_json)


def _error_response(error: HttpError, is_json: bool, headers: dict | None = None) -> dict:
    if is_json:
        return json_response(error.status, {"message": error.message}, headers)
    return html_response(error.status, error.title, error.message, error.extra_html, headers)


def handler(event: Any, context: Any) -> dict:
    response = route(event, time.time())
    log(
        "INFO",
        "request",
        request_id=common.request_id(context),
        route=event.get("resource") if isinstance(event, dict) else None,
        method=event.get("httpMethod") if isinstance(event, dict) else None,
        status=response["statusCode"],
    )
    return response
