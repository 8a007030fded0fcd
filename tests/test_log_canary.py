"""No log line or error body carries message content, tokens, passwords, emails, client
addresses or secret keys, at any level (issue 22, "Logs"). The API, gateway and relay run with
every logger at DEBUG through the handler every process uses, while canary values are put in
each such field, on good requests and bad ones; then not one canary may be found."""

from __future__ import annotations

import io
import json
import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import httpx

from core.config import LogFormat
from core.log import WARNINGS_ONLY, log_handler, set_levels
from tests.api.rooms import new_room
from tests.gateway.client import connect
from tests.gateway.test_dispatch import add_bot

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest

    from tests.running import ApiClient

# The client's own loopback address: any 127.x address reaches the server, and this one
# appears nowhere else (the server listens on 127.0.0.1).
CLIENT_ADDRESS = "127.0.0.77"
EMAIL = "canary.mail.q7x3@example.test"
PASSWORD = "canary-pass-q7x3"
WRONG_PASSWORD = "canary-wrong-q7x3"
CONTENT = "canary-content-q7x3"
EDITED = "canary-edited-q7x3"
SEARCH = "canary-search-q7x3"
BAD_TOKEN = "canary-badtoken-q7x3"


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """The logs at DEBUG, into a buffer, through the handler and levels `trioxide serve` sets
    (beside pytest's own handlers, which stay)."""
    buffer = io.StringIO()
    handler = log_handler(LogFormat.JSON, buffer)
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in WARNINGS_ONLY)]
    levels = [logger.level for logger in loggers]
    loggers[0].addHandler(handler)
    set_levels("debug")
    try:
        yield buffer
    finally:
        loggers[0].removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


async def test_no_canary_reaches_a_log_line_or_an_error_body(
    api: ApiClient, gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets_seen: list[str] = [
        EMAIL,
        PASSWORD,
        WRONG_PASSWORD,
        CONTENT,
        EDITED,
        SEARCH,
        BAD_TOKEN,
        CLIENT_ADDRESS,
    ]
    # The signing keys, as configured (TRIOXIDE_JWT_KEYS's text).
    secrets_seen += [secret.decode() for _, secret in api.services.settings.jwt_keys]
    error_bodies: list[str] = []
    transport = httpx.AsyncHTTPTransport(local_address=CLIENT_ADDRESS)
    with captured_logs() as logs:
        async with httpx.AsyncClient(base_url=api.http.base_url, transport=transport) as http:

            async def call(method: str, path: str, **options: Any) -> httpx.Response:
                response = await http.request(method, f"/api/v10{path}", **options)
                if response.status_code >= 400:
                    error_bodies.append(response.text)
                return response

            # Accounts: registration, a wrong password, a login, refreshes good and bad.
            registered = await call(
                "POST",
                "/auth/register",
                json={"username": "canary_person", "email": EMAIL, "password": PASSWORD},
            )
            assert registered.status_code == 201, registered.text
            person = registered.json()
            secrets_seen += [person["token"], person["refresh_token"]]
            assert (
                await call("POST", "/auth/login", json={"login": EMAIL, "password": WRONG_PASSWORD})
            ).status_code in (400, 401)
            logged_in = await call(
                "POST", "/auth/login", json={"login": EMAIL, "password": PASSWORD}
            )
            secrets_seen += [logged_in.json()["token"], logged_in.json()["refresh_token"]]
            assert (
                await call("POST", "/auth/refresh", json={"refresh_token": BAD_TOKEN})
            ).status_code == 401
            auth = {"Authorization": f"Bearer {person['token']}"}
            assert (
                await call("GET", "/users/@me", headers={"Authorization": f"Bearer {BAD_TOKEN}"})
            ).status_code == 401

            # Messages: sent, edited, searched, refused (too long; malformed JSON).
            guild = (await call("POST", "/guilds", headers=auth, json={"name": "Canaries"})).json()
            channels = (await call("GET", f"/guilds/{guild['id']}/channels", headers=auth)).json()
            channel = next(c for c in channels if c["type"] == 0)
            messages = f"/channels/{channel['id']}/messages"
            sent = await call("POST", messages, headers=auth, json={"content": CONTENT})
            assert sent.status_code == 200, sent.text
            edited = await call(
                "PATCH", f"{messages}/{sent.json()['id']}", headers=auth, json={"content": EDITED}
            )
            assert edited.status_code == 200
            await call(
                "GET",
                f"/guilds/{guild['id']}/messages/search",
                headers=auth,
                params={"content": SEARCH},
            )
            too_long = await call("POST", messages, headers=auth, json={"content": CONTENT * 300})
            assert too_long.status_code == 400
            malformed = await call(
                "POST",
                messages,
                headers={**auth, "Content-Type": "application/json"},
                content=f'{{"content": "{CONTENT}", '.encode(),
            )
            assert malformed.status_code == 400
            wrong_type = await call("POST", messages, headers=auth, json={"content": [CONTENT]})
            assert wrong_type.status_code == 400

            # A fault while handling a message (as a bug deep in a library might raise): the
            # request boundary logs it with its traceback, and the exception's text quotes
            # the content.
            async def failing_edit(*args: object, **kwargs: object) -> None:
                try:
                    raise KeyError(CONTENT)
                except KeyError as error:
                    raise ValueError(f"could not edit {kwargs or args}") from error

            monkeypatch.setattr(api.services.messages, "edit", failing_edit)
            failed = await call(
                "PATCH", f"{messages}/{sent.json()['id']}", headers=auth, json={"content": EDITED}
            )
            assert failed.status_code == 500
            monkeypatch.undo()

        # Bots and webhooks: a bot token, a webhook's token, a webhook message.
        room = await new_room(api)
        bot_id, bot_token = await add_bot(api, room)
        secrets_seen.append(bot_token)
        hook = await api.http.post(
            f"/api/v10/channels/{room.channel_id}/webhooks",
            headers=room.owner.auth,
            json={"name": "Canary hook"},
        )
        assert hook.status_code == 200, hook.text
        secrets_seen.append(hook.json()["token"])
        executed = await api.http.post(
            f"/api/v10/webhooks/{hook.json()['id']}/{hook.json()['token']}",
            json={"content": CONTENT},
        )
        assert executed.status_code == 204

        # The gateway: a bad token, then a good one, a message dispatched, malformed frames.
        async with connect(gateway) as refused:
            await refused.send(
                2, {"token": BAD_TOKEN, "intents": 513, "properties": {"os": "linux"}}
            )
            assert await refused.closed_with() == 4004
        async with connect(gateway) as session:
            await session.identify(person["token"])
            again = await api.http.post(
                f"/api/v10{messages}", headers=auth, json={"content": CONTENT}
            )
            assert again.status_code == 200
            assert (await session.next_named("MESSAGE_CREATE"))["content"] == CONTENT
            await session.send_text(f'{{"op": 1, "d": "{CONTENT}"}}')
            assert await session.closed_with() in (4002, 4020, 4000)
        async with connect(gateway) as garbled:
            await garbled.send_text(f"{{{CONTENT}")
            assert await garbled.closed_with() == 4002
        assert bot_id

    logged = logs.getvalue()
    assert logged, "nothing was logged: the capture is broken, so the test proves nothing"
    faults = [json.loads(line) for line in logged.splitlines() if '"fault"' in line]
    assert [(f["boundary"], f["error_type"]) for f in faults] == [("request", "ValueError")]
    assert "KeyError" in faults[0]["exc"]  # the traceback is all there, but for the texts
    leaked = [secret for secret in secrets_seen if secret in logged]
    lines = [line for line in logged.splitlines() if any(secret in line for secret in leaked)]
    assert leaked == [], f"in the logs: {leaked}: {lines[:5]}"
    in_bodies = [secret for secret in secrets_seen for body in error_bodies if secret in body]
    assert in_bodies == [], f"in error bodies: {in_bodies}"
