"""The voice gateway's listener: TLS with a certificate generated once into the data dir (or
the operator's), UDP and TCP on one port, a client that does not trust us refused without
harm to others, and the drain: every socket closed 1001 (both libraries then join again) and
the node unregistered."""

from __future__ import annotations

import dataclasses
import logging
import ssl
from typing import TYPE_CHECKING

import pytest
import trio

from gateway.voice.tls import find_certificate
from tests.voice.callers import connected
from tests.voice.client import connect_voice, open_udp
from tests.voice.conftest import in_voice, join_voice, new_voice_room, running_voice

if TYPE_CHECKING:
    from pathlib import Path

    from tests.running import ApiClient
    from tests.voice.conftest import VoiceServer


def test_the_certificate_is_generated_once_and_again_only_for_another_host(
    tmp_path: Path,
) -> None:
    first = find_certificate(tmp_path, "127.0.0.1", None, None)
    assert first.generated
    assert first.key_path.stat().st_mode & 0o777 == 0o600
    pem = first.cert_path.read_bytes()
    assert find_certificate(tmp_path, "127.0.0.1", None, None).cert_path.read_bytes() == pem
    other = find_certificate(tmp_path, "voice.example", None, None)
    assert other.cert_path == first.cert_path
    assert other.cert_path.read_bytes() != pem


def test_the_operators_certificate_is_used_as_given(tmp_path: Path) -> None:
    given = find_certificate(tmp_path, "127.0.0.1", tmp_path / "c.pem", tmp_path / "k.pem")
    assert (given.cert_path, given.key_path, given.generated) == (
        tmp_path / "c.pem",
        tmp_path / "k.pem",
        False,
    )
    assert not (tmp_path / "voice-tls").exists()


async def test_start_up_says_where_the_certificate_is_and_serves_tcp_and_udp_on_one_port(
    api: ApiClient, gateway: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway.voice.server")
    room = await new_voice_room(api)
    async with running_voice(api) as voice:
        said = [r for r in caplog.records if r.getMessage() == "voice certificate"]
        assert [r.__dict__["path"] for r in said] == [str(voice.cert_path)]
        async with (
            connected(gateway, voice, room.room.member, room) as (joined, client),
            open_udp(voice.endpoint) as udp,
        ):
            ready = await client.identify(joined)
            assert ready["port"] == int(voice.endpoint.rpartition(":")[2])
            # IP discovery on the same port number over UDP: our own address, as seen.
            assert await udp.discover(ready["ssrc"]) == udp.socket.getsockname()


async def test_an_operator_certificate_from_the_settings_is_served(
    api: ApiClient, gateway: str, tmp_path: Path
) -> None:
    made = find_certificate(tmp_path / "operator", "127.0.0.1", None, None)
    settings = dataclasses.replace(
        api.services.settings, voice_tls_cert=made.cert_path, voice_tls_key=made.key_path
    )
    services = dataclasses.replace(api.services, settings=settings)
    async with running_voice(api, services=services) as voice:
        assert voice.cert_path == made.cert_path
        async with connect_voice(voice.endpoint, made.cert_path) as client:
            assert client.hello["heartbeat_interval"] > 0


async def test_a_client_that_does_not_trust_the_certificate_fails_alone(
    voice: VoiceServer, tmp_path: Path
) -> None:
    # Over a second: the refused connection never reaches a WebSocket handshake, so the
    # drain at the end gives it the shutdown grace before it is dropped.
    stranger = find_certificate(tmp_path, "127.0.0.1", None, None)  # some other certificate
    with pytest.raises(trio.BrokenResourceError) as failed:
        async with connect_voice(voice.endpoint, stranger.cert_path):
            pass
    assert isinstance(failed.value.__cause__, ssl.SSLCertVerificationError)
    async with connect_voice(voice.endpoint, voice.cert_path) as client:
        await client.heartbeat(5)
        assert await client.receive() == {"op": 6, "d": {"t": 5}}


async def test_a_drain_closes_every_socket_1001_and_unregisters_the_node(
    api: ApiClient, gateway: str
) -> None:
    room = await new_voice_room(api)
    async with (
        running_voice(api) as voice,
        in_voice(gateway, room.room.member, room.guild_id, room.channel_id) as (joined, main),
        connect_voice(voice.endpoint, voice.cert_path) as identified,
        connect_voice(voice.endpoint, voice.cert_path) as waiting,
    ):
        await identified.identify(joined)
        voice.shutdown.set()
        assert await identified.closed_with() == 1001
        assert await waiting.closed_with() == 1001
        assert voice.calls.sessions == []
        # No voice node is registered any more: a join is told to wait for one.
        server = await join_voice(main, room.guild_id, room.other_channel_id)
        assert server is not None
        assert server["endpoint"] is None
