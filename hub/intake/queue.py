"""The central intake: finished applications in a Redis Stream, processed by the back office.

Theory of operation
-------------------

A specialist submits a bundle with an application id the client chose. :meth:`Intake.submit`
runs one script: when the id was seen it answers the stream entry it got then; otherwise it
appends the entry (``XADD``) and records the application's status, atomically. So a client that
lost the answer sends the same id again and gets the same entry: each application is in the
stream exactly once.

An answer means the entry is on disk. The intake refuses to run on a Redis that does not append
every write to its AOF and fsync it before replying (``appendonly yes``, ``appendfsync
always``); it checks with ``CONFIG GET`` before accepting and again every minute. On Redis 7.2 and
later it also sends ``WAITAOF 1 0`` after the append, on the same connection, and refuses the
submission when the local fsync is not confirmed.

The back office reads through the consumer group ``backoffice``. :meth:`Intake.claim_next` first
takes over an entry another consumer was given but did not finish within ``claim_idle_s`` (it
crashed, or went home): ``XAUTOCLAIM``; else the next new entry: ``XREADGROUP >``. An entry
delivered more than ``max_deliveries`` times is not handed out again: it moves to the dead-letter
stream for a supervisor to look at. :meth:`Intake.done` and :meth:`Intake.return_` acknowledge
the entry (``XACK``) with the outcome; a returned application keeps the reason, which the
session it came from can show.

Every status change goes through :data:`TRANSITIONS`, the one table of what may follow what::

    queued --claim--> claimed --done--> done
                      claimed --return--> returned
                      claimed --claim--> claimed          (taken over after claim_idle_s)
                      claimed --dead_letter--> dead        (delivered > max_deliveries times)
                      dead --done/return--> done/returned  (the work was finished after all)

The scripts are the files of ``hub/lua/intake``, loaded by :mod:`hub.lua`. Keys (``P`` is the
prefix, ``mdg:intake:`` by default; built by :class:`hub.redis_keys.IntakeKeys`, whose names the
scripts get rendered into their prelude):

=================================  ============================================================
``P stream``                       the stream: ``application_id``, ``payload`` (the record JSON)
``P dead``                         dead letters: ``application_id``, ``entry_id``,
                                   ``deliveries``, ``at``
``P app:{application_id}``         hash: the status (see :class:`ApplicationStatus`) and
                                   ``digest`` of what was submitted
``P state:{state}``                zset of application ids in that state, by when they entered it
``P session:{session_id}``         set of the application ids submitted in a session
=================================  ============================================================

The Redis client must decode responses (``decode_responses=True``), as the hub's does.
"""

from __future__ import annotations

import builtins
import functools
import json
import logging
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import ResponseError

from hub import lua, redis_keys
from hub.errors import HubError

log = logging.getLogger(__name__)


class State(StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"
    DONE = "done"
    RETURNED = "returned"
    DEAD = "dead"


TRANSITIONS: Final[dict[tuple[State, str], State]] = {
    (State.QUEUED, "claim"): State.CLAIMED,
    (State.CLAIMED, "claim"): State.CLAIMED,
    (State.CLAIMED, "done"): State.DONE,
    (State.CLAIMED, "return"): State.RETURNED,
    (State.CLAIMED, "dead_letter"): State.DEAD,
    (State.DEAD, "done"): State.DONE,
    (State.DEAD, "return"): State.RETURNED,
    # Repeating the last step (a retry after a lost answer) changes nothing.
    (State.DONE, "done"): State.DONE,
    (State.RETURNED, "return"): State.RETURNED,
}

GROUP: Final = "backoffice"
APPLICATION_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
ENTRY_ID: Final = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")
MAX_REASON: Final = 500
DURABILITY_RECHECK_S: Final = 60.0


class IntakeError(HubError):
    """The intake refused: ``code`` for machines (``not_durable``, ``no_such_application``,
    ``illegal_transition``, ``application_id_reused``, ``bad_application_id``,
    ``bad_reason``), the message for people; the HTTP status follows from the code
    (:data:`STATUS`)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, status=STATUS.get(code, 400))


STATUS: Final = {
    "not_durable": 503,
    "no_such_application": 404,
    "illegal_transition": 409,
    "application_id_reused": 409,
    "bad_reason": 422,
}
"""The HTTP status of an :class:`IntakeError` by its code; any other code is 400."""


@dataclass(frozen=True)
class ApplicationStatus:
    application_id: str
    entry_id: str
    state: State
    session_id: str
    submitted_by: str
    submitted_at: float
    updated_at: float
    consumer: str
    """The back-office consumer that holds or last held it."""
    deliveries: int
    reason: str
    """Why it was returned."""
    by: str
    """Who finished or returned it."""
    history: tuple[tuple[str, float], ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "application_id": self.application_id,
            "entry_id": self.entry_id,
            "state": self.state.value,
            "session_id": self.session_id,
            "submitted_by": self.submitted_by,
            "submitted_at": self.submitted_at,
            "updated_at": self.updated_at,
            "consumer": self.consumer,
            "deliveries": self.deliveries,
            "reason": self.reason,
            "by": self.by,
            "history": [[state, at] for state, at in self.history],
        }


@dataclass(frozen=True)
class Submitted:
    entry_id: str
    created: bool
    """False when the application id was seen before: the same entry, nothing added."""


@dataclass(frozen=True)
class Claimed:
    status: ApplicationStatus
    record: dict[str, Any]
    dead_lettered: tuple[str, ...]
    """Application ids moved to the dead letters on the way (delivered too often)."""


def _decode_status(raw: dict[str, str]) -> ApplicationStatus:
    try:
        history = tuple((str(s), float(at)) for s, at in json.loads(raw.get("history") or "[]"))
    except (ValueError, TypeError):
        history = ()
    return ApplicationStatus(
        application_id=raw["application_id"],
        entry_id=raw["entry_id"],
        state=State(raw["state"]),
        session_id=raw.get("session_id", ""),
        submitted_by=raw.get("submitted_by", ""),
        submitted_at=float(raw.get("submitted_at") or 0),
        updated_at=float(raw.get("updated_at") or 0),
        consumer=raw.get("consumer", ""),
        deliveries=int(raw.get("deliveries") or 0),
        reason=raw.get("reason", ""),
        by=raw.get("by", ""),
        history=history,
    )


def _decode_record(payload: str) -> dict[str, Any]:
    try:
        record = json.loads(payload)
    except ValueError:
        return {"unreadable": True}
    return record if isinstance(record, dict) else {"unreadable": True}


def rendered_tables() -> dict[str, str]:
    """What the intake scripts' prelude gets rendered in: ``K``, the key names after the prefix
    (:data:`hub.redis_keys.INTAKE_LUA`), and ``T``, :data:`TRANSITIONS`."""
    transitions = {f"{s.value}|{e}": t.value for (s, e), t in TRANSITIONS.items()}
    return {"keys": lua.table(redis_keys.INTAKE_LUA), "transitions": lua.table(transitions)}


@functools.cache
def scripts() -> dict[str, lua.Script]:
    """The intake's scripts (``hub/lua/intake``), rendered; read once per process. Each gets
    the prefix and "now" first."""
    return lua.load("intake", rendered_tables())


class Intake:
    """The intake on one Redis. ``claim_idle_s``: how long a claimed entry may go unfinished
    before another consumer may take it over; ``max_deliveries``: how many times an entry is
    handed out before it goes to the dead letters."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        prefix: str = redis_keys.INTAKE_PREFIX,
        claim_idle_s: float = 600.0,
        max_deliveries: int = 5,
        require_durable: bool = True,
        waitaof_timeout_ms: int = 2000,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keys = redis_keys.IntakeKeys(prefix)
        self.stream = self.keys.stream()
        self.dead_stream = self.keys.dead()
        self.claim_idle_s = claim_idle_s
        self.max_deliveries = max_deliveries
        self.require_durable = require_durable
        self.waitaof_timeout_ms = waitaof_timeout_ms
        self._scripts = scripts()
        self._durable_until = 0.0
        self._waitaof = False
        self._group_ready = False

    # -- durability ----------------------------------------------------------------------------

    async def check_durability(self) -> None:
        """Refuse (IntakeError ``not_durable``) unless Redis fsyncs every write before it
        answers; note whether it has WAITAOF (7.2+)."""
        try:
            config = await self.redis.config_get("append*")
            info = await self.redis.info("server")
        except ResponseError as exc:
            raise IntakeError(
                "not_durable",
                f"cannot read the intake Redis's configuration ({exc}); the intake needs a "
                "Redis with appendonly yes and appendfsync always",
            ) from None
        appendonly, appendfsync = config.get("appendonly"), config.get("appendfsync")
        if appendonly != "yes" or appendfsync != "always":
            raise IntakeError(
                "not_durable",
                "the intake needs Redis with appendonly yes and appendfsync always, so that an "
                "acknowledged application survives a crash; this one has appendonly "
                f"{appendonly}, appendfsync {appendfsync}",
            )
        version = tuple(int(p) for p in re.findall(r"\d+", str(info.get("redis_version", "")))[:2])
        self._waitaof = version >= (7, 2)
        self._durable_until = time.monotonic() + DURABILITY_RECHECK_S

    async def _ensure_durable(self) -> None:
        if self.require_durable and time.monotonic() >= self._durable_until:
            await self.check_durability()

    # -- submitting ----------------------------------------------------------------------------

    async def submit(
        self,
        bundle_json: str,
        application_id: str,
        *,
        session_id: str = "",
        submitted_by: str = "",
        digest: str = "",
        now: float | None = None,
    ) -> Submitted:
        """Append the application once; the same id again answers the same entry. ``digest``
        identifies what the client sent: the same id with another digest is refused
        (``application_id_reused``)."""
        if not APPLICATION_ID.fullmatch(application_id):
            raise IntakeError("bad_application_id", "an application id is 1-64 of A-Z a-z 0-9 _.:-")
        await self._ensure_durable()
        now = time.time() if now is None else now
        args = [
            self.prefix,
            repr(now),
            application_id,
            bundle_json,
            digest,
            session_id,
            submitted_by,
        ]
        if self._waitaof and self.require_durable:
            async with self.redis.pipeline(transaction=False) as pipe:
                await self._scripts["submit"](pipe, args)
                pipe.execute_command("WAITAOF", 1, 0, self.waitaof_timeout_ms)
                reply, fsynced = await pipe.execute()
            if not fsynced or int(fsynced[0]) < 1:
                raise IntakeError("not_durable", "Redis did not confirm the fsync in time")
        else:
            reply = await self._scripts["submit"](self.redis, args)
        entry_id, created, seen_digest = str(reply[0]), bool(int(reply[1])), str(reply[2])
        if not created and digest and seen_digest and seen_digest != digest:
            raise IntakeError(
                "application_id_reused",
                f"application {application_id} was submitted before with other contents",
            )
        if created:
            log.info("application %s: state - -> queued (entry %s)", application_id, entry_id)
        return Submitted(entry_id, created)

    # -- the back office -----------------------------------------------------------------------

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def claim_next(self, consumer: str, *, now: float | None = None) -> Claimed | None:
        """The next application for ``consumer``: one abandoned by another consumer, else the
        next new one; None when there is none."""
        if not consumer or len(consumer) > 64:
            raise IntakeError("bad_consumer", "a consumer name has 1-64 characters")
        if not self._group_ready:
            await self.ensure_group()
        now = time.time() if now is None else now
        args = [
            self.prefix,
            repr(now),
            GROUP,
            consumer,
            int(self.claim_idle_s * 1000),
            self.max_deliveries,
            100,
        ]
        try:
            reply = await self._scripts["claim"](self.redis, args)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self.ensure_group()  # the stream was deleted (a flushed database)
            reply = await self._scripts["claim"](self.redis, args)
        kind, entry_id, app, payload, deliveries, dead = reply
        dead_lettered = tuple(str(d) for d in dead or ())
        for app_id in dead_lettered:
            log.warning("application %s: state claimed -> dead (delivered too often)", app_id)
        if kind != "claimed":
            return None
        status = await self.status(str(app))
        if status is None:  # pragma: no cover - the stream and the statuses are written together
            raise IntakeError("no_such_application", f"entry {entry_id} has no status")
        log.info("application %s: state -> claimed by %s (delivery %s)", app, consumer, deliveries)
        return Claimed(status, _decode_record(str(payload)), dead_lettered)

    async def done(
        self, entry_id: str, *, by: str = "", now: float | None = None
    ) -> ApplicationStatus:
        """The back office has processed it."""
        return await self._run_finish(entry_id, "done", by, "", now)

    async def return_(
        self, entry_id: str, reason: str, *, by: str = "", now: float | None = None
    ) -> ApplicationStatus:
        """Sent back (for the resident to be contacted): the reason is kept with the status."""
        reason = " ".join(reason.split())
        if not reason or len(reason) > MAX_REASON:
            raise IntakeError("bad_reason", f"a reason has 1-{MAX_REASON} characters")
        return await self._run_finish(entry_id, "return", by, reason, now)

    async def _run_finish(
        self, entry_id: str, event: str, by: str, reason: str, now: float | None
    ) -> ApplicationStatus:
        if not ENTRY_ID.fullmatch(entry_id):
            raise IntakeError("no_such_application", f"no entry {entry_id!r}")
        if not self._group_ready:
            await self.ensure_group()
        now = time.time() if now is None else now
        reply = await self._scripts["finish"](
            self.redis, [self.prefix, repr(now), GROUP, entry_id, event, by, reason]
        )
        if reply[0] == "missing":
            raise IntakeError("no_such_application", f"no entry {entry_id}")
        app = str(reply[1])
        if reply[0] == "illegal":
            raise IntakeError(
                "illegal_transition",
                f"application {app} is {reply[2]}: {event!r} is not allowed then",
            )
        status = await self.status(app)
        assert status is not None  # the script just wrote it
        log.info("application %s: state %s -> %s", app, reply[2], status.state.value)
        return status

    # -- reading -------------------------------------------------------------------------------

    async def status(self, application_id: str) -> ApplicationStatus | None:
        raw = await self.redis.hgetall(self.keys.application(application_id))
        return _decode_status(raw) if raw else None

    async def entry_id_of(self, application_id: str) -> str:
        """The stream entry of an application; IntakeError ``no_such_application``."""
        entry = await self.redis.hget(self.keys.application(application_id), "entry_id")
        if not entry:
            raise IntakeError("no_such_application", f"no application {application_id}")
        return str(entry)

    async def get(self, application_id: str) -> tuple[ApplicationStatus, dict[str, Any]]:
        """The status and the record as submitted."""
        status = await self.status(application_id)
        if status is None:
            raise IntakeError("no_such_application", f"no application {application_id}")
        found = await self.redis.xrange(self.stream, status.entry_id, status.entry_id)
        payload = found[0][1].get("payload", "") if found else ""
        return status, _decode_record(payload)

    async def list(
        self, state: State | str | None = None, *, limit: int = 100
    ) -> builtins.list[ApplicationStatus]:
        """Applications in one state (oldest first), or in any state (newest change first)."""
        states = [State(state)] if state is not None else builtins.list(State)
        ids: builtins.list[tuple[float, str]] = []
        for s in states:
            if state is not None:
                rows = await self.redis.zrange(
                    self.keys.state(s.value), 0, limit - 1, withscores=True
                )
            else:
                rows = await self.redis.zrange(
                    self.keys.state(s.value), 0, limit - 1, desc=True, withscores=True
                )
            ids.extend((float(score), str(app)) for app, score in rows)
        if state is None:
            ids.sort(reverse=True)
        return await self._statuses([app for _, app in ids[:limit]])

    async def for_session(self, session_id: str) -> builtins.list[ApplicationStatus]:
        """What was submitted in a session, and what became of it (for its notice)."""
        ids = sorted(await self.redis.smembers(self.keys.session(session_id)))
        statuses = await self._statuses(ids)
        return sorted(statuses, key=lambda s: s.submitted_at)

    async def _statuses(self, ids: builtins.list[str]) -> builtins.list[ApplicationStatus]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for app in ids:
                pipe.hgetall(self.keys.application(app))
            rows = await pipe.execute()
        return [_decode_status(raw) for raw in rows if raw]

    async def counts(self) -> dict[str, int]:
        """How many applications are in each state."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for s in State:
                pipe.zcard(self.keys.state(s.value))
            rows = await pipe.execute()
        return {s.value: int(n) for s, n in zip(State, rows, strict=True)}


INTAKE: Final = web.AppKey("intake", Intake)
