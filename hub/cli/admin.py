"""``madoguchi accounts …`` and ``madoguchi terminals …``: administration against the hub's Redis.

Each command takes ``--redis URL`` (or ``MADOGUCHI_REDIS_URL``) and ``--json``. Results go to
stdout; a refusal is one line on stderr (``madoguchi: …``), or with ``--json`` an object
``{"error": code, "message": …}`` on stdout, and the exit status is not zero (1; 2 when the
configuration is missing). Passwords are read from a prompt or stdin and never printed; device
tokens never pass through here: the terminal gets its own by redeeming the printed code.

This module imports the account and enrollment code only when a command runs, so building the
``madoguchi`` parser (as ``madoguchi branch`` on a terminal does) stays cheap.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from hub.accounts.store import Account, AccountProfile

Command = Callable[["aioredis.Redis", argparse.Namespace], Awaitable["Result"]]


class AdminError(Exception):
    """A refusal of this command-line tool itself (not of the account or enrollment code)."""

    def __init__(self, code: str, message: str, exit_status: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.exit_status = exit_status


@dataclass(frozen=True)
class Result:
    """What a command prints: ``data`` under ``--json``, ``text`` otherwise."""

    data: Any
    text: str


# -- parser ------------------------------------------------------------------------------------


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``accounts`` and ``terminals`` to the ``madoguchi`` subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--redis", dest="redis_url", metavar="URL", help="Redis URL (MADOGUCHI_REDIS_URL)"
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")

    accounts = sub.add_parser("accounts", help="manage staff accounts")
    verbs = accounts.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("add", parents=[common], help="add an account (or replace one)")
    p.add_argument("username", help="1-32 of a-z 0-9 _ . -")
    p.add_argument("--role", required=True, help="specialist, branch_staff, supervisor, …")
    p.add_argument(
        "--name",
        required=True,
        dest="display_name",
        metavar="NAME",
        help="display name, e.g. 鈴木 一郎",
    )
    p.add_argument(
        "--branch", default="", dest="branch_id", metavar="BRANCH", help="branch id (branch staff)"
    )
    p.add_argument(
        "--skills", default="", metavar="KEYS", help="comma-separated skill keys, e.g. juumin,zei"
    )
    p.add_argument(
        "--languages", default="", metavar="LANGS", help="comma-separated languages, e.g. en,zh"
    )
    p.add_argument(
        "--hearing-support", action="store_true", help="serves residents who need hearing support"
    )
    p.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    p.add_argument(
        "--replace", action="store_true", help="overwrite an existing account, ending its logins"
    )
    p.set_defaults(func=run, command_impl=_accounts_add)

    p = verbs.add_parser("list", parents=[common], help="list accounts")
    p.set_defaults(func=run, command_impl=_accounts_list)

    p = verbs.add_parser("disable", parents=[common], help="disable an account; ends its logins")
    p.add_argument("username")
    p.set_defaults(func=run, command_impl=_accounts_disable)

    p = verbs.add_parser("enable", parents=[common], help="enable a disabled account")
    p.add_argument("username")
    p.set_defaults(func=run, command_impl=_accounts_enable)

    terminals = sub.add_parser("terminals", help="manage branch terminals")
    verbs = terminals.add_subparsers(dest="verb", required=True, metavar="VERB")
    p = verbs.add_parser(
        "enroll", parents=[common], help="print a one-time code that enrolls a terminal"
    )
    p.add_argument("terminal_id", help="e.g. kita-01")
    p.add_argument(
        "--branch", required=True, dest="branch_id", metavar="BRANCH", help="branch id, e.g. kita"
    )
    p.add_argument("--name", required=True, help="shown to staff, e.g. 北支所 1番窓口")
    p.add_argument(
        "--ttl",
        type=int,
        default=600,
        dest="ttl_s",
        metavar="SECONDS",
        help="seconds (default 600)",
    )
    p.set_defaults(func=run, command_impl=_terminals_enroll)


# -- running -----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run the chosen command; print its result or its refusal; the exit status."""
    stdout, stderr = sys.stdout, sys.stderr
    try:
        result = asyncio.run(_with_redis(args, args.command_impl))
    except Exception as exc:
        refusal = _refusal(exc)
        if refusal is None:
            raise
        code, message, status = refusal
        if args.json:
            print(json.dumps({"error": code, "message": message}, ensure_ascii=False), file=stdout)
        else:
            print(f"madoguchi: {message}", file=stderr)
        return status
    if args.json:
        print(json.dumps(result.data, ensure_ascii=False, indent=2), file=stdout)
    else:
        print(result.text, file=stdout)
    return 0


def _refusal(exc: Exception) -> tuple[str, str, int] | None:
    """(code, message, exit status) for the errors a command reports; None for bugs."""
    from redis.exceptions import RedisError

    from hub.accounts.enrollment import EnrollmentError
    from hub.accounts.store import AccountError

    if isinstance(exc, AdminError):
        return exc.code, str(exc), exc.exit_status
    if isinstance(exc, AccountError | EnrollmentError):
        return exc.code, str(exc), 1
    if isinstance(exc, RedisError | OSError):
        return "store_unavailable", f"Redis is unavailable: {exc}", 1
    return None


async def _with_redis(args: argparse.Namespace, command: Command) -> Result:
    import redis.asyncio as aioredis

    url = args.redis_url or os.environ.get("MADOGUCHI_REDIS_URL")
    if not url:
        raise AdminError(
            "config",
            "Config 'MADOGUCHI_REDIS_URL' is missing, and has no default. Pass --redis URL.",
            exit_status=2,
        )
    try:
        client = aioredis.from_url(url, decode_responses=True, socket_connect_timeout=5)
    except ValueError as exc:
        raise AdminError("config", f"malformed Redis URL: {exc}", exit_status=2) from None
    try:
        return await command(client, args)
    finally:
        await client.aclose()


def _words(text: str) -> list[str]:
    return [w.strip() for w in text.split(",") if w.strip()]


def _account_json(account: Account) -> dict[str, Any]:
    return asdict(account)  # tuples print as JSON lists


# -- accounts ----------------------------------------------------------------------------------


def read_password(username: str, from_stdin: bool, stdin: TextIO | None = None) -> str:
    """The new password: stdin's first line, or typed twice at a prompt that does not echo."""
    if from_stdin:
        line = (stdin or sys.stdin).readline()
        return line.removesuffix("\n").removesuffix("\r")
    try:
        first = getpass.getpass(f"Password for {username}: ")
        second = getpass.getpass("Again: ")
    except EOFError:
        raise AdminError("no_password", "no password given (use --password-stdin?)") from None
    if first != second:
        raise AdminError("passwords_differ", "the two passwords differ; nothing saved")
    return first


async def _accounts_add(redis: aioredis.Redis, args: argparse.Namespace) -> Result:
    from hub.accounts.store import AccountError, add_account, get_account, validate_account

    profile: AccountProfile = {
        "branch_id": args.branch_id,
        "skills": _words(args.skills),
        "languages": _words(args.languages),
        "hearing_support": args.hearing_support,
    }
    # Refuse what is wrong before asking for a password.
    validate_account(args.username, args.role, args.display_name, **profile)
    if not args.replace and await get_account(redis, args.username) is not None:
        raise AccountError(
            "account_exists", f"account {args.username!r} exists already (--replace overwrites it)"
        )
    # Blocking on the prompt is fine: nothing else runs on this loop, and Ctrl-C lands here.
    password = read_password(args.username, args.password_stdin)
    account = await add_account(
        redis,
        args.username,
        password,
        args.role,
        args.display_name,
        replace=args.replace,
        **profile,
    )
    where = f", branch {account.branch_id}" if account.branch_id else ""
    return Result(_account_json(account), f"saved {account.username} ({account.role}{where})")


async def _accounts_list(redis: aioredis.Redis, args: argparse.Namespace) -> Result:
    from hub.accounts.store import list_accounts

    accounts = await list_accounts(redis)
    rows = [("USERNAME", "ROLE", "BRANCH", "SKILLS", "LANGUAGES", "HEARING", "STATUS", "NAME")]
    for a in accounts:
        rows.append(
            (
                a.username,
                a.role,
                a.branch_id or "-",
                ",".join(a.skills) or "-",
                ",".join(a.languages) or "-",
                "yes" if a.hearing_support else "-",
                "disabled" if a.disabled else "enabled",
                a.display_name,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]) for r in rows
    ]
    text = "\n".join(line.rstrip() for line in lines) if accounts else "no accounts"
    return Result([_account_json(a) for a in accounts], text)


async def _accounts_disable(redis: aioredis.Redis, args: argparse.Namespace) -> Result:
    from hub.accounts.store import set_disabled

    ended = await set_disabled(redis, args.username, True)
    data = {"username": args.username, "disabled": True, "logins_ended": ended}
    return Result(data, f"disabled {args.username}; ended {ended} open login(s)")


async def _accounts_enable(redis: aioredis.Redis, args: argparse.Namespace) -> Result:
    from hub.accounts.store import set_disabled

    await set_disabled(redis, args.username, False)
    return Result({"username": args.username, "disabled": False}, f"enabled {args.username}")


# -- terminals ---------------------------------------------------------------------------------


async def _terminals_enroll(redis: aioredis.Redis, args: argparse.Namespace) -> Result:
    from hub.accounts.enrollment import create_enrollment_code

    code = await create_enrollment_code(
        redis, args.terminal_id, args.branch_id, args.name, ttl_s=args.ttl_s
    )
    expires = datetime.now(UTC) + timedelta(seconds=args.ttl_s)
    data = {
        "terminal_id": args.terminal_id,
        "branch_id": args.branch_id,
        "name": args.name.strip(),
        "code": code,
        "expires_at": expires.isoformat(timespec="seconds"),
        "ttl_s": args.ttl_s,
    }
    local = expires.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")
    text = (
        f"Enrollment code for terminal {args.terminal_id} ({args.name.strip()}, "
        f"branch {args.branch_id}):\n\n    {code}\n\n"
        f"Type it into the terminal. It works once, until {local} ({_duration(args.ttl_s)})."
    )
    return Result(data, text)


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
