"""Random operation sequences for the router: one generator, two interpreters (the pure model
and the Redis scripts), so the property tests and the differential test share their inputs."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from hub.errors import Refused
from hub.sessions.lifecycle import EndReason, State
from hub.sessions.router import Model, Rules, Specialist, load_rules

SPECIALISTS = (
    Specialist("aoki", frozenset({"juumin"})),
    Specialist("baba", frozenset({"juumin", "zei"}), frozenset({"en"})),
    Specialist("chiba", frozenset({"zei", "kokuho"}), hearing_support=True),
    Specialist("doi", frozenset({"kosodate", "juumin"}), frozenset({"zh", "en"})),
    Specialist("endo", frozenset({"kokuho"})),
)
NAMES = [s.id for s in SPECIALISTS]
SKILLS = ["juumin", "zei", "kokuho", "kosodate"]
PRIORITIES = ["normal", "elderly"]
OP_KINDS = [
    *["create"] * 4,
    *["available"] * 3,
    "away",
    *["accept"] * 5,
    *["decline"] * 2,
    "timeout",
    "hold",
    *["transfer"] * 2,
    *["invite"] * 2,
    "leave",
    *["hang_up"] * 2,
    *["finish"] * 2,
    "end_waiting",
    "lose",
    "tick",
]


def small_rules() -> Rules:
    return load_rules().with_(scan_depth=8)


@dataclass(frozen=True)
class Op:
    kind: str
    step: float  # seconds since the previous op
    a: int  # picks a session or a specialist
    b: int  # picks a second one, a skill or a priority
    lang: str | None
    hearing: bool


ops = st.builds(
    Op,
    kind=st.sampled_from(OP_KINDS),
    step=st.sampled_from([0.0, 0.5, 3.0, 30.0, 90.0]),
    a=st.integers(0, 50),
    b=st.integers(0, 50),
    lang=st.sampled_from([None, None, None, "en", "zh"]),
    hearing=st.sampled_from([False, False, False, True]),
)
# Three of the five specialists start available, so offers happen from the first ticket on.
_OPENING = [Op("available", 0.0, i, 0, None, False) for i in range(3)]
op_lists = st.lists(ops, min_size=5, max_size=80).map(lambda rest: _OPENING + rest)


def pick_session(model: Model, op: Op, *states: State) -> str | None:
    ids = sorted(sid for sid, ms in model.sessions.items() if ms.session.state in states)
    return ids[op.a % len(ids)] if ids else None


def specialist_for(model: Model, sid: str, *, invited: bool = False) -> str | None:
    ms = model.sessions[sid]
    return ms.invited if invited else ms.session.specialist


def describe(model: Model, op: Op, index: int) -> tuple[str, tuple[object, ...]] | None:
    """The concrete call an op stands for, chosen from the model's state before it; None when
    there is nothing to apply it to."""
    who = NAMES[op.a % len(NAMES)]
    if op.kind == "create":
        skill = SKILLS[op.b % len(SKILLS)]
        return "create", (f"s-{index:03d}", skill, PRIORITIES[op.b % 2], op.lang, op.hearing)
    if op.kind in ("available", "away"):
        return "set_state", (who, op.kind)
    if op.kind == "lose":
        return "lose_specialist", (who,)
    if op.kind == "tick":
        return "tick", ()
    if op.kind in ("accept", "decline", "timeout"):
        invited = op.b % 3 == 0
        sid = (
            pick_session(model, op, State.CONNECTED, State.ON_HOLD)
            if invited
            else pick_session(model, op, State.OFFERED)
        )
        if sid is None or (person := specialist_for(model, sid, invited=invited)) is None:
            return None
        return op.kind, (sid, person)
    live = pick_session(model, op, State.CONNECTED, State.ON_HOLD)
    if op.kind == "hold":
        if live is None:
            return None
        ms = model.sessions[live]
        return "hold", (live, ms.session.specialist, ms.session.state is State.CONNECTED)
    if op.kind == "transfer":
        if live is None:
            return None
        target = f"@{NAMES[op.b % len(NAMES)]}" if op.b % 4 == 0 else SKILLS[op.b % len(SKILLS)]
        return "transfer", (live, model.sessions[live].session.specialist, target)
    if op.kind == "invite":
        if live is None:
            return None
        return "invite", (live, model.sessions[live].session.specialist, NAMES[op.b % 5])
    if op.kind == "leave":
        if live is None:
            return None
        ms = model.sessions[live]
        people = [ms.session.specialist, *ms.others]
        return "leave", (live, people[op.b % len(people)])
    if op.kind == "hang_up":
        if live is None:
            return None
        return "hang_up", (live, list(EndReason)[op.b % len(EndReason)])
    if op.kind == "finish":
        sid = pick_session(model, op, State.WRAP_UP)
        return None if sid is None else ("finish", (sid,))
    if op.kind == "end_waiting":
        sid = pick_session(model, op, State.WAITING, State.OFFERED)
        reason = [EndReason.ABANDONED, EndReason.CANCELLED, EndReason.TERMINAL_LOST][op.b % 3]
        return None if sid is None else ("end_waiting", (sid, reason))
    raise AssertionError(op.kind)


def apply_to_model(model: Model, call: str, args: tuple[object, ...], now: float):  # type: ignore[no-untyped-def]
    """Returns (refused, offers)."""
    try:
        match call, args:
            case "create", (sid, skill, priority, lang, hearing):
                offers = model.create(
                    sid, skill, priority, now, needs_language=lang, needs_hearing=hearing
                )
            case "set_state", (who, state):
                offers = model.set_state(who, state, now)
            case "lose_specialist", (who,):
                offers = model.lose_specialist(who, now)
            case "tick", ():
                offers = model.tick(now)
            case "accept", (sid, who):
                model.accept(sid, who, now)
                offers = []
            case "decline", (sid, who):
                offers = model.decline(sid, who, now)
            case "timeout", (sid, who):
                offers = model.decline(sid, who, now, timed_out=True)
            case "hold", (sid, who, on):
                model.hold(sid, who, on, now)
                offers = []
            case "transfer", (sid, who, target):
                offers = model.transfer(sid, who, target, now)
            case "invite", (sid, who, target):
                model.invite(sid, who, target, now)
                offers = []
            case "leave", (sid, who):
                offers = model.leave(sid, who, now)
            case "hang_up", (sid, reason):
                offers = model.hang_up(sid, reason, now)
            case "finish", (sid,):
                offers = model.finish(sid, now)
            case "end_waiting", (sid, reason):
                offers = model.end_waiting(sid, reason, now)
            case _:
                raise AssertionError(call)
    except Refused:
        return True, []
    return False, offers
