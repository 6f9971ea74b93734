"""A real pcscd with vpcd's two virtual readers, and software My Number cards to insert."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from branch_client.card.pcsc_daemon import PcscDaemon, ensure_pcscd, wait_for_readers
from branch_client.card.reader import readers_with_card, wait_for_card
from branch_client.card.software_card import VPCD_PORT, SoftwareCard, vpcd_reader_name

READER_0 = vpcd_reader_name(VPCD_PORT)
READER_1 = vpcd_reader_name(VPCD_PORT + 1)
PCSC_WAIT = 5.0
"""pcscd polls vpcd's readers every 0.4 s; a card shows up (or goes) within one poll or two."""

InsertCard = Callable[..., SoftwareCard]


@pytest.fixture(scope="session")
def pcscd() -> Iterator[PcscDaemon]:
    """The machine's pcscd, started for this session if none runs (and then stopped after)."""
    daemon = ensure_pcscd()
    try:
        wait_for_readers([READER_0, READER_1])
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def insert_card(pcscd: PcscDaemon) -> Iterator[InsertCard]:
    """Insert software cards (keyword arguments of :class:`SoftwareCard`); each is pulled out,
    and pcscd has seen it go, when the test ends."""
    leftovers = [name for name, present in readers_with_card().items() if present]
    assert not leftovers, f"a card is still in {leftovers}"
    cards: list[SoftwareCard] = []

    def insert(**kwargs: Any) -> SoftwareCard:
        card = SoftwareCard(**kwargs)
        card.start()
        cards.append(card)
        assert wait_for_card(card.reader_name, True, PCSC_WAIT), "pcscd did not see the card"
        return card

    yield insert
    for card in cards:
        card.stop()
    for card in cards:
        assert wait_for_card(card.reader_name, False, PCSC_WAIT), "pcscd did not see it go"


@pytest.fixture
def software_card(insert_card: InsertCard) -> SoftwareCard:
    """The demo card in the first vpcd reader."""
    return insert_card()
