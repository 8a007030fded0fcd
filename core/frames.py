"""The native RFC 6455 client-frame parser, for the gateway's WebSocket layer
(gateway/websocket.py): parsing and unmasking every client frame is a hot path."""

from trioxide_native import FrameParser, FrameValueError

__all__ = ["FrameParser", "FrameValueError"]
