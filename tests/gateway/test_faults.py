"""Fault boundaries over real sockets (issue 18): a frame, a bug or an outage on one
connection ends that connection alone, with a documented close code; every other session
keeps receiving, and the node keeps accepting."""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

import pytest
import trio
from wsproto.events import BytesMessage, Ping

from core.store.database import DatabaseUnavailable
from gateway import payloads
from tests.api.rooms import new_room, send
from tests.gateway.client import Closed, connect
from tests.gateway.test_dispatch import ready

if TYPE_CHECKING:
    from tests.api.rooms import Room
    from tests.gateway.client import GatewayClient
    from tests.running import ApiClient


async def still_receives(api: ApiClient, room: Room, client: GatewayClient) -> None:
    """`client` gets the next message posted in the room."""
    posted = await send(api, room.owner, room, content="still here")
    while (await client.next_named("MESSAGE_CREATE"))["id"] != posted["id"]:
        pass


# Regression (issue 18): `{"op": 1, "d": -1}` after IDENTIFY raised OverflowError in the
# native feed, which ended the gateway's nursery and with it the whole process.
@pytest.mark.parametrize("d", [-1, -(2**63), 2**64, 1.5, "7", True, [1]])
async def test_a_heartbeat_out_of_range_closes_only_its_own_connection_4002(
    api: ApiClient, gateway: str, d: object
) -> None:
    room = await new_room(api)
    async with connect(gateway) as bystander, connect(gateway) as sender:
        await ready(bystander, room.owner)
        await ready(sender, room.member)
        await sender.send_text(json.dumps({"op": 1, "d": d}))
        assert await sender.closed_with() == 4002
        await still_receives(api, room, bystander)
    async with connect(gateway) as later:  # the node still accepts
        await ready(later, room.member)


async def test_a_bug_in_one_connection_closes_it_resumably_and_nobody_else(
    api: ApiClient, gateway: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    room = await new_room(api)
    real = payloads.presence

    def broken(d: object) -> object:  # the test-only fault: one payload a handler chokes on
        if isinstance(d, dict) and d.get("status") == "idle":
            raise RuntimeError("injected")
        return real(d)

    monkeypatch.setattr(payloads, "presence", broken)  # (the module conversation calls)
    async with connect(gateway) as bystander, connect(gateway) as victim:
        await ready(bystander, room.owner)
        await ready(victim, room.member)
        session_id, seq = victim.session_id, victim.seq
        await victim.send(3, {"status": "idle", "activities": [], "since": None, "afk": False})
        assert await victim.closed_with() == 4000  # it has a session: resume
        await still_receives(api, room, bystander)
    faults = [r for r in caplog.records if getattr(r, "boundary", None) == "gateway-connection"]
    assert [(r.levelname, getattr(r, "error_type", None)) for r in faults] == [
        ("ERROR", "RuntimeError")
    ]
    async with connect(gateway) as again:  # and it resumes
        again.seq = seq
        await again.send(6, {"token": room.member.token, "session_id": session_id, "seq": seq})
        await again.next_named("RESUMED")


async def test_a_database_outage_during_identify_closes_that_connection_4000(
    api: ApiClient, gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = await new_room(api)
    sessions = api.services.sessions
    real = sessions.guilds

    async def unavailable(*args: Any) -> Any:
        raise DatabaseUnavailable("every connection stayed busy")

    async with connect(gateway) as bystander:
        await ready(bystander, room.owner)
        monkeypatch.setattr(sessions, "guilds", unavailable)
        async with connect(gateway) as client:
            await client.send(2, {"token": room.member.token, "intents": 513, "properties": {}})
            assert await client.closed_with() == 4000  # try again: it is not the client's fault
        monkeypatch.setattr(sessions, "guilds", real)
        await still_receives(api, room, bystander)
        async with connect(gateway) as client:  # back: identify works again
            await ready(client, room.member)


def _value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63), 10**30])
    if kind == 3:
        return rng.choice([0.5, -1e300, 1e308])
    if kind == 4:
        return rng.choice(["", "x" * 50, "²", "①", "\ud800", "12345678901234567890123", "9" * 30])
    if kind == 5:
        return rng.choice(["online", "idle", "sleeping", "1", "-1"])
    if kind == 6:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = [
        "token",
        "intents",
        "shard",
        "session_id",
        "seq",
        "guild_id",
        "user_ids",
        "query",
        "limit",
        "nonce",
        "presences",
        "status",
        "activities",
        "name",
        "type",
        "properties",
        "large_threshold",
        "presence",
        "channel_id",
        "self_mute",
        "since",
        "afk",
    ]
    return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randrange(5))}


def _frame(rng: random.Random, token: str) -> str | bytes:
    """A client message: JSON of any shape, or bytes that are not JSON at all."""
    roll = rng.randrange(10)
    if roll == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
    if roll == 1:
        return "[" * rng.randrange(1, 2000)
    op = rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 31, 99, -1, 2**64, "1", None])
    d = _value(rng)
    if op == 2 and isinstance(d, dict) and rng.random() < 0.5:
        d["token"] = token  # sometimes an IDENTIFY that gets as far as the token
    return json.dumps({"op": op, "d": d})


# Close codes a client's input may cause (Gateway docs; RFC 6455 for malformed frames).
_DOCUMENTED = {4001, 4002, 4003, 4004, 4005, 4007, 4008, 4010, 4011, 4012, 4013, 4014, 1002, 1007}


async def test_any_frame_ends_at_most_its_own_connection_with_a_documented_code(
    api: ApiClient, gateway: str
) -> None:
    # Seeded and bounded: 120 connections, each one frame, before or after IDENTIFY. (About
    # three seconds: each needs a connection and often an IDENTIFY.)
    rng = random.Random(18)
    room = await new_room(api)
    codes: dict[int | None, int] = {}
    async with connect(gateway) as sentinel:
        await ready(sentinel, room.owner)
        for _ in range(120):
            async with connect(gateway) as client:
                if rng.random() < 0.5:
                    await ready(client, room.member)
                frame = _frame(rng, room.member.token)
                if isinstance(frame, bytes):
                    await client.stream.send_all(client.ws.send(BytesMessage(frame)))
                else:
                    await client.send_text(frame)
                await client.stream.send_all(client.ws.send(Ping(b"still?")))
                code = await _outcome(client)
                assert code is None or code in _DOCUMENTED, (frame, code)
                codes[code] = codes.get(code, 0) + 1
        await still_receives(api, room, sentinel)
    assert len(codes) > 3  # the generator reached several outcomes, not one


async def _outcome(client: GatewayClient) -> int | None:
    """The close code the frame caused, or None if the connection lives on (it answers a
    heartbeat)."""
    try:
        await client.send(1, None)
        with trio.fail_after(5):
            while (await client.receive())["op"] != 11:
                pass
    except (Closed, trio.BrokenResourceError):
        return client.close_code
    return None
