"""The approval page in a real browser: headless Chromium (Debian's chromium and chromium-driver) via Selenium.

A local HTTP server on 127.0.0.1 turns each request into the API Gateway proxy event the approval API receives
(stage ``prod``) and answers with the handler's response, over moto. The browser approves, rejects, reloads, goes
back and renews a link, at a phone's width (390 px) and a desktop's, and the test checks what the page shows and
what lands in SageMaker.

``make test`` installs the two Debian packages where it may (root, apt-get); elsewhere this module is skipped with
the reason. Set APPROVAL_PAGE_SCREENSHOT to a path to keep a full-page phone screenshot of the review page (the
README's picture is made that way).
"""

from __future__ import annotations

from tests.conftest import lambda_context

import base64
import json
import os
import re
import shutil
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - the dev extra pins selenium
    webdriver = None

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER and webdriver),
    reason="the real-browser test needs Debian's chromium and chromium-driver (make test installs them with "
    "apt-get where it runs as root) and selenium (the dev extra)",
)

PHONE = (390, 844)
DESKTOP = (1280, 900)


class _Bridge(BaseHTTPRequestHandler):
    """``/prod/<resource>`` -> an API Gateway proxy event for the approval API -> its response."""

    registry = None  # set by the fixture

    def _serve(self, method: str) -> None:
        import approval_api

        url = urllib.parse.urlsplit(self.path)
        resource = url.path[len("/prod") :] if url.path.startswith("/prod/") else url.path
        query = dict(urllib.parse.parse_qsl(url.query)) or None
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else None
        event = self.registry.api_event(
            method, resource, query=query, body=body, content_type=self.headers.get("Content-Type"), source_ip="127.0.0.1"
        )
        response = approval_api.handler(event, lambda_context())
        payload = response["body"].encode("utf-8")
        self.send_response(response["statusCode"])
        for name, value in response["headers"].items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def site(registry):
    """The approval API behind http://127.0.0.1:<port>/prod/ for the length of one test."""
    _Bridge.registry = registry
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Bridge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/prod/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={PHONE[0]},{PHONE[1]}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _wait_title(driver, pattern: str) -> str:
    WebDriverWait(driver, 15).until(lambda d: re.search(pattern, d.title))
    return driver.title


def _text(driver) -> str:
    return driver.find_element(By.TAG_NAME, "main").text


def _decision_buttons(driver) -> list:
    return [b for b in driver.find_elements(By.CSS_SELECTOR, "button[name=decision]") if b.is_displayed()]


def _layout_checks(driver) -> None:
    """Usable at this width: no sideways scrolling, 16 px text in controls, touch-sized buttons, distinct actions."""
    assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    for selector in ("textarea", "input[type=text]", "button[name=decision]"):
        for element in driver.find_elements(By.CSS_SELECTOR, selector):
            if element.is_displayed():
                assert element.value_of_css_property("font-size") == "16px", selector
    for button in _decision_buttons(driver):
        assert button.size["height"] >= 44, button.text
    approve, reject = _decision_buttons(driver)
    assert approve.value_of_css_property("background-color") != reject.value_of_css_property("background-color")


def test_a_reviewer_approves_on_a_phone_and_the_page_cannot_be_reused(registry, site, browser, reports):
    arn = registry.create_package("churn")
    token, _, _ = registry.issue(arn)
    link = f"{site}review?token={token}"

    browser.get(link)
    assert _wait_title(browser, "Review model churn v1")
    text = _text(browser)
    assert "Opening this page changed nothing" in text
    assert "auc" in text and "0.9123" in text  # the numbers, not only the report path
    assert "becomes the approved version" in text and "never deployed" in text
    assert "UTC (in " in text
    _layout_checks(browser)
    assert registry.status(arn) == "PendingManualApproval"  # opening it (as a mail scanner would) changed nothing

    browser.find_element(By.ID, "name").send_keys("Grace")
    browser.find_element(By.ID, "comment").send_keys("AUC up 2 points")
    _decision_buttons(browser)[0].click()
    _wait_title(browser, "Model churn v1 approved")
    text = _text(browser)
    assert re.search(r"Decided by\s+Grace", text) and "AUC up 2 points" in text and "What happens next" in text
    package = registry.describe(arn)
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"].startswith("Approved by Grace via signed email link")

    # Back to the review page: it is fetched again (no-store; a bfcache restore reloads), so no buttons.
    browser.back()
    _wait_title(browser, "Already decided")
    assert _decision_buttons(browser) == []
    assert re.search(r"Decided by\s+Grace", _text(browser))
    # Reloading the link says the same, with the recorded decision.
    browser.get(link)
    _wait_title(browser, "Already decided")
    assert _decision_buttons(browser) == [] and "AUC up 2 points" in _text(browser)
    assert registry.status(arn) == "Approved"


def test_the_review_page_beside_the_groups_serving_version_at_a_phones_width(registry, site, browser, reports):
    # v1 approved and serving; v2 pending, registered by the training tier with its report.
    v1 = registry.create_package("churn", status="Approved")
    for name in ("approved-model", "deployed-model"):
        registry.ssm.put_parameter(Name=f"/sagemaker-tiers/registry/churn/{name}", Value=v1, Type="String")
    key = "training/churn-20261130-1012/training-report.json"
    report = {"finalMetrics": [{"name": "validation:auc", "value": 0.9312}, {"name": "validation:f1", "value": 0.8127}, {"name": "train:logloss", "value": 0.2315}]}
    reports.put_object(Bucket="metrics", Key=key, Body=json.dumps(report).encode())
    v2 = registry.sm.create_model_package(
        ModelPackageGroupName="churn",
        ModelPackageDescription="Trained by SageMaker training job churn-20261130-1012",
        InferenceSpecification={"Containers": [{"Image": "x"}], "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]},
        ModelApprovalStatus="PendingManualApproval",
        ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": f"s3://metrics/{key}"}}},
    )["ModelPackageArn"]
    token, _, _ = registry.issue(v2, ttl=3 * 24 * 3600)
    browser.get(f"{site}review?token={token}")
    _wait_title(browser, "Review model churn v2")
    text = _text(browser)
    assert re.search(r"validation:auc\s+0.9312", text) and re.search(r"validation:f1\s+0.8127", text)
    assert re.search(r"Approved version of churn\s+v1", text) and re.search(r"Serving version of churn\s+v1", text)
    assert "v2 becomes the approved version, replacing v1" in text and "v1 stays the approved version and keeps serving" in text
    _layout_checks(browser)
    if os.environ.get("APPROVAL_PAGE_SCREENSHOT"):
        for _ in range(2):  # the page's height at the emulated phone's metrics, then the picture of all of it
            height = browser.execute_script("return document.documentElement.scrollHeight")
            browser.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": PHONE[0], "height": height, "deviceScaleFactor": 1, "mobile": True},
            )
        shot = browser.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        Path(os.environ["APPROVAL_PAGE_SCREENSHOT"]).write_bytes(base64.b64decode(shot["data"]))


def test_a_reviewer_rejects_on_a_desktop(registry, site, browser):
    browser.set_window_size(*DESKTOP)
    arn = registry.create_package("churn")
    token, _, _ = registry.issue(arn)
    browser.get(f"{site}review?token={token}")
    _wait_title(browser, "Review model churn v1")
    _layout_checks(browser)
    _decision_buttons(browser)[1].click()
    _wait_title(browser, "Model churn v1 rejected")
    assert "will not be deployed" in _text(browser)
    assert registry.status(arn) == "Rejected"


def test_an_expired_link_is_renewed_to_the_administrators(registry, site, browser):
    arn = registry.create_package("churn")
    expired, _, _ = registry.issue(arn, ttl=60, now=time.time() - 3600)
    browser.get(f"{site}review?token={expired}")
    _wait_title(browser, "Link expired")
    assert "still waiting for a decision" in _text(browser)
    assert _decision_buttons(browser) == []
    browser.find_element(By.CSS_SELECTOR, "form[action=renew] button").click()
    _wait_title(browser, "New link sent")
    assert "administrators' email list" in _text(browser)

    [message] = registry.sent_messages()
    new_token = re.search(r"/review\?token=([A-Za-z0-9_.-]+)", message["message"]).group(1)
    assert new_token not in browser.page_source  # sent to the administrators, not shown to the requester
    browser.get(f"{site}review?token={new_token}")
    _wait_title(browser, "Review model churn v1")
    _decision_buttons(browser)[0].click()
    _wait_title(browser, "Model churn v1 approved")
    assert registry.status(arn) == "Approved"
