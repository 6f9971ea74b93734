"""Terminal enrollment with one-time codes: the functions and the HTTP route, on a real Redis."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given
from hypothesis import strategies as st

from hub.accounts.enrollment import (
    ALPHABET,
    EnrollmentError,
    create_enrollment_code,
    format_code,
    normalize_code,
    redeem_enrollment_code,
)
from hub.app import create_app
from hub.config import HubConfig
from hub.sessions.store import Store

CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")
ENROLL = "/api/terminals/enroll"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def hub(redis_url: str, tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    config = HubConfig(redis_url=redis_url, data_dir=tmp_path, hub_id="hub-test")
    client = TestClient(TestServer(create_app(config)))
    await client.start_server()
    yield client
    await client.close()


# -- codes (pure) ------------------------------------------------------------------------------


@given(st.text(alphabet=ALPHABET, min_size=8, max_size=8))
def test_a_printed_code_reads_back_however_it_is_typed(symbols: str) -> None:
    printed = format_code(symbols)
    assert CODE.fullmatch(printed)
    assert normalize_code(printed) == symbols
    assert normalize_code(printed.lower().replace("-", " ")) == symbols
    assert normalize_code(symbols.replace("0", "O").replace("1", "l")) == symbols


@pytest.mark.parametrize(
    "typed", ["", "ABCD-EFG", "ABCD-EFGHJ", "ABCD-EFGU", "ABCD_EFGH", "x" * 40]
)
def test_what_cannot_be_a_code_is_not_one(typed: str) -> None:
    assert normalize_code(typed) is None


# -- issuing and redeeming -----------------------------------------------------------------------


async def test_a_code_enrolls_its_terminal_once(redis: aioredis.Redis) -> None:
    code = await create_enrollment_code(redis, "kita-01", "kita", "北支所 1番窓口")
    assert CODE.fullmatch(code)
    # Redis holds the code's hash, never the code.
    keys = await redis.keys("*")
    assert len(keys) == 1 and keys[0].startswith("mdg:enroll_code:")
    assert code.replace("-", "") not in keys[0] + await redis.get(keys[0])
    assert 590 <= await redis.ttl(keys[0]) <= 600

    terminal_id, token = await redeem_enrollment_code(redis, code.lower().replace("-", ""))
    assert terminal_id == "kita-01"
    assert await Store(redis).terminal_for_token(token) == "kita-01"
    assert await redis.hget("mdg:terminal:kita-01", "name") == "北支所 1番窓口"
    assert await redis.hget("mdg:terminal:kita-01", "branch_id") == "kita"
    with pytest.raises(EnrollmentError) as info:
        await redeem_enrollment_code(redis, code)
    assert info.value.code == "bad_code"


async def test_of_concurrent_redemptions_exactly_one_wins(redis: aioredis.Redis) -> None:
    code = await create_enrollment_code(redis, "kita-01", "kita", "北支所 1番窓口")
    results = await asyncio.gather(
        *(redeem_enrollment_code(redis, code) for _ in range(8)), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, tuple)]
    lost = [r for r in results if isinstance(r, EnrollmentError) and r.code == "bad_code"]
    assert len(won) == 1 and len(lost) == 7


async def test_an_expired_code_is_refused(redis: aioredis.Redis) -> None:
    code = await create_enrollment_code(redis, "kita-01", "kita", "北支所 1番窓口", ttl_s=1)
    await asyncio.sleep(1.3)
    with pytest.raises(EnrollmentError) as info:
        await redeem_enrollment_code(redis, code)
    assert info.value.code == "bad_code"
    assert await redis.exists("mdg:terminal:kita-01") == 0


@pytest.mark.parametrize("code", ["ABCD-EFGH", "not a code", ""])
async def test_unknown_codes_are_refused_alike(redis: aioredis.Redis, code: str) -> None:
    await create_enrollment_code(redis, "kita-01", "kita", "北支所 1番窓口")
    with pytest.raises(EnrollmentError) as info:
        await redeem_enrollment_code(redis, code)
    assert info.value.code == "bad_code"
    assert str(info.value) == "this code is unknown, used or expired"


async def test_re_enrolling_a_terminal_retires_its_old_token(redis: aioredis.Redis) -> None:
    store = Store(redis)
    old = await store.enroll_terminal("kita-01", "kita", "北支所 1番窓口")
    code = await create_enrollment_code(redis, "kita-01", "kita", "北支所 1番窓口")
    assert await store.terminal_for_token(old) == "kita-01"  # until the code is used
    _, new = await redeem_enrollment_code(redis, code)
    assert await store.terminal_for_token(old) is None
    assert await store.terminal_for_token(new) == "kita-01"


async def test_attempts_are_limited_per_client(redis: aioredis.Redis) -> None:
    code = await create_enrollment_code(redis, "kita-01", "kita", "北支所 1番窓口")
    for _ in range(3):
        with pytest.raises(EnrollmentError) as info:
            await redeem_enrollment_code(redis, "ABCD-EFGH", client="10.0.0.9", max_attempts=3)
        assert info.value.code == "bad_code"
    # Over the limit even the right code is refused, and it is not used up.
    with pytest.raises(EnrollmentError) as info:
        await redeem_enrollment_code(redis, code, client="10.0.0.9", max_attempts=3)
    assert info.value.code == "too_many_attempts"
    assert 1 <= info.value.retry_after_s <= 60
    terminal_id, _ = await redeem_enrollment_code(redis, code, client="10.0.0.7", max_attempts=3)
    assert terminal_id == "kita-01"


async def test_the_attempt_window_passes(redis: aioredis.Redis) -> None:
    for _ in range(2):
        with pytest.raises(EnrollmentError):
            await redeem_enrollment_code(redis, "x", client="c", max_attempts=2, window_s=1)
    with pytest.raises(EnrollmentError) as info:
        await redeem_enrollment_code(redis, "x", client="c", max_attempts=2, window_s=1)
    assert info.value.code == "too_many_attempts"
    await asyncio.sleep(1.3)
    with pytest.raises(EnrollmentError) as info:
        await redeem_enrollment_code(redis, "x", client="c", max_attempts=2, window_s=1)
    assert info.value.code == "bad_code"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("Kita 01", "kita", "北支所", 600), "bad_terminal_id"),
        (("", "kita", "北支所", 600), "bad_terminal_id"),
        (("kita-01", "", "北支所", 600), "bad_branch"),
        (("kita-01", "kita", " ", 600), "bad_name"),
        (("kita-01", "kita", "x" * 65, 600), "bad_name"),
        (("kita-01", "kita", "北支所", 0), "bad_ttl"),
    ],
)
async def test_bad_terminals_get_no_code(
    redis: aioredis.Redis, args: tuple[str, str, str, int], code: str
) -> None:
    with pytest.raises(EnrollmentError) as info:
        await create_enrollment_code(redis, *args)
    assert info.value.code == code
    assert await redis.keys("*") == []


# -- the HTTP route ------------------------------------------------------------------------------


async def test_a_terminal_enrolls_over_http_without_an_origin(
    hub: TestClient[Any, Any], redis: aioredis.Redis
) -> None:
    code = await create_enrollment_code(redis, "kita-01", "kita", "北支所 1番窓口")
    res = await hub.post(ENROLL, json={"code": code})
    assert res.status == 200, await res.text()
    body = await res.json()
    assert body["terminal_id"] == "kita-01" and set(body) == {"terminal_id", "token"}
    assert await Store(redis).terminal_for_token(body["token"]) == "kita-01"
    assert res.headers["Cache-Control"] == "no-store"
    assert "Content-Security-Policy" in res.headers

    again = await hub.post(ENROLL, json={"code": code})
    assert again.status == 403
    assert (await again.json())["error"] == "bad_code"


async def test_the_origin_exemption_is_for_enrollment_only(hub: TestClient[Any, Any]) -> None:
    res = await hub.post("/api/login", json={"username": "x", "password": "y"})
    assert res.status == 403
    assert (await res.json())["error"] == "cross_origin"


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"[1]", b'{"code": 12345678}', b"{}", b'{"code": "' + b"A" * 2000 + b'"}'],
)
async def test_malformed_requests_get_400(hub: TestClient[Any, Any], body: bytes) -> None:
    res = await hub.post(ENROLL, data=body, headers={"Content-Type": "application/json"})
    assert res.status == 400
    reply = await res.json()
    assert reply["error"] == "bad_request" and reply["message"]


async def test_guessing_over_http_is_cut_off_with_429(
    hub: TestClient[Any, Any], redis: aioredis.Redis
) -> None:
    code = await create_enrollment_code(redis, "kita-01", "kita", "北支所 1番窓口")
    statuses = [(await hub.post(ENROLL, json={"code": "ABCD-EFGH"})).status for _ in range(10)]
    assert statuses == [403] * 10
    res = await hub.post(ENROLL, json={"code": code})
    assert res.status == 429
    assert (await res.json())["error"] == "too_many_attempts"
    assert 1 <= int(res.headers["Retry-After"]) <= 60
    assert await redis.exists("mdg:terminal:kita-01") == 0
