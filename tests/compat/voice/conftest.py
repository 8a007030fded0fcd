"""Voice for the compat tests: the voice gateway (TLS, with a certificate made for the test and
trusted by the libraries as their users would) beside the API and main gateway.

A test that asks for `voice_relay` gets the public voice endpoint pointed at a TCP relay of its
own (tests/compat/voice/relay.py), so it can abort a library's voice socket."""

from __future__ import annotations

import dataclasses
import socket
from functools import partial
from typing import TYPE_CHECKING

import pytest
import trio

from core.config import Address
from tests.compat.voice.certificate import Certificate, make_certificate
from tests.compat.voice.relay import Relay

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator
    from pathlib import Path

    from core.config import Settings
    from tests.running import ApiClient


@pytest.fixture
def certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Certificate:
    """The voice gateway's certificate; Node processes started by the test trust it."""
    made = make_certificate(tmp_path)
    monkeypatch.setenv("NODE_EXTRA_CA_CERTS", str(made.cert_path))
    return made


@pytest.fixture
def relay_socket() -> Iterator[socket.socket]:
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    with listening:
        yield listening


@pytest.fixture
def settings(
    settings: Settings, certificate: Certificate, request: pytest.FixtureRequest
) -> Settings:
    voice: dict[str, object] = {
        "voice_tls_cert": certificate.cert_path,
        "voice_tls_key": certificate.key_path,
    }
    if "voice_relay" in request.fixturenames:
        port = request.getfixturevalue("relay_socket").getsockname()[1]
        voice["public_voice_endpoint"] = Address("127.0.0.1", port)
    return dataclasses.replace(settings, **voice)  # type: ignore[arg-type]  # names checked by use


@pytest.fixture
async def voice(api: ApiClient, gateway: str) -> AsyncIterator[Address]:
    """The voice gateway serving beside the test's API and gateway; its TCP address."""
    from gateway.voice.server import VoiceGateway  # lands with issue 20

    shutdown = trio.Event()
    async with trio.open_nursery() as nursery:
        address: Address = await nursery.start(partial(VoiceGateway(api.services).serve, shutdown))
        yield address
        shutdown.set()
        nursery.cancel_scope.cancel()


@pytest.fixture
async def voice_relay(voice: Address, relay_socket: socket.socket) -> AsyncIterator[Relay]:
    relay = Relay(relay_socket)
    async with trio.open_nursery() as nursery:
        await nursery.start(partial(relay.serve, (voice.host, voice.port)))
        yield relay
        nursery.cancel_scope.cancel()
