"""The terminal's phase table: what it allows, that no sequence of events leaves it, and that the
terminal (driven by hub messages, with no hub) moves exactly as the table and the terminal's
logic before the table said."""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import signaling as sig
from branch_client import phases
from branch_client.config import BranchConfig
from branch_client.phases import (
    FREE,
    LIVE,
    TALKING,
    TRANSITIONS,
    Event,
    IllegalEvent,
    Phase,
    PhaseError,
    next_phase,
)
from branch_client.terminal import Terminal

IDLE, W, C, T, E = Phase.IDLE, Phase.WAITING, Phase.CONNECTED, Phase.IN_CALL, Phase.ENDED

EXPECTED = {
    # session.waiting: from any phase (a new session, a transfer, a resume's answer).
    **{(p, Event.SESSION_WAITING): W for p in Phase},
    # session.connected: from any phase (a specialist took it; the hub kept it while the
    # terminal restarted; the answer to a resume).
    **{(p, Event.SESSION_CONNECTED): C for p in Phase},
    # A call coming up: only while the session is on.
    (W, Event.CALL_CONNECTED): T,
    (C, Event.CALL_CONNECTED): T,
    (T, Event.CALL_CONNECTED): T,
    # session.ended: from any phase with a session (again while ended: the goodbye restarts).
    (W, Event.SESSION_ENDED): E,
    (C, Event.SESSION_ENDED): E,
    (T, Event.SESSION_ENDED): E,
    (E, Event.SESSION_ENDED): E,
    # The goodbye screen's timer.
    (E, Event.GOODBYE_OVER): IDLE,
}


def test_the_table_is_what_the_terminal_did() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize("phase", list(Phase))
@pytest.mark.parametrize("event", list(Event))
def test_every_pair_is_allowed_or_refused_by_name(phase: Phase, event: Event) -> None:
    if (phase, event) in TRANSITIONS:
        assert next_phase(phase, event) is TRANSITIONS[(phase, event)]
        return
    with pytest.raises(IllegalEvent) as info:
        next_phase(phase, event)
    assert phase.value in str(info.value) and event.value in str(info.value)
    assert info.value.phase is phase and info.value.event is event
    assert isinstance(info.value, PhaseError) and info.value.code == "illegal_phase"


def test_the_named_sets_of_phases() -> None:
    assert LIVE == set(Phase) - {IDLE, E} and FREE == set(Phase) - LIVE
    assert TALKING < LIVE and W not in TALKING


def test_the_theory_of_operation_names_every_phase_and_event() -> None:
    doc = phases.__doc__ or ""
    assert "Theory of operation" in doc
    for name in [*Phase, *Event]:
        assert f"``{name.value}``" in doc, name


def test_every_phase_is_reachable_and_leads_back_to_idle() -> None:
    def reachable(start: Phase) -> set[Phase]:
        seen, todo = {start}, [start]
        while todo:
            here = todo.pop()
            for (source, _), target in TRANSITIONS.items():
                if source is here and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    assert reachable(IDLE) == set(Phase)
    assert all(IDLE in reachable(p) for p in Phase)


@given(st.lists(st.sampled_from(list(Event)), max_size=30))
def test_no_sequence_of_events_reaches_an_undefined_phase(events: list[Event]) -> None:
    phase = IDLE
    for event in events:
        try:
            after = next_phase(phase, event)
        except IllegalEvent as exc:
            assert (phase, event) not in TRANSITIONS and exc.phase is phase
            continue
        assert after in Phase and after is TRANSITIONS[(phase, event)]
        phase = after


# -- the terminal follows the table --------------------------------------------------------------


@dataclass
class Before:
    """terminal.py's phase logic before the table, as a reference: ``_enter`` and the message
    handlers that called it. The one change: a call coming up once the session ended no longer
    puts the kiosk back in a call (the terminal hangs up on ``session.ended``, and the hub relays
    offers only while a session is connected, so it never did in practice)."""

    phase: str = "idle"
    session: str | None = None
    ask_rating: bool = False
    ended: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=16))

    def enter(self, phase: str, sid: str) -> None:
        if self.session != sid:
            self.ask_rating = False
        self.phase, self.session = phase, sid

    def apply(self, what: str, sid: str) -> None:
        if what == "waiting" and sid not in self.ended:
            self.enter("waiting", sid)
        elif what == "connected":
            self.enter("connected", sid)  # no call is live in this test
        elif what == "call_up" and sid == self.session and self.phase != "ended":
            self.enter("in_call", sid)
        elif what == "ended" and sid == self.session:
            self.ended.append(sid)
            talked = self.phase in ("connected", "in_call")
            self.enter("ended", sid)
            self.ask_rating = talked
        elif what == "goodbye" and self.phase == "ended" and self.session == sid:
            self.phase, self.session = "idle", None


async def happen(term: Terminal, what: str, sid: str, transferred: bool) -> None:
    """What the hub (or the terminal's call and timer) would do."""
    if what == "waiting":
        waiting = sig.SessionWaiting(
            session_id=sid, ticket="A-001", position=1, transferred=transferred
        )
        await term.received(waiting)
    elif what == "connected":
        await term.received(sig.SessionConnected(session_id=sid))
    elif what == "call_up":
        term._call_connected(sid)  # what the call says when a peer connection comes up
    elif what == "ended":
        await term.received(sig.SessionEnded(session_id=sid, reason="completed"))
    else:
        term._goodbye_over(sid)  # the goodbye screen's timer


HAPPENINGS = st.lists(
    st.tuples(
        st.sampled_from(["waiting", "connected", "call_up", "ended", "goodbye"]),
        st.sampled_from(["s-1", "s-2", "s-3"]),
        st.booleans(),
    ),
    max_size=25,
)


@settings(deadline=None, max_examples=60)
@given(HAPPENINGS)
def test_the_terminal_moves_as_the_table_says(steps: list[tuple[str, str, bool]]) -> None:
    async def scenario() -> None:
        config = BranchConfig.from_env(
            {}, hub_url="http://127.0.0.1:9", token="t", card_reader="none"
        )
        term = Terminal(config)  # never linked: what it sends goes nowhere
        reference = Before()
        try:
            for what, sid, transferred in steps:
                before = term.status.phase
                await happen(term, what, sid, transferred)
                reference.apply(what, sid)
                after = term.status.phase
                assert after in Phase
                if after is not before:
                    assert TRANSITIONS[(before, _event_of(what))] is after
                assert (after, term.status.session_id) == (reference.phase, reference.session)
                assert term.status.ask_rating == reference.ask_rating
                assert term.snapshot()["phase"] == reference.phase
        finally:
            await term.close()

    asyncio.run(scenario())


def _event_of(what: str) -> Event:
    return {
        "waiting": Event.SESSION_WAITING,
        "connected": Event.SESSION_CONNECTED,
        "call_up": Event.CALL_CONNECTED,
        "ended": Event.SESSION_ENDED,
        "goodbye": Event.GOODBYE_OVER,
    }[what]
