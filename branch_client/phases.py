"""The terminal's session phases: what the kiosk shows of the resident's session, and every move
between them.

Theory of operation
-------------------
The hub owns the session; the terminal follows what the hub says about it. A kiosk with nobody
at it is ``idle``. Asking for a counter is not a phase: the resident's request is kept (and sent
again after every reconnect, see :mod:`branch_client.link`) and the kiosk stays on its welcome
screen until the hub says the session waits (``session.waiting``: ``waiting``, with a ticket and
a place in the queue). When a specialist accepts, the hub says ``session.connected``
(``connected``: their offer follows); once a peer connection with a staff member is up
(``call.connected``, from :mod:`branch_client.call`) the terminal is ``in_call``. A transfer or a
requeue puts the session back in a queue (``session.waiting`` again). When the hub says
``session.ended`` the kiosk says goodbye (``ended``; it asks for a rating if the resident talked
to someone); when the goodbye is over (``goodbye.over``, the terminal's own timer) it is ``idle``
again, ready for the next resident.

The hub's word wins: ``session.waiting`` and ``session.connected`` lead to their phase from any
phase, because after a reconnect (the hub answers a resume with the session as it has it), a
restart of the terminal (the hub kept its session) or a new session started during a goodbye,
the hub knows better than the kiosk. What the table refuses are the events that cannot mean
anything in a phase: a session ending or a call coming up while ``idle`` (no session), a call
coming up once the session ``ended`` (the resident is being said goodbye to), the goodbye
ending while a session is still on. An illegal event raises :class:`IllegalEvent`, naming the
phase and the event.

Which session a message is about is checked by the terminal before it consults the table
(:mod:`branch_client.terminal`): a message about a session that is over, or not the current one,
never reaches it. This module is pure: no clock, no I/O; :func:`next_phase` is the only way the
terminal's phase changes.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Phase(StrEnum):
    IDLE = "idle"
    WAITING = "waiting"
    CONNECTED = "connected"
    IN_CALL = "in_call"
    ENDED = "ended"


class Event(StrEnum):
    SESSION_WAITING = "session.waiting"
    """The hub: the session waits in a queue (first, or again after a transfer or a resume)."""
    SESSION_CONNECTED = "session.connected"
    """The hub: a specialist has the session; an offer follows."""
    CALL_CONNECTED = "call.connected"
    """The terminal: a peer connection with a staff member of the session is up."""
    SESSION_ENDED = "session.ended"
    """The hub: the session is over, with a reason."""
    GOODBYE_OVER = "goodbye.over"
    """The terminal: the goodbye (and rating) screen has been shown long enough."""


TRANSITIONS: Final[dict[tuple[Phase, Event], Phase]] = {
    (Phase.IDLE, Event.SESSION_WAITING): Phase.WAITING,
    (Phase.IDLE, Event.SESSION_CONNECTED): Phase.CONNECTED,
    (Phase.WAITING, Event.SESSION_WAITING): Phase.WAITING,
    (Phase.WAITING, Event.SESSION_CONNECTED): Phase.CONNECTED,
    (Phase.WAITING, Event.CALL_CONNECTED): Phase.IN_CALL,
    (Phase.WAITING, Event.SESSION_ENDED): Phase.ENDED,
    (Phase.CONNECTED, Event.SESSION_WAITING): Phase.WAITING,
    (Phase.CONNECTED, Event.SESSION_CONNECTED): Phase.CONNECTED,
    (Phase.CONNECTED, Event.CALL_CONNECTED): Phase.IN_CALL,
    (Phase.CONNECTED, Event.SESSION_ENDED): Phase.ENDED,
    (Phase.IN_CALL, Event.SESSION_WAITING): Phase.WAITING,
    (Phase.IN_CALL, Event.SESSION_CONNECTED): Phase.CONNECTED,
    (Phase.IN_CALL, Event.CALL_CONNECTED): Phase.IN_CALL,
    (Phase.IN_CALL, Event.SESSION_ENDED): Phase.ENDED,
    (Phase.ENDED, Event.SESSION_WAITING): Phase.WAITING,
    (Phase.ENDED, Event.SESSION_CONNECTED): Phase.CONNECTED,
    (Phase.ENDED, Event.SESSION_ENDED): Phase.ENDED,
    (Phase.ENDED, Event.GOODBYE_OVER): Phase.IDLE,
}
"""(phase, event) -> next phase. A pair that is not here is illegal."""

LIVE: Final = frozenset({Phase.WAITING, Phase.CONNECTED, Phase.IN_CALL})
"""A session the hub still has for this terminal: asked for again (``resume``) after a
reconnect."""

TALKING: Final = frozenset({Phase.CONNECTED, Phase.IN_CALL})
"""A specialist has the session: card reads and documents may be asked for, and the resident is
asked for a rating when it ends."""

FREE: Final = frozenset({Phase.IDLE, Phase.ENDED})
"""No session is live: branch staff may start one at this terminal."""


class PhaseError(Exception):
    """The base of this module's errors."""

    code = "phase_error"


class IllegalEvent(PhaseError):
    """An event the table does not allow in the current phase."""

    code = "illegal_phase"

    def __init__(self, phase: Phase, event: Event) -> None:
        super().__init__(f"event {event.value!r} is not allowed in phase {phase.value!r}")
        self.phase = phase
        self.event = event


def next_phase(phase: Phase, event: Event) -> Phase:
    """The phase after ``event`` in ``phase``. Raises :class:`IllegalEvent`."""
    target = TRANSITIONS.get((phase, event))
    if target is None:
        raise IllegalEvent(phase, event)
    return target
