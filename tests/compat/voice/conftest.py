"""Voice for the compat tests: the voice gateway (tests/voice's running_voice) beside the API
and main gateway, serving a certificate made for the test (TRIOXIDE_VOICE_TLS_CERT and _KEY),
which the libraries trust as their users would."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest

from tests.compat.voice.certificate import Certificate, make_certificate
from tests.voice.conftest import VoiceServer, running_voice

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
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
def settings(settings: Settings, certificate: Certificate) -> Settings:
    return dataclasses.replace(
        settings, voice_tls_cert=certificate.cert_path, voice_tls_key=certificate.key_path
    )


@pytest.fixture
async def voice(api: ApiClient, gateway: str) -> AsyncIterator[VoiceServer]:
    async with running_voice(api) as server:
        yield server
