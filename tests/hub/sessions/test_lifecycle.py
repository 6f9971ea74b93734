"""The session lifecycle table, exhaustively and with random event sequences; and the Lua that
Redis runs moves sessions exactly as the table says.

The table is rendered into the routing scripts' prelude (``local T = {...}``), whose
``transition()`` applies it inside Redis. Two checks, each shown to fail on a tampered copy:
the ``T`` of every loaded script, parsed back, is the table; and ``transition()`` run in a real
Redis for every (state, event) pair moves (or refuses) the session as :func:`apply` does.
"""

from __future__ import annotations

import json
import re

import pytest
import redis.asyncio as aioredis
from hypothesis import given
from hypothesis import strategies as st

from hub import lua
from hub.sessions import dispatch
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


# -- the table and the Lua ---------------------------------------------------------------------

Table = dict[tuple[State, Event], State]

_T_LINE = re.compile(r"^local T = (\{.*\})$", re.MULTILINE)
_ENTRY = re.compile(r"""\["(\w+):(\w+)"\]=["'](\w+)["']""")


def parse_lua_table(literal: str) -> Table:
    """The transitions in a rendered Lua table literal; AssertionError on anything else in it."""
    assert literal.startswith("{") and literal.endswith("}"), literal
    entries = [e for e in literal[1:-1].split(", ") if e]
    table: Table = {}
    for entry in entries:
        found = _ENTRY.fullmatch(entry)
        assert found is not None, f"not a transition: {entry!r}"
        pair = (State(found[1]), Event(found[2]))
        assert pair not in table, f"twice: {entry!r}"
        table[pair] = State(found[3])
    return table


def transitions_in(script: str) -> Table:
    """The ``T`` a rendered script defines (exactly one)."""
    lines = _T_LINE.findall(script)
    assert len(lines) == 1, f"{len(lines)} lines define T"
    return parse_lua_table(lines[0])


def differences(found: Table) -> list[str]:
    """How ``found`` differs from TRANSITIONS, one line per pair."""
    return [
        f"{s.value} + {e.value}: Lua {found.get((s, e))}, table {TRANSITIONS.get((s, e))}"
        for s in State
        for e in Event
        if found.get((s, e)) != TRANSITIONS.get((s, e))
    ]


def rendered_prelude() -> str:
    return lua.render(lua.source("dispatch", "prelude"), dispatch.rendered_tables())


def test_every_loaded_routing_script_carries_the_table() -> None:
    scripts = dispatch.scripts()
    assert scripts, "no routing scripts"
    for name, script in scripts.items():
        assert differences(transitions_in(script.text)) == [], name
    assert differences(parse_lua_table(lua_table())) == []


def test_the_parsed_check_reports_a_tampered_table() -> None:
    prelude = rendered_prelude()
    wrong = prelude.replace('["offered:accept"]="connected"', '["offered:accept"]="on_hold"')
    dropped = prelude.replace('["wrap_up:finish"]="ended", ', "").replace(
        ', ["wrap_up:finish"]="ended"', ""
    )
    added = prelude.replace("local T = {", 'local T = {["ended:offer"]="offered", ')
    assert wrong != prelude and dropped != prelude and added != prelude
    assert differences(transitions_in(wrong)) == ["offered + accept: Lua on_hold, table connected"]
    assert differences(transitions_in(dropped)) == ["wrap_up + finish: Lua None, table ended"]
    assert differences(transitions_in(added)) == ["ended + offer: Lua offered, table None"]


# The prelude's own transition(), run on one session hash: what it answers and what it leaves.
_PROBE = """
local target = transition(ARGV[1], ARGV[2], tonumber(ARGV[3]))
local k = K.session .. ARGV[1]
return {target or '', redis.call('HGET', k, 'state'), redis.call('HGET', k, 'history'),
        target and redis.call('HGET', k, target .. '_at') or ''}
"""


async def lua_disagreements(redis: aioredis.Redis, prelude: str) -> list[str]:
    """Run ``transition()`` of ``prelude`` in Redis for every (state, event) pair on a session
    in that state; one line per pair where it does not do what TRANSITIONS says."""
    probe = lua.Script.of("probe", prelude + _PROBE)
    out = []
    for state in State:
        for event in Event:
            await redis.delete("mdg:session:probe")
            await redis.hset(
                "mdg:session:probe",
                mapping={"state": state.value, "history": json.dumps([[state.value, 100.0]])},
            )
            target, after, history, at = await probe(redis, ["probe", event.value, "250.5"])
            expected = TRANSITIONS.get((state, event))
            if expected is None:
                right = target == "" and after == state.value and len(json.loads(history)) == 1
            else:
                right = (
                    target == after == expected.value
                    and json.loads(history) == [[state.value, 100.0], [expected.value, 250.5]]
                    and at == "250.500000"
                )
            if not right:
                out.append(f"{state.value} + {event.value}: Lua {target or None}, table {expected}")
    return out


async def test_redis_moves_every_pair_as_the_table_says(redis_url: str) -> None:
    redis = aioredis.from_url(redis_url, decode_responses=True)
    try:
        assert await lua_disagreements(redis, rendered_prelude()) == []
    finally:
        await redis.aclose()


async def test_the_redis_check_reports_a_tampered_table(redis_url: str) -> None:
    prelude = rendered_prelude()
    tampered = prelude.replace('["on_hold:resume"]="connected"', '["on_hold:resume"]="wrap_up"')
    tampered = tampered.replace("local T = {", 'local T = {["ended:finish"]="ended", ')
    assert tampered.count("wrap_up") > prelude.count("wrap_up")
    # The right table, looked up the wrong way round: every legal move is refused.
    misread = prelude.replace("T[state .. ':' .. event]", "T[event .. ':' .. state]")
    assert misread != prelude
    redis = aioredis.from_url(redis_url, decode_responses=True)
    try:
        assert await lua_disagreements(redis, tampered) == [
            "on_hold + resume: Lua wrap_up, table connected",
            "ended + finish: Lua ended, table None",
        ]
        assert len(await lua_disagreements(redis, misread)) == len(TRANSITIONS)
    finally:
        await redis.aclose()
