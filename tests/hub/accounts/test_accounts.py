"""Accounts, logins and the skill catalog, against a real Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from hub.accounts.store import (
    Account,
    AccountError,
    account_for_login,
    add_account,
    close_login,
    get_account,
    list_accounts,
    open_login,
    set_disabled,
    verify_password,
)
from hub.catalog import CatalogError, Skill, load_skills, parse_skills
from hub.sessions.store import Store
from madoguchi.local_deployment import DEMO_PASSWORD, seed_demo

PASSWORD = "correct horse battery"
TTL = 3600


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


# -- the catalog ---------------------------------------------------------------------------------


def test_the_skill_catalog_has_the_counters_routing_needs() -> None:
    skills = load_skills()
    expected = {
        "juumin": "住民記録",
        "zei": "税証明",
        "kokuho": "国保年金",
        "fukushi": "福祉",
        "kosodate": "子育て",
        "kaigo": "介護",
    }
    assert {k: skills[k].ja for k in expected} == expected
    assert all(isinstance(s, Skill) and s.key == k and s.en for k, s in skills.items())
    skills.clear()  # a caller's copy: the catalog itself is unchanged
    assert "zei" in load_skills()


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("{", "not JSON"),
        ('{"skills": {}}', "expected"),
        ('{"skills": [{"key": "zei", "ja": "税"}]}', "key, ja and en"),
        ('{"skills": [{"key": "Zei", "ja": "税", "en": "Tax"}]}', "is not"),
        ('{"skills": [{"key": "zei", "ja": "", "en": "Tax"}]}', "non-empty"),
        (
            json.dumps({"skills": [{"key": "zei", "ja": "税", "en": "T"}] * 2}),
            "duplicate",
        ),
        ('{"skills": []}', "no skills"),
    ],
)
def test_a_malformed_catalog_is_refused_naming_the_entry(text: str, complaint: str) -> None:
    with pytest.raises(CatalogError, match=complaint) as info:
        parse_skills(text, "test.json")
    assert str(info.value).startswith("test.json")


# -- accounts ------------------------------------------------------------------------------------


async def test_an_account_keeps_its_profile_in_the_fields_routing_reads(
    redis: aioredis.Redis,
) -> None:
    added = await add_account(
        redis,
        "suzuki",
        PASSWORD,
        "specialist",
        "鈴木 一郎",
        skills=["juumin", "zei", "juumin"],
        languages=["en", "zh"],
        hearing_support=True,
    )
    assert added == Account(
        "suzuki",
        "specialist",
        "鈴木 一郎",
        skills=("juumin", "zei"),
        languages=("en", "zh"),
        hearing_support=True,
    )
    raw = await redis.hgetall("mdg:account:suzuki")
    assert raw["branch_id"] == ""
    assert json.loads(raw["skills"]) == ["juumin", "zei"]
    assert json.loads(raw["languages"]) == ["en", "zh"]
    assert raw["hearing_support"] == "1" and raw["disabled"] == "0"
    assert PASSWORD not in raw["password_hash"]
    assert await get_account(redis, "suzuki") == added
    assert await verify_password(redis, "suzuki", PASSWORD) == added
    assert await verify_password(redis, "suzuki", PASSWORD + "x") is None

    staff = await add_account(redis, "sato", PASSWORD, "branch_staff", "佐藤", branch_id="kita")
    assert (await redis.hgetall("mdg:account:sato"))["hearing_support"] == "0"
    assert await get_account(redis, "sato") == staff
    assert staff.branch_id == "kita" and staff.skills == () and staff.languages == ()


async def test_an_account_stored_before_profiles_reads_with_defaults(
    redis: aioredis.Redis,
) -> None:
    await redis.hset(
        "mdg:account:old",
        mapping={"password_hash": "x", "role": "specialist", "display_name": "旧", "disabled": "0"},
    )
    await redis.hset("mdg:account:broken", mapping={"role": "specialist", "skills": "{nope"})
    assert await get_account(redis, "old") == Account("old", "specialist", "旧")
    broken = await get_account(redis, "broken")
    assert broken is not None and broken.skills == ()
    assert await get_account(redis, "nobody") is None
    assert await get_account(redis, "x" * 65) is None


@pytest.mark.parametrize(
    ("args", "kwargs", "code"),
    [
        (("Suzuki", PASSWORD, "specialist", "S"), {}, "bad_username"),
        (("-suzuki", PASSWORD, "specialist", "S"), {}, "bad_username"),
        (("a" * 33, PASSWORD, "specialist", "S"), {}, "bad_username"),
        (("su zuki", PASSWORD, "specialist", "S"), {}, "bad_username"),
        (("mdg:x", PASSWORD, "specialist", "S"), {}, "bad_username"),
        (("", PASSWORD, "specialist", "S"), {}, "bad_username"),
        (("suzuki", PASSWORD, "wizard", "S"), {}, "unknown_role"),
        (("suzuki", "short", "specialist", "S"), {}, "weak_password"),
        (("suzuki", "x" * 257, "specialist", "S"), {}, "bad_password"),
        (("suzuki", PASSWORD, "specialist", "  "), {}, "bad_display_name"),
        (("suzuki", PASSWORD, "specialist", "a\nb"), {}, "bad_display_name"),
        (("sato", PASSWORD, "branch_staff", "S"), {}, "branch_required"),
        (("sato", PASSWORD, "branch_staff", "S"), {"branch_id": "Kita!"}, "bad_branch"),
        (("suzuki", PASSWORD, "specialist", "S"), {"skills": ["zei", "magic"]}, "unknown_skill"),
        (("suzuki", PASSWORD, "specialist", "S"), {"skills": "zei"}, "bad_skill"),
        (("suzuki", PASSWORD, "specialist", "S"), {"languages": ["english"]}, "bad_language"),
    ],
)
async def test_bad_accounts_are_refused_with_a_code(
    redis: aioredis.Redis, args: tuple[str, str, str, str], kwargs: dict[str, Any], code: str
) -> None:
    with pytest.raises(AccountError) as info:
        await add_account(redis, *args, **kwargs)
    assert info.value.code == code
    assert str(info.value)
    assert await redis.keys("mdg:account:*") == []


async def test_replacing_an_account_ends_its_logins_and_can_be_refused(
    redis: aioredis.Redis,
) -> None:
    await add_account(redis, "suzuki", PASSWORD, "specialist", "鈴木", skills=["zei"])
    token = await open_login(redis, "suzuki", TTL)
    with pytest.raises(AccountError) as info:
        await add_account(redis, "suzuki", "another password", "admin", "X", replace=False)
    assert info.value.code == "account_exists"
    assert await verify_password(redis, "suzuki", PASSWORD) is not None
    assert await account_for_login(redis, token, TTL) is not None

    await add_account(redis, "suzuki", "another password", "specialist", "鈴木", skills=["kaigo"])
    assert await account_for_login(redis, token, TTL) is None
    assert await verify_password(redis, "suzuki", PASSWORD) is None
    renewed = await verify_password(redis, "suzuki", "another password")
    assert renewed is not None and renewed.skills == ("kaigo",)


async def test_list_accounts_scans_every_account_and_nothing_else(
    redis: aioredis.Redis,
) -> None:
    await add_account(redis, "suzuki", PASSWORD, "specialist", "鈴木", languages=["en"])
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(1200):  # more than one SCAN page
            pipe.hset(f"mdg:account:u{i:04d}", mapping={"role": "specialist", "display_name": "x"})
        pipe.set("mdg:account:stringly", "not a hash")
        pipe.hset("mdg:account:u0001:stats", mapping={"role": "specialist"})
        pipe.hset("mdg:account:norole", mapping={"display_name": "x"})
        pipe.hset("mdg:session:s-1", mapping={"role": "specialist"})
        await pipe.execute()
    accounts = await list_accounts(redis)
    names = [a.username for a in accounts]
    assert len(names) == 1201
    assert names == sorted(names) and names[0] == "suzuki" and names[-1] == "u1199"
    assert accounts[0].languages == ("en",)


async def test_list_accounts_of_an_empty_store(redis: aioredis.Redis) -> None:
    assert await list_accounts(redis) == []


async def test_disabling_ends_every_open_login_and_enabling_does_not_revive_them(
    redis: aioredis.Redis,
) -> None:
    await add_account(redis, "sato", PASSWORD, "branch_staff", "佐藤", branch_id="kita")
    await add_account(redis, "suzuki", PASSWORD, "specialist", "鈴木")
    tokens = [await open_login(redis, "sato", TTL) for _ in range(2)]
    other = await open_login(redis, "suzuki", TTL)
    assert await redis.smembers("mdg:logins_of:sato") == set(tokens)

    assert await set_disabled(redis, "sato", True) == 2
    for token in tokens:
        assert await account_for_login(redis, token, TTL) is None
        assert await redis.exists(f"mdg:login:{token}") == 0
    assert await redis.exists("mdg:logins_of:sato") == 0
    assert await verify_password(redis, "sato", PASSWORD) is None
    sato = await get_account(redis, "sato")
    assert sato is not None and sato.disabled
    assert await account_for_login(redis, other, TTL) is not None  # others are untouched

    assert await set_disabled(redis, "sato", False) == 0
    assert await verify_password(redis, "sato", PASSWORD) is not None
    assert await account_for_login(redis, tokens[0], TTL) is None


async def test_disabling_an_unknown_account_is_refused(redis: aioredis.Redis) -> None:
    for disabled in (True, False):
        with pytest.raises(AccountError) as info:
            await set_disabled(redis, "nobody", disabled)
        assert info.value.code == "no_such_account"
    assert await redis.exists("mdg:account:nobody") == 0


async def test_the_logins_set_forgets_expired_and_closed_logins(redis: aioredis.Redis) -> None:
    await add_account(redis, "suzuki", PASSWORD, "specialist", "鈴木")
    first = await open_login(redis, "suzuki", TTL)
    second = await open_login(redis, "suzuki", TTL)
    await redis.delete(f"mdg:login:{first}")  # as if it expired
    third = await open_login(redis, "suzuki", TTL)
    assert await redis.smembers("mdg:logins_of:suzuki") == {second, third}

    await close_login(redis, second)
    assert await redis.smembers("mdg:logins_of:suzuki") == {third}
    assert await account_for_login(redis, second, TTL) is None
    await close_login(redis, "never-issued")
    assert await account_for_login(redis, third, TTL) is not None


# -- the demo ------------------------------------------------------------------------------------


async def test_the_demo_seeds_specialists_with_skills(
    redis_url: str, redis: aioredis.Redis
) -> None:
    token = await seed_demo(redis_url)
    assert await Store(redis).terminal_for_token(token) == "kita-01"
    suzuki = await verify_password(redis, "suzuki", DEMO_PASSWORD)
    tanaka = await verify_password(redis, "tanaka", DEMO_PASSWORD)
    sato = await get_account(redis, "sato")
    assert suzuki is not None and set(suzuki.skills) == set(load_skills())
    assert suzuki.languages == ("en",)
    assert tanaka is not None and tanaka.role == "specialist"
    assert tanaka.skills == ("zei", "kokuho") and tanaka.display_name.startswith("田中 美咲")
    assert sato is not None and sato.role == "branch_staff" and sato.branch_id == "kita"
    # Seeding again (the demo keeps its Redis between runs) works and changes nothing.
    await seed_demo(redis_url)
    assert await get_account(redis, "tanaka") == tanaka
