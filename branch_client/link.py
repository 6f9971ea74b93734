"""The terminal's link to the hub: one signaling WebSocket, kept up, and the resume of the session.

Theory of operation
-------------------
The link dials the hub's ``/ws`` with the device token and a heartbeat. Once it is up it says so
(``on_up``), and the terminal first asks for its session again (:func:`start_message`): while a
session is live the request names it (``resume``), and the hub answers with the same session,
still waiting or connected (or ``session.ended`` if it ended meanwhile), so a dropped network
costs the resident nothing. Every text frame is parsed once, here, with
:func:`signaling.parse_message`: a frame that does not parse is logged and dropped, and the
terminal only ever sees typed messages (``on_message``).

When the connection drops or cannot be made the link waits (:func:`backoff_s`: from a quarter
of a second, doubling up to 10 s, with jitter so the terminals of a branch do not all call back
at the same instant after a hub restart) and dials again, until it is cancelled. A hub that
refuses the handshake is reported (``on_error``) as ``unauthorized`` (HTTP 401: the device token
is wrong or revoked) or ``hub_refused``, and the link keeps trying: an administrator may fix it.

While the link is down :meth:`HubLink.send` returns ``False`` and sends nothing; each caller
decides what that means (the card's items wait for the link, a form stays on the kiosk).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import aiohttp

import signaling as sig
from branch_client.phases import LIVE, Phase

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0
"""The WebSocket ping interval; the hub's is 15 s too."""

MAX_FRAME_BYTES = 256 * 1024
"""The largest frame the link accepts from the hub."""

LinkState = Literal["connecting", "online", "offline"]
"""``connecting`` until the first attempt ends, then ``online`` or ``offline``."""


def backoff_s(attempt: int, jitter: float) -> float:
    """How long to wait before dialling again after ``attempt`` failures in a row (1, 2, …);
    ``jitter`` in [0.5, 1] spreads the terminals' retries."""
    return min(10.0, 0.25 * 2.0 ** min(attempt, 6)) * jitter


@dataclass(frozen=True)
class StartRequest:
    """The resident's (or branch staff's) request for a counter, kept until the session ends."""

    purpose: str
    priority: str | None = None
    needs_language: str | None = None
    needs_hearing: bool = False


def start_message(request: StartRequest, phase: Phase, session_id: str | None) -> sig.SessionStart:
    """What asks the hub for the session, when the resident asks and after every reconnect: the
    live session is named (``resume``) so the hub answers with it instead of starting another."""
    return sig.SessionStart(
        purpose=request.purpose,
        resume=session_id if phase in LIVE else None,
        priority=request.priority,
        needs_language=request.needs_language,
        needs_hearing=request.needs_hearing,
    )


class HubLink:
    """The signaling connection to the hub, for as long as :meth:`run` runs."""

    def __init__(
        self,
        hub_url: str,
        token: str,
        *,
        on_up: Callable[[], Awaitable[None]],
        on_message: Callable[[sig.Message], Awaitable[None]],
        on_error: Callable[[str], None],
    ) -> None:
        self.url = hub_url.replace("http", "ws", 1) + "/ws"
        self._token = token
        self._on_up = on_up
        self._on_message = on_message
        self._on_error = on_error
        self.state: LinkState = "connecting"
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def run(self) -> None:
        """Keep a connection to the hub, reconnecting with backoff, until cancelled."""
        headers = {"Authorization": f"Bearer {self._token}"}
        attempt = 0
        async with aiohttp.ClientSession() as http:
            while True:
                try:
                    async with http.ws_connect(
                        self.url,
                        headers=headers,
                        heartbeat=HEARTBEAT_S,
                        max_msg_size=MAX_FRAME_BYTES,
                    ) as ws:
                        self._ws = ws
                        attempt = 0
                        self.state = "online"
                        await self._on_up()
                        async for frame in ws:
                            if frame.type is aiohttp.WSMsgType.TEXT:
                                await self._received(frame.data)
                except aiohttp.WSServerHandshakeError as exc:
                    self._on_error("unauthorized" if exc.status == 401 else "hub_refused")
                    log.error("hub refused the terminal (HTTP %s)", exc.status)
                except (aiohttp.ClientError, OSError) as exc:
                    log.info("hub unreachable: %s", exc)
                finally:
                    self._ws = None
                    self.state = "offline"
                attempt += 1
                await asyncio.sleep(backoff_s(attempt, random.uniform(0.5, 1.0)))  # noqa: S311

    async def send(self, message: sig.Message) -> bool:
        """Send ``message`` now; ``False`` (and nothing sent) while the link is down."""
        ws = self._ws
        if ws is None or ws.closed:
            return False
        await ws.send_str(sig.encode(message))
        return True

    async def _received(self, text: str) -> None:
        try:
            message = sig.parse_message(text)
        except sig.ProtocolError as exc:
            log.warning("hub sent a bad message (%s): %s", exc.code, exc)
            return
        await self._on_message(message)
