"""The card read at the terminal, from the specialist's request to the items sent to the hub.

Steps, each shown on the kiosk and reported to the specialist as ``card.status``:

    insert  -> (a card answers)        -> pin       the tries left are read first, spending none
    pin     -> (the resident's PIN)    -> reading
    reading -> (read)                  -> done      the items go to the hub as ``card.result``
            -> (wrong PIN)             -> pin       with the tries left
            -> (card pulled)           -> insert
    any     -> (blocked)               -> error     final: no VERIFY is ever sent to it again
    any     -> (cancelled)             -> cancelled

While no card answers (none inserted, not a My Number card, the reader unplugged, several readers
holding cards) the flow says why and keeps looking: the resident can fix it. The PIN comes from
the kiosk on this machine, goes to the card and nowhere else, and is not kept or logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import signaling as sig
from branch_client.card import CardError, CardInfo

log = logging.getLogger(__name__)

POLL_S = 0.5
"""How often the reader is asked whether a card answers, while the kiosk asks for one."""

SHOW_RESULT_S = 4.0
"""How long the kiosk shows "done" (take your card) or a final error before the call view."""

DELIVER_RETRY_S = 0.5
"""While the link to the hub is down, how often the card's items are offered to it again."""

GIVE_UP_S = 180.0
"""A card request nobody answers ends after this long."""


class CardReading(Protocol):
    """What the flow needs from a reader (:class:`~branch_client.card.reader.AsyncCardReader`):
    calls that do not block the event loop."""

    async def tries_left(self, reader: str | None = None) -> int: ...

    async def read(
        self, pin: str, *, with_number: bool = False, reader: str | None = None
    ) -> CardInfo: ...


class CardFlow:
    def __init__(
        self,
        reader: CardReading | None,
        reader_name: str | None,
        send: Callable[[sig.Message], Awaitable[bool]],
    ) -> None:
        self.reader = reader
        self.reader_name = reader_name
        self._send = send
        self.state: dict[str, Any] | None = None  # what the kiosk shows; never personal data
        self._task: asyncio.Task[None] | None = None
        self._pins: asyncio.Queue[str] = asyncio.Queue(maxsize=1)
        self._session_id: str | None = None

    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, session_id: str, *, with_number: bool) -> None:
        self.stop_now()
        self._session_id = session_id
        self._task = asyncio.create_task(self._run(session_id, with_number), name="card-read")

    def offer_pin(self, pin: str) -> bool:
        """The resident's PIN from the kiosk; False unless the flow is waiting for one."""
        if not (self.state and self.state.get("step") == "pin") or self._pins.full():
            return False
        self._pins.put_nowait(pin)
        return True

    async def cancel(self) -> None:
        """The resident or the specialist gives up on the card."""
        sid = self._session_id
        if self.active and sid is not None:
            self.stop_now()
            await self._send(sig.CardStatus(session_id=sid, step="cancelled"))
        self.state = None

    def stop_now(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        with contextlib.suppress(asyncio.QueueEmpty):
            self._pins.get_nowait()
        self.state = None

    async def _report(
        self, sid: str, step: str, *, tries_left: int | None = None, error: str | None = None
    ) -> None:
        self.state = {"kind": "card", "step": step, "tries_left": tries_left, "error": error}
        await self._send(
            sig.CardStatus(session_id=sid, step=step, tries_left=tries_left, error=error)
        )

    async def _run(self, sid: str, with_number: bool) -> None:
        try:
            async with asyncio.timeout(GIVE_UP_S):
                await self._read(sid, with_number)
        except TimeoutError:
            await self._report(sid, "error", error="no_card")
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not take the call down; the specialist sees card_error
            log.exception("session %s: the card read failed", sid)
            await self._report(sid, "error", error="card_error")
        await asyncio.sleep(SHOW_RESULT_S)
        self.state = None

    async def _read(self, sid: str, with_number: bool) -> None:
        if self.reader is None:
            await self._report(sid, "error", error="reader_unavailable")
            return
        await self._report(sid, "insert")
        error: str | None = None  # why the last attempt failed, shown with the next step
        shown: str | None = None
        while True:
            # 1. A card that answers, and its tries left (spends none).
            try:
                tries = await self.reader.tries_left(self.reader_name)
            except CardError as exc:
                if exc.code == "card_blocked":
                    await self._report(sid, "error", tries_left=0, error="card_blocked")
                    return
                why = error if exc.code in ("no_card", "card_removed") else exc.code
                if why != shown or self.state is None or self.state["step"] != "insert":
                    await self._report(sid, "insert", error=why)
                    shown = why
                await asyncio.sleep(POLL_S)
                continue
            if tries <= 0:
                await self._report(sid, "error", tries_left=0, error="card_blocked")
                return
            # 2. The PIN, typed on the kiosk.
            await self._report(
                sid, "pin", tries_left=tries, error=error if error == "wrong_pin" else None
            )
            error = shown = None
            pin = await self._pins.get()
            await self._report(sid, "reading")
            try:
                info = await self.reader.read(pin, with_number=with_number, reader=self.reader_name)
            except CardError as exc:
                if exc.code == "card_blocked":
                    await self._report(sid, "error", tries_left=0, error="card_blocked")
                    return
                error = exc.code if exc.code != "invalid_pin" else "wrong_pin"
                log.info("session %s: card read: %s", sid, exc.code)
                continue  # back to 1: the tries left are read again, the card may be gone
            finally:
                del pin
            # 3. The items, to the hub; the kiosk asks the resident to take the card.
            await self._deliver(
                sid,
                sig.CardResult(
                    session_id=sid,
                    name=info.name,
                    address=info.address,
                    birth_date=info.birth_date_iso,
                    sex=info.sex_name,
                    my_number=info.my_number if with_number else None,
                    flagged=tuple(f for f in info.flagged if f in sig.CARD_FIELDS),
                ),
            )
            await self._report(sid, "done")
            return

    async def _deliver(self, sid: str, result: sig.CardResult) -> None:
        """The items must reach the hub: the resident typed their PIN for them. While the link is
        down (a hub restart, a network drop) the kiosk says "reading" and we wait for it."""
        while True:
            if await self._send(result):
                return
            await asyncio.sleep(DELIVER_RETRY_S)
