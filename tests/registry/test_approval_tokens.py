"""approval_tokens: signed, expiring tokens bound to one model package ARN."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import approval_tokens
import approval_common as common
import pytest
from approval_tokens import BadSignature, Expired, MalformedToken

SECRET = b"x" * 32 + b"-token-secret"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3"
NOW = 1_800_000_000.0


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signed(payload: bytes | str, secret: bytes = SECRET) -> str:
    """A token whose (arbitrary) payload carries a valid signature."""
    body = b64(payload.encode() if isinstance(payload, str) else payload)
    return f"{body}.{b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())}"


def claims_json(**overrides) -> str:
    claims = {"v": 1, "arn": ARN, "exp": int(NOW) + 60, "jti": "a" * 32, **overrides}
    return json.dumps({k: v for k, v in claims.items() if v is not ...})


def test_round_trip():
    token, jti, exp = approval_tokens.issue(SECRET, ARN, 3600, NOW)
    assert exp == int(NOW) + 3600
    assert len(jti) == 32 and int(jti, 16) >= 0
    claims = approval_tokens.verify(SECRET, token, NOW + 10)
    assert claims == approval_tokens.Claims(arn=ARN, exp=exp, jti=jti)


def test_format_is_two_unpadded_base64url_parts_with_hmac_sha256():
    token, jti, exp = approval_tokens.issue(SECRET, ARN, 60, NOW)
    body, sig = token.split(".")
    assert "=" not in token
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    assert payload == {"v": 1, "arn": ARN, "exp": exp, "jti": jti}
    assert sig == b64(hmac.new(SECRET, body.encode(), hashlib.sha256).digest())


def test_each_token_has_its_own_jti():
    jtis = {approval_tokens.issue(SECRET, ARN, 60, NOW)[1] for _ in range(20)}
    assert len(jtis) == 20


def test_tampered_payload_is_bad_signature():
    token, _, _ = approval_tokens.issue(SECRET, ARN, 60, NOW)
    _, sig = token.split(".")
    other = b64(claims_json(arn=ARN.replace("churn/3", "churn/4")).encode())
    with pytest.raises(BadSignature):
        approval_tokens.verify(SECRET, f"{other}.{sig}", NOW)


def test_extended_expiry_is_bad_signature():
    token, _, _ = approval_tokens.issue(SECRET, ARN, 60, NOW)
    _, sig = token.split(".")
    longer = b64(claims_json(exp=int(NOW) + 10**6).encode())
    with pytest.raises(BadSignature):
        approval_tokens.verify(SECRET, f"{longer}.{sig}", NOW)


def test_tampered_signature_is_bad_signature():
    token, _, _ = approval_tokens.issue(SECRET, ARN, 60, NOW)
    body, sig = token.split(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    with pytest.raises(BadSignature):
        approval_tokens.verify(SECRET, f"{body}.{flipped}", NOW)


def test_truncated_signature_is_refused():
    token, _, _ = approval_tokens.issue(SECRET, ARN, 60, NOW)
    body, sig = token.split(".")
    with pytest.raises((BadSignature, MalformedToken)):
        approval_tokens.verify(SECRET, f"{body}.{sig[:20]}", NOW)


def test_wrong_secret_is_bad_signature():
    token, _, _ = approval_tokens.issue(SECRET, ARN, 60, NOW)
    with pytest.raises(BadSignature):
        approval_tokens.verify(b"y" * 45, token, NOW)


def test_expiry_boundary_exp_equal_now_is_expired():
    token, _, exp = approval_tokens.issue(SECRET, ARN, 60, NOW)
    assert approval_tokens.verify(SECRET, token, exp - 1).exp == exp
    assert approval_tokens.verify(SECRET, token, exp - 0.001).exp == exp
    with pytest.raises(Expired):
        approval_tokens.verify(SECRET, token, exp)
    with pytest.raises(Expired):
        approval_tokens.verify(SECRET, token, exp + 3600)


def test_forged_and_expired_is_reported_as_bad_signature():
    token, _, exp = approval_tokens.issue(SECRET, ARN, 60, NOW)
    with pytest.raises(BadSignature):
        approval_tokens.verify(b"z" * 40, token, exp + 1)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b.c",
        ".",
        "abc.",
        ".abc",
        "ab$c.def",
        "abc.de f",
        "YWJj=.ZGVm",  # padding is not allowed
        "abcde.abcd",  # 5 base64 characters cannot be decoded
        "YWJi.ZGVm" + "\n",
    ],
)
def test_malformed_shapes(token):
    with pytest.raises(MalformedToken):
        approval_tokens.verify(SECRET, token, NOW)


def test_non_string_is_malformed():
    with pytest.raises(MalformedToken):
        approval_tokens.verify(SECRET, None, NOW)  # type: ignore[arg-type]


def test_non_canonical_base64_is_malformed():
    token, _, _ = approval_tokens.issue(SECRET, ARN, 60, NOW)
    body, sig = token.split(".")
    # 32 bytes -> 43 characters whose last one carries 2 unused bits; setting them keeps the bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(sig[-1])
    malleable = sig[:-1] + alphabet[last | 1 if last % 4 == 0 else last & ~3]
    assert base64.urlsafe_b64decode(malleable + "=") == base64.urlsafe_b64decode(sig + "=")
    with pytest.raises(MalformedToken):
        approval_tokens.verify(SECRET, f"{body}.{malleable}", NOW)


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe",
        json.dumps([1, 2]).encode(),
        claims_json(v=...).encode(),
        claims_json(arn=...).encode(),
        claims_json(exp=...).encode(),
        claims_json(jti=...).encode(),
        claims_json(v=2).encode(),
        claims_json(v=True).encode(),
        claims_json(v="1").encode(),
        claims_json(arn=123).encode(),
        claims_json(arn="arn:aws:s3:::bucket").encode(),
        claims_json(arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/churn").encode(),
        claims_json(exp="1800000060").encode(),
        claims_json(exp=1800000060.5).encode(),
        claims_json(exp=True).encode(),
        claims_json(jti="not-hex").encode(),
        claims_json(jti="A" * 32).encode(),
        claims_json(extra="field").encode(),
    ],
)
def test_signed_but_malformed_payload(payload):
    with pytest.raises(MalformedToken):
        approval_tokens.verify(SECRET, signed(payload), NOW)


def test_signed_well_formed_payload_verifies():
    # The positive control for the cases above: the helper does build valid tokens.
    assert approval_tokens.verify(SECRET, signed(claims_json()), NOW).jti == "a" * 32


def test_overlong_token_is_malformed_even_if_signed():
    payload = claims_json() + " " * 2000
    token = signed(payload)
    assert len(token) > 2048
    with pytest.raises(MalformedToken):
        approval_tokens.verify(SECRET, token, NOW)
    with pytest.raises(MalformedToken):
        approval_tokens.verify(SECRET, "a" * 2049, NOW)


@pytest.mark.parametrize(
    "arn, ttl",
    [
        ("arn:aws:s3:::bucket", 60),
        ("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn", 60),
        (ARN, 0),
        (ARN, -5),
        (ARN, 1.5),
        (ARN, True),
    ],
)
def test_issue_refuses_bad_arguments(arn, ttl):
    with pytest.raises(ValueError):
        approval_tokens.issue(SECRET, arn, ttl, NOW)


def test_issue_refuses_empty_secret():
    with pytest.raises(ValueError):
        approval_tokens.issue(b"", ARN, 60, NOW)


# ---------------------------------------------------------------- the secret from Secrets Manager


def test_load_secret_reads_the_secret_string_and_caches_it_for_five_minutes(registry, monkeypatch):
    import time as time_module

    clock = [1000.0]
    monkeypatch.setattr(time_module, "monotonic", lambda: clock[0])
    calls = []
    sm = common.client("secretsmanager")
    real = sm.get_secret_value
    monkeypatch.setattr(sm, "get_secret_value", lambda **kw: calls.append(kw) or real(**kw))

    assert approval_tokens.load_secret() == registry.secret
    clock[0] += 299
    assert approval_tokens.load_secret() == registry.secret
    assert len(calls) == 1
    clock[0] += 2
    sm_raw = __import__("boto3").client("secretsmanager", region_name="us-east-1")
    sm_raw.put_secret_value(SecretId=registry.secret_arn, SecretString="rotated-" + "r" * 40)
    assert approval_tokens.load_secret() == ("rotated-" + "r" * 40).encode()
    assert len(calls) == 2


def test_load_secret_refuses_a_short_secret(registry, monkeypatch):
    import boto3

    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=registry.secret_arn, SecretString="short"
    )
    with pytest.raises(common.ConfigError):
        approval_tokens.load_secret()


def test_load_secret_needs_secret_arn(monkeypatch):
    monkeypatch.delenv("SECRET_ARN", raising=False)
    with pytest.raises(common.ConfigError, match="SECRET_ARN"):
        approval_tokens.load_secret()
