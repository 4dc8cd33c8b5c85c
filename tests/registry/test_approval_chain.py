"""End to end in moto: registered package -> email -> review page -> approve -> promoted."""

from __future__ import annotations

from tests.conftest import lambda_context

import re
import urllib.parse
from html.parser import HTMLParser

import approval_api
import approval_notify as notify
import approval_promote as promote

STAGE_BASE = "https://abc123.execute-api.us-east-1.amazonaws.com/prod/"


class FormReader(HTMLParser):
    """The decision form of the review page: action, hidden fields, submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method: str | None = None
        self.hidden: dict[str, str] = {}
        self.decisions: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.action, self.method = attrs.get("action"), attrs.get("method")
        elif tag == "input" and attrs.get("type") == "hidden":
            self.hidden[attrs["name"]] = attrs["value"]
        elif tag == "button" and attrs.get("name") == "decision" and "disabled" not in attrs:
            self.decisions.append(attrs["value"])


def resource_of(url: str) -> str:
    """The API Gateway resource path of a URL under the prod stage."""
    path = urllib.parse.urlsplit(url).path
    assert path.startswith("/prod/")
    return path[len("/prod") :]


def test_pending_package_is_emailed_reviewed_approved_and_promoted(registry):
    arn = registry.create_package("churn")
    created_event = registry.state_change_event(arn)

    # 1. SageMaker's event -> the reviewer email.
    assert notify.handler(created_event, lambda_context())["status"] == "sent"
    [sent] = registry.sent_messages()
    link = re.search(r"https://\S+/review\?token=[A-Za-z0-9_.-]+", sent["message"]).group(0)
    assert link.startswith(STAGE_BASE + "review?token=")

    # 2. The reviewer opens the link: a page, no change.
    split = urllib.parse.urlsplit(link)
    query = dict(urllib.parse.parse_qsl(split.query))
    page = approval_api.handler(registry.api_event("GET", resource_of(link), query=query), lambda_context())
    assert page["statusCode"] == 200
    assert registry.status(arn) == "PendingManualApproval"

    # 3. The reviewer presses Approve: the browser posts the form to its (relative) action.
    form = FormReader()
    form.feed(page["body"])
    assert form.method == "post" and sorted(form.decisions) == ["approve", "reject"]
    assert form.hidden["token"] == query["token"]
    post_url = urllib.parse.urljoin(link, form.action)
    assert post_url == STAGE_BASE + "decision"
    event = registry.api_event(
        "POST",
        resource_of(post_url),
        body=urllib.parse.urlencode({**form.hidden, "comment": "AUC up 2 points", "name": "Grace", "decision": "approve"}),
        base64_body=True,
        content_type="application/x-www-form-urlencoded",
    )
    decided = approval_api.handler(event, lambda_context())
    assert decided["statusCode"] == 200 and "Model churn v1 approved" in decided["body"]
    package = registry.describe(arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"].startswith("Approved by Grace via signed email link")

    # 4. SageMaker's "Approved" event -> the parameter.
    approved_event = registry.state_change_event(arn)
    assert approved_event["detail"]["ModelApprovalStatus"] == "Approved"
    result = promote.handler(approved_event, lambda_context())
    assert result == {"status": "updated", "parameter": "/sagemaker-tiers/registry/churn/approved-model", "value": arn}
    assert registry.parameter("churn") == arn
    history = len(registry.parameter_history("churn"))

    # 5. Redelivered and out-of-order events change nothing.
    assert promote.handler(approved_event, lambda_context())["status"] == "unchanged"
    assert promote.handler(created_event, lambda_context())["status"] == "unchanged"
    assert notify.handler(created_event, lambda_context())["status"] == "skipped"
    assert registry.parameter("churn") == arn
    assert len(registry.parameter_history("churn")) == history == 1
    assert len(registry.sent_messages()) == 1

    # 6. The link is spent.
    assert approval_api.handler(event, lambda_context())["statusCode"] == 409
