"""The terminal agent against the real hub app and a real aiortc peer playing the specialist."""

from __future__ import annotations

from pathlib import Path

import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

import signaling as sig
from branch_client.call.received import ReceivedMedia
from branch_client.devices.synthetic import SyntheticCamera, ToneSource
from branch_client.terminal import Terminal
from tests.branch_client.conftest import StaffSocket, running_terminal, staff_socket, until


async def take_session(staff: StaffSocket) -> str:
    """The specialist becomes available and takes the session offered."""
    await staff.send(sig.SpecialistSetState(state="available"))
    offered = await staff.next_of(sig.SessionOffered)
    await staff.send(sig.SessionAccept(session_id=offered.session_id))
    assigned = await staff.next_of(sig.SessionAssigned)
    assert assigned.session_id == offered.session_id
    return offered.session_id


async def call(staff: StaffSocket, session_id: str, pc: RTCPeerConnection) -> sig.SdpAnswer:
    """The specialist's browser offers; the terminal's answer completes the negotiation."""
    await pc.setLocalDescription(await pc.createOffer())
    await staff.send(sig.SdpOffer(session_id=session_id, sdp=pc.localDescription.sdp))
    answer = await staff.next_of(sig.SdpAnswer)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
    return answer


async def test_terminal_answers_a_call_with_video_and_audio(
    hub: tuple[TestServer, str], terminal: Terminal
) -> None:
    server, _ = hub
    await terminal.start_session("moving")
    await until(lambda: terminal.status.phase == "waiting", "the session to wait")

    async with staff_socket(server, "suzuki") as staff:
        sid = await take_session(staff)
        assert sid == terminal.status.session_id
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        received = ReceivedMedia()
        pc.addTrack(SyntheticCamera(320, 240))
        pc.addTrack(ToneSource(880.0))
        pc.on("track", received.consume)
        answer = await call(staff, sid, pc)
        assert answer.peer_id == "suzuki"

        await until(
            lambda: received.video_frames >= 30 and received.audio_frames >= 30,
            "the specialist to receive the terminal's media",
        )
        media = terminal.call.media
        await until(
            lambda: media.video_frames >= 30 and media.audio_frames >= 30,
            "the terminal to receive the specialist's media",
        )
        assert terminal.status.phase == "in_call"
        assert terminal.snapshot()["staff"] == ["suzuki"]

        await staff.send(sig.SessionEnd(session_id=sid, reason="completed"))
        await until(lambda: terminal.status.phase == "ended", "the terminal to hang up")
        assert terminal.snapshot()["pc_state"] == "closed"
        assert terminal.status.end_reason == "completed"
        await received.stop()
        await pc.close()


async def test_a_camera_pulled_mid_call_is_reported_to_the_specialist(
    hub: tuple[TestServer, str], loopback_ice: None, tmp_path: Path, redis_url: str
) -> None:
    """The terminal films from a video file (a real OpenCV capture); the file is cut short
    mid-call, as a pulled cable would: the call goes on, the specialist is told the camera
    failed, and told again when it is back."""
    from tests.branch_client.devices.test_camera import write_video

    server, _ = hub
    video = tmp_path / "face.avi"
    write_video(video)
    original = video.read_bytes()
    async with running_terminal(hub, watch_devices_s=0.2, camera=str(video)) as term:
        await term.start_session("moving")
        async with staff_socket(server, "suzuki") as staff:
            sid = await take_session(staff)
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            received = ReceivedMedia()
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver("audio", direction="recvonly")
            pc.on("track", received.consume)
            await call(staff, sid, pc)
            # The camera opens with the first offer: its health may overtake the answer.
            ok = await staff.seen_or_next(sig.DeviceStatus, lambda m: m.camera == "ok")
            assert ok.terminal_id == "kita-01"
            await until(lambda: received.video_frames >= 10, "the terminal's video")

            video.write_bytes(b"")  # the cable is pulled
            failed = await staff.next_of(sig.DeviceStatus, lambda m: m.camera == "failed")
            assert failed.microphone == "ok"
            frames = received.video_frames
            await until(lambda: received.video_frames > frames + 10, "frames while it is gone")
            assert term.status.phase == "in_call"

            video.write_bytes(original)  # and plugged back in
            await staff.next_of(sig.DeviceStatus, lambda m: m.camera == "ok")
            r = aioredis.from_url(redis_url, decode_responses=True)
            assert await r.hget("mdg:terminal:kita-01", "camera") == "ok"
            await r.aclose()
            await received.stop()
            await pc.close()


async def test_branch_staff_start_a_session_on_the_terminal(
    hub: tuple[TestServer, str], terminal: Terminal
) -> None:
    server, _ = hub
    async with staff_socket(server, "sato") as staff:
        await staff.send(
            sig.TerminalStart(
                terminal_id="kita-01", purpose="birth", priority="pregnancy", needs_language="en"
            )
        )
        await until(lambda: terminal.status.phase == "waiting", "the session to wait")
        assert terminal.status.purpose == "birth" and terminal.status.ticket == "E-001"
        await staff.send(sig.TerminalCancel(terminal_id="kita-01"))
        await until(lambda: terminal.status.phase == "ended", "the cancel to arrive")
        assert terminal.status.end_reason == "cancelled"
