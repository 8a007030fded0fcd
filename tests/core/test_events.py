"""The intent each event needs, row by row from Discord's intent table (Gateway docs, "List
of Intents"); the gateway filters with it, tests/gateway shows it over the wire."""

from __future__ import annotations

import pytest

from core.events import EventName, Intent, needed_intent

E = EventName
I = Intent  # noqa: E741 (the table reads better with one letter)

ROWS: list[tuple[EventName, Intent | None, Intent | None]] = [
    # event, in a guild, in a DM (None: no intent needed)
    (E.GUILD_CREATE, I.GUILDS, None),
    (E.GUILD_UPDATE, I.GUILDS, None),
    (E.GUILD_DELETE, I.GUILDS, None),
    (E.GUILD_ROLE_CREATE, I.GUILDS, None),
    (E.GUILD_ROLE_UPDATE, I.GUILDS, None),
    (E.GUILD_ROLE_DELETE, I.GUILDS, None),
    (E.CHANNEL_CREATE, I.GUILDS, None),
    (E.CHANNEL_UPDATE, I.GUILDS, None),
    (E.CHANNEL_DELETE, I.GUILDS, None),
    (E.CHANNEL_PINS_UPDATE, I.GUILDS, I.DIRECT_MESSAGES),
    (E.GUILD_MEMBER_ADD, I.GUILD_MEMBERS, None),
    (E.GUILD_MEMBER_UPDATE, I.GUILD_MEMBERS, None),
    (E.GUILD_MEMBER_REMOVE, I.GUILD_MEMBERS, None),
    (E.GUILD_AUDIT_LOG_ENTRY_CREATE, I.GUILD_MODERATION, None),
    (E.GUILD_BAN_ADD, I.GUILD_MODERATION, None),
    (E.GUILD_BAN_REMOVE, I.GUILD_MODERATION, None),
    (E.INVITE_CREATE, I.GUILD_INVITES, None),
    (E.INVITE_DELETE, I.GUILD_INVITES, None),
    (E.WEBHOOKS_UPDATE, I.GUILD_WEBHOOKS, None),
    (E.PRESENCE_UPDATE, I.GUILD_PRESENCES, None),
    (E.MESSAGE_CREATE, I.GUILD_MESSAGES, I.DIRECT_MESSAGES),
    (E.MESSAGE_UPDATE, I.GUILD_MESSAGES, I.DIRECT_MESSAGES),
    (E.MESSAGE_DELETE, I.GUILD_MESSAGES, I.DIRECT_MESSAGES),
    (E.MESSAGE_DELETE_BULK, I.GUILD_MESSAGES, I.DIRECT_MESSAGES),
    (E.MESSAGE_REACTION_ADD, I.GUILD_MESSAGE_REACTIONS, I.DIRECT_MESSAGE_REACTIONS),
    (E.MESSAGE_REACTION_REMOVE, I.GUILD_MESSAGE_REACTIONS, I.DIRECT_MESSAGE_REACTIONS),
    (E.MESSAGE_REACTION_REMOVE_ALL, I.GUILD_MESSAGE_REACTIONS, I.DIRECT_MESSAGE_REACTIONS),
    (E.MESSAGE_REACTION_REMOVE_EMOJI, I.GUILD_MESSAGE_REACTIONS, I.DIRECT_MESSAGE_REACTIONS),
    (E.TYPING_START, I.GUILD_MESSAGE_TYPING, I.DIRECT_MESSAGE_TYPING),
    # Interactions need no intent: they go to the bot and the invoker by user.
    (E.INTERACTION_CREATE, None, None),
    (E.INTERACTION_SUCCESS, None, None),
    (E.INTERACTION_FAILURE, None, None),
    (E.INTERACTION_MODAL_CREATE, None, None),
    (E.APPLICATION_COMMAND_AUTOCOMPLETE_RESPONSE, None, None),
    (E.USER_UPDATE, None, None),  # the user's own sessions, whatever they asked for
    (E.RELATIONSHIP_ADD, None, None),  # likewise
    (E.RELATIONSHIP_REMOVE, None, None),
    (E.VOICE_STATE_UPDATE, I.GUILD_VOICE_STATES, None),
    # To the one session that joined, whatever it asked for: it asked for this.
    (E.VOICE_SERVER_UPDATE, None, None),
]


@pytest.mark.parametrize(("name", "in_guild", "in_dm"), ROWS, ids=[r[0] for r in ROWS])
def test_each_event_needs_the_intent_of_discords_table(
    name: EventName, in_guild: Intent | None, in_dm: Intent | None
) -> None:
    assert needed_intent(name, in_guild=True) == int(in_guild or 0)
    assert needed_intent(name, in_guild=False) == int(in_dm or 0)


def test_every_dispatched_event_has_a_row() -> None:
    # Ours, never dispatched to clients: they need no row.
    internal = {E.SESSIONS_REVOKED, E.SESSION_MOVED, E.VOICE_CALL_ENDED}
    assert {row[0] for row in ROWS} == set(EventName) - internal
