"""The hub link against a small WebSocket server of our own: it dials with the device token,
hands on only messages that parse, says when it is up (each time, after a drop), reports a
refused handshake, and backs off between attempts; and what it asks the hub for on reconnect."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

import signaling as sig
from branch_client.link import HubLink, StartRequest, backoff_s, start_message
from branch_client.phases import Phase
from tests.branch_client.conftest import until


def test_backoff_doubles_to_ten_seconds_with_jitter() -> None:
    assert [backoff_s(n, 1.0) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff_s(3, 0.5) == 1.0
    assert backoff_s(50, 1.0) == 10.0


@pytest.mark.parametrize("phase", list(Phase))
def test_a_live_session_is_resumed_by_name(phase: Phase) -> None:
    request = StartRequest("birth", priority="pregnancy", needs_language="en", needs_hearing=True)
    message = start_message(request, phase, "s-1")
    live = phase in (Phase.WAITING, Phase.CONNECTED, Phase.IN_CALL)
    assert message.resume == ("s-1" if live else None)
    assert (message.purpose, message.priority, message.needs_language) == (
        "birth",
        "pregnancy",
        "en",
    )
    assert message.needs_hearing


class Hub:
    """A WebSocket endpoint that records each connection's token, sends ``frames`` and closes
    (or refuses the handshake with ``refuse``)."""

    def __init__(self, frames: list[str], refuse: int | None = None) -> None:
        self.frames = frames
        self.refuse = refuse
        self.tokens: list[str | None] = []

    async def ws(self, request: web.Request) -> web.StreamResponse:
        self.tokens.append(request.headers.get("Authorization"))
        if self.refuse == 401:
            raise web.HTTPUnauthorized()
        if self.refuse is not None:
            raise web.HTTPForbidden()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for frame in self.frames:
            await ws.send_str(frame)
        await ws.close()
        return ws


@contextlib.asynccontextmanager
async def serving(hub: Hub) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/ws", hub.ws)
    server = TestServer(app)
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


class Listener:
    def __init__(self) -> None:
        self.ups = 0
        self.messages: list[sig.Message] = []
        self.errors: list[str] = []

    async def up(self) -> None:
        self.ups += 1

    async def message(self, message: sig.Message) -> None:
        self.messages.append(message)

    def error(self, code: str) -> None:
        self.errors.append(code)


@contextlib.asynccontextmanager
async def linked(url: str, listener: Listener) -> AsyncIterator[HubLink]:
    link = HubLink(
        url,
        "kita-01.secret",
        on_up=listener.up,
        on_message=listener.message,
        on_error=listener.error,
    )
    task = asyncio.create_task(link.run())
    try:
        yield link
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_messages_that_parse_are_handed_on_and_a_drop_is_redialled() -> None:
    good = sig.encode(sig.SessionConnected(session_id="s-1"))
    hub = Hub(['{"type":"nope"}', "not json", good])
    listener = Listener()
    async with serving(hub) as url, linked(url, listener) as link:
        assert link.state == "connecting"
        await until(lambda: listener.ups >= 2, "the link to come back after the hub closed")
        assert hub.tokens[:2] == ["Bearer kita-01.secret"] * 2
        assert listener.messages[0] == sig.SessionConnected(session_id="s-1")
        assert all(isinstance(m, sig.SessionConnected) for m in listener.messages)
        assert listener.errors == []


@pytest.mark.parametrize(("status", "code"), [(401, "unauthorized"), (403, "hub_refused")])
async def test_a_refused_handshake_is_reported_and_retried(status: int, code: str) -> None:
    hub = Hub([], refuse=status)
    listener = Listener()
    async with serving(hub) as url, linked(url, listener) as link:
        await until(lambda: len(hub.tokens) >= 2, "a second attempt")
        assert listener.errors[:2] == [code, code]
        assert link.state == "offline" and listener.ups == 0
        assert not await link.send(sig.SessionConnected(session_id="s-1"))
