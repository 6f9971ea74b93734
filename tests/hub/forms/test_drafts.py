"""The session's draft on the real hub app, with a real terminal agent: concurrent edits are never
lost silently, a confirmation holds only while its form is unchanged, the signature waits for
every confirmation, and the draft is sealed at rest."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

import signaling as sig
from branch_client.terminal import Terminal
from hub import redis_keys
from tests.branch_client.card.test_terminal_card import in_call
from tests.branch_client.test_terminal_call import (  # noqa: F401
    StaffSocket,
    hub,
    terminal,
    until,
)

FORM = "juuminhyou_koufu"


async def state_after(staff: StaffSocket) -> dict[str, Any]:
    message = await staff.next_of(sig.FormState)
    return json.loads(message.draft) | {"version": message.version}  # type: ignore[no-any-return]


async def choose(staff: StaffSocket, sid: str) -> dict[str, Any]:
    await staff.send(
        sig.SessionProcedures(session_id=sid, life_event="shoumeisho", procedures=(FORM,))
    )
    return await state_after(staff)


async def test_an_edit_on_a_stale_version_is_refused_not_applied(
    hub: tuple[TestServer, str],  # noqa: F811
    terminal: Terminal,  # noqa: F811
    redis_url: str,
) -> None:
    server, _ = hub
    async with in_call(server, terminal) as (staff, sid):
        await choose(staff, sid)
        field = f"form.{FORM}.copies"
        await staff.send(sig.FormEdit(session_id=sid, field=field, value='"2"', base=0))
        first = await state_after(staff)
        assert first["values"][field]["value"] == "2"
        version = first["values"][field]["ver"]
        # A colleague's console still showing the field as new (base 0) tries to write "5".
        await staff.send(sig.FormEdit(session_id=sid, field=field, value='"5"', base=0))
        refused = await staff.next_of(sig.ErrorReply)  # the editor is told why …
        assert refused.code == "edit_conflict"
        fresh = await state_after(staff)  # … and shown the current value
        assert fresh["values"][field] == first["values"][field]
        # Made on the current version, it goes through.
        await staff.send(sig.FormEdit(session_id=sid, field=field, value='"5"', base=version))
        assert (await state_after(staff))["values"][field]["value"] == "5"
        # Fields not in the session's forms, and values that are not plain, are refused.
        for bad in (
            sig.FormEdit(session_id=sid, field="form.zei_shoumei.year", value='"1"', base=0),
            sig.FormEdit(session_id=sid, field="shared.my_number", value='"1"', base=0),
            sig.FormEdit(session_id=sid, field=field, value='{"a": {"b": 1}}', base=0),
            sig.FormEdit(session_id=sid, field=field, value="not json", base=0),
        ):
            await staff.send(bad)
            assert (await staff.next_of(sig.ErrorReply)).code in ("unknown_field", "bad_value")

    r = aioredis.from_url(redis_url, decode_responses=True)
    sealed = await r.get(redis_keys.draft(sid))
    await r.aclose()
    assert sealed and FORM not in sealed and '"5"' not in sealed  # sealed, not JSON in clear


async def test_confirmation_holds_until_the_form_changes_and_gates_the_signature(
    hub: tuple[TestServer, str],  # noqa: F811
    terminal: Terminal,  # noqa: F811
) -> None:
    server, _ = hub
    async with in_call(server, terminal) as (staff, sid):
        await choose(staff, sid)
        await staff.send(sig.FormSign(session_id=sid))
        assert (await staff.next_of(sig.ErrorReply)).code == "not_confirmed"

        await staff.send(sig.FormReview(session_id=sid, procedure=FORM))
        await until(lambda: (terminal.form_task or {}).get("kind") == "review", "the review")
        assert terminal.form_task is not None and terminal.form_task["procedure"] == FORM
        assert await terminal.review_answer(FORM, True)
        confirm = await staff.next_of(sig.FormConfirm)
        assert confirm.confirmed
        state = await staff.next_of(sig.FormState, lambda m: json.loads(m.draft)["confirmed"])
        assert json.loads(state.draft)["confirmed"] == {FORM: True}

        # A change after the resident confirmed undoes the confirmation.
        await staff.send(
            sig.FormEdit(session_id=sid, field=f"form.{FORM}.copies", value='"3"', base=0)
        )
        changed = await state_after(staff)
        assert changed["confirmed"] == {FORM: False}
        await staff.send(sig.FormSign(session_id=sid))
        assert (await staff.next_of(sig.ErrorReply)).code == "not_confirmed"

        await staff.send(sig.FormReview(session_id=sid, procedure=FORM))
        await until(lambda: terminal.form_task is not None, "the review again")
        await terminal.review_answer(FORM, True)
        await staff.next_of(sig.FormState, lambda m: json.loads(m.draft)["confirmed"][FORM])
        await staff.send(sig.FormSign(session_id=sid))
        await until(lambda: (terminal.form_task or {}).get("kind") == "sign", "the signature pad")
        assert await terminal.signed(100, 100, [[[500, 10, 0]]])  # outside its box: the hub …
        await until(lambda: terminal.status.last_error == "bad_signature", "… refuses it")
        terminal.form_task = {"kind": "sign"}
        assert await terminal.signed(1200, 400, [[[10, 10, 0], [40, 30, 16], [80, 12, 33]]])
        signed = await staff.next_of(sig.FormState, lambda m: json.loads(m.draft)["signed"])
        assert json.loads(signed.draft)["signature"] is None  # strokes stay on the hub


async def test_a_console_that_comes_back_gets_the_draft_as_it_stands(
    hub: tuple[TestServer, str],  # noqa: F811
    terminal: Terminal,  # noqa: F811
) -> None:
    server, _ = hub
    async with in_call(server, terminal) as (staff, sid):
        await choose(staff, sid)
        await staff.send(
            sig.FormEdit(session_id=sid, field=f"form.{FORM}.copies", value='"4"', base=0)
        )
        await state_after(staff)
        await staff.send(sig.FormSync(session_id=sid))
        synced = await state_after(staff)
        assert synced["procedures"] == [FORM]
        assert synced["values"][f"form.{FORM}.copies"]["value"] == "4"
        await staff.send(sig.FormSync(session_id="s-not-mine"))
        assert (await staff.next_of(sig.ErrorReply)).code == "no_such_session"
