"""The PC/SC card reader and ``madoguchi card`` against a real pcscd, vpcd and software cards."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from branch_client.card.errors import CardError
from branch_client.card.mynumber import Sex
from branch_client.card.pcsc_daemon import PcscDaemon, pcscd_answers
from branch_client.card.reader import AsyncCardReader, CardReader, PcscCardReader
from branch_client.card.software_card import (
    DEMO_ADDRESS,
    DEMO_BIRTH_DATE,
    DEMO_MY_NUMBER,
    DEMO_NAME,
    DEMO_PIN,
    VPCD_PORT,
    SoftwareCard,
)
from tests.branch_client.card.conftest import READER_0, READER_1, InsertCard

WRONG_PIN = "9999"
MADOGUCHI = str(Path(sys.executable).parent / "madoguchi")


@pytest.fixture
def reader() -> PcscCardReader:
    return PcscCardReader()


def verifies_with_data(card: SoftwareCard) -> list[bytes]:
    """VERIFY commands carrying a PIN (the tries query carries none)."""
    return [a for a in card.received if a[:4] == bytes.fromhex("00200080") and len(a) > 4]


def selected_efs(card: SoftwareCard) -> list[str]:
    return [a[5:].hex() for a in card.received if a[:4] == bytes.fromhex("00a4020c")]


def card_error(call: object, *args: object, **kwargs: object) -> CardError:
    assert callable(call)
    with pytest.raises(CardError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_the_pcsc_reader_is_a_card_reader(reader: PcscCardReader) -> None:
    assert isinstance(reader, CardReader)


def test_pcscd_runs_and_lists_vpcd_readers(pcscd: PcscDaemon, reader: PcscCardReader) -> None:
    assert pcscd_answers()
    assert {READER_0, READER_1} <= set(reader.readers())


# -- tries -----------------------------------------------------------------------------------


def test_tries_left_spends_no_try(software_card: SoftwareCard, reader: PcscCardReader) -> None:
    assert [reader.tries_left() for _ in range(4)] == [3, 3, 3, 3]
    assert software_card.tries_left == 3
    assert verifies_with_data(software_card) == []
    assert bytes.fromhex("00200080") in software_card.received


def test_wrong_pin_counts_down_then_blocks(insert_card: InsertCard, reader: PcscCardReader) -> None:
    card = insert_card()
    first = card_error(reader.read, WRONG_PIN)
    assert (first.code, first.tries_left) == ("wrong_pin", 2)
    assert reader.tries_left() == 2
    second = card_error(reader.read, WRONG_PIN)
    assert (second.code, second.tries_left) == ("wrong_pin", 1)
    third = card_error(reader.read, WRONG_PIN)
    assert (third.code, third.tries_left) == ("card_blocked", 0)
    assert reader.tries_left() == 0
    assert card.tries_left == 0
    # Even the right PIN is never sent to a blocked card.
    assert card_error(reader.read, DEMO_PIN).code == "card_blocked"
    assert len(verifies_with_data(card)) == 3
    for exc in (first, second, third):
        assert WRONG_PIN not in str(exc) and WRONG_PIN not in json.dumps(exc.to_json())


def test_a_blocked_card_is_never_sent_a_verify(
    insert_card: InsertCard, reader: PcscCardReader
) -> None:
    card = insert_card(tries_left=0)
    assert reader.tries_left() == 0
    exc = card_error(reader.read, DEMO_PIN)
    assert exc.code == "card_blocked"
    assert exc.to_json()["tries_left"] == 0
    assert "municipality" in exc.message
    assert card.received, "the card was asked for its tries"
    assert verifies_with_data(card) == []


def test_success_resets_the_count(insert_card: InsertCard, reader: PcscCardReader) -> None:
    card = insert_card()
    assert card_error(reader.read, WRONG_PIN).tries_left == 2
    assert card_error(reader.read, WRONG_PIN).tries_left == 1
    assert reader.read(DEMO_PIN).name == DEMO_NAME
    assert reader.tries_left() == 3
    assert card.tries_left == 3


def test_a_pin_that_is_not_four_ascii_digits_never_reaches_the_card(
    software_card: SoftwareCard, reader: PcscCardReader
) -> None:
    for pin in ("123", "12345", "12a4", "１２３４", "", " 1234"):
        exc = card_error(reader.read, pin)
        assert exc.code == "invalid_pin"
        assert pin not in exc.message or pin == ""
    assert software_card.received == []


# -- reading -----------------------------------------------------------------------------------


def test_read_basic_four(software_card: SoftwareCard, reader: PcscCardReader) -> None:
    info = reader.read(DEMO_PIN)
    assert (info.name, info.address, info.birth_date, info.sex) == (
        DEMO_NAME,
        DEMO_ADDRESS,
        DEMO_BIRTH_DATE,
        Sex.FEMALE,
    )
    assert info.my_number is None
    assert info.flagged == ()
    assert "my_number" not in info.to_json(False)
    assert "0001" not in selected_efs(software_card), "the My Number EF was not asked for"
    # The reader leaves the card reset: the verified state does not outlive the call.
    assert not software_card.applet.verified


def test_read_with_number(software_card: SoftwareCard, reader: PcscCardReader) -> None:
    info = reader.read(DEMO_PIN, with_number=True, reader=READER_0)
    assert info.my_number == DEMO_MY_NUMBER
    assert info.to_json(True)["my_number"] == DEMO_MY_NUMBER
    assert DEMO_MY_NUMBER not in repr(info)
    assert selected_efs(software_card) == ["0011", "0002", "0001"]


def test_long_address_and_names_outside_the_bmp(
    insert_card: InsertCard, reader: PcscCardReader
) -> None:
    name = "𠮷野　𩸽太郎"
    address = "北海道札幌市中央区北一条西二丁目" * 20  # 960 bytes in UTF-8: an 82 length
    card = insert_card(name=name, address=address, birth_date=datetime.date(1955, 12, 31))
    info = reader.read(DEMO_PIN)
    assert (info.name, info.address) == (name, address)
    assert info.birth_date == datetime.date(1955, 12, 31)
    reads = [a for a in card.received if a[1] == 0xB0]
    assert all(a[4] <= 255 for a in reads)
    assert reads[0][4] == 5, "the header is read first"
    assert len(reads) >= 1 + 4  # 976+ bytes in chunks of at most 255


def test_undecodable_fields_are_flagged_not_fatal(
    insert_card: InsertCard, reader: PcscCardReader
) -> None:
    insert_card(name=b"\xff\xfe\x00bad", birth_date=b"19901341", my_number="123456789010")
    info = reader.read(DEMO_PIN, with_number=True)
    assert info.name is None and info.birth_date is None and info.my_number is None
    assert info.address == DEMO_ADDRESS
    assert info.flagged == ("name", "birth_date", "my_number")


def test_not_a_mynumber_card(insert_card: InsertCard, reader: PcscCardReader) -> None:
    card = insert_card(is_mynumber=False)
    assert card_error(reader.tries_left).code == "not_mynumber_card"
    assert card_error(reader.read, DEMO_PIN).code == "not_mynumber_card"
    assert verifies_with_data(card) == []


@pytest.mark.parametrize("answered", [3, 5, 7])
def test_card_removed_mid_read(
    insert_card: InsertCard, reader: PcscCardReader, answered: int
) -> None:
    card = insert_card(remove_after_apdus=answered, address="長い住所" * 100)
    exc = card_error(reader.read, DEMO_PIN, with_number=True)
    assert exc.code == "card_removed"
    assert card.removed.is_set()
    assert len(card.received) == answered + 1
    # Once pcscd has seen it go, the reader is simply empty.
    assert card_error(reader.tries_left).code == "no_card"


def test_no_card_in_the_reader(pcscd: PcscDaemon, insert_card: InsertCard) -> None:
    reader = PcscCardReader()
    assert card_error(reader.tries_left).code == "no_card"
    assert card_error(reader.tries_left, READER_0).code == "no_card"
    assert card_error(reader.read, DEMO_PIN).code == "no_card"


def test_a_reader_that_does_not_exist(software_card: SoftwareCard, reader: PcscCardReader) -> None:
    exc = card_error(reader.tries_left, "No Such Reader 00 00")
    assert exc.code == "reader_unavailable"
    assert card_error(reader.read, DEMO_PIN, reader="No Such Reader 00 00").code == (
        "reader_unavailable"
    )
    assert software_card.received == []


def test_two_readers_choose_by_presence_or_name(
    insert_card: InsertCard, reader: PcscCardReader
) -> None:
    second = insert_card(port=VPCD_PORT + 1, name="二番　読取")
    assert reader.choose_reader() == READER_1
    assert reader.read(DEMO_PIN).name == "二番　読取"
    assert reader.read(DEMO_PIN, reader=READER_1).name == "二番　読取"
    assert card_error(reader.tries_left, READER_0).code == "no_card"

    first = insert_card(port=VPCD_PORT, tries_left=2)
    exc = card_error(reader.tries_left)
    assert exc.code == "several_readers"
    assert reader.tries_left(READER_0) == 2
    assert reader.tries_left(READER_1) == 3
    assert reader.read(DEMO_PIN, reader=READER_0).name == DEMO_NAME
    assert first.received and second.received


async def test_async_wrapper_runs_off_the_loop(software_card: SoftwareCard) -> None:
    card_reader = AsyncCardReader(PcscCardReader())
    assert READER_0 in await card_reader.readers()
    assert await card_reader.tries_left() == 3
    info = await card_reader.read(DEMO_PIN, with_number=True)
    assert info.my_number == DEMO_MY_NUMBER


# -- madoguchi card ----------------------------------------------------------------------------

CLI_PIN = "7350"  # not a substring of anything the command prints


def madoguchi(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    done = subprocess.run(
        [MADOGUCHI, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_cli_status(insert_card: InsertCard) -> None:
    insert_card(pin=CLI_PIN)
    status, out, _err = madoguchi("card", "status", "--json")
    assert status == 0
    assert json.loads(out) == {"reader": READER_0, "tries_left": 3}
    status, out, _err = madoguchi("card", "status", "--reader", READER_0)
    assert (status, out) == (0, f"{READER_0}: 3 PIN tries left\n")


def test_cli_read(insert_card: InsertCard) -> None:
    insert_card(pin=CLI_PIN)
    status, out, err = madoguchi("card", "read", "--pin-stdin", "--json", stdin=CLI_PIN + "\n")
    assert status == 0, err
    assert json.loads(out) == {
        "name": DEMO_NAME,
        "address": DEMO_ADDRESS,
        "birth_date": DEMO_BIRTH_DATE.isoformat(),
        "sex": "female",
        "flagged": [],
    }
    assert CLI_PIN not in out + err

    status, out, err = madoguchi(
        "card", "read", "--pin-stdin", "--with-number", "--json", stdin=CLI_PIN
    )
    assert status == 0, err
    assert json.loads(out)["my_number"] == DEMO_MY_NUMBER
    assert CLI_PIN not in out + err
    assert DEMO_MY_NUMBER not in err

    status, out, err = madoguchi("card", "read", "--pin-stdin", stdin=CLI_PIN)
    assert status == 0, err
    assert f"name: {DEMO_NAME}\n" in out and "My Number" not in out


def test_cli_wrong_pin(insert_card: InsertCard) -> None:
    card = insert_card(pin=CLI_PIN)
    status, out, err = madoguchi("card", "read", "--pin-stdin", "--json", stdin="0000\n")
    assert status == 1
    assert json.loads(out) | {"message": ""} == {
        "error": "wrong_pin",
        "tries_left": 2,
        "message": "",
    }
    assert "0000" not in out + err
    assert card.tries_left == 2
    status, out, err = madoguchi("card", "read", "--pin-stdin", stdin="0000\n")
    assert (status, out) == (1, "")
    assert "1 tries left" in err and "0000" not in err


def test_cli_refusals(pcscd: PcscDaemon, insert_card: InsertCard) -> None:
    status, out, _err = madoguchi("card", "status", "--json")
    assert (status, json.loads(out)["error"]) == (1, "no_card")
    status, out, _err = madoguchi("card", "read", "--pin-stdin", "--json", stdin="12x4\n")
    assert (status, json.loads(out)["error"]) == (1, "invalid_pin")
    status, out, _err = madoguchi("card", "status", "--reader", "Nope", "--json")
    assert (status, json.loads(out)["error"]) == (1, "reader_unavailable")
    # A pcscd that is not there: point the PC/SC client library at a socket that does not exist.
    status, out, _err = madoguchi(
        "card", "status", "--json", env={"PCSCLITE_CSOCK_NAME": "/nonexistent/pcscd.comm"}
    )
    assert (status, json.loads(out)["error"]) == (1, "reader_unavailable")
