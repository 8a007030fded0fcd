"""Bot applications: create one (with its bot user), reset its token, edit it, find a bot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core import events
from core.domain import applications as rules
from core.domain import tokens
from core.errors import FormCheck, InvalidForm, MissingAccess, UnknownApplication
from core.journal import Journal
from core.store import accounts as account_store
from core.store import applications as store

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.domain.applications import Application
    from core.domain.users import User
    from core.snowflakes import SnowflakeGenerator
    from core.store.database import Connection, Database


@dataclass(frozen=True, slots=True)
class ApplicationView:
    """An application with the users its wire object embeds."""

    application: Application
    owner: User
    bot: User

    def to_wire(self) -> dict[str, object]:
        return self.application.to_wire(self.owner, self.bot)


def _view(connection: Connection, application: Application) -> ApplicationView:
    owner = account_store.user_by_id(connection, application.owner_id)
    bot = account_store.user_by_id(connection, application.id)
    assert owner is not None
    assert bot is not None
    return ApplicationView(application, owner, bot)


def _owned(connection: Connection, application_id: int, owner_id: int) -> Application:
    application = store.application_by_id(connection, application_id)
    if application is None:
        raise UnknownApplication(str(application_id))
    if application.owner_id != owner_id:
        raise MissingAccess(f"application {application_id}")
    return application


def _of_bot(connection: Connection, bot_id: int) -> Application:
    application = store.application_by_id(connection, bot_id)  # same id, as on Discord
    if application is None:
        raise UnknownApplication(str(bot_id))
    return application


def _columns(name: str | None, description: str | None, flags: int | None) -> dict[str, object]:
    """The columns an edit sets, each checked; InvalidForm lists every problem."""
    check = FormCheck()
    columns: dict[str, object] = {}
    if name is not None:
        rules.check_name(check, name)
        columns["name"] = name.strip()
    if description is not None:
        rules.check_description(check, description)
        columns["description"] = description
    if flags is not None:
        rules.check_flags(check, flags)
        columns["flags"] = flags
    check.done()
    return columns


class Applications:
    def __init__(self, db: Database, snowflakes: SnowflakeGenerator) -> None:
        self._db = db
        self._snowflakes = snowflakes
        self._journal = Journal(snowflakes)

    async def create(self, owner_id: int, name: str) -> ApplicationView:
        """A new application and its bot user (same id, as on Discord). No token yet."""
        check = FormCheck()
        rules.check_name(check, name)
        check.done()
        application_id = self._snowflakes.next_id()

        def write(connection: Connection) -> ApplicationView:
            bot = None
            for username in rules.bot_usernames(name, application_id):
                try:
                    bot = account_store.insert_user(
                        connection,
                        user_id=application_id,
                        username=username,
                        email=None,
                        password_hash=None,
                        global_name=name.strip(),
                        bot=True,
                    )
                    break
                except InvalidForm:
                    continue  # taken: the next is more surely free
            if bot is None:
                raise InvalidForm.one(
                    "name", "USERNAME_ALREADY_TAKEN", "No free bot username for this name."
                )
            application = store.insert_application(
                connection, application_id, owner_id, name.strip(), tokens.new_verify_key()
            )
            return _view(connection, application)

        return await self._db.run(write)

    async def reset_bot_token(self, application_id: int, owner_id: int) -> str:
        """A new bot token, returned once; the old one stops working when this commits."""
        token = tokens.new_bot_token(application_id)

        def write(connection: Connection) -> None:
            _owned(connection, application_id, owner_id)
            store.set_bot_token_hash(connection, application_id, tokens.hash_token(token))
            self._journal.emit(
                connection, events.bot_token_reset(application_id, tokens.token_fingerprint(token))
            )

        await self._db.run(write)
        return token

    async def update(
        self,
        application_id: int,
        owner_id: int,
        *,
        name: str | None,
        description: str | None,
        flags: int | None,
    ) -> ApplicationView:
        """Its owner edits an application; None leaves a field as it is."""
        columns = _columns(name, description, flags)
        return await self._write(lambda c: _owned(c, application_id, owner_id), columns)

    async def update_own(
        self, bot_id: int, *, description: str | None, flags: int | None
    ) -> ApplicationView:
        """A bot edits its own application (Discord's Edit Current Application, which has no
        `name`); None leaves a field as it is."""
        columns = _columns(None, description, flags)
        return await self._write(lambda c: _of_bot(c, bot_id), columns)

    async def _write(
        self, load: Callable[[Connection], Application], columns: dict[str, object]
    ) -> ApplicationView:
        def write(connection: Connection) -> ApplicationView:
            application = load(connection)
            if columns:
                application = store.update_application(connection, application.id, columns)
            return _view(connection, application)

        return await self._db.run(write)

    async def of_bot(self, bot_id: int) -> ApplicationView:
        """The application whose bot user is `bot_id`."""

        def read(connection: Connection) -> ApplicationView:
            return _view(connection, _of_bot(connection, bot_id))

        return await self._db.autocommit(read)

    async def bot_for_token(self, token: str) -> int | None:
        """The bot user whose token this is, or None."""
        token_hash = tokens.hash_token(token)
        return await self._db.run(lambda c: store.bot_id_by_token_hash(c, token_hash))
