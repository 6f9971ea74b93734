"""Parsing the My Number card's files: basic four, My Number and its check digit, CardInfo."""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from branch_client.card.errors import CARD_ERROR_CODES, CardError
from branch_client.card.mynumber import (
    CardInfo,
    Sex,
    card_info,
    check_digit,
    header_length,
    is_valid_my_number,
    parse_basic_four,
    parse_my_number,
)
from branch_client.card.tlv import TlvError

# -- a tiny encoder of our own, independent of the software card's -------------------------------


def enc(tag: int, value: bytes) -> bytes:
    n = len(value)
    length = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else b"\x82" + n.to_bytes(2)
    return tag.to_bytes(2) + length + value


def basic_four(
    name: bytes = "山田　太郎".encode(),
    address: bytes = "東京都千代田区一番町1".encode(),
    birth: bytes = b"19800115",
    sex: bytes = b"1",
    *,
    omit: int | None = None,
) -> bytes:
    fields = [(0xDF22, name), (0xDF23, address), (0xDF24, birth), (0xDF25, sex)]
    body = b"".join(enc(tag, value) for tag, value in fields if tag != omit)
    offsets = enc(0xDF21, bytes(8))  # the parser finds fields by tag; offsets are not checked
    return enc(0xFF20, offsets + body)


def reference_check_digit(first_eleven: str) -> int:
    """The published formula: P(n) the n-th digit from the right, weight Q(n) = n + 1 for
    n <= 6 and n - 5 above; 11 minus the sum mod 11, or 0 when that remainder is 0 or 1."""
    total = 0
    for n in range(1, 12):
        p = int(first_eleven[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


# -- the basic four ------------------------------------------------------------------------------

field_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=200
).filter(lambda s: s.strip() != "")
dates = st.dates(min_value=datetime.date(1, 1, 1), max_value=datetime.date(9999, 12, 31))


@given(field_text, field_text, dates, st.sampled_from(list(Sex)))
def test_basic_four_round_trips(name: str, address: str, born: datetime.date, sex: Sex) -> None:
    data = basic_four(
        name.encode(),
        address.encode(),
        f"{born.year:04}{born.month:02}{born.day:02}".encode(),
        sex.iso5218.encode(),
    )
    parsed = parse_basic_four(data + b"\xff" * 7)
    assert (parsed.name, parsed.address, parsed.birth_date, parsed.sex) == (
        name,
        address,
        born,
        sex,
    )
    assert parsed.flagged == ()


def test_long_address_in_82_form_and_names_outside_the_bmp() -> None:
    address = "沖縄県島尻郡南大東村字在所" * 30
    data = basic_four("𠮷田　𩸽子".encode(), address.encode())
    assert data[2] == 0x82
    parsed = parse_basic_four(data)
    assert parsed.name == "𠮷田　𩸽子"
    assert parsed.address == address


def test_sex_codes() -> None:
    expected = {
        b"0": Sex.NOT_KNOWN,
        b"1": Sex.MALE,
        b"2": Sex.FEMALE,
        b"9": Sex.NOT_APPLICABLE,
    }
    for raw, sex in expected.items():
        assert parse_basic_four(basic_four(sex=raw)).sex is sex
    assert [s.value for s in Sex] == ["not_known", "male", "female", "not_applicable"]


@pytest.mark.parametrize(
    ("kwargs", "flagged"),
    [
        ({"name": b"\xff\xfe\xfd"}, ("name",)),
        ({"name": "外字".encode()[:-1]}, ("name",)),  # cut inside a character
        ({"name": b""}, ("name",)),
        ({"name": b"  "}, ("name",)),
        ({"address": "町\x00名".encode()}, ("address",)),
        ({"birth": b"19900230"}, ("birth_date",)),
        ({"birth": b"1990041"}, ("birth_date",)),
        ({"birth": b"1990-4-1"}, ("birth_date",)),
        ({"birth": "１９９００４０１".encode()}, ("birth_date",)),
        ({"sex": b"3"}, ("sex",)),
        ({"sex": b"12"}, ("sex",)),
        ({"sex": b""}, ("sex",)),
        ({"name": b"\x80", "sex": b"M"}, ("name", "sex")),
        ({"omit": 0xDF23}, ("address",)),
    ],
)
def test_undecodable_fields_are_flagged(
    kwargs: dict[str, object], flagged: tuple[str, ...]
) -> None:
    parsed = parse_basic_four(basic_four(**kwargs))  # type: ignore[arg-type]
    assert parsed.flagged == flagged
    for key in flagged:
        assert getattr(parsed, key) is None
    assert {"name", "address", "birth_date", "sex"} - set(flagged) == {
        key for key in ("name", "address", "birth_date", "sex") if getattr(parsed, key) is not None
    }


def test_damaged_files_flag_what_they_lose() -> None:
    good = basic_four()
    everything = ("name", "address", "birth_date", "sex")
    assert parse_basic_four(b"").flagged == everything
    assert parse_basic_four(b"\xff\xff\xff").flagged == everything
    assert parse_basic_four(b"\x30" + good[1:]).flagged == everything  # not FF20
    # Cut inside the address: the name before it survives.
    cut = good.index("一番町".encode())
    parsed = parse_basic_four(good[:cut])
    assert parsed.name == "山田　太郎"
    assert parsed.flagged == ("address", "birth_date", "sex")


@given(st.binary(max_size=400))
def test_any_bytes_parse_without_raising(data: bytes) -> None:
    parsed = parse_basic_four(data)
    for key in ("name", "address", "birth_date", "sex"):
        assert (getattr(parsed, key) is None) == (key in parsed.flagged)


# -- header_length ------------------------------------------------------------------------------


def test_header_length_from_the_first_bytes() -> None:
    assert header_length(bytes.fromhex("ff2010")) == 3 + 0x10
    assert header_length(bytes.fromhex("ff2081c8")) == 4 + 200
    assert header_length(bytes.fromhex("ff208202b1")) == 5 + 0x2B1
    data = basic_four(address=bytes(1000))
    assert header_length(data[:5]) == len(data)
    with pytest.raises(TlvError):
        header_length(bytes.fromhex("ff2082"))
    with pytest.raises(TlvError, match="indefinite"):
        header_length(bytes.fromhex("ff2080"))


# -- the My Number ------------------------------------------------------------------------------

eleven_digits = st.text(alphabet="0123456789", min_size=11, max_size=11)


def test_check_digit_known_values() -> None:
    assert check_digit("12345678901") == 8
    assert is_valid_my_number("123456789018")
    assert not is_valid_my_number("123456789013")
    assert check_digit("00000000000") == 0


@given(eleven_digits)
def test_check_digit_matches_the_published_formula(first: str) -> None:
    digit = check_digit(first)
    assert digit == reference_check_digit(first)
    assert is_valid_my_number(first + str(digit))
    for other in set("0123456789") - {str(digit)}:
        assert not is_valid_my_number(first + other)


@pytest.mark.parametrize("bad", ["", "1234567890", "1234567890a", "１２３４５６７８９０１"])
def test_check_digit_needs_eleven_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="11 ASCII digits"):
        check_digit(bad)


def test_parse_my_number() -> None:
    assert parse_my_number(bytes.fromhex("ff100c") + b"123456789018" + b"\x00\x00") == (
        "123456789018"
    )
    assert parse_my_number(bytes.fromhex("ff100c") + b"123456789018") == "123456789018"
    assert parse_my_number(bytes.fromhex("ff100c") + b"123456789013\x00\x00") is None
    assert parse_my_number(bytes.fromhex("ff110c") + b"123456789018\x00\x00") is None
    assert parse_my_number(bytes.fromhex("ff100b") + b"12345678901\x00\x00") is None
    assert parse_my_number(bytes.fromhex("ff100c") + b"12345678") is None
    assert parse_my_number(bytes.fromhex("ff100c") + b"12345678901\xff\x00\x00") is None
    assert parse_my_number(b"") is None


# -- CardInfo ----------------------------------------------------------------------------------


def test_card_info_merges_the_my_number() -> None:
    basic = parse_basic_four(basic_four(sex=b"x"))
    info = card_info(basic, bytes.fromhex("ff100c") + b"123456789013\x00\x00")
    assert info.flagged == ("sex", "my_number")
    assert info.my_number is None
    assert card_info(basic, None).flagged == ("sex",)
    good = card_info(basic, bytes.fromhex("ff100c") + b"123456789018\x00\x00")
    assert good.my_number == "123456789018"


def make_info(**changes: object) -> CardInfo:
    info = CardInfo(
        name="山田　太郎",
        address="東京都千代田区一番町1",
        birth_date=datetime.date(1980, 1, 15),
        sex=Sex.MALE,
        my_number="123456789018",
    )
    return dataclasses.replace(info, **changes)  # type: ignore[arg-type]


def test_repr_masks_name_address_and_number() -> None:
    info = make_info()
    for text in (repr(info), str(info), f"{info}", repr([info])):
        assert "山田" not in text and "千代田" not in text
        assert "123456789018" not in text and "9018" not in text
        assert "'***'" in text
    assert "1980" in repr(info)
    assert "name=None" in repr(make_info(name=None))


def test_to_json() -> None:
    info = make_info(flagged=("sex",), sex=None)
    assert info.to_json(False) == {
        "name": "山田　太郎",
        "address": "東京都千代田区一番町1",
        "birth_date": "1980-01-15",
        "sex": None,
        "flagged": ["sex"],
    }
    assert info.to_json(True)["my_number"] == "123456789018"
    assert "my_number" not in info.to_json()
    json.dumps(info.to_json(True), ensure_ascii=False)


def test_card_info_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        make_info().name = "x"  # type: ignore[misc]


# -- errors ------------------------------------------------------------------------------------


def test_card_error_json() -> None:
    exc = CardError("wrong_pin", "wrong PIN; 2 tries left", tries_left=2)
    assert exc.to_json() == {
        "error": "wrong_pin",
        "message": "wrong PIN; 2 tries left",
        "tries_left": 2,
    }
    assert CardError("no_card", "no card").to_json() == {"error": "no_card", "message": "no card"}
    assert "wrong_pin" in repr(exc)
    assert {
        "wrong_pin",
        "card_blocked",
        "no_card",
        "not_mynumber_card",
        "reader_unavailable",
        "card_removed",
        "several_readers",
        "card_error",
        "invalid_pin",
    } == CARD_ERROR_CODES
