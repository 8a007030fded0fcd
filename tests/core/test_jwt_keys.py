from __future__ import annotations

import dataclasses
import logging
import stat
from typing import TYPE_CHECKING

from core.store.jwt_keys import load_jwt_keys

if TYPE_CHECKING:
    import pytest

    from core.config import Settings


def test_without_configured_keys_one_is_generated_once_and_kept_private(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    unset = dataclasses.replace(settings, jwt_keys=())
    with caplog.at_level(logging.WARNING):
        first = load_jwt_keys(unset)
    second = load_jwt_keys(unset)
    assert first == second, "the key survives restarts"
    assert len(first.keys[0][1]) >= 32
    assert "TRIOXIDE_JWT_KEYS is unset" in caplog.text
    key_file = settings.data_dir / "jwt.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.keys[0][1].decode() not in caplog.text, "the key itself is never logged"


def test_configured_keys_win_and_the_first_signs(settings: Settings) -> None:
    keys = load_jwt_keys(
        dataclasses.replace(settings, jwt_keys=(("a", b"a" * 32), ("b", b"b" * 32)))
    )
    assert keys.signing_kid == "a"
    assert keys.get("b") == b"b" * 32
    assert not (settings.data_dir / "jwt.key").exists()
