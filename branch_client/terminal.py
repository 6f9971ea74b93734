"""The terminal agent: its link to the hub, the resident's session, and the WebRTC call.

The link reconnects with backoff and, once back, asks the hub for the session it had: the hub
answers with the same session (still waiting, or connected), so a dropped network costs the
resident nothing. The call is answered here: the specialist's browser offers, the terminal answers
with its camera and microphone and consumes the specialist's video and audio.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.sdp import candidate_from_sdp

import signaling as sig
from branch_client.card.reader import AsyncCardReader
from branch_client.card_flow import CardFlow
from branch_client.config import BranchConfig
from branch_client.devices import DeviceError, Speaker, open_camera, open_microphone, open_speaker
from branch_client.devices.document_camera import DocumentCamera, open_document_camera
from branch_client.document_flow import DocumentFlow
from branch_client.local_media import FrameTap, LevelMeter, Yuv420
from branch_client.media import ReceivedMedia, tone_frames

log = logging.getLogger(__name__)

GOODBYE_S = 8.0
"""How long the kiosk says goodbye before it welcomes the next resident."""

RATING_WAIT_S = 30.0
"""How long the kiosk asks for a rating after a conversation before it says goodbye anyway."""

_HEALTH_OF_CODE = {"camera_in_use": "in_use", "microphone_in_use": "in_use"}


@dataclass
class TerminalStatus:
    """What the kiosk shows and the tests read."""

    link: str = "connecting"  # connecting | online | offline
    phase: str = "idle"  # idle | waiting | connected | in_call | ended
    session_id: str | None = None
    ticket: str | None = None
    position: int | None = None
    estimated_wait_s: int | None = None
    transferred: bool = False
    held: bool = False
    purpose: str | None = None
    end_reason: str | None = None
    last_error: str | None = None
    calls: int = 0
    camera: str = "idle"  # device health: ok, missing, failed, in_use, idle (not opened yet)
    microphone: str = "idle"
    ask_rating: bool = False  # the session that ended had a conversation: ask how it was
    rated: int | None = None  # the resident's satisfaction rating (1-5) for it


class Terminal:
    def __init__(self, config: BranchConfig) -> None:
        self.config = config
        self.status = TerminalStatus()
        self.media = ReceivedMedia()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ended: collections.deque[str] = collections.deque(maxlen=16)
        self._pcs: dict[str, RTCPeerConnection] = {}
        self._relay = MediaRelay()
        self.camera: MediaStreamTrack | None = None  # opened once; every call gets a relay copy
        self.microphone: MediaStreamTrack | None = None
        self._device_errors: dict[str, str] = {}
        self._devices_open = False
        self._staff_video: dict[str, MediaStreamTrack] = {}  # each staff member's video
        self._speakers: dict[str, Speaker] = {}  # one output stream per staff member: mixed
        self.self_view = FrameTap("self", max_width=640)  # the resident's own picture
        self.staff_view = FrameTap("staff", probe=config.video_probe)  # large on the kiosk
        self.mic_level = LevelMeter()
        self.card = CardFlow(_card_reader(config.card_reader), _reader_name(config), self._send)
        self.form_task: dict[str, Any] | None = None  # a form to review, or the signature
        self.documents = DocumentFlow(
            _document_camera(config.doc_camera), config.hub_url, config.token.value, self._send
        )
        self._reported: tuple[str, str] | None = None
        self._start_details: dict[str, Any] = {}  # one call per staff member in the session
        self._pending_start: str | None = config.start_purpose
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
        self._pending_start = purpose
        self._start_details = {
            "priority": priority,
            "needs_language": needs_language,
            "needs_hearing": needs_hearing,
        }
        await self._send_start()

    async def end_session(self) -> None:
        """The resident leaves: abandoned while waiting, completed once talking."""
        sid = self.status.session_id
        if sid is None:
            return
        reason = "abandoned" if self.status.phase == "waiting" else "completed"
        await self._send(sig.SessionEnd(session_id=sid, reason=reason))

    async def rate(self, score: int) -> bool:
        """The resident's satisfaction (1-5) for the session that just ended; once per session."""
        sid = self.status.session_id
        if self.status.phase != "ended" or sid is None or self.status.rated is not None:
            return False
        if not await self._send(sig.SessionRating(session_id=sid, score=score)):
            return False
        self.status.rated = score
        asyncio.get_running_loop().call_later(GOODBYE_S, self._back_to_idle, sid)
        return True

    async def test_speaker(self) -> bool:
        """Play a short chime on the speaker for the kiosk's device check. False: no speaker."""
        if self.config.audio == "synthetic":
            return False
        try:
            speaker = await open_speaker(self.config.audio)
        except DeviceError as exc:
            self.status.last_error = exc.code
            return False
        try:
            for frame in tone_frames(660.0, seconds=1.0):
                speaker.play(frame)
            await asyncio.sleep(1.2)
        finally:
            await asyncio.to_thread(speaker.close)
        return True

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

    def snapshot(self) -> dict[str, Any]:
        states = [pc.connectionState for pc in self._pcs.values()]
        pc_state = "connected" if "connected" in states else (states[0] if states else "closed")
        return {
            **self.status.__dict__,
            "staff": list(self._pcs),
            "pc_state": pc_state,
            "media": self.media.snapshot(),
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
        if self._devices_open:
            return
        self._devices_open = True
        for device, opener, spec in (
            ("camera", open_camera, self.config.camera),
            ("microphone", open_microphone, self.config.audio),
        ):
            try:
                track = opener(spec)
            except DeviceError as exc:  # calls go on without it; staff and kiosk see the code
                log.error("%s unavailable (%s): %s", device, exc.code, exc)
                self._device_errors[device] = exc.code
                self.status.last_error = exc.code
                continue
            setattr(self, device, Yuv420(track) if device == "camera" else track)
        if self.camera is not None:
            self.self_view.attach(self._relay.subscribe(self.camera, buffered=False))
        if self.microphone is not None:
            self.mic_level.attach(self._relay.subscribe(self.microphone, buffered=False))

    # -- the link to the hub -------------------------------------------------------------------

    async def run(self) -> None:
        """Keep a signaling connection to the hub, reconnecting with backoff, until cancelled."""
        url = self.config.hub_url.replace("http", "ws", 1) + "/ws"
        headers = {"Authorization": f"Bearer {self.config.token.value}"}
        attempt = 0
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.ws_connect(
                        url, headers=headers, heartbeat=15.0, max_msg_size=256 * 1024
                    ) as ws:
                        self._ws = ws
                        attempt = 0
                        self.status.link = "online"
                        await self._send_start()
                        await self.report_devices(force=True)
                        async for frame in ws:
                            if frame.type is aiohttp.WSMsgType.TEXT:
                                await self._on_text(frame.data)
                except aiohttp.WSServerHandshakeError as exc:
                    self.status.last_error = "unauthorized" if exc.status == 401 else "hub_refused"
                    log.error("hub refused the terminal (HTTP %s)", exc.status)
                except (aiohttp.ClientError, OSError) as exc:
                    log.info("hub unreachable: %s", exc)
                finally:
                    self._ws = None
                    self.status.link = "offline"
                attempt += 1
                delay = min(10.0, 0.25 * 2 ** min(attempt, 6)) * random.uniform(0.5, 1.0)  # noqa: S311
                await asyncio.sleep(delay)

    async def _send(self, message: sig.Message) -> bool:
        ws = self._ws
        if ws is None or ws.closed:
            return False
        await ws.send_str(sig.encode(message))
        return True

    async def _send_start(self) -> None:
        purpose = self._pending_start
        if purpose is not None:
            live = self.status.phase in ("waiting", "connected", "in_call")
            resume = self.status.session_id if live else None
            await self._send(
                sig.SessionStart(purpose=purpose, resume=resume, **self._start_details)
            )

    async def _on_text(self, text: str) -> None:
        try:
            message = sig.parse_message(text)
        except sig.ProtocolError as exc:
            log.warning("hub sent a bad message (%s): %s", exc.code, exc)
            return
        match message:
            case sig.QueuePosition(session_id=sid) if (
                sid == self.status.session_id and self.status.phase == "waiting"
            ):
                self.status.position = message.position
                self.status.estimated_wait_s = message.estimated_wait_s
            case sig.SessionWaiting(session_id=sid) if sid in self._ended:
                pass  # a late notice about a session that is over
            case sig.SessionWaiting(session_id=sid):
                if message.transferred:
                    await self._hang_up()  # the next specialist will call
                self._enter("waiting", sid)
                self.status.ticket = message.ticket
                self.status.position = message.position
                self.status.estimated_wait_s = message.estimated_wait_s
                self.status.transferred = message.transferred
            case sig.SessionRequest() if self.status.phase in ("idle", "ended"):
                log.info("branch staff started a session: %s", message.purpose)
                await self.start_session(
                    message.purpose,
                    priority=message.priority,
                    needs_language=message.needs_language,
                    needs_hearing=message.needs_hearing,
                )
            case sig.SessionConnected(session_id=sid):
                live = any(pc.connectionState == "connected" for pc in self._pcs.values())
                if not (live and self.status.session_id == sid):  # a resume keeps the call
                    self._enter("connected", sid)
                self.status.position = self.status.estimated_wait_s = None
            case sig.SdpOffer(session_id=sid, sdp=sdp) if sid == self.status.session_id:
                await self._answer(sid, message.peer_id or "staff", sdp)
            case sig.IceCandidate(session_id=sid) if sid == self.status.session_id:
                await self._add_candidate(message)
            case sig.CardRequest(session_id=sid) if sid == self.status.session_id and (
                self.status.phase in ("connected", "in_call")
            ):
                log.info("session %s: card read asked for", sid)
                self.card.start(sid, with_number=message.with_number)
            case sig.FormShow(session_id=sid) if sid == self.status.session_id:
                view = sig.to_json(message.view)
                self.form_task = {"kind": "review", **view, "procedure": message.procedure}
            case sig.DocumentCapture(session_id=sid) if sid == self.status.session_id and (
                self.status.phase in ("connected", "in_call")
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
                await self._close_call(peer)
            case sig.SessionHeld(session_id=sid, on=on) if sid == self.status.session_id:
                self.status.held = on
            case sig.SessionEnded(session_id=sid, reason=reason) if sid == self.status.session_id:
                self._pending_start = None
                self.card.stop_now()
                self.form_task = None
                await self.documents.stop()
                self._ended.append(sid)
                self.status.end_reason = reason
                self.status.held = False
                talked = self.status.phase in ("connected", "in_call")
                self._enter("ended", sid)
                await self._hang_up()
                self.status.ask_rating = talked
                linger = RATING_WAIT_S if talked else GOODBYE_S
                asyncio.get_running_loop().call_later(linger, self._back_to_idle, sid)
            case sig.Hello(purposes=purposes):
                self.purposes = purposes  # what the kiosk offers, in the catalog's order
            case sig.ErrorReply(code=code, message=text):
                log.warning("hub refused %s: %s (%s)", message.ref_type, code, text)
                self.status.last_error = code
            case _:
                log.debug("ignoring %s", message.type)

    def _back_to_idle(self, session_id: str) -> None:
        """After the goodbye screen, the kiosk is ready for the next resident."""
        if self.status.phase == "ended" and self.status.session_id == session_id:
            self.status.phase, self.status.session_id = "idle", None

    def _enter(self, phase: str, session_id: str) -> None:
        if self.status.session_id != session_id:
            self.status.ask_rating, self.status.rated = False, None
        if self.status.phase != phase or self.status.session_id != session_id:
            log.info("session %s: state %s -> %s", session_id, self.status.phase, phase)
        self.status.phase = phase
        self.status.session_id = session_id

    # -- device health ---

    def _health(self) -> tuple[str, str]:
        """Health of the camera and of the microphone: ``idle`` before they are opened."""

        def of(device: str, track: MediaStreamTrack | None) -> str:
            if track is not None:
                return str(getattr(track, "health", "ok"))
            if device in self._device_errors:
                return _HEALTH_OF_CODE.get(self._device_errors[device], "missing")
            return "idle"

        return of("camera", self.camera), of("microphone", self.microphone)

    async def report_devices(self, *, force: bool = False) -> None:
        """Tell the hub when the devices' health changed (or always, after a reconnect)."""
        camera, microphone = self._health()
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

    # -- the call ------------------------------------------------------------------------------

    async def _answer(self, session_id: str, peer: str, offer_sdp: str) -> None:
        await self._close_call(peer)  # a new offer from the same person replaces their call
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs[peer] = pc
        if not self._pcs.keys() - {peer}:
            self.media = ReceivedMedia()
        self.status.calls += 1
        await self.open_devices()
        if self.camera is not None:
            pc.addTrack(self._relay.subscribe(self.camera, buffered=False))
        if self.microphone is not None:
            pc.addTrack(self._relay.subscribe(self.microphone))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._staff_video[peer] = track
                self.media.consume(self._relay.subscribe(track, buffered=False))
                self._show_staff()
            else:
                self.media.consume(self._relay.subscribe(track), play=self._speaker_for(peer))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("session %s: call with %s %s", session_id, peer, pc.connectionState)
            if pc.connectionState == "connected" and self.status.session_id == session_id:
                self._enter("in_call", session_id)

        started = time.perf_counter()
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except (ValueError, KeyError, IndexError) as exc:  # aiortc's word on an SDP it rejects
            log.error("session %s: cannot answer %s's offer: %s", session_id, peer, exc)
            self.status.last_error = "negotiation_failed"
            await self._close_call(peer)
            return
        await self._send(
            sig.SdpAnswer(session_id=session_id, sdp=pc.localDescription.sdp, peer_id=peer)
        )
        log.info(
            "session %s: answered %s in %.0f ms",
            session_id,
            peer,
            (time.perf_counter() - started) * 1000,
        )

    async def _add_candidate(self, message: sig.IceCandidate) -> None:
        pc = self._pcs.get(message.peer_id or "staff")
        if pc is None or not message.candidate:
            return
        try:
            candidate = candidate_from_sdp(message.candidate.removeprefix("candidate:"))
        except (ValueError, IndexError):
            log.warning("ignoring a malformed ICE candidate")
            return
        candidate.sdpMid = message.sdp_mid
        candidate.sdpMLineIndex = message.sdp_mline_index
        await pc.addIceCandidate(candidate)

    def _show_staff(self) -> None:
        """The kiosk shows the first staff member still in the call (the specialist; a colleague
        or interpreter who joins later is heard, and seen once the specialist leaves)."""
        for peer in self._pcs:
            track = self._staff_video.get(peer)
            if track is not None and track.readyState == "live":
                self.staff_view.attach(self._relay.subscribe(track, buffered=False))
                return
        self.staff_view.attach(None)

    def _speaker_for(self, peer: str) -> Any:
        """A callback playing ``peer``'s audio on their own output stream (the sound server mixes
        the streams), opened on first use; ``None`` with synthetic audio."""
        if self.config.audio == "synthetic":
            return None

        failed = False

        async def play(frame: Any) -> None:
            nonlocal failed
            speaker = self._speakers.get(peer)
            if speaker is None and not failed:
                try:
                    speaker = self._speakers[peer] = await open_speaker(self.config.audio)
                except DeviceError as exc:  # the call goes on; the resident still sees them
                    log.error("speaker unavailable (%s): %s", exc.code, exc)
                    self.status.last_error = exc.code
                    failed = True
            if speaker is not None:
                speaker.play(frame)

        return play

    async def _close_call(self, peer: str) -> None:
        self._staff_video.pop(peer, None)
        speaker = self._speakers.pop(peer, None)
        pc = self._pcs.pop(peer, None)
        if pc is not None:
            await pc.close()
        if speaker is not None:
            await asyncio.to_thread(speaker.close)
        self._show_staff()

    async def _hang_up(self) -> None:
        for peer in list(self._pcs):
            await self._close_call(peer)
        await self.media.stop()

    async def close(self) -> None:
        await self._hang_up()
        await self.documents.stop()
        await self.documents.view.close()
        await self.self_view.close()
        await self.staff_view.close()
        await self.mic_level.close()
        for track in (self.camera, self.microphone):
            if track is not None:
                track.stop()


def _card_reader(spec: str) -> AsyncCardReader | None:
    if spec == "none":
        return None
    from branch_client.card.reader import PcscCardReader  # loads pyscard only when wanted

    return AsyncCardReader(PcscCardReader())


def _reader_name(config: BranchConfig) -> str | None:
    return None if config.card_reader in ("auto", "none") else config.card_reader


def _document_camera(spec: str) -> DocumentCamera | None:
    try:
        return open_document_camera(spec)
    except DeviceError as exc:
        log.error("document camera unavailable (%s): %s", exc.code, exc)
        return None
