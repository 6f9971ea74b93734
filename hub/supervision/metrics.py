"""``GET /metrics``: the hub's figures in the Prometheus text format, for the municipality's
monitoring, behind a bearer token.

Without ``MADOGUCHI_METRICS_TOKEN`` the route answers 404, as if it did not exist; a missing or
wrong token gets 401. The token is compared in constant time.

Shared figures (the same from every hub process): queue lengths and longest waits per queue,
specialists by state, active sessions per branch and state, residents served today, the
intake's applications per state, how many wait unclaimed and for how long, how many are claimed
but not finished. Figures of this process (label ``hub``): its signaling connections by role,
the messages it received by type and the errors it answered by code, since it started.
"""

from __future__ import annotations

import hmac
import time
from collections import Counter
from collections.abc import Iterable
from typing import Final

from aiohttp import web
from redis.exceptions import ResponseError

from hub import redis_keys
from hub.errors import NotFound, Unauthenticated
from hub.intake.queue import GROUP
from hub.intake.queue import State as IntakeState
from hub.supervision.figures import SUPERVISION
from hub.web import CONFIG, LOCAL_PEERS, REDIS

MESSAGES: Final[Counter[str]] = Counter()
"""Signaling messages received by this process, by type (counted by the socket handler)."""
ERRORS: Final[Counter[str]] = Counter()
"""``error`` replies this process sent, by code."""
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


def count_message(message_type: str) -> None:
    MESSAGES[message_type] += 1


def count_error(code: str) -> None:
    ERRORS[code] += 1


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Exposition:
    """Builds the text format: each metric's HELP and TYPE once, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(
        self,
        name: str,
        kind: str,
        help_: str,
        samples: Iterable[tuple[dict[str, str], float]],
    ) -> None:
        self.lines.append(f"# HELP {name} {help_}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            inner = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            text = repr(float(value)) if not float(value).is_integer() else str(int(value))
            self.lines.append(f"{name}{{{inner}}} {text}" if inner else f"{name} {text}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def authorized(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        given = ""
    return hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics_handler(request: web.Request) -> web.Response:
    app = request.app
    token = app[CONFIG].metrics_token
    if not token:
        raise NotFound("not_found", "Not Found")  # as if there were no such route
    if not authorized(request, token):
        raise Unauthenticated(
            message="a bearer token, please",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    now = time.time()
    live = await app[SUPERVISION].live(now)
    out = Exposition()
    hub_id = app[CONFIG].hub_id
    out.metric(
        "madoguchi_queue_waiting",
        "gauge",
        "Residents waiting in each queue (a skill, or @user after a transfer to a colleague).",
        (({"queue": q}, n) for q, n in live.queued.items()),
    )
    out.metric(
        "madoguchi_queue_longest_wait_seconds",
        "gauge",
        "How long the resident waiting longest in each skill's queue has waited.",
        (({"queue": s}, round(live.longest_wait_s(s), 3)) for s in live.skills),
    )
    out.metric(
        "madoguchi_specialists",
        "gauge",
        "Specialists known to routing, by state.",
        (({"state": s}, n) for s, n in live.specialists_by_state().items()),
    )
    out.metric(
        "madoguchi_sessions_active",
        "gauge",
        "Sessions with the resident still at the terminal, by branch and state.",
        (
            ({"branch": b, "state": s}, n)
            for b, counts in live.active_by_branch().items()
            for s, n in counts.items()
        ),
    )
    out.metric(
        "madoguchi_residents_served_today",
        "gauge",
        "Sessions started today (Asia/Tokyo) that ended completed.",
        [({}, sum(1 for r in live.today if r.served))],
    )
    roles: Counter[str] = Counter()
    for peer, sockets in app[LOCAL_PEERS].items():
        roles[peer.partition(":")[0]] += sockets
    out.metric(
        "madoguchi_signaling_connections",
        "gauge",
        "Signaling WebSockets open on this hub process, by role.",
        (({"hub": hub_id, "role": r}, roles.get(r, 0)) for r in ("terminal", "staff")),
    )
    out.metric(
        "madoguchi_signaling_messages_total",
        "counter",
        "Signaling messages this hub process received, by type.",
        (({"hub": hub_id, "type": t}, n) for t, n in sorted(MESSAGES.items())),
    )
    out.metric(
        "madoguchi_signaling_errors_total",
        "counter",
        "Error replies this hub process sent, by code.",
        (({"hub": hub_id, "code": c}, n) for c, n in sorted(ERRORS.items())),
    )
    await _intake(app, out, now)
    return web.Response(
        text=out.text(),
        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
    )


async def _intake(app: web.Application, out: Exposition, now: float) -> None:
    redis, intake = app[REDIS], redis_keys.IntakeKeys()
    states = list(IntakeState)
    async with redis.pipeline(transaction=False) as pipe:
        for state in states:
            pipe.zcard(intake.state(state.value))
        pipe.zrange(intake.state(IntakeState.QUEUED.value), 0, 0, withscores=True)
        pipe.zrange(intake.state(IntakeState.CLAIMED.value), 0, 0, withscores=True)
        *counts, oldest_queued, oldest_claimed = await pipe.execute()
    try:
        pending = await redis.xpending(intake.stream(), GROUP)
        unacked = int(pending.get("pending") or 0)
    except ResponseError:  # no stream or no group yet
        unacked = 0
    out.metric(
        "madoguchi_intake_applications",
        "gauge",
        "Applications in the central intake, by state.",
        (({"state": s.value}, int(n)) for s, n in zip(states, counts, strict=True)),
    )
    out.metric(
        "madoguchi_intake_pending",
        "gauge",
        "Intake entries delivered to the back office and not yet acknowledged.",
        [({}, unacked)],
    )

    def age(rows: list[tuple[str, float]]) -> float:
        return round(max(0.0, now - float(rows[0][1])), 3) if rows else 0.0

    out.metric(
        "madoguchi_intake_oldest_unclaimed_seconds",
        "gauge",
        "How long the oldest queued application has waited for the back office.",
        [({}, age(oldest_queued))],
    )
    out.metric(
        "madoguchi_intake_oldest_claimed_seconds",
        "gauge",
        "How long the application claimed longest ago has been in the back office's hands.",
        [({}, age(oldest_claimed))],
    )
