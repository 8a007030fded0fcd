"""The current user, other users, and profile edits."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest

from tests.api.test_auth import UNAUTHORIZED, field_errors

if TYPE_CHECKING:
    from tests.running import ApiClient

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64


def data_uri(content_type: str, data: bytes) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


async def test_other_users_are_seen_without_private_fields(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    seen = await api.http.get(f"/api/v10/users/{bob.id}", headers=alice.auth)
    assert seen.status_code == 200
    body = seen.json()
    assert body["id"] == str(bob.id)
    assert body["username"] == bob.username
    assert "email" not in body
    assert "verified" not in body


@pytest.mark.parametrize("user_id", ["1", "12345678901234567890123", "abc", "-5"])
async def test_unknown_user_is_10013(api: ApiClient, user_id: str) -> None:
    alice = await api.register()
    response = await api.http.get(f"/api/v10/users/{user_id}", headers=alice.auth)
    assert response.status_code == 404
    assert response.json() == {"code": 10013, "message": "Unknown User"}


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic abc", "Bot", "Bearer a.b.c", "garbage with spaces"],
)
async def test_requests_without_valid_credentials_are_401(
    api: ApiClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await api.http.get("/api/v10/users/@me", headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_edit_profile_sets_names_bio_and_images(api: ApiClient) -> None:
    alice = await api.register()
    response = await api.http.patch(
        "/api/v10/users/@me",
        headers=alice.auth,
        json={
            "username": "Alice_Renamed_" + str(alice.id)[-6:],
            "global_name": " Alice ",
            "bio": "hello'; DROP TABLE users; --",
            "avatar": data_uri("image/png", PNG),
            "banner": data_uri("image/gif", GIF),
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice_renamed_" + str(alice.id)[-6:]
    assert body["global_name"] == "Alice"
    assert body["bio"] == "hello'; DROP TABLE users; --"  # stored as text, never run
    assert len(body["avatar"]) == 32
    assert body["banner"].startswith("a_")  # animated
    cleared = await api.http.patch("/api/v10/users/@me", headers=alice.auth, json={"avatar": None})
    assert cleared.json()["avatar"] is None
    assert cleared.json()["banner"] == body["banner"]  # fields not sent stay as they were


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"avatar": "data:image/png;base64," + base64.b64encode(GIF).decode()}, {"avatar": ["IMAGE_INVALID"]}),
        ({"avatar": "data:image/svg+xml;base64,PHN2Zz4="}, {"avatar": ["IMAGE_INVALID"]}),
        ({"avatar": "data:image/png;base64,@@@"}, {"avatar": ["IMAGE_INVALID"]}),
        ({"avatar": "data:image/png;base64," + "A" * (7 * 1024 * 1024)}, {"avatar": ["BINARY_TYPE_MAX_SIZE"]}),
        ({"username": None}, {"username": ["BASE_TYPE_BAD_LENGTH"]}),
        ({"bio": "b" * 191}, {"bio": ["BASE_TYPE_MAX_LENGTH"]}),
        ({"new_password": "new-password"}, {"password": ["BASE_TYPE_REQUIRED"]}),
        ({"new_password": "short", "password": "x"}, {"new_password": ["BASE_TYPE_BAD_LENGTH"]}),
        ({"email": "new@example.test"}, {"email": ["UNSUPPORTED"]}),
        ({"username": None, "is_admin": True}, {"username": ["BASE_TYPE_BAD_LENGTH"]}),  # is_admin: ignored
        ({"global_name": 7}, {"global_name": ["BASE_TYPE_STRING"]}),
    ],
)  # fmt: skip
async def test_bad_profile_edits_change_nothing(
    api: ApiClient, body: dict[str, object], errors: dict[str, list[str]]
) -> None:
    alice = await api.register()
    before = (await api.http.get("/api/v10/users/@me", headers=alice.auth)).json()
    response = await api.http.patch("/api/v10/users/@me", headers=alice.auth, json=body)
    assert field_errors(response) == errors
    after = (await api.http.get("/api/v10/users/@me", headers=alice.auth)).json()
    assert after == before


async def test_taken_username_is_refused_whatever_its_case(api: ApiClient) -> None:
    alice, bob = await api.register(), await api.register()
    response = await api.http.patch(
        "/api/v10/users/@me", headers=bob.auth, json={"username": alice.username.upper()}
    )
    assert field_errors(response) == {"username": ["USERNAME_ALREADY_TAKEN"]}


async def test_password_change_needs_the_current_one_and_revokes_other_sessions(
    api: ApiClient,
) -> None:
    alice = await api.register()
    other = await api.login(alice)
    wrong = await api.http.patch(
        "/api/v10/users/@me",
        headers=alice.auth,
        json={"password": "not-it", "new_password": "brand-new-password"},
    )
    assert field_errors(wrong) == {"password": ["PASSWORD_DOES_NOT_MATCH"]}
    still = await api.http.get("/api/v10/users/@me", headers={"Authorization": other["token"]})
    assert still.status_code == 200, "a refused change revokes nothing"

    changed = await api.http.patch(
        "/api/v10/users/@me",
        headers=alice.auth,
        json={"password": alice.password, "new_password": "brand-new-password"},
    )
    assert changed.status_code == 200
    assert (await api.http.get("/api/v10/users/@me", headers=alice.auth)).status_code == 200
    revoked = await api.http.get("/api/v10/users/@me", headers={"Authorization": other["token"]})
    assert revoked.status_code == 401
    old = await api.http.post(
        "/api/v10/auth/login", json={"login": alice.username, "password": alice.password}
    )
    new = await api.http.post(
        "/api/v10/auth/login", json={"login": alice.username, "password": "brand-new-password"}
    )
    assert old.status_code == 400
    assert new.status_code == 200
