"""What a supervisor sees: the live load and the day's figures, read from Redis.

Theory of operation
-------------------
*Live*: per skill, how many residents wait in its queue (``mdg:q:{skill}``) and since when the
one waiting longest has; every specialist known to routing (the ``mdg:skill_members:{skill}``
sets) with their state and since when (the ``since`` field the routing scripts stamp on every
change of state); and the active sessions per branch.

*The day* (Asia/Tokyo): every session created that day is in the day index ``mdg:day:{yyyymmdd}``
(written by :meth:`hub.sessions.dispatch.Dispatch.create`), so the figures read those sessions and
nothing else, never the keyspace. A session belongs to the day it started on. The 書かない figure
sums
the ``entries.avoided`` of the intake records appended that day (a stream entry's id is its time
in milliseconds, so the day is one ``XRANGE``).

The arithmetic is pure: :func:`figures`, :func:`hourly`, :func:`alerts` and
:func:`build_snapshot` take rows, thresholds and ``now``. :class:`Supervision` is the shell that
reads Redis; it keeps the rows that can no longer change (ended and rated, or ended long enough
ago for a rating to have come) and the intake tally it has read, so the snapshot computed every
second re-reads only what still moves.

What a supervisor sees are figures and session metadata (ticket, skill, branch, state, times):
nothing here reads a resident's card items, forms or documents.

Definitions (each over the sessions that started that day):

* served: the resident's part ended ``completed``;
* wait: from the ticket to the first answer (``connected``); handling: time spent
  ``connected`` or ``on_hold``, for sessions that reached wrap-up;
* abandoned: ended ``abandoned`` straight from ``waiting`` or ``offered`` (the resident left
  before being answered); abandonment rate: abandoned / sessions whose resident part is over;
* service level: answered within the target / (answered + abandoned after waiting longer than
  the target): a resident who gives up within the target does not count against it;
* satisfaction: the mean of the residents' ratings (1-5) and how many rated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Final

import redis.asyncio as aioredis
from aiohttp import web

from hub import redis_keys
from hub.sessions.dispatch import JST, day_of
from hub.sessions.router import Rules

ACTIVE_STATES: Final = ("waiting", "offered", "connected", "on_hold")
WAITING_STATES: Final = ("waiting", "offered")
SPECIALIST_STATES: Final = ("available", "ringing", "busy", "wrap_up", "away", "offline")
RATING_GRACE_S: Final = 900.0
"""After this long an ended session without a rating will not get one: its row is final."""
MAX_WAITING_LISTED: Final = 150
MAX_SESSIONS_PER_BRANCH: Final = 40
LEVELS: Final = ("ok", "warn", "alert")
_ROW_FIELDS: Final = (
    "state",
    "history",
    "ticket",
    "branch_id",
    "skill",
    "queue",
    "priority",
    "end_reason",
    "specialist",
    "rating",
    "rank",
)


class SupervisionError(Exception):
    """The thresholds file is malformed; the message names the file and the entry."""

    code = "bad_thresholds"


# -- thresholds (data) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    warn: float
    alert: float

    def level(self, value: float | None) -> str:
        if value is None:
            return "ok"
        if value >= self.alert:
            return "alert"
        if value >= self.warn:
            return "warn"
        return "ok"


@dataclass(frozen=True)
class Thresholds:
    service_level_s: float = 300.0
    longest_wait_s: Limit = Limit(600, 1200)
    waiting: Limit = Limit(5, 10)
    abandonment_rate: Limit = Limit(0.05, 0.1)
    by_skill: Mapping[str, Mapping[str, Limit]] = field(default_factory=dict)

    def for_skill(self, skill: str, what: str) -> Limit:
        own = self.by_skill.get(skill, {}).get(what)
        if own is not None:
            return own
        return self.longest_wait_s if what == "longest_wait_s" else self.waiting


THRESHOLDS_FILE: Final = "supervision.json"


def load_thresholds(path: Path | None = None) -> Thresholds:
    """The thresholds in ``path``, or in the shipped ``hub/catalog/supervision.json``."""
    if path is None:
        text = resources.files("hub.catalog").joinpath("data", THRESHOLDS_FILE).read_text("utf-8")
        return parse_thresholds(text, THRESHOLDS_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SupervisionError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_thresholds(text, str(path))


def _limit(value: Any, where: str) -> Limit:
    if not isinstance(value, dict) or set(value) != {"warn", "alert"}:
        raise SupervisionError(f'{where}: expected {{"warn": n, "alert": n}}')
    warn, alert = value["warn"], value["alert"]
    for v in (warn, alert):
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise SupervisionError(f"{where}: warn and alert are numbers >= 0")
    if warn > alert:
        raise SupervisionError(f"{where}: warn is above alert")
    return Limit(float(warn), float(alert))


def parse_thresholds(text: str, source: str) -> Thresholds:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SupervisionError(f"{source}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SupervisionError(f"{source}: expected an object")
    known = {"_comment", "service_level_s", "longest_wait_s", "waiting", "abandonment_rate"}
    unknown = set(data) - known - {"skills"}
    if unknown:
        raise SupervisionError(f"{source}: unknown key {sorted(unknown)[0]!r}")
    target = data.get("service_level_s", 300)
    if isinstance(target, bool) or not isinstance(target, int | float) or target <= 0:
        raise SupervisionError(f"{source}: service_level_s is a number of seconds > 0")
    defaults = Thresholds()
    rate = data.get("abandonment_rate")
    by_skill: dict[str, dict[str, Limit]] = {}
    skills = data.get("skills", {})
    if not isinstance(skills, dict):
        raise SupervisionError(f"{source}: skills is an object of skill -> thresholds")
    for skill, own in skills.items():
        where = f"{source}: skills.{skill}"
        if not isinstance(own, dict) or not set(own) <= {"longest_wait_s", "waiting"}:
            raise SupervisionError(f"{where}: only longest_wait_s and waiting per skill")
        by_skill[skill] = {k: _limit(v, f"{where}.{k}") for k, v in own.items()}
    limits = {
        key: _limit(data[key], f"{source}: {key}") if key in data else getattr(defaults, key)
        for key in ("longest_wait_s", "waiting")
    }
    out = Thresholds(
        service_level_s=float(target),
        longest_wait_s=limits["longest_wait_s"],
        waiting=limits["waiting"],
        abandonment_rate=_limit(rate, f"{source}: abandonment_rate")
        if rate is not None
        else defaults.abandonment_rate,
        by_skill=by_skill,
    )
    if out.abandonment_rate.alert > 1:
        raise SupervisionError(f"{source}: abandonment_rate is a share, 0-1")
    return out


# -- sessions as rows (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class SessionRow:
    """A session as the figures see it: metadata and times, no personal data."""

    id: str
    ticket: str
    branch_id: str
    skill: str
    queue: str
    priority: str
    state: str
    end_reason: str | None
    specialist: str | None
    history: tuple[tuple[str, float], ...]
    rating: int | None = None
    rank: float = 0.0

    @property
    def created_at(self) -> float:
        return self.history[0][1]

    @property
    def since(self) -> float:
        """When it entered its current state."""
        return self.history[-1][1]

    def first(self, state: str) -> float | None:
        return next((at for s, at in self.history if s == state), None)

    @property
    def waiting_since(self) -> float:
        """When it last started to wait (a transfer or a lost specialist restarts it)."""
        for s, at in reversed(self.history):
            if s == "waiting":
                return at
        return self.created_at

    @property
    def over(self) -> bool:
        """The resident's part is over (wrap-up or ended)."""
        return self.end_reason is not None

    @property
    def served(self) -> bool:
        return self.end_reason == "completed"

    @property
    def wait_s(self) -> float | None:
        answered = self.first("connected")
        return None if answered is None else max(0.0, answered - self.created_at)

    @property
    def handle_s(self) -> float | None:
        """Time in ``connected`` and ``on_hold``, once the session reached wrap-up."""
        if self.first("wrap_up") is None:
            return None
        total = 0.0
        for (state, at), (_, after) in zip(self.history, self.history[1:], strict=False):
            if state in ("connected", "on_hold"):
                total += max(0.0, after - at)
        return total

    @property
    def abandoned_waiting(self) -> bool:
        """Ended ``abandoned`` before being answered (straight from waiting or offered)."""
        return (
            self.end_reason == "abandoned"
            and len(self.history) >= 2
            and self.history[-1][0] == "ended"
            and self.history[-2][0] in WAITING_STATES
        )

    def final(self, now: float) -> bool:
        """Nothing about this row will change any more."""
        return self.state == "ended" and (
            self.rating is not None or now - self.since > RATING_GRACE_S
        )


def row_from(session_id: str, raw: Mapping[str, str | None]) -> SessionRow | None:
    """The row in a session hash's fields; None when it is gone or unreadable."""
    state = raw.get("state")
    if not state:
        return None
    try:
        history = tuple((str(s), float(at)) for s, at in json.loads(raw.get("history") or ""))
        rated = raw.get("rating")
        rating = int(rated) if rated else None
        rank = float(raw.get("rank") or 0.0)
    except (ValueError, TypeError):
        return None
    if not history:
        return None
    return SessionRow(
        id=session_id,
        ticket=raw.get("ticket") or "-",
        branch_id=raw.get("branch_id") or "-",
        skill=raw.get("skill") or "-",
        queue=raw.get("queue") or "",
        priority=raw.get("priority") or "normal",
        state=state,
        end_reason=raw.get("end_reason") or None,
        specialist=raw.get("specialist") or None,
        history=history,
        rating=rating if rating is not None and 1 <= rating <= 5 else None,
        rank=rank,
    )


# -- figures (pure) ------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Figures:
    arrivals: int
    served: int
    over: int
    """Sessions whose resident part is over, however they ended."""
    abandoned: int
    answered: int
    avg_wait_s: float | None
    avg_handle_s: float | None
    abandonment_rate: float | None
    service_level: float | None
    entries_avoided: int
    rating_mean: float | None
    rating_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "arrivals": self.arrivals,
            "served": self.served,
            "over": self.over,
            "abandoned": self.abandoned,
            "answered": self.answered,
            "avg_wait_s": _round(self.avg_wait_s),
            "avg_handle_s": _round(self.avg_handle_s),
            "abandonment_rate": _round(self.abandonment_rate, 4),
            "service_level": _round(self.service_level, 4),
            "entries_avoided": self.entries_avoided,
            "rating_mean": _round(self.rating_mean, 2),
            "rating_count": self.rating_count,
        }


def figures(
    rows: Iterable[SessionRow], *, service_level_s: float, entries_avoided: int = 0
) -> Figures:
    """The day's figures over ``rows`` (see the module's definitions)."""
    rows = list(rows)
    waits = [w for r in rows if (w := r.wait_s) is not None]
    handles = [h for r in rows if (h := r.handle_s) is not None]
    abandoned = [r for r in rows if r.abandoned_waiting]
    over = sum(1 for r in rows if r.over)
    within = sum(1 for w in waits if w <= service_level_s)
    late_abandons = sum(1 for r in abandoned if r.since - r.created_at > service_level_s)
    base = len(waits) + late_abandons
    ratings = [r.rating for r in rows if r.rating is not None]
    return Figures(
        arrivals=len(rows),
        served=sum(1 for r in rows if r.served),
        over=over,
        abandoned=len(abandoned),
        answered=len(waits),
        avg_wait_s=_mean(waits),
        avg_handle_s=_mean(handles),
        abandonment_rate=len(abandoned) / over if over else None,
        service_level=within / base if base else None,
        entries_avoided=entries_avoided,
        rating_mean=_mean([float(x) for x in ratings]),
        rating_count=len(ratings),
    )


def hour_of(at: float) -> int:
    return datetime.fromtimestamp(at, JST).hour


def hourly(rows: Iterable[SessionRow]) -> list[dict[str, Any]]:
    """Per hour of the day (by when each session started): arrivals, served, abandoned and the
    mean wait of those answered."""
    buckets: list[list[SessionRow]] = [[] for _ in range(24)]
    for row in rows:
        buckets[hour_of(row.created_at)].append(row)
    out = []
    for hour, bucket in enumerate(buckets):
        waits = [w for r in bucket if (w := r.wait_s) is not None]
        out.append(
            {
                "hour": hour,
                "arrivals": len(bucket),
                "served": sum(1 for r in bucket if r.served),
                "abandoned": sum(1 for r in bucket if r.abandoned_waiting),
                "avg_wait_s": _round(_mean(waits)),
            }
        )
    return out


# -- the live picture (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class SpecialistRow:
    id: str
    name: str
    state: str
    since: float | None
    session_id: str | None
    skills: tuple[str, ...]


@dataclass(frozen=True)
class Live:
    """What a reader saw at one moment: queue lengths, specialists, and the rows of the
    sessions started today (``today``) and yesterday (only those still active)."""

    now: float
    day: str
    skills: tuple[str, ...]
    queued: Mapping[str, int]
    """Sessions in each queue (skill or ``@user``), from the queues themselves."""
    specialists: tuple[SpecialistRow, ...]
    today: tuple[SessionRow, ...]
    earlier_active: tuple[SessionRow, ...]
    avoided: int = 0

    @property
    def active(self) -> list[SessionRow]:
        return [r for r in (*self.earlier_active, *self.today) if r.state in ACTIVE_STATES]

    def oldest_waiting(self, queue: str) -> float | None:
        times = [
            r.waiting_since for r in self.active if r.queue == queue and r.state in WAITING_STATES
        ]
        return min(times) if times else None

    def longest_wait_s(self, queue: str) -> float:
        oldest = self.oldest_waiting(queue)
        return 0.0 if oldest is None else max(0.0, self.now - oldest)

    def specialists_by_state(self) -> dict[str, int]:
        counts = dict.fromkeys(SPECIALIST_STATES, 0)
        for s in self.specialists:
            counts[s.state] = counts.get(s.state, 0) + 1
        return counts

    def active_by_branch(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.active:
            per = out.setdefault(r.branch_id, dict.fromkeys(ACTIVE_STATES, 0))
            per[r.state] += 1
        return dict(sorted(out.items()))


@dataclass(frozen=True)
class Alert:
    kind: str  # longest_wait_s | waiting | abandonment_rate
    level: str  # warn | alert
    value: float
    threshold: float
    skill: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "level": self.level,
            "value": round(self.value, 4),
            "threshold": self.threshold,
            "skill": self.skill,
        }


def alerts(live: Live, thresholds: Thresholds, today: Figures) -> list[Alert]:
    """Thresholds crossed now: per skill its longest wait and how many wait; the day's
    abandonment rate."""
    out: list[Alert] = []
    for skill in live.skills:
        checks = (
            ("longest_wait_s", live.longest_wait_s(skill)),
            ("waiting", float(live.queued.get(skill, 0))),
        )
        for kind, value in checks:
            limit = thresholds.for_skill(skill, kind)
            level = limit.level(value)
            if level != "ok":
                threshold = limit.alert if level == "alert" else limit.warn
                out.append(Alert(kind, level, value, threshold, skill))
    level = thresholds.abandonment_rate.level(today.abandonment_rate)
    if level != "ok" and today.abandonment_rate is not None:
        limit = thresholds.abandonment_rate
        out.append(
            Alert(
                "abandonment_rate",
                level,
                today.abandonment_rate,
                limit.alert if level == "alert" else limit.warn,
            )
        )
    return out


def _worst(levels: Iterable[str]) -> str:
    return max(levels, key=LEVELS.index, default="ok")


def build_snapshot(live: Live, thresholds: Thresholds) -> dict[str, Any]:
    """The supervisor's picture as JSON. Times are absolute (``since``, ``waiting_since``:
    unix seconds) so that the picture only changes when something happens; a screen counts
    the seconds itself against ``generated_at``."""
    today = figures(
        live.today, service_level_s=thresholds.service_level_s, entries_avoided=live.avoided
    )
    raised = alerts(live, thresholds, today)
    active = live.active
    skills = []
    for skill in live.skills:
        mine = [r for r in live.today if r.skill == skill]
        f = figures(mine, service_level_s=thresholds.service_level_s)
        staffed = [s for s in live.specialists if skill in s.skills]
        skills.append(
            {
                "skill": skill,
                "waiting": live.queued.get(skill, 0),
                "ringing": sum(1 for r in active if r.queue == skill and r.state == "offered"),
                "oldest_waiting_at": live.oldest_waiting(skill),
                "available": sum(1 for s in staffed if s.state == "available"),
                "at_work": sum(1 for s in staffed if s.state not in ("away", "offline")),
                "level": _worst(a.level for a in raised if a.skill == skill),
                "served": f.served,
                "abandoned": f.abandoned,
                "avg_wait_s": _round(f.avg_wait_s),
            }
        )
    waiting = sorted((r for r in active if r.state in WAITING_STATES), key=lambda r: (r.rank, r.id))
    branches = []
    for branch, counts in live.active_by_branch().items():
        mine = sorted((r for r in active if r.branch_id == branch), key=lambda r: r.created_at)
        served_today = sum(1 for r in live.today if r.branch_id == branch and r.served)
        branches.append(
            {
                "branch_id": branch,
                **counts,
                "served": served_today,
                "sessions": [
                    {
                        "session_id": r.id,
                        "ticket": r.ticket,
                        "state": r.state,
                        "skill": r.skill,
                        "specialist": r.specialist,
                        "since": r.since,
                    }
                    for r in mine[:MAX_SESSIONS_PER_BRANCH]
                ],
            }
        )
    return {
        "generated_at": live.now,
        "day": datetime.strptime(live.day, "%Y%m%d").date().isoformat(),
        "service_level_s": thresholds.service_level_s,
        "today": today.to_json(),
        "hourly": hourly(live.today),
        "skills": skills,
        "specialists": [
            {
                "id": s.id,
                "name": s.name,
                "state": s.state,
                "since": s.since,
                "session_id": s.session_id,
                "skills": list(s.skills),
            }
            for s in live.specialists
        ],
        "waiting_total": len(waiting),
        "waiting": [
            {
                "session_id": r.id,
                "ticket": r.ticket,
                "queue": r.queue,
                "skill": r.skill,
                "branch_id": r.branch_id,
                "priority": r.priority,
                "state": r.state,
                "waiting_since": r.waiting_since,
            }
            for r in waiting[:MAX_WAITING_LISTED]
        ],
        "branches": branches,
        "alerts": [a.to_json() for a in raised],
    }


def snapshot_key(snapshot: Mapping[str, Any]) -> str:
    """What a snapshot says, without the time it was made: two snapshots with the same key
    show the same picture."""
    return json.dumps(
        {k: v for k, v in snapshot.items() if k != "generated_at"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


# -- the day ---------------------------------------------------------------------------------


def day_bounds(day: date) -> tuple[float, float]:
    """The day's start and end (Asia/Tokyo), unix seconds."""
    start = datetime(day.year, day.month, day.day, tzinfo=JST)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


def report(
    rows: Sequence[SessionRow],
    avoided_by_session: Mapping[str, int],
    avoided_unmatched: Mapping[str, int],
    *,
    day: date,
    service_level_s: float,
) -> dict[str, Any]:
    """The day's figures, all together, per branch and per skill. ``avoided_by_session``: the
    書かない figure per session id; ``avoided_unmatched``: per branch, for records whose session
    is not in the day's index (started another day)."""
    by_branch: dict[str, list[SessionRow]] = {}
    by_skill: dict[str, list[SessionRow]] = {}
    for r in rows:
        by_branch.setdefault(r.branch_id, []).append(r)
        by_skill.setdefault(r.skill, []).append(r)

    def avoided(subset: Iterable[SessionRow]) -> int:
        return sum(avoided_by_session.get(r.id, 0) for r in subset)

    def fig(subset: Sequence[SessionRow], extra: int = 0) -> dict[str, Any]:
        return figures(
            subset, service_level_s=service_level_s, entries_avoided=avoided(subset) + extra
        ).to_json()

    branches = sorted(set(by_branch) | set(avoided_unmatched))
    return {
        "date": day.isoformat(),
        "service_level_s": service_level_s,
        "total": fig(rows, sum(avoided_unmatched.values())),
        "branches": {b: fig(by_branch.get(b, []), avoided_unmatched.get(b, 0)) for b in branches},
        "skills": {s: fig(by_skill[s]) for s in sorted(by_skill)},
        "hourly": hourly(rows),
    }


# -- the shell: reading Redis ------------------------------------------------------------------


@dataclass
class _Tally:
    """The 書かない figure of one day's intake records read so far."""

    last_id: str
    by_session: dict[str, int] = field(default_factory=dict)
    unmatched_by_branch: dict[str, int] = field(default_factory=dict)
    total: int = 0


def _avoided_of(payload: str) -> tuple[str, str, int]:
    """(session id, branch id, entries avoided) of an intake record; zeros when unreadable."""
    try:
        record = json.loads(payload)
    except ValueError:
        return "", "", 0
    if not isinstance(record, dict):
        return "", "", 0
    entries = record.get("entries")
    value = entries.get("avoided") if isinstance(entries, dict) else None
    avoided = value if isinstance(value, int) and not isinstance(value, bool) else 0
    return str(record.get("session_id") or ""), str(record.get("branch_id") or "-"), avoided


class Supervision:
    """Reads the picture from Redis for one hub process (or one report)."""

    def __init__(
        self,
        redis: aioredis.Redis,
        rules: Rules,
        thresholds: Thresholds,
        *,
        intake_prefix: str = redis_keys.INTAKE_PREFIX,
    ) -> None:
        self.redis = redis
        self.rules = rules
        self.thresholds = thresholds
        self.intake_stream = redis_keys.IntakeKeys(intake_prefix).stream()
        self._final: dict[str, SessionRow] = {}
        self._final_day = ""
        self._tally: _Tally | None = None
        self._tally_day = ""

    @property
    def skills(self) -> tuple[str, ...]:
        return tuple(self.rules.ticket_prefix)

    async def rows(self, day: str, now: float, *, cache: bool = True) -> list[SessionRow]:
        """The sessions started on ``day`` (``yyyymmdd``), oldest first."""
        ids = [str(i) for i in await self.redis.zrange(redis_keys.day_index(day), 0, -1)]
        fresh = [i for i in ids if i not in self._final] if cache else ids
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in fresh:
                pipe.hmget(redis_keys.session(session_id), list(_ROW_FIELDS))
            replies = await pipe.execute() if fresh else []
        read: dict[str, SessionRow] = {}
        for session_id, values in zip(fresh, replies, strict=True):
            row = row_from(session_id, dict(zip(_ROW_FIELDS, values, strict=True)))
            if row is not None:
                read[session_id] = row
                if cache and row.final(now):
                    self._final[session_id] = row
        out = []
        for session_id in ids:
            row = read.get(session_id) or (self._final.get(session_id) if cache else None)
            if row is not None:
                out.append(row)
        return out

    async def _specialists(self) -> tuple[SpecialistRow, ...]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for skill in self.skills:
                pipe.smembers(redis_keys.skill_members(skill))
            members = sorted({str(u) for group in await pipe.execute() for u in group})
        if not members:
            return ()
        async with self.redis.pipeline(transaction=False) as pipe:
            for user in members:
                pipe.hmget(redis_keys.specialist(user), ["state", "since", "session_id", "skills"])
                pipe.hget(redis_keys.account(user), "display_name")
            replies = await pipe.execute()
        out = []
        for i, user in enumerate(members):
            (state, since, session_id, skills), name = replies[2 * i], replies[2 * i + 1]
            try:
                since_at = float(since) if since else None
                listed = json.loads(skills) if skills else []
            except ValueError:
                since_at, listed = None, []
            out.append(
                SpecialistRow(
                    id=user,
                    name=str(name or user),
                    state=str(state or "offline"),
                    since=since_at,
                    session_id=session_id or None,
                    skills=tuple(str(s) for s in listed) if isinstance(listed, list) else (),
                )
            )
        return tuple(out)

    async def _queued(self, specialists: Sequence[SpecialistRow]) -> dict[str, int]:
        queues = [*self.skills, *(f"@{s.id}" for s in specialists)]
        async with self.redis.pipeline(transaction=False) as pipe:
            for queue in queues:
                pipe.zcard(redis_keys.queue(queue))
            counts = await pipe.execute()
        return {
            q: int(n)
            for q, n in zip(queues, counts, strict=True)
            if int(n) or not q.startswith("@")
        }

    async def avoided_today(self, now: float) -> int:
        """The 書かない figure of the intake records appended today, read incrementally."""
        day = day_of(now)
        if self._tally is None or self._tally_day != day:
            start, _ = day_bounds(datetime.strptime(day, "%Y%m%d").date())
            self._tally, self._tally_day = _Tally(last_id=f"{int(start * 1000)}-0"), day
            first = True
        else:
            first = False
        await self._read_tally(self._tally, None, inclusive=first)
        return self._tally.total

    async def _read_tally(self, tally: _Tally, end: str | None, *, inclusive: bool) -> None:
        start = tally.last_id if inclusive else f"({tally.last_id}"
        while True:
            batch = await self.redis.xrange(self.intake_stream, start, end or "+", count=200)
            for entry_id, fields in batch:
                session_id, branch, avoided = _avoided_of(fields.get("payload", ""))
                tally.total += avoided
                if session_id:
                    tally.by_session[session_id] = tally.by_session.get(session_id, 0) + avoided
                else:
                    tally.unmatched_by_branch[branch] = (
                        tally.unmatched_by_branch.get(branch, 0) + avoided
                    )
                tally.last_id = str(entry_id)
            if len(batch) < 200:
                return
            start = f"({tally.last_id}"

    async def live(self, now: float) -> Live:
        day = day_of(now)
        if day != self._final_day:
            self._final.clear()
            self._final_day = day
        specialists = await self._specialists()
        queued = await self._queued(specialists)
        today = await self.rows(day, now)
        yesterday = await self.rows(day_of(now - 86400), now)
        return Live(
            now=now,
            day=day,
            skills=self.skills,
            queued=queued,
            specialists=specialists,
            today=tuple(today),
            earlier_active=tuple(r for r in yesterday if r.state in ACTIVE_STATES),
            avoided=await self.avoided_today(now),
        )

    async def snapshot(self, now: float) -> dict[str, Any]:
        snapshot = build_snapshot(await self.live(now), self.thresholds)
        snapshot["intake"] = await self.intake_picture()
        return snapshot

    async def intake_picture(self) -> dict[str, Any]:
        """The central intake: applications per state, and the dead letters (delivered too
        often without being finished) for a supervisor to act on — ids and who, no contents."""
        from hub.intake.queue import Intake

        intake = Intake(self.redis)
        dead = await intake.list("dead", limit=20)
        return {
            "counts": await intake.counts(),
            "dead": [
                {
                    "application_id": d.application_id,
                    "session_id": d.session_id,
                    "submitted_by": d.submitted_by,
                    "deliveries": d.deliveries,
                    "since": d.updated_at,
                }
                for d in dead
            ],
        }

    async def day_report(self, day: date, now: float) -> dict[str, Any]:
        """The figures of a past or the present day, per branch and per skill."""
        key = day.strftime("%Y%m%d")
        rows = await self.rows(key, now, cache=False)
        start, end = day_bounds(day)
        tally = _Tally(last_id=f"{int(start * 1000)}-0")
        await self._read_tally(tally, f"{math.ceil(end * 1000) - 1}", inclusive=True)
        ids = {r.id for r in rows}
        unmatched = dict(tally.unmatched_by_branch)
        by_session: dict[str, int] = {}
        if tally.by_session:
            others = [s for s in tally.by_session if s not in ids]
            async with self.redis.pipeline(transaction=False) as pipe:
                for session_id in others:
                    pipe.hget(redis_keys.session(session_id), "branch_id")
                branches = await pipe.execute() if others else []
            for session_id, branch in zip(others, branches, strict=True):
                b = str(branch or "-")
                unmatched[b] = unmatched.get(b, 0) + tally.by_session[session_id]
            by_session = {s: n for s, n in tally.by_session.items() if s in ids}
        return report(
            rows,
            by_session,
            unmatched,
            day=day,
            service_level_s=self.thresholds.service_level_s,
        )


SUPERVISION: Final = web.AppKey("supervision", Supervision)
