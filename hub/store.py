"""Redis access for sessions, the queue, terminals and logins.

Key layout (all under ``mdg:``):

====================================  ===========================================================
``mdg:session:{id}``                  hash: state, terminal_id, purpose, specialist, end_reason,
                                      history (JSON [[state, unix time], ...]), ``{state}_at``
``mdg:queue``                         list of waiting session ids, oldest first
``mdg:terminal:{id}``                 hash: branch_id, name, token_digest
``mdg:terminal_token:{sha256}``       the terminal id a device token belongs to
``mdg:terminal_session:{id}``         the terminal's current session id
``mdg:staff_session:{username}``      the specialist's current session id
``mdg:account:{username}``            hash: see :mod:`hub.accounts`
``mdg:login:{token}``                 username behind a login cookie (expires)
====================================  ===========================================================

State changes are read-modify-write under WATCH, so two hub processes acting on one session
cannot both win; the pure :mod:`hub.lifecycle` decides what is legal.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from hub.lifecycle import EndReason, Event, IllegalTransition, Session, State, apply

QUEUE = "mdg:queue"


def session_key(session_id: str) -> str:
    return f"mdg:session:{session_id}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SessionRecord:
    """A session with what the lifecycle does not care about: where and what for."""

    session: Session
    terminal_id: str
    purpose: str


class NoSuchSession(Exception):
    code = "no_such_session"


def _decode(session_id: str, raw: dict[str, str]) -> SessionRecord:
    history = tuple((State(s), float(at)) for s, at in json.loads(raw["history"]))
    session = Session(
        id=session_id,
        state=State(raw["state"]),
        history=history,
        specialist=raw.get("specialist") or None,
        end_reason=EndReason(raw["end_reason"]) if raw.get("end_reason") else None,
    )
    return SessionRecord(session, raw["terminal_id"], raw["purpose"])


def _encode(record: SessionRecord) -> dict[str, str]:
    s = record.session
    fields = {
        "state": s.state.value,
        "terminal_id": record.terminal_id,
        "purpose": record.purpose,
        "specialist": s.specialist or "",
        "end_reason": s.end_reason.value if s.end_reason else "",
        "history": json.dumps([[st.value, at] for st, at in s.history]),
    }
    for state, at in s.history:
        fields[f"{state.value}_at"] = repr(at)
    return fields


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
        key = f"mdg:terminal:{terminal_id}"
        previous = await self.redis.hget(key, "token_digest")
        digest = token_digest(token)
        async with self.redis.pipeline(transaction=True) as pipe:
            if previous and previous != digest:
                pipe.delete(f"mdg:terminal_token:{previous}")
            pipe.hset(key, mapping={"branch_id": branch_id, "name": name, "token_digest": digest})
            pipe.set(f"mdg:terminal_token:{digest}", terminal_id)
            await pipe.execute()

    async def terminal_for_token(self, token: str) -> str | None:
        found = await self.redis.get(f"mdg:terminal_token:{token_digest(token)}")
        return str(found) if found is not None else None

    # -- sessions ----------------------------------------------------------------------------

    async def get(self, session_id: str) -> SessionRecord:
        raw = await self.redis.hgetall(session_key(session_id))
        if not raw:
            raise NoSuchSession(session_id)
        return _decode(session_id, raw)

    async def current_session(self, terminal_id: str) -> SessionRecord | None:
        session_id = await self.redis.get(f"mdg:terminal_session:{terminal_id}")
        if session_id is None:
            return None
        try:
            record = await self.get(session_id)
        except NoSuchSession:
            return None
        return None if record.session.state is State.ENDED else record

    async def specialist_session(self, username: str) -> str | None:
        found = await self.redis.get(f"mdg:staff_session:{username}")
        return str(found) if found is not None else None

    async def create(self, terminal_id: str, purpose: str, now: float) -> SessionRecord:
        """A new waiting session for the terminal, queued last."""
        session_id = f"s-{secrets.token_hex(8)}"
        record = SessionRecord(Session.new(session_id, now), terminal_id, purpose)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(session_key(session_id), mapping=_encode(record))
            pipe.set(f"mdg:terminal_session:{terminal_id}", session_id)
            pipe.rpush(QUEUE, session_id)
            await pipe.execute()
        return record

    async def position(self, session_id: str) -> int:
        """1-based place in the queue, or 0 when not queued."""
        index = await self.redis.lpos(QUEUE, session_id)
        return 0 if index is None else int(index) + 1

    async def transition(
        self,
        session_id: str,
        event: Event,
        now: float,
        *,
        specialist: str | None = None,
        reason: EndReason | None = None,
    ) -> SessionRecord:
        """Apply ``event`` atomically. Raises NoSuchSession or IllegalTransition."""
        key = session_key(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    raw = await pipe.hgetall(key)
                    if not raw:
                        raise NoSuchSession(session_id)
                    before = _decode(session_id, raw)
                    after = SessionRecord(
                        apply(before.session, event, now, specialist=specialist, reason=reason),
                        before.terminal_id,
                        before.purpose,
                    )
                    pipe.multi()
                    pipe.hset(key, mapping=_encode(after))
                    if event is Event.ACCEPT and specialist:
                        pipe.set(f"mdg:staff_session:{specialist}", session_id)
                    if after.session.state is State.ENDED:
                        pipe.lrem(QUEUE, 0, session_id)
                        if after.session.specialist:
                            pipe.delete(f"mdg:staff_session:{after.session.specialist}")
                    await pipe.execute()
                    return after
                except WatchError:
                    continue

    async def take_next(self, specialist: str, now: float) -> SessionRecord | None:
        """Pop the oldest waiting session and give it to ``specialist``; None when none waits.

        LPOP hands each id to exactly one caller across all hub processes; a session that ended
        between being queued and popped is skipped.
        """
        while True:
            session_id = await self.redis.lpop(QUEUE)
            if session_id is None:
                return None
            try:
                return await self.transition(session_id, Event.ACCEPT, now, specialist=specialist)
            except (NoSuchSession, IllegalTransition):
                continue
