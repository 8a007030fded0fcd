"""Every REST route against bad input, with a valid token: bodies of any JSON value (huge
integers, deep nesting, wrong types), bytes that are not UTF-8 or not JSON, path ids that are
Unicode digits, huge, negative or empty, and bad query values. None may answer 5xx, and every
refusal carries Discord's `{code, message}` (issue #18: 77 of 2,400 such requests got 500).

Seeded and bounded: hypothesis draws the cases with `derandomize`, so every run sends the same
ones; the routes come from the app's own URL map, so routes added later are covered too."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from api.app import create_app
from tests.api.rooms import send

if TYPE_CHECKING:
    from tests.api.rooms import Room
    from tests.running import ApiClient

# Cases sent: about 10 ms each over loopback, so the test takes well under a minute.
_CASES = 1200

_BAD_IDS = [
    "²",
    "①",
    "٣",
    "\uff11",  # a fullwidth one
    "-1",
    "0",
    "",
    " 1",
    "1 ",
    "+1",
    "1e3",
    "0x10",
    str(2**63 - 1),
    str(2**63),
    str(2**64 - 1),
    str(2**64),
    "9" * 30,
    "9" * 5000,
    "@me",
    "%00",
    "\x00",
    "\ud800",
]
_QUERY_NAMES = [
    "before",
    "after",
    "around",
    "limit",
    "offset",
    "min_id",
    "max_id",
    "author_id",
    "channel_id",
    "mentions",
    "user_id",
    "action_type",
    "has",
    "content",
    "query",
    "with_counts",
    "ex",
    "hm",
]
_FIELD_NAMES = [
    "name",
    "content",
    "nonce",
    "enforce_nonce",
    "type",
    "position",
    "parent_id",
    "id",
    "flags",
    "permissions",
    "allow",
    "deny",
    "color",
    "roles",
    "nick",
    "recipient_id",
    "recipients",
    "messages",
    "embeds",
    "allowed_mentions",
    "message_reference",
    "max_age",
    "max_uses",
    "delete_message_seconds",
    "delete_message_days",
    "rate_limit_per_user",
    "bitrate",
    "user_limit",
    "topic",
    "username",
    "password",
    "email",
    "login",
    "avatar",
    "attachments",
    "afk_timeout",
    "verification_level",
]
_HUGE = [2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30, -(10**30), 2**31, -(2**31) - 1]

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(_HUGE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(_BAD_IDS)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(_FIELD_NAMES) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=12,
)
_forms = st.dictionaries(st.sampled_from(_FIELD_NAMES), _json_values, max_size=6)


def _encoded(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode()


_raw_bodies = st.sampled_from(
    [
        b"",
        b"{",
        b"null",
        b"\xff\xfe{}",
        b'{"content": "\\ud800"}',
        b'{"\\u0000": 1}',
        b'{"content": NaN}',
        b'{"position": 1e400}',
        b'{"nonce": ' + b"9" * 5000 + b"}",
        b'{"id": -' + b"9" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b"[" * 40 + b"]" * 40,
        b'{"embeds": [' + b'{"a":' * 60 + b"1" + b"}" * 60 + b"]}",
    ]
)
_bodies = (
    st.none()
    | _forms.map(_encoded)
    | st.lists(_forms, max_size=3).map(_encoded)
    | _json_values.map(_encoded)
    | _raw_bodies
    | st.binary(max_size=40)
)


@dataclass(frozen=True)
class Case:
    method: str
    rule: str
    ids: dict[str, str]  # path parameter → its value, or "" to use the room's own
    query: list[tuple[str, str]]
    body: bytes | None
    multipart: bool


def _rules(api: ApiClient) -> list[tuple[str, str]]:
    found = []
    for rule in create_app(api.services).url_map.iter_rules():
        if rule.rule.startswith(("/api/v10/", "/attachments/")):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append((method, rule.rule))
    return sorted(found)


def _draw_cases(rules: list[tuple[str, str]]) -> list[Case]:
    cases: list[Case] = []

    @settings(
        derandomize=True,
        max_examples=_CASES,
        database=None,
        phases=[Phase.generate],
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def draw(data: st.DataObject) -> None:
        method, rule = data.draw(st.sampled_from(rules))
        ids = {
            name: data.draw(st.just("") | st.sampled_from(_BAD_IDS) | st.text(max_size=4))
            for name in re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule)
        }
        query = data.draw(
            st.lists(
                st.tuples(
                    st.sampled_from(_QUERY_NAMES),
                    st.sampled_from(_BAD_IDS) | st.text(max_size=6) | st.just("50"),
                ),
                max_size=3,
            )
        )
        body = data.draw(_bodies) if method != "GET" else None
        multipart = method == "POST" and rule.endswith("/messages") and data.draw(st.booleans())
        cases.append(Case(method, rule, ids, query, body, multipart))

    draw()
    return cases


def _quoted(text: str, safe: str = "") -> str:
    # Lone surrogates go out as the bytes a careless client would send.
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)


def _url(case: Case, own: dict[str, str]) -> str:
    url = case.rule
    for name, value in case.ids.items():
        segment = _quoted(value, safe="@") if value else own.get(name, "1")
        url = re.sub(rf"<(?:[a-z]+:)?{name}>", segment.replace("\\", "\\\\"), url)
    query = "&".join(f"{_quoted(name)}={_quoted(value)}" for name, value in case.query)
    return f"{url}?{query}" if query else url


async def test_fuzzed_requests_never_answer_5xx_and_refusals_carry_code_and_message(
    api: ApiClient, room: Room
) -> None:
    message = await send(api, room.owner, room, content="fuzz target")
    own = {
        "guild_id": room.guild_id,
        "channel_id": room.channel_id,
        "message_id": str(message["id"]),
        "user_id": str(room.member.id),
        "role_id": room.guild_id,
        "overwrite_id": room.guild_id,
        "emoji": "%F0%9F%91%8D",
    }
    failures: list[str] = []
    for case in _draw_cases(_rules(api)):
        headers = {} if "logout" in case.rule else dict(room.owner.auth)
        request: dict[str, Any] = {}
        if case.multipart:
            payload = (case.body or b"").decode("utf-8", "replace")
            request["files"] = {"files[0]": ("a.txt", b"hello", "text/plain")}
            request["data"] = {"payload_json": payload}
        elif case.body is not None:
            headers["Content-Type"] = "application/json"
            request["content"] = case.body
        response = await api.http.request(case.method, _url(case, own), headers=headers, **request)
        problem = _problem(case, response.status_code, response.content)
        if problem:
            failures.append(f"{problem}: {case.method} {_url(case, own)[:120]} {case!r:.300}")
    assert not failures, "\n".join(failures[:20])


def _problem(case: Case, status: int, content: bytes) -> str | None:
    if status >= 500:
        return f"{status}"
    if status < 400 or case.rule.startswith("/attachments/"):
        return None  # downloads answer as Discord's CDN does: plain text
    try:
        body = json.loads(content)
    except ValueError:
        return f"{status} without JSON"
    if not isinstance(body, dict) or "code" not in body or "message" not in body:
        return f"{status} without code and message"
    return None
