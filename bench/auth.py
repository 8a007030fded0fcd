"""Logins per second, and GET /users/@me latency while logins run flat out in the same server.

Usage: python bench/auth.py [--seconds S] [--login-workers N]

The server runs as its own process (`trioxide serve --roles api`, rate limits off); this process
is the load. Logins are Argon2id-bound (~18 ms of CPU each), so the question is whether the
hashing threads starve the event loop that answers everything else.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time

import httpx
import trio

from bench.report import percentile
from bench.server import running_server


async def probe_me(http: httpx.AsyncClient, token: str, until: float) -> list[float]:
    """Sequential GET /users/@me until `until`; latencies in ms."""
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {token}"}
    while time.perf_counter() < until:
        start = time.perf_counter()
        response = await http.get("/api/v10/users/@me", headers=headers)
        latencies.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return latencies


async def log_in_repeatedly(
    http: httpx.AsyncClient, login: str, password: str, until: float, done: list[int]
) -> None:
    while time.perf_counter() < until:
        response = await http.post(
            "/api/v10/auth/login", json={"login": login, "password": password}
        )
        assert response.status_code == 200, response.text
        done.append(1)


async def main(seconds: float, login_workers: int) -> None:
    async with (
        running_server() as server,
        httpx.AsyncClient(base_url=server.api_url, timeout=30) as http,
    ):
        name = f"bench_{secrets.token_hex(4)}"
        password = "bench-password"
        registered = await http.post(
            "/api/v10/auth/register",
            json={"username": name, "email": f"{name}@example.test", "password": password},
        )
        assert registered.status_code == 201, registered.text
        token = registered.json()["token"]

        idle = await probe_me(http, token, time.perf_counter() + min(seconds, 2.0))

        logins: list[int] = []
        until = time.perf_counter() + seconds
        loaded: list[float] = []
        start = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(login_workers):
                nursery.start_soon(log_in_repeatedly, http, name, password, until, logins)

            async def probe() -> None:
                loaded.extend(await probe_me(http, token, until))

            nursery.start_soon(probe)
        elapsed = time.perf_counter() - start

    print(
        f"auth: {len(logins) / elapsed:.1f} logins/s ({login_workers} concurrent)"
        f" | GET /users/@me under login load p50 {statistics.median(loaded):.2f} ms"
        f" p99 {percentile(sorted(loaded), 0.99):.2f} ms max {max(loaded):.2f} ms (n={len(loaded)})"
        f" | idle p50 {statistics.median(idle):.2f} ms p99 {percentile(sorted(idle), 0.99):.2f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--login-workers", type=int, default=8)
    options = parser.parse_args()
    trio.run(main, options.seconds, options.login_workers)
