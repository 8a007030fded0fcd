"""The sessions on this node, found by id, by guild and by user; and what ending one means.

Every change of who is where goes through here, so the guild audiences built from it
(gateway/audience.py) are dropped whenever they could be stale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from gateway.audience import GuildAudience
    from gateway.session import Session


class Hub:
    def __init__(self, ended: Callable[[Session, bool], None]) -> None:
        """`ended(session, registered)` is told of every session that ends for good."""
        self._ended = ended
        self.sessions: dict[str, Session] = {}
        self.by_guild: dict[int, set[Session]] = {}
        self.by_user: dict[int, set[Session]] = {}
        self.audiences: dict[int, GuildAudience] = {}  # guild id → who sees what there
        # Counts sessions registered and guilds joined: a delivery that yielded part-way sees
        # whether someone it should reach arrived meanwhile.
        self.generation = 0

    def session(self, session_id: str) -> Session | None:
        return self.sessions.get(session_id)

    def register(self, session: Session) -> None:
        self.generation += 1
        self.sessions[session.id] = session
        self.by_user.setdefault(session.user_id, set()).add(session)
        for guild_id in session.guilds:
            self.join(session, guild_id)

    def unregister(self, session: Session) -> bool:
        """False if it was not registered."""
        if self.sessions.pop(session.id, None) is None:
            return False
        users = self.by_user.get(session.user_id)
        if users is not None:
            users.discard(session)
            if not users:
                del self.by_user[session.user_id]
        for guild_id in session.guilds:
            self.leave(session, guild_id)
        return True

    def join(self, session: Session, guild_id: int) -> None:
        self.generation += 1
        self.by_guild.setdefault(guild_id, set()).add(session)
        self.audiences.pop(guild_id, None)

    def leave(self, session: Session, guild_id: int) -> None:
        members = self.by_guild.get(guild_id)
        if members is not None:
            members.discard(session)
            if not members:
                del self.by_guild[guild_id]
        self.audiences.pop(guild_id, None)

    def end(self, session: Session) -> None:
        """The session is over: no longer resumable, here or anywhere."""
        session.ended = True
        self._ended(session, self.unregister(session))

    def sessions_of(self, user_id: int, among: list[Session] | None) -> Iterable[Session]:
        """The user's sessions here, or those `among` a given few."""
        if among is None:
            return self.by_user.get(user_id, ())
        return [s for s in among if s.user_id == user_id]

    def in_guild(self, guild_id: int, among: list[Session] | None) -> list[Session]:
        if among is None:
            return list(self.by_guild.get(guild_id, ()))
        return [s for s in among if guild_id in s.guilds]

    def live_user_ids(self) -> list[int]:
        return list(self.by_user)
