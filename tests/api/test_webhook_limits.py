"""Rate limits of the routes a path token authenticates (incoming webhooks, interaction
callbacks and follow-ups): a bucket per id and token, as Discord's "webhook_id +
webhook_token" top-level resource, and no global limit on interaction endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from tests.api.rooms import count_messages, new_room
from tests.api.stage import add_command, callback, invocation, invoke, new_stage, sessions
from tests.api.test_webhooks import new_webhook, token_url
from tests.conftest import running_gateway

if TYPE_CHECKING:
    import httpx

    from tests.running import ApiClient

# Review of issue 19: the webhook bucket was keyed by the webhook's id alone and counted
# before the token was checked, so anyone who read a webhook_id off a message could hold the
# webhook at 429, and every follow-up of an application shared one bucket; token routes
# carry no Authorization, so they also fell under the per-address global limit.


async def test_executes_count_against_the_webhooks_bucket(limited: ApiClient) -> None:
    room = await new_room(limited)
    webhook = await new_webhook(limited, room)
    answers: list[httpx.Response] = []
    for index in range(6):
        answers.append(await limited.http.post(token_url(webhook), json={"content": str(index)}))
    assert [a.status_code for a in answers] == [204] * 5 + [429]
    first = answers[0].headers
    assert (first["x-ratelimit-limit"], first["x-ratelimit-remaining"]) == ("5", "4")
    assert first["x-ratelimit-bucket"]
    assert answers[-1].headers["x-ratelimit-scope"] == "user"
    assert float(answers[-1].json()["retry_after"]) > 0
    assert await count_messages(limited, room) == 5


async def test_wrong_tokens_do_not_spend_the_webhooks_bucket(limited: ApiClient) -> None:
    room = await new_room(limited)
    webhook = await new_webhook(limited, room)
    spam = [
        await limited.http.post(
            f"/api/v10/webhooks/{webhook['id']}/{'x' * 68}", json={"content": "spam"}
        )
        for _ in range(8)
    ]
    # The wrong token has a bucket of its own, and spends only that.
    assert [answer.status_code for answer in spam] == [401] * 5 + [429] * 3
    sent = await limited.http.post(token_url(webhook), json={"content": "mine"})
    assert sent.status_code == 204, sent.text
    assert (sent.headers["x-ratelimit-limit"], sent.headers["x-ratelimit-remaining"]) == ("5", "4")
    assert await count_messages(limited, room) == 1


async def test_interaction_endpoints_are_not_bound_by_the_global_limit(
    limited: ApiClient,
) -> None:
    # 60 unauthenticated requests from one address: over the global 50 per second.
    for index in range(60):
        answer = await limited.http.post(
            f"/api/v10/interactions/{index + 1}/made-up-{index}/callback", json={"type": 1}
        )
        assert answer.status_code != 429, index
        assert "x-ratelimit-bucket" in answer.headers


async def test_each_interaction_token_has_its_own_follow_up_bucket(limited: ApiClient) -> None:
    stage = await new_stage(limited)
    command = await add_command(limited, stage)
    async with running_gateway(limited) as gateway, sessions(limited, gateway, stage) as live:
        with trio.fail_after(10):
            first = await invoke(limited, stage, live, invocation(stage, command))
            second = await invoke(limited, stage, live, invocation(stage, command))
        for interaction in (first, second):
            deferred = await callback(limited, interaction, {"type": 5}, with_response=False)
            assert deferred.status_code == 204, deferred.text
        url = f"/api/v10/webhooks/{stage.bot_id}/{first['token']}"
        answers = [await limited.http.post(url, json={"content": str(i)}) for i in range(6)]
        assert [a.status_code for a in answers] == [204] * 5 + [429]
        assert answers[-1].headers["x-ratelimit-scope"] == "user"
        other = await limited.http.post(
            f"/api/v10/webhooks/{stage.bot_id}/{second['token']}", json={"content": "x"}
        )
        assert other.status_code == 204, other.text
        assert other.headers["x-ratelimit-remaining"] == "4"
