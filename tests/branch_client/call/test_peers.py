"""The terminal's call with real aiortc peers in this process playing the staff: one peer
connection per staff member, the kiosk shows the first one still in the call, each can be hung
up alone, and an offer aiortc rejects is reported by code."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

import signaling as sig
from branch_client.call.peers import Call
from branch_client.call.received import ReceivedMedia
from branch_client.devices.shared import SharedDevices
from branch_client.devices.synthetic import SyntheticCamera, ToneSource
from branch_client.kiosk.local_media import FrameTap
from tests.branch_client.conftest import until


class Recorder:
    """What the call sends and reports."""

    def __init__(self) -> None:
        self.sent: list[sig.Message] = []
        self.connected: list[str] = []
        self.errors: list[str] = []

    async def send(self, message: sig.Message) -> bool:
        self.sent.append(message)
        return True


@pytest.fixture
async def call(loopback_ice: None) -> AsyncIterator[tuple[Call, Recorder]]:
    devices = SharedDevices("synthetic", "synthetic")
    assert devices.open() == []
    view = FrameTap("staff")
    recorder = Recorder()
    call = Call(
        devices,
        view,
        send=recorder.send,
        on_connected=recorder.connected.append,
        on_error=recorder.errors.append,
    )
    yield call, recorder
    await call.hang_up()
    await view.close()
    devices.stop()


async def staff_member(call: Call, recorder: Recorder, peer: str) -> RTCPeerConnection:
    """A staff member's browser: camera and microphone, an offer, the terminal's answer."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTrack(SyntheticCamera(320, 240))
    pc.addTrack(ToneSource(660.0))
    received = ReceivedMedia()
    pc.on("track", received.consume)
    await pc.setLocalDescription(await pc.createOffer())
    await call.answer("s-1", peer, pc.localDescription.sdp)
    answer = recorder.sent[-1]
    assert isinstance(answer, sig.SdpAnswer) and answer.peer_id == peer
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
    return pc


async def test_each_staff_member_has_a_call_and_the_kiosk_shows_the_first(
    call: tuple[Call, Recorder],
) -> None:
    terminal_call, recorder = call
    suzuki = await staff_member(terminal_call, recorder, "suzuki")
    await until(lambda: terminal_call.live, "the call to come up")
    assert recorder.connected == ["s-1"] and terminal_call.state == "connected"
    await until(lambda: terminal_call.staff_view.live, "the kiosk to show suzuki")
    tanaka = await staff_member(terminal_call, recorder, "tanaka")
    assert terminal_call.staff == ["suzuki", "tanaka"] and terminal_call.offers == 2
    await until(lambda: len(recorder.connected) == 2, "the colleague's call to come up")
    media = terminal_call.media
    await until(lambda: media.video_frames > 20 and media.audio_frames > 20, "their media")

    await terminal_call.close_peer("suzuki")  # the specialist leaves; the colleague stays
    assert terminal_call.staff == ["tanaka"] and terminal_call.live
    await until(lambda: terminal_call.staff_view.live, "the kiosk to show tanaka")

    await terminal_call.hang_up()
    assert terminal_call.staff == [] and terminal_call.state == "closed"
    assert not terminal_call.staff_view.live
    for pc in (suzuki, tanaka):
        await pc.close()


async def test_an_offer_aiortc_rejects_is_reported(call: tuple[Call, Recorder]) -> None:
    terminal_call, recorder = call
    await terminal_call.answer("s-1", "suzuki", "v=0\r\nnot an offer\r\n")
    assert recorder.errors == ["negotiation_failed"]
    assert terminal_call.staff == [] and recorder.sent == []
