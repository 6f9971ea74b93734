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
from tests.branch_client.conftest import (  # noqa: F401
    StaffSocket,
    hub,
    in_call,
    terminal,
    until,
)

FORM = "juuminhyou_koufu"


async def state_after(staff: StaffSocket) -> dict[str, Any]:
    message = await staff.next_of(sig.FormState)
    return dict(message.draft) | {"version": message.version}


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
        await staff.send(sig.FormEdit(session_id=sid, field=field, value="2", base=0))
        first = await state_after(staff)
        assert first["values"][field]["value"] == "2"
        version = first["values"][field]["ver"]
        # A colleague's console still showing the field as new (base 0) tries to write "5".
        await staff.send(sig.FormEdit(session_id=sid, field=field, value="5", base=0))
        refused = await staff.next_of(sig.ErrorReply)  # the editor is told why …
        assert refused.code == "edit_conflict"
        fresh = await state_after(staff)  # … and shown the current value
        assert fresh["values"][field] == first["values"][field]
        # Made on the current version, it goes through.
        await staff.send(sig.FormEdit(session_id=sid, field=field, value="5", base=version))
        assert (await state_after(staff))["values"][field]["value"] == "5"
        # Fields not in the session's forms are refused …
        for bad in (
            sig.FormEdit(session_id=sid, field="form.zei_shoumei.year", value="1", base=0),
            sig.FormEdit(session_id=sid, field="shared.my_number", value="1", base=0),
        ):
            await staff.send(bad)
            assert (await staff.next_of(sig.ErrorReply)).code == "unknown_field"
        # … and values that are not plain are refused by the parser, named as the edit's.
        for value in ({"a": {"b": 1}}, [1], 1.5, '{"a": {"b": 1}}'):  # the last: a 0.1 console
            frame = {"type": "form.edit", "session_id": sid, "field": field, "value": value}
            await staff.ws.send_str(json.dumps({**frame, "base": 0}))
            refused = await staff.next_of(sig.ErrorReply)
            assert (refused.code, refused.ref_type) == ("bad_value", "form.edit")
        # A 0.1 console's JSON text is read into the value it meant (until 0.3).
        old = {"type": "form.edit", "session_id": sid, "field": field, "value": '"6"'}
        await staff.ws.send_str(json.dumps({**old, "base": version + 1}))
        assert (await state_after(staff))["values"][field]["value"] == "6"

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
        state = await staff.next_of(sig.FormState, lambda m: m.draft["confirmed"])
        assert state.draft["confirmed"] == {FORM: True}

        # A change after the resident confirmed undoes the confirmation.
        await staff.send(
            sig.FormEdit(session_id=sid, field=f"form.{FORM}.copies", value="3", base=0)
        )
        changed = await state_after(staff)
        assert changed["confirmed"] == {FORM: False}
        await staff.send(sig.FormSign(session_id=sid))
        assert (await staff.next_of(sig.ErrorReply)).code == "not_confirmed"

        await staff.send(sig.FormReview(session_id=sid, procedure=FORM))
        await until(lambda: terminal.form_task is not None, "the review again")
        await terminal.review_answer(FORM, True)
        await staff.next_of(sig.FormState, lambda m: m.draft["confirmed"][FORM])
        await staff.send(sig.FormSign(session_id=sid))
        await until(lambda: (terminal.form_task or {}).get("kind") == "sign", "the signature pad")
        # Built without the rule (the kiosk's server reads a pad's by it): the hub's parser …
        outside = sig.Signature(100, 100, ((sig.Point(500, 10, 0),),))
        assert await terminal.signed(outside)
        await until(lambda: terminal.status.last_error == "bad_signature", "… refuses it")
        terminal.form_task = {"kind": "sign"}
        pad = {"width": 1200, "height": 400, "strokes": [[[10, 10, 0], [40, 30, 16], [80, 12, 33]]]}
        assert await terminal.signed(sig.decode(sig.Signature, pad))
        signed = await staff.next_of(sig.FormState, lambda m: m.draft["signed"])
        assert signed.draft["signature"] is None  # strokes stay on the hub


async def test_a_console_that_comes_back_gets_the_draft_as_it_stands(
    hub: tuple[TestServer, str],  # noqa: F811
    terminal: Terminal,  # noqa: F811
) -> None:
    server, _ = hub
    async with in_call(server, terminal) as (staff, sid):
        await choose(staff, sid)
        await staff.send(
            sig.FormEdit(session_id=sid, field=f"form.{FORM}.copies", value="4", base=0)
        )
        await state_after(staff)
        await staff.send(sig.FormSync(session_id=sid))
        synced = await state_after(staff)
        assert synced["procedures"] == [FORM]
        assert synced["values"][f"form.{FORM}.copies"]["value"] == "4"
        await staff.send(sig.FormSync(session_id="s-not-mine"))
        assert (await staff.next_of(sig.ErrorReply)).code == "no_such_session"
