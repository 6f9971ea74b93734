"""Enrolling a terminal with a one-time code, so its device token never passes through a person.

An administrator runs ``madoguchi terminals enroll TERMINAL_ID --branch B --name N``, which stores
a short code (``7KQ2-M9XD``) for the terminal and prints it. Someone at the branch types the code
into the terminal, which sends it to ``POST /api/terminals/enroll`` and receives its device token
in the answer. The code works once, for ``ttl_s`` seconds (10 minutes by default). (The terminal
agent does not ask for a code yet; see docs/operations.md.)

Codes are 8 symbols of Crockford's base 32 (40 bits): no I, L, O or U, and when reading a typed
code ``O`` counts as ``0`` and ``I``/``L`` as ``1``; case, spaces and hyphens do not matter.
Redis holds only the code's SHA-256, under a TTL, and redeeming deletes it in the same command
that reads it (GETDEL), so of two concurrent attempts exactly one gets the token. Attempts are
counted per client address (10 a minute by default); beyond that every attempt, right or wrong,
is refused, which keeps guessing hopeless.

Keys (named by :mod:`hub.redis_keys`):

===================================  ===========================================================
``mdg:enroll_code:{sha256}``         JSON ``{"terminal_id","branch_id","name"}`` (expires)
``mdg:enroll_attempts:{address}``    redemption attempts from that address in this window
===================================  ===========================================================

Re-enrolling a terminal that has a token replaces it: the old token stops working when the new
code is redeemed (see :meth:`hub.sessions.store.Store.set_terminal_token`). The route is in
:mod:`hub.accounts.api`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import unicodedata
from typing import Final

import redis.asyncio as aioredis

from hub import redis_keys
from hub.errors import HubError
from hub.sessions.store import Store

log = logging.getLogger(__name__)

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base 32
CODE_LENGTH: Final = 8
TERMINAL_ID: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
BRANCH_ID: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAX_NAME: Final = 64
MAX_TTL_S: Final = 7 * 24 * 3600
MAX_ATTEMPTS: Final = 10
"""Redemption attempts allowed per client address in each :data:`ATTEMPT_WINDOW_S`."""
ATTEMPT_WINDOW_S: Final = 60

_TYPED: Final = str.maketrans({"O": "0", "I": "1", "L": "1"})


class EnrollmentError(HubError):
    """Enrollment refused: ``code`` for machines, the message for people.

    Codes: ``bad_request`` (not ``{"code"}``), ``bad_code`` (unknown, used, expired or
    malformed; 403), ``too_many_attempts`` (429, with ``Retry-After``), ``bad_terminal_id``,
    ``bad_branch``, ``bad_name``, ``bad_ttl``; any other is 400.
    """

    def __init__(self, code: str, message: str, retry_after_s: int = 0) -> None:
        super().__init__(
            code,
            message,
            status=_STATUS.get(code, 400),
            headers={"Retry-After": str(retry_after_s)} if retry_after_s else None,
        )
        self.retry_after_s = retry_after_s


_STATUS: Final = {"bad_request": 400, "bad_code": 403, "too_many_attempts": 429}


def _code_key(normalized: str) -> str:
    return redis_keys.enroll_code(hashlib.sha256(normalized.encode()).hexdigest())


def normalize_code(typed: str) -> str | None:
    """The canonical 8 symbols of a code as a person typed it; None when it cannot be one."""
    if len(typed) > 32:
        return None
    symbols = "".join(c for c in typed.upper() if c not in "- \t").translate(_TYPED)
    if len(symbols) != CODE_LENGTH or any(c not in ALPHABET for c in symbols):
        return None
    return symbols


def format_code(normalized: str) -> str:
    """``7KQ2M9XD`` → ``7KQ2-M9XD``, for reading aloud and typing."""
    half = len(normalized) // 2
    return f"{normalized[:half]}-{normalized[half:]}"


def _check_terminal(terminal_id: str, branch_id: str, name: str, ttl_s: int) -> str:
    if not TERMINAL_ID.fullmatch(terminal_id):
        raise EnrollmentError(
            "bad_terminal_id",
            f"terminal id {terminal_id!r}: 1-32 of a-z 0-9 _ -, starting with a-z or 0-9",
        )
    if not BRANCH_ID.fullmatch(branch_id):
        raise EnrollmentError(
            "bad_branch", f"branch id {branch_id!r}: 1-32 of a-z 0-9 _ -, starting with a-z or 0-9"
        )
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(unicodedata.category(c) == "Cc" for c in name):
        raise EnrollmentError(
            "bad_name", f"a terminal name has 1-{MAX_NAME} characters, no control characters"
        )
    if not 1 <= ttl_s <= MAX_TTL_S:
        raise EnrollmentError("bad_ttl", f"a code lives 1-{MAX_TTL_S} seconds")
    return name


async def create_enrollment_code(
    redis: aioredis.Redis, terminal_id: str, branch_id: str, name: str, ttl_s: int = 600
) -> str:
    """A new one-time code (``ABCD-EFGH``) that enrolls this terminal when redeemed within
    ``ttl_s`` seconds."""
    name = _check_terminal(terminal_id, branch_id, name, ttl_s)
    record = json.dumps({"terminal_id": terminal_id, "branch_id": branch_id, "name": name})
    while True:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        if await redis.set(_code_key(code), record, ex=ttl_s, nx=True):
            break  # else another live code drew the same symbols (1 in 2**40): draw again
    log.info(
        "enrollment code issued for terminal %s (branch %s, %d s)", terminal_id, branch_id, ttl_s
    )
    return format_code(code)


async def count_attempt(
    redis: aioredis.Redis,
    client: str,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    window_s: int = ATTEMPT_WINDOW_S,
) -> None:
    """Count one redemption attempt from ``client``; EnrollmentError ``too_many_attempts`` when
    it is over the limit for the current window."""
    key = redis_keys.enroll_attempts(client[:64])
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, window_s, nx=True)
        pipe.ttl(key)
        attempts, _, ttl = await pipe.execute()
    if int(attempts) > max_attempts:
        log.warning("enrollment attempts over the limit from %s", client)
        retry = max(int(ttl), 1)
        raise EnrollmentError(
            "too_many_attempts", f"too many attempts; try again in {retry} s", retry_after_s=retry
        )


def _parse_record(stored: str) -> tuple[str, str, str] | None:
    try:
        record = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    terminal_id, branch_id, name = (record.get(k) for k in ("terminal_id", "branch_id", "name"))
    if isinstance(terminal_id, str) and isinstance(branch_id, str) and isinstance(name, str):
        return terminal_id, branch_id, name
    return None


async def redeem_enrollment_code(
    redis: aioredis.Redis,
    code: str,
    *,
    client: str | None = None,
    max_attempts: int = MAX_ATTEMPTS,
    window_s: int = ATTEMPT_WINDOW_S,
) -> tuple[str, str]:
    """Consume the code and enroll its terminal: ``(terminal_id, device token)``.

    With ``client`` (the caller's address) the attempt is counted first and refused with
    ``too_many_attempts`` over the limit. A code that is unknown, used, expired or malformed:
    ``bad_code``; nothing says which.
    """
    if client is not None:
        await count_attempt(redis, client, max_attempts=max_attempts, window_s=window_s)
    normalized = normalize_code(code)
    stored = await redis.getdel(_code_key(normalized)) if normalized else None
    if stored is None:
        raise EnrollmentError("bad_code", "this code is unknown, used or expired")
    target = _parse_record(stored)
    if target is None:
        log.error("an enrollment code's record is malformed; the code is discarded")
        raise EnrollmentError("bad_code", "this code is unknown, used or expired")
    terminal_id, branch_id, name = target
    token = await Store(redis).enroll_terminal(terminal_id, branch_id, name)
    log.info("terminal %s enrolled (branch %s)", terminal_id, branch_id)
    return terminal_id, token
