"""The hub's Lua scripts: ``.lua`` files in this package, rendered and loaded once per process.

Theory of operation
-------------------
Every operation that must read and change several keys atomically across hub processes is a
Lua script run inside Redis. The scripts live as files, one folder per owner (``dispatch/`` for
:mod:`hub.sessions.dispatch`, ``intake/`` for :mod:`hub.intake.queue`, ``documents/`` for
:mod:`hub.documents.store`), shipped as package data and read with :mod:`importlib.resources`.

A folder's ``prelude.lua``, when there is one, is put in front of each of its other scripts: the
helpers they share. What Python owns is rendered into the prelude, never copied by hand: the key
names of :mod:`hub.redis_keys` and the transition tables of the lifecycles. A file marks each
place with one line of exactly this form (valid Lua as it stands, so a file can be read and
checked on its own)::

    local K = {}  -- rendered: keys

which :func:`render` replaces with ``local K = {...}``, the table it is given under that name.
A placeholder without a table, or a table without a placeholder, is an error; so no script runs
with an empty table by mistake. No ``%``-formatting is involved: a script's text is the file's.

:func:`load` does this once per folder per process (the callers cache it) and wraps each script
in a :class:`Script`: its text and SHA-1 are computed once, and it is not bound to a Redis
client — each call names the client (or pipeline) it runs on. Redis learns a script the first
time a client runs it (``EVALSHA``, and on ``NOSCRIPT`` a ``SCRIPT LOAD``: redis-py's path,
also inside pipelines), so each server loads each script once, however many clients, hubs and
``Dispatch`` or ``Intake`` objects there are, and nothing here keeps a client alive.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

PRELUDE: Final = "prelude.lua"
PLACEHOLDER: Final = re.compile(r"^local (?P<var>[A-Za-z_]\w*) = \{\}  -- rendered: (?P<name>\w+)$")
_SAFE_TEXT: Final = re.compile(r"[A-Za-z0-9_:@|.-]*")
_NAME: Final = re.compile(r"[A-Za-z_]\w*")


class LuaError(Exception):
    """A script folder or a rendering does not fit together (a programming error)."""


def table(entries: Mapping[str, str]) -> str:
    """A Lua table literal of strings, ``{name='value', ...}`` or ``{["a:b"]='c', ...}``.
    Values (and keys that are not plain names) must be key-like text: letters, digits and
    ``_:@|.-``, so nothing needs escaping."""
    parts = []
    for key, value in entries.items():
        if not _SAFE_TEXT.fullmatch(key) or not _SAFE_TEXT.fullmatch(value):
            raise LuaError(f"not key-like text: {key!r}={value!r}")
        name = key if _NAME.fullmatch(key) else f'["{key}"]'
        parts.append(f"{name}='{value}'")
    return "{" + ", ".join(parts) + "}"


def render(text: str, tables: Mapping[str, str]) -> str:
    """``text`` with each placeholder line replaced by its table (Lua literals by name)."""
    used: set[str] = set()
    lines = []
    for line in text.splitlines():
        found = PLACEHOLDER.match(line)
        if found is not None:
            name = found["name"]
            if name not in tables:
                raise LuaError(f"no table to render for placeholder {name!r}")
            used.add(name)
            line = f"local {found['var']} = {tables[name]}"
        lines.append(line)
    unused = sorted(set(tables) - used)
    if unused:
        raise LuaError(f"no placeholder for {', '.join(unused)}")
    return "\n".join(lines) + "\n"


def source(folder: str, name: str) -> str:
    """The text of ``{folder}/{name}.lua`` as shipped."""
    return resources.files(__name__).joinpath(folder, f"{name}.lua").read_text("utf-8")


def script_names(folder: str) -> tuple[str, ...]:
    """The scripts of a folder (its prelude is not one), sorted."""
    entries = resources.files(__name__).joinpath(folder).iterdir()
    names = [e.name for e in entries if e.name.endswith(".lua") and e.name != PRELUDE]
    return tuple(sorted(n.removesuffix(".lua") for n in names))


def has_prelude(folder: str) -> bool:
    return resources.files(__name__).joinpath(folder, PRELUDE).is_file()


def rendered(folder: str, name: str, tables: Mapping[str, str]) -> str:
    """A script's full text as Redis runs it: the folder's prelude (if any), then the script,
    rendered with ``tables``."""
    prelude = source(folder, PRELUDE.removesuffix(".lua")) if has_prelude(folder) else ""
    return render(prelude + source(folder, name), tables)


@dataclass(frozen=True)
class Script:
    """One rendered script; call it with the client (or pipeline) to run it on."""

    name: str
    text: str
    _runner: Any

    @classmethod
    def of(cls, name: str, text: str) -> Script:
        # From bytes, redis-py's script needs no client to compute its SHA-1; every call below
        # names the client, so the one it was "registered" with (none) is never used.
        return cls(name, text, AsyncScript(None, text.encode("utf-8")))

    @property
    def sha(self) -> str:
        return str(self._runner.sha)

    async def __call__(
        self, redis: aioredis.Redis, args: Sequence[Any], keys: Sequence[str] = ()
    ) -> Any:
        return await self._runner(keys=list(keys), args=list(args), client=redis)


def load(folder: str, tables: Mapping[str, str] | None = None) -> dict[str, Script]:
    """Every script of ``folder``, rendered with ``tables``, by name (callers cache this)."""
    return {
        name: Script.of(name, rendered(folder, name, tables or {})) for name in script_names(folder)
    }
