"""The Lua scripts as shipped: every file renders, compiles in a real Redis, is read once per
process and runs on any client, in a pipeline too, even after Redis forgot it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from hub import lua
from hub.documents import store as documents
from hub.intake import queue as intake
from hub.sessions import dispatch
from hub.sessions.dispatch import Dispatch
from hub.sessions.router import load_rules

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {
    "dispatch": dispatch.scripts,
    "intake": intake.scripts,
    "documents": documents.scripts,
}


def test_a_table_is_a_lua_literal_of_key_like_text() -> None:
    assert lua.table({"session": "mdg:session:", "a:b": "c"}) == (
        "{session='mdg:session:', [\"a:b\"]='c'}"
    )
    for bad in ({"k": "it's"}, {"k": "a\nb"}, {"k]": "v"}, {"k": "a\\"}):
        with pytest.raises(lua.LuaError):
            lua.table(bad)


def test_render_fills_each_placeholder_line_and_nothing_else() -> None:
    text = "local K = {}  -- rendered: keys\nreturn string.format('%.6f', 1) -- %(table)s\n"
    assert lua.render(text, {"keys": "{a='b'}"}) == (
        "local K = {a='b'}\nreturn string.format('%.6f', 1) -- %(table)s\n"
    )
    with pytest.raises(lua.LuaError, match="no table"):
        lua.render(text, {})
    with pytest.raises(lua.LuaError, match="no placeholder for extra"):
        lua.render(text, {"keys": "{}", "extra": "{}"})


def test_every_folder_is_shipped_and_loaded() -> None:
    shipped = {p.parent.name for p in (ROOT / "hub" / "lua").rglob("*.lua")}
    assert shipped == set(FOLDERS)
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert data["tool"]["setuptools"]["package-data"]["hub.lua"] == ["*/*.lua"]
    for path in (ROOT / "hub" / "lua").rglob("*.lua"):
        assert path.relative_to(ROOT / "hub" / "lua").match("*/*.lua"), path
    for folder, load in FOLDERS.items():
        files = {p.stem for p in (ROOT / "hub" / "lua" / folder).glob("*.lua")} - {"prelude"}
        assert set(load()) == files, folder
        for script in load().values():
            lines = script.text.splitlines()
            assert not [line for line in lines if lua.PLACEHOLDER.match(line)], script.name


async def test_scripts_are_read_once_and_shared(redis_url: str) -> None:
    assert dispatch.scripts() is dispatch.scripts()
    assert intake.scripts() is intake.scripts()
    clients = [aioredis.from_url(redis_url, decode_responses=True) for _ in range(2)]
    try:
        a, b = (Dispatch(c, load_rules()) for c in clients)
        assert a.scripts is b.scripts
    finally:
        for client in clients:
            await client.aclose()


async def test_every_script_compiles_rendered_and_as_written(redis_url: str) -> None:
    """SCRIPT LOAD compiles without running: a syntax error anywhere fails here. The files are
    valid Lua as written too (the placeholders are empty tables), as :mod:`hub.lua` promises."""
    redis = aioredis.from_url(redis_url, decode_responses=True)
    try:
        for folder, load in FOLDERS.items():
            for name, script in load().items():
                assert await redis.script_load(script.text) == script.sha, (folder, name)
                prelude = lua.source(folder, "prelude") if lua.has_prelude(folder) else ""
                await redis.script_load(prelude + lua.source(folder, name))
    finally:
        await redis.aclose()


async def test_a_script_runs_on_any_client_after_redis_forgot_it(redis_url: str) -> None:
    release = documents.scripts()["release"]
    first = aioredis.from_url(redis_url, decode_responses=True)
    second = aioredis.from_url(redis_url, decode_responses=True)
    try:
        await first.set("lock", "me")
        await first.script_flush()
        assert await release(second, ["someone else"], keys=["lock"]) == 0
        await first.script_flush()
        async with first.pipeline(transaction=False) as pipe:
            await release(pipe, ["me"], keys=["lock"])
            pipe.exists("lock")
            assert await pipe.execute() == [1, 0]
    finally:
        await first.aclose()
        await second.aclose()
