"""Access, refresh and bot tokens: forgery, expiry and key rotation, checked without a server."""

from __future__ import annotations

import base64
import json

import jwt
import pytest

from core.domain import tokens
from core.domain.tokens import AccessClaims, JwtKeys, refresh_outcome
from core.errors import Unauthorized

OLD = ("old", b"o" * 32)
NEW = ("new", b"n" * 32)
NOW = 1_800_000_000


def claims(issued_at: int = NOW) -> AccessClaims:
    return AccessClaims(
        user_id=11,
        session_id=22,
        issued_at=issued_at,
        expires_at=issued_at + tokens.ACCESS_TOKEN_TTL_S,
        token_id="jti",
    )


def test_access_token_round_trips_with_kid_header() -> None:
    keys = JwtKeys((NEW,))
    token = tokens.issue_access_token(keys, claims())
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "kid": "new", "typ": "JWT"}
    assert tokens.verify_access_token(keys, token, NOW) == claims()


def test_rotated_key_verifies_while_listed_and_fails_once_removed() -> None:
    signed_by_old = tokens.issue_access_token(JwtKeys((OLD,)), claims())
    rotated = JwtKeys((NEW, OLD))  # new signs, old still verifies
    assert tokens.verify_access_token(rotated, signed_by_old, NOW).user_id == 11
    assert jwt.get_unverified_header(tokens.issue_access_token(rotated, claims()))["kid"] == "new"
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(JwtKeys((NEW,)), signed_by_old, NOW)


def test_expiry_allows_30_seconds_of_clock_skew_and_no_more() -> None:
    keys = JwtKeys((NEW,))
    token = tokens.issue_access_token(keys, claims())
    expiry = NOW + tokens.ACCESS_TOKEN_TTL_S
    assert tokens.verify_access_token(keys, token, expiry + 30).user_id == 11
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(keys, token, expiry + 31)


def test_a_remembered_token_still_expires_and_a_tampered_one_is_still_checked() -> None:
    keys = JwtKeys((NEW,))
    verified = tokens.VerifiedTokens(keys, size=2)
    token = tokens.issue_access_token(keys, claims())
    expiry = NOW + tokens.ACCESS_TOKEN_TTL_S
    assert verified.verify(token, NOW) == claims()
    assert verified.verify(token, expiry + 30) == claims()  # remembered, within the leeway
    with pytest.raises(Unauthorized):
        verified.verify(token, expiry + 31)
    header, payload, signature = token.split(".")
    with pytest.raises(Unauthorized):
        verified.verify(f"{header}.{payload}.{signature[:-2]}AA", NOW)
    others = [tokens.issue_access_token(keys, claims(NOW + i)) for i in (1, 2)]
    for other in others:
        verified.verify(other, NOW)
    assert len(verified._claims) == 2  # bounded: the oldest was forgotten
    assert token not in verified._claims


def _forge(header: dict[str, object], payload: dict[str, object], signature: bytes = b"") -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join(
        (part(json.dumps(header).encode()), part(json.dumps(payload).encode()), part(signature))
    )


GOOD_PAYLOAD = {"sub": "11", "sid": "22", "iat": NOW, "exp": NOW + 900, "jti": "x"}


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_forge({"alg": "none", "kid": "new"}, GOOD_PAYLOAD), id="alg-none"),
        pytest.param(
            _forge({"alg": "HS512", "kid": "new"}, GOOD_PAYLOAD, b"x" * 64), id="alg-hs512"
        ),
        pytest.param(
            jwt.encode(GOOD_PAYLOAD, b"n" * 32, algorithm="HS256", headers={"kid": "gone"}),
            id="unknown-kid",
        ),
        pytest.param(jwt.encode(GOOD_PAYLOAD, b"n" * 32, algorithm="HS256"), id="no-kid"),
        pytest.param(
            jwt.encode(GOOD_PAYLOAD, b"x" * 32, algorithm="HS256", headers={"kid": "new"}),
            id="wrong-secret",
        ),
        pytest.param(
            jwt.encode(
                {k: v for k, v in GOOD_PAYLOAD.items() if k != "sid"},
                b"n" * 32,
                algorithm="HS256",
                headers={"kid": "new"},
            ),
            id="missing-sid",
        ),
        pytest.param(
            jwt.encode(
                {**GOOD_PAYLOAD, "sub": "not-a-number"},
                b"n" * 32,
                algorithm="HS256",
                headers={"kid": "new"},
            ),
            id="bad-sub",
        ),
        pytest.param("not.a.jwt", id="garbage"),
        pytest.param("", id="empty"),
        pytest.param(tokens.new_bot_token(11), id="bot-token"),
    ],
)
def test_forged_or_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(JwtKeys((NEW,)), token, NOW)


def test_tampered_payload_is_refused() -> None:
    keys = JwtKeys((NEW,))
    header, _, signature = tokens.issue_access_token(keys, claims()).split(".")
    other = base64.urlsafe_b64encode(json.dumps({**GOOD_PAYLOAD, "sub": "12"}).encode())
    with pytest.raises(Unauthorized):
        tokens.verify_access_token(keys, f"{header}.{other.rstrip(b'=').decode()}.{signature}", NOW)


def test_successor_refresh_token_is_stable_per_key_and_parent() -> None:
    keys = JwtKeys((NEW, OLD))
    parent = tokens.hash_token(tokens.new_refresh_token())
    child = tokens.successor_refresh_token(keys, "new", parent)
    assert child == tokens.successor_refresh_token(keys, "new", parent)
    assert child != tokens.successor_refresh_token(keys, "old", parent)
    assert child != tokens.successor_refresh_token(keys, "new", tokens.hash_token("other"))
    with pytest.raises(Unauthorized):
        tokens.successor_refresh_token(keys, "gone", parent)


def test_bot_token_starts_with_the_bot_id() -> None:
    token = tokens.new_bot_token(1234567890123)
    first, secret = token.split(".")
    assert base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)) == b"1234567890123"
    assert len(secret) >= 43


@pytest.mark.parametrize(
    ("expires_at", "rotated_at", "revoked", "outcome"),
    [
        (NOW + 10, None, False, "rotate"),
        (NOW + 10, NOW - 5, False, "replay"),
        (NOW + 10, NOW - 10, False, "replay"),
        (NOW + 10, NOW - 11, False, "reuse"),
        (NOW + 10, None, True, "invalid"),
        (NOW + 10, NOW - 5, True, "invalid"),
        (NOW, None, False, "invalid"),
    ],
)
def test_refresh_outcome(
    expires_at: int, rotated_at: int | None, revoked: bool, outcome: str
) -> None:
    assert (
        refresh_outcome(
            expires_at_s=expires_at,
            rotated_at_s=rotated_at,
            session_revoked=revoked,
            now_s=NOW,
            grace_s=10,
        )
        == outcome
    )
