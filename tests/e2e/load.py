"""Scripted peers on the hub's real signaling, for synchronous end-to-end tests and scripts:
terminals (enrolled for real) and staff (logged in for real) as WebSocket clients, running on
their own event loop in a thread, since Playwright's sync API owns the main thread's loop."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import redis.asyncio as aioredis

import signaling as sig
from hub.sessions.store import Store

T = TypeVar("T")
M = TypeVar("M")


@dataclass
class Peer:
    """One signaling connection and what it has received, in order."""

    name: str
    ws: aiohttp.ClientWebSocketResponse
    http: aiohttp.ClientSession
    inbox: asyncio.Queue[sig.Message] = field(default_factory=asyncio.Queue)
    reader: asyncio.Task[None] | None = None


class Load:
    def __init__(self, hub_url: str, redis_url: str) -> None:
        self.hub_url = hub_url
        self.redis_url = redis_url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="load", daemon=True)
        self.thread.start()
        self.peers: list[Peer] = []

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # -- connecting ------------------------------------------------------------------------------

    async def _open(self, name: str, http: aiohttp.ClientSession, headers: dict[str, str]) -> Peer:
        ws = await http.ws_connect("/ws", headers=headers)
        peer = Peer(name, ws, http)
        hello = sig.parse_message(await ws.receive_str(timeout=5))
        assert isinstance(hello, sig.Hello), hello

        async def read() -> None:
            async for frame in ws:
                if frame.type is aiohttp.WSMsgType.TEXT:
                    await peer.inbox.put(sig.parse_message(frame.data))

        peer.reader = asyncio.create_task(read())
        self.peers.append(peer)
        return peer

    async def _terminal(self, terminal_id: str, branch_id: str, name: str) -> Peer:
        redis = aioredis.from_url(self.redis_url, decode_responses=True)
        try:
            token = await Store(redis).enroll_terminal(terminal_id, branch_id, name)
        finally:
            await redis.aclose()
        http = aiohttp.ClientSession(base_url=self.hub_url)
        return await self._open(terminal_id, http, {"Authorization": f"Bearer {token}"})

    async def _staff(self, username: str, password: str) -> Peer:
        jar = aiohttp.CookieJar(unsafe=True)  # the hub listens on 127.0.0.1
        http = aiohttp.ClientSession(base_url=self.hub_url, cookie_jar=jar)
        origin = {"Origin": self.hub_url}
        res = await http.post(
            "/api/login", json={"username": username, "password": password}, headers=origin
        )
        assert res.status == 200, await res.text()
        return await self._open(username, http, origin)

    def terminal(self, terminal_id: str, branch_id: str, name: str) -> Peer:
        """Enroll a terminal and connect it."""
        return self.run(self._terminal(terminal_id, branch_id, name))

    def staff(self, username: str, password: str) -> Peer:
        return self.run(self._staff(username, password))

    # -- talking ---------------------------------------------------------------------------------

    def send(self, peer: Peer, message: sig.Message) -> None:
        self.run(peer.ws.send_str(sig.encode(message)))

    async def _expect(
        self, peer: Peer, kind: type[M], where: Callable[[M], bool], within: float
    ) -> M:
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{peer.name}: no {kind.__name__} within {within}s")
            try:
                message = await asyncio.wait_for(peer.inbox.get(), left)
            except TimeoutError:
                continue
            if isinstance(message, kind) and where(message):
                return message

    def expect(
        self,
        peer: Peer,
        kind: type[M],
        where: Callable[[M], bool] = lambda _: True,
        within: float = 10.0,
    ) -> M:
        """The next message of this kind (and matching ``where``), skipping the others."""
        return self.run(self._expect(peer, kind, where, within), timeout=within + 5)

    def close(self) -> None:
        async def close_all() -> None:
            for peer in self.peers:
                await peer.ws.close()
                await peer.http.close()
                if peer.reader is not None:
                    peer.reader.cancel()

        try:
            self.run(close_all())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()
