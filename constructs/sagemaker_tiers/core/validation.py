"""Validation helpers: fail at synth with the prop, the value received and what is allowed.

Every helper skips values that are unresolved CDK tokens, which can only be checked at deploy time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from aws_cdk import Duration, Token


class ValidationError(ValueError):
    """An invalid construct prop or configuration value."""


def is_token(value: Any) -> bool:
    """True for a value CDK can only resolve at deploy time."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return Token.is_unresolved(value)
    return False


def require_in_range(prop: str, value: int | float, *, minimum: float | None = None, maximum: float | None = None) -> None:
    """Fail unless ``minimum <= value <= maximum`` (either bound optional)."""
    if is_token(value):
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{prop} must be a number, got {value!r}")
    allowed = _range_text(minimum, maximum)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValidationError(f"{prop} must be {allowed}, got {value!r}")


def require_int_in_range(prop: str, value: int, *, minimum: int | None = None, maximum: int | None = None) -> None:
    """Fail unless ``value`` is a whole number within the bounds."""
    if is_token(value):
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise ValidationError(f"{prop} must be a whole number {_range_text(minimum, maximum)}, got {value!r}")


def require_one_of(prop: str, value: Any, allowed: Iterable[Any]) -> None:
    """Fail unless ``value`` is one of ``allowed``."""
    if is_token(value):
        return
    allowed = list(allowed)
    if value not in allowed:
        raise ValidationError(f"{prop} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


def require_match(prop: str, value: str, pattern: str, description: str) -> None:
    """Fail unless the whole of ``value`` matches ``pattern``; ``description`` says what is allowed."""
    if is_token(value):
        return
    if not isinstance(value, str) or re.fullmatch(pattern, value) is None:
        raise ValidationError(f"{prop} must be {description}, got {value!r}")


def require_duration(prop: str, value: Duration, *, minimum: Duration | None = None, maximum: Duration | None = None) -> None:
    """Fail unless ``value`` is a Duration within the bounds (compared in seconds)."""
    if not isinstance(value, Duration):
        raise ValidationError(f"{prop} must be an aws_cdk.Duration, got {value!r}")
    if value.is_unresolved():
        return
    seconds = value.to_seconds()
    too_low = minimum is not None and seconds < minimum.to_seconds()
    too_high = maximum is not None and seconds > maximum.to_seconds()
    if too_low or too_high:
        low = minimum.to_human_string() if minimum else None
        high = maximum.to_human_string() if maximum else None
        allowed = f"between {low} and {high}" if low and high else (f"at least {low}" if low else f"at most {high}")
        raise ValidationError(f"{prop} must be {allowed}, got {value.to_human_string()}")


def require_s3_prefix(prop: str, value: str) -> None:
    """Fail unless ``value`` is a relative S3 key prefix such as ``datasets/churn/``."""
    require_match(
        prop,
        value,
        r"(?!/)(?!.*//)[A-Za-z0-9!_.*'()/=-]{1,512}",
        "a relative S3 key prefix (letters, digits, !_.*'()=-/ , no leading or double '/', 1-512 characters)",
    )
    if not is_token(value) and any(part in (".", "..") for part in value.split("/")):
        raise ValidationError(f"{prop} must not contain '.' or '..' path segments, got {value!r}")


def require_unique(prop: str, values: Sequence[Any]) -> None:
    """Fail if ``values`` repeats an element."""
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ValidationError(f"{prop} must not repeat values, got {value!r} twice")
        seen.add(value)


def _range_text(minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"between {_num(minimum)} and {_num(maximum)}"
    if minimum is not None:
        return f">= {_num(minimum)}"
    if maximum is not None:
        return f"<= {_num(maximum)}"
    return "a number"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
