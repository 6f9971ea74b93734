"""The procedure catalog: the forms a specialist fills with the resident, and the life events that
bring them together, read from the JSON files beside this module.

Files (adding a procedure or a life event is a data change here, not a code change):

=============================  =================================================================
``{procedure_id}.json``        one procedure: ``id``, ``ja``, ``en``, ``skill`` (a key of
                               :mod:`hub.catalog`), ``needs_my_number`` (the law asks for the
                               Individual Number: the card's number is read only for these),
                               ``signature`` (the resident signs it) and ``fields``
``shared.json``                ``shared_keys``: the values a bundle asks once (氏名, 住所, …) with
                               their type, names and the card attribute that fills them;
                               ``household_member``: the columns of a household list
``life_events.json``           ``conditions`` (yes/no questions) and ``life_events``, each with
                               the procedures it brings, when, preset values and card mapping
=============================  =================================================================

A field: ``id``, ``ja``, ``en``, ``type`` (one of :data:`FIELD_TYPES`), and optionally
``required``, ``required_if`` (``{"field": other_id}``: required when that field has a value;
``{"field": other_id, "in": [values]}``: when it has one of these), ``shared_key``, ``source:
"card"`` (the value can come from the My Number card), ``options`` (select; a shared select
takes its key's options), ``max_length`` and ``pattern`` (text), ``min`` and ``max`` (number),
``not_after_today`` (date) and ``handwritten: false`` (a field a paper form would not have the
resident write; every field counts as handwritten otherwise).

Everything is checked when loaded; :class:`hub.catalog.CatalogError` names the file and entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Final, Literal, cast

from hub.catalog import CatalogError, load_skills

FieldType = Literal[
    "text",
    "kana",
    "date",
    "postal_code",
    "phone",
    "address",
    "select",
    "number",
    "my_number",
    "household",
    "boolean",
]
FIELD_TYPES: Final[tuple[FieldType, ...]] = (
    "text",
    "kana",
    "date",
    "postal_code",
    "phone",
    "address",
    "select",
    "number",
    "my_number",
    "household",
    "boolean",
)
CARD_ATTRIBUTES: Final = ("name", "address", "birth_date", "sex", "my_number")
"""What the My Number card holds (the 4 basic items and the number)."""
CARD_TYPES: Final[frozenset[FieldType]] = frozenset(
    {"text", "address", "date", "select", "my_number"}
)
ID: Final = re.compile(r"[a-z][a-z0-9_]{0,47}")
SHARED_FILE: Final = "shared.json"
LIFE_EVENTS_FILE: Final = "life_events.json"

Scalar = str | int | bool


@dataclass(frozen=True)
class Option:
    value: str
    ja: str
    en: str


@dataclass(frozen=True)
class RequiredIf:
    """Required when ``field`` has a value (``values`` None) or one of ``values``."""

    field: str
    values: tuple[Scalar, ...] | None = None

    def holds(self, form: Mapping[str, Any]) -> bool:
        value = form.get(self.field)
        if value is None or value == "" or value == []:
            return False
        return self.values is None or value in self.values


@dataclass(frozen=True)
class FieldSpec:
    id: str
    ja: str
    en: str
    type: FieldType
    required: bool = False
    required_if: RequiredIf | None = None
    shared_key: str | None = None
    source: Literal["card"] | None = None
    options: tuple[Option, ...] = ()
    max_length: int | None = None
    pattern: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    not_after_today: bool = False
    handwritten: bool = True

    def option(self, value: str) -> Option | None:
        return next((o for o in self.options if o.value == value), None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "ja": self.ja, "en": self.en, "type": self.type}
        if self.required:
            out["required"] = True
        if self.required_if is not None:
            out["required_if"] = {"field": self.required_if.field}
            if self.required_if.values is not None:
                out["required_if"]["in"] = list(self.required_if.values)
        for name in ("shared_key", "source", "max_length", "pattern"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.minimum is not None:
            out["min"] = self.minimum
        if self.maximum is not None:
            out["max"] = self.maximum
        if self.options:
            out["options"] = [{"value": o.value, "ja": o.ja, "en": o.en} for o in self.options]
        if self.not_after_today:
            out["not_after_today"] = True
        if not self.handwritten:
            out["handwritten"] = False
        return out


@dataclass(frozen=True)
class Procedure:
    id: str
    ja: str
    en: str
    skill: str
    needs_my_number: bool
    signature: bool
    fields: tuple[FieldSpec, ...]

    def field(self, field_id: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ja": self.ja,
            "en": self.en,
            "skill": self.skill,
            "needs_my_number": self.needs_my_number,
            "signature": self.signature,
            "fields": [f.to_json() for f in self.fields],
        }


@dataclass(frozen=True)
class SharedKey:
    key: str
    type: FieldType
    ja: str
    en: str
    card: str | None = None
    options: tuple[Option, ...] = ()


@dataclass(frozen=True)
class Question:
    """A yes/no condition of a life event, e.g. ``with_children``."""

    id: str
    ja: str
    en: str


@dataclass(frozen=True)
class EventProcedure:
    procedure: str
    when: tuple[str, ...] = ()
    default: bool = True
    preset: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class LifeEvent:
    id: str
    ja: str
    en: str
    purpose: str
    procedures: tuple[EventProcedure, ...]
    card: Mapping[str, str] = field(default_factory=dict)
    """Card attribute -> shared key, where it differs from the key's own ``card``."""

    def entry(self, procedure_id: str) -> EventProcedure | None:
        return next((p for p in self.procedures if p.procedure == procedure_id), None)


@dataclass(frozen=True)
class Catalog:
    procedures: Mapping[str, Procedure]
    life_events: Mapping[str, LifeEvent]
    questions: Mapping[str, Question]
    shared_keys: Mapping[str, SharedKey]
    household_member: tuple[FieldSpec, ...]

    def to_json(self) -> dict[str, Any]:
        """What staff screens need to draw the forms: everything, options resolved."""
        return {
            "procedures": [p.to_json() for p in self.procedures.values()],
            "shared_keys": [
                {
                    "key": s.key,
                    "type": s.type,
                    "ja": s.ja,
                    "en": s.en,
                    **({"card": s.card} if s.card else {}),
                    **(
                        {"options": [{"value": o.value, "ja": o.ja, "en": o.en} for o in s.options]}
                        if s.options
                        else {}
                    ),
                }
                for s in self.shared_keys.values()
            ],
            "household_member": [f.to_json() for f in self.household_member],
            "conditions": [{"id": q.id, "ja": q.ja, "en": q.en} for q in self.questions.values()],
            "life_events": [
                {
                    "id": e.id,
                    "ja": e.ja,
                    "en": e.en,
                    "purpose": e.purpose,
                    "card": dict(e.card),
                    "procedures": [
                        {
                            "procedure": p.procedure,
                            "when": list(p.when),
                            "default": p.default,
                            "preset": dict(p.preset),
                        }
                        for p in e.procedures
                    ],
                }
                for e in self.life_events.values()
            ],
        }


# -- loading -----------------------------------------------------------------------------------


@cache
def load_catalog() -> Catalog:
    """The shipped catalog, read once."""
    files: dict[str, str] = {}
    for entry in resources.files("hub.catalog").joinpath("data", "procedures").iterdir():
        if entry.name.endswith(".json"):
            files[entry.name] = entry.read_text(encoding="utf-8")
    return parse_catalog(files)


def parse_catalog(files: Mapping[str, str]) -> Catalog:
    """The catalog in these files (name -> text); CatalogError naming the file and entry."""
    for required in (SHARED_FILE, LIFE_EVENTS_FILE):
        if required not in files:
            raise CatalogError(f"{required}: missing")
    shared_data = _json(SHARED_FILE, files[SHARED_FILE])
    shared_keys = _shared_keys(shared_data)
    member_raw = shared_data.get("household_member")
    if not isinstance(member_raw, list) or not member_raw:
        raise CatalogError(f"{SHARED_FILE}: household_member is a non-empty list")
    members = tuple(
        _field(f"{SHARED_FILE}: household_member[{i}]", raw, {}) for i, raw in enumerate(member_raw)
    )
    if any(m.type == "household" for m in members):
        raise CatalogError(f"{SHARED_FILE}: household members hold no household lists")
    procedures: dict[str, Procedure] = {}
    for name in sorted(files):
        if name in (SHARED_FILE, LIFE_EVENTS_FILE) or not name.endswith(".json"):
            continue
        procedure = _procedure(name, _json(name, files[name]), shared_keys)
        if name != f"{procedure.id}.json":
            raise CatalogError(f"{name}: holds procedure {procedure.id!r}; name it after the id")
        procedures[procedure.id] = procedure
    if not procedures:
        raise CatalogError("no procedures")
    questions, events = _life_events(
        _json(LIFE_EVENTS_FILE, files[LIFE_EVENTS_FILE]), procedures, shared_keys
    )
    return Catalog(procedures, events, questions, shared_keys, members)


def _json(name: str, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CatalogError(f"{name}: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{name}: expected an object")
    return data


def _text(where: str, raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: {key} is a non-empty string")
    return value


def _id(where: str, raw: Mapping[str, Any], key: str = "id") -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not ID.fullmatch(value):
        raise CatalogError(f"{where}: {key} {value!r} is not [a-z][a-z0-9_]{{0,47}}")
    return value


def _options(where: str, raw: Any) -> tuple[Option, ...]:
    if not isinstance(raw, list) or not raw:
        raise CatalogError(f"{where}: options is a non-empty list")
    options: list[Option] = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or set(entry) != {"value", "ja", "en"}:
            raise CatalogError(f"{where}: options[{i}] has value, ja and en")
        option = Option(
            _id(f"{where}: options[{i}]", entry, "value"),
            _text(f"{where}: options[{i}]", entry, "ja"),
            _text(f"{where}: options[{i}]", entry, "en"),
        )
        if any(o.value == option.value for o in options):
            raise CatalogError(f"{where}: duplicate option {option.value!r}")
        options.append(option)
    return tuple(options)


def _shared_keys(data: Mapping[str, Any]) -> dict[str, SharedKey]:
    raw = data.get("shared_keys")
    if not isinstance(raw, dict) or not raw:
        raise CatalogError(f"{SHARED_FILE}: shared_keys is a non-empty object")
    keys: dict[str, SharedKey] = {}
    for key, entry in raw.items():
        where = f"{SHARED_FILE}: shared_keys.{key}"
        if not isinstance(key, str) or not ID.fullmatch(key) or not isinstance(entry, dict):
            raise CatalogError(f"{where}: a [a-z_] key with an object")
        kind = entry.get("type")
        if kind not in FIELD_TYPES:
            raise CatalogError(f"{where}: unknown type {kind!r}")
        card = entry.get("card")
        if card is not None and card not in CARD_ATTRIBUTES:
            raise CatalogError(f"{where}: card {card!r} is not one of {CARD_ATTRIBUTES}")
        options = _options(where, entry.get("options")) if kind == "select" else ()
        if kind != "select" and "options" in entry:
            raise CatalogError(f"{where}: only select keys have options")
        keys[key] = SharedKey(
            key,
            cast(FieldType, kind),
            _text(where, entry, "ja"),
            _text(where, entry, "en"),
            card,
            options,
        )
    return keys


_FIELD_KEYS: Final = frozenset(
    {
        "id",
        "ja",
        "en",
        "type",
        "required",
        "required_if",
        "shared_key",
        "source",
        "options",
        "max_length",
        "pattern",
        "min",
        "max",
        "not_after_today",
        "handwritten",
    }
)


def _field(where: str, raw: Any, shared_keys: Mapping[str, SharedKey]) -> FieldSpec:
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: expected an object")
    field_id = _id(where, raw)
    where = f"{where} ({field_id})"
    unknown = set(raw) - _FIELD_KEYS
    if unknown:
        raise CatalogError(f"{where}: unknown keys {sorted(unknown)}")
    kind = raw.get("type")
    if kind not in FIELD_TYPES:
        raise CatalogError(f"{where}: unknown type {kind!r}; one of {', '.join(FIELD_TYPES)}")
    for flag in ("required", "not_after_today", "handwritten"):
        if flag in raw and not isinstance(raw[flag], bool):
            raise CatalogError(f"{where}: {flag} is true or false")
    shared_key = raw.get("shared_key")
    options: tuple[Option, ...] = ()
    if shared_key is not None:
        shared = shared_keys.get(shared_key) if isinstance(shared_key, str) else None
        if shared is None:
            raise CatalogError(f"{where}: unknown shared_key {shared_key!r}")
        if shared.type != kind:
            raise CatalogError(
                f"{where}: type {kind!r} differs from shared key {shared_key!r} ({shared.type})"
            )
        if "options" in raw:
            raise CatalogError(f"{where}: a shared select takes its key's options")
        options = shared.options
    elif kind == "select":
        options = _options(where, raw.get("options"))
    elif "options" in raw:
        raise CatalogError(f"{where}: only select fields have options")
    source = raw.get("source")
    if source is not None and (source != "card" or kind not in CARD_TYPES):
        raise CatalogError(f"{where}: source is 'card', for {sorted(CARD_TYPES)} fields")
    max_length = raw.get("max_length")
    pattern = raw.get("pattern")
    if (max_length is not None or pattern is not None) and kind != "text":
        raise CatalogError(f"{where}: max_length and pattern are for text fields")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise CatalogError(f"{where}: max_length is a positive integer")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise CatalogError(f"{where}: pattern is a string")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise CatalogError(f"{where}: pattern: {exc}") from None
    minimum, maximum = raw.get("min"), raw.get("max")
    if (minimum is not None or maximum is not None) and kind != "number":
        raise CatalogError(f"{where}: min and max are for number fields")
    for bound in (minimum, maximum):
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool)):
            raise CatalogError(f"{where}: min and max are integers")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise CatalogError(f"{where}: min exceeds max")
    if raw.get("not_after_today") and kind != "date":
        raise CatalogError(f"{where}: not_after_today is for date fields")
    required_if = None
    if "required_if" in raw:
        cond = raw["required_if"]
        if not isinstance(cond, dict) or not set(cond) <= {"field", "in"} or "field" not in cond:
            raise CatalogError(f'{where}: required_if is {{"field": id}} or with "in": [values]')
        values = cond.get("in")
        if values is not None and (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str | int | bool) for v in values)
        ):
            raise CatalogError(f"{where}: required_if.in is a non-empty list of values")
        required_if = RequiredIf(
            _id(f"{where}: required_if", cond, "field"),
            tuple(values) if values is not None else None,
        )
        if raw.get("required"):
            raise CatalogError(f"{where}: either required or required_if")
    return FieldSpec(
        id=field_id,
        ja=_text(where, raw, "ja"),
        en=_text(where, raw, "en"),
        type=cast(FieldType, kind),
        required=bool(raw.get("required", False)),
        required_if=required_if,
        shared_key=shared_key,
        source=source,
        options=options,
        max_length=max_length,
        pattern=pattern,
        minimum=minimum,
        maximum=maximum,
        not_after_today=bool(raw.get("not_after_today", False)),
        handwritten=bool(raw.get("handwritten", True)),
    )


def _procedure(
    name: str, raw: Mapping[str, Any], shared_keys: Mapping[str, SharedKey]
) -> Procedure:
    procedure_id = _id(name, raw)
    skill = raw.get("skill")
    if skill not in load_skills():
        raise CatalogError(f"{name}: unknown skill {skill!r} (see hub/catalog/skills.json)")
    for flag in ("needs_my_number", "signature"):
        if not isinstance(raw.get(flag), bool):
            raise CatalogError(f"{name}: {flag} is true or false")
    raw_fields = raw.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise CatalogError(f"{name}: fields is a non-empty list")
    fields = tuple(
        _field(f"{name}: fields[{i}]", entry, shared_keys) for i, entry in enumerate(raw_fields)
    )
    ids = [f.id for f in fields]
    if len(set(ids)) != len(ids):
        raise CatalogError(f"{name}: duplicate field ids")
    shared = [f.shared_key for f in fields if f.shared_key]
    if len(set(shared)) != len(shared):
        raise CatalogError(f"{name}: a shared key is used by one field per form")
    by_id = {f.id: f for f in fields}
    for f in fields:
        if f.required_if is None:
            continue
        other = by_id.get(f.required_if.field)
        if other is None or other is f:
            raise CatalogError(f"{name}: {f.id}: required_if names another field of this form")
        for value in f.required_if.values or ():
            if not _value_fits(other, value):
                raise CatalogError(
                    f"{name}: {f.id}: required_if value {value!r} never in {other.id}"
                )
    has_number = any(f.type == "my_number" for f in fields)
    if has_number != raw["needs_my_number"]:
        raise CatalogError(
            f"{name}: has a my_number field exactly when needs_my_number (the number is read "
            "only where the law asks for it)"
        )
    return Procedure(
        id=procedure_id,
        ja=_text(name, raw, "ja"),
        en=_text(name, raw, "en"),
        skill=skill,
        needs_my_number=raw["needs_my_number"],
        signature=raw["signature"],
        fields=fields,
    )


def _value_fits(spec: FieldSpec, value: Scalar) -> bool:
    """Whether a preset or condition value is one the field can hold (select and boolean)."""
    if spec.type == "select":
        return isinstance(value, str) and spec.option(value) is not None
    if spec.type == "boolean":
        return isinstance(value, bool)
    if spec.type == "number":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def _life_events(
    data: Mapping[str, Any],
    procedures: Mapping[str, Procedure],
    shared_keys: Mapping[str, SharedKey],
) -> tuple[dict[str, Question], dict[str, LifeEvent]]:
    name = LIFE_EVENTS_FILE
    raw_questions = data.get("conditions")
    if not isinstance(raw_questions, dict):
        raise CatalogError(f"{name}: conditions is an object")
    questions: dict[str, Question] = {}
    for key, entry in raw_questions.items():
        where = f"{name}: conditions.{key}"
        if not isinstance(key, str) or not ID.fullmatch(key) or not isinstance(entry, dict):
            raise CatalogError(f"{where}: a [a-z_] key with ja and en")
        questions[key] = Question(key, _text(where, entry, "ja"), _text(where, entry, "en"))
    raw_events = data.get("life_events")
    if not isinstance(raw_events, list) or not raw_events:
        raise CatalogError(f"{name}: life_events is a non-empty list")
    events: dict[str, LifeEvent] = {}
    for i, raw in enumerate(raw_events):
        where = f"{name}: life_events[{i}]"
        if not isinstance(raw, dict):
            raise CatalogError(f"{where}: expected an object")
        event_id = _id(where, raw)
        where = f"{where} ({event_id})"
        if event_id in events:
            raise CatalogError(f"{where}: duplicate id")
        card = raw.get("card", {})
        if not isinstance(card, dict) or not all(
            k in CARD_ATTRIBUTES and v in shared_keys for k, v in card.items()
        ):
            raise CatalogError(f"{where}: card maps card attributes to shared keys")
        entries: list[EventProcedure] = []
        raw_entries = raw.get("procedures")
        if not isinstance(raw_entries, list) or not raw_entries:
            raise CatalogError(f"{where}: procedures is a non-empty list")
        for j, entry in enumerate(raw_entries):
            at = f"{where}: procedures[{j}]"
            if not isinstance(entry, dict) or not set(entry) <= {
                "procedure",
                "when",
                "default",
                "preset",
            }:
                raise CatalogError(f"{at}: procedure, when, default, preset")
            procedure = procedures.get(entry.get("procedure", ""))
            if procedure is None:
                raise CatalogError(f"{at}: unknown procedure {entry.get('procedure')!r}")
            if any(e.procedure == procedure.id for e in entries):
                raise CatalogError(f"{at}: {procedure.id} listed twice")
            when = entry.get("when", [])
            if not isinstance(when, list) or any(w not in questions for w in when):
                raise CatalogError(f"{at}: when lists known conditions")
            default = entry.get("default", True)
            if not isinstance(default, bool):
                raise CatalogError(f"{at}: default is true or false")
            preset = entry.get("preset", {})
            if not isinstance(preset, dict):
                raise CatalogError(f"{at}: preset is an object")
            for field_id, value in preset.items():
                spec = procedure.field(field_id)
                if spec is None or spec.shared_key or not _value_fits(spec, value):
                    raise CatalogError(
                        f"{at}: preset {field_id}={value!r} is not a value of a form field"
                    )
            entries.append(EventProcedure(procedure.id, tuple(when), default, dict(preset)))
        events[event_id] = LifeEvent(
            id=event_id,
            ja=_text(where, raw, "ja"),
            en=_text(where, raw, "en"),
            purpose=_id(where, raw, "purpose"),
            procedures=tuple(entries),
            card=dict(card),
        )
    return questions, events
