"""Logging: one set-up for every process. JSON lines for machines, readable lines for people.

Personal data never reaches a log line through structured fields: a filter drops every `extra`
field whose name carries a word that could hold it (content, password, token, email, ip, …).
Log ids instead. Free-text messages are the caller's duty: never format such values into them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import traceback
from types import TracebackType
from typing import TextIO, TypeAlias

from core.config import LogFormat

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}

# Words that mark a field as personal. Matched against the parts of a field's name split on
# "_", so `client_ip` and `refresh_token` go while `recipient` and `description` stay.
PERSONAL_WORDS = frozenset(
    {"content", "password", "token", "email", "ip", "address", "secret", "authorization", "body"}
)


def is_personal(field: str) -> bool:
    """Whether a log field of this name could carry personal data or a credential."""
    return not PERSONAL_WORDS.isdisjoint(field.lower().split("_"))


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {key: value for key, value in vars(record).items() if key not in _RECORD_ATTRS}


class PersonalDataFilter(logging.Filter):
    """Drops `extra` fields that could carry personal data; never drops the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key in [key for key in _extras(record) if is_personal(key)]:
            delattr(record, key)
        return True


_ExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
)
_WITHHELD = "(message withheld: an exception's text may quote what a client sent)"


def traceback_without_messages(exc_info: _ExcInfo) -> str:
    """A traceback as Python prints it (chained causes, exception groups, every frame) with
    each exception's type but not its text: `ValueError(f"bad {value}")` from a library fed a
    client's input would otherwise put that input (a message, a token) in the log."""
    if exc_info[1] is None:
        return ""
    return "".join(_format(traceback.TracebackException(*exc_info))).rstrip("\n")


def _format(exception: traceback.TracebackException) -> list[str]:
    lines: list[str] = []
    if exception.__cause__ is not None:
        lines += _format(exception.__cause__)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif exception.__context__ is not None and not exception.__suppress_context__:
        lines += _format(exception.__context__)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    lines.append("Traceback (most recent call last):\n")
    lines += exception.stack.format()
    kind = exception.exc_type
    name = "?" if kind is None else f"{kind.__module__}.{kind.__qualname__}"
    lines.append(f"{name}: {_WITHHELD}\n")
    for number, inner in enumerate(exception.exceptions or [], 1):
        lines.append(f"+---- sub-exception {number} ----\n")
        lines += _format(inner)
    return lines


class _Formatter(logging.Formatter):
    def formatException(self, ei: _ExcInfo) -> str:
        return traceback_without_messages(ei)


class JsonFormatter(_Formatter):
    """One JSON object per line: ts, level, logger, msg, the extra fields, exc when raised."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update(_extras(record))
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(_Formatter):
    """`12:00:00.123 info  trioxide.api: listening addr=127.0.0.1:8080`"""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        fields = " ".join(f"{key}={value}" for key, value in _extras(record).items())
        text = f"{when} {record.levelname.lower():<7} {record.name}: {record.getMessage()}"
        text = f"{text} {fields}" if fields else text
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return text


def log_handler(log_format: LogFormat, stream: TextIO) -> logging.Handler:
    """The handler every process logs through: its format, and personal fields dropped."""
    use_json = log_format is LogFormat.JSON or (
        log_format is LogFormat.AUTO and not stream.isatty()
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(PersonalDataFilter())
    return handler


def configure_logging(level: str, log_format: LogFormat, stream: TextIO = sys.stdout) -> None:
    """Routes every logger to `stream`, replacing handlers set before (safe to call twice)."""
    logging.getLogger().handlers[:] = [log_handler(log_format, stream)]
    set_levels(level)


# Libraries whose lines below WARNING are noise or carry what must not be logged: pgserver
# narrates every command it runs; httpx and httpcore (the S3 object store's client) log whole
# URLs (a webhook's holds its token) and the addresses they connect from and to.
WARNINGS_ONLY = ("pgserver", "httpx", "httpcore")


def set_levels(level: str) -> None:
    """The root logger at `level`; the chatty libraries at WARNING at the least."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    for name in WARNINGS_ONLY:
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
