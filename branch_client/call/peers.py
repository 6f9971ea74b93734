"""The call of one session at the terminal: one WebRTC peer connection per staff member.

Theory of operation
-------------------
Staff offer; the terminal answers. The specialist's browser sends an offer through the hub (with
``peer_id``, the staff member it is from); the terminal answers with a copy of its camera and its
microphone (:class:`~branch_client.devices.shared.SharedDevices`) and consumes what they send:
every frame is counted (:class:`~branch_client.call.received.ReceivedMedia`), each staff
member's audio is played on an output stream of their own (the sound server mixes them), and
the kiosk shows the video of the first staff member still in the call (the specialist; a
colleague or interpreter who joins later is heard, and seen once the specialist leaves). A new
offer from the same person replaces their call (a page reload); one who leaves
(``peer.left``) is hung up alone; the session's end hangs up everyone.

When a peer connection comes up the call says so (``on_connected`` with the session), and the
terminal moves to ``in_call``. Problems are reported by code (``on_error``): an offer aiortc
rejects (``negotiation_failed``), a speaker that does not open; the call goes on without them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame

import signaling as sig
from branch_client.call.received import ReceivedMedia
from branch_client.devices import DeviceError, Speaker, open_speaker
from branch_client.devices.shared import SharedDevices
from branch_client.kiosk.local_media import FrameTap

log = logging.getLogger(__name__)

Play = Callable[[AudioFrame], Awaitable[None]]


class Call:
    """The peer connections of the current session, by staff member."""

    def __init__(
        self,
        devices: SharedDevices,
        staff_view: FrameTap,
        *,
        send: Callable[[sig.Message], Awaitable[bool]],
        on_connected: Callable[[str], None],
        on_error: Callable[[str], None],
    ) -> None:
        self.devices = devices
        self.staff_view = staff_view
        self.media = ReceivedMedia()
        self.offers = 0
        """Offers answered since the terminal started (the kiosk's ``calls``)."""
        self._send = send
        self._on_connected = on_connected
        self._on_error = on_error
        self._pcs: dict[str, RTCPeerConnection] = {}
        self._relay = MediaRelay()  # copies of what the staff send: counted, played, shown
        self._staff_video: dict[str, MediaStreamTrack] = {}
        self._speakers: dict[str, Speaker] = {}

    @property
    def staff(self) -> list[str]:
        """The staff members in the call, in the order they joined."""
        return list(self._pcs)

    @property
    def live(self) -> bool:
        """Whether a peer connection with any staff member is up."""
        return any(pc.connectionState == "connected" for pc in self._pcs.values())

    @property
    def state(self) -> str:
        """``connected`` when any peer connection is, else the first one's state, or ``closed``."""
        states = [pc.connectionState for pc in self._pcs.values()]
        return "connected" if "connected" in states else (states[0] if states else "closed")

    async def answer(self, session_id: str, peer: str, offer_sdp: str) -> None:
        """Answer ``peer``'s offer with the terminal's camera and microphone."""
        await self.close_peer(peer)  # a new offer from the same person replaces their call
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self._pcs[peer] = pc
        if not self._pcs.keys() - {peer}:
            self.media = ReceivedMedia()
        self.offers += 1
        camera = self.devices.camera_copy()
        if camera is not None:
            pc.addTrack(camera)
        microphone = self.devices.microphone_copy()
        if microphone is not None:
            pc.addTrack(microphone)

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
            if pc.connectionState == "connected":
                self._on_connected(session_id)

        started = time.perf_counter()
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except (ValueError, KeyError, IndexError) as exc:  # aiortc's word on an SDP it rejects
            log.error("session %s: cannot answer %s's offer: %s", session_id, peer, exc)
            self._on_error("negotiation_failed")
            await self.close_peer(peer)
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

    async def add_candidate(self, message: sig.IceCandidate) -> None:
        """A trickled ICE candidate from a staff member's browser."""
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
        """The kiosk shows the first staff member still in the call."""
        for peer in self._pcs:
            track = self._staff_video.get(peer)
            if track is not None and track.readyState == "live":
                self.staff_view.attach(self._relay.subscribe(track, buffered=False))
                return
        self.staff_view.attach(None)

    def _speaker_for(self, peer: str) -> Play | None:
        """A callback playing ``peer``'s audio on their own output stream, opened on first use;
        ``None`` with synthetic audio."""
        if not self.devices.has_speaker:
            return None

        failed = False

        async def play(frame: AudioFrame) -> None:
            nonlocal failed
            speaker = self._speakers.get(peer)
            if speaker is None and not failed:
                try:
                    speaker = self._speakers[peer] = await open_speaker(self.devices.audio_spec)
                except DeviceError as exc:  # the call goes on; the resident still sees them
                    log.error("speaker unavailable (%s): %s", exc.code, exc)
                    self._on_error(exc.code)
                    failed = True
            if speaker is not None:
                speaker.play(frame)

        return play

    async def close_peer(self, peer: str) -> None:
        """Hang up on one staff member."""
        self._staff_video.pop(peer, None)
        speaker = self._speakers.pop(peer, None)
        pc = self._pcs.pop(peer, None)
        if pc is not None:
            await pc.close()
        if speaker is not None:
            await asyncio.to_thread(speaker.close)
        self._show_staff()

    async def hang_up(self) -> None:
        """Hang up on everyone and stop counting what they sent."""
        for peer in list(self._pcs):
            await self.close_peer(peer)
        await self.media.stop()
