"""Gateway sessions held by load-generator processes. Each worker process runs its own
`trio.run` with its share of the sessions and takes orders from the coordinator over a pipe:
so the generator can use every core it is given, and reports what each process cost.

Orders: `count` (deliveries so far), `drop` (cut every socket at once), `resume` (RESUME them
all at once), `stop` (report everything). Times are time.monotonic(), one clock for every
process on the host, so a receipt compares with the POST's answer in another process."""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from bench.gateway_client import GatewayError, GatewaySession, pump_all

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from bench.gateway_client import Dispatch

_CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Plan:
    url: str
    compress: bool
    intents: int
    sessions: list[tuple[str, int]]  # bot token, space index
    connect_rate: float  # sessions per second, for this worker
    cpus: tuple[int, ...] = ()  # pinned to these cores, if any


@dataclass
class _Held:
    """One session and what it received."""

    token: str
    space: int
    gateway: GatewaySession | None = None
    received: dict[str, float] = field(default_factory=dict)  # message id → first receipt
    duplicates: int = 0
    seq_gaps: int = 0
    last_seq: int = 0
    frame_bytes: int = 0
    lost_connection: bool = False
    replayed: int = 0  # MESSAGE_CREATEs between RESUME and RESUMED
    resumed_in: float | None = None


@dataclass
class _Worker:
    plan: Plan
    pipe: Connection
    held: list[_Held] = field(default_factory=list)
    ready_s: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cpu_start: float = 0.0

    def on_dispatch(self, held: _Held, dispatch: Dispatch) -> None:
        if dispatch.seq != held.last_seq + 1:
            held.seq_gaps += 1
        held.last_seq = dispatch.seq
        if dispatch.name == "MESSAGE_CREATE":
            message_id = dispatch.d["id"]
            if message_id in held.received:
                held.duplicates += 1
            else:
                held.received[message_id] = dispatch.received_at

    async def connect_all(self) -> None:
        interval = 1 / self.plan.connect_rate if self.plan.connect_rate > 0 else 0
        async with trio.open_nursery() as nursery:
            for token, space in self.plan.sessions:
                held = _Held(token, space)
                self.held.append(held)
                nursery.start_soon(self._connect, held)
                await trio.sleep(interval)

    async def _connect(self, held: _Held) -> None:
        started = time.monotonic()
        try:
            with trio.fail_after(_CONNECT_TIMEOUT_S):
                gateway = await GatewaySession.open(self.plan.url, self.plan.compress)
                await gateway.identify(held.token, self.plan.intents)
                held.last_seq = gateway.seq
                while (await gateway.next_dispatch()).name != "GUILD_CREATE":
                    pass
                held.last_seq = gateway.seq
            held.gateway = gateway
            self.ready_s.append(time.monotonic() - started)
        except (GatewayError, OSError, trio.TooSlowError) as error:
            self.failures.append(type(error).__name__ + ": " + str(error))

    async def pump(self) -> None:
        by_session = {h.gateway: h for h in self.held if h.gateway is not None}

        def lost(gateway: GatewaySession) -> None:
            by_session[gateway].lost_connection = True

        await pump_all(
            list(by_session),
            lambda gateway, dispatch: self.on_dispatch(by_session[gateway], dispatch),
            lost,
        )

    async def resume(self, held: _Held) -> None:
        """RESUMEs on a new connection; returns once RESUMED arrived (or it failed)."""
        old = held.gateway
        assert old is not None
        started = time.monotonic()
        try:
            with trio.fail_after(_CONNECT_TIMEOUT_S):
                url = old.resume_url or self.plan.url
                gateway = await GatewaySession.open(url, old.inflate is not None)
                gateway.session_id, gateway.resume_url = old.session_id, old.resume_url
                gateway.seq = held.last_seq
                await gateway.resume(held.token)
                held.gateway = gateway
                before = len(held.received)
                while True:
                    dispatch = await gateway.next_dispatch()
                    self.on_dispatch(held, dispatch)
                    if dispatch.name == "RESUMED":
                        break
                held.replayed = len(held.received) - before
                held.resumed_in = time.monotonic() - started
        except (GatewayError, OSError, trio.TooSlowError) as error:
            self.failures.append("resume: " + type(error).__name__ + ": " + str(error))

    def report(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "sessions": [
                {
                    "space": h.space,
                    "connected": h.gateway is not None,
                    "received": h.received,
                    "duplicates": h.duplicates,
                    "seq_gaps": h.seq_gaps,
                    "lost_connection": h.lost_connection,
                    "replayed": h.replayed,
                    "resumed_in": h.resumed_in,
                }
                for h in self.held
            ],
            "failures": self.failures[:20],
            "cpu_s": usage.ru_utime + usage.ru_stime - self.cpu_start,
        }


async def _serve(plan: Plan, pipe: Connection) -> None:
    worker = _Worker(plan, pipe)
    await worker.connect_all()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    worker.cpu_start = usage.ru_utime + usage.ru_stime
    pipe.send({"ready_s": worker.ready_s, "failures": worker.failures[:20]})
    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker.pump)
        while True:
            order = await trio.to_thread.run_sync(pipe.recv, abandon_on_cancel=True)
            if order == "count":
                pipe.send(sum(len(h.received) for h in worker.held))
            elif order == "drop":
                nursery.cancel_scope.cancel()
                break
            elif order == "stop":
                pipe.send(worker.report())
                nursery.cancel_scope.cancel()
                return
    # Dropped: every socket cut at once, then RESUMEd together on the coordinator's word.
    for held in worker.held:
        if held.gateway is not None:
            await held.gateway.aclose()
    pipe.send("dropped")
    if await trio.to_thread.run_sync(pipe.recv, abandon_on_cancel=True) != "resume":
        return
    async with trio.open_nursery() as nursery:
        for held in worker.held:
            if held.gateway is not None:
                nursery.start_soon(worker.resume, held)
    pipe.send("resumed")
    await trio.to_thread.run_sync(pipe.recv, abandon_on_cancel=True)  # stop
    pipe.send(worker.report())


def _worker_main(plan: Plan, pipe: Connection) -> None:
    if plan.cpus:
        os.sched_setaffinity(0, plan.cpus)
    trio.run(_serve, plan, pipe)


class Workers:
    """The generator's processes, each holding a share of the sessions."""

    def __init__(self, plans: list[Plan]) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes = []
        self._processes = []
        for plan in plans:
            ours, theirs = context.Pipe()
            process = context.Process(target=_worker_main, args=(plan, theirs), daemon=True)
            process.start()
            self._pipes.append(ours)
            self._processes.append(process)

    async def gather(self) -> list[Any]:
        """The next message of every worker."""
        return [
            await trio.to_thread.run_sync(pipe.recv, abandon_on_cancel=True) for pipe in self._pipes
        ]

    async def order(self, order: str) -> list[Any]:
        for pipe in self._pipes:
            pipe.send(order)
        return await self.gather()

    def close(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()
            process.join(timeout=5)
