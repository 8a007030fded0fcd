"""Who receives an event: the sessions on this node that may see it and asked for it.

A guild's sessions are resolved in bulk against one snapshot of its roles (the native
permission engine), and who of them can view each channel is kept per channel and intent, so
a busy channel's events cost no per-session Python. An event is shown to each recipient as it
may see it (Discord's MESSAGE_CONTENT rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from core.domain.permissions import Permission
from core.events import EventName, Intent

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from core.access import GuildSnapshot
    from core.domain.permissions import ChannelPermissions, GuildMembers
    from core.events import Published
    from core.fanout import Feed
    from gateway.session import Session

_MESSAGE_EVENTS = {EventName.MESSAGE_CREATE, EventName.MESSAGE_UPDATE}
_MESSAGE_CONTENT = int(Intent.MESSAGE_CONTENT)  # a plain int: Flag arithmetic costs µs


class EventView:
    """One event as each session may see it. Discord's rule: without MESSAGE_CONTENT a bot
    sees guild messages blank, but for its own and those that mention it. The blank copy is
    made once per event, and only if some session needs it."""

    def __init__(self, event: Published) -> None:
        self._event = event
        self._ruled = event.name in _MESSAGE_EVENTS and event.guild_id is not None
        self._readers: set[int] | None = None  # who sees content regardless
        self._blank = b""

    def split(self, recipients: Recipients) -> list[tuple[bytes, list[Feed]]]:
        """The recipients' feeds grouped by the payload each sees."""
        if not self._ruled or not recipients.ruled:
            return [(self._event.payload, recipients.feeds)]
        blank = {s for s in recipients.ruled if s.user_id not in self._content_readers()}
        if not blank:
            return [(self._event.payload, recipients.feeds)]
        return [
            (self._event.payload, [s.feed for s in recipients.sessions if s not in blank]),
            (self._blank, [s.feed for s in blank]),
        ]

    def payload_for(self, session: Session) -> bytes:
        if not (self._ruled and session.identity.bot and not session.intents & _MESSAGE_CONTENT):
            return self._event.payload
        return self._event.payload if session.user_id in self._content_readers() else self._blank

    def _content_readers(self) -> set[int]:
        if self._readers is None:
            message = orjson.loads(self._event.payload)
            self._readers = {int(m["id"]) for m in message.get("mentions", [])}
            self._readers.add(int(message.get("author", {}).get("id", 0)))
            message.update(content="", embeds=[], attachments=[], components=[])
            self._blank = orjson.dumps(message)
        return self._readers


@dataclass(frozen=True, slots=True)
class Recipients:
    """An event's audience, ready to dispatch to: the sessions, their feeds, and the bots among
    them without MESSAGE_CONTENT (who may see a guild message blank). Kept per channel and
    intent by GuildAudience, so a busy channel's events cost no per-session Python."""

    sessions: list[Session]
    feeds: list[Feed]
    ruled: list[Session]

    @classmethod
    def of(cls, sessions: Iterable[Session], needed: int) -> Recipients:
        chosen = [s for s in sessions if s.intents & needed] if needed else list(sessions)
        ruled = [s for s in chosen if s.identity.bot and not s.intents & _MESSAGE_CONTENT]
        return cls(chosen, [s.feed for s in chosen], ruled)


NOBODY = Recipients([], [], [])


@dataclass(eq=False, slots=True)
class GuildAudience:
    """A guild's sessions on this node, resolved in bulk against one snapshot of its roles,
    and who of them can view each channel: one native call per channel, kept until the
    snapshot, the sessions or their roles change (the gateway then drops it)."""

    snapshot: GuildSnapshot
    sessions: list[Session]
    members: GuildMembers
    by_channel: dict[int, list[Session]]
    prepared: dict[tuple[int, int], Recipients]  # by channel id and intent needed

    def __init__(self, snapshot: GuildSnapshot, guild_id: int, sessions: list[Session]) -> None:
        self.snapshot = snapshot
        self.sessions = sessions
        self.members = snapshot.engine.members(
            [(s.user_id, s.guilds.get(guild_id, []), False) for s in sessions]
        )
        self.by_channel = {}
        self.prepared = {}

    def recipients(self, layout: ChannelPermissions, channel_id: int, needed: int) -> Recipients:
        """viewers(), of those who asked for what needs `needed`; kept."""
        key = (channel_id, needed)
        if (found := self.prepared.get(key)) is None:
            found = self.prepared[key] = Recipients.of(self.viewers(layout, channel_id), needed)
        return found

    def viewers(self, layout: ChannelPermissions, channel_id: int | None = None) -> list[Session]:
        """The sessions that can view the channel laid out as `layout`; kept by `channel_id`."""
        if channel_id is not None and (found := self.by_channel.get(channel_id)) is not None:
            return found
        can_view = self.members.who_has(int(Permission.VIEW_CHANNEL), layout)
        found = [s for s, can in zip(self.sessions, can_view, strict=True) if can]
        if channel_id is not None:
            self.by_channel[channel_id] = found
        return found


def carried_versions(events: Sequence[Published], guild_ids: set[int]) -> dict[int, int]:
    """The newest access_version the events carry for each of `guild_ids` that all of that
    guild's events carry one for (an event from an older node may not)."""
    versions: dict[int, int] = {}
    lacking: set[int] = set()
    for event in events:
        if event.guild_id not in guild_ids:
            continue
        if event.access_version is None:
            lacking.add(event.guild_id)
        else:
            versions[event.guild_id] = max(versions.get(event.guild_id, 0), event.access_version)
    return {gid: v for gid, v in versions.items() if gid not in lacking}


CHANNEL_EVENTS = {EventName.CHANNEL_CREATE, EventName.CHANNEL_UPDATE, EventName.CHANNEL_DELETE}


def described_channel(event: Published, snapshot: GuildSnapshot) -> ChannelPermissions:
    channel = orjson.loads(event.payload)
    overwrites = [
        (int(o["id"]), int(o["type"]), int(o["allow"]), int(o["deny"]))
        for o in channel.get("permission_overwrites", [])
    ]
    return snapshot.engine.channel(overwrites, text=channel.get("type") in (0, 5))
