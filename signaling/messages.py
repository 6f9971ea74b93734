"""Signaling messages and the one function that parses them.

Every message on the wire is one JSON object with a ``type`` tag and its fields; a field may hold
a nested payload (a list of purposes, a signature's strokes, a form as the resident reviews it) or,
for free-form hub output (the draft, the supervisor snapshot), a bounded JSON object -- never JSON
text inside a string. Each type is a frozen dataclass below; its fields declare their own limits
(``_text``/``_ident``/...), so the one codec (:mod:`signaling.codec`) checks size, JSON, the tag
and every field, nested ones included, in one place, and nothing downstream indexes into raw peer
data or re-parses a field.

``senders`` on each class names the roles allowed to send it (``terminal``, ``staff``, ``hub``);
the hub rejects the rest with ``not_allowed``.

Compatibility (remove in 0.3): the 0.1 console sent ``form.edit``'s ``value`` and the 0.1
terminal ``form.signature``'s ``strokes`` as JSON text inside a string. The fields' ``legacy``
readers decode such a string once, here, into the typed value (see ``docs/protocol.md``).
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field
from typing import Any, ClassVar, Final, Literal, TypeAlias

from signaling.codec import (
    MAX_SAFE_INT,
    JsonLimits,
    JsonObject,
    decode_fields,
    json_text,
    to_json,
)
from signaling.codec import JsonValue as JsonValue  # resolves the hints of JsonObject here
from signaling.codec import ProtocolError as ProtocolError  # re-exported: its home is the codec
from signaling.codec import SignalingError as SignalingError

MAX_MESSAGE_BYTES: Final = 64 * 1024
"""Largest message accepted. An SDP with every codec and candidate stays well under 16 KiB."""

END_REASONS: Final = frozenset(
    {"completed", "abandoned", "no_answer", "terminal_lost", "cancelled"}
)

Role: TypeAlias = Literal["terminal", "staff", "hub"]


# Field constraints, carried in dataclass metadata and enforced by the codec.
_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


def _ident() -> Any:
    return field(metadata={"pattern": _IDENT, "max_len": 64})


def _text(max_len: int, *, default: Any = MISSING, min_len: int = 0) -> Any:
    return field(default=default, metadata={"max_len": max_len, "min_len": min_len})


def _match(pattern: str, max_len: int, *, default: Any = MISSING) -> Any:
    return field(default=default, metadata={"pattern": re.compile(pattern), "max_len": max_len})


def _sdp() -> Any:
    return field(metadata={"max_len": MAX_MESSAGE_BYTES, "prefix": "v=0"})


def _int(lo: int, hi: int, *, default: Any = MISSING) -> Any:
    return field(default=default, metadata={"min": lo, "max": hi})


def _number(lo: float, hi: float) -> Any:
    return field(metadata={"min": lo, "max": hi})


def _choice(options: frozenset[str], *, default: Any = MISSING) -> Any:
    return field(default=default, metadata={"choices": options})


def _ident_opt() -> Any:
    return field(default=None, metadata={"pattern": _IDENT, "max_len": 64})


def _idents() -> Any:
    return field(default=(), metadata={"pattern": _IDENT, "max_len": 64, "max_items": 16})


def _items(max_items: int, *, default: Any = MISSING) -> Any:
    """A list of nested payloads, each checked by its own class."""
    return field(default=default, metadata={"max_items": max_items})


def _nested() -> Any:
    """A nested payload, checked by its own class."""
    return field()


def _json(limits: JsonLimits) -> Any:
    return field(metadata={"json": limits})


# -- payloads nested in messages ------------------------------------------------------------------


@dataclass(frozen=True)
class Purpose:
    """What a resident can come for: a catalog key and its names, for the kiosk's buttons."""

    id: str = _ident()
    ja: str = _text(64, min_len=1)
    en: str = _text(64, min_len=1)


@dataclass(frozen=True)
class Names:
    """A label in Japanese and in English."""

    ja: str = _text(200)
    en: str = _text(200)


@dataclass(frozen=True)
class ReviewField:
    """One line of a form under review: its label, its value in words (the My Number masked),
    and whether the value came from the card."""

    label: Names
    value: str = _text(2000)
    from_card: bool = False


@dataclass(frozen=True)
class FormView:
    """A form as the resident reviews it on the kiosk: its title, its place in the bundle
    (``index`` of ``count``) and the fields filled in so far."""

    title: Names
    index: int = _int(1, 100)
    count: int = _int(1, 100)
    fields: tuple[ReviewField, ...] = _items(200)


SIGNATURE_BOX_MAX: Final = 4000
"""Largest width or height of a signature pad, in pixels."""
MAX_STROKES: Final = 200
MAX_SIGNATURE_POINTS: Final = 10_000
"""Points of one signature in all (a message holds about 3,000 anyway)."""


@dataclass(frozen=True)
class Point:
    """One sample of a stroke: ``[x, y]`` or ``[x, y, t]`` on the wire -- pixels from the pad's
    top left corner and, from the kiosk, when (milliseconds on the kiosk page's clock)."""

    json_array: ClassVar[bool] = True
    x: float = _number(0, SIGNATURE_BOX_MAX)
    y: float = _number(0, SIGNATURE_BOX_MAX)
    t: int | None = _int(0, MAX_SAFE_INT, default=None)


Stroke: TypeAlias = tuple[Point, ...]
"""Points drawn without lifting the pen."""


def _box_side() -> Any:
    return field(metadata={"min": 1, "max": SIGNATURE_BOX_MAX})


def _strokes(*, legacy: bool = False) -> Any:
    meta: dict[str, Any] = {
        "min_items": 1,
        "max_items": MAX_STROKES,
        "item": {"min_items": 1, "max_items": MAX_SIGNATURE_POINTS},
        "code": "bad_signature",
    }
    if legacy:  # the 0.1 terminal sent the strokes as JSON text; remove in 0.3
        meta["legacy"] = json_text
    return field(metadata=meta)


def _signature_problem(
    width: int, height: int, strokes: tuple[Stroke, ...]
) -> tuple[str, str] | None:
    """The one rule for a signature beyond its fields' own limits: at most
    ``MAX_SIGNATURE_POINTS`` points in all, every one inside the ``width`` x ``height`` box."""
    if sum(len(s) for s in strokes) > MAX_SIGNATURE_POINTS:
        return "strokes", f"hold more than {MAX_SIGNATURE_POINTS} points in all"
    for i, stroke in enumerate(strokes):
        for j, point in enumerate(stroke):
            if point.x > width or point.y > height:
                return "strokes", f"point [{i}][{j}] is outside the {width} x {height} box"
    return None


@dataclass(frozen=True)
class Signature:
    """A signature drawn on the kiosk's pad: strokes of points inside a ``width`` x ``height``
    box. The kiosk's POST, ``form.signature`` and an intake bundle's signature are all read by
    this one rule (:func:`signaling.decode`)."""

    width: int = _box_side()
    height: int = _box_side()
    strokes: tuple[Stroke, ...] = _strokes()

    def problem(self) -> tuple[str, str] | None:
        return _signature_problem(self.width, self.height, self.strokes)


MEMBER_KEY: Final = re.compile(r"[a-z][a-z0-9_]{0,47}")
MAX_MEMBERS: Final = 20

Scalar: TypeAlias = str | int | bool | None
Member: TypeAlias = Mapping[str, Scalar]
"""A household member: the catalog's ``household_member`` columns (by id) and their values."""
EditValue: TypeAlias = str | int | bool | tuple[Member, ...] | None
"""A form value as staff set it: text, a number, yes/no, a list of household members, or null to
clear the field. Parsed into the field's normal form by the hub when the bundle is validated."""

_EDIT_TEXT: Final = 8000


def _edit_value_legacy(text: str) -> object:
    """``form.edit``'s ``value`` from the 0.1 console: ``JSON.stringify(value)`` (remove in 0.3).

    The console sent text as a JSON string literal, yes/no as ``true``/``false``, a clear as
    ``null``. Such a string is decoded once; any other string is text as it stands -- also one
    that reads as a JSON number (``20240401`` typed into a date field stays text).
    """
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return text
    return text if isinstance(decoded, int | float) and not isinstance(decoded, bool) else decoded


def _edit_value() -> Any:
    scalar = {"max_len": 400, "min": -MAX_SAFE_INT, "max": MAX_SAFE_INT}
    return field(
        metadata={
            "max_len": _EDIT_TEXT,
            "min": -MAX_SAFE_INT,
            "max": MAX_SAFE_INT,
            "max_items": MAX_MEMBERS,
            "item": {"max_items": 16, "key_pattern": MEMBER_KEY, "item": scalar},
            "code": "bad_value",
            "legacy": _edit_value_legacy,
        }
    )


# -- connection ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    """Hub -> client, first message on a connection: who the hub takes you for. A terminal is
    also told the purposes a resident can choose from, in the catalog's order (the kiosk's
    welcome buttons); staff get none (their console reads ``/api/catalog``)."""

    type: ClassVar[str] = "hello"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    role: str = _choice(frozenset({"terminal", "staff"}))
    peer_id: str = _ident()
    purposes: tuple[Purpose, ...] = _items(32, default=())


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

DRAFT_LIMITS: Final = JsonLimits(max_depth=8, max_values=10_000, max_string=8000, max_chars=60_000)
"""A draft in ``form.state``: values of household lists sit five deep."""

_FIELD_NAME = r"(shared\.[a-z0-9_]{1,48}|form\.[a-z0-9_]{1,48}\.[a-z0-9_]{1,48})"


@dataclass(frozen=True)
class FormEdit:
    """Staff -> hub: set one value of the session's draft. ``field`` is ``shared.{key}`` (a value
    every form of the bundle shares) or ``form.{procedure}.{field}``; ``value`` is text, a
    number, yes/no, a list of household members, or null to clear (:data:`EditValue`; anything
    else is ``bad_value``); ``base`` is the field's version this edit was made on: if it changed
    meanwhile the edit is refused (``edit_conflict``) and the editor gets the current draft."""

    type: ClassVar[str] = "form.edit"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    field: str = _match(_FIELD_NAME, 120)
    value: EditValue = _edit_value()  # noqa: RUF009 -- a field() with limits, not a default
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
    """Hub -> the session's staff: the draft after a change (an object: life event, procedures,
    values with source and version, confirmations, signed; see :mod:`hub.forms.drafts`); the My
    Number masked."""

    type: ClassVar[str] = "form.state"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    version: int = _int(0, 1_000_000_000)
    draft: JsonObject = _json(DRAFT_LIMITS)  # noqa: RUF009 -- a field() with limits


@dataclass(frozen=True)
class FormReview:
    """Staff -> hub: show this form to the resident on the kiosk to confirm."""

    type: ClassVar[str] = "form.review"
    senders: ClassVar[frozenset[str]] = frozenset({"staff"})
    session_id: str = _ident()
    procedure: str = _ident()


@dataclass(frozen=True)
class FormShow:
    """Hub -> terminal: the form the resident reviews, in words; sent again on every change."""

    type: ClassVar[str] = "form.show"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    session_id: str = _ident()
    procedure: str = _ident()
    view: FormView = _nested()  # noqa: RUF009 -- a field() without a default


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
    """Terminal -> hub: the resident's signature, by the rule of :class:`Signature` (anything
    wrong with the strokes is ``bad_signature``); kept with the application."""

    type: ClassVar[str] = "form.signature"
    senders: ClassVar[frozenset[str]] = frozenset({"terminal"})
    session_id: str = _ident()
    width: int = _box_side()
    height: int = _box_side()
    strokes: tuple[Stroke, ...] = _strokes(legacy=True)

    def problem(self) -> tuple[str, str] | None:
        return _signature_problem(self.width, self.height, self.strokes)

    @property
    def signature(self) -> Signature:
        return Signature(self.width, self.height, self.strokes)


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
SNAPSHOT_LIMITS: Final = JsonLimits(
    max_depth=8, max_values=20_000, max_string=1000, max_chars=MAX_SNAPSHOT_CHARS
)


def _idents_required() -> Any:
    return field(metadata={"pattern": _IDENT, "max_len": 64, "max_items": 16})


@dataclass(frozen=True)
class SupervisorSnapshot:
    """Hub -> supervisors: the live load and the day's figures (an object, see
    ``hub.supervision.figures``), at most once a second and only when something changed."""

    type: ClassVar[str] = "supervisor.snapshot"
    senders: ClassVar[frozenset[str]] = frozenset({"hub"})
    snapshot: JsonObject = _json(SNAPSHOT_LIMITS)  # noqa: RUF009 -- a field() with limits


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


def encode(message: Message, *, check: bool = False) -> str:
    """The wire form of ``message``: compact JSON with the ``type`` tag first. With ``check``,
    also parse it back as a receiver would, raising :class:`ProtocolError` when it would be
    refused (for what the hub builds from data: the catalog's purposes, a trimmed snapshot)."""
    text = json.dumps(
        {"type": message.type, **to_json(message)},
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )
    if check:
        parse_message(text)
    return text


def parse_message(text: str | bytes) -> Message:
    """Parse and validate one message from a peer.

    Raises :class:`ProtocolError` with a stable ``code``: ``too_large``, ``bad_json``,
    ``not_an_object``, ``unknown_type``, ``missing_field``, ``bad_field``, ``unknown_field`` --
    or the field's own code for what is wrong inside it (``bad_value`` in ``form.edit``'s
    value, ``bad_signature`` in ``form.signature``'s strokes), the code the hub answered with
    before the parser checked those fields. Nested payloads are checked the same way.
    """
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
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
    try:
        return decode_fields(cls, data, where=cls.type, ignore="type")
    except ProtocolError as exc:
        exc.message_type = cls.type
        raise
