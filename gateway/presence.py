"""Presence: who is online and doing what. Ephemeral by design (never in PostgreSQL): what
this node's sessions said, gone when their last session ends."""

from __future__ import annotations

STATUSES = frozenset({"online", "idle", "dnd", "invisible", "offline"})
MAX_ACTIVITIES = 10


def parse_presence(d: object) -> tuple[str, list[dict[str, object]]] | None:
    """The status and activities of a PRESENCE_UPDATE (op 3) or IDENTIFY's `presence`; None
    when malformed."""
    if not isinstance(d, dict):
        return None
    status, activities = d.get("status", "online"), d.get("activities") or []
    if status not in STATUSES or not isinstance(activities, list):
        return None
    if len(activities) > MAX_ACTIVITIES:
        return None
    kept: list[dict[str, object]] = []
    for activity in activities:
        if not isinstance(activity, dict) or not isinstance(activity.get("name"), str):
            return None
        kind = activity.get("type", 0)
        if not isinstance(kind, int) or not 0 <= kind <= 6:
            return None
        kept.append({"name": activity["name"][:128], "type": kind} | _optional(activity))
    return str(status), kept


def _optional(activity: dict[str, object]) -> dict[str, object]:
    extra: dict[str, object] = {}
    for key in ("state", "url"):
        value = activity.get(key)
        if isinstance(value, str):
            extra[key] = value[:128] if key == "state" else value[:512]
    return extra


class Presences:
    def __init__(self) -> None:
        self._by_user: dict[int, tuple[str, list[dict[str, object]]]] = {}

    def set(self, user_id: int, status: str, activities: list[dict[str, object]]) -> bool:
        """Records it; True if what others see changed."""
        before = self.shown(user_id)
        self._by_user[user_id] = (status, activities)
        return self.shown(user_id) != before

    def clear(self, user_id: int) -> bool:
        """The user's last session ended; True if others saw them online."""
        before = self.shown(user_id)
        self._by_user.pop(user_id, None)
        return before["status"] != "offline"

    def shown(self, user_id: int) -> dict[str, object]:
        """As others see it: invisible looks offline."""
        status, activities = self._by_user.get(user_id, ("offline", []))
        if status in ("invisible", "offline"):
            return {"status": "offline", "activities": [], "client_status": {}}
        return {"status": status, "activities": activities, "client_status": {"desktop": status}}
