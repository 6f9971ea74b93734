"""The codec: payloads as frozen dataclasses whose fields carry their own limits, read from JSON
and written back by one pair of functions.

Theory of operation. A *payload* is a frozen dataclass (every message, and the values nested in
messages). Each field's metadata says what the parser accepts; its type hint says what the value
becomes:

=======================  ========================================================================
type hint                on the wire, and the metadata that bounds it
=======================  ========================================================================
``str``                  a string: ``max_len``, ``min_len``, ``pattern``, ``choices``, ``prefix``
``int``, ``float``       a number, never ``true``/``false``: ``min``, ``max``; a float is finite
``bool``                 ``true`` or ``false``
``X | None``             ``null`` or an X
``tuple[X, ...]``        a list: ``max_items``, ``min_items``; its items' own limits under
                         ``item`` (without one, the field's limits apply to each item)
``Mapping[str, X]``      an object: at most ``max_items`` keys matching ``key_pattern``; the
                         values' limits under ``item``
a payload class          an object with the class's fields (unknown ones refused), or a list in
                         field order when the class says ``json_array = True`` (a point
                         ``[x, y, t]``, trailing optional items left out)
a union of these         told apart by the JSON kind of the value (string, number, list, …)
``JsonObject``           free-form hub output, bounded by ``json``: a :class:`JsonLimits` (depth,
                         number of values, length of each string, size as JSON)
=======================  ========================================================================

:func:`decode` checks a JSON value against a payload class, recursively, and builds it; then a
class may name a rule across its fields with ``problem()`` (a signature's points inside its box).
Everything refused raises :class:`ProtocolError` with a stable ``code`` and a message naming the
place (``form.signature: strokes[2][5] must be …``). :func:`to_json` is the inverse. The field
descriptions are read once per class.

Two more metadata keys: ``code``, the error code for anything wrong inside that field (the code
the hub answered before the codec checked the field), and ``legacy``, how to read the shape a peer
of the previous release sends instead (JSON text inside a string), once, here at the edge.

Pure: no I/O. Never asserts on peer input: every branch on a peer's value raises ProtocolError.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass
from functools import cache
from typing import Any, Final, TypeAlias, TypeVar, Union

JsonValue: TypeAlias = (
    bool | int | float | str | Sequence["JsonValue"] | Mapping[str, "JsonValue"] | None
)
"""Any JSON value, as :func:`json.loads` returns it (lists and dicts)."""
JsonObject: TypeAlias = Mapping[str, JsonValue]

_SURROGATE: Final = re.compile("[\ud800-\udfff]")
"""A lone surrogate (JSON's ``"\\ud800"``) is not text: it cannot be written as UTF-8 again."""

MAX_SAFE_INT: Final = 2**53
"""Integers beyond this do not survive a browser's JSON.parse; the parser refuses them."""

T = TypeVar("T")


class SignalingError(Exception):
    """Base error of the signaling package. ``code`` is stable and meant for machines."""

    code = "signaling_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ProtocolError(SignalingError):
    """The peer sent something that is not a valid message. The connection can carry on.
    ``message_type`` is the message's tag when that much was readable."""

    code = "bad_message"

    def __init__(
        self, message: str, *, code: str | None = None, message_type: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.message_type = message_type


@dataclass(frozen=True)
class JsonLimits:
    """Bounds of a free-form JSON object: how deep its lists and objects nest (the object itself
    is depth 1), how many values it holds in all, how long each string (and key) is, and how
    long it is written as compact JSON."""

    max_depth: int
    max_values: int
    max_string: int
    max_chars: int


# -- reading ------------------------------------------------------------------------------------


def decode(cls: type[T], data: object, *, where: str | None = None) -> T:
    """``data`` (a JSON value, as :func:`json.loads` gives it) checked against the payload class
    ``cls`` and built into it. ``where`` names it in errors (default: the class's name).
    Raises :class:`ProtocolError`."""
    return _object(cls, data, where or cls.__name__, None, frozenset())


def decode_fields(cls: type[T], data: Mapping[str, object], *, where: str, ignore: str) -> T:
    """Like :func:`decode` for an object already known to be one, with the key ``ignore``
    allowed besides the fields (a message's ``type`` tag)."""
    return _object(cls, data, where, None, frozenset({ignore}))


@dataclass(frozen=True)
class _Field:
    name: str
    hint: Any
    meta: Mapping[str, Any]
    required: bool


_SCHEMAS: dict[type, tuple[tuple[_Field, ...], frozenset[str]]] = {}


def _schema(cls: type) -> tuple[tuple[_Field, ...], frozenset[str]]:
    """The class's fields with their resolved hints and limits, read once."""
    known = _SCHEMAS.get(cls)
    if known is not None:
        return known
    # The codec's own aliases resolve here, wherever the class was written.
    hints = typing.get_type_hints(cls, localns={"JsonValue": JsonValue, "JsonObject": JsonObject})
    described = tuple(
        _Field(
            f.name,
            hints[f.name],
            f.metadata,
            f.default is MISSING and f.default_factory is MISSING,
        )
        for f in dataclasses.fields(cls)
    )
    _SCHEMAS[cls] = described, frozenset(f.name for f in described)
    return _SCHEMAS[cls]


def _bad(path: str, why: str, code: str | None) -> ProtocolError:
    return ProtocolError(f"{path} {why}", code=code or "bad_field")


def _object(cls: type[T], data: object, path: str, code: str | None, ignore: frozenset[str]) -> T:
    described, known = _schema(cls)
    if getattr(cls, "json_array", False):
        return _array_object(cls, described, data, path, code)
    if not isinstance(data, dict):
        raise _bad(path, "must be an object", code)
    extra = set(data) - known - ignore
    if extra:
        name = str(sorted(extra, key=str)[0])[:64]
        raise ProtocolError(f"{path}: unknown field {name!r}", code=code or "unknown_field")
    values: dict[str, Any] = {}
    for f in described:
        if f.name not in data:
            if f.required:
                raise ProtocolError(
                    f"{path}: missing field {f.name!r}", code=code or "missing_field"
                )
            continue
        values[f.name] = _field(f, data[f.name], f"{path}: {f.name}", code)
    return _checked(cls(**values), described, path, code)


def _array_object(
    cls: type[T], described: tuple[_Field, ...], data: object, path: str, code: str | None
) -> T:
    required = sum(f.required for f in described)
    if not isinstance(data, list) or not required <= len(data) <= len(described):
        shape = f"{required}" if required == len(described) else f"{required} to {len(described)}"
        raise _bad(path, f"must be a list of {shape} items", code)
    values = {
        f.name: _field(f, item, f"{path}[{i}]", code)
        for i, (f, item) in enumerate(zip(described, data, strict=False))
    }
    return _checked(cls(**values), described, path, code)


def _checked(value: T, described: tuple[_Field, ...], path: str, code: str | None) -> T:
    """The class's own rule across its fields, if it has one."""
    problem: Callable[[], tuple[str, str] | None] | None = getattr(value, "problem", None)
    found = problem() if problem is not None else None
    if found is not None:
        name, why = found
        meta = next((f.meta for f in described if f.name == name), {})
        raise _bad(f"{path}: {name}", why, code or meta.get("code"))
    return value


def _field(f: _Field, value: object, path: str, code: str | None) -> Any:
    code = code or f.meta.get("code")
    legacy: Callable[[str], object] | None = f.meta.get("legacy")
    if legacy is not None and isinstance(value, str):
        try:
            value = legacy(value)
        except ValueError as exc:
            raise _bad(
                path, f"is not in the previous release's form either ({exc})", code
            ) from None
    return _value(value, f.hint, f.meta, path, code)


_NONE: Final = type(None)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "other"


@cache
def _kinds(hint: Any) -> frozenset[str]:
    """The JSON kinds a (non-union) hint is read from."""
    origin = typing.get_origin(hint)
    if hint is bool:
        return frozenset({"bool"})
    if hint is int:
        return frozenset({"int"})
    if hint is float:
        return frozenset({"int", "float"})
    if hint is str:
        return frozenset({"str"})
    if origin is tuple:
        return frozenset({"list"})
    if origin is Mapping:
        return frozenset({"object"})
    if dataclasses.is_dataclass(hint):
        return frozenset({"list" if getattr(hint, "json_array", False) else "object"})
    raise TypeError(f"unsupported field type {hint!r}")  # our bug, not the peer's


_WORDS: Final = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "object": "an object",
    "null": "null",
}


@cache
def _alternatives(hint: Any) -> tuple[bool, tuple[Any, ...]]:
    """Whether ``hint`` allows null, and what else it is."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is Union:
        args = typing.get_args(hint)
        return _NONE in args, tuple(a for a in args if a is not _NONE)
    return False, (hint,)


def _value(value: object, hint: Any, meta: Mapping[str, Any], path: str, code: str | None) -> Any:
    json_limits: JsonLimits | None = meta.get("json")
    if json_limits is not None:
        return _json_object(value, json_limits, path, code)
    optional, options = _alternatives(hint)
    kind = _kind(value)
    if kind == "null":
        if optional:
            return None
        raise _bad(path, "must not be null", code)
    # Exact kinds first: an integer is read as an int where the union has one, else as a float.
    chosen = next((o for o in options if kind in _kinds(o) and o is not float), None)
    chosen = chosen or next((o for o in options if kind in _kinds(o)), None)
    if chosen is None:
        accepted = {k for o in options for k in _kinds(o)} | ({"null"} if optional else set())
        if "float" in accepted:
            accepted.discard("int")
        words = ", ".join(word for k, word in _WORDS.items() if k in accepted)
        raise _bad(path, f"must be {words}", code)
    return _one(value, chosen, meta, path, code)


def _one(value: Any, hint: Any, meta: Mapping[str, Any], path: str, code: str | None) -> Any:
    origin = typing.get_origin(hint)
    if hint is bool:
        return value
    if hint is int or hint is float:
        if isinstance(value, float) and not math.isfinite(value):
            raise _bad(path, "must be a finite number", code)
        lo, hi = meta.get("min", -MAX_SAFE_INT), meta.get("max", MAX_SAFE_INT)
        if not lo <= value <= hi:
            raise _bad(path, f"must be between {lo} and {hi}", code)
        return value
    if hint is str:
        return _text(value, meta, path, code)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"{path}: only tuple[X, ...] is supported")  # our bug
        lo, hi = meta.get("min_items", 0), meta.get("max_items", 16)
        if not lo <= len(value) <= hi:
            raise _bad(path, f"must be a list of {lo} to {hi} items", code)
        inner = meta.get("item", meta)
        return tuple(
            _value(item, args[0], inner, f"{path}[{i}]", code) for i, item in enumerate(value)
        )
    if origin is Mapping:
        key_hint, value_hint = typing.get_args(hint)
        if key_hint is not str:
            raise TypeError(f"{path}: only Mapping[str, X] is supported")  # our bug
        if len(value) > meta.get("max_items", 16):
            raise _bad(path, f"must have at most {meta.get('max_items', 16)} keys", code)
        key_meta = {"pattern": meta["key_pattern"], "max_len": 64} if "key_pattern" in meta else {}
        inner = meta.get("item", {})
        return {
            _text(k, key_meta, f"{path} key", code): _value(
                v, value_hint, inner, f"{path}.{k}", code
            )
            for k, v in value.items()
        }
    return _object(hint, value, path, code, frozenset())


def _text(value: str, meta: Mapping[str, Any], path: str, code: str | None) -> str:
    max_len = meta.get("max_len", 64 * 1024)
    if len(value) > max_len:
        raise _bad(path, f"is longer than {max_len} characters", code)
    if not value.isascii() and _SURROGATE.search(value):
        raise _bad(path, "holds a lone surrogate, not text", code)
    if len(value) < meta.get("min_len", 0):
        raise _bad(path, f"is shorter than {meta['min_len']} characters", code)
    pattern = meta.get("pattern")
    if pattern is not None and not pattern.fullmatch(value):
        raise _bad(path, "has characters or a form that is not allowed", code)
    choices = meta.get("choices")
    if choices is not None and value not in choices:
        raise _bad(path, f"must be one of {', '.join(sorted(choices))}", code)
    prefix = meta.get("prefix")
    if prefix is not None and not value.startswith(prefix):
        raise _bad(path, f"must start with {prefix!r}", code)
    return value


def _json_object(value: object, limits: JsonLimits, path: str, code: str | None) -> JsonObject:
    """A free-form JSON object within ``limits``; returned as it is (dicts and lists)."""
    if not isinstance(value, dict):
        raise _bad(path, "must be an object", code)
    count = 0
    todo: list[tuple[object, int]] = [(value, 1)]  # iterative: the depth check comes first
    while todo:
        item, depth = todo.pop()
        count += 1
        if count > limits.max_values:
            raise _bad(path, f"holds more than {limits.max_values} values", code)
        if item is None or isinstance(item, bool):
            continue
        if isinstance(item, int):
            if not -MAX_SAFE_INT <= item <= MAX_SAFE_INT:
                raise _bad(path, f"holds an integer beyond ±{MAX_SAFE_INT}", code)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise _bad(path, "holds a number that is not finite", code)
        elif isinstance(item, str):
            if len(item) > limits.max_string:
                raise _bad(path, f"holds a string longer than {limits.max_string}", code)
            if not item.isascii() and _SURROGATE.search(item):
                raise _bad(path, "holds a lone surrogate, not text", code)
        elif isinstance(item, list | dict):
            if depth > limits.max_depth:
                raise _bad(path, f"is nested deeper than {limits.max_depth}", code)
            if isinstance(item, dict):
                for key in item:
                    if not isinstance(key, str) or len(key) > limits.max_string:
                        raise _bad(path, "has a key that is not a short string", code)
                    if not key.isascii() and _SURROGATE.search(key):
                        raise _bad(path, "has a key with a lone surrogate", code)
                todo.extend((v, depth + 1) for v in item.values())
            else:
                todo.extend((v, depth + 1) for v in item)
        else:
            raise _bad(path, "holds something that is not JSON", code)
    size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
    if size > limits.max_chars:
        raise _bad(path, f"is longer than {limits.max_chars} characters as JSON", code)
    return value


# -- writing ------------------------------------------------------------------------------------


def to_json(value: object) -> Any:
    """A payload (or any value inside one) as plain JSON data: dicts, lists and scalars."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        pairs = [(f.name, to_json(getattr(value, f.name))) for f in dataclasses.fields(value)]
        if getattr(value, "json_array", False):
            items = [v for _, v in pairs]
            while items and items[-1] is None:  # trailing optional items are left out
                items.pop()
            return items
        return dict(pairs)
    if isinstance(value, tuple | list):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    return value


def json_text(text: str) -> object:
    """``legacy`` reader: the value was JSON text inside a string. ValueError if it is not."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None
