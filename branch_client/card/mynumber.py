"""What the My Number card's 券面事項入力補助AP holds, parsed from its files' bytes.

Pure: :func:`parse_basic_four` (EF ``0002``: name, address, birth date, sex) and
:func:`parse_my_number` (EF ``0001``) take the bytes read from the card; :class:`CardInfo` is the
result. A field that does not decode (外字 outside UTF-8, a damaged file) is ``None`` and named in
``CardInfo.flagged`` for staff to enter by hand; it never fails the read.

Also the constants of the application (AID, file ids, tries) shared by the reader and the
software card.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass

from branch_client.card import tlv

AID = bytes.fromhex("D3921000310001010408")
"""券面事項入力補助AP."""
EF_PIN = 0x0011
EF_MY_NUMBER = 0x0001
EF_BASIC_FOUR = 0x0002
EF_AP_INFO = 0x0005
MAX_TRIES = 3

TAG_MY_NUMBER = 0xFF10
TAG_BASIC_FOUR = 0xFF20
TAG_OFFSETS = 0xDF21
TAG_NAME = 0xDF22
TAG_ADDRESS = 0xDF23
TAG_BIRTH = 0xDF24
TAG_SEX = 0xDF25

MY_NUMBER_READ_SIZE = 17
"""READ BINARY length for EF ``0001``: ``FF 10 0C`` + 12 digits + 2 trailing bytes."""
HEADER_READ_SIZE = 5
"""Enough for a two-byte tag and an ``82 hh ll`` length: read first, then the rest."""
MAX_CHUNK = 255
"""Largest Le per READ BINARY."""

_CHECK_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


class Sex(enum.StrEnum):
    """ISO 5218, as DF25 holds it ('0', '1', '2', '9')."""

    NOT_KNOWN = "not_known"
    MALE = "male"
    FEMALE = "female"
    NOT_APPLICABLE = "not_applicable"

    @classmethod
    def from_iso5218(cls, code: str) -> Sex:
        try:
            return _SEX_BY_CODE[code]
        except KeyError:
            raise ValueError(f"not an ISO 5218 code: {code!r}") from None

    @property
    def iso5218(self) -> str:
        return _CODE_BY_SEX[self]


_SEX_BY_CODE = {"0": Sex.NOT_KNOWN, "1": Sex.MALE, "2": Sex.FEMALE, "9": Sex.NOT_APPLICABLE}
_CODE_BY_SEX = {sex: code for code, sex in _SEX_BY_CODE.items()}

_MASK = "'***'"


@dataclass(frozen=True, repr=False)
class CardInfo:
    """What the card says about its holder.

    A field is ``None`` when it was not read (``my_number`` without ``with_number``) or did not
    decode; in the second case its name is in ``flagged`` so staff enter it from the card face.
    ``repr`` masks the name, the address and the My Number, so a log line cannot leak them.
    """

    name: str | None
    address: str | None
    birth_date: datetime.date | None
    sex: Sex | None
    my_number: str | None = None
    flagged: tuple[str, ...] = ()

    @property
    def birth_date_iso(self) -> str | None:
        """The birth date as ``YYYY-MM-DD``."""
        return self.birth_date.isoformat() if self.birth_date else None

    @property
    def sex_name(self) -> str | None:
        """The sex as the wire names it (``female``, ``male``, …)."""
        return self.sex.value if self.sex else None

    def to_json(self, with_number: bool = False) -> dict[str, object]:
        """``{"name", "address", "birth_date" (ISO), "sex", "flagged"}``, and ``"my_number"``
        only when ``with_number``."""
        data: dict[str, object] = {
            "name": self.name,
            "address": self.address,
            "birth_date": self.birth_date_iso,
            "sex": self.sex_name,
            "flagged": list(self.flagged),
        }
        if with_number:
            data["my_number"] = self.my_number
        return data

    def __repr__(self) -> str:
        def masked(value: object) -> str:
            return "None" if value is None else _MASK

        return (
            f"CardInfo(name={masked(self.name)}, address={masked(self.address)}, "
            f"birth_date={self.birth_date!r}, sex={self.sex!r}, "
            f"my_number={masked(self.my_number)}, flagged={self.flagged!r})"
        )

    __str__ = __repr__


def header_length(first_bytes: bytes) -> int:
    """The total size of the data object that starts ``first_bytes`` (header and value), from
    its tag and length alone; :class:`tlv.TlvError` if they are incomplete or malformed."""
    _tag, length, header = tlv.read_header(first_bytes)
    return header + length


def check_digit(first_eleven: str) -> int:
    """The My Number check digit for the first 11 digits."""
    if len(first_eleven) != 11 or not _ascii_digits(first_eleven):
        raise ValueError("the check digit needs exactly 11 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first_eleven, _CHECK_WEIGHTS, strict=True))
    r = total % 11
    return 0 if r <= 1 else 11 - r


def is_valid_my_number(number: str) -> bool:
    """12 ASCII digits whose last is the check digit of the first 11."""
    return (
        len(number) == 12 and _ascii_digits(number) and check_digit(number[:11]) == int(number[11])
    )


def parse_my_number(data: bytes) -> str | None:
    """The My Number from EF ``0001``'s bytes (trailing bytes ignored); ``None`` if the file is
    damaged or the check digit is wrong."""
    try:
        item, _end = tlv.parse_one(data)
    except tlv.TlvError:
        return None
    if item.tag != TAG_MY_NUMBER or len(item.value) != 12:
        return None
    number = item.value.decode("ascii", errors="replace")
    return number if is_valid_my_number(number) else None


@dataclass(frozen=True)
class BasicFour:
    """EF ``0002`` decoded; ``flagged`` names the fields that did not decode."""

    name: str | None
    address: str | None
    birth_date: datetime.date | None
    sex: Sex | None
    flagged: tuple[str, ...]


def parse_basic_four(data: bytes) -> BasicFour:
    """Name, address, birth date and sex from EF ``0002``'s bytes (trailing bytes ignored).

    The fields are the data objects inside ``FF20``, found by tag (the DF21 offsets are not
    needed). A field that is missing, cut off or does not decode is ``None`` and flagged; a file
    that does not start with ``FF20`` flags all four.
    """
    fields: dict[int, bytes] = {}
    try:
        tag, length, header = tlv.read_header(data)
    except tlv.TlvError:
        tag = None
    if tag == TAG_BASIC_FOUR:
        # A file cut short still yields the fields before the cut.
        content = data[header : header + length]
        for item in _children_until_damage(content):
            fields.setdefault(item.tag, item.value)
    name = _text(fields.get(TAG_NAME))
    address = _text(fields.get(TAG_ADDRESS))
    birth_date = _birth_date(fields.get(TAG_BIRTH))
    sex = _sex(fields.get(TAG_SEX))
    values = {"name": name, "address": address, "birth_date": birth_date, "sex": sex}
    flagged = [key for key, value in values.items() if value is None]
    return BasicFour(name, address, birth_date, sex, tuple(flagged))


def card_info(basic: BasicFour, my_number_file: bytes | None) -> CardInfo:
    """The :class:`CardInfo` for a decoded EF ``0002`` and, when read, EF ``0001``'s bytes."""
    flagged = list(basic.flagged)
    number = None
    if my_number_file is not None:
        number = parse_my_number(my_number_file)
        if number is None:
            flagged.append("my_number")
    return CardInfo(
        name=basic.name,
        address=basic.address,
        birth_date=basic.birth_date,
        sex=basic.sex,
        my_number=number,
        flagged=tuple(flagged),
    )


# -- decoding one field --------------------------------------------------------------------------


def _children_until_damage(value: bytes) -> list[tlv.Tlv]:
    """The data objects in ``value`` up to the first damaged one: the fields before damage are
    still good."""
    items: list[tlv.Tlv] = []
    pos = 0
    while pos < len(value):
        try:
            item, pos = tlv.parse_one(value, pos)
        except tlv.TlvError:
            break
        items.append(item)
    return items


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # An empty field, or one holding control characters, is as unusable as undecodable bytes.
    if not text.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return None
    return text


def _birth_date(raw: bytes | None) -> datetime.date | None:
    if raw is None or len(raw) != 8 or not _ascii_digits(raw.decode("latin-1")):
        return None
    text = raw.decode("ascii")
    try:
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def _sex(raw: bytes | None) -> Sex | None:
    if raw is None:
        return None
    try:
        return Sex.from_iso5218(raw.decode("latin-1"))
    except ValueError:
        return None


def _ascii_digits(text: str) -> bool:
    return bool(text) and all("0" <= c <= "9" for c in text)
