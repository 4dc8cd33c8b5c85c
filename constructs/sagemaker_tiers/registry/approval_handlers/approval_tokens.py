"""Signed, expiring, single-use approval tokens bound to one model package ARN.

Format: ``base64url(payload) + "." + base64url(HMAC-SHA256(secret, base64url(payload)))``,
both parts without padding, where payload is the compact JSON
``{"arn": <model package arn>, "exp": <unix seconds>, "jti": <uuid4 hex>, "v": 1}``.

- A token is valid while ``now < exp``; at ``now == exp`` it is expired.
- ``verify`` checks, in this order: shape (two canonical base64url parts, at most 2048
  characters) -> signature (constant time) -> JSON and field types -> expiry. So a forged token
  is reported as ``BadSignature`` even when it is also expired or carries unparseable JSON.
- Single use is not enforced here: the approval API claims ``token#<jti>`` in DynamoDB.

The HMAC secret is the SecretString (UTF-8 bytes) of the Secrets Manager secret named by env
SECRET_ARN, cached in the process for at most ``SECRET_MAX_AGE_SECONDS``. Tokens signed with
a previous secret stop verifying once the secret is rotated and the cache has expired.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass

import approval_common as common

VERSION = 1
MAX_TOKEN_LENGTH = 2048
MIN_SECRET_BYTES = 32
SECRET_MAX_AGE_SECONDS = 300

_B64URL_RE = re.compile(r"^[A-Za-z0-9_-]+\Z")
_JTI_RE = re.compile(r"^[0-9a-f]{32}\Z")
_FIELDS = frozenset({"v", "arn", "exp", "jti"})


class TokenError(Exception):
    """Base class of every reason a token is refused."""


class MalformedToken(TokenError):
    """Not a token of this format: wrong shape, bad base64/JSON, missing or ill-typed field, too long."""


class BadSignature(TokenError):
    """The signature does not match the payload under the current secret."""


class Expired(TokenError):
    """The token was genuine but its expiry time has passed (now >= exp)."""


@dataclass(frozen=True)
class Claims:
    arn: str
    exp: int
    jti: str


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict base64url without padding; rejects non-canonical encodings (no malleability)."""
    if not _B64URL_RE.match(text):
        raise MalformedToken("not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedToken("not base64url") from exc
    if _b64encode(raw) != text:
        raise MalformedToken("non-canonical base64url")
    return raw


def _sign(secret: bytes, signing_input: str) -> bytes:
    return hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()


def issue(secret: bytes, arn: str, ttl_seconds: int, now: float) -> tuple[str, str, int]:
    """Return ``(token, jti, exp)`` for a token bound to ``arn`` expiring ``ttl_seconds`` after ``now``."""
    if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be a positive int, got {ttl_seconds!r}")
    jti = uuid.uuid4().hex
    exp = int(now) + ttl_seconds
    return sign(secret, arn, exp, jti), jti, exp


def sign(secret: bytes, arn: str, exp: int, jti: str) -> str:
    """The token for ``(arn, exp, jti)``: deterministic, so the same review request always yields the same link."""
    if not secret:
        raise ValueError("secret must not be empty")
    if not isinstance(arn, str) or not common.MODEL_PACKAGE_ARN_RE.match(arn):
        raise ValueError(f"arn must be a versioned model package ARN, got {arn!r}")
    if type(exp) is not int:
        raise ValueError(f"exp must be an int, got {exp!r}")
    if not isinstance(jti, str) or not _JTI_RE.match(jti):
        raise ValueError(f"jti must be 32 lowercase hex digits, got {jti!r}")
    payload = json.dumps(
        {"v": VERSION, "arn": arn, "exp": exp, "jti": jti}, separators=(",", ":"), sort_keys=True
    ).encode("utf-8")
    body = _b64encode(payload)
    token = f"{body}.{_b64encode(_sign(secret, body))}"
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError("token would exceed the maximum length")
    return token


def verify(secret: bytes, token: str, now: float, *, allow_expired: bool = False) -> Claims:
    """Return the claims of a genuine, unexpired token; raise a ``TokenError`` subclass otherwise.

    ``allow_expired`` accepts a genuine token past its expiry (only to ask for a new link, never to decide).
    """
    if not isinstance(token, str) or not token:
        raise MalformedToken("empty or not a string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise MalformedToken("too long")
    parts = token.split(".")
    if len(parts) != 2:
        raise MalformedToken("not two parts")
    body, signature_text = parts
    payload_raw = _b64decode(body)
    signature = _b64decode(signature_text)
    if not hmac.compare_digest(signature, _sign(secret, body)):
        raise BadSignature("signature mismatch")
    try:
        payload = json.loads(payload_raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedToken("payload is not JSON") from exc
    if not isinstance(payload, dict) or set(payload) != _FIELDS:
        raise MalformedToken("payload fields")
    version, arn, exp, jti = payload["v"], payload["arn"], payload["exp"], payload["jti"]
    if type(version) is not int or version != VERSION:
        raise MalformedToken("version")
    if not isinstance(arn, str) or not common.MODEL_PACKAGE_ARN_RE.match(arn):
        raise MalformedToken("arn")
    if type(exp) is not int:
        raise MalformedToken("exp")
    if not isinstance(jti, str) or not _JTI_RE.match(jti):
        raise MalformedToken("jti")
    if now >= exp and not allow_expired:
        raise Expired("expired")
    return Claims(arn=arn, exp=exp, jti=jti)


def load_secret(secret_arn: str | None = None) -> bytes:
    """The HMAC secret (UTF-8 bytes of the SecretString of SECRET_ARN), cached for <= 5 minutes."""
    secret_arn = secret_arn or common.require_env("SECRET_ARN")
    key = f"secret:{secret_arn}"
    cached = common.process_cache.get(key)
    now = time.monotonic()
    if cached is not None and now - cached[0] < SECRET_MAX_AGE_SECONDS:
        return cached[1]
    response = common.client("secretsmanager").get_secret_value(SecretId=secret_arn)
    text = response.get("SecretString")
    if not isinstance(text, str):
        raise common.ConfigError("the token secret has no SecretString")
    secret = text.encode("utf-8")
    if len(secret) < MIN_SECRET_BYTES:
        raise common.ConfigError(f"the token secret must be at least {MIN_SECRET_BYTES} bytes")
    common.process_cache[key] = (now, secret)
    return secret
