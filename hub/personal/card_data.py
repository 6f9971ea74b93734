"""The resident's personal data in a session: the card read, sealed at rest, every access audited.

Flow: a specialist asks for a card read (``card.request``); the hub checks they take part in the
session and, when they ask for the My Number, that a procedure chosen for the session needs it;
it audits the request and passes it to the terminal. The terminal reports progress
(``card.status``, no personal data) and finally the items (``card.result``). The hub audits the
read, seals the items under the data key (:mod:`hub.personal.vault`) into
``mdg:personal:{session}`` (:func:`hub.redis_keys.personal`) —
never in clear in Redis, never in a log — and sends the session's staff ``card.data`` with the My
Number left out. ``card.reveal`` opens it for the staff member who asks, audited.

Audit first, act after: if the audit record cannot be written, the access does not happen.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

import redis.asyncio as aioredis
from aiohttp import web

import signaling as sig
from hub import redis_keys
from hub.catalog.procedures import Catalog
from hub.errors import Refused
from hub.forms.drafts import Drafts
from hub.personal import audit
from hub.personal.vault import Vault, VaultError
from hub.sessions.service import Sessions
from hub.sessions.store import Store

log = logging.getLogger(__name__)

CARD_ITEMS = ("name", "address", "birth_date", "sex")


class PersonalData:
    def __init__(
        self,
        redis: aioredis.Redis,
        store: Store,
        sessions: Sessions,
        vault: Vault,
        catalog: Catalog,
        retention_s: int,
        drafts: Drafts,
    ) -> None:
        self.redis = redis
        self.store = store
        self.sessions = sessions
        self.vault = vault
        self.catalog = catalog
        self.retention_s = retention_s
        self.drafts = drafts

    # -- what the session needs ----------------------------------------------------------------

    async def select_procedures(
        self, user: str, message: sig.SessionProcedures, now: float
    ) -> None:
        """The specialist picks the life event and its procedures for the session."""
        view = await self.sessions.live_for_staff(user, message.session_id)
        event = self.catalog.life_events.get(message.life_event)
        if event is None:
            raise Refused("unknown_life_event", f"no life event {message.life_event!r}")
        unknown = [p for p in message.procedures if p not in self.catalog.procedures]
        if unknown:
            raise Refused("unknown_procedure", f"no procedure {unknown[0]!r}")
        await self.store.set_procedures(view.id, event.id, message.procedures)
        log.info("session %s: procedures %s by %s", view.id, ",".join(message.procedures), user)
        for member in view.staff:
            await self.sessions.to_staff(member, message)
        await self.drafts.set_procedures(view, message)

    async def needs_my_number(self, session_id: str) -> bool:
        return any(
            (p := self.catalog.procedures.get(pid)) is not None and p.needs_my_number
            for pid in await self.store.procedures(session_id)
        )

    # -- the card --------------------------------------------------------------------------------

    async def request(self, user: str, message: sig.CardRequest, now: float) -> None:
        view = await self.sessions.live_for_staff(user, message.session_id)
        if message.with_number and not await self.needs_my_number(view.id):
            raise Refused(
                "number_not_needed",
                "no procedure chosen for this session needs the My Number; read without it",
            )
        fields = [*CARD_ITEMS, *(["my_number"] if message.with_number else [])]
        await audit.record(
            self.redis,
            actor=user,
            role="staff",
            action="card.request",
            session_id=view.id,
            terminal_id=view.terminal_id,
            fields=fields,
            now=now,
        )
        await self.store.note_card_request(view.id, user, message.with_number)
        await self.sessions.to_terminal(view.terminal_id, message)

    async def cancel(self, user: str, message: sig.CardCancel) -> None:
        view = await self.sessions.live_for_staff(user, message.session_id)
        await self.sessions.to_terminal(view.terminal_id, message)

    async def status(self, terminal_id: str, message: sig.CardStatus) -> None:
        view = await self.sessions.live_for_terminal(terminal_id, message.session_id)
        if message.error:
            log.info("session %s: card read failed: %s", view.id, message.error)
        for member in view.staff:
            await self.sessions.to_staff(member, message)

    async def result(self, terminal_id: str, message: sig.CardResult, now: float) -> None:
        view = await self.sessions.live_for_terminal(terminal_id, message.session_id)
        requested_by, with_number = await self.store.card_request(view.id)
        if not requested_by:
            raise Refused("not_requested", "no card read was asked for in this session")
        if message.my_number is not None and not with_number:
            # Read without being asked for: not stored, not passed on.
            log.warning("session %s: terminal sent a My Number nobody asked for", view.id)
            message = _without_number(message)
        items = {k: getattr(message, k) for k in CARD_ITEMS}
        read = [k for k, v in items.items() if v is not None]
        if message.my_number is not None:
            read.append("my_number")
        await audit.record(
            self.redis,
            actor=requested_by,
            role="staff",
            action="card.read",
            session_id=view.id,
            terminal_id=view.terminal_id,
            fields=read,
            outcome="flagged:" + "/".join(message.flagged) if message.flagged else "ok",
            now=now,
        )
        sealed = self.vault.seal_text(
            json.dumps({**items, "my_number": message.my_number, "flagged": message.flagged}),
            f"card:{view.id}",
        )
        key = redis_keys.personal(view.id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"card": sealed, "card_read_at": f"{now:.3f}"})
            pipe.expire(key, self.retention_s)
            self.store.clear_card_request(pipe, view.id)
            await pipe.execute()
        data = sig.CardData(
            session_id=view.id,
            **items,
            has_my_number=message.my_number is not None,
            my_number_last4=message.my_number[-4:] if message.my_number else None,
            flagged=message.flagged,
            read_by=requested_by,
        )
        for member in view.staff:
            await self.sessions.to_staff(member, data)
        await self.drafts.apply_card(view, {**items, "my_number": message.my_number})

    async def card_data(self, user: str, session_id: str) -> sig.CardData | None:
        """The card's items for a staff member who (re)joins the session; audited as a view."""
        view = await self.sessions.live_for_staff(user, session_id)
        card = await self._open_card(view.id)
        if card is None:
            return None
        await audit.record(
            self.redis,
            actor=user,
            role="staff",
            action="card.view",
            session_id=view.id,
            terminal_id=view.terminal_id,
            fields=[k for k in CARD_ITEMS if card.get(k) is not None],
        )
        number = card.get("my_number")
        return sig.CardData(
            session_id=view.id,
            **{k: card.get(k) for k in CARD_ITEMS},
            has_my_number=number is not None,
            my_number_last4=number[-4:] if number else None,
            flagged=tuple(card.get("flagged") or ()),
        )

    async def reveal(self, user: str, message: sig.CardReveal, now: float) -> sig.CardRevealed:
        view = await self.sessions.live_for_staff(user, message.session_id)
        card = await self._open_card(view.id)
        number = card.get("my_number") if card else None
        if not number:
            raise Refused("no_my_number", "no My Number was read in this session")
        await audit.record(
            self.redis,
            actor=user,
            role="staff",
            action="card.reveal",
            session_id=view.id,
            terminal_id=view.terminal_id,
            fields=["my_number"],
            now=now,
        )
        return sig.CardRevealed(session_id=view.id, my_number=number)

    # -- helpers -----------------------------------------------------------------------------

    async def _open_card(self, session_id: str) -> dict[str, Any] | None:
        sealed = await self.redis.hget(redis_keys.personal(session_id), "card")
        if sealed is None:
            return None
        try:
            card: dict[str, Any] = json.loads(self.vault.open_text(sealed, f"card:{session_id}"))
        except VaultError as exc:
            log.error("session %s: sealed card data does not open (%s)", session_id, exc.code)
            raise Refused("personal_data_unavailable", "the card data cannot be opened") from None
        return card


def _without_number(message: sig.CardResult) -> sig.CardResult:
    from dataclasses import replace

    return replace(message, my_number=None)


PERSONAL: Final = web.AppKey("personal", PersonalData)
