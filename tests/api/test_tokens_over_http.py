"""Forged, expired and rotated access tokens, as the API sees them."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

import jwt
import pytest

from core.domain import tokens
from tests.api.test_auth import UNAUTHORIZED
from tests.running import ApiClient, running_api

if TYPE_CHECKING:
    from core.config import Settings
    from core.store.database import Database


def signing_secret(api: ApiClient) -> bytes:
    keys = api.services.accounts.keys
    secret = keys.get(keys.signing_kid)
    assert secret is not None
    return secret


@pytest.mark.parametrize(
    "forgery", ["alg-none", "expired", "unknown-kid", "tampered", "other-user"]
)
async def test_forged_or_expired_tokens_are_401_and_reveal_nothing(
    api: ApiClient, forgery: str
) -> None:
    person, other = await api.register(), await api.register()
    kid = api.services.accounts.keys.signing_kid
    claims = jwt.decode(person.token, options={"verify_signature": False})
    now = int(time.time())
    token = {
        "alg-none": lambda: jwt.encode(claims, "", algorithm="none", headers={"kid": kid}),
        "expired": lambda: jwt.encode(
            {**claims, "iat": now - 3600, "exp": now - 60},
            signing_secret(api),
            algorithm="HS256",
            headers={"kid": kid},
        ),
        "unknown-kid": lambda: jwt.encode(
            claims, signing_secret(api), algorithm="HS256", headers={"kid": "retired"}
        ),
        "tampered": lambda: (
            person.token[:-4] + ("AAAA" if not person.token.endswith("AAAA") else "BBBB")
        ),
        "other-user": lambda: jwt.encode(
            {**claims, "sub": str(other.id)}, b"x" * 32, algorithm="HS256", headers={"kid": kid}
        ),
    }[forgery]()
    response = await api.http.get(
        "/api/v10/users/@me", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_rotated_keys_keep_sessions_until_the_old_key_is_removed(
    settings: Settings, db: Database
) -> None:
    old = ("k1", b"1" * 32)
    new = ("k2", b"2" * 32)
    async with running_api(dataclasses.replace(settings, jwt_keys=(old,)), db) as api:
        person = await api.register()
    # Rotation: the new key signs, the old one still verifies. Nobody is logged out.
    async with running_api(dataclasses.replace(settings, jwt_keys=(new, old)), db) as rotated:
        assert (
            await rotated.http.get("/api/v10/users/@me", headers=person.auth)
        ).status_code == 200
        fresh = await rotated.http.post(
            "/api/v10/auth/refresh", json={"refresh_token": person.refresh_token}
        )
        assert jwt.get_unverified_header(fresh.json()["token"])["kid"] == "k2"
    # The old key removed: its tokens stop; those signed by the new key go on.
    async with running_api(dataclasses.replace(settings, jwt_keys=(new,)), db) as retired:
        assert (
            await retired.http.get("/api/v10/users/@me", headers=person.auth)
        ).json() == UNAUTHORIZED
        new_auth = {"Authorization": f"Bearer {fresh.json()['token']}"}
        assert (await retired.http.get("/api/v10/users/@me", headers=new_auth)).status_code == 200


async def test_access_tokens_carry_the_documented_claims(api: ApiClient) -> None:
    person = await api.register()
    claims = jwt.decode(person.token, options={"verify_signature": False})
    assert jwt.get_unverified_header(person.token)["alg"] == "HS256"
    assert set(claims) == {"sub", "sid", "iat", "exp", "jti"}
    assert claims["sub"] == str(person.id)
    exp, iat = claims["exp"], claims["iat"]
    assert isinstance(exp, int)
    assert isinstance(iat, int)
    assert exp - iat == tokens.ACCESS_TOKEN_TTL_S
