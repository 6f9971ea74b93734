"""The routing rules and the reference model: unit cases and invariants under random operations."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

import signaling as sig
from hub.errors import Refused
from hub.sessions.lifecycle import EndReason, State
from hub.sessions.router import (
    ROUTING_FILE,
    Model,
    Specialist,
    Ticket,
    eligible,
    load_rules,
    pick_ticket,
    rules_from,
    staff_catalog,
)
from tests.hub.sessions.routing_ops import (
    NAMES,
    SPECIALISTS,
    Op,
    apply_to_model,
    describe,
    op_lists,
    small_rules,
)

RULES = load_rules()
ONE = Specialist("suzuki", frozenset({"juumin"}))


def test_terminals_are_told_the_catalogs_purposes_in_its_order() -> None:
    data = json.loads(ROUTING_FILE.read_text(encoding="utf-8"))
    assert [p.id for p in RULES.terminal_purposes] == list(data["purposes"]) == list(RULES.purposes)
    moving = RULES.terminal_purposes[0]
    assert moving == sig.Purpose("moving", data["purposes"]["moving"]["ja"], "Moving")


@pytest.mark.parametrize(
    "entry",
    [
        {"skill": "juumin", "ja": "x" * 65, "en": "Moving"},
        {"skill": "juumin", "ja": "", "en": "Moving"},
        {"skill": "juumin", "en": "Moving"},
    ],
)
def test_a_purpose_a_terminal_cannot_take_fails_when_the_hub_starts(entry: object) -> None:
    data = json.loads(ROUTING_FILE.read_text(encoding="utf-8"))
    with pytest.raises(ValueError, match="purpose"):
        rules_from({**data, "purposes": {**data["purposes"], "moving": entry}})


def test_the_staff_screens_are_told_the_names_of_the_routing_the_hub_runs_with() -> None:
    shipped = json.loads(ROUTING_FILE.read_text(encoding="utf-8"))
    assert staff_catalog(RULES)["purposes"] == {
        k: {"skill": v["skill"], "ja": v["ja"], "en": v["en"]}
        for k, v in shipped["purposes"].items()
    }
    assert staff_catalog(RULES)["priorities"] == shipped["priorities"]
    # A deployment's own routing file: its names, its purposes, not the shipped ones.
    own = {
        **shipped,
        "purposes": {"pension": {"skill": "juumin", "ja": "年金の相談", "en": "Pensions"}},
        "priorities": {"normal": {"level": 0, "ja": "一般", "en": "General"}},
    }
    catalog = staff_catalog(rules_from(own))
    assert catalog["purposes"] == {
        "pension": {"skill": "juumin", "ja": "年金の相談", "en": "Pensions"}
    }
    assert catalog["priorities"] == {"normal": {"level": 0, "ja": "一般", "en": "General"}}


def _model(*specialists: Specialist) -> Model:
    model = Model(RULES)
    for s in specialists:
        model.register(s)
    return model


def _serve_all(model: Model, who: str, now: float) -> list[str]:
    """Let one specialist take every ticket in turn; the order they came in."""
    order = []
    offers = model.set_state(who, "available", now)
    while offers:
        sid, _ = offers[0]
        order.append(sid)
        now += 1
        model.accept(sid, who, now)
        model.hang_up(sid, EndReason.COMPLETED, now)
        offers = model.finish(sid, now)
    return order


def test_fifo_within_a_priority() -> None:
    model = _model(ONE)
    for i in range(5):
        model.create(f"s-{i}", "juumin", "normal", 100.0 + i)
    assert _serve_all(model, "suzuki", 200.0) == [f"s-{i}" for i in range(5)]


def test_priority_goes_first_but_never_starves_the_others() -> None:
    model = _model(ONE)
    model.create("old-normal", "juumin", "normal", 0.0)  # waited longest: 700 s head start
    model.create("normal", "juumin", "normal", 500.0)
    model.create("elderly", "juumin", "elderly", 650.0)  # rank 50: ahead of "normal" only
    assert _serve_all(model, "suzuki", 700.0) == ["old-normal", "elderly", "normal"]


def test_ranks() -> None:
    assert RULES.rank(1000.0, "elderly") == 1000.0 - RULES.priority_head_start_s
    assert RULES.rank(1000.0, "unknown") == 1000.0
    assert RULES.head_rank(1000.0) < RULES.rank(0.0, "elderly")
    assert RULES.skill_for("moving") == "juumin" and RULES.skill_for("nope") is None


def test_needs_are_respected() -> None:
    interpreter = Specialist("baba", frozenset({"juumin"}), frozenset({"en"}))
    t = Ticket("s", "juumin", 0.0, needs_language="en")
    assert eligible(t, interpreter, 0.0) and not eligible(t, ONE, 0.0)
    hearing = Ticket("h", "juumin", 0.0, needs_hearing=True)
    assert not eligible(hearing, interpreter, 0.0)
    assert eligible(hearing, Specialist("x", frozenset({"juumin"}), hearing_support=True), 0.0)
    declined = Ticket("d", "juumin", 0.0, declined={"suzuki": 50.0})
    assert not eligible(declined, ONE, 10.0) and eligible(declined, ONE, 60.0)


def test_pick_skips_what_it_cannot_serve_and_prefers_the_lowest_rank() -> None:
    queues = {
        "juumin": [Ticket("a", "juumin", 1.0, needs_language="fr"), Ticket("b", "juumin", 5.0)],
        "@suzuki": [Ticket("c", "@suzuki", 3.0)],
    }
    assert pick_ticket(ONE, queues, 0.0, depth=8).id == "c"  # type: ignore[union-attr]
    assert pick_ticket(ONE, {"juumin": queues["juumin"]}, 0.0, depth=1) is None


def test_decline_and_timeout_go_to_the_next_specialist() -> None:
    a, b = Specialist("a", frozenset({"juumin"})), Specialist("b", frozenset({"juumin"}))
    model = _model(a, b)
    model.set_state("a", "available", 1.0)
    model.set_state("b", "available", 2.0)
    assert model.create("s", "juumin", "normal", 3.0) == [("s", "a")]  # idle longest
    assert model.decline("s", "a", 4.0) == [("s", "b")]
    assert model.decline("s", "b", 5.0, timed_out=True) == []  # a declined: cooling down
    assert model.specialists["b"].state == "away"  # an unanswered console is not rung again
    assert model.tick(4.0 + RULES.decline_cooldown_s + 1) == [("s", "a")]


def test_transfer_keeps_the_head_of_the_new_queue() -> None:
    juumin, zei = Specialist("j", frozenset({"juumin"})), Specialist("z", frozenset({"zei"}))
    model = _model(juumin, zei)
    model.create("early", "zei", "elderly", 0.0)
    model.create("moved", "juumin", "normal", 10.0)
    model.set_state("j", "available", 20.0)
    model.accept("moved", "j", 21.0)
    model.transfer("moved", "j", "zei", 900.0)
    assert model.sessions["moved"].session.state is State.WAITING
    assert model.set_state("z", "available", 901.0) == [("moved", "z")]


def test_invite_join_and_hand_over() -> None:
    a, b = Specialist("a", frozenset({"juumin"})), Specialist("b", frozenset({"zei"}))
    model = _model(a, b)
    model.set_state("a", "available", 0.0)
    model.create("s", "juumin", "normal", 1.0)
    model.accept("s", "a", 2.0)
    model.set_state("b", "available", 3.0)
    model.invite("s", "a", "b", 4.0)
    model.accept("s", "b", 5.0)
    assert model.sessions["s"].others == ["b"]
    model.leave("s", "a", 6.0)  # a hands over to b
    assert model.sessions["s"].session.specialist == "b"
    assert model.specialists["a"].state == "available"
    try:
        model.leave("s", "b", 7.0)  # the last one cannot leave: end or transfer instead
    except Refused:
        pass
    else:
        raise AssertionError("the last specialist left the resident alone")
    model.check()


def _run(ops: list[Op]) -> Model:
    model = Model(small_rules())
    for s in SPECIALISTS:
        model.register(s)
    now = 1000.0
    for index, op in enumerate(ops):
        now += op.step
        call = describe(model, op, index)
        if call is not None:
            apply_to_model(model, *call, now)
        model.check()
    return model


@settings(max_examples=300, deadline=None)
@given(op_lists)
def test_invariants_hold_under_random_operations(ops: list[Op]) -> None:
    _run(ops)


@settings(max_examples=200, deadline=None)
@given(op_lists)
def test_every_ticket_ends_exactly_once_with_a_reason(ops: list[Op]) -> None:
    model = _run(ops)
    now = 10_000.0
    for name in NAMES:  # everyone comes back to work, and the queue is drained
        if model.specialists[name].state in ("away", "offline"):
            model.set_state(name, "available", now)
    for _ in range(500):
        now += 100.0
        model.tick(now)
        busy = False
        for sid, ms in sorted(model.sessions.items()):
            state = ms.session.state
            if state is State.OFFERED:
                model.accept(sid, ms.session.specialist, now)  # type: ignore[arg-type]
            elif state in (State.CONNECTED, State.ON_HOLD):
                model.hang_up(sid, EndReason.COMPLETED, now)
            elif state is State.WRAP_UP:
                model.finish(sid, now)
            busy = busy or state is not State.ENDED
            model.check()
        if not busy:
            break
        # What nobody can serve (a language no specialist of that skill speaks) is cancelled by
        # staff; everything else must have been served.
        for sid, ms in sorted(model.sessions.items()):
            if ms.session.state is State.WAITING and not any(
                ms.ticket.queue in s.queues() and eligible(ms.ticket, s, float("inf"))
                for s in SPECIALISTS
            ):
                model.end_waiting(sid, EndReason.CANCELLED, now)
    for ms in model.sessions.values():
        assert ms.session.state is State.ENDED, ms
        assert ms.session.end_reason is not None
        ends = [s for s, _ in ms.session.history if s is State.ENDED]
        assert len(ends) == 1
    assert model.idle_with_work(now) == []
