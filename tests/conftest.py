"""Shared fixtures: the app's own cdk.json context, so tests synthesize what `make synth` synthesizes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    iam_calls.write()


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
