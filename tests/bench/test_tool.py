"""trioxide-bench against a server the test starts: every scenario briefly, its figures checked
against each other; a slow server shows up as latency; bad targets end in one clear line."""

from __future__ import annotations

import dataclasses
import threading
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any, cast

import pytest
import trio

from bench.target import BenchError
from bench.tool import Options, main, run_scenario
from tests.conftest import running_gateway
from tests.running import running_api

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from core.config import Settings
    from core.messages import Messages
    from core.services import Services
    from core.store.database import Database
    from tests.running import ApiClient

pytestmark = pytest.mark.timeout(180)


@asynccontextmanager
async def serving(api: ApiClient) -> AsyncIterator[Options]:
    async with running_gateway(api) as gateway_url:
        yield Options(
            api_url=str(api.http.base_url),
            gateway_url=gateway_url,
            duration_s=1.0,
            sessions=12,
            guilds=2,
            rate=10.0,
        )


async def test_gateway_fanout_delivers_every_message_to_every_session_once(
    api: ApiClient,
) -> None:
    async with serving(api) as options:
        for compress in (False, True):
            report = await run_scenario(
                "gateway-fanout", dataclasses.replace(options, compress=compress)
            )
            figures = report["figures"]
            assert figures["sessions_ready"] == 12
            assert figures["messages"] == 10
            # 10 messages over 2 guilds of 6 sessions each.
            assert figures["expected_deliveries"] == figures["deliveries"] == 60
            assert (figures["lost"], figures["duplicated"], figures["out_of_sequence"]) == (0, 0, 0)
            assert figures["latency_ms"]["count"] == 60
            # Timed from the POST's answer: a dispatch may beat the answer to the generator (the
            # relay wakes at the commit), so a latency can be a little below zero.
            latency = figures["latency_ms"]
            assert latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
            assert report["generator"]["cpu_s"] > 0
            assert report["warnings"] == []


async def test_gateway_connect_and_resume_storm_account_for_every_session(
    api: ApiClient,
) -> None:
    async with serving(api) as options:
        connect = await run_scenario("gateway-connect", dataclasses.replace(options, bots=3))
        assert connect["figures"]["sessions_ready"] == connect["figures"]["sessions_held"] == 12
        assert connect["figures"]["failed"] == 0
        storm = await run_scenario("resume-storm", dataclasses.replace(options, messages=4))
        assert storm["figures"]["sessions"] == storm["figures"]["resumed"] == 12
        # Every session got exactly the 2 messages posted to its guild while it was away.
        assert storm["figures"]["replayed_completely"] == 12


async def test_interactions_answers_every_invocation_and_searches_upwards(
    api: ApiClient,
) -> None:
    async with serving(api) as options:
        report = await run_scenario(
            "interactions", dataclasses.replace(options, rate=20.0, search_to=40.0)
        )
    figures = report["figures"]
    assert figures["invoked"] == figures["answered"] == 20
    assert figures["errors"] == {}
    assert figures["round_trip_ms"]["count"] == figures["server_added_ms"]["count"] == 20
    assert 0 < figures["server_added_ms"]["p50"] <= figures["round_trip_ms"]["p50"]
    assert [step["rate_per_s"] for step in figures["search"]] == [20.0, 40.0]
    assert figures["most_sustained_per_s"] in (20.0, 40.0)


class _Slowed:
    """The message service, with every send taking a quarter of a second longer."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def send(self, *args: Any, **kwargs: Any) -> Any:
        # The slowness under test, not a wait for something to happen.
        await trio.sleep(0.25)
        return await self._inner.send(*args, **kwargs)


async def test_a_slow_server_shows_up_as_latency_not_as_a_crash(
    settings: Settings, db: Database
) -> None:
    def slowed(found: Services) -> Services:
        return dataclasses.replace(found, messages=cast("Messages", _Slowed(found.messages)))

    async with running_api(settings, db, adjust=slowed) as api:
        options = Options(api_url=str(api.http.base_url), duration_s=1.0, rate=20.0, clients=4)
        report = await run_scenario("rest-mix", options)
    figures = report["figures"]
    assert figures["requests"] == 20
    assert figures["errors"] == {}
    assert figures["latency_ms"]["create"]["p50"] >= 250
    assert figures["latency_ms"]["history"]["p50"] < 250


def test_an_unreachable_server_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rest-mix", "--api", "http://127.0.0.1:1", "--duration", "1"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("trioxide-bench: cannot reach the server at 127.0.0.1:1")
    assert error.count("\n") == 1


def test_a_remote_target_needs_allow_remote(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rest-mix", "--api", "http://192.0.2.1:8080"]) == 1
    assert "pass --allow-remote" in capsys.readouterr().err


@pytest.fixture
def not_discord() -> Iterator[str]:
    """An HTTP server that answers every request 200 with a web page."""

    class Page(BaseHTTPRequestHandler):
        def answer(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "13")
            self.end_headers()
            self.wfile.write(b"<html></html>")

        do_GET = do_POST = answer

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_server_not_speaking_discord_is_named(
    not_discord: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gateway-fanout", "--api", not_discord, "--duration", "1"]) == 1
    error = capsys.readouterr().err
    assert (
        error == "trioxide-bench: POST /api/v10/auth/register answered something that is not JSON\n"
    )


async def test_a_bad_token_is_refused_in_one_line(api: ApiClient) -> None:
    options = Options(api_url=str(api.http.base_url), token="not-a-token", duration_s=1.0)
    with pytest.raises(BenchError, match="refused the token") as raised:
        await run_scenario("rest-mix", options)
    assert "GET /api/v10/users/@me" in str(raised.value)
