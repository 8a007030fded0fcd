"""The voice gateway (Discord voice gateway v8 over TLS) and its calls; media is core/sfu.py's."""

from gateway.voice.limits import VoiceLimits
from gateway.voice.server import VoiceGateway

__all__ = ["VoiceGateway", "VoiceLimits"]
