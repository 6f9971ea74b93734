"""The terminal agent against the real hub app and a real aiortc peer playing the specialist."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

import signaling as sig
from branch_client.config import BranchConfig
from branch_client.devices.synthetic import ReceivedMedia, SyntheticCamera, ToneSource
from branch_client.kiosk.server import create_kiosk_app
from branch_client.terminal import Terminal
from hub.accounts.store import add_account
from hub.app import create_app
from hub.config import HubConfig
from hub.sessions.store import Store

PASSWORD = "correct horse battery"


async def until(predicate: Any, what: str, limit_s: float = 15.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def hub(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[TestServer, str]]:
    r = aioredis.from_url(redis_url, decode_responses=True)
    await add_account(r, "suzuki", PASSWORD, "specialist", "鈴木", skills=["juumin"])
    await add_account(r, "sato", PASSWORD, "branch_staff", "佐藤", branch_id="kita")
    token = await Store(r).enroll_terminal("kita-01", "kita", "北支所 1")
    await r.aclose()
    server = TestServer(create_app(HubConfig(redis_url=redis_url, data_dir=tmp_path)))
    await server.start_server()
    yield server, token
    await server.close()


@pytest.fixture
async def terminal(hub: tuple[TestServer, str], loopback_ice: None) -> AsyncIterator[Terminal]:
    server, token = hub
    config = BranchConfig.from_env({}, hub_url=str(server.make_url("")).rstrip("/"), token=token)
    term = Terminal(config)
    task = asyncio.create_task(term.run())
    await until(lambda: term.status.link == "online", "the terminal to come online")
    yield term
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await term.close()


class StaffSocket:
    """A staff member's signaling socket on the test hub, logged in."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: sig.Message) -> None:
        await self.ws.send_str(sig.encode(message))

    async def next_of(self, kind: type[sig.Message], where: Any = lambda m: True) -> Any:
        """The next message of this type (and matching ``where``), skipping others."""
        while not (
            isinstance(m := sig.parse_message(await self.ws.receive_str(timeout=15)), kind)
            and where(m)
        ):
            pass
        return m


@contextlib.asynccontextmanager
async def staff_socket(server: TestServer, user: str) -> AsyncIterator[StaffSocket]:
    origin = {"Origin": f"http://{server.host}:{server.port}"}
    async with aiohttp.ClientSession(
        base_url=server.make_url(""), cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as http:
        res = await http.post(
            "/api/login", json={"username": user, "password": PASSWORD}, headers=origin
        )
        assert res.status == 200
        ws = await http.ws_connect("/ws", headers=origin)
        assert isinstance(sig.parse_message(await ws.receive_str()), sig.Hello)
        try:
            yield StaffSocket(ws)
        finally:
            await ws.close()


async def test_terminal_answers_a_call_with_video_and_audio(
    hub: tuple[TestServer, str], terminal: Terminal
) -> None:
    server, _ = hub
    await terminal.start_session("moving")
    await until(lambda: terminal.status.phase == "waiting", "the session to wait")

    async with staff_socket(server, "suzuki") as staff:
        ws, next_of = staff.ws, staff.next_of
        await ws.send_str(sig.encode(sig.SpecialistSetState(state="available")))
        offered = await next_of(sig.SessionOffered)
        assert offered.session_id == terminal.status.session_id
        await ws.send_str(sig.encode(sig.SessionAccept(session_id=offered.session_id)))
        assigned = await next_of(sig.SessionAssigned)
        assert assigned.session_id == terminal.status.session_id

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        received = ReceivedMedia()
        pc.addTrack(SyntheticCamera(320, 240))
        pc.addTrack(ToneSource(880.0))
        pc.on("track", received.consume)
        await pc.setLocalDescription(await pc.createOffer())
        await ws.send_str(
            sig.encode(sig.SdpOffer(session_id=assigned.session_id, sdp=pc.localDescription.sdp))
        )
        answer = await next_of(sig.SdpAnswer)
        assert answer.peer_id == "suzuki"
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))

        await until(
            lambda: received.video_frames >= 30 and received.audio_frames >= 30,
            "the specialist to receive the terminal's media",
        )
        await until(
            lambda: terminal.media.video_frames >= 30 and terminal.media.audio_frames >= 30,
            "the terminal to receive the specialist's media",
        )
        assert terminal.status.phase == "in_call"

        await ws.send_str(
            sig.encode(sig.SessionEnd(session_id=assigned.session_id, reason="completed"))
        )
        await until(lambda: terminal.status.phase == "ended", "the terminal to hang up")
        assert terminal.snapshot()["pc_state"] == "closed"
        assert terminal.status.end_reason == "completed"
        await received.stop()
        await pc.close()


async def test_kiosk_api(terminal: Terminal) -> None:
    client = TestClient(TestServer(create_kiosk_app(terminal)))
    await client.start_server()
    try:
        page = await client.get("/")
        assert "ご用件をお選びください" in await page.text()
        refused = await client.post("/api/start", json={"purpose": "moving"})
        assert refused.status == 403
        headers = {"X-Madoguchi-Kiosk": "1"}
        bad = await client.post("/api/start", json={"purpose": "rm -rf"}, headers=headers)
        assert (await bad.json())["error"] == "unknown_purpose"
        garbage = await client.post("/api/start", data=b"{{{", headers=headers)
        assert (await garbage.json())["error"] == "bad_json"
        ok = await client.post("/api/start", json={"purpose": "birth"}, headers=headers)
        assert ok.status == 200
        await until(lambda: terminal.status.phase == "waiting", "the session to wait")
        status = await (await client.get("/api/status")).json()
        assert status["phase"] == "waiting" and status["position"] == 1
        assert status["ticket"] == "E-001"  # birth -> kosodate
        assert "token" not in str(status).lower()
        await client.post("/api/end", headers=headers)
        await until(lambda: terminal.status.phase == "ended", "the session to end")
        assert terminal.status.end_reason == "abandoned"
    finally:
        await client.close()


async def test_a_camera_pulled_mid_call_is_reported_to_the_specialist(
    hub: tuple[TestServer, str], loopback_ice: None, tmp_path: Path, redis_url: str
) -> None:
    """The terminal films from a video file (a real OpenCV capture); the file is cut short
    mid-call, as a pulled cable would: the call goes on, the specialist is told the camera
    failed, and told again when it is back."""
    from tests.branch_client.devices.test_camera import write_video

    server, token = hub
    video = tmp_path / "face.avi"
    write_video(video)
    original = video.read_bytes()
    config = BranchConfig.from_env(
        {}, hub_url=str(server.make_url("")).rstrip("/"), token=token, camera=str(video)
    )
    term = Terminal(config)
    link = asyncio.create_task(term.run())
    watch = asyncio.create_task(term.watch_devices(period_s=0.2))
    try:
        await until(lambda: term.status.link == "online", "the terminal to come online")
        await term.start_session("moving")
        async with staff_socket(server, "suzuki") as staff:
            ws, next_of = staff.ws, staff.next_of
            await ws.send_str(sig.encode(sig.SpecialistSetState(state="available")))
            offered = await next_of(sig.SessionOffered)
            await ws.send_str(sig.encode(sig.SessionAccept(session_id=offered.session_id)))
            await next_of(sig.SessionAssigned)
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            received = ReceivedMedia()
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver("audio", direction="recvonly")
            pc.on("track", received.consume)
            await pc.setLocalDescription(await pc.createOffer())
            await ws.send_str(
                sig.encode(sig.SdpOffer(session_id=offered.session_id, sdp=pc.localDescription.sdp))
            )
            answer = await next_of(sig.SdpAnswer)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
            ok = await next_of(sig.DeviceStatus, lambda m: m.camera == "ok")
            assert ok.terminal_id == "kita-01"
            await until(lambda: received.video_frames >= 10, "the terminal's video")

            video.write_bytes(b"")  # the cable is pulled
            failed = await next_of(sig.DeviceStatus, lambda m: m.camera == "failed")
            assert failed.microphone == "ok"
            frames = received.video_frames
            await until(lambda: received.video_frames > frames + 10, "frames while it is gone")
            assert term.status.phase == "in_call"

            video.write_bytes(original)  # and plugged back in
            await next_of(sig.DeviceStatus, lambda m: m.camera == "ok")
            r = aioredis.from_url(redis_url, decode_responses=True)
            assert await r.hget("mdg:terminal:kita-01", "camera") == "ok"
            await r.aclose()
            await received.stop()
            await pc.close()
    finally:
        for task in (link, watch):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await term.close()


async def test_branch_staff_start_a_session_on_the_terminal(
    hub: tuple[TestServer, str], terminal: Terminal
) -> None:
    server, _ = hub
    async with staff_socket(server, "sato") as staff:
        ws = staff.ws
        await ws.send_str(
            sig.encode(
                sig.TerminalStart(
                    terminal_id="kita-01",
                    purpose="birth",
                    priority="pregnancy",
                    needs_language="en",
                )
            )
        )
        await until(lambda: terminal.status.phase == "waiting", "the session to wait")
        assert terminal.status.purpose == "birth" and terminal.status.ticket == "E-001"
        await ws.send_str(sig.encode(sig.TerminalCancel(terminal_id="kita-01")))
        await until(lambda: terminal.status.phase == "ended", "the cancel to arrive")
        assert terminal.status.end_reason == "cancelled"
