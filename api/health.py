"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import logging

import psycopg
import trio
from quart import Blueprint, Response

from api.responses import json_response
from api.services import services
from core.store.migrations import migration_problem
from core.store.redis import RedisError

blueprint = Blueprint("health", __name__)
_log = logging.getLogger(__name__)


@blueprint.get("/healthz")
async def healthz() -> Response:
    """The process is alive and serving HTTP; checks nothing else."""
    return json_response({"status": "ok"})


# A Redis that takes longer than this to answer PING is as good as down for every request.
_REDIS_PING_TIMEOUT_S = 2.0


async def _problem() -> str | None:
    found = services()
    try:
        problem = await found.db.run(lambda conn: migration_problem(conn, found.migrations))
    except psycopg.Error as error:
        return f"database unreachable ({type(error).__name__})"
    if problem is None and found.redis is not None:
        with trio.move_on_after(_REDIS_PING_TIMEOUT_S) as scope:
            try:
                await found.redis.ping()
            except RedisError as error:
                return f"redis unreachable ({type(error).__name__})"
        if scope.cancelled_caught:
            return f"redis unreachable (no answer in {_REDIS_PING_TIMEOUT_S} s)"
    return problem


@blueprint.get("/readyz")
async def readyz() -> Response:
    """200 when the database answers, its schema is current and Redis (when configured)
    answers; 503 with the reason if not."""
    problem = await _problem()
    if problem is None:
        return json_response({"status": "ready"})
    _log.warning("not ready", extra={"reason": problem})
    return json_response({"status": "unavailable", "reason": problem}, 503)
