"""The voice gateway's protocol over real TLS sockets, with tokens from the real main gateway's
op 4: HELLO, IDENTIFY before or after it, READY, SELECT_PROTOCOL, SESSION_DESCRIPTION,
heartbeats in both shapes, versions, and every close code a client's input can cause (each
refusal leaving nothing behind)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from gateway.voice.limits import HEARTBEAT_INTERVAL_MS
from tests.voice.callers import connected
from tests.voice.client import AES, XCHACHA, Refused, connect_voice, open_udp, open_voice
from tests.voice.conftest import in_voice, new_voice_room

if TYPE_CHECKING:
    from tests.running import ApiClient
    from tests.voice.client import Joined, VoiceClient
    from tests.voice.conftest import VoiceServer


async def test_identify_is_answered_with_ready_naming_the_ssrc_the_udp_endpoint_and_both_modes(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with in_voice(gateway, room.room.member, room.guild_id, room.channel_id) as (joined, _):
        assert joined.endpoint == voice.endpoint  # the node registered its endpoint
        async with connect_voice(voice.endpoint, voice.cert_path) as client:
            assert client.hello == {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}
            ready = await client.identify(joined)
            assert client.seq == 1  # numbered from 1; HELLO had none
            host, _, port = voice.endpoint.rpartition(":")
            assert ready == {
                "ssrc": ready["ssrc"],
                "ip": host,
                "port": int(port),
                "modes": [AES, XCHACHA],
            }
            assert 0 < ready["ssrc"] < 2**32
            assert [s.ssrc for s in voice.calls.sessions] == [ready["ssrc"]]


async def test_identify_sent_before_hello_arrives_is_answered_after_it(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with (
        in_voice(gateway, room.room.member, room.guild_id, room.channel_id) as (joined, _),
        open_voice(voice.endpoint, voice.cert_path) as client,
    ):
        await client.send(0, joined.identify())  # discord.py does not wait for HELLO
        hello = await client.receive()
        assert hello == {"op": 8, "d": {"heartbeat_interval": HEARTBEAT_INTERVAL_MS}}
        ready = await client.expect(2)
        assert ready["ssrc"] > 0
        assert client.seq == 1


@pytest.mark.parametrize("mode", [AES, XCHACHA])
async def test_select_protocol_sets_a_fresh_32_byte_key_for_the_mode_without_dave(
    api: ApiClient, gateway: str, voice: VoiceServer, mode: str
) -> None:
    room = await new_voice_room(api)
    async with (
        connected(gateway, voice, room.room.member, room) as (joined, client),
        open_udp(voice.endpoint) as udp,
    ):
        ready = await client.identify(joined)
        description = await client.select(ready, udp, mode)
        assert set(description) == {"mode", "secret_key", "dave_protocol_version"}
        assert description["mode"] == mode
        assert description["dave_protocol_version"] == 0
        key = description["secret_key"]
        assert len(key) == 32
        assert all(0 <= b <= 255 for b in key)
        assert client.seq == 2
        (session,) = voice.calls.sessions
        assert (session.mode, session.key) == (mode, bytes(key))


@pytest.mark.parametrize(
    ("target", "version"), [("/?v=8", 8), ("/voice/any/path?v=4", 4), ("/?encoding=json&v=7", 7)]
)
async def test_any_path_with_a_version_from_4_to_8_is_served_with_the_heartbeat_shape_of_it(
    voice: VoiceServer, target: str, version: int
) -> None:
    async with connect_voice(voice.endpoint, voice.cert_path, target) as client:
        if version >= 8:
            await client.send(3, {"t": 1501184119561, "seq_ack": -1})
            assert await client.receive() == {"op": 6, "d": {"t": 1501184119561}}
        else:
            await client.send(3, 1501184119561)
            assert await client.receive() == {"op": 6, "d": 1501184119561}


@pytest.mark.parametrize("target", ["/", "/?v=3", "/?v=9", "/?v=eight", "/?v=8&v=4"])
async def test_a_missing_or_unserved_version_is_refused_at_the_handshake(
    voice: VoiceServer, target: str
) -> None:
    with pytest.raises(Refused) as refused:
        async with open_voice(voice.endpoint, voice.cert_path, target):
            pass
    assert refused.value.status == 400


async def test_dave_ops_from_a_client_are_ignored(
    api: ApiClient, gateway: str, voice: VoiceServer
) -> None:
    room = await new_voice_room(api)
    async with (
        connected(gateway, voice, room.room.member, room) as (joined, client),
    ):
        await client.identify(joined)
        await client.send(23, {"transition_id": 1})  # DAVE transition ready
        await client.send_bytes(bytes([26]) + b"key package")  # DAVE MLS key package
        await client.heartbeat(7)
        assert await client.receive() == {"op": 6, "d": {"t": 7}}


# Each row: whether the client identifies first, what it sends then, the close code.
_SELECT: dict[str, Any] = {
    "protocol": "udp",
    "data": {"address": "127.0.0.1", "port": 5000, "mode": AES},
}
_CLOSES: list[tuple[bool, Any, int]] = [
    (False, "not json", 4002),
    (False, "[1, 2]", 4002),
    (False, '{"op": "0", "d": {}}', 4002),
    (False, b"\x01binary", 4002),
    (False, json.dumps({"op": 3, "d": {"t": 1, "pad": "x" * 5000}}), 4002),
    (False, {"op": 2, "d": {}}, 4001),  # READY is the server's
    (False, {"op": 99, "d": {}}, 4001),
    (False, {"op": 1, "d": _SELECT}, 4003),
    (False, {"op": 5, "d": {"speaking": 1, "delay": 0, "ssrc": 1}}, 4003),
    (False, {"op": 0, "d": "identify"}, 4020),
    (False, {"op": 0, "d": {"token": None}}, 4020),
    (False, {"op": 0, "d": {"server_id": "guild"}}, 4011),
    (False, {"op": 0, "d": {"server_id": "0"}}, 4011),
    (False, {"op": 0, "d": {"token": "x" * 43}}, 4004),
    (False, {"op": 0, "d": {"session_id": "another"}}, 4004),
    (False, {"op": 7, "d": {"session_id": "unknown"}}, 4006),
    (True, {"op": 0, "d": {}}, 4005),
    (True, {"op": 7, "d": {}}, 4005),
    (True, {"op": 1, "d": {**_SELECT, "protocol": "webrtc"}}, 4012),
    (
        True,
        {"op": 1, "d": {**_SELECT, "data": {**_SELECT["data"], "mode": "xsalsa20_poly1305"}}},
        4016,
    ),
    (True, {"op": 1, "d": {"protocol": "udp"}}, 4020),
    (True, {"op": 1, "d": {**_SELECT, "data": {**_SELECT["data"], "address": "::1"}}}, 4020),
    (True, {"op": 1, "d": {**_SELECT, "data": {**_SELECT["data"], "address": "host"}}}, 4020),
    (True, {"op": 1, "d": {**_SELECT, "data": {**_SELECT["data"], "port": 0}}}, 4020),
    (True, {"op": 1, "d": {**_SELECT, "data": {**_SELECT["data"], "port": 65536}}}, 4020),
    (True, {"op": 3, "d": "soon"}, 4020),
    (True, {"op": 5, "d": {"speaking": "yes"}}, 4020),
]


@pytest.mark.parametrize(("identified", "sent", "code"), _CLOSES)
async def test_bad_input_closes_with_the_documented_code_and_leaves_nothing(
    api: ApiClient,
    gateway: str,
    voice: VoiceServer,
    identified: bool,
    sent: Any,
    code: int,
) -> None:
    room = await new_voice_room(api)
    async with (
        connected(gateway, voice, room.room.member, room) as (joined, client),
    ):
        if identified:
            await client.identify(joined)
        await _send(client, joined, sent)
        assert await client.closed_with() == code
        assert voice.calls.sessions == []  # not in the call, not in the SFU
        # The refused token still works: nothing was spent or changed by the refusal.
        async with connect_voice(voice.endpoint, voice.cert_path) as again:
            assert (await again.identify(joined))["ssrc"] > 0


async def _send(client: VoiceClient, joined: Joined, sent: Any) -> None:
    if isinstance(sent, bytes):
        await client.send_bytes(sent)
    elif isinstance(sent, str):
        await client.send_text(sent)
    elif sent["op"] == 0 and isinstance(sent["d"], dict):
        await client.send(0, joined.identify(**sent["d"]))
    elif sent["op"] == 7:
        await client.send(7, joined.resume(-1, **sent["d"]))
    else:
        await client.send(sent["op"], sent["d"])
