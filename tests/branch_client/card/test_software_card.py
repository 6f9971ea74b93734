"""The software card: its applet as a pure state machine, and its vpcd framing over a loopback
socket standing in for vpcd."""

from __future__ import annotations

import datetime
import socket
import struct
from collections.abc import Iterator

import pytest

from branch_client.card import mynumber, tlv
from branch_client.card.mynumber import Sex
from branch_client.card.software_card import (
    DEFAULT_ATR,
    DEMO_MY_NUMBER,
    DEMO_PIN,
    MyNumberApplet,
    SoftwareCard,
    basic_four_file,
    my_number_file,
    vpcd_reader_name,
)

SELECT_AP = bytes.fromhex("00a4040c0a") + mynumber.AID
SELECT_PIN = bytes.fromhex("00a4020c020011")
SELECT_BASIC = bytes.fromhex("00a4020c020002")
SELECT_NUMBER = bytes.fromhex("00a4020c020001")
QUERY = bytes.fromhex("00200080")


def verify(pin: str) -> bytes:
    return QUERY + bytes([len(pin)]) + pin.encode()


def read(offset: int, le: int) -> bytes:
    return bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, le])


def applet(**kwargs: object) -> MyNumberApplet:
    files = {
        mynumber.EF_BASIC_FOUR: basic_four_file(
            "名前", "住所", datetime.date(2000, 2, 29), Sex.MALE
        ),
        mynumber.EF_MY_NUMBER: my_number_file(DEMO_MY_NUMBER),
    }
    return MyNumberApplet(files, DEMO_PIN, **kwargs)  # type: ignore[arg-type]


def run(card: MyNumberApplet, *apdus: bytes) -> list[str]:
    return [card.process(a).hex() for a in apdus]


def test_select() -> None:
    card = applet()
    assert run(card, SELECT_BASIC) == ["6a82"], "no EF before the AP is selected"
    assert run(card, bytes.fromhex("00a4040c0ad392f000260100000001")) == ["6a82"]  # JPKI
    assert run(card, SELECT_AP, SELECT_PIN, bytes.fromhex("00a4020c020099")) == [
        "9000",
        "9000",
        "6a82",
    ]
    other = applet(is_mynumber=False)
    assert run(other, SELECT_AP, SELECT_PIN) == ["6a82", "6a82"]


def test_reading_needs_the_pin() -> None:
    card = applet()
    assert run(card, SELECT_AP, SELECT_BASIC, read(0, 5)) == ["9000", "9000", "6982"]
    assert run(card, SELECT_NUMBER, read(0, 17)) == ["9000", "6982"]
    assert run(card, SELECT_PIN, verify(DEMO_PIN), SELECT_NUMBER) == ["9000"] * 3
    number = card.process(read(0, 17))
    assert number[-2:] == b"\x90\x00"
    assert mynumber.parse_my_number(number[:-2]) == DEMO_MY_NUMBER


def test_read_binary_offsets_and_lengths() -> None:
    card = applet()
    run(card, SELECT_AP, SELECT_PIN, verify(DEMO_PIN), SELECT_BASIC)
    content = card.files[mynumber.EF_BASIC_FOUR]
    assert card.process(read(0, 5)) == content[:5] + b"\x90\x00"
    assert card.process(read(7, 10)) == content[7:17] + b"\x90\x00"
    assert card.process(read(len(content) - 3, 10)) == content[-3:] + b"\x62\x82"
    assert card.process(read(len(content) + 1, 1)).hex() == "6b00"
    assert card.process(read(0, 0)) == content[:256] + (
        b"\x90\x00" if len(content) >= 256 else b"\x62\x82"
    )
    assert run(card, SELECT_PIN, read(0, 1)) == ["9000", "6981"]


def test_tries_verify_and_blocking() -> None:
    card = applet()
    assert run(card, SELECT_AP, QUERY) == ["9000", "6a88"], "the PIN EF is not selected"
    assert run(card, SELECT_PIN, QUERY, QUERY) == ["9000", "63c3", "63c3"]
    assert run(card, verify("0000"), QUERY) == ["63c2", "63c2"]
    assert run(card, verify(DEMO_PIN), QUERY) == ["9000", "9000"]
    assert card.tries_left == 3
    assert run(card, verify("0000"), verify("0000"), verify("0000")) == ["63c2", "63c1", "63c0"]
    assert run(card, QUERY, verify(DEMO_PIN)) == ["6983", "6983"]
    assert not card.verified
    assert run(card, verify("123")) == ["6983"]


def test_reset_ends_the_verified_state() -> None:
    card = applet()
    run(card, SELECT_AP, SELECT_PIN, verify(DEMO_PIN))
    assert card.verified
    card.reset()
    assert not card.verified
    assert run(card, SELECT_BASIC) == ["6a82"]
    assert run(card, SELECT_AP, SELECT_BASIC, read(0, 5)) == ["9000", "9000", "6982"]


def test_malformed_commands() -> None:
    card = applet()
    assert run(card, b"\x00\xa4", bytes.fromhex("00a4040c0500"), bytes.fromhex("00ca0000")) == [
        "6700",
        "6700",
        "6d00",
    ]
    assert run(card, bytes.fromhex("00a4040c05d392")) == ["6700"]
    assert run(card, bytes.fromhex("10a4040c0ad3921000310001010408")) == ["6e00"]


def test_basic_four_file_offsets_point_at_the_fields() -> None:
    data = basic_four_file("𩸽", "長" * 200, datetime.date(1999, 12, 31), Sex.NOT_APPLICABLE)
    outer, _end = tlv.parse_one(data)
    assert data[2] == 0x82
    offsets_tlv = tlv.parse_one(outer.value)[0]
    assert offsets_tlv.tag == mynumber.TAG_OFFSETS
    offsets = struct.unpack(">4H", offsets_tlv.value)
    tags = [tlv.read_tag(data, o)[0] for o in offsets]
    assert tags == [0xDF22, 0xDF23, 0xDF24, 0xDF25]
    parsed = mynumber.parse_basic_four(data)
    assert (parsed.name, parsed.birth_date, parsed.sex) == (
        "𩸽",
        datetime.date(1999, 12, 31),
        Sex.NOT_APPLICABLE,
    )
    assert mynumber.header_length(data[:5]) < len(data), "the EF is padded after the object"


def test_vpcd_reader_names() -> None:
    assert vpcd_reader_name(35963) == "Virtual PCD 00 00"
    assert vpcd_reader_name(35964) == "Virtual PCD 00 01"
    with pytest.raises(ValueError, match="not a vpcd slot"):
        vpcd_reader_name(8080)


# -- the vpcd protocol, with this test playing vpcd ----------------------------------------------


class FakeVpcd:
    """A listener on loopback that plays vpcd's side: length-prefixed messages."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.listener.settimeout(5)
        self.conn, _addr = self.listener.accept()
        self.conn.settimeout(5)

    def send(self, payload: bytes) -> None:
        assert self.conn is not None
        self.conn.sendall(struct.pack(">H", len(payload)) + payload)

    def receive(self) -> bytes | None:
        assert self.conn is not None
        header = self.conn.recv(2, socket.MSG_WAITALL)
        if len(header) < 2:
            return None
        return self.conn.recv(struct.unpack(">H", header)[0], socket.MSG_WAITALL)

    def ask(self, payload: bytes) -> bytes | None:
        self.send(payload)
        return self.receive()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


def test_vpcd_controls_and_apdus(vpcd: FakeVpcd) -> None:
    with SoftwareCard(port=vpcd.port) as card:
        vpcd.accept()
        assert vpcd.ask(b"\x04") == DEFAULT_ATR
        vpcd.send(b"\x01")  # power on: no answer; the next answer is the ATR's
        assert vpcd.ask(b"\x04") == DEFAULT_ATR
        assert vpcd.ask(SELECT_AP) == b"\x90\x00"
        assert vpcd.ask(SELECT_PIN) == b"\x90\x00"
        assert vpcd.ask(verify(DEMO_PIN)) == b"\x90\x00"
        assert card.applet.verified
        vpcd.send(b"\x00")  # power off
        assert vpcd.ask(b"\x04") == DEFAULT_ATR
        assert not card.applet.verified
        assert vpcd.ask(SELECT_AP) == b"\x90\x00"
        assert vpcd.ask(SELECT_PIN) == b"\x90\x00"
        assert vpcd.ask(verify(DEMO_PIN)) == b"\x90\x00"
        vpcd.send(b"\x02")  # reset
        assert vpcd.ask(b"\x04") == DEFAULT_ATR
        assert not card.applet.verified
        assert card.received == [SELECT_AP, SELECT_PIN, verify(DEMO_PIN)] * 2
    assert vpcd.receive() is None, "stopping closes the socket: the card is pulled"
    assert card.removed.is_set()


def test_atr_check_byte() -> None:
    tck = 0
    for byte in DEFAULT_ATR[1:]:
        tck ^= byte
    assert tck == 0
    assert DEFAULT_ATR[0] == 0x3B


def test_remove_after_apdus_pulls_the_card(vpcd: FakeVpcd) -> None:
    with SoftwareCard(port=vpcd.port, remove_after_apdus=2) as card:
        vpcd.accept()
        assert vpcd.ask(SELECT_AP) == b"\x90\x00"
        assert vpcd.ask(SELECT_PIN) == b"\x90\x00"
        assert vpcd.ask(QUERY) is None
        assert card.removed.wait(5)
        assert len(card.received) == 3


def test_start_fails_when_vpcd_is_not_listening(vpcd: FakeVpcd) -> None:
    port = vpcd.port
    vpcd.close()
    with pytest.raises(OSError):
        SoftwareCard(port=port).start()
