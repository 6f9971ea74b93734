"""Shared by the terminal's tests: the real hub app on the private Redis, a terminal agent linked
to it, and a staff member's signaling socket to play the specialist with.

Other packages' tests (the hub's form tests) import the fixtures and helpers from here."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

import signaling as sig
from branch_client.config import BranchConfig
from branch_client.kiosk.server import create_kiosk_app
from branch_client.terminal import Terminal
from hub.accounts.store import add_account
from hub.app import create_app
from hub.config import HubConfig
from hub.sessions.store import Store

PASSWORD = "correct horse battery"
M = TypeVar("M", bound=sig.Message)


async def until(predicate: Callable[[], object], what: str, limit_s: float = 15.0) -> None:
    """Wait until ``predicate()`` holds; fail naming ``what`` after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
async def hub(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[TestServer, str]]:
    """The hub app with a specialist (suzuki), branch staff (sato) and terminal kita-01; yields
    the server and the terminal's device token."""
    r = aioredis.from_url(redis_url, decode_responses=True)
    await add_account(r, "suzuki", PASSWORD, "specialist", "鈴木", skills=["juumin"])
    await add_account(r, "sato", PASSWORD, "branch_staff", "佐藤", branch_id="kita")
    token = await Store(r).enroll_terminal("kita-01", "kita", "北支所 1")
    await r.aclose()
    server = TestServer(create_app(HubConfig(redis_url=redis_url, data_dir=tmp_path)))
    await server.start_server()
    yield server, token
    await server.close()


@contextlib.asynccontextmanager
async def running_terminal(
    hub: tuple[TestServer, str], *, watch_devices_s: float | None = None, **settings: str
) -> AsyncIterator[Terminal]:
    """A terminal agent linked to ``hub`` (flags as ``settings``), online; closed after. With
    ``watch_devices_s`` it also reports its devices' health that often."""
    server, token = hub
    config = BranchConfig.from_env(
        {}, hub_url=str(server.make_url("")).rstrip("/"), token=token, **settings
    )
    term = Terminal(config)
    tasks = [asyncio.create_task(term.run())]
    if watch_devices_s is not None:
        tasks.append(asyncio.create_task(term.watch_devices(period_s=watch_devices_s)))
    try:
        await until(lambda: term.link.state == "online", "the terminal to come online")
        yield term
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await term.close()


@pytest.fixture
async def terminal(hub: tuple[TestServer, str], loopback_ice: None) -> AsyncIterator[Terminal]:
    """A terminal agent with the synthetic devices, online on the hub app."""
    async with running_terminal(hub) as term:
        yield term


@pytest.fixture
async def kiosk(terminal: Terminal) -> AsyncIterator[TestClient]:
    """The terminal's kiosk page server."""
    client = TestClient(TestServer(create_kiosk_app(terminal)))
    await client.start_server()
    yield client
    await client.close()


class StaffSocket:
    """A staff member's signaling socket on the test hub, logged in."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[sig.Message] = []
        """Every message received, the skipped ones too."""

    async def send(self, message: sig.Message) -> None:
        await self.ws.send_str(sig.encode(message))

    async def next_of(self, kind: type[M], where: Callable[[M], bool] = lambda m: True) -> M:
        """The next message of this type (and matching ``where``), skipping others."""
        while True:
            message = sig.parse_message(await self.ws.receive_str(timeout=15))
            self.seen.append(message)
            if isinstance(message, kind) and where(message):
                return message

    async def seen_or_next(self, kind: type[M], where: Callable[[M], bool] = lambda m: True) -> M:
        """The last message of this type (matching ``where``) already received, while waiting
        for another, or else the next one: for news that may overtake what the test waits for."""
        for message in reversed(self.seen):
            if isinstance(message, kind) and where(message):
                return message
        return await self.next_of(kind, where)


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


@contextlib.asynccontextmanager
async def in_call(server: TestServer, terminal: Terminal) -> AsyncIterator[tuple[StaffSocket, str]]:
    """suzuki takes the resident's session (signaling only: no media is needed for the card,
    the documents or the forms)."""
    await terminal.start_session("moving")
    await until(lambda: terminal.status.phase == "waiting", "the session to wait")
    async with staff_socket(server, "suzuki") as staff:
        await staff.send(sig.SpecialistSetState(state="available"))
        offered = await staff.next_of(sig.SessionOffered)
        await staff.send(sig.SessionAccept(session_id=offered.session_id))
        await staff.next_of(sig.SessionAssigned)
        await until(lambda: terminal.status.phase == "connected", "the terminal to connect")
        yield staff, offered.session_id
