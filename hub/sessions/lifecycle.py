"""The session lifecycle: every state a counter session can be in, and every move between them.

Theory of operation
-------------------
A session starts ``waiting`` in a queue when a resident asks for a counter at a terminal. The
router *offers* it to one specialist (``offered``: their console rings). They accept
(``connected``: the call is set up) or decline, or let the offer time out; both put it back in
its queue, at the same place, for the next specialist. While connected the specialist can put the
resident on hold and back, transfer the session to another skill's queue or a named colleague
(``waiting`` again, at the head of that queue: the resident stays at the terminal, the
specialists change), or hang up (``wrap_up``: the resident is released, the specialist finishes
their notes) and then finish (``ended``). A session that never reached a specialist ends straight
from ``waiting`` or ``offered`` (the resident left, staff cancelled, the terminal was lost). If a
specialist is lost mid-call, the session is requeued at the head of its queue.

Every session ends exactly once, with a reason (:class:`EndReason`), set when the resident's part
ends (``hang_up`` or ``end``).

This table is the single source of truth: :func:`apply` uses it for pure code and tests, and
:func:`lua_table` renders it into the Redis scripts (:mod:`hub.sessions.dispatch`) that apply
transitions atomically across hub processes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final


class State(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    CONNECTED = "connected"
    ON_HOLD = "on_hold"
    WRAP_UP = "wrap_up"
    ENDED = "ended"


class Event(StrEnum):
    OFFER = "offer"
    ACCEPT = "accept"
    DECLINE = "decline"
    OFFER_TIMEOUT = "offer_timeout"
    HOLD = "hold"
    RESUME = "resume"
    TRANSFER = "transfer"
    REQUEUE = "requeue"
    HANG_UP = "hang_up"
    FINISH = "finish"
    END = "end"


class EndReason(StrEnum):
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    NO_ANSWER = "no_answer"
    TERMINAL_LOST = "terminal_lost"
    CANCELLED = "cancelled"


W, OF, C, H, U, E = (
    State.WAITING,
    State.OFFERED,
    State.CONNECTED,
    State.ON_HOLD,
    State.WRAP_UP,
    State.ENDED,
)

TRANSITIONS: Final[dict[tuple[State, Event], State]] = {
    (W, Event.OFFER): OF,
    (OF, Event.ACCEPT): C,
    (OF, Event.DECLINE): W,
    (OF, Event.OFFER_TIMEOUT): W,
    (C, Event.HOLD): H,
    (H, Event.RESUME): C,
    (C, Event.TRANSFER): W,
    (H, Event.TRANSFER): W,
    (OF, Event.REQUEUE): W,
    (C, Event.REQUEUE): W,
    (H, Event.REQUEUE): W,
    (C, Event.HANG_UP): U,
    (H, Event.HANG_UP): U,
    (U, Event.FINISH): E,
    (W, Event.END): E,
    (OF, Event.END): E,
}
"""(state, event) -> next state. A pair that is not here is illegal."""

NEEDS_REASON: Final = frozenset({Event.HANG_UP, Event.END})
NEEDS_SPECIALIST: Final = frozenset({Event.OFFER})
ACTIVE: Final = frozenset({W, OF, C, H})
"""States in which the resident is still at the terminal."""


class LifecycleError(Exception):
    code = "lifecycle_error"


class IllegalTransition(LifecycleError):
    """An event the table does not allow in the current state."""

    code = "illegal_state"

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"event {event.value!r} is not allowed in state {state.value!r}")
        self.state = state
        self.event = event


@dataclass(frozen=True)
class Session:
    """A session as the lifecycle sees it. ``history`` holds (state, unix time) in order;
    ``specialist`` is who it is offered to or who leads it."""

    id: str
    state: State
    history: tuple[tuple[State, float], ...]
    specialist: str | None = None
    end_reason: EndReason | None = None

    @classmethod
    def new(cls, session_id: str, now: float) -> Session:
        return cls(id=session_id, state=State.WAITING, history=((State.WAITING, now),))

    def entered(self, state: State) -> float | None:
        """When the session last entered ``state``, or None."""
        for seen, at in reversed(self.history):
            if seen is state:
                return at
        return None


def apply(
    session: Session,
    event: Event,
    now: float,
    *,
    specialist: str | None = None,
    reason: EndReason | None = None,
) -> Session:
    """The session after ``event`` at ``now``. Raises IllegalTransition, or ValueError when an
    event lacks its argument (``specialist`` with OFFER, ``reason`` with HANG_UP and END)."""
    target = TRANSITIONS.get((session.state, event))
    if target is None:
        raise IllegalTransition(session.state, event)
    if event in NEEDS_SPECIALIST and not specialist:
        raise ValueError(f"{event.value} needs the specialist")
    if event in NEEDS_REASON and reason is None:
        raise ValueError(f"{event.value} needs a reason")
    changed = replace(session, state=target, history=(*session.history, (target, now)))
    if event in NEEDS_SPECIALIST:
        changed = replace(changed, specialist=specialist)
    elif target is State.WAITING:
        changed = replace(changed, specialist=None)
    if event in NEEDS_REASON:
        changed = replace(changed, end_reason=reason)
    return changed


def lua_table() -> str:
    """The transition table as a Lua table literal: ``{["waiting:offer"]="offered", ...}``."""
    items = ", ".join(
        f'["{state.value}:{event.value}"]="{target.value}"'
        for (state, event), target in sorted(TRANSITIONS.items())
    )
    return "{" + items + "}"
