"""Redis access for terminals and for reading sessions.

Key layout (named by :mod:`hub.redis_keys`, which lists them all; the routing keys' contents are
in :mod:`hub.sessions.dispatch`):

====================================  ===========================================================
``mdg:session:{id}``                  hash: the session (fields in :mod:`hub.sessions.dispatch`)
``mdg:terminal:{id}``                 hash: branch_id, name, token_digest
``mdg:terminal_token:{sha256}``       the terminal id a device token belongs to
``mdg:terminal_session:{id}``         the terminal's current session id
``mdg:account:{username}``            hash: see :mod:`hub.accounts.store`
``mdg:login:{token}``                 username behind a login cookie (expires)
``mdg:presence``                      zset of ``terminal:{id}`` / ``staff:{user}`` by last seen
====================================  ===========================================================

Only the session store writes a session's hash: its routing and lifecycle fields change only
through the scripts of :mod:`hub.sessions.dispatch`, everything else a session records (its
procedures, the card read asked for, the resident's rating, how long an ended one is kept)
through the methods of :class:`Store` below. Other modules read sessions here too.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis
from aiohttp import web

from hub import redis_keys
from hub.errors import NotFound
from hub.sessions.lifecycle import ACTIVE, EndReason, State


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class NoSuchSession(NotFound):
    """No such session — or one the caller takes no part in: the same answer, so that a session
    id says nothing to whoever does not belong to it (404 ``no_such_session``)."""

    def __init__(self, session_id: str) -> None:
        super().__init__("no_such_session", "no such session")
        self.session_id = session_id


@dataclass(frozen=True)
class SessionView:
    """A session as read from Redis."""

    id: str
    state: State
    history: tuple[tuple[State, float], ...]
    terminal_id: str
    branch_id: str
    purpose: str
    skill: str
    priority: str
    ticket: str
    queue: str
    specialist: str | None
    others: tuple[str, ...]
    invited: str | None
    needs_language: str | None
    needs_hearing: bool
    end_reason: EndReason | None
    transferred_from: str | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def takes_part(self, user: str) -> bool:
        return user == self.specialist or user in self.others

    @property
    def staff(self) -> tuple[str, ...]:
        return (*((self.specialist,) if self.specialist else ()), *self.others)


def decode_session(session_id: str, raw: dict[str, str]) -> SessionView:
    return SessionView(
        id=session_id,
        state=State(raw["state"]),
        history=tuple((State(s), float(at)) for s, at in json.loads(raw["history"])),
        terminal_id=raw.get("terminal_id", ""),
        branch_id=raw.get("branch_id", ""),
        purpose=raw.get("purpose", ""),
        skill=raw.get("skill", ""),
        priority=raw.get("priority", "normal"),
        ticket=raw.get("ticket", ""),
        queue=raw.get("queue", ""),
        specialist=raw.get("specialist") or None,
        others=tuple(o for o in raw.get("others", "").split(",") if o),
        invited=raw.get("invited") or None,
        needs_language=raw.get("needs_language") or None,
        needs_hearing=raw.get("needs_hearing") == "1",
        end_reason=EndReason(raw["end_reason"]) if raw.get("end_reason") else None,
        transferred_from=raw.get("transferred_from") or None,
    )


class Store:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    # -- terminals ---------------------------------------------------------------------------

    async def enroll_terminal(self, terminal_id: str, branch_id: str, name: str) -> str:
        """Register a terminal and return its new device token (shown once, stored hashed)."""
        token = f"{terminal_id}.{secrets.token_urlsafe(32)}"
        await self.set_terminal_token(terminal_id, branch_id, name, token)
        return token

    async def set_terminal_token(
        self, terminal_id: str, branch_id: str, name: str, token: str
    ) -> None:
        """Set the terminal's device token; the previous one stops working."""
        key = redis_keys.terminal(terminal_id)
        previous = await self.redis.hget(key, "token_digest")
        digest = token_digest(token)
        async with self.redis.pipeline(transaction=True) as pipe:
            if previous and previous != digest:
                pipe.delete(redis_keys.terminal_token(previous))
            pipe.hset(key, mapping={"branch_id": branch_id, "name": name, "token_digest": digest})
            pipe.sadd(redis_keys.branch_terminals(branch_id), terminal_id)
            pipe.set(redis_keys.terminal_token(digest), terminal_id)
            await pipe.execute()

    async def terminal_for_token(self, token: str) -> str | None:
        found = await self.redis.get(redis_keys.terminal_token(token_digest(token)))
        return str(found) if found is not None else None

    async def branch_terminals(
        self, branch_id: str, now: float, grace_s: float
    ) -> list[dict[str, object]]:
        """The branch's terminals: name, online, device health and current session."""
        ids = sorted(await self.redis.smembers(redis_keys.branch_terminals(branch_id)))
        out: list[dict[str, object]] = []
        for terminal_id in ids:
            info = await self.redis.hgetall(redis_keys.terminal(terminal_id))
            seen = await self.redis.zscore(redis_keys.presence(), f"terminal:{terminal_id}")
            view = await self.current_session(terminal_id)
            out.append(
                {
                    "terminal_id": terminal_id,
                    "name": info.get("name", terminal_id),
                    "online": seen is not None and now - float(seen) < grace_s,
                    "camera": info.get("camera", "idle"),
                    "microphone": info.get("microphone", "idle"),
                    "session": None
                    if view is None
                    else {
                        "session_id": view.id,
                        "state": view.state.value,
                        "ticket": view.ticket,
                        "purpose": view.purpose,
                        "priority": view.priority,
                        "specialist": view.specialist,
                    },
                }
            )
        return out

    async def terminal_branch(self, terminal_id: str) -> str:
        return str(await self.redis.hget(redis_keys.terminal(terminal_id), "branch_id") or "")

    # -- sessions ----------------------------------------------------------------------------

    async def get(self, session_id: str) -> SessionView:
        raw = await self.redis.hgetall(redis_keys.session(session_id))
        if not raw:
            raise NoSuchSession(session_id)
        return decode_session(session_id, raw)

    async def retain(self, session_id: str, seconds: int) -> None:
        """Keep an ended session's record ``seconds`` longer, then Redis drops it."""
        await self.redis.expire(redis_keys.session(session_id), seconds)

    async def rate(self, session_id: str, score: int) -> bool:
        """Record the resident's rating; False when the session has one already."""
        return bool(await self.redis.hsetnx(redis_keys.session(session_id), "rating", score))

    async def set_procedures(
        self, session_id: str, life_event: str, procedures: Iterable[str]
    ) -> None:
        await self.redis.hset(
            redis_keys.session(session_id),
            mapping={"life_event": life_event, "procedures": ",".join(procedures)},
        )

    async def procedures(self, session_id: str) -> list[str]:
        """The procedures chosen for the session, in order."""
        raw = await self.redis.hget(redis_keys.session(session_id), "procedures") or ""
        return [p for p in raw.split(",") if p]

    async def note_card_request(self, session_id: str, user: str, with_number: bool) -> None:
        """A card read asked for by ``user`` (with the My Number or not)."""
        await self.redis.hset(
            redis_keys.session(session_id),
            mapping={"card_requested_by": user, "card_with_number": int(with_number)},
        )

    async def card_request(self, session_id: str) -> tuple[str | None, bool]:
        """Who asked for the session's card read (None: nobody), and whether with the number."""
        requested_by, with_number = await self.redis.hmget(
            redis_keys.session(session_id), ["card_requested_by", "card_with_number"]
        )
        return requested_by or None, with_number == "1"

    def clear_card_request(self, pipe: Any, session_id: str) -> None:
        """Queue, on the caller's transaction, forgetting the card read asked for (it was
        answered: the card's items are stored in the same transaction)."""
        pipe.hdel(redis_keys.session(session_id), "card_requested_by")

    async def current_session(self, terminal_id: str) -> SessionView | None:
        """The terminal's session while the resident is still there, else None."""
        session_id = await self.redis.get(redis_keys.terminal_session(terminal_id))
        if session_id is None:
            return None
        try:
            view = await self.get(session_id)
        except NoSuchSession:
            return None
        return view if view.active else None

    async def position(self, view: SessionView) -> int:
        """1-based place in its queue (ties by id, as the router breaks them), 0 if not queued."""
        key = redis_keys.queue(view.queue)
        rank = await self.redis.zscore(key, view.id)
        if rank is None:
            return 0
        ahead = await self.redis.zcount(key, "-inf", f"({rank!r}")
        return int(ahead) + 1

    async def handle_time(self, skill: str, default: float) -> float:
        """Mean of the last handling times for the skill, or ``default`` before there are any."""
        values = [float(v) for v in await self.redis.lrange(redis_keys.handle_times(skill), 0, 49)]
        return sum(values) / len(values) if values else default

    async def staffed(self, skill: str) -> int:
        """Specialists with the skill who are at work (not away, not offline)."""
        members = sorted(await self.redis.smembers(redis_keys.skill_members(skill)))
        if not members:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in members:
                pipe.hget(redis_keys.specialist(user), "state")
            states = await pipe.execute()
        return sum(1 for s in states if s and s not in ("away", "offline"))

    async def specialist_state(self, user: str) -> tuple[str, str | None, int]:
        """(state, session id, version): the version grows with every change of state."""
        state, session_id, version = await self.redis.hmget(
            redis_keys.specialist(user), "state", "session_id", "version"
        )
        return (state or "offline", session_id or None, int(version or 0))


STORE: Final = web.AppKey("store", Store)
