"""The terminal agent: the resident's session at a branch kiosk, composed of its parts.

Theory of operation
-------------------
:class:`Terminal` wires the parts together and is the one place that reacts to the hub:

* the link (:mod:`branch_client.link`) keeps the signaling connection up and, after every
  reconnect, asks the hub for the session the terminal had, so a dropped network costs the
  resident nothing;
* the phases (:mod:`branch_client.phases`) say what the kiosk shows: every phase change goes
  through that table, here in :meth:`Terminal._move`;
* the call (:mod:`branch_client.call`) answers each staff member's offer with the terminal's
  camera and microphone (:mod:`branch_client.devices`, opened once and shared) and consumes their
  video and audio;
* the card read and the document capture (:mod:`branch_client.card.flow`,
  :mod:`branch_client.documents.flow`) run when a specialist asks, and report their steps;
* the kiosk (:mod:`branch_client.kiosk`) reads :meth:`Terminal.snapshot` and calls the methods
  under "what the kiosk calls".

Only this module writes the kiosk's :class:`~branch_client.kiosk.status.TerminalStatus`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

import signaling as sig
from branch_client.call.peers import Call
from branch_client.card.flow import CardFlow
from branch_client.card.reader import open_card_reader, reader_named
from branch_client.config import BranchConfig
from branch_client.devices import DeviceError
from branch_client.devices.document_camera import DocumentCamera, open_document_camera
from branch_client.devices.shared import SharedDevices
from branch_client.documents.flow import DocumentFlow
from branch_client.kiosk.local_media import FrameTap, LevelMeter
from branch_client.kiosk.status import TerminalStatus
from branch_client.link import HubLink, StartRequest, start_message
from branch_client.phases import FREE, TALKING, Event, IllegalEvent, Phase, next_phase

log = logging.getLogger(__name__)

GOODBYE_S = 8.0
"""How long the kiosk says goodbye before it welcomes the next resident."""

RATING_WAIT_S = 30.0
"""How long the kiosk asks for a rating after a conversation before it says goodbye anyway."""


class Terminal:
    def __init__(self, config: BranchConfig) -> None:
        self.config = config
        self.status = TerminalStatus()
        self.link = HubLink(
            config.hub_url,
            config.token.value,
            on_up=self._link_up,
            on_message=self.received,
            on_error=self._note_error,
        )
        self.devices = SharedDevices(config.camera, config.audio)
        self.self_view = FrameTap("self", max_width=640)  # the resident's own picture
        self.staff_view = FrameTap("staff", probe=config.video_probe)  # large on the kiosk
        self.mic_level = LevelMeter()
        self.call = Call(
            self.devices,
            self.staff_view,
            send=self._send,
            on_connected=self._call_connected,
            on_error=self._note_error,
        )
        self.card = CardFlow(
            open_card_reader(config.card_reader), reader_named(config.card_reader), self._send
        )
        self.form_task: dict[str, Any] | None = None  # a form to review, or the signature
        self.documents = DocumentFlow(
            _document_camera(config.doc_camera), config.hub_url, config.token.value, self._send
        )
        self._ended: collections.deque[str] = collections.deque(maxlen=16)
        self._reported: tuple[str, str] | None = None
        self._start: StartRequest | None = (
            StartRequest(config.start_purpose) if config.start_purpose else None
        )
        self.purposes: tuple[sig.Purpose, ...] | None = None  # from the hub's hello; kept

    # -- what the kiosk calls ------------------------------------------------------------------

    async def start_session(
        self,
        purpose: str,
        *,
        priority: str | None = None,
        needs_language: str | None = None,
        needs_hearing: bool = False,
    ) -> None:
        """The resident asks for a counter (or branch staff start one for them). Sent now if the
        hub is reachable, else on reconnect."""
        self.status.purpose = purpose
        self.status.end_reason = None
        self._start = StartRequest(purpose, priority, needs_language, needs_hearing)
        await self._send_start()

    async def end_session(self) -> None:
        """The resident leaves: abandoned while waiting, completed once talking."""
        sid = self.status.session_id
        if sid is None:
            return
        reason = "abandoned" if self.status.phase is Phase.WAITING else "completed"
        await self._send(sig.SessionEnd(session_id=sid, reason=reason))

    async def rate(self, score: int) -> bool:
        """The resident's satisfaction (1-5) for the session that just ended; once per session."""
        sid = self.status.session_id
        if self.status.phase is not Phase.ENDED or sid is None or self.status.rated is not None:
            return False
        if not await self._send(sig.SessionRating(session_id=sid, score=score)):
            return False
        self.status.rated = score
        asyncio.get_running_loop().call_later(GOODBYE_S, self._goodbye_over, sid)
        return True

    async def test_speaker(self) -> bool:
        """Play a short chime on the speaker for the kiosk's device check. False: no speaker."""
        try:
            return await self.devices.test_speaker()
        except DeviceError as exc:
            self._note_error(exc.code)
            return False

    async def card_pin(self, pin: str) -> bool:
        """The PIN the resident typed on the kiosk: to the card reader, nowhere else."""
        return self.card.offer_pin(pin)

    async def card_cancel(self) -> None:
        await self.card.cancel()

    async def review_answer(self, procedure: str, confirmed: bool) -> bool:
        """The resident confirmed the form on the kiosk (or asks the specialist about it)."""
        task, sid = self.form_task, self.status.session_id
        if not task or task.get("kind") != "review" or task["procedure"] != procedure or not sid:
            return False
        sent = await self._send(
            sig.FormConfirm(session_id=sid, procedure=procedure, confirmed=confirmed)
        )
        if sent:  # while the link is down the form stays on screen, to be confirmed again
            self.form_task = None
        return sent

    async def signed(self, signature: sig.Signature) -> bool:
        """The resident's signature from the kiosk's pad, once for the whole bundle."""
        task, sid = self.form_task, self.status.session_id
        if not task or task.get("kind") != "sign" or not sid:
            return False
        w, h = signature.width, signature.height
        sent = await self._send(
            sig.FormSignature(session_id=sid, width=w, height=h, strokes=signature.strokes)
        )
        if sent:  # while the link is down the pad stays, and the kiosk says it did not go
            self.form_task = None
        return sent

    def snapshot(self) -> dict[str, object]:
        """What the kiosk page shows, as ``/api/status`` gives it: the hub link's state, the
        status, and what the call, the microphone, the kiosk's views and the card, document and
        form tasks report now (see :mod:`branch_client.kiosk.status`)."""
        return {
            "link": self.link.state,
            **vars(self.status),
            "calls": self.call.offers,
            "staff": self.call.staff,
            "pc_state": self.call.state,
            "media": self.call.media.snapshot(),
            "mic_level_db": round(self.mic_level.level_db, 1),
            "views": {"self": self.self_view.snapshot(), "staff": self.staff_view.snapshot()},
            "task": self.card.state or self.documents.state or self.form_task,
            "document_mark": self.documents.mark,
            "purposes": [sig.to_json(p) for p in self.purposes or ()],
        }

    # -- the devices ---------------------------------------------------------------------------

    async def open_devices(self) -> None:
        """Open the camera and the microphone once, for the kiosk's preview and level meter and
        for every call; their health is known from then on. Idempotent."""
        first = not self.devices.opened
        for exc in self.devices.open():  # calls go on without it; staff and kiosk see the code
            self._note_error(exc.code)
        if first:
            self.self_view.attach(self.devices.camera_copy())
            self.mic_level.attach(self.devices.microphone_copy(buffered=False))

    async def report_devices(self, *, force: bool = False) -> None:
        """Tell the hub when the devices' health changed (or always, after a reconnect)."""
        camera, microphone = self.devices.health()
        self.status.camera, self.status.microphone = camera, microphone
        if force or self._reported != (camera, microphone):
            if await self._send(sig.DeviceStatus(camera=camera, microphone=microphone)):
                if self._reported is not None and self._reported != (camera, microphone):
                    log.warning("devices: camera %s, microphone %s", camera, microphone)
                self._reported = (camera, microphone)

    async def watch_devices(self, period_s: float = 1.0) -> None:
        while True:
            await self.report_devices()
            await asyncio.sleep(period_s)

    # -- the link to the hub -------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the link to the hub, reconnecting with backoff, until cancelled."""
        await self.link.run()

    async def _send(self, message: sig.Message) -> bool:
        return await self.link.send(message)

    async def _link_up(self) -> None:
        """Back online: ask for the session again, and say how the devices are."""
        await self._send_start()
        await self.report_devices(force=True)

    async def _send_start(self) -> None:
        if self._start is not None:
            await self._send(start_message(self._start, self.status.phase, self.status.session_id))

    def _note_error(self, code: str) -> None:
        self.status.last_error = code

    async def received(self, message: sig.Message) -> None:
        """A message from the hub."""
        try:
            await self._on_message(message)
        except IllegalEvent as exc:  # the table refuses it: the kiosk stays as it is
            log.warning("session %s: ignoring %s: %s", self.status.session_id, message.type, exc)

    async def _on_message(self, message: sig.Message) -> None:
        match message:
            case sig.QueuePosition(session_id=sid) if (
                sid == self.status.session_id and self.status.phase is Phase.WAITING
            ):
                self.status.position = message.position
                self.status.estimated_wait_s = message.estimated_wait_s
            case sig.SessionWaiting(session_id=sid) if sid in self._ended:
                pass  # a late notice about a session that is over
            case sig.SessionWaiting(session_id=sid):
                if message.transferred:
                    await self.call.hang_up()  # the next specialist will call
                self._move(Event.SESSION_WAITING, sid)
                self.status.ticket = message.ticket
                self.status.position = message.position
                self.status.estimated_wait_s = message.estimated_wait_s
                self.status.transferred = message.transferred
            case sig.SessionRequest() if self.status.phase in FREE:
                log.info("branch staff started a session: %s", message.purpose)
                await self.start_session(
                    message.purpose,
                    priority=message.priority,
                    needs_language=message.needs_language,
                    needs_hearing=message.needs_hearing,
                )
            case sig.SessionConnected(session_id=sid):
                if not (
                    self.call.live and self.status.session_id == sid
                ):  # a resume keeps the call
                    self._move(Event.SESSION_CONNECTED, sid)
                self.status.position = self.status.estimated_wait_s = None
            case sig.SdpOffer(session_id=sid, sdp=sdp) if sid == self.status.session_id:
                await self.open_devices()
                await self.call.answer(sid, message.peer_id or "staff", sdp)
            case sig.IceCandidate(session_id=sid) if sid == self.status.session_id:
                await self.call.add_candidate(message)
            case sig.CardRequest(session_id=sid) if sid == self.status.session_id and (
                self.status.phase in TALKING
            ):
                log.info("session %s: card read asked for", sid)
                self.card.start(sid, with_number=message.with_number)
            case sig.FormShow(session_id=sid) if sid == self.status.session_id:
                view = sig.to_json(message.view)
                self.form_task = {"kind": "review", **view, "procedure": message.procedure}
            case sig.DocumentCapture(session_id=sid) if sid == self.status.session_id and (
                self.status.phase in TALKING
            ):
                await self.documents.request(sid, message.group)
            case sig.DocumentMark(session_id=sid) if sid == self.status.session_id:
                self.documents.on_mark(message)
            case sig.DocumentAdded(session_id=sid) if sid == self.status.session_id:
                self.documents.on_added(message)
            case sig.FormSign(session_id=sid) if sid == self.status.session_id:
                self.form_task = {"kind": "sign"}
            case sig.CardCancel(session_id=sid) if sid == self.status.session_id:
                await self.card.cancel()
            case sig.PeerLeft(session_id=sid, peer_id=peer) if sid == self.status.session_id:
                await self.call.close_peer(peer)
            case sig.SessionHeld(session_id=sid, on=on) if sid == self.status.session_id:
                self.status.held = on
            case sig.SessionEnded(session_id=sid, reason=reason) if sid == self.status.session_id:
                await self._session_ended(sid, reason)
            case sig.Hello(purposes=purposes):
                self.purposes = purposes  # what the kiosk offers, in the catalog's order
            case sig.ErrorReply(code=code, message=text):
                log.warning("hub refused %s: %s (%s)", message.ref_type, code, text)
                self._note_error(code)
            case _:
                log.debug("ignoring %s", message.type)

    async def _session_ended(self, sid: str, reason: str) -> None:
        self._start = None
        self.card.stop_now()
        self.form_task = None
        await self.documents.stop()
        self._ended.append(sid)
        self.status.end_reason = reason
        self.status.held = False
        talked = self.status.phase in TALKING
        self._move(Event.SESSION_ENDED, sid)
        await self.call.hang_up()
        self.status.ask_rating = talked
        linger = RATING_WAIT_S if talked else GOODBYE_S
        asyncio.get_running_loop().call_later(linger, self._goodbye_over, sid)

    def _call_connected(self, session_id: str) -> None:
        """A peer connection of the call answered for ``session_id`` is up."""
        if self.status.session_id != session_id:
            return
        try:
            self._move(Event.CALL_CONNECTED, session_id)
        except IllegalEvent as exc:
            log.warning("session %s: %s", session_id, exc)

    def _goodbye_over(self, session_id: str) -> None:
        """After the goodbye screen, the kiosk is ready for the next resident."""
        if self.status.phase is Phase.ENDED and self.status.session_id == session_id:
            self._move(Event.GOODBYE_OVER, None)

    def _move(self, event: Event, session_id: str | None) -> None:
        """The one place the phase changes: to where the table says ``event`` leads, for
        ``session_id`` (``None``: no session). A new session has not been rated."""
        before = self.status.phase
        after = next_phase(before, event)
        if session_id is not None and self.status.session_id != session_id:
            self.status.ask_rating, self.status.rated = False, None
        if after is not before or self.status.session_id != session_id:
            log.info(
                "session %s: state %s -> %s", session_id or self.status.session_id, before, after
            )
        self.status.phase = after
        self.status.session_id = session_id

    async def close(self) -> None:
        await self.call.hang_up()
        await self.documents.stop()
        await self.documents.view.close()
        await self.self_view.close()
        await self.staff_view.close()
        await self.mic_level.close()
        self.devices.stop()


def _document_camera(spec: str) -> DocumentCamera | None:
    try:
        return open_document_camera(spec)
    except DeviceError as exc:
        log.error("document camera unavailable (%s): %s", exc.code, exc)
        return None
