"""Registration, login, refresh and logout over real HTTP, against a real PostgreSQL."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from typing import TYPE_CHECKING

import httpx
import pytest
import trio
from argon2 import PasswordHasher

from core.config import Registration, Settings
from tests.running import ApiClient, running_api

if TYPE_CHECKING:
    from core.store.database import Database

UNAUTHORIZED = {"code": 0, "message": "401: Unauthorized"}


def field_errors(response: httpx.Response) -> dict[str, list[str]]:
    """A 50035 body's field → codes, for the fields at the top of the tree."""
    body = response.json()
    assert response.status_code == 400, body
    assert (body["code"], body["message"]) == (50035, "Invalid Form Body")
    return {
        field: [error["code"] for error in node["_errors"]]
        for field, node in body["errors"].items()
    }


async def test_register_returns_tokens_and_the_private_user(api: ApiClient) -> None:
    response = await api.http.post(
        "/api/v10/auth/register",
        json={
            "username": "Grace.Hopper_1",
            "email": " Grace@Example.TEST ",
            "password": "cobol-forever",
            "global_name": "Grace",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["expires_in"] == 900
    assert body["token"]
    assert body["refresh_token"]
    user = body["user"]
    assert user["username"] == "grace.hopper_1"  # usernames are lower case
    assert user["email"] == "grace@example.test"
    assert user["discriminator"] == "0"
    assert user["global_name"] == "Grace"
    assert user["id"].isdigit()
    assert set(user) >= {
        "id", "username", "discriminator", "global_name", "avatar", "bot", "system",
        "mfa_enabled", "banner", "accent_color", "locale", "flags", "public_flags",
        "email", "verified",
    }  # fmt: skip
    me = await api.http.get("/api/v10/users/@me", headers={"Authorization": body["token"]})
    assert me.json() == user  # the bare JWT works as well as "Bearer <jwt>"


async def test_register_with_a_taken_username_or_email_changes_nothing(api: ApiClient) -> None:
    first = await api.register()
    users_before = await api.count("users")
    taken_name = await api.http.post(
        "/api/v10/auth/register",
        json={
            "username": first.username.upper(),
            "email": "other@example.test",
            "password": "12345678",
        },
    )
    taken_email = await api.http.post(
        "/api/v10/auth/register",
        json={
            "username": "someone_else_1",
            "email": f"{first.username}@EXAMPLE.test",
            "password": "12345678",
        },
    )
    assert field_errors(taken_name) == {"username": ["USERNAME_ALREADY_TAKEN"]}
    assert field_errors(taken_email) == {"email": ["EMAIL_ALREADY_REGISTERED"]}
    assert await api.count("users") == users_before


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"username": ["BASE_TYPE_REQUIRED"], "email": ["BASE_TYPE_REQUIRED"], "password": ["BASE_TYPE_REQUIRED"]}),
        ({"username": 5, "email": "a@b.cd", "password": "12345678"}, {"username": ["BASE_TYPE_STRING"]}),
        # A key Discord does not define is ignored, as Discord ignores it: the rest still counts.
        ({"username": "x", "email": "a@b.cd", "password": "12345678", "admin": True}, {"username": ["BASE_TYPE_BAD_LENGTH"]}),
        ({"username": "x", "email": "nope", "password": "short"}, {"username": ["BASE_TYPE_BAD_LENGTH"], "email": ["EMAIL_TYPE_INVALID_EMAIL"], "password": ["BASE_TYPE_BAD_LENGTH"]}),
        ({"username": "a" * 33, "email": "a@b.cd", "password": "p" * 129}, {"username": ["BASE_TYPE_BAD_LENGTH"], "password": ["BASE_TYPE_BAD_LENGTH"]}),
        ({"username": "bad name!", "email": "a@b.cd", "password": "12345678"}, {"username": ["USERNAME_INVALID_CHARACTERS"]}),
        ({"username": "two..dots", "email": "a@b.cd", "password": "12345678"}, {"username": ["USERNAME_INVALID_CHARACTERS"]}),
        ({"username": "x'; DROP TABLE users;--", "email": "a@b.cd", "password": "12345678"}, {"username": ["USERNAME_INVALID_CHARACTERS"]}),
        ({"username": "robert'--", "email": "a@b.cd", "password": "12345678"}, {"username": ["USERNAME_INVALID_CHARACTERS"]}),
        ({"username": "nul_name", "email": "a@b.cd", "password": "1234\u00005678"}, {"password": ["BASE_TYPE_STRING"]}),
        ({"username": "nul_name", "email": "a@b.cd", "password": "12345678", "global_name": ""}, {"global_name": ["BASE_TYPE_BAD_LENGTH"]}),
    ],
)  # fmt: skip
async def test_register_with_bad_fields_lists_every_problem_and_changes_nothing(
    api: ApiClient, body: dict[str, object], errors: dict[str, list[str]]
) -> None:
    users_before = await api.count("users")
    response = await api.http.post("/api/v10/auth/register", json=body)
    assert field_errors(response) == errors
    assert await api.count("users") == users_before


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, 50109),
        (b"\xff\xfe{}", 400, 50109),  # not UTF-8
        (b'{"username": "\\ud800"}', 400, 50035),  # a lone surrogate: not text
        (b"[1, 2]", 400, 50035),  # JSON, but not an object
        (b"[" * 100_000 + b"]" * 100_000, 400, 50109),  # nesting deeper than the parser allows
    ],
)
async def test_register_with_a_malformed_body_is_refused_and_changes_nothing(
    api: ApiClient, content: bytes, status: int, code: int
) -> None:
    users_before = await api.count("users")
    response = await api.http.post(
        "/api/v10/auth/register", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status
    assert response.json()["code"] == code
    assert await api.count("users") == users_before


async def raw_post(api: ApiClient, path: str, head: str, body: bytes) -> tuple[int, object]:
    """A hand-written HTTP/1.1 request over a plain socket: the server may answer before the
    body is sent (and stop reading it), which a normal client reports as an error of its own."""
    url = httpx.URL(str(api.http.base_url))
    assert url.host is not None
    assert url.port is not None
    stream = await trio.open_tcp_stream(url.host, url.port)
    async with stream:
        request = (
            f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{head}\r\n"
        )
        await stream.send_all(request.encode())
        with contextlib.suppress(trio.BrokenResourceError):
            await stream.send_all(body)
        answer = b""
        with trio.fail_after(10):
            while b"\r\n\r\n" not in answer:
                answer += await stream.receive_some()
            head_part, _, payload = answer.partition(b"\r\n\r\n")
            headers = dict(line.lower().split(b": ", 1) for line in head_part.split(b"\r\n")[1:])
            while len(payload) < int(headers[b"content-length"]):
                payload += await stream.receive_some()
    return int(head_part.split(b" ", 2)[1]), json.loads(payload)


async def test_oversized_bodies_are_refused_with_413_and_change_nothing(api: ApiClient) -> None:
    users_before = await api.count("users")
    limit = 8 * 1024 * 1024
    declared = await raw_post(
        api, "/api/v10/auth/register", f"Content-Length: {limit + 1}\r\n", b""
    )
    chunk = b"x" * (1024 * 1024)
    chunked_body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(9)) + b"0\r\n\r\n"
    streamed = await raw_post(
        api, "/api/v10/auth/register", "Transfer-Encoding: chunked\r\n", chunked_body
    )
    for status, body in (declared, streamed):
        assert status == 413
        assert body == {"code": 40005, "message": "Request entity too large"}
    assert await api.count("users") == users_before


async def test_login_by_username_or_email_starts_a_new_session(api: ApiClient) -> None:
    person = await api.register()
    sessions_before = await api.count("sessions")
    for login in (person.username, f"{person.username}@example.test".upper()):
        response = await api.http.post(
            "/api/v10/auth/login", json={"login": login, "password": person.password}
        )
        assert response.status_code == 200
        body = response.json()
        assert body["user_id"] == str(person.id)
        assert body["expires_in"] == 900
        me = await api.http.get(
            "/api/v10/users/@me", headers={"Authorization": f"Bearer {body['token']}"}
        )
        assert me.json()["id"] == str(person.id)
    assert await api.count("sessions") == sessions_before + 2


async def test_unknown_login_and_wrong_password_get_the_same_answer(api: ApiClient) -> None:
    person = await api.register()
    sessions_before = await api.count("sessions")
    wrong = await api.http.post(
        "/api/v10/auth/login", json={"login": person.username, "password": "not the password"}
    )
    unknown = await api.http.post(
        "/api/v10/auth/login", json={"login": "nobody_here", "password": "not the password"}
    )
    sql = await api.http.post(
        "/api/v10/auth/login", json={"login": "' OR '1'='1", "password": "' OR '1'='1"}
    )
    assert wrong.status_code == unknown.status_code == sql.status_code == 400
    assert wrong.json() == unknown.json() == sql.json()
    assert field_errors(wrong) == {"login": ["INVALID_LOGIN"], "password": ["INVALID_LOGIN"]}
    assert await api.count("sessions") == sessions_before


async def test_login_upgrades_a_hash_made_with_weaker_parameters(api: ApiClient) -> None:
    person = await api.register()
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(person.password)
    await api.services.db.run(
        lambda c: c.execute("UPDATE users SET password_hash = %s WHERE id = %s", (weak, person.id))
    )
    response = await api.http.post(
        "/api/v10/auth/login", json={"login": person.username, "password": person.password}
    )
    assert response.status_code == 200
    row = await api.services.db.run(
        lambda c: c.execute(
            "SELECT password_hash FROM users WHERE id = %s", (person.id,)
        ).fetchone()
    )
    assert row is not None
    assert str(row[0]).startswith("$argon2id$v=19$m=19456,t=2,p=1$")


async def refresh(api: ApiClient, refresh_token: str) -> httpx.Response:
    return await api.http.post("/api/v10/auth/refresh", json={"refresh_token": refresh_token})


async def test_refresh_rotates_and_a_retry_within_the_grace_window_gets_the_same_pair(
    api: ApiClient,
) -> None:
    person = await api.register()
    first = await refresh(api, person.refresh_token)
    retried = await refresh(api, person.refresh_token)
    assert first.status_code == retried.status_code == 200
    assert first.json() == retried.json()
    pair = first.json()
    assert pair["refresh_token"] != person.refresh_token
    assert pair["user_id"] == str(person.id)
    me = await api.http.get(
        "/api/v10/users/@me", headers={"Authorization": f"Bearer {pair['token']}"}
    )
    assert me.status_code == 200
    second = await refresh(api, pair["refresh_token"])
    assert second.status_code == 200
    assert second.json()["refresh_token"] not in (pair["refresh_token"], person.refresh_token)


async def test_reusing_a_rotated_refresh_token_revokes_its_whole_family(
    settings: Settings, db: Database
) -> None:
    no_grace = dataclasses.replace(settings, refresh_reuse_grace_s=0.0)
    async with running_api(no_grace, db) as api:
        person = await api.register()
        other = await api.login(person)
        rotated = (await refresh(api, person.refresh_token)).json()

        reuse = await refresh(api, person.refresh_token)  # a stolen copy of the old token

        assert reuse.status_code == 401
        assert reuse.json() == UNAUTHORIZED
        # Every token descended from that login is dead: the rotated refresh token and the
        # access tokens, at once (not only when they expire).
        assert (await refresh(api, rotated["refresh_token"])).status_code == 401
        for token in (person.token, rotated["token"]):
            me = await api.http.get(
                "/api/v10/users/@me", headers={"Authorization": f"Bearer {token}"}
            )
            assert me.status_code == 401
        # Another login of the same person is another family, and lives on.
        me = await api.http.get(
            "/api/v10/users/@me", headers={"Authorization": f"Bearer {other['token']}"}
        )
        assert me.status_code == 200


@pytest.mark.parametrize("token", ["", "x" * 43, "definitely-not-issued"])
async def test_refresh_with_an_unknown_token_is_401(api: ApiClient, token: str) -> None:
    assert (await refresh(api, token)).json() == UNAUTHORIZED


async def test_logout_revokes_that_family_only(api: ApiClient) -> None:
    person = await api.register()
    other = await api.login(person)
    response = await api.http.post(
        "/api/v10/auth/logout", json={"refresh_token": person.refresh_token}
    )
    assert response.status_code == 204
    assert (await api.http.get("/api/v10/users/@me", headers=person.auth)).status_code == 401
    assert (await refresh(api, person.refresh_token)).status_code == 401
    still = await api.http.get(
        "/api/v10/users/@me", headers={"Authorization": f"Bearer {other['token']}"}
    )
    assert still.status_code == 200
    again = await api.http.post("/api/v10/auth/logout", json={"refresh_token": "unknown"})
    assert again.json() == UNAUTHORIZED


async def test_logout_all_revokes_every_family(api: ApiClient) -> None:
    person = await api.register()
    other = await api.login(person)
    response = await api.http.post("/api/v10/auth/logout-all", headers=person.auth)
    assert response.status_code == 204
    for token in (person.token, other["token"]):
        me = await api.http.get("/api/v10/users/@me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 401
    assert (await refresh(api, other["refresh_token"])).status_code == 401


async def test_revocations_survive_a_restart(settings: Settings, db: Database) -> None:
    async with running_api(settings, db) as api:
        person = await api.register()
        await api.http.post("/api/v10/auth/logout", json={"refresh_token": person.refresh_token})
    async with running_api(settings, db) as restarted:
        me = await restarted.http.get("/api/v10/users/@me", headers=person.auth)
    assert me.status_code == 401


async def test_invite_only_registration_needs_a_live_code(settings: Settings, db: Database) -> None:
    invite_only = dataclasses.replace(settings, registration=Registration.INVITE)
    async with running_api(invite_only, db) as api:
        code = await api.services.accounts.create_registration_code(uses=1, ttl_s=3600)
        body = {"username": "invited_one", "email": "invited@example.test", "password": "12345678"}
        users_before = await api.count("users")

        missing = await api.http.post("/api/v10/auth/register", json=body)
        wrong = await api.http.post("/api/v10/auth/register", json={**body, "invite": "guess"})
        assert field_errors(missing) == {"invite": ["BASE_TYPE_REQUIRED"]}
        assert field_errors(wrong) == {"invite": ["INVITE_INVALID"]}
        assert await api.count("users") == users_before

        # A rejected registration does not use the code up.
        first_code = await api.services.accounts.create_registration_code(uses=1, ttl_s=3600)
        first = await api.http.post(
            "/api/v10/auth/register",
            json={
                "username": "first_in",
                "email": "first@example.test",
                "password": "12345678",
                "invite": first_code,
            },
        )
        assert first.status_code == 201
        clash = await api.http.post(
            "/api/v10/auth/register", json={**body, "username": "FIRST_IN", "invite": code}
        )
        assert field_errors(clash) == {"username": ["USERNAME_ALREADY_TAKEN"]}
        used = await api.http.post("/api/v10/auth/register", json={**body, "invite": code})
        again = await api.http.post(
            "/api/v10/auth/register",
            json={**body, "username": "invited_two", "email": "two@example.test", "invite": code},
        )
    assert used.status_code == 201
    assert field_errors(again) == {"invite": ["INVITE_INVALID"]}


async def test_api_v9_is_an_alias_of_v10(api: ApiClient) -> None:
    person = await api.register()
    v9 = await api.http.get("/api/v9/users/@me", headers=person.auth)
    v10 = await api.http.get("/api/v10/users/@me", headers=person.auth)
    assert v9.status_code == 200
    assert v9.json() == v10.json()
