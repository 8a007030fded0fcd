"""Cutting a voice gateway socket under the server, as a crash of its TCP path would.

The voice gateway runs in the test's own process, so its accepted sockets are this process's
file descriptors. `cut_server_socket` finds the one serving a given client port and shuts it
down (both directions) beneath the server: the client sees its TLS stream end with no
WebSocket close frame (close 1006), the server sees its socket fail. Neither side is told
anything else. Linux: sockets are found through /proc/self/fd."""

from __future__ import annotations

import os
import socket
from pathlib import Path

_FDS = Path("/proc/self/fd")


def cut_server_socket(server_port: int, client_port: int) -> None:
    """Shuts down this process's TCP socket on `server_port` connected from `client_port`."""
    for entry in _FDS.iterdir():
        try:
            if not os.readlink(entry).startswith("socket:"):
                continue
            probe = socket.socket(fileno=os.dup(int(entry.name)))  # a second handle only
        except OSError:
            continue  # gone since the listing, or not ours to look at
        with probe:
            try:
                ends = (probe.getsockname()[1], probe.getpeername()[1])
            except (OSError, IndexError):
                continue  # not a connected IP socket
            if probe.type == socket.SOCK_STREAM and ends == (server_port, client_port):
                probe.shutdown(socket.SHUT_RDWR)
                return
    raise AssertionError(f"no socket on port {server_port} serves client port {client_port}")
