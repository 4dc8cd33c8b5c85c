"""``sagemaker-tiers approvals list|approve|reject``: moto for the registry, a local HTTP server standing in for
the IAM-authorized ``POST /decisions`` route, and an independent SigV4 check of the signed request
(https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import urllib.parse
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from tests.cli.cli_support import PROJECT, deny
from tests.conftest import import_handlers_from

from sagemaker_tiers.cli import approvals


class DecisionsApi:
    """Records each request and answers with ``self.status`` / ``self.payload``."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.payload: dict | None = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                api.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                request = json.loads(body)
                payload = api.payload or {"modelPackageArn": request["modelPackageArn"],
                                          "modelApprovalStatus": {"approve": "Approved", "reject": "Rejected"}[request["decision"]]}
                raw = json.dumps(payload).encode()
                self.send_response(api.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/prod/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def api(deployed, monkeypatch):
    stub = DecisionsApi()
    stub.thread.start()
    deployed.outputs["registry"]["ApprovalApiUrl"] = stub.url
    # The registry stack's ApprovalApiUrl output points at the stub.
    cloudformation = deployed.client("cloudformation")
    template = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {k: {"Value": v} for k, v in deployed.outputs["registry"].items()},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cloudformation.update_stack(StackName=f"{PROJECT}-registry", TemplateBody=json.dumps(template))
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


def _sigv4_signature(method: str, path: str, headers: dict, body: bytes, signed: list[str], secret: str, scope: str) -> str:
    """SigV4 written from AWS's documentation, independent of botocore."""
    lower = {k.lower(): v for k, v in headers.items()}
    canonical_headers = "".join(f"{h}:{' '.join(lower[h].split())}\n" for h in signed)
    canonical = "\n".join(
        [method, urllib.parse.quote(path), "", canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()]
    )
    amz_date = lower["x-amz-date"]
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in scope.split("/")[:4]:
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_approve_sends_one_sigv4_signed_decision(deployed, run, api) -> None:
    arn = deployed.register("example-churn")
    result = run("approvals", "approve", "example-churn/1", "--comment", "metrics reviewed")
    assert result.exit_code == 0, result.output
    assert f"{arn}: Approved" in result.stdout

    [request] = api.requests
    assert request["path"] == "/prod/decisions"
    assert json.loads(request["body"]) == {"modelPackageArn": arn, "decision": "approve", "comment": "metrics reviewed"}
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-type"] == "application/json"
    credentials = deployed.session.get_credentials().get_frozen_credentials()
    if credentials.token:
        assert headers["x-amz-security-token"] == credentials.token
    authorization = headers["authorization"]
    algorithm, _, fields = authorization.partition(" ")
    parts = dict(p.strip().split("=", 1) for p in fields.split(","))
    assert algorithm == "AWS4-HMAC-SHA256"
    access_key, scope = parts["Credential"].split("/", 1)
    assert access_key == credentials.access_key
    assert scope.endswith("/us-east-1/execute-api/aws4_request")
    signed = parts["SignedHeaders"].split(";")
    assert {"host", "x-amz-date", "content-type"} <= set(signed)
    expected = _sigv4_signature("POST", request["path"], request["headers"], request["body"], signed, credentials.secret_key, scope)
    assert parts["Signature"] == expected


def test_reject_by_arn_with_json_output(deployed, run, api) -> None:
    deployed.register("example-churn")
    arn = deployed.register("example-churn")
    result = run("--output", "json", "approvals", "reject", arn)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"modelPackageArn": arn, "modelApprovalStatus": "Rejected"}
    assert json.loads(api.requests[0]["body"])["decision"] == "reject"


@pytest.mark.parametrize(
    ("status", "payload", "code", "text"),
    [
        (403, {"Message": "User: arn:aws:iam::123456789012:user/op is not authorized to perform: execute-api:Invoke"}, "AccessDenied", "execute-api:Invoke"),
        (409, {"message": "The model package is not pending manual approval."}, "Conflict", "not pending manual approval"),
        (503, {"message": "The decision could not be recorded; nothing was changed. Try again."}, "Http503", "nothing was changed"),
    ],
)
def test_refusals_are_clear_errors(deployed, run, api, status, payload, code, text) -> None:
    deployed.register("example-churn")
    api.status, api.payload = status, payload
    result = run("--output", "json", "approvals", "approve", "example-churn/1")
    assert result.exit_code == 1
    error = json.loads(result.stderr)["error"]
    assert error["code"] == code and text in error["message"]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("package", "code"),
    [
        ("nope/1", "UnknownGroup"),
        ("example-churn/7", "UnknownPackage"),
        ("example-churn", "BadPackage"),
        ("arn:aws:sagemaker:us-east-1:123456789012:model-package/other/1", "UnknownGroup"),
    ],
)
def test_bad_packages_never_reach_the_api(deployed, run, api, package, code) -> None:
    deployed.register("example-churn")
    result = run("--output", "json", "approvals", "approve", package)
    assert result.exit_code == 1
    assert json.loads(result.stderr)["error"]["code"] == code
    assert api.requests == []


def test_a_too_long_comment_never_reaches_the_api(deployed, run, api) -> None:
    deployed.register("example-churn")
    result = run("approvals", "approve", "example-churn/1", "--comment", "x" * (approvals.COMMENT_MAX + 1))
    assert result.exit_code == 1 and "at most 1000 characters" in result.stderr
    assert api.requests == []


def test_comment_limit_is_the_api_handlers() -> None:
    import_handlers_from("registry", "approval_handlers")
    import approval_api

    assert approvals.COMMENT_MAX == approval_api.COMMENT_MAX


def test_list_shows_pending_versions_only(deployed, run) -> None:
    deployed.register("example-churn", "Approved")
    pending = deployed.register("example-churn")
    fraud = deployed.register("fraud")
    data = json.loads(run("--output", "json", "approvals", "list").stdout)
    assert [(p["group"], p["version"], p["modelPackageArn"]) for p in data] == [
        ("example-churn", 2, pending),
        ("fraud", 1, fraud),
    ]
    table = run("approvals", "list", "--group", "fraud")
    assert "fraud/1" in table.stdout and "example-churn/2" not in table.stdout


def test_list_with_nothing_pending(deployed, run) -> None:
    result = run("approvals", "list")
    assert result.exit_code == 0 and "Nothing is pending" in result.stdout


def test_list_access_denied(deployed, run) -> None:
    deny(deployed.session, "before-call.sagemaker.ListModelPackages")
    result = run("approvals", "list")
    assert result.exit_code == 1 and "missing permission for ListModelPackages" in result.stderr
