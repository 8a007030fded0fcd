"""Attachments: multipart uploads as discord.py sends them, signed and expiring links, and both
object stores: files under the data dir, and a real S3-compatible server."""

from __future__ import annotations

import dataclasses
import json
import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from core.config import S3Location
from core.domain.permissions import Permission
from core.services import open_object_store
from core.store.objects import LocalObjectStore
from core.store.s3 import S3ObjectStore
from tests.api.rooms import Room, count_messages, new_room
from tests.api.test_auth import field_errors
from tests.api.test_guilds import MISSING_PERMISSIONS
from tests.running import running_api

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from pathlib import Path

    from core.config import Settings
    from core.store.database import Database
    from core.store.objects import ObjectStore
    from tests.conftest import S3Server
    from tests.running import ApiClient, Person

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


async def upload(
    api: ApiClient,
    who: Person,
    room: Room,
    files: list[tuple[str, bytes]],
    payload: dict[str, object] | None = None,
) -> httpx.Response:
    """As discord.py does: payload_json, and files[n] parts sent as application/octet-stream."""
    body = {
        "content": "see attached",
        "attachments": [{"id": i, "filename": name} for i, (name, _) in enumerate(files)],
    }
    parts = {
        f"files[{i}]": (name, data, "application/octet-stream")
        for i, (name, data) in enumerate(files)
    }
    return await api.http.post(
        room.url(),
        headers=who.auth,
        data={"payload_json": json.dumps(payload or body)},
        files=parts,
    )


def local(url: str, settings: Settings) -> str:
    """A link's path and query, to fetch from the server under test: links carry the public
    URL, and tests bind a free port the settings cannot know."""
    assert url.startswith(settings.public_url + "/attachments/")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


@dataclasses.dataclass(frozen=True)
class Objects:
    """The store a test's API writes attachments to, and the folder where its files land."""

    store: ObjectStore
    folder: Path

    def files(self) -> list[Path]:
        return [p for p in self.folder.rglob("*") if p.is_file()]


@pytest.fixture(params=["local", "s3"])
async def objects(
    request: pytest.FixtureRequest, settings: Settings, s3_server: S3Server
) -> AsyncIterator[Objects]:
    if request.param == "local":
        yield Objects(
            LocalObjectStore(settings.data_dir / "objects"), settings.data_dir / "objects"
        )
        return
    bucket = f"test-{secrets.token_hex(6)}"  # each test a bucket of its own
    location = S3Location(
        s3_server.endpoint,
        bucket,
        "us-east-1",
        s3_server.access_key_id,
        s3_server.secret_access_key,
    )
    async with open_object_store(dataclasses.replace(settings, s3=location)) as store:
        yield Objects(store, s3_server.root / bucket)


@pytest.fixture
async def api(settings: Settings, db: Database, objects: Objects) -> AsyncIterator[ApiClient]:
    async with running_api(settings, db, objects=objects.store) as client:
        yield client


async def test_an_uploaded_file_is_served_back_through_its_signed_link(
    api: ApiClient, room: Room, settings: Settings
) -> None:
    response = await upload(api, room.member, room, [("cat.png", PNG), ("notes.txt", b"hello")])
    assert response.status_code == 200, response.text
    message = response.json()
    picture, notes = message["attachments"]
    assert (picture["filename"], picture["size"], picture["content_type"]) == (
        "cat.png",
        len(PNG),
        "image/png",
    )
    assert notes["content_type"] == "text/plain"
    query = parse_qs(urlsplit(picture["url"]).query)
    assert set(query) == {"ex", "is", "hm"}
    fetched = await api.http.get(local(picture["url"], settings))
    assert fetched.status_code == 200
    assert fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"
    assert fetched.headers["x-content-type-options"] == "nosniff"
    history = (await api.http.get(room.url(), headers=room.owner.auth)).json()
    assert [a["filename"] for a in history[0]["attachments"]] == ["cat.png", "notes.txt"]


async def test_a_tampered_or_expired_link_serves_nothing(
    api: ApiClient, room: Room, settings: Settings
) -> None:
    picture = (await upload(api, room.member, room, [("cat.png", PNG)])).json()["attachments"][0]
    url = local(picture["url"], settings)
    assert (await api.http.get(url)).status_code == 200
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    expired = (
        url.replace("ex=", "ex=1").split("&is")[0]
        + "&is=0&hm="
        + parse_qs(urlsplit(url).query)["hm"][0]
    )
    other_file = url.replace(f"/{picture['id']}/", f"/{int(picture['id']) + 1}/")
    for bad in (tampered, expired, other_file):
        response = await api.http.get(bad)
        assert response.status_code == 404, bad
        assert response.content != PNG


async def test_an_image_that_lies_is_refused_and_nothing_is_stored(
    api: ApiClient, room: Room, objects: Objects
) -> None:
    response = await upload(api, room.member, room, [("cat.png", b"#!/bin/sh\necho not a picture")])
    assert field_errors(response) == {"files[0]": ["CONTENT_TYPE_INVALID"]}
    assert await count_messages(api, room) == 0
    assert objects.files() == []


async def test_attaching_needs_attach_files_and_stores_nothing_without_it(
    api: ApiClient, room: Room, objects: Objects
) -> None:
    await api.http.put(
        f"/api/v10/channels/{room.channel_id}/permissions/{room.member.id}",
        headers=room.owner.auth,
        json={"type": 1, "deny": str(int(Permission.ATTACH_FILES))},
    )
    response = await upload(api, room.member, room, [("cat.png", PNG)])
    assert response.json() == MISSING_PERMISSIONS
    assert objects.files() == []
    assert await count_messages(api, room) == 0


async def test_deleting_a_message_deletes_its_files(
    api: ApiClient, room: Room, settings: Settings, objects: Objects
) -> None:
    message = (await upload(api, room.member, room, [("cat.png", PNG)])).json()
    assert len(objects.files()) == 1
    assert (
        await api.http.delete(room.url(f"/{message['id']}"), headers=room.member.auth)
    ).status_code == 204
    assert objects.files() == []
    assert (
        await api.http.get(local(message["attachments"][0]["url"], settings))
    ).status_code == 404


async def test_too_many_too_large_or_malformed_uploads_are_refused(
    settings: Settings, db: Database, objects: Objects
) -> None:
    small = dataclasses.replace(settings, max_upload_bytes=2048)
    async with running_api(small, db, objects=objects.store) as api:
        owner = await api.register()
        guild = (
            await api.http.post("/api/v10/guilds", headers=owner.auth, json={"name": "Uploads"})
        ).json()
        channels = (
            await api.http.get(f"/api/v10/guilds/{guild['id']}/channels", headers=owner.auth)
        ).json()
        room = Room(
            owner,
            owner,
            str(guild["id"]),
            next(c["id"] for c in channels if c["name"] == "general"),
        )
        too_large = await upload(api, owner, room, [("big.bin", b"x" * 4096)])
        assert field_errors(too_large) == {"files": ["BINARY_TYPE_MAX_SIZE"]}
        eleven = await upload(api, owner, room, [(f"{i}.txt", b"x") for i in range(11)])
        assert field_errors(eleven) == {"files": ["BASE_TYPE_MAX_LENGTH"]}
        bad_json = await api.http.post(
            room.url(),
            headers=owner.auth,
            data={"payload_json": "{nope"},
            files={"files[0]": ("a.txt", b"x")},
        )
        assert bad_json.json()["code"] == 50109
        bad_field = await api.http.post(
            room.url(),
            headers=owner.auth,
            data={"payload_json": "{}"},
            files={"upload": ("a.txt", b"x")},
        )
        assert field_errors(bad_field) == {"upload": ["FILE_FIELD_INVALID"]}
        sneaky = await upload(api, owner, room, [("../../etc/passwd", b"x")])
        assert field_errors(sneaky) == {"files[0]": ["FILENAME_INVALID"]}
        assert await count_messages(api, room) == 0
        assert objects.files() == []


async def test_a_store_that_refuses_the_upload_leaves_no_message(
    settings: Settings, db: Database, s3_server: S3Server
) -> None:
    # The right server and key id, the wrong secret: S3 answers 403 to every request.
    location = S3Location(
        s3_server.endpoint, "test-refused", "us-east-1", s3_server.access_key_id, "not-the-secret"
    )
    async with (
        httpx.AsyncClient() as http,
        running_api(settings, db, objects=S3ObjectStore(location, http)) as api,
    ):
        room = await new_room(api)
        response = await upload(api, room.member, room, [("cat.png", PNG)])
        assert response.status_code == 500
        assert response.json() == {"message": "500: Internal Server Error", "code": 0}
        assert await count_messages(api, room) == 0
        assert not (s3_server.root / "test-refused").exists()
