"""What the host says about a server under load: its CPU time and memory, and the hypervisor's
steal, from /proc."""

from __future__ import annotations

import os
import time

import trio

_SETTLE_SAMPLE_S = 0.5  # /proc counts CPU in 10 ms ticks: long enough to see 5 %


class ServerProbe:
    """CPU time and memory of a server process on this host, from /proc."""

    def __init__(self, pid: int | None) -> None:
        self.pid = pid if pid is not None and os.path.exists(f"/proc/{pid}") else None

    def cpu_s(self) -> float | None:
        if self.pid is None:
            return None
        with open(f"/proc/{self.pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def settle(self, *, busy_share: float = 0.05, timeout_s: float = 30.0) -> float:
        """Waits until the server's CPU use falls under `busy_share` of a core (what a burst
        of connections set off, such as their presence announcements, is done), so that it
        is not counted against what is measured next. Returns the seconds waited."""
        started = time.monotonic()
        before = self.cpu_s()
        while before is not None and time.monotonic() - started < timeout_s:
            await trio.sleep(_SETTLE_SAMPLE_S)
            after = self.cpu_s()
            assert after is not None
            if after - before < busy_share * _SETTLE_SAMPLE_S:
                break
            before = after
        return time.monotonic() - started

    def rss_bytes(self) -> int | None:
        if self.pid is None:
            return None
        with open(f"/proc/{self.pid}/status") as file:
            for line in file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return None


def machine_steal_s() -> float:
    """CPU time the hypervisor gave to others, all cores, since boot: a run during which it
    grew measured a busy host as much as the server."""
    with open("/proc/stat") as file:
        fields = file.readline().split()
    return int(fields[8]) / os.sysconf("SC_CLK_TCK")
