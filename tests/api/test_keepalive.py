"""Keep-alive connections over a real socket: a request answered before its body was read
leaves the connection ready for the next one, and a body over the limit is refused at once.
Regression tests for issue #18 (a 1 MB body answered 401 left the connection silent)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import h11
import trio

from api.forms import MAX_JSON_BYTES
from api.keepalive import DRAIN_MAX_BYTES

if TYPE_CHECKING:
    from tests.running import ApiClient

_MB = 1024 * 1024


class RawConnection:
    """One HTTP/1.1 connection, written and read by hand (h11 parses the answers)."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.parser = h11.Connection(h11.CLIENT)

    async def send(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        head = [f"{method} {path} HTTP/1.1", "Host: trioxide.test"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if "Content-Length" not in (headers or {}):
            head.append(f"Content-Length: {len(body)}")
        await self.stream.send_all("\r\n".join(head).encode() + b"\r\n\r\n" + body)

    async def response(self) -> tuple[h11.Response, bytes]:
        """The next response, whole. Cycles the parser for the next one if it may follow."""
        answer: h11.Response | None = None
        body = b""
        while True:
            event = self.parser.next_event()
            if event is h11.NEED_DATA:
                self.parser.receive_data(await self.stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                answer = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert answer is not None
                return answer, body
            else:
                raise AssertionError(f"unexpected {event!r}")

    def next_cycle(self, method: str, path: str) -> None:
        """Tells the parser which request the next response answers (it tracks both sides)."""
        self.parser = h11.Connection(h11.CLIENT)
        self.parser.send(
            h11.Request(method=method, target=path, headers=[("Host", "trioxide.test")])
        )
        self.parser.send(h11.EndOfMessage())


async def _open(api: ApiClient) -> RawConnection:
    address = urlsplit(str(api.http.base_url))
    assert address.hostname is not None
    assert address.port is not None
    return RawConnection(await trio.open_tcp_stream(address.hostname, address.port))


def _header(response: h11.Response, name: bytes) -> bytes | None:
    return next((value for key, value in response.headers if key == name), None)


async def _answered_then_next(api: ApiClient, path: str, headers: dict[str, str]) -> int:
    """POSTs 1 MB that `path` answers without reading, then GETs /gateway on the same
    connection; the status of the first answer. Both must come back."""
    connection = await _open(api)
    async with connection.stream:
        with trio.fail_after(10):
            connection.next_cycle("POST", path)
            await connection.send("POST", path, b"x" * _MB, headers)
            await connection.send("GET", "/api/v10/gateway")
            first, body = await connection.response()
            assert b'"code"' in body
            assert _header(first, b"connection") != b"close"
            connection.next_cycle("GET", "/api/v10/gateway")
            second, body = await connection.response()
            assert second.status_code == 200, body
            assert b"ws://" in body
        return first.status_code


async def test_keepalive_after_1mb_body_answered_401_answers_the_next_request(
    api: ApiClient,
) -> None:
    status = await _answered_then_next(
        api,
        "/api/v10/users/@me/channels",
        {"Authorization": "Bearer not-a-token", "Content-Type": "application/json"},
    )
    assert status == 401


async def test_keepalive_after_1mb_body_to_unknown_route_answers_the_next_request(
    api: ApiClient,
) -> None:
    status = await _answered_then_next(api, "/api/v10/no/such/route", {})
    assert status == 404


async def test_body_declared_over_the_limit_is_refused_at_once_and_closed(
    api: ApiClient,
) -> None:
    connection = await _open(api)
    async with connection.stream:
        with trio.fail_after(10):
            connection.next_cycle("POST", "/api/v10/auth/login")
            declared = {"Content-Length": str(10 * MAX_JSON_BYTES * 4)}
            await connection.send("POST", "/api/v10/auth/login", headers=declared)  # no body
            response, body = await connection.response()
            assert response.status_code == 413
            assert body == b'{"message":"Request entity too large","code":40005}'
            assert _header(response, b"connection") == b"close"
            # Then the server closes its side: nothing more is read or answered.
            assert await connection.stream.receive_some(65536) == b""


async def test_large_body_answered_unread_closes_the_connection_at_once(api: ApiClient) -> None:
    # Over DRAIN_MAX_BYTES: not worth receiving only to drop, so the answer says it closes,
    # without waiting for a body that has not come.
    connection = await _open(api)
    async with connection.stream:
        with trio.fail_after(5):
            connection.next_cycle("POST", "/api/v10/users/@me/channels")
            declared = {"Content-Length": str(DRAIN_MAX_BYTES + 1), "Authorization": "Bearer x"}
            await connection.send("POST", "/api/v10/users/@me/channels", headers=declared)
            response, body = await connection.response()
            assert response.status_code == 401
            assert body == b'{"message":"401: Unauthorized","code":0}'
            assert _header(response, b"connection") == b"close"
            assert await connection.stream.receive_some(65536) == b""
