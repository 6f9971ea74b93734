"""Signaling messages and the one function that parses them.

Every message on the wire is one JSON object with a ``type`` tag and flat fields. Each type is a
frozen dataclass below; its fields declare their own limits (``_text``/``_ident``/...), so the
generic parser checks size, JSON, the tag and every field in one place, and nothing downstream
indexes into raw peer data.

``senders`` on each class names the roles allowed to send it (``terminal``, ``staff``, ``hub``);
the hub rejects the rest with ``not_allowed``.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar, Final, Literal, TypeAlias

MAX_MESSAGE_BYTES: Final = 64 * 1024
"""Largest message accepted. An SDP with every codec and candidate stays well under 16 KiB."""

END_REASONS: Final = frozenset(
    {"completed", "abandoned", "no_answer", "terminal_lost", "cancelled"}
)

Role: TypeAlias = Literal["terminal", "staff", "hub"]


class SignalingError(Exception):
    """Base error of the signaling package. ``code`` is stable and meant for machines."""

    code = "signaling_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ProtocolError(SignalingError):
    """The peer sent something that is not a valid message. The connection can carry on."""

    code = "bad_message"


# Field constraints, carried in dataclass metadata and enforced by the parser.
_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def _ident() -> Any:
    return field(metadata={"pattern": _IDENT, "max_len": 64})


def _text(max_len: int, *, default: Any = MISSING) -> Any:
    return field(default=default, metadata={"max_len": max_len})


def _match(pattern: str, max_len: int, *, default: Any = MISSING) -> Any:
    return field(default=default, metadata={"pattern": re.compile(pattern), "max_len": max_len})


def _sdp() -> Any:
    return field(metadata={"max_len": MAX_MESSAGE_BYTES, "prefix": "v=0"})


def _int(lo: int, hi: int, *, default: Any = MISSING) -> Any:
    return field(default=default, metadata={"min": lo, "max": hi})


def _choice(options: frozenset[str], *, default: Any = MISSING) -> Any:
    return field(default=default, metadata={"choices": options})


def _ident_opt() -> Any:
    return field(default=None, metadata={"pattern": _IDENT, "max_len": 64})


def _idents() -> Any:
    return field(default=(), metadata={"pattern": _IDENT, "max_len": 64, "max_items": 16})


# -- connection ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """Hub -> client, first message on a connection: who the hub takes you for."""

    type: ClassVar[str] = "hello"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    role: str = _choice(frozenset({"terminal", "staff"}))
    peer_id: str = _ident()


@dataclass(frozen=True)
class ErrorReply:
    """Hub -> client: the last message was refused. The connection stays up."""

    type: ClassVar[str] = "error"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    code: str = _ident()
    message: str = _text(512)
    ref_type: str | None = _text(64, default=None)


# -- the resident's side --------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionStart:
    """Terminal -> hub: a resident asks for a counter. Sent again after a reconnect (with
    ``resume``), it resumes the terminal's current session instead of starting another.
    ``purpose`` is a catalog key; ``priority`` and the needs are set by branch staff."""

    type: ClassVar[str] = "session.start"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal"})
    purpose: str = _ident()
    priority: str | None = _ident_opt()
    needs_language: str | None = _ident_opt()
    needs_hearing: bool = False
    resume: str | None = _ident_opt()
    """After a reconnect: the session the terminal had. If it ended meanwhile, the hub answers
    ``session.ended`` instead of starting another for a resident who has left."""


@dataclass(frozen=True)
class SessionWaiting:
    """Hub -> terminal: the session waits in a queue (again, after a transfer)."""

    type: ClassVar[str] = "session.waiting"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    ticket: str = _ident()
    position: int = _int(0, 1_000_000)
    estimated_wait_s: int = _int(0, 86_400, default=0)
    transferred: bool = False


@dataclass(frozen=True)
class QueuePosition:
    """Hub -> terminal: new place or estimate for a waiting session. It only updates the numbers:
    pushes from several hub processes can arrive late, so it never changes what the kiosk shows
    otherwise (the terminal applies it only while that session waits)."""

    type: ClassVar[str] = "queue.position"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    position: int = _int(0, 1_000_000)
    estimated_wait_s: int = _int(0, 86_400, default=0)


@dataclass(frozen=True)
class SessionConnected:
    """Hub -> terminal: a specialist accepted; an offer follows."""

    type: ClassVar[str] = "session.connected"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()


DEVICE_HEALTH: Final = frozenset({"ok", "missing", "failed", "in_use", "idle"})


@dataclass(frozen=True)
class DeviceStatus:
    """Terminal -> hub -> the session's staff: how the terminal's devices are. ``idle`` when no
    call uses the device. The hub stamps ``terminal_id`` when it passes the report on."""

    type: ClassVar[str] = "device.status"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal"})
    camera: str = _choice(DEVICE_HEALTH)
    microphone: str = _choice(DEVICE_HEALTH)
    terminal_id: str | None = _ident_opt()


@dataclass(frozen=True)
class TerminalStart:
    """Branch staff -> hub: start a session on this terminal of their branch for a resident,
    with the purpose, priority and needs they set."""

    type: ClassVar[str] = "terminal.start"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    terminal_id: str = _ident()
    purpose: str = _ident()
    priority: str | None = _ident_opt()
    needs_language: str | None = _ident_opt()
    needs_hearing: bool = False


@dataclass(frozen=True)
class TerminalCancel:
    """Branch staff -> hub: cancel the session on this terminal of their branch."""

    type: ClassVar[str] = "terminal.cancel"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    terminal_id: str = _ident()


@dataclass(frozen=True)
class SessionRequest:
    """Hub -> terminal: branch staff started a session here; ask the hub for it."""

    type: ClassVar[str] = "session.request"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    purpose: str = _ident()
    priority: str | None = _ident_opt()
    needs_language: str | None = _ident_opt()
    needs_hearing: bool = False


# -- the specialist's side ------------------------------------------------------------------------

SPECIALIST_SETTABLE: Final = frozenset({"available", "away"})
SPECIALIST_STATES: Final = frozenset({"available", "ringing", "busy", "wrap_up", "away", "offline"})


@dataclass(frozen=True)
class SpecialistSetState:
    """Staff -> hub: ready for the next resident (``available``) or not (``away``)."""

    type: ClassVar[str] = "specialist.set_state"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    state: str = _choice(SPECIALIST_SETTABLE)


@dataclass(frozen=True)
class SpecialistStatus:
    """Hub -> staff: your state now, and your session if you have one. ``version`` grows with
    every change: hub processes publish concurrently, so a console ignores a status older than
    one it has seen."""

    type: ClassVar[str] = "specialist.status"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    state: str = _choice(SPECIALIST_STATES)
    session_id: str | None = _ident_opt()
    version: int = _int(0, 2**53, default=0)


@dataclass(frozen=True)
class SessionOffered:
    """Hub -> staff: a resident for you; accept or decline within ``deadline_s``."""

    type: ClassVar[str] = "session.offered"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    ticket: str = _ident()
    terminal_id: str = _ident()
    branch_id: str = _ident()
    purpose: str = _ident()
    skill: str = _ident()
    priority: str = _ident()
    needs_language: str | None = _ident_opt()
    needs_hearing: bool = False
    deadline_s: int = _int(0, 3600, default=0)
    transferred_from: str | None = _ident_opt()
    invited: bool = False


@dataclass(frozen=True)
class SessionWithdrawn:
    """Hub -> staff: an offer or invitation you had is gone (timed out, taken, ended)."""

    type: ClassVar[str] = "session.withdrawn"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    reason: str = _ident()


@dataclass(frozen=True)
class SessionAccept:
    """Staff -> hub: I take the offered session (or join it, when invited)."""

    type: ClassVar[str] = "session.accept"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()


@dataclass(frozen=True)
class SessionDecline:
    """Staff -> hub: not me; offer it to the next specialist."""

    type: ClassVar[str] = "session.decline"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()


@dataclass(frozen=True)
class SessionAssigned:
    """Hub -> staff: the session is yours now; send the terminal an offer. Sent again after a
    reconnect while the session lasts. ``primary`` is the specialist leading it; ``others``
    take part too (a colleague, an interpreter)."""

    type: ClassVar[str] = "session.assigned"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    terminal_id: str = _ident()
    purpose: str = _ident()
    ticket: str = _ident()
    state: str = _ident()
    primary: str = _ident()
    others: tuple[str, ...] = _idents()


@dataclass(frozen=True)
class SessionHold:
    """Staff -> hub: put the resident on hold (``on``) or take them off it."""

    type: ClassVar[str] = "session.hold"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    on: bool = True


@dataclass(frozen=True)
class SessionRating:
    """Terminal -> hub: how satisfied the resident was with a session that ended, 1 (not at all)
    to 5 (very). Given once, on the kiosk's last screen; kept with the session's figures."""

    type: ClassVar[str] = "session.rating"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal"})
    session_id: str = _ident()
    score: int = _int(1, 5)


@dataclass(frozen=True)
class SessionTransfer:
    """Staff -> hub: hand the session to a skill's queue or a named colleague. The resident
    stays at the terminal, keeps their place at the head of that queue, and everything gathered
    stays with the session."""

    type: ClassVar[str] = "session.transfer"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    to_skill: str | None = _ident_opt()
    to_user: str | None = _ident_opt()


@dataclass(frozen=True)
class SessionInvite:
    """Staff -> hub: ask a colleague or an interpreter to join the session."""

    type: ClassVar[str] = "session.invite"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    user: str = _ident()


@dataclass(frozen=True)
class SessionLeave:
    """Staff -> hub: I leave the session; if I led it, the next participant takes over."""

    type: ClassVar[str] = "session.leave"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()


@dataclass(frozen=True)
class SessionFinish:
    """Staff -> hub: wrap-up done; the session is closed."""

    type: ClassVar[str] = "session.finish"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()


@dataclass(frozen=True)
class SessionParticipants:
    """Hub -> everyone in a session: who takes part now."""

    type: ClassVar[str] = "session.participants"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    primary: str = _ident()
    others: tuple[str, ...] = _idents()


@dataclass(frozen=True)
class SessionHeld:
    """Hub -> terminal and staff: the resident is on hold (``on``) or back."""

    type: ClassVar[str] = "session.held"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    on: bool = True


# -- media negotiation (relayed) --------------------------------------------------------------


@dataclass(frozen=True)
class SdpOffer:
    """Staff -> terminal (relayed): WebRTC offer. The hub fills ``peer_id`` with the sender, so
    a terminal talking with two staff members knows which call it belongs to."""

    type: ClassVar[str] = "sdp.offer"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    sdp: str = _sdp()
    peer_id: str | None = _ident_opt()


@dataclass(frozen=True)
class SdpAnswer:
    """Terminal -> staff (relayed): WebRTC answer to the offer from ``peer_id``."""

    type: ClassVar[str] = "sdp.answer"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal"})
    session_id: str = _ident()
    sdp: str = _sdp()
    peer_id: str | None = _ident_opt()


@dataclass(frozen=True)
class IceCandidate:
    """Either peer -> the other (relayed): a trickled candidate; ``candidate == ""`` ends the
    list. From staff the hub fills ``peer_id``; from a terminal it names the staff member."""

    type: ClassVar[str] = "ice.candidate"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal", "staff"})
    session_id: str = _ident()
    candidate: str = _text(1024)
    sdp_mid: str | None = _text(64, default=None)
    sdp_mline_index: int | None = _int(0, 64, default=None)
    peer_id: str | None = _ident_opt()


@dataclass(frozen=True)
class PeerLeft:
    """Hub -> terminal: this staff member's call is over (they left or handed over)."""

    type: ClassVar[str] = "peer.left"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    peer_id: str = _ident()


# -- the end --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionEnd:
    """Terminal or staff -> hub: hang up."""

    type: ClassVar[str] = "session.end"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal", "staff"})
    session_id: str = _ident()
    reason: str = _choice(END_REASONS)


@dataclass(frozen=True)
class SessionEnded:
    """Hub -> terminal and staff: the resident's session is over (staff may still wrap up)."""

    type: ClassVar[str] = "session.ended"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    reason: str = _choice(END_REASONS)


@dataclass(frozen=True)
class SessionProcedures:
    """Staff -> hub -> the session's staff: the life event and the procedures handled in this
    session (catalog ids). What the card may read follows from them: the My Number only when
    one of them needs it."""

    type: ClassVar[str] = "session.procedures"
    senders: ClassVar[frozenset[str]] = frozenset({"staff", "hub"})
    session_id: str = _ident()
    life_event: str = _ident()
    procedures: tuple[str, ...] = _idents()


# -- documents ---------------------------------------------------------------------------------

DOCUMENT_STEPS: Final = frozenset(
    {"placing", "capturing", "processing", "uploading", "done", "error", "cancelled"}
)
DOCUMENT_ERRORS: Final = frozenset(
    {
        "no_document",
        "blank_page",
        "not_an_image",
        "corrupt_image",
        "image_too_large",
        "unsupported_format",
        "camera_unavailable",
        "upload_failed",
        "document_error",
    }
)


@dataclass(frozen=True)
class DocumentCapture:
    """Staff -> hub -> terminal: ask the resident to place a document and capture it. ``group``
    names a multi-page document the page joins (a new one when absent)."""

    type: ClassVar[str] = "document.capture"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    group: str | None = _ident_opt()


@dataclass(frozen=True)
class DocumentStatus:
    """Terminal -> hub -> the session's staff: where the capture is (no image data)."""

    type: ClassVar[str] = "document.status"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal"})
    session_id: str = _ident()
    step: str = _choice(DOCUMENT_STEPS)
    error: str | None = _choice(DOCUMENT_ERRORS, default=None)
    document_id: str | None = _ident_opt()


@dataclass(frozen=True)
class DocumentAdded:
    """Hub -> the session's staff and terminal: a corrected page was stored (the terminal
    uploaded it over HTTP); fetch it from ``/api/documents/{document_id}/corrected``."""

    type: ClassVar[str] = "document.added"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    document_id: str = _ident()
    group: str = _ident()
    page: int = _int(1, 200)
    width: int = _int(1, 20_000)
    height: int = _int(1, 20_000)
    has_original: bool = False


@dataclass(frozen=True)
class DocumentMark:
    """Staff -> hub -> terminal: show the resident this region of a page (coordinates in
    ten-thousandths of the page's width and height); ``clear`` removes the mark."""

    type: ClassVar[str] = "document.mark"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    document_id: str = _ident()
    x: int = _int(0, 10_000, default=0)
    y: int = _int(0, 10_000, default=0)
    w: int = _int(0, 10_000, default=0)
    h: int = _int(0, 10_000, default=0)
    clear: bool = False


# -- the forms, filled together ------------------------------------------------------------------

_FIELD_NAME = r"(shared\.[a-z0-9_]{1,48}|form\.[a-z0-9_]{1,48}\.[a-z0-9_]{1,48})"


@dataclass(frozen=True)
class FormEdit:
    """Staff -> hub: set one value of the session's draft. ``field`` is ``shared.{key}`` (a value
    every form of the bundle shares) or ``form.{procedure}.{field}``; ``value`` is JSON (text, a
    number, yes/no, a list of household members, or null to clear); ``base`` is the field's
    version this edit was made on: if it changed meanwhile the edit is refused
    (``edit_conflict``) and the editor gets the current draft."""

    type: ClassVar[str] = "form.edit"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    field: str = _match(_FIELD_NAME, 120)
    value: str = _text(8000)
    base: int = _int(0, 1_000_000_000)


@dataclass(frozen=True)
class FormSync:
    """Staff -> hub: send me the session's draft and the card's items as they stand (a colleague
    who joins, a console that reconnects)."""

    type: ClassVar[str] = "form.sync"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()


@dataclass(frozen=True)
class FormState:
    """Hub -> the session's staff: the draft after a change (JSON: life event, procedures,
    values with source and version, confirmations, signed); the My Number masked."""

    type: ClassVar[str] = "form.state"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    version: int = _int(0, 1_000_000_000)
    draft: str = _text(60_000)


@dataclass(frozen=True)
class FormReview:
    """Staff -> hub: show this form to the resident on the kiosk to confirm."""

    type: ClassVar[str] = "form.review"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    procedure: str = _ident()


@dataclass(frozen=True)
class FormShow:
    """Hub -> terminal: the form the resident reviews, in words (JSON: title, index, count,
    fields with label, value and whether it came from the card); sent again on every change."""

    type: ClassVar[str] = "form.show"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    procedure: str = _ident()
    view: str = _text(30_000)


@dataclass(frozen=True)
class FormConfirm:
    """Terminal -> hub -> staff: the resident confirmed the form (or asks about it)."""

    type: ClassVar[str] = "form.confirm"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal"})
    session_id: str = _ident()
    procedure: str = _ident()
    confirmed: bool = True


@dataclass(frozen=True)
class FormSign:
    """Staff -> hub -> terminal: ask the resident to sign, once for the bundle, when every form
    is confirmed."""

    type: ClassVar[str] = "form.sign"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()


@dataclass(frozen=True)
class FormSignature:
    """Terminal -> hub: the resident's signature as strokes (JSON: lists of [x, y, t] points in a
    ``width`` x ``height`` box); kept with the application."""

    type: ClassVar[str] = "form.signature"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal"})
    session_id: str = _ident()
    width: int = _int(1, 4000)
    height: int = _int(1, 4000)
    strokes: str = _text(60_000)


# -- the My Number card ----------------------------------------------------------------------------

CARD_STEPS: Final = frozenset({"insert", "pin", "reading", "done", "error", "cancelled"})
CARD_ERRORS: Final = frozenset(
    {
        "wrong_pin",
        "card_blocked",
        "no_card",
        "card_removed",
        "not_mynumber_card",
        "reader_unavailable",
        "several_readers",
        "card_error",
    }
)
SEXES: Final = frozenset({"male", "female", "not_applicable", "not_known"})
CARD_FIELDS: Final = frozenset({"name", "address", "birth_date", "sex", "my_number"})


@dataclass(frozen=True)
class CardRequest:
    """Staff -> hub -> terminal: read the resident's card. The My Number only with
    ``with_number``, which the hub allows only when a procedure of the session needs it. The PIN
    is asked for on the kiosk and never travels."""

    type: ClassVar[str] = "card.request"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    with_number: bool = False


@dataclass(frozen=True)
class CardCancel:
    """Staff -> hub -> terminal: stop asking the resident for the card."""

    type: ClassVar[str] = "card.cancel"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()


@dataclass(frozen=True)
class CardStatus:
    """Terminal -> hub -> the session's staff: where the card read is (no personal data).
    ``tries_left`` is read from the card without using a try."""

    type: ClassVar[str] = "card.status"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal"})
    session_id: str = _ident()
    step: str = _choice(CARD_STEPS)
    tries_left: int | None = _int(0, 15, default=None)
    error: str | None = _choice(CARD_ERRORS, default=None)


@dataclass(frozen=True)
class CardResult:
    """Terminal -> hub: what the card says. A field that did not decode is ``None`` and named in
    ``flagged`` for staff to enter. The hub seals it, audits the read, and passes it on as
    ``card.data`` with the My Number masked."""

    type: ClassVar[str] = "card.result"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal"})
    session_id: str = _ident()
    name: str | None = _text(200, default=None)
    address: str | None = _text(400, default=None)
    birth_date: str | None = _match(r"\d{4}-\d{2}-\d{2}", 10, default=None)
    sex: str | None = _choice(SEXES, default=None)
    my_number: str | None = _match(r"\d{12}", 12, default=None)
    flagged: tuple[str, ...] = field(
        default=(), metadata={"choices": CARD_FIELDS, "max_items": 5, "max_len": 16}
    )


@dataclass(frozen=True)
class CardData:
    """Hub -> the session's staff: the card's items to prefill the forms with. The My Number is
    never in it: ``has_my_number`` says it was read, ``card.reveal`` shows it (audited)."""

    type: ClassVar[str] = "card.data"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    name: str | None = _text(200, default=None)
    address: str | None = _text(400, default=None)
    birth_date: str | None = _match(r"\d{4}-\d{2}-\d{2}", 10, default=None)
    sex: str | None = _choice(SEXES, default=None)
    has_my_number: bool = False
    my_number_last4: str | None = _match(r"\d{4}", 4, default=None)
    flagged: tuple[str, ...] = field(
        default=(), metadata={"choices": CARD_FIELDS, "max_items": 5, "max_len": 16}
    )
    read_by: str | None = _ident_opt()


@dataclass(frozen=True)
class CardReveal:
    """Staff -> hub: show me the My Number read in this session (audited)."""

    type: ClassVar[str] = "card.reveal"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()


@dataclass(frozen=True)
class CardRevealed:
    """Hub -> the staff member who asked: the My Number, for this screen only."""

    type: ClassVar[str] = "card.revealed"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    my_number: str = _match(r"\d{12}", 12)


# -- the supervisor ------------------------------------------------------------------------------

MAX_SNAPSHOT_CHARS: Final = 60_000
"""A supervisor snapshot's JSON at most; the hub trims its lists to stay within a message."""


def _idents_required() -> Any:
    return field(metadata={"pattern": _IDENT, "max_len": 64, "max_items": 16})


@dataclass(frozen=True)
class SupervisorSnapshot:
    """Hub -> supervisors: the live load and the day's figures (JSON, see
    ``hub.supervision.figures``), at most once a second and only when something changed."""

    type: ClassVar[str] = "supervisor.snapshot"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    snapshot: str = _text(MAX_SNAPSHOT_CHARS)


@dataclass(frozen=True)
class SupervisorSetState:
    """Supervisor -> hub: make a specialist available or away (refused while they are ringing,
    busy or wrapping up, and when they are not connected)."""

    type: ClassVar[str] = "supervisor.set_state"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    user: str = _ident()
    state: str = _choice(SPECIALIST_SETTABLE)


@dataclass(frozen=True)
class SupervisorSetSkills:
    """Supervisor -> hub: what a specialist handles from now on (their account and routing)."""

    type: ClassVar[str] = "supervisor.set_skills"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    user: str = _ident()
    skills: tuple[str, ...] = _idents_required()


@dataclass(frozen=True)
class SupervisorMoveTicket:
    """Supervisor -> hub: move a waiting ticket to another skill's queue; it keeps its place (by
    arrival and priority) and its number. Refused once it is no longer waiting."""

    type: ClassVar[str] = "supervisor.move_ticket"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    to_skill: str = _ident()


Message: TypeAlias = (
    Hello
    | ErrorReply
    | SessionStart
    | SessionWaiting
    | QueuePosition
    | SessionConnected
    | DeviceStatus
    | TerminalStart
    | TerminalCancel
    | SessionRequest
    | SpecialistSetState
    | SpecialistStatus
    | SessionOffered
    | SessionWithdrawn
    | SessionAccept
    | SessionDecline
    | SessionAssigned
    | SessionHold
    | SessionRating
    | SessionProcedures
    | DocumentCapture
    | DocumentStatus
    | DocumentAdded
    | DocumentMark
    | FormEdit
    | FormSync
    | FormState
    | FormReview
    | FormShow
    | FormConfirm
    | FormSign
    | FormSignature
    | CardRequest
    | CardCancel
    | CardStatus
    | CardResult
    | CardData
    | CardReveal
    | CardRevealed
    | SessionTransfer
    | SessionInvite
    | SessionLeave
    | SessionFinish
    | SessionParticipants
    | SessionHeld
    | SdpOffer
    | SdpAnswer
    | IceCandidate
    | PeerLeft
    | SessionEnd
    | SessionEnded
    | SupervisorSnapshot
    | SupervisorSetState
    | SupervisorSetSkills
    | SupervisorMoveTicket
)

_TYPES: Final[dict[str, type[Message]]] = {cls.type: cls for cls in typing.get_args(Message)}


def message_types() -> dict[str, type[Message]]:
    """Every message class by its wire tag."""
    return dict(_TYPES)


def encode(message: Message) -> str:
    """The wire form of ``message``: compact JSON with the ``type`` tag first."""
    body = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(message).items()}
    return json.dumps({"type": message.type, **body}, ensure_ascii=False, separators=(",", ":"))


def parse_message(text: str | bytes) -> Message:
    """Parse and validate one message from a peer.

    Raises :class:`ProtocolError` with a stable ``code``: ``too_large``, ``bad_json``,
    ``not_an_object``, ``unknown_type``, ``missing_field``, ``bad_field``, ``unknown_field``.
    """
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(
            f"message of {size} bytes exceeds {MAX_MESSAGE_BYTES}", code="too_large"
        )
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"not JSON: {exc}", code="bad_json") from None
    except RecursionError:  # the JSON decoder's own limit on nesting
        raise ProtocolError("not JSON: nested too deeply", code="bad_json") from None
    if not isinstance(data, dict):
        raise ProtocolError("a message is a JSON object", code="not_an_object")
    tag = data.get("type")
    cls = _TYPES.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise ProtocolError(f"unknown message type {str(tag)[:64]!r}", code="unknown_type")
    return _build(cls, data)


def _build(cls: type[Message], data: dict[str, Any]) -> Message:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    extra = set(data) - known - {"type"}
    if extra:
        name = sorted(extra)[0][:64]
        raise ProtocolError(f"{cls.type}: unknown field {name!r}", code="unknown_field")
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            if f.default is MISSING:
                raise ProtocolError(f"{cls.type}: missing field {f.name!r}", code="missing_field")
            continue
        values[f.name] = _check(cls.type, f.name, data[f.name], hints[f.name], f.metadata)
    return cls(**values)


def _check(tag: str, name: str, value: Any, hint: Any, meta: Any) -> Any:
    def bad(why: str) -> ProtocolError:
        return ProtocolError(f"{tag}: field {name!r} {why}", code="bad_field")

    optional = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
    if value is None:
        if optional:
            return None
        raise bad("must not be null")
    base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
    if base is bool:
        if not isinstance(value, bool):
            raise bad("must be true or false")
        return value
    if typing.get_origin(base) is tuple:
        if not isinstance(value, list) or len(value) > meta.get("max_items", 16):
            raise bad(f"must be a list of at most {meta.get('max_items', 16)} items")
        return tuple(_check(tag, name, item, str, meta) for item in value)
    if base is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad("must be an integer")
        if not meta.get("min", value) <= value <= meta.get("max", value):
            raise bad(f"must be between {meta['min']} and {meta['max']}")
        return value
    if base is str:
        if not isinstance(value, str):
            raise bad("must be a string")
        if len(value) > meta.get("max_len", MAX_MESSAGE_BYTES):
            raise bad(f"is longer than {meta['max_len']} characters")
        pattern = meta.get("pattern")
        if pattern is not None and not pattern.fullmatch(value):
            raise bad("has characters or a form that is not allowed")
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            raise bad(f"must be one of {', '.join(sorted(choices))}")
        prefix = meta.get("prefix")
        if prefix is not None and not value.startswith(prefix):
            raise bad(f"must start with {prefix!r}")
        return value
    raise TypeError(f"{tag}.{name}: unsupported field type {hint!r}")  # our bug, not the peer's
