"""The supervisor's side of the hub: the live picture pushed to their consoles, their actions,
and the HTTP snapshot (registered by :mod:`hub.app`).

* Push: each hub process, while a supervisor's console is connected to it, computes the
  picture (:mod:`hub.supervision.figures`) once a second and sends each such console a
  ``supervisor.snapshot`` when it says something the last one sent to that console did not.
  Nothing is computed while no supervisor is connected here.
* Actions (from ``supervisor`` and ``admin`` accounts only, checked by the socket handler): set a
  specialist available or away, change a specialist's skills (their account and routing at once),
  move a waiting ticket to another skill's queue. Each is logged with who did what to whom, never
  a resident's personal data.
* ``GET /api/supervisor/snapshot`` (supervisor, admin): the same picture, for a console that
  has just opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any, Final

from aiohttp import web
from redis.exceptions import RedisError

import signaling as sig
from hub import redis_keys
from hub.accounts.store import get_account
from hub.catalog import load_skills
from hub.config import ConfigError, HubConfig
from hub.errors import Refused
from hub.realtime.relay import RELAY
from hub.sessions.dispatch import DISPATCH
from hub.sessions.service import SESSIONS
from hub.sessions.store import STORE
from hub.supervision.figures import (
    MAX_WAITING_LISTED,
    SUPERVISION,
    Supervision,
    SupervisionError,
    Thresholds,
    load_thresholds,
    snapshot_key,
)
from hub.web import LOCAL_PEERS, REDIS, RULES, require_account

log = logging.getLogger(__name__)

PUSH_EVERY_S: Final = 1.0
SUPERVISOR_ROLES: Final = frozenset({"supervisor", "admin"})
"""Who may act on the routing (the socket handler checks it)."""
SUPERVISOR_MESSAGES: Final = frozenset(
    {"supervisor.set_state", "supervisor.set_skills", "supervisor.move_ticket"}
)
WATCHERS: Final = frozenset({"supervisor"})
"""Whose consoles get the snapshots (the console shows the dashboard to supervisors)."""

THRESHOLDS: Final = web.AppKey("supervision_thresholds", Thresholds)


# -- the snapshot --------------------------------------------------------------------------------


def snapshot_message(snapshot: dict[str, Any]) -> str:
    """The ``supervisor.snapshot`` frame; long lists are cut so that it stays one message a
    console's parser takes (``sig.SNAPSHOT_LIMITS``, checked by parsing it back)."""
    for keep in (MAX_WAITING_LISTED, 60, 20, 0):
        snapshot = {**snapshot, "waiting": snapshot["waiting"][:keep]}
        if keep < 20:
            snapshot["branches"] = [{**b, "sessions": []} for b in snapshot["branches"]]
        with contextlib.suppress(sig.ProtocolError):
            return sig.encode(sig.SupervisorSnapshot(snapshot=snapshot), check=True)
    log.warning("supervisor snapshot too large even trimmed; sent without its specialists")
    snapshot = {**snapshot, "specialists": []}
    return sig.encode(sig.SupervisorSnapshot(snapshot=snapshot), check=True)


async def _local_supervisors(app: web.Application) -> list[str]:
    """Usernames of the supervisors whose consoles are connected to this process."""
    staff = sorted(p.partition(":")[2] for p in app[LOCAL_PEERS] if p.startswith("staff:"))
    if not staff:
        return []
    redis = app[REDIS]
    async with redis.pipeline(transaction=False) as pipe:
        for user in staff:
            pipe.hget(redis_keys.account(user), "role")
        roles = await pipe.execute()
    return [user for user, role in zip(staff, roles, strict=True) if role in WATCHERS]


async def push_snapshots(app: web.Application, last: dict[str, str]) -> None:
    """One pass: compute the picture if a supervisor is connected here, send it to each whose
    last snapshot said something else."""
    watchers = await _local_supervisors(app)
    for user in list(last):
        if user not in watchers:
            del last[user]
    if not watchers:
        return
    snapshot = await app[SUPERVISION].snapshot(time.time())
    key = snapshot_key(snapshot)
    frame: str | None = None
    relay = app[RELAY]
    for user in watchers:
        if last.get(user) == key:
            continue
        frame = frame or snapshot_message(snapshot)
        last[user] = key
        await relay.publish(redis_keys.peer_channel("staff", user), frame)


async def _push_loop(app: web.Application, stop: asyncio.Event) -> None:
    """Once a second on the clock (not a second after the last pass ended), so a change is
    pushed within a second of happening."""
    last: dict[str, str] = {}
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while not stop.is_set():
        try:
            await push_snapshots(app, last)
        except (RedisError, OSError) as exc:
            log.warning("supervisor push: Redis unavailable (%s); retrying", exc)
        except Exception:
            log.exception("supervisor push failed; carrying on")
        next_at += PUSH_EVERY_S
        if next_at < loop.time():
            next_at = loop.time() + PUSH_EVERY_S
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), next_at - loop.time())


def thresholds(config: HubConfig) -> Thresholds:
    """The alert thresholds, read when the app is made, so a malformed file stops the hub
    before it starts (ConfigError naming the setting)."""
    try:
        return load_thresholds(config.supervision_file)
    except SupervisionError as exc:
        raise ConfigError(f"Config 'MADOGUCHI_SUPERVISION_FILE': {exc}") from None


async def lifetime(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the process's reader (with its cache) and the push task."""
    app[SUPERVISION] = Supervision(app[REDIS], app[RULES], app[THRESHOLDS])
    stop = asyncio.Event()
    task = asyncio.create_task(_push_loop(app, stop), name="supervisor push")
    yield
    stop.set()
    try:
        await asyncio.wait_for(task, 5.0)
    except TimeoutError:
        task.cancel()


# -- actions -------------------------------------------------------------------------------------


async def _specialist(app: web.Application, target: str) -> None:
    account = await get_account(app[REDIS], target)
    if account is None or account.role != "specialist":
        raise Refused("no_such_specialist", f"no specialist {target!r}")


async def act(app: web.Application, user: str, message: sig.Message, now: float) -> None:
    """Carry out a supervisor's action; Refused with a code when it cannot be done."""
    sessions = app[SESSIONS]
    match message:
        case sig.SupervisorSetState(user=target, state=state):
            await _specialist(app, target)
            current, _, _ = await app[STORE].specialist_state(target)
            if current == "offline":
                raise Refused("offline", f"{target} is not connected")
            try:
                await sessions.set_state(target, state, now)
            except Refused:
                raise Refused("busy", f"{target} is ringing, busy or wrapping up") from None
            log.info("supervisor %s: specialist %s set %s", user, target, state)
        case sig.SupervisorSetSkills(user=target, skills=skills):
            known = load_skills()
            unknown = [s for s in skills if s not in known or s not in app[RULES].ticket_prefix]
            if unknown:
                raise Refused("unknown_skill", f"no skill {unknown[0]!r}")
            if not skills:
                # Routing knows a specialist by their skills: with none they would drop out of
                # every queue and out of sight; set them away instead.
                raise Refused("no_skills", "a specialist keeps at least one skill")
            outcome = await app[DISPATCH].set_skills(target, frozenset(skills), now)
            if not outcome.ok:
                raise Refused("no_such_specialist", f"no specialist {target!r}")
            log.info(
                "supervisor %s: specialist %s skills -> %s", user, target, ",".join(sorted(skills))
            )
            await sessions.announce(outcome.offers)
        case sig.SupervisorMoveTicket(session_id=sid, to_skill=skill):
            if skill not in app[RULES].ticket_prefix:
                raise Refused("bad_target", f"no skill {skill!r}")
            view = await app[STORE].get(sid)
            outcome = await app[DISPATCH].move_waiting(sid, skill, now)
            if not outcome.ok:
                why = outcome.details[0] if outcome.details else ""
                if why == "same_queue":
                    raise Refused("bad_target", f"ticket {view.ticket} waits for {skill} already")
                raise Refused(
                    "not_waiting", f"ticket {view.ticket} is {why or 'gone'}, not waiting"
                )
            log.info(
                "session %s: ticket %s moved by supervisor %s from %s to %s",
                sid,
                view.ticket,
                user,
                outcome.details[0],
                skill,
            )
            after = await app[STORE].get(sid)
            if after.state.value == "waiting":
                numbers = await sessions.waiting_message(after)
                await sessions.to_terminal(
                    after.terminal_id,
                    sig.QueuePosition(
                        session_id=sid,
                        position=numbers.position,
                        estimated_wait_s=numbers.estimated_wait_s,
                    ),
                )
            await sessions.announce(outcome.offers)
        case _:
            raise Refused("not_allowed", f"{message.type} is not a supervisor's action")


# -- HTTP ----------------------------------------------------------------------------------------


async def snapshot_handler(request: web.Request) -> web.Response:
    await require_account(request, *SUPERVISOR_ROLES, refusal="for supervisors")
    snapshot = await request.app[SUPERVISION].snapshot(time.time())
    return web.json_response(snapshot, headers={"Cache-Control": "no-store"})
