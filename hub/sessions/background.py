"""Work each hub process does on its own clock, safe to run in every process at once:

* presence: marks the peers connected here as seen, every few seconds;
* the sweeper: claims due deadlines (unanswered offers and invitations, wrap-ups left open) and
  peers gone longer than the grace period, each claimed by exactly one hub, and acts on them
  through :mod:`hub.sessions.service`;
* the safety net: offers each available specialist their best session now and then, for matches
  no event triggered (a decline's cooldown running out);
* positions: pushes each waiting terminal connected here its place and estimated wait when they
  change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from redis.exceptions import RedisError

import signaling as sig
from hub import redis_keys
from hub.sessions.dispatch import DISPATCH
from hub.sessions.lifecycle import State
from hub.sessions.service import SESSIONS
from hub.sessions.store import STORE, NoSuchSession
from hub.web import CONFIG, LOCAL_PEERS, REDIS, RULES

log = logging.getLogger(__name__)

PRESENCE_EVERY_S = 5.0
SWEEP_EVERY_S = 0.25
SAFETY_NET_EVERY_S = 5.0
POSITIONS_EVERY_S = 1.0


async def refresh_presence(app: web.Application) -> None:
    local = app[LOCAL_PEERS]
    peers = list(local)
    if peers:
        now = time.time()
        await app[REDIS].zadd(redis_keys.presence(), dict.fromkeys(peers, now))


async def sweep(app: web.Application) -> None:
    sessions, dispatch = app[SESSIONS], app[DISPATCH]
    now = time.time()
    for item in await dispatch.claim_due(now):
        kind, _, rest = item.partition(":")
        if kind in ("offer", "invite"):
            session_id, _, user = rest.rpartition(":")
            await sessions.decline(user, session_id, now, timed_out=True)
        elif kind == "wrapup":
            await sessions.finish(None, rest, now)
    cutoff = now - app[CONFIG].presence_grace_s
    for member in await dispatch.claim_absent(cutoff):
        role, _, peer_id = member.partition(":")
        if member in app[LOCAL_PEERS]:
            await refresh_presence(app)  # still here after all: a slow refresh, not a loss
        elif role == "terminal":
            await sessions.lose_terminal(peer_id, now)
        elif role == "staff":
            await sessions.lose_specialist(peer_id, now)


async def safety_net(app: web.Application) -> None:
    redis, sessions = app[REDIS], app[SESSIONS]
    skills = sorted(app[RULES].ticket_prefix)  # the queues there are; no keyspace scan
    async with redis.pipeline(transaction=False) as pipe:
        for skill in skills:
            pipe.zrange(redis_keys.available(skill), 0, -1)
        available = {user for members in await pipe.execute() for user in members}
    now = time.time()
    for user in sorted(available):
        outcome = await app[DISPATCH].offer_best_for(user, now)
        await sessions.announce(outcome.offers)


async def push_positions(app: web.Application, last: dict[str, tuple[int, int]]) -> None:
    """Send each waiting terminal connected here its place and estimate, when they changed.
    Two round trips for all local terminals, then work only for those that wait."""
    redis, store, sessions = app[REDIS], app[STORE], app[SESSIONS]
    terminals = [p.partition(":")[2] for p in app[LOCAL_PEERS] if p.startswith("terminal:")]
    if not terminals:
        last.clear()
        return
    session_ids = await redis.mget([redis_keys.terminal_session(t) for t in terminals])
    candidates = [(t, sid) for t, sid in zip(terminals, session_ids, strict=True) if sid]
    async with redis.pipeline(transaction=False) as pipe:
        for _, sid in candidates:
            pipe.hget(redis_keys.session(sid), "state")
        states = await pipe.execute() if candidates else []
    waiting = {
        t: sid
        for (t, sid), state in zip(candidates, states, strict=True)
        if state == State.WAITING.value
    }
    for terminal_id in list(last):
        if terminal_id not in waiting:
            del last[terminal_id]
    rates: dict[str, tuple[float, int]] = {}  # per queue, once per pass
    for terminal_id, session_id in waiting.items():
        try:
            view = await store.get(session_id)
        except NoSuchSession:
            continue
        numbers = await sessions.waiting_message(view, rates=rates)
        key = (numbers.position, numbers.estimated_wait_s)
        if last.get(terminal_id) != key:
            last[terminal_id] = key
            await sessions.to_terminal(
                terminal_id,
                sig.QueuePosition(
                    session_id=session_id,
                    position=numbers.position,
                    estimated_wait_s=numbers.estimated_wait_s,
                ),
            )


async def _every(
    period: float, name: str, work: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> None:
    # Stopped by an event rather than by cancellation alone: redis-py can swallow a
    # CancelledError that lands inside a command, and the loop would then never end.
    while not stop.is_set():
        try:
            await work()
        except (RedisError, OSError) as exc:
            log.warning("%s: Redis unavailable (%s); retrying", name, exc)
        except Exception:
            log.exception("%s failed; carrying on", name)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), period)


async def background(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: run the periodic work for the app's lifetime."""
    last_positions: dict[str, tuple[int, int]] = {}
    stop = asyncio.Event()
    jobs: list[tuple[float, str, Callable[[], Awaitable[None]]]] = [
        (PRESENCE_EVERY_S, "presence", lambda: refresh_presence(app)),
        (SWEEP_EVERY_S, "sweeper", lambda: sweep(app)),
        (SAFETY_NET_EVERY_S, "safety net", lambda: safety_net(app)),
        (POSITIONS_EVERY_S, "positions", lambda: push_positions(app, last_positions)),
    ]
    tasks = [asyncio.create_task(_every(p, n, w, stop), name=n) for p, n, w in jobs]
    yield
    stop.set()
    _, pending = await asyncio.wait(tasks, timeout=5.0)
    for task in pending:
        task.cancel()
