"""A voice client's UDP side for the SFU tests: IP discovery, and RTP sealed and opened the way
discord.py and @discordjs/voice do it (AES-256-GCM with `cryptography`, XChaCha20-Poly1305 with
PyNaCl), over a real loopback socket."""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
)

if TYPE_CHECKING:
    from core.sfu import Sfu

AES = "aead_aes256_gcm_rtpsize"
XCHACHA = "aead_xchacha20_poly1305_rtpsize"
WAIT_S = 5
PROBE_SSRC = 0xFFFF_FFFF


def seal(mode: str, key: bytes, counter: int, aad: bytes, data: bytes) -> bytes:
    """Ciphertext and tag; the nonce is the big-endian counter, then zeros."""
    if mode == AES:
        return AESGCM(key).encrypt(struct.pack(">I", counter) + bytes(8), data, aad)
    nonce = struct.pack(">I", counter) + bytes(20)
    return crypto_aead_xchacha20poly1305_ietf_encrypt(data, aad, nonce, key)


def open_sealed(mode: str, key: bytes, counter: int, aad: bytes, sealed: bytes) -> bytes:
    if mode == AES:
        return AESGCM(key).decrypt(struct.pack(">I", counter) + bytes(8), sealed, aad)
    nonce = struct.pack(">I", counter) + bytes(20)
    return crypto_aead_xchacha20poly1305_ietf_decrypt(sealed, aad, nonce, key)


def header_size(packet: bytes) -> int:
    """The associated data: 12 bytes, 4 per CSRC, 4 more for the extension preamble."""
    return 12 + 4 * (packet[0] & 0x0F) + (4 if packet[0] & 0x10 else 0)


@dataclass(frozen=True, slots=True)
class Heard:
    header: bytes
    payload: bytes  # extension body (if any) and Opus frame, decrypted
    counter: int


@dataclass
class Client:
    ssrc: int
    mode: str
    sock: socket.socket
    key: bytes = field(default_factory=lambda: os.urandom(32))
    counter: int = 0
    sequence: int = 0

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def packet(
        self, opus: bytes, *, counter: int | None = None, csrcs: int = 0, extension: bytes = b""
    ) -> bytes:
        """An RTP packet with the next sequence number and counter (or `counter`)."""
        if counter is None:
            counter = self.counter
            self.counter += 1
        self.sequence += 1
        first = 0x80 | csrcs | (0x10 if extension else 0)
        header = struct.pack(">BBHII", first, 0x78, self.sequence, self.sequence * 960, self.ssrc)
        header += bytes(range(4 * csrcs))
        if extension:
            header += struct.pack(">HH", 0xBEDE, len(extension) // 4)
        sealed = seal(self.mode, self.key, counter, header, extension + opus)
        return header + sealed + struct.pack(">I", counter)

    def send(self, sfu: Sfu, datagram: bytes) -> None:
        self.sock.sendto(datagram, ("127.0.0.1", sfu.port))

    async def receive(self) -> bytes:
        with trio.fail_after(WAIT_S):
            await trio.lowlevel.wait_readable(self.sock)
        return self.sock.recv(2048)

    async def discover(self, sfu: Sfu) -> bytes:
        self.send(sfu, struct.pack(">HHI", 1, 70, self.ssrc) + bytes(66))
        return await self.receive()

    async def connect(self, sfu: Sfu) -> None:
        """Discovery, then the address it found declared (SELECT_PROTOCOL): bound."""
        response = await self.discover(sfu)
        host = response[8:72].rstrip(b"\0").decode()
        (port,) = struct.unpack(">H", response[72:])
        sfu.bind(self.ssrc, host, port)

    async def hear(self) -> Heard:
        """The next packet, opened with this client's own key."""
        packet = await self.receive()
        size = header_size(packet)
        (counter,) = struct.unpack(">I", packet[-4:])
        payload = open_sealed(self.mode, self.key, counter, packet[:size], packet[size:-4])
        return Heard(packet[:size], payload, counter)

    def heard_nothing(self) -> bool:
        """Nothing is waiting. Loopback delivers during the send: checked once the SFU has
        settled (`Clients.settled`), this is final."""
        try:
            self.sock.recv(2048)
        except BlockingIOError:
            return True
        return False


class Clients:
    """Makes clients on fresh non-blocking loopback sockets, and closes them all."""

    def __init__(self) -> None:
        self._made: list[Client] = []
        self._probe: Client | None = None

    def make(self, ssrc: int, mode: str = AES) -> Client:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(("127.0.0.1", 0))
        made = Client(ssrc, mode, sock)
        self._made.append(made)
        return made

    async def join(self, sfu: Sfu, ssrc: int, channel_id: int, mode: str = AES) -> Client:
        """A client added, discovered and bound, and keyed."""
        joiner = self.make(ssrc, mode)
        sfu.add(ssrc, channel_id, speaks=True, hears=True)
        await joiner.connect(sfu)
        sfu.set_key(ssrc, mode, joiner.key)
        return joiner

    async def settled(self, sfu: Sfu) -> dict[str, int]:
        """The counters once the SFU is done with every datagram sent so far: it answers a
        discovery request only after it published the counts of its batch, and reads in order.
        The probe (SSRC PROBE_SSRC, alone in channel 0) adds its requests to packets_in,
        bytes_in and discovery_answers."""
        if self._probe is None:
            self._probe = self.make(PROBE_SSRC)
            sfu.add(PROBE_SSRC, 0, speaks=False, hears=False)
        await self._probe.discover(sfu)
        return sfu.counters()

    def close(self) -> None:
        for made in self._made:
            made.sock.close()
