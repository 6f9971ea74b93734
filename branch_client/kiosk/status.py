"""What the kiosk shows: the terminal's status, and the JSON the kiosk page polls (``/api/status``).

:class:`TerminalStatus` holds the facts about the resident's session that the terminal keeps
(only :mod:`branch_client.terminal` writes them); :class:`Snapshot` is the whole answer of
``/api/status``: those facts, and what the link, the call, the devices and the card and document
flows report at that moment (:meth:`branch_client.terminal.Terminal.snapshot` puts it together).
The kiosk page, the benches and the tests read it: its keys are a contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from branch_client.phases import Phase


@dataclass
class TerminalStatus:
    """The resident's session as the terminal knows it."""

    phase: Phase = Phase.IDLE
    session_id: str | None = None
    ticket: str | None = None
    position: int | None = None
    estimated_wait_s: int | None = None
    transferred: bool = False
    held: bool = False
    purpose: str | None = None
    end_reason: str | None = None
    last_error: str | None = None
    """The code of the last thing that went wrong (a device, the hub's refusal, an offer)."""
    camera: str = "idle"
    """Device health as last reported to the hub: ok, missing, failed, in_use, idle (not opened
    yet)."""
    microphone: str = "idle"
    ask_rating: bool = False
    """The session that ended had a conversation: ask how it was."""
    rated: int | None = None
    """The resident's satisfaction rating (1-5) for it."""


class Snapshot(TypedDict):
    """The answer of ``/api/status``."""

    link: str
    """The hub link: connecting, online, offline."""
    phase: str
    """:class:`~branch_client.phases.Phase`: idle, waiting, connected, in_call, ended."""
    session_id: str | None
    ticket: str | None
    position: int | None
    estimated_wait_s: int | None
    transferred: bool
    held: bool
    purpose: str | None
    end_reason: str | None
    last_error: str | None
    calls: int
    """Offers answered since the terminal started."""
    camera: str
    microphone: str
    ask_rating: bool
    rated: int | None
    staff: list[str]
    """The staff members in the call."""
    pc_state: str
    """The call's peer connection state: connected if any is, else the first one's, or closed."""
    media: dict[str, float | int | None]
    """What arrived from the staff (frame counts, first frames' times)."""
    mic_level_db: float
    views: dict[str, dict[str, object]]
    """The kiosk's video taps (``self``, ``staff``): live, viewers, frames, added latency."""
    task: dict[str, Any] | None
    """What the resident is asked to do: the card read, a document, a form to review, the
    signature; ``None`` in a plain call."""
    document_mark: dict[str, Any] | None
    """The specialist's mark on a page the terminal captured."""
