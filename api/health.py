"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool
from quart import Blueprint, Response

from api.responses import json_response
from api.services import services
from core.store.migrations import migration_problem

blueprint = Blueprint("health", __name__)
_log = logging.getLogger(__name__)


@blueprint.get("/healthz")
async def healthz() -> Response:
    """The process is alive and serving HTTP; checks nothing else."""
    return json_response({"status": "ok"})


@blueprint.get("/readyz")
async def readyz() -> Response:
    """200 when the database answers and its schema is current; 503 with the reason if not."""
    found = services()
    try:
        problem = await found.db.run(lambda conn: migration_problem(conn, found.migrations))
    except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
        problem = f"database unreachable ({type(error).__name__})"
    if problem is None:
        return json_response({"status": "ready"})
    _log.warning("not ready", extra={"reason": problem})
    return json_response({"status": "unavailable", "reason": problem}, 503)
