"""The forms of a session, filled together: one draft per session, shared by its staff and shown
to the resident, with nothing overwritten silently.

Theory of operation. The draft holds the life event, the procedures, every value (a shared one
once, as ``shared.{key}``; a form's own as ``form.{procedure}.{field}``) with where it came from
(``card``, ``staff``, ``resident``) and the draft version at which it last changed, the forms the
resident confirmed (at which version), and the signature. It is sealed under the data key (it
holds names, addresses and perhaps the My Number) in ``mdg:draft:{session}``; every change is a
compare-and-set on the whole record (``WATCH``), so two hubs never lose each other's writes.

An edit names the version of the field it was based on; if the field has changed since, the edit
is refused (``edit_conflict``) and the editor gets the current draft: a colleague's change is
never overwritten unseen. A confirmation holds while none of the form's values changes after it.
After each change every staff member of the session gets ``form.state`` (the My Number masked)
and, while the resident reviews a form, the terminal gets ``form.show`` again: the kiosk shows
the same form, live.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date
from typing import Any, Final, TypeVar

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import WatchError

import signaling as sig
from hub import redis_keys
from hub.catalog.procedures import Catalog, FieldSpec
from hub.errors import Refused
from hub.forms.validation import make_bundle, mask_my_number, to_wareki
from hub.personal.vault import Vault
from hub.sessions.service import Sessions
from hub.sessions.store import SessionView, Store

log = logging.getLogger(__name__)

T = TypeVar("T")


def empty_draft() -> dict[str, Any]:
    return {
        "version": 0,
        "life_event": None,
        "answers": {},
        "procedures": [],
        "values": {},
        "confirmed": {},
        "signature": None,
        "reviewing": None,
    }


class Drafts:
    def __init__(
        self,
        redis: aioredis.Redis,
        store: Store,
        sessions: Sessions,
        vault: Vault,
        catalog: Catalog,
        retention_s: int,
    ) -> None:
        self.redis = redis
        self.store = store
        self.sessions = sessions
        self.vault = vault
        self.catalog = catalog
        self.retention_s = retention_s

    # -- storage ---------------------------------------------------------------------------------

    async def load(self, session_id: str) -> dict[str, Any]:
        sealed = await self.redis.get(redis_keys.draft(session_id))
        if sealed is None:
            return empty_draft()
        draft: dict[str, Any] = json.loads(self.vault.open_text(sealed, f"draft:{session_id}"))
        return draft

    async def _update(
        self, session_id: str, change: Callable[[dict[str, Any]], T]
    ) -> tuple[dict[str, Any], T]:
        """Apply ``change`` to the draft atomically (retried when another hub wrote meanwhile);
        the draft's version goes up by one."""
        key = redis_keys.draft(session_id)
        while True:
            async with self.redis.pipeline(transaction=True) as pipe:
                try:
                    await pipe.watch(key)
                    sealed = await pipe.get(key)
                    draft = (
                        json.loads(self.vault.open_text(sealed, f"draft:{session_id}"))
                        if sealed
                        else empty_draft()
                    )
                    result = change(draft)
                    draft["version"] += 1
                    pipe.multi()
                    pipe.set(
                        key,
                        self.vault.seal_text(
                            json.dumps(draft, ensure_ascii=False), f"draft:{session_id}"
                        ),
                        ex=self.retention_s,
                    )
                    await pipe.execute()
                    return draft, result
                except WatchError:
                    continue

    # -- changes from staff ----------------------------------------------------------------------

    async def set_procedures(self, view: SessionView, message: sig.SessionProcedures) -> None:
        # A life event and procedures that make no bundle: FormsError, refused with its code.
        make_bundle(self.catalog, message.life_event, procedures=message.procedures)

        def change(draft: dict[str, Any]) -> None:
            draft["life_event"] = message.life_event
            draft["procedures"] = list(message.procedures)
            draft["confirmed"] = {}
            draft["reviewing"] = None
            # The card may have been read first: its items go where this life event puts them
            # (at 転入 the card's address is the previous address).
            mapping = self._card_mapping(message.life_event)
            for name, entry in list(draft["values"].items()):
                attribute = entry.get("attr")
                if entry["source"] != "card" or attribute not in mapping:
                    continue
                target = f"shared.{mapping[attribute]}"
                if target != name:
                    del draft["values"][name]
                    draft["values"][target] = {**entry, "ver": draft["version"] + 1}

        draft, _ = await self._update(view.id, change)
        await self.broadcast(view, draft)

    async def apply_card(self, view: SessionView, items: dict[str, Any]) -> None:
        """The card's items fill the shared values they map to (at 転入 the card's address is the
        previous address), marked as from the card."""

        def change(draft: dict[str, Any]) -> None:
            mapping = self._card_mapping(draft["life_event"])
            for attribute, value in items.items():
                key = mapping.get(attribute)
                if key is not None and value is not None:
                    draft["values"][f"shared.{key}"] = {
                        "value": value,
                        "source": "card",
                        "attr": attribute,
                        "ver": draft["version"] + 1,
                    }

        draft, _ = await self._update(view.id, change)
        await self.broadcast(view, draft)

    async def edit(self, user: str, message: sig.FormEdit) -> None:
        view = await self.sessions.live_for_staff(user, message.session_id)
        value = sig.to_json(message.value)  # typed and bounded by the parser; stored as JSON

        def change(draft: dict[str, Any]) -> None:
            self._check_field(draft, message.field)
            current = draft["values"].get(message.field)
            seen = current["ver"] if current else 0
            if seen != message.base:
                raise _Conflict
            if value in (None, "", []):
                draft["values"].pop(message.field, None)
            else:
                draft["values"][message.field] = {
                    "value": value,
                    "source": "staff",
                    "ver": draft["version"] + 1,
                }

        try:
            draft, _ = await self._update(view.id, change)
        except _Conflict:
            await self.sessions.to_staff(
                user, self.state_message(view.id, await self.load(view.id))
            )
            raise Refused(
                "edit_conflict", "someone changed this field meanwhile; see the new value"
            ) from None
        await self.broadcast(view, draft)

    async def review(self, user: str, message: sig.FormReview) -> None:
        view = await self.sessions.live_for_staff(user, message.session_id)

        def change(draft: dict[str, Any]) -> None:
            if message.procedure not in draft["procedures"]:
                raise Refused("unknown_procedure", "that form is not in this session")
            draft["reviewing"] = message.procedure

        draft, _ = await self._update(view.id, change)
        await self.broadcast(view, draft)

    async def sign_request(self, user: str, message: sig.FormSign) -> None:
        view = await self.sessions.live_for_staff(user, message.session_id)
        draft = await self.load(view.id)
        missing = [p for p in draft["procedures"] if not self.confirmed(draft, p)]
        if not draft["procedures"] or missing:
            raise Refused("not_confirmed", "the resident confirms every form before signing")
        await self.sessions.to_terminal(view.terminal_id, message)

    # -- from the resident, through the terminal ---------------------------------------------------

    async def confirm(self, terminal_id: str, message: sig.FormConfirm) -> None:
        view = await self.sessions.live_for_terminal(terminal_id, message.session_id)

        def change(draft: dict[str, Any]) -> None:
            if message.procedure not in draft["procedures"]:
                raise Refused("unknown_procedure", "that form is not in this session")
            if message.confirmed:
                draft["confirmed"][message.procedure] = draft["version"]
            else:
                draft["confirmed"].pop(message.procedure, None)
            draft["reviewing"] = None

        draft, _ = await self._update(view.id, change)
        log.info(
            "session %s: resident %s %s",
            view.id,
            "confirmed" if message.confirmed else "asked about",
            message.procedure,
        )
        for member in view.staff:
            await self.sessions.to_staff(member, message)
        await self.broadcast(view, draft)

    async def signature(self, terminal_id: str, message: sig.FormSignature) -> None:
        view = await self.sessions.live_for_terminal(terminal_id, message.session_id)
        # Checked by the parser (sig.Signature's rule, the one the intake applies too).

        def change(draft: dict[str, Any]) -> None:
            draft["signature"] = {
                "width": message.width,
                "height": message.height,
                "strokes": [[[p.x, p.y] for p in s] for s in message.strokes],
                "ver": draft["version"] + 1,
            }

        draft, _ = await self._update(view.id, change)
        log.info("session %s: the resident signed (%d strokes)", view.id, len(message.strokes))
        await self.broadcast(view, draft)

    # -- what goes out ---------------------------------------------------------------------------

    def confirmed(self, draft: dict[str, Any], procedure: str) -> bool:
        at = draft["confirmed"].get(procedure)
        if at is None:
            return False
        spec = self.catalog.procedures.get(procedure)
        if spec is None:
            return False
        names = {f"form.{procedure}.{f.id}" for f in spec.fields} | {
            f"shared.{f.shared_key}" for f in spec.fields if f.shared_key
        }
        return all(v["ver"] <= at for k, v in draft["values"].items() if k in names)

    def state_message(self, session_id: str, draft: dict[str, Any]) -> sig.FormState:
        shown = {
            **draft,
            "values": {k: _masked(k, v) for k, v in draft["values"].items()},
            "confirmed": {p: self.confirmed(draft, p) for p in draft["procedures"]},
            "signed": draft["signature"] is not None,
            "signature": None,
        }
        return sig.FormState(session_id=session_id, version=draft["version"], draft=shown)

    def show_message(self, session_id: str, draft: dict[str, Any]) -> sig.FormShow | None:
        """The form the resident reviews, in words for the kiosk (the My Number masked)."""
        pid = draft["reviewing"]
        spec = self.catalog.procedures.get(pid or "")
        if spec is None:
            return None
        fields = []
        for f in spec.fields:
            name = f"shared.{f.shared_key}" if f.shared_key else f"form.{pid}.{f.id}"
            entry = draft["values"].get(name)
            if entry is None:
                continue
            fields.append(
                sig.ReviewField(
                    label=sig.Names(f.ja, f.en),
                    value=_display(f, entry["value"]),
                    from_card=entry["source"] == "card",
                )
            )
        view = sig.FormView(
            title=sig.Names(spec.ja, spec.en),
            index=draft["procedures"].index(pid) + 1,
            count=len(draft["procedures"]),
            fields=tuple(fields),
        )
        return sig.FormShow(session_id=session_id, procedure=spec.id, view=view)

    async def broadcast(self, view: SessionView, draft: dict[str, Any]) -> None:
        state = self.state_message(view.id, draft)
        for member in view.staff:
            await self.sessions.to_staff(member, state)
        show = self.show_message(view.id, draft)
        if show is not None:
            await self.sessions.to_terminal(view.terminal_id, show)

    def bundle(self, draft: dict[str, Any]) -> dict[str, Any]:
        """The draft as an intake submission's ``bundle`` (see
        :func:`hub.forms.validation.parse_submission`),
        the My Number included: built here, so it never travels through a browser."""
        shared: dict[str, Any] = {}
        forms: dict[str, dict[str, Any]] = {}
        provenance: dict[str, Any] = {"shared": {}, "forms": {}}
        # Only what the chosen forms use: a card item no form asks for stays out.
        used = {
            f.shared_key
            for pid in draft["procedures"]
            for f in self.catalog.procedures[pid].fields
            if f.shared_key
        }
        for name, entry in draft["values"].items():
            scope, _, rest = name.partition(".")
            if scope == "shared":
                if rest not in used:
                    continue
                shared[rest] = entry["value"]
                provenance["shared"][rest] = entry["source"]
            else:
                pid, _, fid = rest.partition(".")
                if pid not in draft["procedures"]:
                    continue
                forms.setdefault(pid, {})[fid] = entry["value"]
                provenance["forms"].setdefault(pid, {})[fid] = entry["source"]
        signature = draft["signature"]
        return {
            "life_event": draft["life_event"],
            "answers": draft["answers"],
            "procedures": draft["procedures"],
            "shared": shared,
            "forms": forms,
            "provenance": provenance,
            "signature": (
                {k: signature[k] for k in ("width", "height", "strokes")} if signature else None
            ),
        }

    # -- helpers -----------------------------------------------------------------------------------

    def _card_mapping(self, life_event: str | None) -> dict[str, str]:
        """Card attribute -> the shared key it fills at this life event."""
        mapping = {k.card: k.key for k in self.catalog.shared_keys.values() if k.card}
        event = self.catalog.life_events.get(life_event or "")
        if event is not None:
            mapping.update(event.card)
        return mapping

    def _check_field(self, draft: dict[str, Any], name: str) -> None:
        scope, _, rest = name.partition(".")
        procedures = [self.catalog.procedures[p] for p in draft["procedures"]]
        if scope == "shared":
            if any(f.shared_key == rest for p in procedures for f in p.fields):
                return
        elif scope == "form":
            pid, _, fid = rest.partition(".")
            spec = self.catalog.procedures.get(pid)
            found = spec.field(fid) if spec is not None else None
            if pid in draft["procedures"] and found is not None and not found.shared_key:
                return
        raise Refused("unknown_field", f"no field {name!r} in this session's forms")


class _Conflict(Exception):
    pass


def _masked(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    if name.endswith("my_number") and isinstance(entry["value"], str):
        return {**entry, "value": mask_my_number(entry["value"]), "masked": True}
    return entry


def _display(spec: FieldSpec, value: Any) -> str:
    if spec.type == "my_number" and isinstance(value, str):
        return mask_my_number(value)
    if spec.options and isinstance(value, str):
        option = spec.option(value)
        if option is not None:
            return option.ja
    if spec.type == "date" and isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        return f"{to_wareki(day)}（{day.year}年）"
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if isinstance(value, list):
        return "、".join(str(m.get("name", "")) for m in value if isinstance(m, dict))
    return str(value)


DRAFTS: Final = web.AppKey("drafts", Drafts)
