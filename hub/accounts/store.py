"""Staff accounts and logins.

Passwords are hashed with Argon2id (memory-hard). A login is a random token in an HttpOnly,
SameSite=Strict cookie; Redis maps it to the username and forgets it after the login TTL.
Hashing runs in a worker thread: it is deliberately slow and must not stall the event loop.

Keys (named by :mod:`hub.redis_keys`; the routing code reads the account fields: keep their
names and encodings):

==============================  ===============================================================
``mdg:account:{username}``      hash: ``password_hash``, ``role``, ``display_name``,
                                ``disabled`` ("1"/"0"), ``branch_id`` ("" when none),
                                ``skills`` (JSON list of skill keys from :mod:`hub.catalog`),
                                ``languages`` (JSON list of language tags, e.g. ``["en","zh"]``),
                                ``hearing_support`` ("1"/"0")
``mdg:login:{token}``           username behind a login cookie (expires)
``mdg:logins_of:{username}``    set of that user's login tokens, so disabling ends them all;
                                expired tokens are pruned when the user next logs in
==============================  ===============================================================
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, TypedDict

import redis.asyncio as aioredis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.exceptions import WatchError

from hub import redis_keys
from hub.catalog import load_skills

log = logging.getLogger(__name__)

ROLES: Final = frozenset({"specialist", "branch_staff", "supervisor", "backoffice", "admin"})

USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
BRANCH_ID: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
LANGUAGE: Final = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?")
"""A language tag as interpreters are listed: ``en``, ``zh``, ``pt-BR``."""

MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 256  # what POST /api/login accepts
MAX_DISPLAY_NAME: Final = 64

_hasher = PasswordHasher()
# A hash of nothing in particular, verified against when the user does not exist, so that a
# wrong username costs as much time as a wrong password.
_DUMMY_HASH: Final = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    display_name: str
    disabled: bool = False
    branch_id: str = ""
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    hearing_support: bool = False


class AccountProfile(TypedDict, total=False):
    """What an account says about whom its holder can serve; the keyword arguments of
    :func:`add_account` beyond the essentials."""

    branch_id: str
    skills: Iterable[str]
    languages: Iterable[str]
    hearing_support: bool


class AccountError(Exception):
    """An account operation refused: ``code`` for machines, the message for people.

    Codes: ``bad_username``, ``unknown_role``, ``weak_password``, ``bad_password``,
    ``bad_display_name``, ``branch_required``, ``bad_branch``, ``unknown_skill``,
    ``bad_language``, ``account_exists``, ``no_such_account``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# -- validation and encoding (pure) ------------------------------------------------------------


def _names(values: Iterable[str], what: str) -> tuple[str, ...]:
    if isinstance(values, str):  # "zei" would otherwise become ("z", "e", "i")
        raise AccountError(f"bad_{what}", f"{what}s are a list, not the string {values!r}")
    return tuple(dict.fromkeys(values))  # in order, without repeats


def validate_account(
    username: str,
    role: str,
    display_name: str,
    *,
    branch_id: str = "",
    skills: Iterable[str] = (),
    languages: Iterable[str] = (),
    hearing_support: bool = False,
) -> Account:
    """The account these values describe, or AccountError saying what is wrong."""
    if not USERNAME.fullmatch(username):
        raise AccountError(
            "bad_username",
            f"username {username!r}: 1-32 of a-z 0-9 _ . -, starting with a letter or digit",
        )
    if role not in ROLES:
        raise AccountError(
            "unknown_role", f"unknown role {role!r}; one of {', '.join(sorted(ROLES))}"
        )
    display_name = display_name.strip()
    if not display_name or len(display_name) > MAX_DISPLAY_NAME:
        raise AccountError(
            "bad_display_name", f"a display name has 1-{MAX_DISPLAY_NAME} characters"
        )
    if any(unicodedata.category(c) == "Cc" for c in display_name):
        raise AccountError("bad_display_name", "a display name has no control characters")
    if branch_id and not BRANCH_ID.fullmatch(branch_id):
        raise AccountError(
            "bad_branch", f"branch id {branch_id!r}: 1-32 of a-z 0-9 _ -, starting with a-z or 0-9"
        )
    if role == "branch_staff" and not branch_id:
        raise AccountError("branch_required", "branch staff need a branch id")
    skill_keys = _names(skills, "skill")
    known = load_skills()
    unknown = [s for s in skill_keys if s not in known]
    if unknown:
        raise AccountError(
            "unknown_skill", f"unknown skill {unknown[0]!r}; one of {', '.join(known)}"
        )
    language_tags = _names(languages, "language")
    bad = [t for t in language_tags if not LANGUAGE.fullmatch(t)]
    if bad:
        raise AccountError("bad_language", f"language {bad[0]!r} is not a tag like en, zh, pt-BR")
    return Account(
        username,
        role,
        display_name,
        branch_id=branch_id,
        skills=skill_keys,
        languages=language_tags,
        hearing_support=hearing_support,
    )


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError("weak_password", f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError("bad_password", f"a password has at most {MAX_PASSWORD} characters")


def _encode(account: Account) -> dict[str, str]:
    return {
        "role": account.role,
        "display_name": account.display_name,
        "disabled": "1" if account.disabled else "0",
        "branch_id": account.branch_id,
        "skills": json.dumps(list(account.skills)),
        "languages": json.dumps(list(account.languages)),
        "hearing_support": "1" if account.hearing_support else "0",
    }


def _string_list(username: str, raw: Mapping[str, str], field: str) -> tuple[str, ...]:
    text = raw.get(field) or "[]"
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        log.warning("account %s: field %s is not a JSON list of strings; ignored", username, field)
        return ()
    return tuple(value)


def _decode(username: str, raw: Mapping[str, str]) -> Account | None:
    """The account in a stored hash; None when there is none. Accounts stored before a field
    existed read as its default."""
    role = raw.get("role")
    if not role:
        return None
    return Account(
        username,
        role,
        raw.get("display_name") or username,
        disabled=raw.get("disabled") == "1",
        branch_id=raw.get("branch_id", ""),
        skills=_string_list(username, raw, "skills"),
        languages=_string_list(username, raw, "languages"),
        hearing_support=raw.get("hearing_support") == "1",
    )


# -- accounts ----------------------------------------------------------------------------------


async def add_account(
    redis: aioredis.Redis,
    username: str,
    password: str,
    role: str,
    display_name: str,
    *,
    branch_id: str = "",
    skills: Iterable[str] = (),
    languages: Iterable[str] = (),
    hearing_support: bool = False,
    replace: bool = True,
) -> Account:
    """Create the account, enabled. An existing one is overwritten (its open logins end, as its
    password may have changed) unless ``replace`` is false: then AccountError ``account_exists``.
    """
    account = validate_account(
        username,
        role,
        display_name,
        branch_id=branch_id,
        skills=skills,
        languages=languages,
        hearing_support=hearing_support,
    )
    _check_password(password)
    key, logins = redis_keys.account(username), redis_keys.logins_of(username)
    if not replace and await redis.exists(key):
        raise _exists(username)
    digest = await asyncio.to_thread(_hasher.hash, password)
    async with redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key, logins)
                if not replace and await pipe.exists(key):
                    raise _exists(username)
                tokens = await pipe.smembers(logins)
                pipe.multi()
                pipe.hset(key, mapping={"password_hash": digest, **_encode(account)})
                for token in tokens:
                    pipe.delete(redis_keys.login(token))
                pipe.delete(logins)
                await pipe.execute()
                break
            except WatchError:
                continue
    log.info("account %s saved (%s)", username, role)
    return account


def _exists(username: str) -> AccountError:
    return AccountError("account_exists", f"account {username!r} exists already")


async def get_account(redis: aioredis.Redis, username: str) -> Account | None:
    if not username or len(username) > 64:
        return None
    return _decode(username, await redis.hgetall(redis_keys.account(username)))


async def list_accounts(redis: aioredis.Redis) -> list[Account]:
    """Every account, by username. Uses SCAN, so it does not block Redis on a big keyspace."""
    usernames: set[str] = set()
    async for key in redis.scan_iter(match=redis_keys.accounts_pattern(), count=500, _type="HASH"):
        username = redis_keys.username_of(key)
        if username and ":" not in username:
            usernames.add(username)
    ordered = sorted(usernames)
    async with redis.pipeline(transaction=False) as pipe:
        for username in ordered:
            pipe.hgetall(redis_keys.account(username))
        raws = await pipe.execute()
    return [a for u, raw in zip(ordered, raws, strict=True) if (a := _decode(u, raw)) is not None]


async def set_disabled(redis: aioredis.Redis, username: str, disabled: bool) -> int:
    """Disable or enable the account. Disabling ends its open logins; returns how many ended.

    Raises AccountError ``no_such_account``.
    """
    key, logins = redis_keys.account(username), redis_keys.logins_of(username)
    async with redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key, logins)
                if not username or len(username) > 64 or not await pipe.hexists(key, "role"):
                    raise AccountError("no_such_account", f"no account {username!r}")
                tokens = sorted(await pipe.smembers(logins)) if disabled else []
                pipe.multi()
                pipe.hset(key, "disabled", "1" if disabled else "0")
                for token in tokens:
                    pipe.delete(redis_keys.login(token))
                if disabled:
                    pipe.delete(logins)
                results = await pipe.execute()
                break
            except WatchError:
                continue
    ended = sum(int(n) for n in results[1 : 1 + len(tokens)])
    log.info("account %s %s", username, "disabled" if disabled else "enabled")
    return ended


async def verify_password(redis: aioredis.Redis, username: str, password: str) -> Account | None:
    """The account when the password is right and the account enabled, else None."""
    raw = await redis.hgetall(redis_keys.account(username)) if len(username) <= 64 else {}
    digest = raw.get("password_hash", _DUMMY_HASH)
    try:
        await asyncio.to_thread(_hasher.verify, digest, password)
    except (VerificationError, InvalidHashError):
        return None
    account = _decode(username, raw)
    if account is None or account.disabled:
        return None
    return account


# -- logins ------------------------------------------------------------------------------------


async def open_login(redis: aioredis.Redis, username: str, ttl_s: int) -> str:
    token = secrets.token_urlsafe(32)
    logins = redis_keys.logins_of(username)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(redis_keys.login(token), username, ex=ttl_s)
        pipe.sadd(logins, token)
        pipe.smembers(logins)
        *_, members = await pipe.execute()
    others = sorted(set(members) - {token})
    if others:  # forget logins that expired since, so the set stays as small as the live ones
        async with redis.pipeline(transaction=False) as pipe:
            for other in others:
                pipe.exists(redis_keys.login(other))
            alive = await pipe.execute()
        expired = [t for t, n in zip(others, alive, strict=True) if not n]
        if expired:
            await redis.srem(logins, *expired)
    return token


async def account_for_login(redis: aioredis.Redis, token: str, ttl_s: int) -> Account | None:
    """The account behind a login cookie, refreshing its expiry; None when gone or disabled."""
    if not token or len(token) > 128:
        return None
    username = await redis.getex(redis_keys.login(token), ex=ttl_s)
    if username is None:
        return None
    account = await get_account(redis, username)
    if account is None or account.disabled:
        return None
    return account


async def close_login(redis: aioredis.Redis, token: str) -> None:
    if not token or len(token) > 128:
        return
    username = await redis.getdel(redis_keys.login(token))
    if username is not None:
        await redis.srem(redis_keys.logins_of(username), token)
