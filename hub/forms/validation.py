"""Form values: each field type parsed into one normal form, the bundle of a life event (values
asked once, copied into every form: 書かない), field-level validation, and the count of entries a
resident was spared.

Pure: no I/O and no clock; ``today`` is handed in. The catalog comes from
:mod:`hub.catalog.procedures`.

Normal forms (what a validated form holds, and what the intake stores):

============  ====================================================================================
date          ISO ``YYYY-MM-DD``, from 和暦 (``令和6年4月1日``, ``R6.4.1``, ``令和元年5月1日``,
              ``平成31年4月30日``, ``昭和64年1月7日``, kanji numerals, ``㍻``) or 西暦
              (``2024-04-01``, ``2024/4/1``, ``2024年4月1日``, ``20240401``); full-width digits
              are fine. A 和暦 date outside its era (``平成31年5月1日``) is refused, naming the
              right one. Dates before 1873 (the lunar calendar) are refused.
kana          full-width katakana, ``ー``, ``・`` and single full-width spaces; hiragana and
              half-width katakana are converted
postal_code   ``123-4567``
phone         digits in groups joined by ``-`` (``03-1234-5678``, ``090-1234-5678``); ``+81``
              becomes ``0``
my_number     12 digits with a valid check digit (never echoed in an error)
number        an int within the field's min/max
boolean       true or false
select        one of the option values
text/address  stripped, inner runs of spaces made one; no control characters
household     a list of members, each with the catalog's ``household_member`` columns
============  ====================================================================================
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal

import signaling as sig
from hub.catalog.procedures import (
    Catalog,
    FieldSpec,
    FieldType,
    LifeEvent,
    Option,
    Procedure,
    Scalar,
)
from hub.errors import Unprocessable

# -- errors ------------------------------------------------------------------------------------


class FormsError(Unprocessable):
    """A bundle or submission that cannot be read at all (not a field's value). ``code`` for
    machines: ``bad_bundle``, ``unknown_life_event``, ``unknown_procedure``,
    ``unknown_condition``, ``duplicate_procedure``, ``no_procedures``, ``bad_signature``,
    ``bad_documents``. Over HTTP: 422 with no field issues (``fields: []``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, extra={"fields": []})


class FieldValueError(Exception):
    """A value that does not parse as its type; ``code`` names the problem, ``params`` fill
    its message (see :data:`MESSAGES`)."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


MESSAGES: Final[dict[str, tuple[str, str]]] = {
    "required": ("{ja}を入力してください。", "{en}: please fill this in."),
    "bad_date": (
        "{ja}: 日付として読めません（例: 令和6年4月1日、R6.4.1、2024-04-01）。",
        "{en}: not a date (e.g. 令和6年4月1日, R6.4.1, 2024-04-01).",
    ),
    "no_such_date": ("{ja}: その日付はありません。", "{en}: there is no such date."),
    "era_out_of_range": (
        "{ja}: その日は{era}ではありません（{suggestion}）。",
        "{en}: that day is not in the {era_en} era ({suggestion}).",
    ),
    "date_too_early": (
        "{ja}: 明治6年（1873年）より前の日付は扱えません。",
        "{en}: dates before 1873 cannot be used.",
    ),
    "date_in_future": ("{ja}: 今日より後の日付です。", "{en}: the date is after today."),
    "bad_kana": ("{ja}: カタカナで入力してください。", "{en}: katakana, please."),
    "bad_postal_code": (
        "{ja}: 郵便番号は7桁の数字です（例: 123-4567）。",
        "{en}: a postal code has 7 digits (e.g. 123-4567).",
    ),
    "bad_phone": (
        "{ja}: 電話番号として読めません（例: 03-1234-5678、090-1234-5678）。",
        "{en}: not a phone number (e.g. 03-1234-5678, 090-1234-5678).",
    ),
    "bad_my_number": ("{ja}: 個人番号は12桁の数字です。", "{en}: the number has 12 digits."),
    "my_number_check_digit": (
        "{ja}: 個人番号の検査用数字が合いません。番号をお確かめください。",
        "{en}: the check digit does not match; please check the number.",
    ),
    "bad_option": ("{ja}: 選択肢から選んでください。", "{en}: please choose one of the options."),
    "bad_number": ("{ja}: 数字で入力してください。", "{en}: a whole number, please."),
    "out_of_range": (
        "{ja}: {min}から{max}までの数を入力してください。",
        "{en}: a number from {min} to {max}, please.",
    ),
    "too_long": (
        "{ja}: {max_length}文字以内で入力してください。",
        "{en}: at most {max_length} characters.",
    ),
    "bad_format": ("{ja}: 形式が違います。", "{en}: not in the expected format."),
    "bad_text": ("{ja}: 文字で入力してください。", "{en}: text, please."),
    "bad_boolean": ("{ja}: はい・いいえで答えてください。", "{en}: yes or no, please."),
    "bad_household": ("{ja}: 人の一覧として読めません。", "{en}: not a list of people."),
    "too_many_members": ("{ja}: {max}人までです。", "{en}: at most {max} people."),
    "unknown_field": ("この書類にない項目です（{ja}）。", "Not a field of this form ({en})."),
    "unknown_form": (
        "この手続きの組み合わせにない書類です（{ja}）。",
        "Not a form of this bundle ({en}).",
    ),
    "fixed_by_life_event": (
        "{ja}: このライフイベントでは決まっています。",
        "{en}: set by the life event.",
    ),
    "bad_provenance": (
        "{ja}: 入力元は card・staff・resident のいずれかです。",
        "{en}: provenance is card, staff or resident.",
    ),
    "not_from_card": (
        "{ja}: カードから読み取れる項目ではありません。",
        "{en}: this value cannot come from the card.",
    ),
}

MAX_TEXT: Final = 200
MAX_MEMBERS: Final = 20
MAX_DOCUMENTS: Final = 50
DOCUMENT_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")

# -- dates -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Era:
    ja: str
    letter: str
    en: str
    first: date
    last: date | None

    def contains(self, day: date) -> bool:
        return self.first <= day and (self.last is None or day <= self.last)


ERAS: Final = (
    Era("明治", "M", "Meiji", date(1868, 10, 23), date(1912, 7, 29)),
    Era("大正", "T", "Taisho", date(1912, 7, 30), date(1926, 12, 24)),
    Era("昭和", "S", "Showa", date(1926, 12, 25), date(1989, 1, 7)),
    Era("平成", "H", "Heisei", date(1989, 1, 8), date(2019, 4, 30)),
    Era("令和", "R", "Reiwa", date(2019, 5, 1), None),
)
EARLIEST: Final = date(1873, 1, 1)
"""Japan took the Gregorian calendar on 明治6年1月1日; earlier dates were lunar."""

_ERA_NAMES: Final = {
    **{e.ja: e for e in ERAS},
    **{e.ja[0]: e for e in ERAS},
    **{e.letter: e for e in ERAS},
    **{e.letter.lower(): e for e in ERAS},
}
_KANJI_DIGITS: Final = {c: i for i, c in enumerate("〇一二三四五六七八九")}
_NUM = r"[0-9〇一二三四五六七八九十]{1,4}"
_WAREKI: Final = re.compile(
    r"(?P<era>明治|大正|昭和|平成|令和|[明大昭平令MTSHRmtshr])\.?"
    rf"(?P<y>元|{_NUM})(?:年|[./\-])(?P<m>{_NUM})(?:月|[./\-])(?P<d>{_NUM})日?"
)
_SEIREKI: Final = re.compile(
    rf"(?:西暦)?(?P<y>[0-9〇一二三四五六七八九]{{4}})(?:年|[./\-])(?P<m>{_NUM})(?:月|[./\-])"
    rf"(?P<d>{_NUM})日?"
)
_COMPACT: Final = re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})")


def _number(text: str) -> int | None:
    """Arabic or kanji numerals (``31``, ``三十一``, ``二〇二四``) as an int."""
    if text.isascii():
        return int(text) if text.isdigit() else None
    if "十" not in text:
        digits = [_KANJI_DIGITS.get(c) for c in text]
        if any(d is None for d in digits):
            return None
        return int("".join(str(d) for d in digits))
    tens, _, ones = text.partition("十")
    if "十" in ones:
        return None
    high = 1 if tens == "" else _KANJI_DIGITS.get(tens) if len(tens) == 1 else None
    low = 0 if ones == "" else _KANJI_DIGITS.get(ones) if len(ones) == 1 else None
    if high is None or low is None:
        return None
    return high * 10 + low


def _compact(text: str) -> str:
    """NFKC (full-width digits and letters, ㍻ ㋿) without any spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def parse_date(text: str) -> date:
    """A 和暦 or 西暦 date; FieldValueError ``bad_date``, ``no_such_date``,
    ``era_out_of_range`` (with the right 和暦 as ``suggestion``) or ``date_too_early``."""
    s = _compact(text)
    match = _WAREKI.fullmatch(s)
    if match is not None:
        era = _ERA_NAMES[match["era"]]
        year = 1 if match["y"] == "元" else _number(match["y"])
        month, day = _number(match["m"]), _number(match["d"])
        if year is None or month is None or day is None or year < 1:
            raise FieldValueError("bad_date")
        result = _make_date(era.first.year + year - 1, month, day)
        if not era.contains(result):
            suggestion = to_wareki(result) if result >= EARLIEST else ""
            raise FieldValueError(
                "era_out_of_range",
                era=era.ja,
                era_en=era.en,
                suggestion=f"{suggestion}（{result.isoformat()}）" if suggestion else "",
            )
        return result
    match = _SEIREKI.fullmatch(s) or _COMPACT.fullmatch(s)
    if match is None:
        raise FieldValueError("bad_date")
    year, month, day = _number(match["y"]), _number(match["m"]), _number(match["d"])
    if year is None or month is None or day is None:
        raise FieldValueError("bad_date")
    return _make_date(year, month, day)


def _make_date(year: int, month: int, day: int) -> date:
    try:
        result = date(year, month, day)
    except ValueError:
        raise FieldValueError("no_such_date") from None
    if result < EARLIEST:
        raise FieldValueError("date_too_early")
    return result


def era_of(day: date) -> Era:
    for era in reversed(ERAS):
        if era.first <= day:
            return era
    raise ValueError(f"{day} is before 明治")


def to_wareki(day: date, style: Literal["kanji", "letter"] = "kanji") -> str:
    """``令和6年4月1日`` (``令和元年5月1日``) or ``R6.4.1``."""
    era = era_of(day)
    year = day.year - era.first.year + 1
    if style == "letter":
        return f"{era.letter}{year}.{day.month}.{day.day}"
    return f"{era.ja}{'元' if year == 1 else year}年{day.month}月{day.day}日"


# -- kana, postal codes, phones, My Number -----------------------------------------------------

KANA: Final = re.compile(
    r"[\u30a1-\u30fa\u30fc-\u30fe・]+(?:\u3000[\u30a1-\u30fa\u30fc-\u30fe・]+)*"
)
"""Normal form of a reading: katakana words separated by single full-width spaces."""
_LONG_VOWEL_LOOKALIKES: Final = str.maketrans(dict.fromkeys("-‐‑−–—―", "ー"))


def to_katakana(text: str) -> str:
    """Hiragana (and ゝゞ) turned into katakana; everything else unchanged."""
    return "".join(
        chr(ord(c) + 0x60) if "\u3041" <= c <= "\u3096" or c in "ゝゞ" else c for c in text
    )


def parse_kana(text: str) -> str:
    """A reading in full-width katakana; FieldValueError ``bad_kana``."""
    s = unicodedata.normalize("NFKC", text)  # half-width kana, full-width space -> " "
    s = to_katakana(s).translate(_LONG_VOWEL_LOOKALIKES)
    s = "\u3000".join(s.split())
    if not KANA.fullmatch(s):
        raise FieldValueError("bad_kana")
    return s


_DASHES: Final = str.maketrans(dict.fromkeys("‐‑−–—―ーｰ", "-"))


def parse_postal_code(text: str) -> str:
    s = _compact(text).translate(_DASHES).removeprefix("〒")
    match = re.fullmatch(r"([0-9]{3})-?([0-9]{4})", s)
    if match is None:
        raise FieldValueError("bad_postal_code")
    return f"{match[1]}-{match[2]}"


_MOBILE: Final = ("020", "050", "060", "070", "080", "090")


def parse_phone(text: str) -> str:
    """A Japanese phone number (fixed line, mobile, IP, free dial) in groups joined by ``-``."""
    s = unicodedata.normalize("NFKC", text).strip().translate(_DASHES)
    if s.startswith("+81"):
        s = "0" + s[3:].lstrip(" -(").lstrip("0")
    groups = [g for g in re.split(r"[\s\-()]+", s) if g]
    if not groups or not all(g.isascii() and g.isdigit() for g in groups):
        raise FieldValueError("bad_phone")
    digits = "".join(groups)
    if not digits.startswith("0") or digits.startswith("00"):
        raise FieldValueError("bad_phone")
    if len(digits) == 11:
        if not (digits.startswith(_MOBILE) or digits.startswith("0800")):
            raise FieldValueError("bad_phone")
    elif len(digits) == 10:
        if digits.startswith(_MOBILE):
            raise FieldValueError("bad_phone")
    else:
        raise FieldValueError("bad_phone")
    if len(groups) in (2, 3) and 2 <= len(groups[0]) <= 5:
        return "-".join(groups)
    if len(digits) == 11:
        if digits.startswith("0800"):
            return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"
        return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if digits.startswith(("0120", "0570", "0990")):
        return f"{digits[:4]}-{digits[4:7]}-{digits[7:]}"
    if digits.startswith(("03", "06")):
        return f"{digits[:2]}-{digits[2:6]}-{digits[6:]}"
    return digits  # the split of other area codes depends on the area; left as typed


_MY_NUMBER_WEIGHTS: Final = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def my_number_check_digit(first_eleven: str) -> int:
    """The 12th digit of an Individual Number, from the first eleven."""
    if len(first_eleven) != 11 or not first_eleven.isdigit():
        raise ValueError("eleven digits, please")
    r = sum(int(d) * w for d, w in zip(first_eleven, _MY_NUMBER_WEIGHTS, strict=True)) % 11
    return 0 if r <= 1 else 11 - r


def parse_my_number(text: str) -> str:
    s = _compact(text).translate(_DASHES).replace("-", "")
    if not re.fullmatch(r"[0-9]{12}", s):
        raise FieldValueError("bad_my_number")
    if my_number_check_digit(s[:11]) != int(s[11]):
        raise FieldValueError("my_number_check_digit")
    return s


def mask_my_number(number: str) -> str:
    """For screens and records: only the last four digits."""
    return "●" * 8 + number[-4:] if len(number) == 12 else "●" * 12


# -- one value ---------------------------------------------------------------------------------


def is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _text(raw: Any, limit: int) -> str:
    if not isinstance(raw, str):
        raise FieldValueError("bad_text")
    s = " ".join(raw.split())
    if any(unicodedata.category(c) == "Cc" for c in s):
        raise FieldValueError("bad_text")
    if len(s) > limit:
        raise FieldValueError("too_long", max_length=limit)
    return s


def parse_scalar(spec: FieldSpec, raw: Any, today: date) -> Scalar:
    """One non-empty value of a field of any type but household."""
    kind: FieldType = spec.type
    if kind in ("text", "address"):
        value = _text(raw, spec.max_length or MAX_TEXT)
        if spec.pattern is not None:
            value = unicodedata.normalize("NFKC", value)
            if not re.fullmatch(spec.pattern, value):
                raise FieldValueError("bad_format")
        return value
    if kind == "boolean":
        if not isinstance(raw, bool):
            raise FieldValueError("bad_boolean")
        return raw
    if kind == "number":
        if isinstance(raw, str) and re.fullmatch(r"-?[0-9]{1,9}", _compact(raw)):
            raw = int(_compact(raw))
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise FieldValueError("bad_number")
        low = spec.minimum if spec.minimum is not None else -(10**9)
        high = spec.maximum if spec.maximum is not None else 10**9
        if not low <= raw <= high:
            raise FieldValueError("out_of_range", min=low, max=high)
        return raw
    if not isinstance(raw, str):
        raise FieldValueError(
            {
                "kana": "bad_kana",
                "date": "bad_date",
                "postal_code": "bad_postal_code",
                "phone": "bad_phone",
                "my_number": "bad_my_number",
            }.get(kind, "bad_option")
        )
    if kind == "select":
        if spec.option(raw) is None:
            raise FieldValueError("bad_option")
        return raw
    if len(raw) > MAX_TEXT:
        raise FieldValueError("too_long", max_length=MAX_TEXT)
    if kind == "kana":
        return parse_kana(raw)
    if kind == "postal_code":
        return parse_postal_code(raw)
    if kind == "phone":
        return parse_phone(raw)
    if kind == "my_number":
        return parse_my_number(raw)
    if kind == "date":
        day = parse_date(raw)
        if spec.not_after_today and day > today:
            raise FieldValueError("date_in_future")
        return day.isoformat()
    raise FieldValueError("bad_text")  # pragma: no cover - household is parsed by the caller


@dataclass(frozen=True)
class Problem:
    """What is wrong with one value, before it is put into words."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)
    item: int | None = None
    member: FieldSpec | None = None


def parse_value(
    spec: FieldSpec, raw: Any, today: date, members: Sequence[FieldSpec]
) -> tuple[Any, list[Problem]]:
    """A non-empty value in normal form (None when it has problems), and its problems."""
    if spec.type != "household":
        try:
            return parse_scalar(spec, raw, today), []
        except FieldValueError as exc:
            return None, [Problem(exc.code, exc.params)]
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        return None, [Problem("bad_household")]
    if len(raw) > MAX_MEMBERS:
        return None, [Problem("too_many_members", {"max": MAX_MEMBERS})]
    problems: list[Problem] = []
    people: list[dict[str, Any]] = []
    for i, member in enumerate(raw):
        person: dict[str, Any] = {}
        known = {m.id for m in members}
        for key in member:
            if key not in known:
                problems.append(Problem("unknown_field", {"name": str(key)[:40]}, i))
        for column in members:
            value = member.get(column.id)
            if is_empty(value):
                if column.required:
                    problems.append(Problem("required", {}, i, column))
                continue
            try:
                person[column.id] = parse_scalar(column, value, today)
            except FieldValueError as exc:
                problems.append(Problem(exc.code, exc.params, i, column))
        people.append(person)
    return (None if problems else people), problems


# -- bundles -----------------------------------------------------------------------------------

Source = Literal["card", "staff", "resident"]
SOURCES: Final[frozenset[str]] = frozenset({"card", "staff", "resident"})


@dataclass(frozen=True)
class SharedField:
    """A value the bundle asks once, and the form fields it fills."""

    key: str
    type: FieldType
    ja: str
    en: str
    card: str | None
    """The card attribute that fills it in this bundle (None: not from the card)."""
    options: tuple[Option, ...]
    users: tuple[tuple[str, FieldSpec], ...]
    """(procedure id, field) of every form field it fills."""
    required: bool
    """Some form requires it whatever the other values."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "type": self.type,
            "ja": self.ja,
            "en": self.en,
            "card": self.card,
            "required": self.required,
            "forms": [pid for pid, _ in self.users],
        }
        if self.options:
            out["options"] = [{"value": o.value, "ja": o.ja, "en": o.en} for o in self.options]
        return out


@dataclass(frozen=True)
class Bundle:
    """The forms of one life event for one resident, with the shared fields asked once."""

    life_event: LifeEvent
    procedures: tuple[Procedure, ...]
    presets: Mapping[str, Mapping[str, Scalar]]
    shared: tuple[SharedField, ...]
    per_form: Mapping[str, tuple[FieldSpec, ...]]
    """Each form's own fields: neither shared nor preset."""
    members: tuple[FieldSpec, ...]
    answers: Mapping[str, bool]

    @property
    def skills(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.skill for p in self.procedures))

    @property
    def needs_my_number(self) -> bool:
        return any(p.needs_my_number for p in self.procedures)

    @property
    def needs_signature(self) -> bool:
        return any(p.signature for p in self.procedures)

    def shared_field(self, key: str) -> SharedField | None:
        return next((s for s in self.shared if s.key == key), None)

    def procedure(self, procedure_id: str) -> Procedure | None:
        return next((p for p in self.procedures if p.id == procedure_id), None)

    def to_json(self) -> dict[str, Any]:
        """What the console draws: the write-once fields, then each form's own."""
        return {
            "life_event": self.life_event.id,
            "answers": dict(self.answers),
            "procedures": [p.id for p in self.procedures],
            "skills": list(self.skills),
            "needs_my_number": self.needs_my_number,
            "shared": [s.to_json() for s in self.shared],
            "forms": [
                {
                    "id": p.id,
                    "ja": p.ja,
                    "en": p.en,
                    "skill": p.skill,
                    "signature": p.signature,
                    "preset": dict(self.presets.get(p.id, {})),
                    "fields": [f.to_json() for f in self.per_form[p.id]],
                }
                for p in self.procedures
            ],
        }


def make_bundle(
    catalog: Catalog,
    life_event: str,
    answers: Mapping[str, bool] | None = None,
    procedures: Sequence[str] | None = None,
) -> Bundle:
    """The bundle of a life event: its procedures whose conditions the ``answers`` meet (and
    that are preselected), or exactly ``procedures`` when the specialist chose them."""
    event = catalog.life_events.get(life_event)
    if event is None:
        raise FormsError("unknown_life_event", f"unknown life event {life_event!r}")
    answers = dict(answers or {})
    for key, value in answers.items():
        if key not in catalog.questions or not isinstance(value, bool):
            raise FormsError("unknown_condition", f"unknown condition {key!r} (or not a yes/no)")
    if procedures is None:
        chosen = [
            e.procedure
            for e in event.procedures
            if e.default and all(answers.get(w, False) for w in e.when)
        ]
    else:
        chosen = list(procedures)
        if len(set(chosen)) != len(chosen):
            raise FormsError("duplicate_procedure", "a procedure is listed twice")
    if not chosen:
        raise FormsError("no_procedures", "the bundle has no procedures")
    forms: list[Procedure] = []
    for pid in chosen:
        procedure = catalog.procedures.get(pid) if isinstance(pid, str) else None
        if procedure is None:
            raise FormsError("unknown_procedure", f"unknown procedure {pid!r}")
        forms.append(procedure)
    presets: dict[str, Mapping[str, Scalar]] = {}
    for procedure in forms:
        entry = event.entry(procedure.id)
        presets[procedure.id] = dict(entry.preset) if entry else {}
    card_to_key = {k.card: k.key for k in catalog.shared_keys.values() if k.card}
    card_to_key.update(event.card)
    key_to_card = {key: attribute for attribute, key in card_to_key.items()}
    users: dict[str, list[tuple[str, FieldSpec]]] = {}
    for procedure in forms:
        for spec in procedure.fields:
            if spec.shared_key:
                users.setdefault(spec.shared_key, []).append((procedure.id, spec))
    shared = tuple(
        SharedField(
            key=key,
            type=catalog.shared_keys[key].type,
            ja=catalog.shared_keys[key].ja,
            en=catalog.shared_keys[key].en,
            card=key_to_card.get(key),
            options=catalog.shared_keys[key].options,
            users=tuple(used),
            required=any(spec.required for _, spec in used),
        )
        for key, used in users.items()
    )
    per_form = {
        p.id: tuple(f for f in p.fields if not f.shared_key and f.id not in presets[p.id])
        for p in forms
    }
    return Bundle(event, tuple(forms), presets, shared, per_form, catalog.household_member, answers)


def fill(
    bundle: Bundle,
    shared_values: Mapping[str, Any],
    per_form_values: Mapping[str, Mapping[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Each form's values: the life event's presets, the shared values copied into every field
    with their key, and the form's own values. Nothing is checked here."""
    forms: dict[str, dict[str, Any]] = {}
    for procedure in bundle.procedures:
        values: dict[str, Any] = dict(bundle.presets.get(procedure.id, {}))
        own = per_form_values.get(procedure.id, {})
        allowed = {f.id for f in bundle.per_form[procedure.id]}
        for spec in procedure.fields:
            if spec.shared_key is not None:
                value = shared_values.get(spec.shared_key)
            elif spec.id in allowed:
                value = own.get(spec.id)
            else:
                continue
            if not is_empty(value):
                values[spec.id] = value
        forms[procedure.id] = values
    return forms


@dataclass(frozen=True)
class FieldIssue:
    """One field's problem, with a stable code and its words in Japanese and English."""

    form: str | None
    """Procedure id; None for a shared value or the bundle as a whole."""
    field: str
    """Field id, or shared key when ``form`` is None."""
    code: str
    ja: str
    en: str
    item: int | None = None
    """Index in a household list."""
    member_field: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "form": self.form,
            "field": self.field,
            "code": self.code,
            "ja": self.ja,
            "en": self.en,
        }
        if self.item is not None:
            out["item"] = self.item
            out["member_field"] = self.member_field
        return out


def _issue(form: str | None, key: str, ja: str, en: str, problem: Problem) -> FieldIssue:
    if problem.item is not None:
        n = problem.item + 1
        member_ja = problem.member.ja if problem.member else str(problem.params.get("name", ""))
        member_en = problem.member.en if problem.member else member_ja
        ja, en = f"{ja}（{n}人目）{member_ja}", f"{en} (person {n}) {member_en}"
    template_ja, template_en = MESSAGES.get(
        problem.code, ("{ja}: 入力を確認してください。", "{en}")
    )
    params = {**problem.params, "ja": ja, "en": en}
    return FieldIssue(
        form,
        key,
        problem.code,
        template_ja.format_map(_Lenient(params)),
        template_en.format_map(_Lenient(params)),
        problem.item,
        problem.member.id if problem.member else None,
    )


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class Validated:
    forms: Mapping[str, Mapping[str, Any]]
    """Each form's values in normal form (presets, shared and own), valid ones only."""
    shared: Mapping[str, Any]
    issues: tuple[FieldIssue, ...]

    @property
    def ok(self) -> bool:
        return not self.issues


def validate_bundle(
    bundle: Bundle,
    shared_values: Mapping[str, Any],
    per_form_values: Mapping[str, Mapping[str, Any]],
    *,
    today: date,
) -> Validated:
    """Every value parsed, every required field present (conditions evaluated on each form's
    own values); problems as field issues, each reported once."""
    issues: list[FieldIssue] = []
    seen: set[tuple[str | None, str, str, int | None, str | None]] = set()

    def add(issue: FieldIssue) -> None:
        marker = (issue.form, issue.field, issue.code, issue.item, issue.member_field)
        if marker not in seen:
            seen.add(marker)
            issues.append(issue)

    shared_ok: dict[str, Any] = {}
    for key, raw in shared_values.items():
        shared = bundle.shared_field(key)
        if shared is None:
            add(_issue(None, key, key, key, Problem("unknown_field")))
            continue
        if is_empty(raw):
            continue
        value: Any = None
        for _, spec in shared.users:  # each form's own limits (length, not after today) apply
            parsed, problems = parse_value(spec, raw, today, bundle.members)
            for problem in problems:
                add(_issue(None, key, shared.ja, shared.en, problem))
            value = parsed if value is None else value
        if value is not None and not any(i.form is None and i.field == key for i in issues):
            shared_ok[key] = value
    forms: dict[str, dict[str, Any]] = {}
    for pid in per_form_values:
        if bundle.procedure(pid) is None:
            add(_issue(pid, "", pid, pid, Problem("unknown_form")))
    for procedure in bundle.procedures:
        own = per_form_values.get(procedure.id, {})
        values: dict[str, Any] = dict(bundle.presets.get(procedure.id, {}))
        editable = {f.id for f in bundle.per_form[procedure.id]}
        for fid, raw in own.items():
            target = procedure.field(fid)
            if target is None or target.shared_key:
                add(_issue(procedure.id, fid, fid, fid, Problem("unknown_field")))
            elif fid not in editable:
                add(_issue(procedure.id, fid, target.ja, target.en, Problem("fixed_by_life_event")))
            elif not is_empty(raw):
                parsed, problems = parse_value(target, raw, today, bundle.members)
                for problem in problems:
                    add(_issue(procedure.id, fid, target.ja, target.en, problem))
                if not problems:
                    values[fid] = parsed
        for spec in procedure.fields:
            if spec.shared_key and spec.shared_key in shared_ok:
                values[spec.id] = shared_ok[spec.shared_key]
        for spec in procedure.fields:
            needed = spec.required or (
                spec.required_if is not None and spec.required_if.holds(values)
            )
            if not needed or spec.id in values:
                continue
            if spec.shared_key:
                shared = bundle.shared_field(spec.shared_key)
                raw = shared_values.get(spec.shared_key)
                if shared is not None and is_empty(raw):
                    add(_issue(None, shared.key, shared.ja, shared.en, Problem("required")))
            elif is_empty(own.get(spec.id)):
                add(_issue(procedure.id, spec.id, spec.ja, spec.en, Problem("required")))
        forms[procedure.id] = {f.id: values[f.id] for f in procedure.fields if f.id in values}
    return Validated(forms, shared_ok, tuple(issues))


# -- submissions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provenance:
    """Where each value came from: read from the card, typed by staff, or entered by the
    resident (on the terminal). Anything not named was typed by staff."""

    shared: Mapping[str, Source] = field(default_factory=dict)
    forms: Mapping[str, Mapping[str, Source]] = field(default_factory=dict)

    def of_shared(self, key: str) -> Source:
        return self.shared.get(key, "staff")

    def of_field(self, procedure_id: str, field_id: str) -> Source:
        return self.forms.get(procedure_id, {}).get(field_id, "staff")


@dataclass(frozen=True)
class Submission:
    bundle: Bundle
    shared: Mapping[str, Any]
    forms: Mapping[str, Mapping[str, Any]]
    provenance: Provenance
    signature: sig.Signature | None
    documents: tuple[str, ...]


_SUBMISSION_KEYS: Final = frozenset(
    {
        "life_event",
        "answers",
        "procedures",
        "shared",
        "forms",
        "provenance",
        "signature",
        "documents",
    }
)


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FormsError("bad_bundle", f"{what} is an object")
    return value


def parse_submission(body: Any, catalog: Catalog) -> Submission:
    """A bundle as the console sends it::

        {"life_event": "tennyu", "answers": {"with_children": true},
         "procedures": ["tennyu_todoke", ...],            # optional: the event's defaults
         "shared": {"name": "山田 太郎", ...},
         "forms": {"jidou_teate": {"bank_name": "…", ...}, ...},
         "provenance": {"shared": {"name": "card"}, "forms": {"jidou_teate": {...}}},
         "signature": {"width": 600, "height": 200, "strokes": [[[x, y], ...], ...]},
         "documents": ["doc-id", ...]}

    FormsError when its shape is wrong; field values are checked by :func:`validate_submission`.
    """
    if not isinstance(body, dict):
        raise FormsError("bad_bundle", "the bundle is an object")
    unknown = set(body) - _SUBMISSION_KEYS
    if unknown:
        raise FormsError("bad_bundle", f"unknown keys in the bundle: {sorted(unknown)}")
    life_event = body.get("life_event")
    if not isinstance(life_event, str):
        raise FormsError("bad_bundle", "life_event is a string")
    procedures = body.get("procedures")
    if procedures is not None and (
        not isinstance(procedures, list) or not all(isinstance(p, str) for p in procedures)
    ):
        raise FormsError("bad_bundle", "procedures is a list of procedure ids")
    bundle = make_bundle(catalog, life_event, _object(body.get("answers"), "answers"), procedures)
    forms = _object(body.get("forms"), "forms")
    for pid, values in forms.items():
        _object(values, f"forms.{pid}")
    provenance_raw = _object(body.get("provenance"), "provenance")
    if set(provenance_raw) - {"shared", "forms"}:
        raise FormsError("bad_bundle", "provenance has shared and forms")
    prov_forms = _object(provenance_raw.get("forms"), "provenance.forms")
    provenance = Provenance(
        dict(_object(provenance_raw.get("shared"), "provenance.shared")),
        {pid: dict(_object(v, f"provenance.forms.{pid}")) for pid, v in prov_forms.items()},
    )
    documents = body.get("documents") or []
    if (
        not isinstance(documents, list)
        or len(documents) > MAX_DOCUMENTS
        or not all(isinstance(d, str) and DOCUMENT_ID.fullmatch(d) for d in documents)
    ):
        raise FormsError("bad_documents", f"documents is a list of up to {MAX_DOCUMENTS} ids")
    return Submission(
        bundle=bundle,
        shared=dict(_object(body.get("shared"), "shared")),
        forms={pid: dict(v) for pid, v in forms.items()},
        provenance=provenance,
        signature=parse_signature(body.get("signature")),
        documents=tuple(documents),
    )


def parse_signature(raw: Any) -> sig.Signature | None:
    """The bundle's signature, by the one rule for a signature (:class:`signaling.Signature`:
    up to ``MAX_STROKES`` strokes of points inside the box, ``MAX_SIGNATURE_POINTS`` in all) --
    the rule ``form.signature`` was read by, so a signature the hub took is one it submits."""
    if raw is None:
        return None
    try:
        signature = sig.decode(sig.Signature, raw, where="signature")
    except sig.ProtocolError as exc:
        raise FormsError("bad_signature", str(exc)) from None
    # The record keeps where the pen went, not when: points are [x, y] in it, as drafts make them.
    strokes = tuple(tuple(sig.Point(p.x, p.y) for p in s) for s in signature.strokes)
    return sig.Signature(signature.width, signature.height, strokes)


def validate_submission(submission: Submission, *, today: date) -> Validated:
    """:func:`validate_bundle`, plus the provenance named for each value and the signature."""
    bundle = submission.bundle
    result = validate_bundle(bundle, submission.shared, submission.forms, today=today)
    issues = list(result.issues)
    for key, source in submission.provenance.shared.items():
        shared = bundle.shared_field(key)
        if shared is None:
            issues.append(_issue(None, key, key, key, Problem("unknown_field")))
        elif source not in SOURCES:
            issues.append(_issue(None, key, shared.ja, shared.en, Problem("bad_provenance")))
        elif source == "card" and shared.card is None:
            issues.append(_issue(None, key, shared.ja, shared.en, Problem("not_from_card")))
    for pid, sources in submission.provenance.forms.items():
        procedure = bundle.procedure(pid)
        for fid, source in sources.items():
            spec = procedure.field(fid) if procedure else None
            if spec is None or spec.shared_key:
                issues.append(_issue(pid, fid, fid, fid, Problem("unknown_field")))
            elif source not in SOURCES:
                issues.append(_issue(pid, fid, spec.ja, spec.en, Problem("bad_provenance")))
            elif source == "card" and spec.source != "card":
                issues.append(_issue(pid, fid, spec.ja, spec.en, Problem("not_from_card")))
    if bundle.needs_signature and submission.signature is None:
        issues.append(_issue(None, "signature", "署名", "Signature", Problem("required")))
    return Validated(result.forms, result.shared, tuple(issues))


# -- the 書かない figure -------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryCount:
    """Entries a paper process would have had the resident write, against those they made."""

    forms: int
    paper: int
    """Over every form: each filled field (each column of each listed person), ticked box and
    selected option, plus one signature per form that is signed."""
    resident: int
    """Values the resident entered themselves (each shared one once), plus their signature."""

    @property
    def avoided(self) -> int:
        return self.paper - self.resident

    def to_json(self) -> dict[str, int]:
        return {
            "forms": self.forms,
            "paper": self.paper,
            "resident": self.resident,
            "avoided": self.avoided,
        }


def _entries(value: Any) -> int:
    if is_empty(value) or value is False:
        return 0
    if isinstance(value, list):
        return sum(
            sum(1 for v in member.values() if not is_empty(v) and v is not False)
            for member in value
            if isinstance(member, dict)
        )
    return 1


def count_entries(
    bundle: Bundle,
    forms: Mapping[str, Mapping[str, Any]],
    provenance: Provenance,
    *,
    signatures: int = 1,
) -> EntryCount:
    """The 書かない figure for filled ``forms`` (as :func:`fill` or :func:`validate_bundle`
    give them). The resident signs once on the terminal for the whole bundle (``signatures``)."""
    paper = 0
    resident = 0
    shared_counted: set[str] = set()
    for procedure in bundle.procedures:
        values = forms.get(procedure.id, {})
        for spec in procedure.fields:
            value = values.get(spec.id)
            entries = _entries(value)
            if spec.handwritten:
                paper += entries
            if spec.shared_key is not None:
                if (
                    provenance.of_shared(spec.shared_key) == "resident"
                    and spec.shared_key not in shared_counted
                ):
                    shared_counted.add(spec.shared_key)
                    resident += entries
            elif provenance.of_field(procedure.id, spec.id) == "resident":
                resident += entries
        if procedure.signature:
            paper += 1
    if bundle.needs_signature:
        resident += signatures
    return EntryCount(len(bundle.procedures), paper, resident)


def resolved_provenance(
    bundle: Bundle, forms: Mapping[str, Mapping[str, Any]], provenance: Provenance
) -> dict[str, dict[str, str]]:
    """Per form and field with a value: ``card``, ``staff``, ``resident`` or ``preset``."""
    out: dict[str, dict[str, str]] = {}
    for procedure in bundle.procedures:
        presets = bundle.presets.get(procedure.id, {})
        marks: dict[str, str] = {}
        for fid in forms.get(procedure.id, {}):
            spec = procedure.field(fid)
            if spec is None:
                continue
            if fid in presets:
                marks[fid] = "preset"
            elif spec.shared_key:
                marks[fid] = provenance.of_shared(spec.shared_key)
            else:
                marks[fid] = provenance.of_field(procedure.id, fid)
        out[procedure.id] = marks
    return out


def submission_record(submission: Submission, validated: Validated) -> dict[str, Any]:
    """What the intake keeps of a valid submission (the caller adds who, when and ids)."""
    bundle = submission.bundle
    return {
        "life_event": bundle.life_event.id,
        "answers": dict(bundle.answers),
        "procedures": [p.id for p in bundle.procedures],
        "skills": list(bundle.skills),
        "forms": {pid: dict(values) for pid, values in validated.forms.items()},
        "provenance": resolved_provenance(bundle, validated.forms, submission.provenance),
        "signature": sig.to_json(submission.signature) if submission.signature else None,
        "documents": list(submission.documents),
        "entries": count_entries(bundle, validated.forms, submission.provenance).to_json(),
    }


def issues_json(issues: Iterable[FieldIssue]) -> list[dict[str, Any]]:
    return [i.to_json() for i in issues]
