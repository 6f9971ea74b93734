"""The BER-TLV parser, against a tiny encoder written here (not the product's)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from branch_client.card import tlv
from branch_client.card.tlv import Tlv, TlvError


def enc_length(n: int, form: str) -> bytes:
    if form == "short":
        assert n < 0x80
        return bytes([n])
    if form == "81":
        assert n <= 0xFF
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def enc(tag: bytes, value: bytes, form: str | None = None) -> bytes:
    if form is None:
        form = "short" if len(value) < 0x80 else "81" if len(value) <= 0xFF else "82"
    return tag + enc_length(len(value), form) + value


# Tags as bytes: one byte (low five bits not all set), or a first byte with them all set and then
# continuation bytes (bit 8 set) ending in one without.
one_byte_tags = st.integers(0, 0xFF).filter(lambda b: b & 0x1F != 0x1F).map(lambda b: bytes([b]))
multi_byte_tags = st.builds(
    lambda first, middle, last: bytes([first | 0x1F, *[m | 0x80 for m in middle], last & 0x7F]),
    st.integers(0, 0xFF),
    st.lists(st.integers(0, 0xFF), max_size=2),
    st.integers(1, 0x7F),
)
tags = st.one_of(one_byte_tags, multi_byte_tags)


def forms_for(n: int) -> st.SearchStrategy[str]:
    allowed = [f for f, top in (("short", 0x7F), ("81", 0xFF), ("82", 0xFFFF)) if n <= top]
    return st.sampled_from(allowed)


@st.composite
def objects(draw: st.DrawFn) -> tuple[bytes, bytes, bytes]:
    """(tag bytes, value, encoding) with any allowed length form, minimal or not."""
    tag = draw(tags)
    value = draw(st.binary(max_size=600))
    form = draw(forms_for(len(value)))
    return tag, value, enc(tag, value, form)


@given(objects())
def test_one_object_round_trips(obj: tuple[bytes, bytes, bytes]) -> None:
    tag, value, encoded = obj
    item, end = tlv.parse_one(encoded + b"\xff\xff")
    assert item == Tlv(int.from_bytes(tag, "big"), value)
    assert end == len(encoded)


@given(st.lists(objects(), max_size=6))
def test_sequences_round_trip(objs: list[tuple[bytes, bytes, bytes]]) -> None:
    data = b"".join(encoded for _t, _v, encoded in objs)
    assert tlv.parse_all(data) == [Tlv(int.from_bytes(t, "big"), v) for t, v, _e in objs]


@given(st.lists(objects(), max_size=4))
def test_nested_objects_round_trip(objs: list[tuple[bytes, bytes, bytes]]) -> None:
    inner = b"".join(encoded for _t, _v, encoded in objs)
    outer, _end = tlv.parse_one(enc(b"\xff\x20", inner))
    assert outer.tag == 0xFF20 and outer.constructed
    assert [c.value for c in outer.children()] == [v for _t, v, _e in objs]


@given(objects(), st.data())
def test_every_truncation_is_an_error(obj: tuple[bytes, bytes, bytes], data: st.DataObject) -> None:
    _tag, _value, encoded = obj
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(TlvError, match="truncated"):
        tlv.parse_one(encoded[:cut])


@given(objects())
def test_header_needs_only_tag_and_length(obj: tuple[bytes, bytes, bytes]) -> None:
    tag, value, encoded = obj
    header = len(encoded) - len(value)
    assert tlv.read_header(encoded[:header]) == (int.from_bytes(tag, "big"), len(value), header)


@given(tags, st.binary(max_size=300))
def test_the_product_encoder_agrees(tag: bytes, value: bytes) -> None:
    number = int.from_bytes(tag, "big")
    encoded = tlv.encode(number, value)
    assert encoded == enc(tag, value)
    assert tlv.parse_one(encoded) == (Tlv(number, value), len(encoded))


def test_length_forms() -> None:
    assert tlv.parse_one(bytes.fromhex("df2203") + b"abc")[0].value == b"abc"
    assert tlv.parse_one(bytes.fromhex("df228103") + b"abc")[0].value == b"abc"
    assert tlv.parse_one(bytes.fromhex("df22820003") + b"abc")[0].value == b"abc"
    long = bytes(300)
    item, end = tlv.parse_one(bytes.fromhex("ff2082012c") + long)
    assert (item.tag, len(item.value), end) == (0xFF20, 300, 305)
    item, _end = tlv.parse_one(bytes.fromhex("0481ff") + bytes(255))
    assert len(item.value) == 255


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "truncated: no tag"),
        (bytes.fromhex("df"), "tag at offset 0 is cut off"),
        (bytes.fromhex("dfa2"), "tag at offset 0 is cut off"),
        (bytes.fromhex("df22"), "no length"),
        (bytes.fromhex("df2280"), "indefinite length"),
        (bytes.fromhex("df22830000"), "3 length bytes"),
        (bytes.fromhex("df2284000000"), "4 length bytes"),
        (bytes.fromhex("df2281"), "length at offset 2 is cut off"),
        (bytes.fromhex("df228200"), "length at offset 2 is cut off"),
        (bytes.fromhex("df2205616263"), "declares 5 bytes, 3 present"),
        (bytes.fromhex("ff2082012c") + bytes(10), "declares 300 bytes, 10 present"),
        (bytes.fromhex("1f8182838400"), "longer than 4 bytes"),
    ],
)
def test_malformed_input_is_refused(data: bytes, message: str) -> None:
    with pytest.raises(TlvError, match=message):
        tlv.parse_one(data)


def test_parse_all_refuses_trailing_garbage() -> None:
    with pytest.raises(TlvError, match="truncated"):
        tlv.parse_all(bytes.fromhex("0101aa02"))


def test_find_and_constructed() -> None:
    items = tlv.parse_all(bytes.fromhex("0101aa df2201bb 0101cc"))
    assert tlv.find(items, 0x01) == Tlv(0x01, b"\xaa")
    assert tlv.find(items, 0xDF22) == Tlv(0xDF22, b"\xbb")
    assert tlv.find(items, 0x99) is None
    assert Tlv(0xFF20, b"").constructed and Tlv(0x30, b"").constructed
    assert not Tlv(0xDF22, b"").constructed


def test_encode_refuses_what_it_cannot_encode() -> None:
    with pytest.raises(ValueError, match="too long"):
        tlv.encode(0x04, bytes(0x10000))
    assert tlv.encode(0x04, bytes(0xFFFF))[:4] == bytes.fromhex("0482ffff")
