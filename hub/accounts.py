"""Staff accounts and logins.

Passwords are hashed with Argon2id (memory-hard). A login is a random token in an HttpOnly,
SameSite=Strict cookie; Redis maps it to the username and forgets it after the login TTL.
Hashing runs in a worker thread: it is deliberately slow and must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from typing import Final

import redis.asyncio as aioredis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES: Final = frozenset({"specialist", "branch_staff", "supervisor", "backoffice", "admin"})

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


class AccountError(Exception):
    code = "account_error"


def _key(username: str) -> str:
    return f"mdg:account:{username}"


async def add_account(
    redis: aioredis.Redis, username: str, password: str, role: str, display_name: str
) -> Account:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; one of {', '.join(sorted(ROLES))}")
    if len(password) < 8:
        raise AccountError("a password has at least 8 characters")
    digest = await asyncio.to_thread(_hasher.hash, password)
    await redis.hset(
        _key(username),
        mapping={
            "password_hash": digest,
            "role": role,
            "display_name": display_name,
            "disabled": "0",
        },
    )
    return Account(username, role, display_name)


async def get_account(redis: aioredis.Redis, username: str) -> Account | None:
    raw = await redis.hgetall(_key(username))
    if not raw:
        return None
    return Account(
        username, raw["role"], raw.get("display_name", username), raw.get("disabled") == "1"
    )


async def verify_password(redis: aioredis.Redis, username: str, password: str) -> Account | None:
    """The account when the password is right and the account enabled, else None."""
    raw = await redis.hgetall(_key(username)) if len(username) <= 64 else {}
    digest = raw.get("password_hash", _DUMMY_HASH)
    try:
        await asyncio.to_thread(_hasher.verify, digest, password)
    except (VerificationError, InvalidHashError):
        return None
    if not raw or raw.get("disabled") == "1":
        return None
    return Account(username, raw["role"], raw.get("display_name", username))


async def open_login(redis: aioredis.Redis, username: str, ttl_s: int) -> str:
    token = secrets.token_urlsafe(32)
    await redis.set(f"mdg:login:{token}", username, ex=ttl_s)
    return token


async def account_for_login(redis: aioredis.Redis, token: str, ttl_s: int) -> Account | None:
    """The account behind a login cookie, refreshing its expiry; None when gone or disabled."""
    if not token or len(token) > 128:
        return None
    key = f"mdg:login:{token}"
    username = await redis.getex(key, ex=ttl_s)
    if username is None:
        return None
    account = await get_account(redis, username)
    if account is None or account.disabled:
        return None
    return account


async def close_login(redis: aioredis.Redis, token: str) -> None:
    await redis.delete(f"mdg:login:{token}")
