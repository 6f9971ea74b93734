"""A card read end to end below the browser: a specialist's socket on the real hub app asks, the
real terminal agent asks the resident (the kiosk's PIN endpoint), real pcscd and vpcd carry the
APDUs to the software card; the hub seals, audits and passes on."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

import signaling as sig
from branch_client.card.software_card import DEMO_ADDRESS, DEMO_MY_NUMBER, DEMO_NAME
from branch_client.terminal import Terminal
from hub.personal.audit import records
from tests.branch_client.card.conftest import InsertCard
from tests.branch_client.conftest import StaffSocket, in_call

PIN = "8642"  # digits that appear nowhere else in this test
KIOSK = {"X-Madoguchi-Kiosk": "1"}


async def card_step(staff: StaffSocket, step: str) -> sig.CardStatus:
    return await staff.next_of(sig.CardStatus, lambda m: m.step == step)


async def everything_in(redis_url: str) -> str:
    """Every key and value in Redis, as text."""
    r = aioredis.from_url(redis_url, decode_responses=True)
    out = []
    async for key in r.scan_iter(count=1000):
        kind = await r.type(key)
        if kind == "string":
            out.append(repr(await r.get(key)))
        elif kind == "hash":
            out.append(repr(await r.hgetall(key)))
        elif kind == "stream":
            out.append(repr(await r.xrange(key)))
        elif kind in ("set", "zset", "list"):
            out.append(repr(key))
    await r.aclose()
    return "\n".join(out)


async def test_card_read_with_number_is_sealed_audited_and_masked(
    hub: tuple[TestServer, str],
    terminal: Terminal,
    kiosk: TestClient,
    insert_card: InsertCard,
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server, _ = hub
    async with in_call(server, terminal) as (staff, sid):
        # The My Number only when a chosen procedure needs it.
        await staff.send(sig.CardRequest(session_id=sid, with_number=True))
        refused = await staff.next_of(sig.ErrorReply)
        assert refused.code == "number_not_needed"
        await staff.send(
            sig.SessionProcedures(
                session_id=sid, life_event="tennyu", procedures=("tennyu_todoke",)
            )
        )
        await staff.next_of(sig.SessionProcedures)
        await staff.send(sig.CardRequest(session_id=sid, with_number=True))
        await card_step(staff, "insert")
        assert terminal.snapshot()["task"]["step"] == "insert"

        card = insert_card(pin=PIN)
        pin_step = await card_step(staff, "pin")
        assert pin_step.tries_left == 3  # read without using one
        assert not any(apdu[1] == 0x20 and len(apdu) > 4 for apdu in card.received)

        res = await kiosk.post("/api/card/pin", json={"pin": PIN}, headers=KIOSK)
        assert res.status == 200
        data = await staff.next_of(sig.CardData)
        assert data.name == DEMO_NAME and data.address == DEMO_ADDRESS
        assert data.birth_date == "1990-04-01" and data.sex == "female"
        assert data.has_my_number and data.my_number_last4 == DEMO_MY_NUMBER[-4:]
        assert data.read_by == "suzuki" and data.flagged == ()
        await card_step(staff, "done")

        # Revealing the number is explicit and audited.
        await staff.send(sig.CardReveal(session_id=sid))
        revealed = await staff.next_of(sig.CardRevealed)
        assert revealed.my_number == DEMO_MY_NUMBER

    r = aioredis.from_url(redis_url, decode_responses=True)
    trail = await records(r, session_id=sid)
    await r.aclose()
    assert [a.action for a in trail] == ["card.request", "card.read", "card.reveal"]
    assert trail[1].fields == ("name", "address", "birth_date", "sex", "my_number")
    assert all(a.actor == "suzuki" and a.terminal_id == "kita-01" for a in trail)
    stored = await everything_in(redis_url)
    for secret in (DEMO_MY_NUMBER, DEMO_NAME, DEMO_ADDRESS, PIN):
        assert secret not in stored and secret.encode().hex() not in stored
        assert secret not in caplog.text
    assert "card_read_at" in stored  # the sealed record is there, and tested above to be sealed


async def test_wrong_pin_then_right_pin(
    hub: tuple[TestServer, str],
    terminal: Terminal,
    kiosk: TestClient,
    insert_card: InsertCard,
) -> None:
    server, _ = hub
    insert_card(pin=PIN)
    async with in_call(server, terminal) as (staff, sid):
        await staff.send(sig.CardRequest(session_id=sid))
        assert (await card_step(staff, "pin")).tries_left == 3
        await kiosk.post("/api/card/pin", json={"pin": "0000"}, headers=KIOSK)
        again = await card_step(staff, "pin")
        assert again.error == "wrong_pin" and again.tries_left == 2
        assert terminal.snapshot()["task"] == {
            "kind": "card",
            "step": "pin",
            "tries_left": 2,
            "error": "wrong_pin",
        }
        await kiosk.post("/api/card/pin", json={"pin": PIN}, headers=KIOSK)
        data = await staff.next_of(sig.CardData)
        assert data.name == DEMO_NAME and not data.has_my_number
        assert data.my_number_last4 is None


async def test_a_blocked_card_is_never_sent_a_pin(
    hub: tuple[TestServer, str],
    terminal: Terminal,
    insert_card: InsertCard,
) -> None:
    server, _ = hub
    card = insert_card(tries_left=0)
    async with in_call(server, terminal) as (staff, sid):
        await staff.send(sig.CardRequest(session_id=sid))
        blocked = await card_step(staff, "error")
        assert blocked.error == "card_blocked" and blocked.tries_left == 0
        assert not any(apdu[1] == 0x20 and len(apdu) > 4 for apdu in card.received)
        assert terminal.status.phase == "connected"  # the session goes on


async def test_card_pulled_mid_read_asks_for_it_again(
    hub: tuple[TestServer, str],
    terminal: Terminal,
    kiosk: TestClient,
    insert_card: InsertCard,
) -> None:
    server, _ = hub
    card = insert_card(remove_after_apdus=6)  # select, select, tries | select, select, verify …
    async with in_call(server, terminal) as (staff, sid):
        await staff.send(sig.CardRequest(session_id=sid))
        await card_step(staff, "pin")
        await kiosk.post("/api/card/pin", json={"pin": "1234"}, headers=KIOSK)
        pulled = await staff.next_of(
            sig.CardStatus, lambda m: m.step == "insert" and m.error is not None
        )
        assert pulled.error == "card_removed"
        card.stop()
        insert_card()  # put back
        assert (await card_step(staff, "pin")).error is None
        await kiosk.post("/api/card/pin", json={"pin": "1234"}, headers=KIOSK)
        assert (await staff.next_of(sig.CardData)).name == DEMO_NAME


async def test_not_a_my_number_card_and_cancel(
    hub: tuple[TestServer, str],
    terminal: Terminal,
    kiosk: TestClient,
    insert_card: InsertCard,
) -> None:
    server, _ = hub
    insert_card(is_mynumber=False)
    async with in_call(server, terminal) as (staff, sid):
        await staff.send(sig.CardRequest(session_id=sid))
        wrong = await staff.next_of(sig.CardStatus, lambda m: m.error is not None)
        assert wrong.step == "insert" and wrong.error == "not_mynumber_card"
        refused = await kiosk.post("/api/card/pin", json={"pin": "1234"}, headers=KIOSK)
        assert refused.status == 409  # no PIN is asked for
        bad: Any
        for bad in ({"pin": "12a4"}, {"pin": "１２３４"}, {"pin": 1234}, {"pin": "12345"}):
            res = await kiosk.post("/api/card/pin", data=json.dumps(bad), headers=KIOSK)
            assert res.status == 400
        await kiosk.post("/api/card/cancel", headers=KIOSK)
        await card_step(staff, "cancelled")
        assert terminal.snapshot()["task"] is None


async def test_a_card_read_before_the_procedures_follows_the_life_event(
    hub: tuple[TestServer, str],
    terminal: Terminal,
    kiosk: TestClient,
    insert_card: InsertCard,
) -> None:
    server, _ = hub
    insert_card(pin=PIN)
    async with in_call(server, terminal) as (staff, sid):
        await staff.send(sig.CardRequest(session_id=sid))
        await card_step(staff, "pin")
        await kiosk.post("/api/card/pin", json={"pin": PIN}, headers=KIOSK)
        first = await staff.next_of(sig.FormState, lambda m: "shared.address" in m.draft["values"])
        assert first.draft["values"]["shared.address"]["value"] == DEMO_ADDRESS
        # 転入: the card still shows the address the resident moved from.
        await staff.send(
            sig.SessionProcedures(
                session_id=sid, life_event="tennyu", procedures=("tennyu_todoke",)
            )
        )
        moved = (await staff.next_of(sig.FormState, lambda m: m.draft["procedures"])).draft[
            "values"
        ]
        assert moved["shared.previous_address"]["value"] == DEMO_ADDRESS
        assert moved["shared.previous_address"]["source"] == "card"
        assert "shared.address" not in moved
