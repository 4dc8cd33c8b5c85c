"""Validation helpers: fail at synth with the prop, the value received and what is allowed.

Every helper skips values that are unresolved CDK tokens, which can only be checked at deploy time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from aws_cdk import Duration, Stack, Token
from constructs import Construct

#: Longest list of allowed values an error prints in full; a longer one is named, with a few examples.
MAX_LISTED_VALUES = 12


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


def require_one_of(prop: str, value: Any, allowed: Iterable[Any], *, allowed_name: str | None = None) -> None:
    """Fail unless ``value`` is one of ``allowed``.

    :param allowed_name: Where a user finds the allowed values (``"sagemaker_tiers.inference.REALTIME_INSTANCE_TYPES"``).
        A list longer than :data:`MAX_LISTED_VALUES` is not printed: the error names this and gives a few examples.
    """
    if is_token(value):
        return
    allowed = list(allowed)
    if value not in allowed:
        raise ValidationError(f"{prop} must be {allowed_text(allowed, allowed_name)}, got {_short(value)}")


def allowed_text(allowed: Sequence[Any], allowed_name: str | None = None) -> str:
    """``one of 'a', 'b'`` for a short list; ``one of the N values in <name> (e.g. 'a', 'b', 'c')`` for a long one."""
    if len(allowed) <= MAX_LISTED_VALUES:
        return f"one of {', '.join(map(repr, allowed))}"
    examples = ", ".join(map(repr, sorted(allowed, key=str)[:3]))
    where = f" in {allowed_name}" if allowed_name else ""
    return f"one of the {len(allowed)} values{where} (e.g. {examples})"


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


# AWS managed keys (aliases ``aws/<service>``) can be used only by the service they belong to and only in their
# own account, and their key policy cannot be changed: no grant to a role, a log group or another service works.
# https://docs.aws.amazon.com/kms/latest/developerguide/concepts.html (AWS managed keys)
_KEY_ALLOWED = "a customer-managed kms.IKey (MlEncryptionKey, kms.Key, or kms.Key.from_key_arn)"


def require_customer_managed_key(prop: str, value: Any, *, required: bool = True) -> None:
    """Fail unless ``value`` is a KMS key object that is not an AWS managed key (``alias/aws/...``)."""
    if value is None:
        if required:
            raise ValidationError(f"{prop} must be {_KEY_ALLOWED}, got None")
        return
    if isinstance(value, str) or not hasattr(value, "key_arn"):
        kind = "the string" if isinstance(value, str) else type(value).__name__
        raise ValidationError(f"{prop} must be {_KEY_ALLOWED}, got {kind} {_short(value)}")
    alias = getattr(value, "alias_name", None)
    names = [alias if isinstance(alias, str) else "", value.key_arn if isinstance(value.key_arn, str) else ""]
    if names[0].startswith("alias/aws/") or ":alias/aws/" in names[1]:
        shown = names[0] or names[1].split(":")[-1]
        raise ValidationError(
            f"{prop} must be {_KEY_ALLOWED}, got the AWS managed key {shown!r} (its policy cannot grant this "
            "library's roles and services)"
        )


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


def require_whole_seconds(prop: str, value: Duration) -> None:
    """Fail unless ``value`` is a literal Duration of whole seconds (it is rendered into a definition)."""
    if not isinstance(value, Duration):
        raise ValidationError(f"{prop} must be an aws_cdk.Duration, got {value!r}")
    if value.is_unresolved():
        raise ValidationError(f"{prop} must be a literal duration (it is rendered into the state machine), got a token")
    if value.to_milliseconds() % 1000:
        raise ValidationError(f"{prop} must be a whole number of seconds, got {value.to_human_string()}")


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


def require_s3_folder(prop: str, value: str) -> None:
    """Fail unless ``value`` is an S3 key prefix ending in ``/`` (``models/churn/``): without the slash, a grant
    on ``models/churn*`` would also cover ``models/churn-v2/`` and keys appended to it would glue onto its last word."""
    require_s3_prefix(prop, value)
    if not is_token(value) and not value.endswith("/"):
        raise ValidationError(f"{prop} must end with '/' (a folder such as 'models/churn/'), got {value!r}")


def claim_unique(scope: Construct, kind: str, name: str, what: str) -> None:
    """Fail if another construct of this app already claimed ``name`` of ``kind`` in ``scope``'s account and region.

    Names compare case-insensitively (SageMaker ARNs are lower case). Unresolved tokens are not compared.

    :param what: The error, given the other claimant's path: ``"... already used by {other}"``.
    """
    if is_token(name):
        return
    root = scope.node.root
    claims: dict[tuple[str, str, str], str] = root.__dict__.setdefault("_sagemaker_tiers_claims", {})
    key = (kind, Stack.of(scope).environment, name.lower())
    other = claims.setdefault(key, scope.node.path)
    if other != scope.node.path:
        raise ValidationError(what.format(other=other))


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
