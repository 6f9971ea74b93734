"""The session lifecycle: every state a counter session can be in, and every move between them.

Theory of operation
-------------------
A session starts ``waiting`` when a resident asks for a counter at a terminal. A specialist who
takes it moves it to ``connected`` (the call is set up and both sides talk). It ends, from any
state, with a reason: ``completed`` (the specialist finished), ``abandoned`` (the resident left
or cancelled at the kiosk), ``no_answer``, ``terminal_lost`` or ``cancelled`` (staff).

Everything that changes a session's state goes through :func:`apply`; it is pure: handed the
record, the event and ``now``, it returns the new record or raises :class:`IllegalTransition`
naming the state and the event. The hub's Redis layer persists the result atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final


class State(StrEnum):
    WAITING = "waiting"
    CONNECTED = "connected"
    ENDED = "ended"


class Event(StrEnum):
    ACCEPT = "accept"
    END = "end"


class EndReason(StrEnum):
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    NO_ANSWER = "no_answer"
    TERMINAL_LOST = "terminal_lost"
    CANCELLED = "cancelled"


TRANSITIONS: Final[dict[tuple[State, Event], State]] = {
    (State.WAITING, Event.ACCEPT): State.CONNECTED,
    (State.WAITING, Event.END): State.ENDED,
    (State.CONNECTED, Event.END): State.ENDED,
}
"""(state, event) -> next state. A pair that is not here is illegal."""


class LifecycleError(Exception):
    code = "lifecycle_error"


class IllegalTransition(LifecycleError):
    """Our code asked for a move the table does not allow."""

    code = "illegal_state"

    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"event {event.value!r} is not allowed in state {state.value!r}")
        self.state = state
        self.event = event


@dataclass(frozen=True)
class Session:
    """A session as the lifecycle sees it. ``history`` holds (state, unix time) in order."""

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
    """The session after ``event`` at ``now``. Raises IllegalTransition, or ValueError for a
    missing argument (``specialist`` with ACCEPT, ``reason`` with END)."""
    target = TRANSITIONS.get((session.state, event))
    if target is None:
        raise IllegalTransition(session.state, event)
    changed = replace(session, state=target, history=(*session.history, (target, now)))
    if event is Event.ACCEPT:
        if not specialist:
            raise ValueError("accept needs the specialist")
        return replace(changed, specialist=specialist)
    if event is Event.END:
        if reason is None:
            raise ValueError("end needs a reason")
        return replace(changed, end_reason=reason)
    return changed
