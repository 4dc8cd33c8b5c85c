from __future__ import annotations

import pytest
from aws_cdk import Duration, Token

from sagemaker_tiers.core.validation import (
    ValidationError,
    require_duration,
    require_int_in_range,
    require_one_of,
    require_s3_prefix,
    require_unique,
)


def test_range_error_names_prop_value_and_bounds() -> None:
    with pytest.raises(ValidationError, match=r"instance_count must be a whole number >= 1, got 0"):
        require_int_in_range("instance_count", 0, minimum=1)
    with pytest.raises(ValidationError, match=r"max_azs must be a whole number between 2 and 6, got 2.5"):
        require_int_in_range("max_azs", 2.5, minimum=2, maximum=6)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"got True"):
        require_int_in_range("count", True, minimum=0)
    require_int_in_range("count", 3, minimum=1, maximum=3)


def test_unresolved_tokens_are_left_for_deploy_time() -> None:
    require_int_in_range("count", Token.as_number({"Ref": "Count"}), minimum=1)
    require_one_of("mode", Token.as_string({"Ref": "Mode"}), ["a"])


def test_one_of_lists_allowed_values() -> None:
    with pytest.raises(ValidationError, match=r"egress must be one of 'nat', 'endpoints', got 'none'"):
        require_one_of("egress", "none", ["nat", "endpoints"])


@pytest.mark.parametrize("prefix", ["/abs/", "a//b/", "../up/", "a/./b", "", "sp ace/", "x" * 513])
def test_s3_prefix_rejects(prefix: str) -> None:
    with pytest.raises(ValidationError, match="prefix"):
        require_s3_prefix("prefix", prefix)


@pytest.mark.parametrize("prefix", ["datasets/", "models/churn/v1/", "a", "key=value/"])
def test_s3_prefix_accepts(prefix: str) -> None:
    require_s3_prefix("prefix", prefix)


def test_duration_bounds_in_message() -> None:
    with pytest.raises(ValidationError, match=r"pending_window must be between 7 days and 30 days, got 3 days"):
        require_duration("pending_window", Duration.days(3), minimum=Duration.days(7), maximum=Duration.days(30))
    with pytest.raises(ValidationError, match="must be an aws_cdk.Duration, got 30"):
        require_duration("pending_window", 30)  # type: ignore[arg-type]


def test_unique() -> None:
    with pytest.raises(ValidationError, match="'a' twice"):
        require_unique("groups", ["a", "b", "a"])
    require_unique("groups", ["a", "b"])
