"""JSON from clients, decoded so that no value in it can surprise the code behind it.

The standard library's decoder takes integers of any length, and converting one of more than
4,300 digits raises ValueError (Python's int-string limit), which is not a JSON error; a value
above 64 bits would reach PostgreSQL as an out-of-range parameter; NaN and Infinity are not
JSON; a lone surrogate or NUL cannot be stored as text; and deep nesting exhausts the recursion
of whatever walks the value next (pydantic, orjson, the walk here). So: numbers beyond 64 bits
and non-finite ones become one marker that is reported with its field's path (Discord's 50035),
strings PostgreSQL cannot hold are reported the same way, and a body nested deeper than any of
Discord's is invalid JSON (50109), as one too deep for the parser already was.
"""

from __future__ import annotations

import json
import math

from core.errors import FieldError, InvalidForm, InvalidJson

# Discord's deepest bodies (embeds with fields, components in rows) nest about five levels.
MAX_JSON_DEPTH = 32
# The widest integer any field of Discord's API holds: signed 64-bit nonces, unsigned 64-bit
# permission sets and snowflakes.
MIN_INT, MAX_INT = -(2**63), 2**64 - 1
_MAX_INT_CHARS = len(str(MIN_INT))  # longer text is out of range without converting it


class _OutOfRange:
    """A number no field can hold, standing where the client put it until reported."""

    __slots__ = ()


_OUT_OF_RANGE = _OutOfRange()

Path = tuple[str | int, ...]


def _parse_int(text: str) -> int | _OutOfRange:
    if len(text) > _MAX_INT_CHARS:
        return _OUT_OF_RANGE
    value = int(text)
    return value if MIN_INT <= value <= MAX_INT else _OUT_OF_RANGE


def _parse_float(text: str) -> float | _OutOfRange:
    value = float(text)  # 1e400 is inf; float() has no length limit to trip
    return value if math.isfinite(value) else _OUT_OF_RANGE


def _refuse_constant(name: str) -> object:
    raise InvalidJson(f"{name} is not JSON")


def decode_json(raw: bytes | str) -> object:
    """`raw` decoded as UTF-8 JSON. InvalidJson if it is not JSON or nests deeper than
    MAX_JSON_DEPTH; InvalidForm naming every number or string no field could hold."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        data: object = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InvalidJson("body is not UTF-8 JSON") from None
    check_values(data)
    return data


def _text_ok(text: str) -> bool:
    """Whether PostgreSQL can store `text`: UTF-8 (no lone surrogates) without NUL."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


_NUMBER = FieldError("NUMBER_TYPE_MAX", "Must be a number that fits in 64 bits.")
_TEXT = FieldError("BASE_TYPE_STRING", "Must be valid UTF-8 text without NUL.")
_KEY = FieldError("BASE_TYPE_STRING", "Keys must be valid UTF-8 text without NUL.")


def check_values(data: object) -> None:
    """InvalidJson if `data` nests deeper than MAX_JSON_DEPTH; InvalidForm listing every
    out-of-range number and unstorable string or key. Walks with a stack of its own, so no
    depth can exhaust Python's recursion."""
    errors: dict[Path, list[FieldError]] = {}
    stack: list[tuple[object, Path]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict | list) and len(path) >= MAX_JSON_DEPTH:
            raise InvalidJson(f"nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                if _text_ok(key):
                    stack.append((item, (*path, key)))
                else:
                    errors.setdefault(path, []).append(_KEY)
        elif isinstance(value, list):
            stack.extend((item, (*path, index)) for index, item in enumerate(value))
        elif value is _OUT_OF_RANGE:
            errors.setdefault(path, []).append(_NUMBER)
        elif isinstance(value, str) and not _text_ok(value):
            errors.setdefault(path, []).append(_TEXT)
    if errors:
        raise InvalidForm(errors)
