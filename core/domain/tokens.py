"""Credentials: access tokens (JWT), refresh tokens and bot tokens. Pure: no storage here.

- Access tokens are JWTs signed HS256 with a `kid` header: `sub` (user), `sid` (the login they
  came from), `iat`, `exp`, `jti`. 15 minutes. The algorithm is pinned, so `alg: none` and
  every other algorithm fail; any listed key verifies, so keys rotate without logging anyone out.
- Refresh tokens are 32 random bytes (base64url), stored only as SHA-256. A rotated token's
  successor is derived by HMAC from the parent's hash, so a client that retries a refresh within
  the grace window gets the very same pair back without the server keeping a plaintext token.
- Bot tokens are `base64url(bot id).random`, shown once and stored only as SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import jwt

from core.errors import Unauthorized

ACCESS_TOKEN_TTL_S = 15 * 60
REFRESH_TOKEN_TTL_S = 30 * 24 * 3600
_ALGORITHM = "HS256"
_LEEWAY_S = 30  # clock skew between API processes
_CLAIMS = ("sub", "sid", "iat", "exp", "jti")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token_fingerprint(token: str) -> str:
    """A short name for a token, safe to carry in events: the first 8 bytes of its hash."""
    return hash_token(token)[:8].hex()


def hash_token(token: str) -> bytes:
    """The SHA-256 a refresh, bot or registration token is stored as. These tokens are random
    and long, so a fast hash is enough: there is nothing to guess."""
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True, slots=True)
class JwtKeys:
    """Signing keys by kid. The first signs; every one verifies."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one JWT key is needed")

    @property
    def signing_kid(self) -> str:
        return self.keys[0][0]

    def get(self, kid: str) -> bytes | None:
        return next((secret for known, secret in self.keys if known == kid), None)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    session_id: int
    issued_at: int
    expires_at: int
    token_id: str


def issue_access_token(keys: JwtKeys, claims: AccessClaims, kid: str | None = None) -> str:
    """Signs `claims` with `kid` (default: the signing key). HS256 is deterministic, so the
    same claims and key always give the same token."""
    kid = kid or keys.signing_kid
    secret = keys.get(kid)
    if secret is None:
        raise Unauthorized(f"key {kid!r} is no longer listed")
    payload = {
        "sub": str(claims.user_id),
        "sid": str(claims.session_id),
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "jti": claims.token_id,
    }
    return jwt.encode(payload, secret, algorithm=_ALGORITHM, headers={"kid": kid})


def verify_access_token(keys: JwtKeys, token: str, now_s: float) -> AccessClaims:
    """The claims of a valid, unexpired access token; Unauthorized for anything else."""
    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        secret = keys.get(kid) if isinstance(kid, str) else None
        if secret is None:
            raise Unauthorized("unknown kid")
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            leeway=_LEEWAY_S,
            options={"require": list(_CLAIMS), "verify_iat": False, "verify_exp": False},
        )
        if claims["exp"] + _LEEWAY_S < now_s:
            raise Unauthorized("expired")
        return AccessClaims(
            user_id=int(claims["sub"]),
            session_id=int(claims["sid"]),
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            token_id=str(claims["jti"]),
        )
    except (jwt.PyJWTError, KeyError, TypeError, ValueError) as error:
        raise Unauthorized(type(error).__name__) from None


class VerifiedTokens:
    """Access tokens whose signature has been checked, with their claims. A client sends the
    same token with every request for its token's lifetime, and checking the signature again
    costs about 100 µs. Expiry is still checked on every use; revocation is the caller's."""

    def __init__(self, keys: JwtKeys, size: int = 4096) -> None:
        self._keys = keys
        self._size = size
        self._claims: dict[str, AccessClaims] = {}

    def verify(self, token: str, now_s: float) -> AccessClaims:
        claims = self._claims.get(token)
        if claims is None:
            claims = verify_access_token(self._keys, token, now_s)
            if len(self._claims) >= self._size:  # forget the oldest
                del self._claims[next(iter(self._claims))]
            self._claims[token] = claims
        elif claims.expires_at + _LEEWAY_S < now_s:
            raise Unauthorized("expired")
        return claims


def new_refresh_token() -> str:
    return _b64(secrets.token_bytes(32))


def successor_refresh_token(keys: JwtKeys, kid: str, parent_hash: bytes) -> str:
    """The refresh token that replaces the one hashed as `parent_hash`, derived with key `kid`."""
    secret = keys.get(kid)
    if secret is None:
        raise Unauthorized(f"key {kid!r} is no longer listed")
    return _b64(hmac.new(secret, b"refresh:" + parent_hash, hashlib.sha256).digest())


def token_id_for(refresh_token: str) -> str:
    """The `jti` of the access token minted beside `refresh_token`: derived, so a retried
    refresh re-mints the identical access token."""
    return _b64(hash_token(refresh_token)[:12])


def new_bot_token(bot_id: int) -> str:
    return f"{_b64(str(bot_id).encode())}.{_b64(secrets.token_bytes(32))}"


def new_registration_code() -> str:
    return _b64(secrets.token_bytes(18))


def new_verify_key() -> str:
    """Stands in for Discord's Ed25519 interaction verify key until interactions exist."""
    return secrets.token_hex(32)


def refresh_outcome(
    *,
    expires_at_s: float,
    rotated_at_s: float | None,
    session_revoked: bool,
    now_s: float,
    grace_s: float,
) -> str:
    """What presenting a refresh token does:
    - "rotate": first use, so it is exchanged for a new pair;
    - "replay": re-sent within the grace window after its rotation (a client retrying, or two
      tabs refreshing at once), so the same new pair is given again;
    - "reuse": re-sent after the window: someone else holds a copy, so its whole family is
      revoked (RFC 6819 §5.2.2.3, refresh token rotation);
    - "invalid": expired, or its family was revoked already.
    """
    if session_revoked or expires_at_s <= now_s:
        return "invalid"
    if rotated_at_s is None:
        return "rotate"
    return "replay" if now_s - rotated_at_s <= grace_s else "reuse"
