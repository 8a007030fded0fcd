"""The Redis client against a real redis-server: replies, errors, pipelines, transactions,
scripts, databases and passwords, and connections that are cut off or cannot be made."""

from __future__ import annotations

import secrets
import socket
import subprocess
import threading
from typing import TYPE_CHECKING

import pytest
import trio

from bench.server import redis_server
from core.store.redis import KEY_PREFIX, Redis, RedisConnectionError, RedisError, open_redis

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def key(name: str) -> str:
    return f"{KEY_PREFIX}test:{secrets.token_hex(4)}:{name}"


async def test_replies_come_back_as_bytes_integers_nil_and_lists(redis: Redis) -> None:
    name, count, items = key("name"), key("count"), key("items")
    assert await redis.execute("SET", name, "héllo") == b"OK"
    assert await redis.execute("GET", name) == "héllo".encode()
    assert await redis.execute("GET", key("missing")) is None
    assert await redis.execute("INCRBY", count, 41) == 41
    assert await redis.execute("INCRBYFLOAT", count, 0.5) == b"41.5"
    assert await redis.execute("RPUSH", items, b"\x00\xff", "b") == 2
    assert await redis.execute("LRANGE", items, 0, -1) == [b"\x00\xff", b"b"]


async def test_an_error_reply_raises_and_leaves_the_connection_usable(redis: Redis) -> None:
    name = key("name")
    await redis.execute("SET", name, "text")
    with pytest.raises(RedisError, match="WRONGTYPE"):
        await redis.execute("LPUSH", name, "x")
    assert await redis.execute("GET", name) == b"text"


async def test_a_pipeline_answers_in_order_and_reports_a_failure_after_reading_all(
    redis: Redis,
) -> None:
    name, count = key("name"), key("count")
    assert await redis.pipeline([("SET", name, "a"), ("INCR", count), ("GET", name)]) == [
        b"OK",
        1,
        b"a",
    ]
    with pytest.raises(RedisError, match="WRONGTYPE"):
        await redis.pipeline([("INCR", count), ("LPUSH", name, "x"), ("INCR", count)])
    # Every reply was read, the failed one's neighbours ran, and the connection is in step.
    assert await redis.execute("GET", count) == b"3"
    assert await redis.pipeline([]) == []


async def test_a_transaction_runs_whole_or_not_at_all(redis: Redis) -> None:
    name, count = key("name"), key("count")
    assert await redis.pipeline(
        [("SET", name, "a"), ("INCR", count), ("GET", name)], transaction=True
    ) == [b"OK", 1, b"a"]
    with pytest.raises(RedisError, match="wrong number of arguments"):
        await redis.pipeline([("INCR", count), ("GET",)], transaction=True)
    assert await redis.execute("GET", count) == b"1"  # queued, then discarded with the rest


async def test_a_script_runs_by_its_digest_and_is_loaded_again_when_redis_forgot_it(
    redis: Redis,
) -> None:
    script = redis.script("return {redis.call('INCR', KEYS[1]), tonumber(ARGV[1])}")
    count = key("count")
    assert await script([count], [7]) == [1, 7]
    await redis.execute("SCRIPT", "FLUSH")
    assert await script([count], [8]) == [2, 8]


async def test_a_command_cut_off_by_cancellation_does_not_answer_the_next_one(
    redis: Redis,
) -> None:
    stream, name = key("stream"), key("name")
    await redis.execute("SET", name, "value")
    with trio.move_on_after(0.05):
        await redis.execute("XREAD", "BLOCK", 2000, "STREAMS", stream, "$")
    # Had the blocked connection gone back to the pool, its late nil would answer this.
    assert await redis.execute("GET", name) == b"value"


async def test_a_pooled_connection_that_redis_closed_while_idle_is_replaced(
    redis: Redis, redis_url: str
) -> None:
    name = key("name")
    await redis.pipeline([("SET", name, "kept")])  # leaves a connection in the pool
    async with open_redis(redis_url) as other:
        killed = await other.execute("CLIENT", "KILL", "TYPE", "NORMAL", "SKIPME", "yes")
    assert killed >= 1
    assert await redis.execute("GET", name) == b"kept"


async def test_databases_and_passwords_in_the_url(tmp_path: Path) -> None:
    with redis_server(tmp_path) as url:
        async with open_redis(url) as plain:
            await plain.execute("SET", "where", "db0")
            await plain.execute("CONFIG", "SET", "requirepass", "s3cret")
        socket_path = url.removeprefix("unix://")
        async with open_redis(f"unix://:s3cret@{socket_path}?db=2") as chosen:
            assert await chosen.execute("GET", "where") is None
            await chosen.execute("SET", "where", "db2")
        async with open_redis(f"unix://:s3cret@{socket_path}") as first:
            assert await first.execute("GET", "where") == b"db0"
        async with open_redis(f"unix://:wrong@{socket_path}") as refused:
            with pytest.raises(RedisError, match="WRONGPASS"):
                await refused.execute("GET", "where")


async def test_a_redis_that_is_not_there_or_goes_away_is_a_connection_error(
    tmp_path: Path,
) -> None:
    async with open_redis(f"unix://{tmp_path}/nothing.sock") as absent:
        with pytest.raises(RedisConnectionError):
            await absent.ping()
    with redis_server(tmp_path) as url:
        async with open_redis(url) as client:
            await client.ping()
            with pytest.raises(RedisConnectionError):  # it closes the connection, unanswered
                await client.execute("SHUTDOWN", "NOSAVE")
            with pytest.raises(RedisConnectionError):
                await client.ping()


def test_only_redis_urls_are_taken() -> None:
    with pytest.raises(ValueError, match="expected redis://"):
        Redis("http://127.0.0.1:6379")


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A redis-server speaking only TLS on a free port, with a self-signed certificate for
    localhost: (port, certificate)."""
    cert, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *(
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ),
            *("-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", str(key_file)),
            *("-out", str(cert), "-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            *("redis-server", "--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"),
            *("--tls-cert-file", str(cert), "--tls-key-file", str(key_file), "--save", ""),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    try:
        for line in server.stdout:
            if "ready to accept connections" in line.lower():
                break
        assert server.poll() is None, "redis-server exited during start-up"
        threading.Thread(target=server.stdout.read, daemon=True).start()
        yield port, cert
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


async def test_rediss_urls_speak_tls_and_verify_the_server(
    tls_redis: tuple[int, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, cert = tls_redis
    async with open_redis(f"rediss://localhost:{port}") as untrusted:
        with pytest.raises(RedisConnectionError):  # a certificate nobody vouches for
            await untrusted.ping()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the self-signed certificate as a CA
    async with open_redis(f"rediss://localhost:{port}") as trusted:
        assert await trusted.execute("ECHO", "over tls") == b"over tls"
