"""A person using bots the way Discord's own client does: `POST /interactions` with the ids
the client knows (application, command and version, the gateway session's id, a nonce)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.running import ApiClient, Person


async def _interact(api: ApiClient, person: Person, body: dict[str, Any]) -> str:
    nonce = str(secrets.randbelow(2**62))
    response = await api.http.post(
        "/api/v10/interactions", headers=person.auth, json=body | {"nonce": nonce}
    )
    assert response.status_code == 204, response.text
    return nonce


async def invoke(
    api: ApiClient,
    person: Person,
    *,
    session_id: str,
    application_id: str,
    command: dict[str, str],
    guild_id: str,
    channel_id: str,
    options: list[dict[str, Any]] | None = None,
) -> str:
    """Runs a chat-input command (`command`: its id, name and version); the nonce sent."""
    return await _interact(
        api,
        person,
        {
            "type": 2,
            "application_id": application_id,
            "guild_id": guild_id,
            "channel_id": channel_id,
            "session_id": session_id,
            "data": {
                "version": command["version"],
                "id": command["id"],
                "name": command["name"],
                "type": 1,
                "options": options or [],
                "attachments": [],
            },
            "analytics_location": "slash_ui",
        },
    )


async def click(
    api: ApiClient,
    person: Person,
    *,
    session_id: str,
    message: dict[str, Any],
    custom_id: str,
) -> str:
    """Presses the button `custom_id` on a bot's `message`; the nonce sent."""
    body: dict[str, Any] = {
        "type": 3,
        "application_id": message["application_id"],
        "channel_id": message["channel_id"],
        "message_id": message["id"],
        "message_flags": message.get("flags", 0),
        "session_id": session_id,
        "data": {"component_type": 2, "custom_id": custom_id},
    }
    if "guild_id" in message:
        body["guild_id"] = message["guild_id"]
    return await _interact(api, person, body)
