"""Argon2id password hashing, off the event loop.

One hash costs ~18 ms of CPU at OWASP's minimum (m = 19 MiB, t = 2, p = 1), so it runs in worker
threads bounded by a limiter: logins queue for a thread instead of stalling other requests.
"""

from __future__ import annotations

import os
import secrets

import trio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


class Passwords:
    """Hashes and verifies passwords in worker threads, at most one fewer than the cores."""

    def __init__(self) -> None:
        # One core stays free for the event loop. Measured on 2 cores (bench/auth.py): hashing on
        # both gave 60 logins/s but a GET /users/@me p99 of 18 ms under login load; on one,
        # 40 logins/s and a p99 of 10 ms. Everything else staying fast matters more.
        self._limiter = trio.CapacityLimiter(max(1, (os.cpu_count() or 1) - 1))
        self._decoy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await trio.to_thread.run_sync(_HASHER.hash, password, limiter=self._limiter)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches. With no hash (unknown user) it checks against a decoy,
        so an unknown login takes as long as a wrong password and reveals nothing."""
        if password_hash is None:
            if self._decoy_hash is None:
                self._decoy_hash = await self.hash(secrets.token_urlsafe(16))
            password_hash = self._decoy_hash
            password = ""  # never matches: the decoy hashes a random secret

        def check() -> bool:
            try:
                return _HASHER.verify(password_hash, password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                return False

        return await trio.to_thread.run_sync(check, limiter=self._limiter)

    @staticmethod
    def needs_rehash(password_hash: str) -> bool:
        """Whether the hash was made with weaker parameters than today's."""
        return _HASHER.check_needs_rehash(password_hash)
