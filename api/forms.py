"""Request bodies: UTF-8 JSON objects checked against a pydantic model for shape (fields and
their types); the domain checks the rules. Every problem becomes Discord's 50035 tree.

Discord's tolerance, which libraries rely on: a key Discord defines for the route is either a
field (validated strictly and honoured) or declared in the form's `not_yet` (refused while
Trioxide lacks the feature, so nothing is silently dropped); any other key is ignored, as
Discord ignores it (discord.js sends `enforce_nonce` and `tts` on every message edit)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from quart import request

from api.client_json import check_values, decode_json
from core.domain.snowflakes import MAX_SNOWFLAKE, MAX_STORED_SNOWFLAKE, parse_snowflake
from core.errors import FieldError, InvalidForm, PayloadTooLarge

# The largest JSON body: room for a 5 MiB image as base64 with the rest of a profile.
MAX_JSON_BYTES = 8 * 1024 * 1024


if TYPE_CHECKING:
    from collections.abc import Mapping

_UNSUPPORTED = "UNSUPPORTED"


@dataclass(frozen=True, slots=True)
class NotYet:
    """A key Discord defines for a route whose feature Trioxide lacks. Sent with a value that
    asks for something it is refused, 50035 UNSUPPORTED under the key, rather than dropped;
    sent with one of `inert` (null, or what every object here already has) it asks for
    nothing and is accepted."""

    message: str
    inert: tuple[object, ...] = (None,)

    def asks_nothing(self, value: object) -> bool:
        # By type too: False == 0 in Python, but `false` is not `0` in a body.
        return any(type(value) is type(i) and value == i for i in self.inert)


def not_yet(**rules: NotYet) -> Mapping[str, NotYet]:
    """A form's `not_yet`: the keys Discord defines for its route that Trioxide lacks."""
    return MappingProxyType(rules)


class Form(BaseModel):
    """A request body: known keys strictly typed (no coercion), keys in `not_yet` refused
    unless inert, any other key ignored."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)
    not_yet: ClassVar[Mapping[str, NotYet]] = {}

    @model_validator(mode="before")
    @classmethod
    def _refuse_not_yet(cls, data: object) -> object:
        if not isinstance(data, dict) or not cls.not_yet:
            return data
        refused = [
            InitErrorDetails(
                type=PydanticCustomError(_UNSUPPORTED, "{why}", {"why": rule.message}),
                loc=(key,),
                input=data[key],
            )
            for key, rule in cls.not_yet.items()
            if key in data and not rule.asks_nothing(data[key])
        ]
        if refused:
            raise ValidationError.from_exception_data(cls.__name__, refused)
        return data


M = TypeVar("M", bound=Form)


def _digits_to_int(value: object) -> object:
    """Discord sends snowflakes and permission sets as decimal strings; ints are fine too.
    Anything else is left for the type check to refuse."""
    if isinstance(value, str):
        parsed = parse_snowflake(value)
        return value if parsed is None else parsed
    return value


# An id above bigint names nothing this server stored, and must not reach PostgreSQL.
Snowflake = Annotated[int, BeforeValidator(_digits_to_int), Field(ge=0, le=MAX_STORED_SNOWFLAKE)]
PermissionBits = Annotated[int, BeforeValidator(_digits_to_int), Field(ge=0, le=MAX_SNOWFLAKE)]


def _iso_to_datetime(value: object) -> object:
    """ISO 8601 text as an aware datetime (no zone means UTC); anything else fails as a type."""
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return value


Timestamp = Annotated[dt.datetime, BeforeValidator(_iso_to_datetime)]

# pydantic's error types → Discord's codes and messages.
_DISCORD_ERRORS = {
    "missing": ("BASE_TYPE_REQUIRED", "This field is required"),
    "string_type": ("BASE_TYPE_STRING", "Must be a string."),
    "int_type": ("NUMBER_TYPE_COERCE", "Must be an integer."),
    "int_parsing": ("NUMBER_TYPE_COERCE", "Must be an integer."),
    "greater_than_equal": ("NUMBER_TYPE_MIN", "Must be 0 or more."),
    "less_than_equal": ("NUMBER_TYPE_MAX", "Too large."),
    "list_type": ("BASE_TYPE_LIST", "Must be a list."),
    "datetime_type": ("DATE_TYPE_PARSE", "Could not parse the date. Use ISO 8601."),
    "bool_type": ("BASE_TYPE_BOOLEAN", "Must be either true or false."),
    "model_type": ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"),
    "model_attributes_type": ("DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"),
}


def validate(model: type[M], data: object) -> M:
    """`data` as `model`, or InvalidForm listing every problem."""
    if not isinstance(data, dict):
        raise InvalidForm({(): [FieldError(*_DISCORD_ERRORS["model_type"])]})
    try:
        return model.model_validate(data)
    except ValidationError as error:
        errors: dict[tuple[str | int, ...], list[FieldError]] = {}
        for problem in error.errors():
            if problem["type"] == _UNSUPPORTED:
                code, message = _UNSUPPORTED, problem["msg"]
            else:
                code, message = _DISCORD_ERRORS.get(
                    problem["type"], ("BASE_TYPE_INVALID", problem["msg"])
                )
            errors.setdefault(tuple(problem["loc"]), []).append(FieldError(code, message))
        raise InvalidForm(errors) from None


async def parse_json() -> object:
    """The request's body decoded as UTF-8 JSON; an empty body is `{}`."""
    if (request.content_length or 0) > MAX_JSON_BYTES:
        raise PayloadTooLarge(MAX_JSON_BYTES)
    raw = await request.get_data(as_text=False)
    assert isinstance(raw, bytes)  # as_text=False
    if len(raw) > MAX_JSON_BYTES:
        raise PayloadTooLarge(MAX_JSON_BYTES)
    if not raw.strip():
        return {}
    return decode_json(raw)


async def parse_body(model: type[M]) -> M:
    """The request's JSON object body as `model`."""
    return validate(model, await parse_json())


@dataclass(frozen=True, slots=True)
class FilePart:
    index: int
    filename: str
    content_type: str | None
    data: bytes


_FILE_FIELD = re.compile(r"^files\[(\d{1,2})\]$")


async def parse_multipart(model: type[M]) -> tuple[M, list[FilePart]]:
    """A multipart body as Discord's clients send it: `payload_json` (the JSON body) and files
    in parts named `files[n]`. The request's size is capped by the app (MAX_CONTENT_LENGTH)."""
    form = await request.form
    files = await request.files
    raw = form.get("payload_json")
    if raw is None:
        data: object = {key: value for key, value in form.items()}
        check_values(data)
    else:
        data = decode_json(raw)
    parts = []
    for name, storage in files.items(multi=True):
        match = _FILE_FIELD.match(name)
        if match is None:
            raise InvalidForm.one(name, "FILE_FIELD_INVALID", "Files go in parts named files[n].")
        parts.append(
            FilePart(int(match[1]), storage.filename or "", storage.content_type, storage.read())
        )
    return validate(model, data), parts


MAX_LIST_ITEMS = 1000  # a position list names each channel or role once; guilds have fewer


async def parse_list(model: type[M]) -> list[M]:
    """The request's JSON array body, each item as `model`; errors keyed by item index."""
    data = await parse_json()
    if not isinstance(data, list) or len(data) > MAX_LIST_ITEMS:
        raise InvalidForm(
            {(): [FieldError("BASE_TYPE_LIST", f"Must be a list of at most {MAX_LIST_ITEMS}.")]}
        )
    items: list[M] = []
    errors: dict[tuple[str | int, ...], list[FieldError]] = {}
    for index, item in enumerate(data):
        try:
            items.append(validate(model, item))
        except InvalidForm as error:
            errors.update({(index, *path): problems for path, problems in error.errors.items()})
    if errors:
        raise InvalidForm(errors)
    return items
