"""The session lifecycle table, exhaustively and with random event sequences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.sessions.lifecycle import (
    TRANSITIONS,
    EndReason,
    Event,
    IllegalTransition,
    Session,
    State,
    apply,
    lua_table,
)


def test_the_happy_path() -> None:
    s = Session.new("s-1", now=100.0)
    s = apply(s, Event.OFFER, 101.0, specialist="suzuki")
    s = apply(s, Event.ACCEPT, 105.0)
    s = apply(s, Event.HANG_UP, 300.0, reason=EndReason.COMPLETED)
    s = apply(s, Event.FINISH, 360.0)
    assert s.state is State.ENDED
    assert [st for st, _ in s.history] == [
        State.WAITING,
        State.OFFERED,
        State.CONNECTED,
        State.WRAP_UP,
        State.ENDED,
    ]
    assert s.entered(State.CONNECTED) == 105.0
    assert s.specialist == "suzuki"
    assert s.end_reason is EndReason.COMPLETED


def test_decline_and_transfer_go_back_to_waiting_without_a_specialist() -> None:
    s = apply(Session.new("s", 0.0), Event.OFFER, 1.0, specialist="a")
    assert apply(s, Event.DECLINE, 2.0).specialist is None
    s = apply(apply(s, Event.ACCEPT, 2.0), Event.HOLD, 3.0)
    assert s.state is State.ON_HOLD
    s = apply(s, Event.TRANSFER, 4.0)
    assert s.state is State.WAITING and s.specialist is None


def test_lua_table_lists_every_transition() -> None:
    rendered = lua_table()
    for (state, event), target in TRANSITIONS.items():
        assert f'["{state.value}:{event.value}"]="{target.value}"' in rendered


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", list(Event))
def test_every_pair_is_either_in_the_table_or_refused(state: State, event: Event) -> None:
    session = Session(id="s", state=state, history=((state, 0.0),))
    kwargs = {"specialist": "x", "reason": EndReason.CANCELLED}
    session = Session(id="s", state=state, history=((state, 0.0),), specialist="x")
    if (state, event) in TRANSITIONS:
        assert apply(session, event, 1.0, **kwargs).state is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(IllegalTransition) as info:
            apply(session, event, 1.0, **kwargs)
        assert state.value in str(info.value) and event.value in str(info.value)


def test_ended_is_final() -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] is State.ENDED]


def test_offer_needs_a_specialist_and_an_end_a_reason() -> None:
    s = Session.new("s", 0.0)
    with pytest.raises(ValueError, match="specialist"):
        apply(s, Event.OFFER, 1.0)
    with pytest.raises(ValueError, match="reason"):
        apply(s, Event.END, 1.0)


@given(
    st.lists(st.tuples(st.sampled_from(list(Event)), st.floats(0, 1e6)), max_size=12),
    st.sampled_from(list(EndReason)),
)
def test_random_events_keep_the_invariants(
    events: list[tuple[Event, float]], reason: EndReason
) -> None:
    s = Session.new("s", 0.0)
    now = 0.0
    for event, step in events:
        now += step
        try:
            s = apply(s, event, now, specialist="suzuki", reason=reason)
        except IllegalTransition:
            continue
    times = [at for _, at in s.history]
    assert times == sorted(times)
    assert s.history[0][0] is State.WAITING
    assert s.history[-1][0] is s.state
    assert (s.state in (State.WRAP_UP, State.ENDED)) == (s.end_reason is not None)
    if s.state is State.WAITING:
        assert s.specialist is None
    if s.state in (State.OFFERED, State.CONNECTED, State.ON_HOLD, State.WRAP_UP):
        assert s.specialist == "suzuki"
    assert [st for st, _ in s.history].count(State.ENDED) <= 1
