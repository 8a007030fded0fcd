"""Application commands: a bot's global and guild commands (create, edit, delete, the bulk
overwrite every library syncs with), their permissions, and a guild's command index for a
person's client."""

from __future__ import annotations

from typing import Annotated

from pydantic import PlainValidator
from pydantic_core import PydanticCustomError
from quart import Blueprint, Response, request

from api.auth import current_principal
from api.forms import Form, PermissionBits, parse_body, parse_list
from api.params import query_flag, snowflake
from api.responses import json_response, no_content
from api.services import services
from core.commands import Scope
from core.domain.command_options import ChoiceSpec, OptionSpec
from core.domain.commands import CommandDraft
from core.domain.localizations import LOCALES
from core.errors import (
    MissingAccess,
    UnknownApplication,
    UnknownChannel,
    UnknownCommand,
    UnknownGuild,
)

blueprint = Blueprint("commands", __name__)

GLOBAL = "/applications/<application_id>/commands"
GUILD = "/applications/<application_id>/guilds/<guild_id>/commands"


def _scalar(value: object, kinds: tuple[type, ...], message: str) -> object:
    # One error for a value of the wrong kind, where a union would report one per member;
    # JSON's true and false are not numbers here, though Python's bool is an int.
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise PydanticCustomError("scalar_type", message)
    return value


def _number(value: object) -> object:
    return _scalar(value, (int, float), "Must be a number.")


def _choice_value(value: object) -> object:
    return _scalar(value, (str, int, float), "Must be a string or a number.")


Number = Annotated[int | float, PlainValidator(_number)]
ChoiceValue = Annotated[str | int | float, PlainValidator(_choice_value)]


class ChoiceForm(Form):
    name: str
    value: ChoiceValue
    name_localizations: dict[str, str] | None = None


class OptionForm(Form):
    type: int
    name: str
    description: str
    name_localizations: dict[str, str] | None = None
    description_localizations: dict[str, str] | None = None
    required: bool | None = None
    choices: list[ChoiceForm] | None = None
    options: list[OptionForm] | None = None
    channel_types: list[int] | None = None
    min_value: Number | None = None
    max_value: Number | None = None
    min_length: int | None = None
    max_length: int | None = None
    autocomplete: bool | None = None

    def spec(self) -> OptionSpec:
        return OptionSpec(
            type=self.type,
            name=self.name,
            description=self.description,
            name_localizations=self.name_localizations,
            description_localizations=self.description_localizations,
            required=self.required,
            choices=None
            if self.choices is None
            else [ChoiceSpec(c.name, c.value, c.name_localizations) for c in self.choices],
            options=None if self.options is None else [option.spec() for option in self.options],
            channel_types=self.channel_types,
            min_value=self.min_value,
            max_value=self.max_value,
            min_length=self.min_length,
            max_length=self.max_length,
            autocomplete=self.autocomplete,
        )


class EditCommand(Form):
    """Discord's command JSON params; every one optional on an edit."""

    type: int | None = None
    name: str | None = None
    description: str | None = None
    name_localizations: dict[str, str] | None = None
    description_localizations: dict[str, str] | None = None
    options: list[OptionForm] | None = None
    default_member_permissions: PermissionBits | None = None
    default_permission: bool | None = None  # the old switch, before default_member_permissions
    dm_permission: bool | None = None
    contexts: list[int] | None = None
    integration_types: list[int] | None = None
    nsfw: bool | None = None
    handler: int | None = None

    def draft(self) -> CommandDraft:
        return CommandDraft(
            type=self.type,
            name=self.name,
            description=self.description,
            name_localizations=self.name_localizations,
            description_localizations=self.description_localizations,
            options=None if self.options is None else [option.spec() for option in self.options],
            default_member_permissions=self.default_member_permissions,
            default_permission=self.default_permission,
            dm_permission=self.dm_permission,
            contexts=self.contexts,
            integration_types=self.integration_types,
            nsfw=self.nsfw,
            handler=self.handler,
            sent=frozenset(self.model_fields_set),
        )


class CreateCommand(EditCommand):
    name: str


async def _scope(application_id: str, guild_id: str | None) -> tuple[int, Scope]:
    """The calling bot and the scope it asks about. Only bots manage commands."""
    principal = await current_principal()
    if not principal.bot:
        raise MissingAccess("only an application's bot manages its commands")
    scope = Scope(
        snowflake(application_id, UnknownApplication),
        None if guild_id is None else snowflake(guild_id, MissingAccess),
    )
    return principal.user_id, scope


def _locale() -> str | None:
    """The locale a list's `name_localized` fields are in: Discord reads X-Discord-Locale,
    then Accept-Language."""
    for candidate in (
        request.headers.get("X-Discord-Locale", ""),
        request.headers.get("Accept-Language", "").split(",")[0].split(";")[0].strip(),
    ):
        if candidate in LOCALES:
            return candidate
    return None


@blueprint.get(GLOBAL)
@blueprint.get(GUILD)
async def list_commands(application_id: str, guild_id: str | None = None) -> Response:
    caller, scope = await _scope(application_id, guild_id)
    found = await services().commands.of_scope(caller, scope)
    with_localizations = query_flag("with_localizations")
    locale = None if with_localizations else _locale()
    return json_response(
        [c.to_wire(with_localizations=with_localizations, locale=locale) for c in found]
    )


@blueprint.post(GLOBAL)
@blueprint.post(GUILD)
async def create_command(application_id: str, guild_id: str | None = None) -> Response:
    caller, scope = await _scope(application_id, guild_id)
    body = await parse_body(CreateCommand)
    command, created = await services().commands.create(caller, scope, body.draft())
    return json_response(command.to_wire(), 201 if created else 200)


@blueprint.put(GLOBAL)
@blueprint.put(GUILD)
async def overwrite_commands(application_id: str, guild_id: str | None = None) -> Response:
    caller, scope = await _scope(application_id, guild_id)
    bodies = await parse_list(CreateCommand)
    written = await services().commands.overwrite(caller, scope, [b.draft() for b in bodies])
    return json_response([command.to_wire() for command in written])


@blueprint.get(f"{GLOBAL}/<command_id>")
@blueprint.get(f"{GUILD}/<command_id>")
async def get_command(
    application_id: str, command_id: str, guild_id: str | None = None
) -> Response:
    caller, scope = await _scope(application_id, guild_id)
    command = await services().commands.get(caller, scope, snowflake(command_id, UnknownCommand))
    return json_response(command.to_wire())


@blueprint.patch(f"{GLOBAL}/<command_id>")
@blueprint.patch(f"{GUILD}/<command_id>")
async def edit_command(
    application_id: str, command_id: str, guild_id: str | None = None
) -> Response:
    caller, scope = await _scope(application_id, guild_id)
    body = await parse_body(EditCommand)
    command = await services().commands.edit(
        caller, scope, snowflake(command_id, UnknownCommand), body.draft()
    )
    return json_response(command.to_wire())


@blueprint.delete(f"{GLOBAL}/<command_id>")
@blueprint.delete(f"{GUILD}/<command_id>")
async def delete_command(
    application_id: str, command_id: str, guild_id: str | None = None
) -> Response:
    caller, scope = await _scope(application_id, guild_id)
    await services().commands.delete(caller, scope, snowflake(command_id, UnknownCommand))
    return no_content()


@blueprint.get(f"{GUILD}/permissions")
async def guild_command_permissions(application_id: str, guild_id: str) -> Response:
    caller, scope = await _scope(application_id, guild_id)
    return json_response(await services().commands.permissions(caller, scope, None))


@blueprint.get(f"{GUILD}/<command_id>/permissions")
async def command_permissions(application_id: str, guild_id: str, command_id: str) -> Response:
    caller, scope = await _scope(application_id, guild_id)
    found = await services().commands.permissions(
        caller, scope, snowflake(command_id, UnknownCommand)
    )
    return json_response(found[0])


@blueprint.get("/guilds/<guild_id>/application-command-index")
async def guild_command_index(guild_id: str) -> Response:
    principal = await current_principal()
    index = await services().commands.guild_index(
        principal.user_id, snowflake(guild_id, UnknownGuild)
    )
    return json_response(index.to_wire())


@blueprint.get("/channels/<channel_id>/application-command-index")
async def channel_command_index(channel_id: str) -> Response:
    principal = await current_principal()
    index = await services().commands.channel_index(
        principal.user_id, snowflake(channel_id, UnknownChannel)
    )
    return json_response(index.to_wire())
