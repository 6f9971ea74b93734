"""The progress board of a branch: a page for a screen in the branch's lobby, where residents
follow their ticket from waiting to the back office's answer.

``GET /board/{branch_id}`` is the page (no login: it shows nothing but ticket numbers and
states); it polls ``GET /api/board/{branch_id}``: today's tickets of the branch (Asia/Tokyo),
each with one of

====================  =================================================================
``waiting``           waiting for a specialist (also while one is being rung)
``in_session``        with a specialist
``submitted``         applications handed to the central intake, not yet taken up
``processing``        the back office is processing them
``done``              processed (or the session finished without an application)
``returned``          sent back: the branch's staff will tell the resident why
====================  =================================================================

Sessions that ended without being served (the resident left, staff cancelled) are not shown.
The answer is cached for a second per branch, so many screens cost one read.
"""

from __future__ import annotations

import re
import time
from typing import Any, Final

from aiohttp import web

from hub import redis_keys
from hub.errors import NotFound
from hub.sessions.dispatch import day_of
from hub.supervision.figures import SUPERVISION, SessionRow
from hub.web import REDIS
from staff_console import STATIC_DIR

BRANCH: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
CACHE_S: Final = 1.0
MAX_TICKETS: Final = 200

BOARD_CACHE: Final[web.AppKey[dict[str, tuple[float, dict[str, Any]]]]] = web.AppKey("board_cache")
"""Each branch's last answer and when it was made (filled by :func:`board_json`)."""


def board_state(row: SessionRow, applications: list[str]) -> str | None:
    """What the board says about a session, given its applications' intake states."""
    if row.state in ("waiting", "offered"):
        return "waiting"
    if row.state in ("connected", "on_hold"):
        return "in_session"
    if applications:
        if "returned" in applications:
            return "returned"
        if all(a == "done" for a in applications):
            return "done"
        if any(a in ("claimed", "dead", "done") for a in applications):
            return "processing"
        return "submitted"
    return "done" if row.served else None


async def tickets(app: web.Application, branch: str, now: float) -> list[dict[str, str]]:
    rows = [r for r in await app[SUPERVISION].rows(day_of(now), now) if r.branch_id == branch]
    redis, intake = app[REDIS], redis_keys.IntakeKeys()
    over = [r for r in rows if r.over]
    async with redis.pipeline(transaction=False) as pipe:
        for r in over:
            pipe.smembers(intake.session(r.id))
        members = await pipe.execute() if over else []
    apps = {r.id: sorted(str(m) for m in ids) for r, ids in zip(over, members, strict=True)}
    wanted = [a for ids in apps.values() for a in ids]
    async with redis.pipeline(transaction=False) as pipe:
        for application in wanted:
            pipe.hget(intake.application(application), "state")
        states = await pipe.execute() if wanted else []
    state_of = {a: str(s or "queued") for a, s in zip(wanted, states, strict=True)}
    out = []
    for r in rows:
        shown = board_state(r, [state_of[a] for a in apps.get(r.id, [])])
        if shown is not None:
            out.append({"ticket": r.ticket, "state": shown})
    return out[-MAX_TICKETS:]


async def board_json(request: web.Request) -> web.Response:
    branch = request.match_info["branch_id"]
    if not BRANCH.fullmatch(branch):
        raise NotFound("not_found", "Not Found")
    app = request.app
    now = time.time()
    cache = app[BOARD_CACHE]
    hit = cache.get(branch)
    if hit is None or now - hit[0] >= CACHE_S:
        if not await app[REDIS].exists(redis_keys.branch_terminals(branch)):
            raise NotFound("no_such_branch", "no such branch")
        body = {
            "branch_id": branch,
            "generated_at": now,
            "tickets": await tickets(app, branch, now),
        }
        if len(cache) > 256:
            cache.clear()
        cache[branch] = (now, body)
        hit = cache[branch]
    return web.json_response(hit[1], headers={"Cache-Control": "no-store"})


async def board_page(request: web.Request) -> web.FileResponse:
    if not BRANCH.fullmatch(request.match_info["branch_id"]):
        raise NotFound("not_found", "Not Found")
    return web.FileResponse(STATIC_DIR / "board.html")
