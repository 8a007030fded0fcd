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
from typing import TextIO

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


class JsonFormatter(logging.Formatter):
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


class TextFormatter(logging.Formatter):
    """`12:00:00.123 info  trioxide.api: listening addr=127.0.0.1:8080`"""

    def format(self, record: logging.LogRecord) -> str:
        when = dt.datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        fields = " ".join(f"{key}={value}" for key, value in _extras(record).items())
        text = f"{when} {record.levelname.lower():<7} {record.name}: {record.getMessage()}"
        text = f"{text} {fields}" if fields else text
        if record.exc_info:
            text = f"{text}\n{self.formatException(record.exc_info)}"
        return text


def configure_logging(level: str, log_format: LogFormat, stream: TextIO = sys.stdout) -> None:
    """Routes every logger to `stream`, replacing handlers set before (safe to call twice)."""
    use_json = log_format is LogFormat.JSON or (
        log_format is LogFormat.AUTO and not stream.isatty()
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pgserver narrates every command it runs at INFO; its warnings and errors still show.
    logging.getLogger("pgserver").setLevel(max(root.level, logging.WARNING))
