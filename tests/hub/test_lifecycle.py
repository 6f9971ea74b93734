"""The session lifecycle table, exhaustively and with random event sequences."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.lifecycle import (
    TRANSITIONS,
    EndReason,
    Event,
    IllegalTransition,
    Session,
    State,
    apply,
)


def test_the_happy_path() -> None:
    s = Session.new("s-1", now=100.0)
    s = apply(s, Event.ACCEPT, 105.0, specialist="suzuki")
    s = apply(s, Event.END, 300.0, reason=EndReason.COMPLETED)
    assert s.state is State.ENDED
    assert [st for st, _ in s.history] == [State.WAITING, State.CONNECTED, State.ENDED]
    assert s.entered(State.CONNECTED) == 105.0
    assert s.specialist == "suzuki"
    assert s.end_reason is EndReason.COMPLETED


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", list(Event))
def test_every_pair_is_either_in_the_table_or_refused(state: State, event: Event) -> None:
    session = Session(id="s", state=state, history=((state, 0.0),))
    kwargs = {"specialist": "x", "reason": EndReason.CANCELLED}
    if (state, event) in TRANSITIONS:
        assert apply(session, event, 1.0, **kwargs).state is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(IllegalTransition) as info:
            apply(session, event, 1.0, **kwargs)
        assert state.value in str(info.value) and event.value in str(info.value)


def test_ended_is_final() -> None:
    assert not [pair for pair in TRANSITIONS if pair[0] is State.ENDED]


def test_accept_needs_a_specialist_and_end_a_reason() -> None:
    s = Session.new("s", 0.0)
    with pytest.raises(ValueError, match="specialist"):
        apply(s, Event.ACCEPT, 1.0)
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
    assert (s.state is State.ENDED) == (s.end_reason is not None)
    assert s.state is State.WAITING or s.specialist == "suzuki" or s.state is State.ENDED
