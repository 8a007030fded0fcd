"""Media as the compat tests see it: distinct Opus frames to send (no libopus: a valid TOC byte
and a payload that names the frame), and opening an RTP packet a discord.py listener received
with that listener's key (discord.py 2.7 sends voice but has no receiver)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt

# TOC byte: configuration 31 (CELT, fullband, 20 ms), stereo, one frame per packet.
_TOC = 0xFC
_HEADER_BYTES = 12
_EXTENSION_PREAMBLE_BYTES = 4
_NONCE_TAIL_BYTES = 4
_XCHACHA_NONCE_BYTES = 24
OPUS_SILENCE = b"\xf8\xff\xfe"  # what both libraries send after a stream ends


def opus_frames(count: int, tag: str) -> list[bytes]:
    """`count` frames, each different from every other (and from other tags' frames)."""
    return [
        bytes([_TOC]) + f"{tag}:{index:04d}:".encode() + bytes([index % 256])
        for index in range(count)
    ]


@dataclass(frozen=True)
class Received:
    ssrc: int
    sequence: int
    opus: bytes


def open_xchacha(packet: bytes, key: bytes) -> Received:
    """An `aead_xchacha20_poly1305_rtpsize` packet opened: the additional data is the header and
    its extension preamble, the nonce the 4-byte counter at the tail (zero-padded to 24 bytes),
    and the extension's body, if any, leads the plaintext. Raises CryptoError on a bad tag."""
    first, _, sequence, _, ssrc = struct.unpack_from(">BBHII", packet)
    header_bytes = _HEADER_BYTES + 4 * (first & 0x0F)  # CSRCs
    has_extension = bool(first & 0x10)
    if has_extension:
        header_bytes += _EXTENSION_PREAMBLE_BYTES
    nonce = packet[-_NONCE_TAIL_BYTES:].ljust(_XCHACHA_NONCE_BYTES, b"\0")
    plain = crypto_aead_xchacha20poly1305_ietf_decrypt(
        packet[header_bytes:-_NONCE_TAIL_BYTES], packet[:header_bytes], nonce, key
    )
    if has_extension:
        (words,) = struct.unpack_from(">H", packet, header_bytes - 2)
        plain = plain[4 * words :]
    return Received(ssrc, sequence, plain)


def discovery_request(ssrc: int) -> bytes:
    """The 74-byte IP discovery request (type 1, length 70, SSRC, zeros)."""
    return struct.pack(">HHI", 1, 70, ssrc).ljust(74, b"\0")


def is_rtp(packet: bytes) -> bool:
    """RTP version 2 with Opus' payload type: not an IP discovery answer or a keep-alive."""
    return len(packet) > _HEADER_BYTES and packet[0] >> 6 == 2 and packet[1] & 0x7F == 0x78
