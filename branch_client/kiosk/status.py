"""What the kiosk shows: the terminal's status, the heart of the JSON the kiosk page polls.

:class:`TerminalStatus` holds the facts about the resident's session that the terminal keeps;
only :mod:`branch_client.terminal` writes them. ``/api/status``
(:meth:`branch_client.terminal.Terminal.snapshot`) is these fields, and beside them what the
other parts report at that moment: ``link`` (the hub link: connecting, online, offline),
``calls`` (offers answered since the terminal started), ``staff`` (who is in the call),
``pc_state`` (connected if any peer connection is, else the first one's state, or closed),
``media`` (what arrived from the staff), ``mic_level_db``, ``views`` (the kiosk's video taps),
``task`` (the card read, a document, a form to review or the signature; ``None`` in a plain
call) and ``document_mark`` (the specialist's mark on a page). The kiosk page, the benches and
the tests read them: the keys are a contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from branch_client.phases import Phase


@dataclass
class TerminalStatus:
    """The resident's session as the terminal knows it."""

    phase: Phase = Phase.IDLE
    """:class:`~branch_client.phases.Phase`: idle, waiting, connected, in_call, ended."""
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
