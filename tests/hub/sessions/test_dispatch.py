"""The Redis scripts decide exactly what the reference model decides (differential test), and
keep their promises under concurrency: one session is never offered twice."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings

from hub.sessions.dispatch import Dispatch
from hub.sessions.lifecycle import EndReason
from hub.sessions.router import Model, Specialist, load_rules
from tests.hub.sessions.routing_ops import (
    SPECIALISTS,
    Op,
    apply_to_model,
    describe,
    op_lists,
    small_rules,
)


async def apply_to_redis(d: Dispatch, call: str, args: tuple[Any, ...], now: float):  # type: ignore[no-untyped-def]
    """Returns (refused, offers), like ``apply_to_model``."""
    match call, args:
        case "create", (sid, skill, priority, lang, hearing):
            _, offers = await d.create(
                sid,
                terminal_id=f"t-{sid}",
                branch_id="kita",
                purpose="moving",
                skill=skill,
                priority=priority,
                now=now,
                needs_language=lang,
                needs_hearing=hearing,
            )
            return False, list(offers)
        case "set_state", (who, state):
            out = await d.set_state(who, state, now)
        case "lose_specialist", (who,):
            out = await d.lose_specialist(who, now)
        case "tick", ():
            offers: list[tuple[str, str]] = []
            states = {}
            for s in SPECIALISTS:
                states[s.id] = await d.redis.hmget(f"mdg:specialist:{s.id}", "since", "state")
            for who in sorted(states, key=lambda w: (float(states[w][0]), w)):
                offers += (await d.offer_best_for(who, now)).offers
            return False, offers
        case "accept", (sid, who):
            out = await d.accept(sid, who, now)
        case "decline", (sid, who):
            out = await d.decline(sid, who, now)
        case "timeout", (sid, who):
            out = await d.decline(sid, who, now, timed_out=True)
        case "hold", (sid, who, on):
            out = await d.hold(sid, who, on, now)
        case "transfer", (sid, who, target):
            out = await d.transfer(sid, who, target, now)
        case "invite", (sid, who, target):
            out = await d.invite(sid, who, target, now)
        case "leave", (sid, who):
            out = await d.leave(sid, who, now)
        case "hang_up", (sid, reason):
            out = await d.hang_up(sid, reason, now)
        case "finish", (sid,):
            out = await d.finish(sid, now)
        case "end_waiting", (sid, reason):
            out = await d.end_waiting(sid, reason, now)
        case _:
            raise AssertionError(call)
    return not out.ok, list(out.offers)


async def _specialist_states(r: aioredis.Redis) -> dict[str, tuple[str, str | None]]:
    """(state, session id) of every specialist, as Redis holds them."""
    async with r.pipeline(transaction=False) as pipe:
        for s in SPECIALISTS:
            pipe.hmget(f"mdg:specialist:{s.id}", "state", "session_id")
        rows = await pipe.execute()
    return {s.id: (state, sid or None) for s, (state, sid) in zip(SPECIALISTS, rows, strict=True)}


def _model_states(model: Model) -> dict[str, tuple[str, str | None]]:
    return {name: (spec.state, spec.session_id) for name, spec in model.specialists.items()}


async def _differential(redis_url: str, ops: list[Op]) -> None:
    rules = small_rules()
    model = Model(rules)
    r = aioredis.from_url(redis_url, decode_responses=True)
    await r.flushall()
    d = Dispatch(r, rules)
    now = 1000.0
    for s in SPECIALISTS:
        model.register(s, now)
        await d.register(s, now)
    try:
        # Newcomers: the model and the scripts use the same word for their state.
        assert await _specialist_states(r) == _model_states(model)
        for index, op in enumerate(ops):
            now += op.step
            call = describe(model, op, index)
            if call is None:
                continue
            expected = apply_to_model(model, *call, now)
            got = await apply_to_redis(d, *call, now)
            assert got == expected, f"op {index} {call}: redis {got} != model {expected}"
            states = await _specialist_states(r)
            assert states == _model_states(model), f"op {index} {call}: specialists differ"
        for sid, ms in model.sessions.items():
            raw = await r.hgetall(f"mdg:session:{sid}")
            assert raw["state"] == ms.session.state.value, sid
            assert (raw["specialist"] or None) == (
                ms.session.specialist if ms.session.state.value != "waiting" else None
            ), sid
            assert [s for s, _ in json.loads(raw["history"])] == [
                s.value for s, _ in ms.session.history
            ]
            assert raw["others"] == ",".join(ms.others), sid
        for name, spec in model.specialists.items():
            raw = await r.hgetall(f"mdg:specialist:{name}")
            assert raw["state"] == spec.state, name
            assert (raw["session_id"] or None) == spec.session_id, name
    finally:
        await r.aclose()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(op_lists)
def test_redis_scripts_agree_with_the_model(redis_url: str, ops: list[Op]) -> None:
    asyncio.run(_differential(redis_url, ops))


async def test_concurrent_specialists_never_share_a_session(redis_url: str) -> None:
    """Fifty specialists become available at once on ten connections: every session is offered
    to exactly one of them, and none gets two."""
    rules = load_rules()
    clients = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(10)]
    dispatches = [Dispatch(c, rules) for c in clients]
    try:
        now = 5000.0
        for i in range(50):
            await dispatches[0].register(Specialist(f"sp{i:02d}", frozenset({"juumin"})), now)
        for i in range(30):
            await dispatches[0].create(
                f"s-{i:03d}",
                terminal_id=f"t{i}",
                branch_id="kita",
                purpose="moving",
                skill="juumin",
                priority="normal",
                now=now + i,
            )
        results = await asyncio.gather(
            *(dispatches[i % 10].set_state(f"sp{i:02d}", "available", now + 100) for i in range(50))
        )
        offers = [pair for r in results for pair in r.offers]
        sessions = [sid for sid, _ in offers]
        people = [who for _, who in offers]
        assert len(offers) == 30
        assert len(set(sessions)) == 30 and len(set(people)) == 30
        tickets = {await clients[0].hget(f"mdg:session:{s}", "ticket") for s in sessions}
        assert tickets == {f"A-{n:03d}" for n in range(1, 31)}
    finally:
        for c in clients:
            await c.aclose()


async def test_due_deadlines_are_claimed_once(redis_url: str) -> None:
    rules = load_rules()
    a = aioredis.from_url(redis_url, decode_responses=True)
    b = aioredis.from_url(redis_url, decode_responses=True)
    try:
        await a.zadd("mdg:deadlines", {f"offer:s-{i}:x": 100 + i for i in range(20)})
        first, second = await asyncio.gather(
            Dispatch(a, rules).claim_due(150.0), Dispatch(b, rules).claim_due(150.0)
        )
        assert sorted(first + second) == sorted(f"offer:s-{i}:x" for i in range(20))
        assert not set(first) & set(second)
        assert await Dispatch(a, rules).claim_due(150.0) == []
    finally:
        await a.aclose()
        await b.aclose()


async def test_wrong_hands_are_refused(redis_url: str) -> None:
    r = aioredis.from_url(redis_url, decode_responses=True)
    d = Dispatch(r, load_rules())
    try:
        await d.register(Specialist("a", frozenset({"juumin"})), 0.0)
        await d.register(Specialist("b", frozenset({"juumin"})), 0.0)
        await d.create(
            "s-1",
            terminal_id="t",
            branch_id="kita",
            purpose="moving",
            skill="juumin",
            priority="normal",
            now=1.0,
        )
        out = await d.set_state("a", "available", 2.0)
        assert out.offers == (("s-1", "a"),)
        assert not (await d.accept("s-1", "b", 3.0)).ok
        assert not (await d.set_state("a", "away", 3.0)).ok  # ringing: answer first
        assert (await d.accept("s-1", "a", 3.0)).ok
        assert not (await d.hang_up("s-nope", EndReason.COMPLETED, 4.0)).ok
        assert not (await d.transfer("s-1", "b", "zei", 4.0)).ok
    finally:
        await r.aclose()
