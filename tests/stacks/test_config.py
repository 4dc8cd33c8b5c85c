from __future__ import annotations

import pytest
from aws_cdk import App

from sagemaker_tiers import ValidationError
from stacks.config import AppConfig
from tests.conftest import app_context


def test_cdk_json_defaults_are_the_dataclass_defaults() -> None:
    assert AppConfig.from_node(App(context=app_context()).node) == AppConfig()
    assert AppConfig.from_node(App().node) == AppConfig()


def test_command_line_strings_are_parsed() -> None:
    config = AppConfig.from_node(App(context=app_context(max_azs="3", nat_gateways="2", network_egress="endpoints")).node)
    assert (config.max_azs, config.nat_gateways, config.network_egress) == (3, 2, "endpoints")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"network_egress": "public"}, r"sagemaker-tiers:network_egress must be one of 'nat', 'endpoints', got 'public'"),
        ({"max_azs": "two"}, r"sagemaker-tiers:max_azs must be a whole number, got 'two'"),
        ({"max_azs": 1}, r"sagemaker-tiers:max_azs must be a whole number between 2 and 6, got 1"),
        ({"nat_gateways": 3}, r"sagemaker-tiers:nat_gateways must be a whole number between 1 and 2, got 3"),
        ({"project_name": "Bad Name"}, r"sagemaker-tiers:project_name must be 3-32 lowercase.*got 'Bad Name'"),
        ({"vpc_cidr": "10.0.0.0/8"}, r"sagemaker-tiers:vpc_cidr must be an IPv4 CIDR block.*got '10.0.0.0/8'"),
        ({"vpc_cidr": "10.0.0.0/20"}, r"sagemaker-tiers:vpc_cidr must be an IPv4 CIDR block from /16 to /18 .*got '10.0.0.0/20'"),
        ({"noncurrent_version_expiration_days": 0}, r"noncurrent_version_expiration_days must be a whole number between 1"),
    ],
)
def test_invalid_context_fails_with_key_value_and_allowed(overrides: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AppConfig.from_node(App(context=app_context(**overrides)).node)


def test_cdk_json_lists_every_key_with_its_default(root) -> None:
    import dataclasses
    import json

    from stacks.app import CONFIG_CLASSES

    context = json.loads((root / "cdk.json").read_text())["context"]
    expected = {}
    for cls in CONFIG_CLASSES:
        for field in dataclasses.fields(cls):
            default = list(field.default) if isinstance(field.default, tuple) else field.default
            expected[f"sagemaker-tiers:{field.name}"] = default
    actual = {k: v for k, v in context.items() if k.startswith("sagemaker-tiers:")}
    assert actual == expected
