"""Where the access-token keys come from: TRIOXIDE_JWT_KEYS, or one kept in the data folder."""

from __future__ import annotations

import logging
import os
import secrets
from typing import TYPE_CHECKING

from core.domain.tokens import JwtKeys

if TYPE_CHECKING:
    from core.config import Settings

_log = logging.getLogger(__name__)

_GENERATED_KID = "local"


def load_jwt_keys(settings: Settings) -> JwtKeys:
    """The configured keys; without any, a key generated once and kept (mode 0600) in the data
    folder, so tokens survive restarts. Several processes must share TRIOXIDE_JWT_KEYS."""
    if settings.jwt_keys:
        return JwtKeys(settings.jwt_keys)
    path = settings.data_dir / "jwt.key"
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
        _log.warning(
            "TRIOXIDE_JWT_KEYS is unset: generated a key in the data folder;"
            " set TRIOXIDE_JWT_KEYS to share keys between processes",
            extra={"path": str(path)},
        )
    return JwtKeys(((_GENERATED_KID, path.read_text().strip().encode()),))
