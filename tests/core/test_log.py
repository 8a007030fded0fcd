from __future__ import annotations

import io
import json
import logging
from typing import TYPE_CHECKING

import pytest

from core.config import LogFormat
from core.log import configure_logging, is_personal

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_fields_but_never_personal_ones() -> None:
    stream = io.StringIO()  # not a terminal: auto means JSON
    configure_logging("info", LogFormat.AUTO, stream)
    logging.getLogger("trioxide.test").info(
        "message created",
        extra={
            "message_id": 42,
            "content": "hello there",
            "password": "hunter2",
            "refresh_token": "abc",
            "email": "a@example.com",
            "client_ip": "10.0.0.1",
            "recipient_count": 3,
        },
    )
    line = json.loads(stream.getvalue())
    assert line["msg"] == "message created"
    assert line["level"] == "info"
    assert line["logger"] == "trioxide.test"
    assert line["message_id"] == 42
    assert line["recipient_count"] == 3
    for field in ("content", "password", "refresh_token", "email", "client_ip"):
        assert field not in line
    assert "hunter2" not in stream.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_text_lines_are_readable_and_filtered() -> None:
    stream = io.StringIO()
    configure_logging("debug", LogFormat.TEXT, stream)
    logging.getLogger("trioxide.test").warning("slow", extra={"user_id": 7, "token": "x"})
    text = stream.getvalue()
    assert "warning" in text
    assert "trioxide.test: slow user_id=7" in text
    assert "token" not in text


@pytest.mark.usefixtures("restore_logging")
def test_level_hides_quieter_records() -> None:
    stream = io.StringIO()
    configure_logging("warning", LogFormat.JSON, stream)
    logging.getLogger("trioxide.test").info("quiet")
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("field", "personal"),
    [
        ("content", True),
        ("ip", True),
        ("ip_address", True),
        ("access_token", True),
        ("user_email", True),
        ("recipient", False),
        ("description", False),
        ("zip", False),
        ("message_id", False),
    ],
)
def test_personal_fields_are_recognised_by_their_words(field: str, personal: bool) -> None:
    assert is_personal(field) is personal


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize("log_format", [LogFormat.JSON, LogFormat.TEXT])
def test_tracebacks_keep_every_frame_and_type_but_no_exception_text(
    log_format: LogFormat,
) -> None:
    """An exception's text may quote a client's input (a library's ValueError(f"bad {x}")):
    tracebacks keep the frames, types, causes and groups, never the texts."""
    stream = io.StringIO()
    configure_logging("info", log_format, stream)

    # (The secrets arrive as data, as a client's would: source lines are printed.)
    sent = {"key": "secret-in-key", "group": "secret-in-group", "value": "secret-in-value"}

    def deep() -> None:
        raise KeyError(sent["key"])

    try:
        try:
            deep()
        except KeyError as error:
            raise ExceptionGroup(sent["group"], [ValueError(sent["value"])]) from error
    except ExceptionGroup:
        logging.getLogger("trioxide.test").exception("fault")
    logged = stream.getvalue()
    assert "secret" not in logged
    for kept in (
        "deep",
        "builtins.KeyError",
        "direct cause",
        "builtins.ValueError",
        "sub-exception",
    ):
        assert kept in logged
    logging.getLogger("trioxide.test").error("no exception", exc_info=(None, None, None))
