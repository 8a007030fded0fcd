"""People's accounts and logins: register, log in, refresh, log out, edit the profile."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import events
from core.config import Registration
from core.domain import tokens, users
from core.errors import FieldError, FormCheck, InvalidForm, Unauthorized, UnknownUser
from core.journal import Journal
from core.store import accounts as store

if TYPE_CHECKING:
    from core.config import Settings
    from core.domain.users import User
    from core.passwords import Passwords
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database
    from core.store.revocations import RevokedSessions

_BAD_LOGIN = "Login or password is invalid."


@dataclass(frozen=True, slots=True)
class TokenPair:
    token: str
    refresh_token: str
    expires_in: int
    user_id: int


@dataclass(frozen=True, slots=True)
class ProfileChanges:
    """What PATCH /users/@me changes: only the fields named in `given` (a given None clears)."""

    given: frozenset[str]
    username: str | None = None
    global_name: str | None = None
    avatar: str | None = None
    banner: str | None = None
    bio: str | None = None
    password: str | None = None
    new_password: str | None = None


def _utc(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


class Accounts:
    """Owns the rules of accounts and sessions; routes and the gateway call it."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        keys: tokens.JwtKeys,
        revoked: RevokedSessions,
        passwords: Passwords,
        snowflakes: SnowflakeGenerator,
    ) -> None:
        self._settings = settings
        self._db = db
        self.keys = keys
        self._verified = tokens.VerifiedTokens(keys)
        self._revoked = revoked
        self._passwords = passwords
        self._snowflakes = snowflakes
        self._journal = Journal(snowflakes)

    # Tokens.

    def _pair(
        self, user_id: int, session_id: int, refresh_token: str, issued_at: int, kid: str
    ) -> TokenPair:
        claims = tokens.AccessClaims(
            user_id=user_id,
            session_id=session_id,
            issued_at=issued_at,
            expires_at=issued_at + tokens.ACCESS_TOKEN_TTL_S,
            token_id=tokens.token_id_for(refresh_token),
        )
        access = tokens.issue_access_token(self.keys, claims, kid)
        return TokenPair(access, refresh_token, tokens.ACCESS_TOKEN_TTL_S, user_id)

    def _start_session(self, connection: Connection, user_id: int) -> TokenPair:
        session_id = self._snowflakes.next_id()
        refresh_token = tokens.new_refresh_token()
        now = int(time.time())
        store.create_session(
            connection,
            session_id=session_id,
            user_id=user_id,
            refresh_hash=tokens.hash_token(refresh_token),
            expires_at=_utc(now + tokens.REFRESH_TOKEN_TTL_S),
        )
        return self._pair(user_id, session_id, refresh_token, now, self.keys.signing_kid)

    async def verify_access(self, token: str) -> tokens.AccessClaims:
        """The claims of a live access token; Unauthorized if it is bad, expired or revoked."""
        claims = self._verified.verify(token, time.time())
        if await self._revoked.is_revoked(claims.session_id):
            raise Unauthorized("session revoked")
        return claims

    # People.

    async def register(
        self,
        *,
        username: str,
        email: str,
        password: str,
        global_name: str | None,
        invite: str | None,
    ) -> tuple[User, TokenPair]:
        """A new person, logged in. InvalidForm lists every field that is wrong."""
        username = users.normalise_username(username)
        email = users.normalise_email(email)
        check = FormCheck()
        users.check_username(check, username)
        users.check_email(check, email)
        users.check_password(check, password)
        users.check_global_name(check, global_name)
        needs_code = self._settings.registration is Registration.INVITE
        if needs_code and not invite:
            check.fail("invite", "BASE_TYPE_REQUIRED", "This server needs a registration code.")
        check.done()
        password_hash = await self._passwords.hash(password)
        user_id = self._snowflakes.next_id()

        def write(connection: Connection) -> tuple[User, TokenPair]:
            if needs_code and not store.take_registration_code(
                connection, tokens.hash_token(invite or "")
            ):
                raise InvalidForm.one(
                    "invite", "INVITE_INVALID", "Registration code is invalid, used up or expired."
                )
            user = store.insert_user(
                connection,
                user_id=user_id,
                username=username,
                email=email,
                password_hash=password_hash,
                global_name=global_name.strip() if global_name else None,
            )
            return user, self._start_session(connection, user.id)

        return await self._db.run(write)

    async def login(self, login: str, password: str) -> TokenPair:
        """A new session for the person whose email or username is `login`. Unknown logins and
        wrong passwords get the same error after the same work."""
        login = login.strip().lower()
        found = await self._db.run(lambda c: store.credentials_by_login(c, login))
        if not await self._passwords.verify(found.password_hash if found else None, password):
            raise InvalidForm(
                {
                    ("login",): [FieldError("INVALID_LOGIN", _BAD_LOGIN)],
                    ("password",): [FieldError("INVALID_LOGIN", _BAD_LOGIN)],
                }
            )
        assert found is not None
        upgraded = (
            await self._passwords.hash(password)
            if self._passwords.needs_rehash(found.password_hash)
            else None
        )

        def write(connection: Connection) -> TokenPair:
            if upgraded is not None:
                store.set_password_hash(connection, found.user_id, upgraded)
            return self._start_session(connection, found.user_id)

        return await self._db.run(write)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Exchanges a refresh token for a new pair (see tokens.refresh_outcome)."""
        parent_hash = tokens.hash_token(refresh_token)
        grace_s = self._settings.refresh_reuse_grace_s

        def exchange(connection: Connection) -> TokenPair | int | None:
            record = store.lock_refresh_token(connection, parent_hash)
            if record is None:
                return None
            now = time.time()
            outcome = tokens.refresh_outcome(
                expires_at_s=record.expires_at.timestamp(),
                rotated_at_s=record.rotated_at.timestamp() if record.rotated_at else None,
                session_revoked=record.session_revoked_at is not None,
                now_s=now,
                grace_s=grace_s,
            )
            if outcome == "rotate":
                rotated_at = _utc(now)
                kid = self.keys.signing_kid
                store.mark_rotated(connection, parent_hash, rotated_at, kid)
                child = tokens.successor_refresh_token(self.keys, kid, parent_hash)
                store.insert_refresh_token(
                    connection,
                    tokens.hash_token(child),
                    record.session_id,
                    _utc(now + tokens.REFRESH_TOKEN_TTL_S),
                )
                return self._pair(
                    record.user_id, record.session_id, child, int(rotated_at.timestamp()), kid
                )
            if outcome == "replay" and record.rotated_at and record.rotated_with_kid:
                kid = record.rotated_with_kid
                child = tokens.successor_refresh_token(self.keys, kid, parent_hash)
                return self._pair(
                    record.user_id,
                    record.session_id,
                    child,
                    int(record.rotated_at.timestamp()),
                    kid,
                )
            if outcome == "reuse":
                store.revoke_session(connection, record.session_id)
                self._journal.emit(connection, events.sessions_revoked([record.session_id]))
                return record.session_id
            return None

        result = await self._db.run(exchange)
        if isinstance(result, TokenPair):
            return result
        if result is not None:  # reuse: the revocation is committed; now stop its tokens
            await self._revoked.revoke([result])
        raise Unauthorized("refresh token invalid, expired or reused")

    async def logout(self, refresh_token: str) -> None:
        """Revokes the family `refresh_token` belongs to. Unauthorized if it is unknown."""

        def revoke(connection: Connection) -> int | None:
            session_id = store.session_of_refresh_token(
                connection, tokens.hash_token(refresh_token)
            )
            if session_id is not None:
                store.revoke_session(connection, session_id)
                self._journal.emit(connection, events.sessions_revoked([session_id]))
            return session_id

        session_id = await self._db.run(revoke)
        if session_id is None:
            raise Unauthorized("unknown refresh token")
        await self._revoked.revoke([session_id])

    async def logout_all(self, user_id: int) -> None:
        def revoke(connection: Connection) -> list[int]:
            revoked = store.revoke_user_sessions(connection, user_id)
            self._journal.emit(connection, events.sessions_revoked(revoked))
            return revoked

        await self._revoked.revoke(await self._db.run(revoke))

    async def user(self, user_id: int) -> User:
        found = await self._db.run(lambda c: store.user_by_id(c, user_id))
        if found is None:
            raise UnknownUser(str(user_id))
        return found

    async def update_profile(
        self, user_id: int, session_id: int | None, changes: ProfileChanges
    ) -> User:
        """Applies `changes`; a new password needs the current one and revokes every other
        session of the user. All or nothing."""
        check = FormCheck()
        columns: dict[str, object] = {}
        images: dict[str, users.Image] = {}
        given = changes.given
        if "username" in given:
            username = users.normalise_username(changes.username or "")
            users.check_username(check, username)
            columns["username"] = username
        if "global_name" in given:
            users.check_global_name(check, changes.global_name)
            columns["global_name"] = changes.global_name.strip() if changes.global_name else None
        if "bio" in given:
            users.check_bio(check, changes.bio or "")
            columns["bio"] = changes.bio or ""
        for field, data_uri in (("avatar", changes.avatar), ("banner", changes.banner)):
            if field not in given:
                continue
            if data_uri is None:
                columns[field] = None
            elif (image := users.parse_image(check, field, data_uri)) is not None:
                images[field] = image
        if changes.new_password is not None:
            users.check_password(check, changes.new_password, "new_password")
            if changes.password is None:
                check.fail("password", "BASE_TYPE_REQUIRED", "This field is required")
        check.done()

        new_hash = None
        if changes.new_password is not None and changes.password is not None:
            current = await self._db.run(lambda c: store.password_hash_of(c, user_id))
            if current is None or not await self._passwords.verify(current, changes.password):
                raise InvalidForm.one(
                    "password", "PASSWORD_DOES_NOT_MATCH", "Password does not match."
                )
            new_hash = await self._passwords.hash(changes.new_password)

        def write(connection: Connection) -> tuple[User, list[int]]:
            for field, image in images.items():
                columns[field] = store.save_image(connection, user_id, image)
            revoked: list[int] = []
            if new_hash is not None:
                store.set_password_hash(connection, user_id, new_hash)
                revoked = store.revoke_user_sessions(connection, user_id, session_id)
                self._journal.emit(connection, events.sessions_revoked(revoked))
            user = (
                store.update_profile(connection, user_id, columns)
                if columns
                else store.user_by_id(connection, user_id)
            )
            if user is None:
                raise UnknownUser(str(user_id))
            if columns:
                self._journal.emit(connection, events.user_update(user))
            return user, revoked

        user, revoked = await self._db.run(write)
        await self._revoked.revoke(revoked)
        return user

    async def create_registration_code(self, uses: int, ttl_s: float) -> str:
        """A code that lets `uses` people register within `ttl_s`; only its hash is kept."""
        code = tokens.new_registration_code()
        expires_at = _utc(time.time() + ttl_s)
        await self._db.run(
            lambda c: store.insert_registration_code(c, tokens.hash_token(code), uses, expires_at)
        )
        return code
