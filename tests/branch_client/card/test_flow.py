"""The card flow's steps with a hand-written fake reader (the PC/SC path is tested on real pcscd
in test_pcsc.py and test_terminal_card.py): what happens when the hub is unreachable."""

from __future__ import annotations

import datetime

import pytest

import signaling as sig
from branch_client.card import CardError, CardInfo, Sex
from branch_client.card import flow as card_flow
from branch_client.card.flow import CardFlow
from tests.branch_client.conftest import until


class FakeReader:
    """Answers like a card with 3 tries left and PIN 2468; records what it was asked."""

    def __init__(self) -> None:
        self.pins: list[str] = []

    async def tries_left(self, reader: str | None = None) -> int:
        return 3

    async def read(
        self, pin: str, *, with_number: bool = False, reader: str | None = None
    ) -> CardInfo:
        self.pins.append(pin)
        if pin != "2468":
            raise CardError("wrong_pin", "wrong PIN", tries_left=2)
        return CardInfo("番号 花子", "北市", datetime.date(1990, 4, 1), Sex.FEMALE)


class FlakyLink:
    """A link to the hub that is down for the first ``down`` card results."""

    def __init__(self, down: int) -> None:
        self.down = down
        self.sent: list[sig.Message] = []

    async def send(self, message: sig.Message) -> bool:
        if isinstance(message, sig.CardResult) and self.down > 0:
            self.down -= 1
            return False
        self.sent.append(message)
        return True


async def test_the_items_wait_for_the_hub_when_the_link_is_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(card_flow, "DELIVER_RETRY_S", 0.01)
    monkeypatch.setattr(card_flow, "SHOW_RESULT_S", 0.01)
    link = FlakyLink(down=5)
    reader = FakeReader()
    flow = CardFlow(reader, None, link.send)
    flow.start("s-1", with_number=False)
    await until(lambda: (flow.state or {}).get("step") == "pin", "the PIN step", 5.0)
    assert flow.offer_pin("2468")
    await until(lambda: any(isinstance(m, sig.CardResult) for m in link.sent), "the items", 5.0)
    result = next(m for m in link.sent if isinstance(m, sig.CardResult))
    assert result.name == "番号 花子" and result.my_number is None
    assert link.down == 0  # offered again until the hub took it
    assert reader.pins == ["2468"]  # the PIN was used once, not retried with the items
    steps = [m.step for m in link.sent if isinstance(m, sig.CardStatus)]
    assert steps == ["insert", "pin", "reading", "done"]
    await until(lambda: flow.state is None, "the kiosk to be freed", 5.0)


async def test_a_wrong_pin_asks_again_with_the_tries_left() -> None:
    link = FlakyLink(down=0)
    flow = CardFlow(FakeReader(), None, link.send)
    flow.start("s-1", with_number=False)
    await until(lambda: (flow.state or {}).get("step") == "pin", "the PIN step", 5.0)
    assert flow.offer_pin("1111")
    await until(lambda: (flow.state or {}).get("error") == "wrong_pin", "wrong_pin", 5.0)
    assert flow.state is not None and flow.state["step"] == "pin"
    assert flow.offer_pin("2468")
    await until(lambda: any(isinstance(m, sig.CardResult) for m in link.sent), "the items", 5.0)
    await flow.cancel()
