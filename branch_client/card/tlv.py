"""A BER-TLV parser: tags of one or more bytes; lengths in short form, ``81 xx`` or ``82 hh ll``.

Pure: bytes in, :class:`Tlv` values or a :class:`TlvError` out. Input comes from a card, so every
length is checked against the bytes actually there; indefinite lengths (``80``), length fields
longer than two bytes and truncated input are refused with an error naming the offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_TAG_BYTES = 4
"""Longer tags exist in theory only; four bytes is more than any smart card uses."""


class TlvError(ValueError):
    """The bytes are not well-formed BER-TLV."""


@dataclass(frozen=True)
class Tlv:
    """One data object. ``tag`` is the tag's bytes read as a big-endian number (``0xDF22``)."""

    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        """Whether the value is itself a sequence of data objects (bit 6 of the first tag byte)."""
        first = self.tag
        while first > 0xFF:
            first >>= 8
        return bool(first & 0x20)

    def children(self) -> list[Tlv]:
        """The data objects inside a constructed value."""
        return parse_all(self.value)


def read_tag(data: bytes, offset: int = 0) -> tuple[int, int]:
    """The tag at ``offset`` and the offset just after it."""
    if offset >= len(data):
        raise TlvError(f"truncated: no tag at offset {offset}")
    first = data[offset]
    tag = first
    pos = offset + 1
    if first & 0x1F == 0x1F:  # more tag bytes follow, each with bit 8 set but the last
        while True:
            if pos >= len(data):
                raise TlvError(f"truncated: tag at offset {offset} is cut off")
            if pos - offset >= MAX_TAG_BYTES:
                raise TlvError(f"tag at offset {offset} is longer than {MAX_TAG_BYTES} bytes")
            byte = data[pos]
            tag = (tag << 8) | byte
            pos += 1
            if not byte & 0x80:
                break
    return tag, pos


def read_length(data: bytes, offset: int) -> tuple[int, int]:
    """The length at ``offset`` and the offset just after it (where the value starts)."""
    if offset >= len(data):
        raise TlvError(f"truncated: no length at offset {offset}")
    first = data[offset]
    if first < 0x80:
        return first, offset + 1
    if first == 0x80:
        raise TlvError(f"indefinite length at offset {offset} is not allowed")
    count = first & 0x7F
    if count > 2:
        raise TlvError(f"length at offset {offset} has {count} length bytes; at most 2 allowed")
    end = offset + 1 + count
    if end > len(data):
        raise TlvError(f"truncated: length at offset {offset} is cut off")
    return int.from_bytes(data[offset + 1 : end], "big"), end


def read_header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """``(tag, length, header_size)`` of the data object at ``offset``, without its value.

    Needs only the tag and length bytes, so a reader can learn how much more to fetch.
    """
    tag, pos = read_tag(data, offset)
    length, pos = read_length(data, pos)
    return tag, length, pos - offset


def parse_one(data: bytes, offset: int = 0) -> tuple[Tlv, int]:
    """The data object at ``offset`` and the offset just after it."""
    tag, length, header = read_header(data, offset)
    start = offset + header
    end = start + length
    if end > len(data):
        raise TlvError(
            f"truncated: tag {tag:X} at offset {offset} declares {length} bytes, "
            f"{len(data) - start} present"
        )
    return Tlv(tag, bytes(data[start:end])), end


def parse_all(data: bytes) -> list[Tlv]:
    """A sequence of data objects that fills ``data`` exactly."""
    items: list[Tlv] = []
    pos = 0
    while pos < len(data):
        item, pos = parse_one(data, pos)
        items.append(item)
    return items


def find(items: Iterable[Tlv], tag: int) -> Tlv | None:
    """The first data object with ``tag``, if any."""
    return next((item for item in items if item.tag == tag), None)


def encode(tag: int, value: bytes) -> bytes:
    """One data object, with the shortest length form (used by the software card)."""
    if tag < 0:
        raise ValueError("a tag is not negative")
    tag_bytes = tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    elif n <= 0xFF:
        length = bytes([0x81, n])
    elif n <= 0xFFFF:
        length = bytes([0x82]) + n.to_bytes(2, "big")
    else:
        raise ValueError(f"value of {n} bytes is too long for a two-byte length")
    return tag_bytes + length + value
