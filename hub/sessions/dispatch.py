"""Routing and session state in Redis, applied atomically by Lua scripts.

Several hub processes share one Redis. Every operation that reads a queue or a specialist and
changes it is one Lua script, so no two hubs can offer one session twice or give one specialist
two sessions. The rules are those of :mod:`hub.sessions.router` (whose
:class:`~hub.sessions.router.Model` is the
specification, checked against these scripts by a differential test), and every state change goes
through the transition table of :mod:`hub.sessions.lifecycle`, rendered into the scripts.

The scripts are the files of ``hub/lua/dispatch`` (a shared prelude and one file per step),
loaded by :mod:`hub.lua`; the keys they touch are those of :mod:`hub.redis_keys` ("sessions and
routing"), whose names are rendered into the prelude. What they hold:

====================  ========================================================================
specialist hash       state, since, session_id, version, skills, languages, hearing_support
                      (JSON lists, "1"/"0")
deadlines members     ``offer:{sid}:{user}``, ``invite:{sid}:{user}``, ``wrapup:{sid}`` by
                      due time
day index             session ids created that day (Asia/Tokyo) by creation time; the
                      supervisor's figures read it instead of scanning the keyspace. Kept
                      :data:`DAY_INDEX_TTL_S`.
====================  ========================================================================

Session hash fields used here: state, history, ``{state}_at``, queue, rank, skill, priority,
needs_language, needs_hearing ("1"/"0"), declined (JSON {user: until}), specialist (offered to or
leading), others (comma-separated), invited, end_reason, transferred_from, terminal_id, ticket.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import redis.asyncio as aioredis
from aiohttp import web

from hub import lua, redis_keys
from hub.sessions.lifecycle import EndReason, lua_table
from hub.sessions.router import Rules, Specialist

JST: Final = timezone(timedelta(hours=9), "JST")
DAY_INDEX_TTL_S: Final = 8 * 86400
"""How long a day's session index is kept: a week of daily reports, and a day's grace."""


def day_of(now: float) -> str:
    """The day (Asia/Tokyo) a time falls on, as ``yyyymmdd``."""
    return datetime.fromtimestamp(now, JST).strftime("%Y%m%d")


def rendered_tables() -> dict[str, str]:
    """What the routing scripts' prelude gets rendered in: ``K``, the key names
    (:data:`hub.redis_keys.ROUTING_LUA`), and ``T``, the transition table of
    :mod:`hub.sessions.lifecycle`."""
    return {"keys": lua.table(redis_keys.ROUTING_LUA), "transitions": lua_table()}


@functools.cache
def scripts() -> dict[str, lua.Script]:
    """The routing scripts (``hub/lua/dispatch``), rendered; read once per process."""
    return lua.load("dispatch", rendered_tables())


@dataclass(frozen=True)
class Outcome:
    """What a script did: a status word, details, and the offers it made (session, user)."""

    status: str
    details: tuple[str, ...]
    offers: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return self.status != "refused"


def _decode(reply: list[Any], detail_count: int) -> Outcome:
    words = [w.decode() if isinstance(w, bytes) else str(w) for w in reply]
    status, details, rest = words[0], tuple(words[1 : 1 + detail_count]), words[1 + detail_count :]
    if status == "refused":
        return Outcome(status, tuple(words[1:2]), ())
    offers = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2))
    return Outcome(status, details, offers)


class Dispatch:
    """The Redis scripts, with Python signatures. Each method is one atomic step."""

    def __init__(self, redis: aioredis.Redis, rules: Rules) -> None:
        self.redis = redis
        self.rules = rules
        self.scripts = scripts()
        """The routing scripts by name (the benchmark labels its slow log by their SHA-1)."""

    def _common(self) -> list[Any]:
        return [self.rules.offer_timeout_s, self.rules.scan_depth]

    async def _run(self, name: str, *args: Any) -> list[Any]:
        reply = await self.scripts[name](self.redis, [str(a) for a in args])
        return list(reply)

    async def register(self, specialist: Specialist, now: float) -> None:
        """Store who the specialist is (from their account); a new one starts ``away``."""
        import json

        key = redis_keys.specialist(specialist.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "skills": json.dumps(sorted(specialist.skills)),
                    "languages": json.dumps(sorted(specialist.languages)),
                    "hearing_support": "1" if specialist.hearing_support else "0",
                },
            )
            pipe.hsetnx(key, "state", "away")
            pipe.hsetnx(key, "since", f"{now:.6f}")
            pipe.hsetnx(key, "session_id", "")
            for skill in specialist.skills:
                pipe.sadd(redis_keys.skill_members(skill), specialist.id)
            await pipe.execute()

    async def create(
        self,
        session_id: str,
        *,
        terminal_id: str,
        branch_id: str,
        purpose: str,
        skill: str,
        priority: str,
        now: float,
        needs_language: str | None = None,
        needs_hearing: bool = False,
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Queue a new session; returns its ticket number and any offer made at once. When the
        terminal already has a live session, nothing is created and the answer is
        ``("existing", ((that session id, ""),))``."""
        day = time.strftime("%Y%m%d", time.localtime(now))
        prefix = self.rules.ticket_prefix.get(skill, "Z")
        reply = await self._run(
            "create",
            session_id,
            terminal_id,
            branch_id,
            purpose,
            skill,
            priority,
            repr(self.rules.rank(now, priority)),
            needs_language or "",
            "1" if needs_hearing else "0",
            repr(now),
            redis_keys.ticket_counter(branch_id, day),
            prefix,
            *self._common(),
        )
        if reply and str(reply[0]) == "existing":
            return "existing", ((str(reply[1]), ""),)
        index = redis_keys.day_index(day_of(now))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(index, {session_id: now})
            pipe.expire(index, DAY_INDEX_TTL_S)
            await pipe.execute()
        outcome = _decode(reply, 0)
        return outcome.status, outcome.offers

    async def set_state(self, user: str, state: str, now: float) -> Outcome:
        return _decode(await self._run("set_state", user, state, repr(now), *self._common()), 0)

    async def offer_best_for(self, user: str, now: float) -> Outcome:
        return _decode(await self._run("offer_best_for", user, repr(now), *self._common()), 0)

    async def offer_ticket(self, session_id: str, now: float) -> Outcome:
        return _decode(await self._run("offer_ticket", session_id, repr(now), *self._common()), 0)

    async def accept(self, session_id: str, user: str, now: float) -> Outcome:
        return _decode(await self._run("accept", session_id, user, repr(now)), 0)

    async def decline(
        self, session_id: str, user: str, now: float, *, timed_out: bool = False
    ) -> Outcome:
        event, after = ("offer_timeout", "away") if timed_out else ("decline", "available")
        reply = await self._run(
            "decline",
            session_id,
            user,
            repr(now),
            event,
            self.rules.decline_cooldown_s,
            after,
            *self._common(),
        )
        return _decode(reply, 0)

    async def hold(self, session_id: str, user: str, on: bool, now: float) -> Outcome:
        return _decode(await self._run("hold", session_id, user, "1" if on else "0", repr(now)), 1)

    async def transfer(self, session_id: str, user: str, to_queue: str, now: float) -> Outcome:
        reply = await self._run(
            "transfer",
            session_id,
            user,
            to_queue,
            repr(self.rules.head_rank(now)),
            repr(now),
            *self._common(),
            self.rules.decline_cooldown_s,
        )
        return _decode(reply, 1)

    async def invite(self, session_id: str, user: str, target: str, now: float) -> Outcome:
        reply = await self._run(
            "invite", session_id, user, target, repr(now), self.rules.offer_timeout_s
        )
        return _decode(reply, 0)

    async def leave(self, session_id: str, user: str, now: float) -> Outcome:
        return _decode(await self._run("leave", session_id, user, repr(now), *self._common()), 2)

    async def hang_up(self, session_id: str, reason: EndReason, now: float) -> Outcome:
        reply = await self._run(
            "hang_up", session_id, repr(now), reason.value, self.rules.wrap_up_s, *self._common()
        )
        return _decode(reply, 2)

    async def finish(self, session_id: str, now: float) -> Outcome:
        return _decode(await self._run("finish", session_id, repr(now), *self._common()), 1)

    async def end_waiting(self, session_id: str, reason: EndReason, now: float) -> Outcome:
        reply = await self._run("end_waiting", session_id, repr(now), reason.value, *self._common())
        return _decode(reply, 1)

    async def lose_specialist(self, user: str, now: float) -> Outcome:
        reply = await self._run(
            "lose_specialist", user, repr(now), repr(self.rules.head_rank(now)), *self._common()
        )
        return _decode(reply, 2)

    async def claim_due(self, now: float, limit: int = 100) -> list[str]:
        return [str(m) for m in await self._run("claim_due", repr(now), limit)]

    async def claim_absent(self, cutoff: float, limit: int = 100) -> list[str]:
        return [str(m) for m in await self._run("claim_absent", repr(cutoff), limit)]

    async def move_waiting(self, session_id: str, to_queue: str, now: float) -> Outcome:
        """Move a waiting session to another queue, keeping its rank and ticket. Details: the
        queue it left; refused with its state (or ``gone``, ``same_queue``)."""
        reply = await self._run("move_waiting", session_id, to_queue, repr(now), *self._common())
        return _decode(reply, 1)

    async def set_skills(self, user: str, skills: frozenset[str], now: float) -> Outcome:
        """Set a specialist's skills in their account and in routing at once; refused
        (``not_specialist``) for an account that is not a specialist's."""
        import json

        reply = await self._run(
            "set_skills", user, json.dumps(sorted(skills)), repr(now), *self._common()
        )
        return _decode(reply, 0)


DISPATCH: Final = web.AppKey("dispatch", Dispatch)
