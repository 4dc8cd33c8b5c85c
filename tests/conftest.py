"""Shared fixtures: the app's own cdk.json context, so tests synthesize what `make synth` synthesizes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
# aws-cdk-lib's built-in CloudFormation validation costs about 4 s per synthesis (see TOOLCHAIN.md). Unit tests
# synthesize dozens of apps; cfn-lint and the app-level gates (`make gates`, on the real `cdk synth`, where the
# validation stays on) cover the templates. Read by the jsii Node process, so set before the first aws_cdk import:
# this conftest loads before every test module and imports no aws_cdk itself.
os.environ.setdefault("CDK_VALIDATION", "false")

# Dummy credentials before any boto3 client exists (this conftest loads before every other test module):
# handler tests run against moto or botocore's Stubber and must never reach a real account.
os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
)
os.environ.pop("AWS_PROFILE", None)

# Powertools settings the function factory gives every deployed function (core/functions.py), here before any
# handler module creates its Logger and Metrics at import. Tests assert that what the handlers emit carries them.
POWERTOOLS_SERVICE_NAME = "sagemaker-tiers-tests"
POWERTOOLS_METRICS_NAMESPACE = "sagemaker-tiers/Tests"
os.environ.update(
    {
        "POWERTOOLS_SERVICE_NAME": POWERTOOLS_SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": POWERTOOLS_METRICS_NAMESPACE,
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
)

# Calls-against-policy gate: record every AWS call the product makes (handlers, state machine tasks) from the
# first client on; `make iam-gate` evaluates them against the synthesized roles (see tests/iam_calls.py).
from tests import iam_calls  # noqa: E402

iam_calls.install()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Handlers the app deploys only with a non-default option (a Studio domain's cleanup) are mapped to the
    functions the tests synthesize: every ``Template.from_stack`` registers its Lambda functions' roles."""
    if "aws_cdk.assertions" not in sys.modules:
        return
    from aws_cdk.assertions import Template

    original = Template.from_stack.__func__

    def from_stack(cls, stack, *args, **kwargs):  # noqa: ANN001, ANN202
        template = original(cls, stack, *args, **kwargs)
        iam_calls.register_template(template.to_json(), stack.stack_name)
        return template

    Template.from_stack = classmethod(from_stack)


def pytest_runtest_setup(item: pytest.Item) -> None:
    iam_calls.set_test(item.nodeid)


_deselected: list[int] = []


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.append(len(items))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The calls gate judges the product's calls only on a whole, green run: a recording of a few modules (or of a
    # run stopped by a failure) would let `make iam-gate` pass on the calls it happens to hold.
    whole = [Path(arg.split("::")[0]).resolve() for arg in session.config.args] == [ROOT / "tests"]
    complete = whole and not _deselected and exitstatus == 0 and session.testscollected > 0
    iam_calls.write(complete=complete, tests=session.testscollected)


def import_handlers_from(tier: str, folder: str) -> Path:
    """Put ``constructs/sagemaker_tiers/<tier>/<folder>`` on ``sys.path`` so tests import handlers as Lambda does."""
    path = ROOT / "constructs" / "sagemaker_tiers" / tier / folder
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
    return path


def app_context(**overrides: object) -> dict:
    """cdk.json's context with ``overrides`` (``sagemaker-tiers:`` keys given without the prefix)."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    # Tests never bundle assets or build images.
    context["aws:cdk:bundling-stacks"] = []
    for key, value in overrides.items():
        context[key if ":" in key else f"sagemaker-tiers:{key}"] = value
    return context


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def base_stacks(app):  # type: ignore[no-untyped-def]
    """The foundation and registry stacks every tier stack takes, as ``build_app`` makes them.

    Returns ``(config, foundation, registry)``; a tier stack test adds its stack to the same app.
    """
    from stacks.config import AppConfig
    from stacks.foundation_stack import FoundationStack
    from stacks.registry_stack import RegistryStack

    config = AppConfig.from_node(app.node)
    foundation = FoundationStack(app, f"{config.project_name}-foundation", config=config)
    registry = RegistryStack(
        app, f"{config.project_name}-registry", config=config, key=foundation.key, reports_bucket=foundation.bucket
    )
    return config, foundation, registry


def lambda_context(function_name: str = "test-function") -> Any:
    """A Lambda context as the runtime passes it (Powertools' Logger reads it), with a fresh request id."""
    import uuid
    from types import SimpleNamespace

    return SimpleNamespace(
        function_name=function_name,
        function_version="$LATEST",
        memory_limit_in_mb=256,
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name="2026/11/30/[$LATEST]0123456789abcdef",
        get_remaining_time_in_millis=lambda: 25_000,
    )


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at the moment (capsys's during a test), so Powertools' log lines are
    captured like print()'s: its Logger keeps the stream it was created with (at handler import)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture(autouse=True)
def _powertools_logs_to_current_stdout() -> None:
    import logging

    for logger in [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]:
        for handler in getattr(logger, "handlers", []):
            if type(handler.formatter).__name__ == "LambdaPowertoolsFormatter" and isinstance(handler, logging.StreamHandler):
                handler.setStream(_CurrentStdout())  # type: ignore[arg-type]


def emitted(out: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(log records, EMF metric documents)`` of captured stdout: every line must be one JSON object."""
    logs: list[dict[str, Any]] = []
    documents: list[dict[str, Any]] = []
    for line in out.splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        (documents if "_aws" in record else logs).append(record)
    return logs, documents


def metric_values(documents: list[dict[str, Any]], name: str) -> list[tuple[dict[str, str], float]]:
    """Every ``(dimensions, value)`` of metric ``name`` in EMF documents, checked against CloudWatch's EMF
    specification: the namespace and dimension names are declared in ``_aws.CloudWatchMetrics`` and each
    dimension's value is a top-level member (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html)."""
    found = []
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            if name not in {m["Name"] for m in directive["Metrics"]}:
                continue
            assert directive["Namespace"] == POWERTOOLS_METRICS_NAMESPACE
            for dimension_set in directive["Dimensions"]:
                dimensions = {d: document[d] for d in dimension_set}
                values = document[name] if isinstance(document[name], list) else [document[name]]
                found += [(dimensions, float(v)) for v in values]
    return found
