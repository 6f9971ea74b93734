"""Routing: which waiting resident goes to which specialist. Pure: no I/O, handed ``now``.

Rules
-----
* A session waits in one queue: its skill's (``juumin``, ``zei`` …, from the purpose, as data in
  ``catalog/routing.json``) or a named colleague's (``@tanaka``) after a transfer to them.
* Its place is its *rank*: the time it was queued minus a head start for its priority level
  (``priority_head_start_s`` per level). Lower rank goes first; equal ranks go by session id.
  FIFO within a priority; aging for free: a normal ticket that has waited longer than the head
  start is ahead of a priority ticket that just arrived, so nothing starves. A transferred
  session gets ``transfer_head_start_s`` (enormous): it is at the head of its new queue.
* A specialist serves their own ``@`` queue and the queues of their skills. A session is
  eligible for them when its needs are met (interpreter language, hearing support) and they have
  not declined it within ``decline_cooldown_s``.
* When a specialist is available they are offered their best eligible session: the lowest rank
  across their queues, looking at most ``scan_depth`` deep into each. When a session becomes
  waiting, it goes to the eligible available specialist idle the longest (ties by id).

:class:`Model` applies these rules to a whole deployment in memory. It is the specification:
property tests check its invariants, and a differential test checks that the Redis scripts of
:mod:`hub.sessions.dispatch`, which apply them atomically across hub processes, decide the same.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import signaling as sig
from hub.errors import Refused
from hub.sessions.lifecycle import EndReason, Event, Session, State, apply

ROUTING_FILE = Path(__file__).resolve().parent.parent / "catalog" / "data" / "routing.json"


@dataclass(frozen=True)
class Rules:
    purposes: Mapping[str, str]  # purpose -> skill
    ticket_prefix: Mapping[str, str]  # skill -> letter
    priorities: Mapping[str, int]  # priority name -> level
    priority_head_start_s: float = 600.0
    transfer_head_start_s: float = 1e9
    offer_timeout_s: float = 20.0
    decline_cooldown_s: float = 60.0
    wrap_up_s: float = 120.0
    scan_depth: int = 64
    default_handle_time_s: float = 600.0
    terminal_purposes: tuple[sig.Purpose, ...] = ()
    """The purposes with their names, in the catalog's order: what a terminal is told it may
    offer (its ``hello``)."""
    priority_names: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Each priority's Japanese and English name, for the staff screens."""

    def skill_for(self, purpose: str) -> str | None:
        return self.purposes.get(purpose)

    def rank(self, queued_at: float, priority: str) -> float:
        return queued_at - self.priorities.get(priority, 0) * self.priority_head_start_s

    def head_rank(self, now: float) -> float:
        return now - self.transfer_head_start_s

    def with_(self, **changes: Any) -> Rules:
        return replace(self, **changes)


def rules_from(data: Mapping[str, Any]) -> Rules:
    return Rules(
        purposes={k: str(v["skill"]) for k, v in data["purposes"].items()},
        terminal_purposes=_terminal_purposes(data["purposes"]),
        ticket_prefix=dict(data["ticket_prefix"]),
        priorities={k: int(v["level"]) for k, v in data["priorities"].items()},
        priority_names={
            k: (str(v.get("ja", k)), str(v.get("en", k))) for k, v in data["priorities"].items()
        },
        **{
            k: data[k]
            for k in (
                "priority_head_start_s",
                "transfer_head_start_s",
                "offer_timeout_s",
                "decline_cooldown_s",
                "wrap_up_s",
                "scan_depth",
                "default_handle_time_s",
            )
            if k in data
        },
    )


def _terminal_purposes(purposes: Mapping[str, Any]) -> tuple[sig.Purpose, ...]:
    """The catalog's purposes as a terminal's ``hello`` carries them; a name the kiosk could not
    take fails here, when the hub starts, not on every terminal."""
    hello = sig.Hello(
        role="terminal",
        peer_id="check",
        purposes=tuple(sig.Purpose(k, v.get("ja"), v.get("en")) for k, v in purposes.items()),
    )
    try:
        sig.encode(hello, check=True)
    except sig.ProtocolError as exc:
        raise ValueError(
            f"routing data: the purposes do not fit a terminal's hello: {exc}"
        ) from None
    return hello.purposes


@cache
def load_rules(path: Path = ROUTING_FILE) -> Rules:
    return rules_from(json.loads(path.read_text(encoding="utf-8")))


def staff_catalog(rules: Rules) -> dict[str, Any]:
    """What staff screens show: purposes, skills and priorities with Japanese and English names,
    all from the rules the hub runs with (its routing file, not the shipped one)."""
    from hub.catalog import load_skills

    skills = load_skills()
    return {
        "purposes": {
            p.id: {"skill": rules.purposes.get(p.id), "ja": p.ja, "en": p.en}
            for p in rules.terminal_purposes
        },
        "skills": {
            key: {"ja": s.ja, "en": s.en} for key, s in skills.items() if key in rules.ticket_prefix
        },
        "priorities": {
            name: dict(zip(("ja", "en"), rules.priority_names.get(name, (name, name)), strict=True))
            | {"level": level}
            for name, level in rules.priorities.items()
        },
    }


@dataclass(frozen=True)
class Ticket:
    """A waiting session as the router sees it."""

    id: str
    queue: str
    rank: float
    needs_language: str | None = None
    needs_hearing: bool = False
    declined: Mapping[str, float] = field(default_factory=dict)  # specialist -> until


@dataclass(frozen=True)
class Specialist:
    id: str
    skills: frozenset[str]
    languages: frozenset[str] = frozenset()
    hearing_support: bool = False

    def queues(self) -> list[str]:
        return [f"@{self.id}", *sorted(self.skills)]


def eligible(ticket: Ticket, specialist: Specialist, now: float) -> bool:
    if ticket.needs_language and ticket.needs_language not in specialist.languages:
        return False
    if ticket.needs_hearing and not specialist.hearing_support:
        return False
    return ticket.declined.get(specialist.id, float("-inf")) <= now


def pick_ticket(
    specialist: Specialist,
    queues: Mapping[str, list[Ticket]],
    now: float,
    depth: int,
) -> Ticket | None:
    """The specialist's best eligible ticket. ``queues`` are sorted by (rank, id)."""
    best: Ticket | None = None
    for name in specialist.queues():
        for ticket in queues.get(name, [])[:depth]:
            if best is not None and (ticket.rank, ticket.id) >= (best.rank, best.id):
                break
            if eligible(ticket, specialist, now):
                best = ticket
                break
    return best


# -- the reference model ---------------------------------------------------------------------


SPECIALIST_STATES = ("available", "ringing", "busy", "wrap_up", "away", "offline")
"""A specialist's states, the same words in this model, in Redis (``mdg:specialist:{user}``) and
on the wire (``specialist.status``). ``away``: known to routing and not taking sessions — where a
newly registered specialist starts, and where an unanswered offer puts them; ``offline``: given
up after their console was gone longer than the grace period (and what Redis reads for someone
it has never seen)."""
NEWCOMER_STATE = "away"
"""Where a specialist starts when first registered (the Redis scripts do the same)."""


@dataclass
class ModelSession:
    session: Session
    ticket: Ticket
    others: list[str] = field(default_factory=list)
    invited: str | None = None


@dataclass
class ModelSpecialist:
    who: Specialist
    state: str = NEWCOMER_STATE
    since: float = 0.0
    session_id: str | None = None


class Model:
    """The whole routing state in memory, with the same operations as :mod:`hub.sessions.dispatch`.

    Every operation returns the offers it made as (session id, specialist) pairs; one the
    current state does not allow raises :class:`hub.errors.Refused` (where the Redis scripts
    answer ``refused``), with the code the hub would answer.
    """

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.sessions: dict[str, ModelSession] = {}
        self.specialists: dict[str, ModelSpecialist] = {}
        self.offers_made: list[tuple[str, str]] = []

    # -- views ---------------------------------------------------------------------------------

    def queue(self, name: str) -> list[Ticket]:
        waiting = [
            s.ticket
            for s in self.sessions.values()
            if s.session.state is State.WAITING and s.ticket.queue == name
        ]
        return sorted(waiting, key=lambda t: (t.rank, t.id))

    def _queues_of(self, spec: Specialist) -> dict[str, list[Ticket]]:
        return {q: self.queue(q) for q in spec.queues()}

    def available(self, queue: str) -> list[ModelSpecialist]:
        if queue.startswith("@"):
            found = self.specialists.get(queue[1:])
            return [found] if found and found.state == "available" else []
        avail = [
            s for s in self.specialists.values() if s.state == "available" and queue in s.who.skills
        ]
        return sorted(avail, key=lambda s: (s.since, s.who.id))

    # -- specialists ---------------------------------------------------------------------------

    def register(self, specialist: Specialist, now: float = 0.0) -> None:
        """Who the specialist is; a newcomer starts :data:`NEWCOMER_STATE` since ``now``, one
        already known keeps their state."""
        known = self.specialists.get(specialist.id)
        if known is None:
            self.specialists[specialist.id] = ModelSpecialist(specialist, NEWCOMER_STATE, now)
        else:
            known.who = specialist

    def _set(self, who: str, state: str, now: float, session_id: str | None = None) -> None:
        spec = self.specialists[who]
        spec.state, spec.since, spec.session_id = state, now, session_id

    def set_state(self, who: str, state: str, now: float) -> list[tuple[str, str]]:
        spec = self.specialists[who]
        if spec.state in ("ringing", "busy", "wrap_up"):
            raise Refused("busy", f"{who} is {spec.state}")
        self._set(who, state, now)
        return self.offer_best_for(who, now) if state == "available" else []

    def offer_best_for(self, who: str, now: float) -> list[tuple[str, str]]:
        spec = self.specialists[who]
        if spec.state != "available":
            return []
        ticket = pick_ticket(spec.who, self._queues_of(spec.who), now, self.rules.scan_depth)
        if ticket is None:
            return []
        ms = self.sessions[ticket.id]
        ms.session = apply(ms.session, Event.OFFER, now, specialist=who)
        self._set(who, "ringing", now, ticket.id)
        self.offers_made.append((ticket.id, who))
        return [(ticket.id, who)]

    def offer_ticket(self, session_id: str, now: float) -> list[tuple[str, str]]:
        ms = self.sessions[session_id]
        if ms.session.state is not State.WAITING:
            return []
        for spec in self.available(ms.ticket.queue)[: self.rules.scan_depth]:
            if eligible(ms.ticket, spec.who, now):
                return self.offer_best_for(spec.who.id, now)
        return []

    # -- sessions ------------------------------------------------------------------------------

    def create(
        self,
        session_id: str,
        skill: str,
        priority: str,
        now: float,
        *,
        needs_language: str | None = None,
        needs_hearing: bool = False,
    ) -> list[tuple[str, str]]:
        ticket = Ticket(
            session_id, skill, self.rules.rank(now, priority), needs_language, needs_hearing
        )
        self.sessions[session_id] = ModelSession(Session.new(session_id, now), ticket)
        return self.offer_ticket(session_id, now)

    def _session(self, session_id: str, *states: State) -> ModelSession:
        ms = self.sessions.get(session_id)
        if ms is None or (states and ms.session.state not in states):
            state = ms.session.state.value if ms else "gone"
            raise Refused("illegal_state", f"session {session_id} is {state}")
        return ms

    def accept(self, session_id: str, who: str, now: float) -> None:
        ms = self._session(session_id)
        if ms.session.state is State.OFFERED and ms.session.specialist == who:
            ms.session = apply(ms.session, Event.ACCEPT, now)
            self._set(who, "busy", now, session_id)
        elif ms.invited == who and ms.session.state in (State.CONNECTED, State.ON_HOLD):
            ms.others.append(who)
            ms.invited = None
            self._set(who, "busy", now, session_id)
        else:
            raise Refused("not_offered", f"session {session_id} is not offered to {who}")

    def decline(
        self, session_id: str, who: str, now: float, *, timed_out: bool = False
    ) -> list[tuple[str, str]]:
        ms = self._session(session_id)
        after = "away" if timed_out else "available"
        if ms.session.state is State.OFFERED and ms.session.specialist == who:
            event = Event.OFFER_TIMEOUT if timed_out else Event.DECLINE
            ms.session = apply(ms.session, event, now)
            until = now + self.rules.decline_cooldown_s
            ms.ticket = replace(ms.ticket, declined={**ms.ticket.declined, who: until})
        elif ms.invited == who:
            ms.invited = None
        else:
            raise Refused("not_offered", f"session {session_id} is not offered to {who}")
        self._set(who, after, now)
        offers = self.offer_ticket(session_id, now)
        return offers + self.offer_best_for(who, now)

    def hold(self, session_id: str, who: str, on: bool, now: float) -> None:
        ms = self._session(session_id)
        if ms.session.specialist != who:
            raise Refused("not_primary", f"{who} does not lead session {session_id}")
        ms.session = apply(ms.session, Event.HOLD if on else Event.RESUME, now)

    def _release(self, who: str, now: float) -> list[tuple[str, str]]:
        self._set(who, "available", now)
        return self.offer_best_for(who, now)

    def transfer(
        self, session_id: str, who: str, to_queue: str, now: float
    ) -> list[tuple[str, str]]:
        ms = self._session(session_id, State.CONNECTED, State.ON_HOLD)
        if ms.session.specialist != who:
            raise Refused("not_primary", f"{who} does not lead session {session_id}")
        ms.session = apply(ms.session, Event.TRANSFER, now)
        ms.ticket = replace(
            ms.ticket,
            queue=to_queue,
            rank=self.rules.head_rank(now),
            declined={who: now + self.rules.decline_cooldown_s},
        )
        # Everyone leaves with the call: the colleagues in it, and one invited and still ringing.
        invited = [ms.invited] if ms.invited else []
        released, ms.others, ms.invited = [who, *ms.others, *invited], [], None
        offers = []
        for person in released:
            self._set(person, "available", now)
        offers += self.offer_ticket(session_id, now)
        for person in released:
            offers += self.offer_best_for(person, now)
        return offers

    def invite(self, session_id: str, who: str, target: str, now: float) -> None:
        ms = self._session(session_id, State.CONNECTED, State.ON_HOLD)
        spec = self.specialists.get(target)
        if ms.session.specialist != who or ms.invited or spec is None:
            raise Refused("cannot_invite", f"{who} cannot invite to session {session_id}")
        if spec.state != "available" or target == who or target in ms.others:
            raise Refused("not_available", f"{target} cannot be invited")
        ms.invited = target
        self._set(target, "ringing", now, session_id)

    def leave(self, session_id: str, who: str, now: float) -> list[tuple[str, str]]:
        ms = self._session(session_id, State.CONNECTED, State.ON_HOLD)
        if who in ms.others:
            ms.others.remove(who)
        elif ms.session.specialist == who and ms.others:
            new_primary = ms.others.pop(0)
            ms.session = replace(ms.session, specialist=new_primary)
        else:
            raise Refused("cannot_leave", f"{who} cannot leave session {session_id}")
        return self._release(who, now)

    def hang_up(self, session_id: str, reason: EndReason, now: float) -> list[tuple[str, str]]:
        ms = self._session(session_id, State.CONNECTED, State.ON_HOLD)
        ms.session = apply(ms.session, Event.HANG_UP, now, reason=reason)
        assert ms.session.specialist is not None
        self._set(ms.session.specialist, "wrap_up", now, session_id)
        offers: list[tuple[str, str]] = []
        for person in ms.others:
            offers += self._release(person, now)
        ms.others = []
        if ms.invited:
            offers += self._release(ms.invited, now)
            ms.invited = None
        return offers

    def finish(self, session_id: str, now: float) -> list[tuple[str, str]]:
        ms = self._session(session_id, State.WRAP_UP)
        ms.session = apply(ms.session, Event.FINISH, now)
        assert ms.session.specialist is not None
        return self._release(ms.session.specialist, now)

    def end_waiting(self, session_id: str, reason: EndReason, now: float) -> list[tuple[str, str]]:
        ms = self._session(session_id, State.WAITING, State.OFFERED)
        offered_to = ms.session.specialist if ms.session.state is State.OFFERED else None
        ms.session = apply(ms.session, Event.END, now, reason=reason)
        return self._release(offered_to, now) if offered_to else []

    def lose_specialist(self, who: str, now: float) -> list[tuple[str, str]]:
        """The specialist's console is gone for good: give back what they held."""
        spec = self.specialists[who]
        offers: list[tuple[str, str]] = []
        sid = spec.session_id
        ms = self.sessions.get(sid) if sid else None
        if ms is not None:
            state = ms.session.state
            if state is State.OFFERED and ms.session.specialist == who:
                ms.session = apply(ms.session, Event.REQUEUE, now)
            elif ms.invited == who:
                ms.invited = None
            elif who in ms.others:
                ms.others.remove(who)
            elif state in (State.CONNECTED, State.ON_HOLD) and ms.session.specialist == who:
                if ms.others:
                    ms.session = replace(ms.session, specialist=ms.others.pop(0))
                else:
                    ms.session = apply(ms.session, Event.REQUEUE, now)
                    ms.ticket = replace(ms.ticket, rank=self.rules.head_rank(now))
            elif state is State.WRAP_UP:
                ms.session = apply(ms.session, Event.FINISH, now)
        self._set(who, "offline", now)
        if ms is not None:
            offers += self.offer_ticket(ms.session.id, now)
        return offers

    # -- invariants ----------------------------------------------------------------------------

    def check(self) -> None:
        """Raise AssertionError when an invariant does not hold."""
        holders: dict[str, str] = {}
        for spec in self.specialists.values():
            if spec.state in ("ringing", "busy", "wrap_up"):
                assert spec.session_id is not None, f"{spec.who.id} {spec.state} without session"
                assert spec.who.id not in holders, f"{spec.who.id} holds two sessions"
                holders[spec.who.id] = spec.session_id
            else:
                assert spec.session_id is None, f"{spec.who.id} {spec.state} holds a session"
        for ms in self.sessions.values():
            s = ms.session
            held = s.state in (State.OFFERED, State.CONNECTED, State.ON_HOLD, State.WRAP_UP)
            leaders = [s.specialist] if held and s.specialist else []
            assert not held or s.specialist, f"{s.id} {s.state} without a specialist"
            for person in [*leaders, *ms.others, *([ms.invited] if ms.invited else [])]:
                assert holders.get(person) == s.id, f"{s.id} not held by {person}"
            if s.state is State.WAITING:
                assert s.specialist is None and not ms.others
            assert (s.end_reason is not None) == (s.state in (State.WRAP_UP, State.ENDED))

    def tick(self, now: float) -> list[tuple[str, str]]:
        """The safety net the hubs run every few seconds: offer each available specialist
        (longest idle first) their best ticket, for matches no event triggered (a decline's
        cooldown running out)."""
        offers: list[tuple[str, str]] = []
        for spec in sorted(self.specialists.values(), key=lambda s: (s.since, s.who.id)):
            offers += self.offer_best_for(spec.who.id, now)
        return offers

    def idle_with_work(self, now: float) -> list[str]:
        """Available specialists who have an eligible waiting ticket (should be none after
        :meth:`tick`)."""
        return [
            spec.who.id
            for spec in self.specialists.values()
            if spec.state == "available"
            and pick_ticket(spec.who, self._queues_of(spec.who), now, self.rules.scan_depth)
        ]
