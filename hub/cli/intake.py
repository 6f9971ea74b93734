"""``madoguchi intake …``: the back office's view of the central intake, straight on Redis.

====================================================  ==============================================
``intake list [--state S] [--limit N]``               applications (one state oldest first, or all
                                                      by latest change) and the count per state
``intake show ID``                                    one application: status and record
``intake claim [--consumer NAME]``                    the next application for this consumer
``intake done ID``                                    processed
``intake return ID --reason TEXT``                    sent back, with the reason
====================================================  ==============================================

``ID`` is an application id or its stream entry id. Each command takes ``--redis URL`` (or
``MADOGUCHI_REDIS_URL``) and ``--json``. Results go to stdout; a refusal is one line on stderr
(``madoguchi: …``), or with ``--json`` an object ``{"error": code, "message": …}`` on stdout,
and the exit status is 1 (2 when the configuration is missing). The consumer, and who finished
an application, default to ``cli-`` and the login name.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from hub.cli.admin import AdminError as CliError
from hub.cli.admin import Result

if TYPE_CHECKING:
    from hub.intake.queue import ApplicationStatus, Intake

Command = Callable[["Intake", argparse.Namespace], Awaitable["Result"]]


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``intake`` to the ``madoguchi`` subcommands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--redis", dest="redis_url", metavar="URL", help="Redis URL (MADOGUCHI_REDIS_URL)"
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")
    who = f"cli-{_login()}"

    intake = sub.add_parser("intake", help="the central intake (back office)")
    verbs = intake.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = verbs.add_parser("list", parents=[common], help="list applications")
    p.add_argument("--state", choices=["queued", "claimed", "done", "returned", "dead"])
    p.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    p.set_defaults(func=run, command_impl=_list)

    p = verbs.add_parser("show", parents=[common], help="one application with its record")
    p.add_argument("id", metavar="ID", help="application id or stream entry id")
    p.set_defaults(func=run, command_impl=_show)

    p = verbs.add_parser("claim", parents=[common], help="claim the next application")
    p.add_argument("--consumer", default=who, help=f"consumer name (default {who})")
    p.add_argument(
        "--idle-s",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="take over entries another consumer left unfinished this long (default 600)",
    )
    p.add_argument(
        "--max-deliveries",
        type=int,
        default=5,
        metavar="N",
        help="dead-letter an entry handed out more than N times (default 5)",
    )
    p.set_defaults(func=run, command_impl=_claim)

    p = verbs.add_parser("done", parents=[common], help="mark an application processed")
    p.add_argument("id", metavar="ID", help="application id or stream entry id")
    p.add_argument("--by", default=who, help=f"who processed it (default {who})")
    p.set_defaults(func=run, command_impl=_done)

    p = verbs.add_parser("return", parents=[common], help="send an application back")
    p.add_argument("id", metavar="ID", help="application id or stream entry id")
    p.add_argument("--reason", required=True, help="why, for the resident's notice")
    p.add_argument("--by", default=who, help=f"who returned it (default {who})")
    p.set_defaults(func=run, command_impl=_return)


def run(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from hub.intake.queue import IntakeError

    try:
        result = asyncio.run(_with_intake(args, args.command_impl))
    except (CliError, IntakeError, RedisError, OSError) as exc:
        if isinstance(exc, CliError | IntakeError):
            code, message = exc.code, str(exc)
        else:
            code, message = "store_unavailable", f"Redis is unavailable: {exc}"
        status = exc.exit_status if isinstance(exc, CliError) else 1
        if args.json:
            print(json.dumps({"error": code, "message": message}, ensure_ascii=False))
        else:
            print(f"madoguchi: {message}", file=sys.stderr)
        return status
    if args.json:
        print(json.dumps(result.data, ensure_ascii=False, indent=2))
    else:
        print(result.text)
    return 0


async def _with_intake(args: argparse.Namespace, command: Command) -> Result:
    import redis.asyncio as aioredis

    from hub.intake.queue import Intake

    url = args.redis_url or os.environ.get("MADOGUCHI_REDIS_URL")
    if not url:
        raise CliError(
            "config",
            "Config 'MADOGUCHI_REDIS_URL' is missing, and has no default. Pass --redis URL.",
            exit_status=2,
        )
    try:
        client = aioredis.from_url(url, decode_responses=True, socket_connect_timeout=5)
    except ValueError as exc:
        raise CliError("config", f"malformed Redis URL: {exc}", exit_status=2) from None
    try:
        intake = Intake(
            client,
            claim_idle_s=getattr(args, "idle_s", 600.0),
            max_deliveries=getattr(args, "max_deliveries", 5),
        )
        return await command(intake, args)
    finally:
        await client.aclose()


async def _entry_id(intake: Intake, ident: str) -> str:
    from hub.intake.queue import ENTRY_ID

    return ident if ENTRY_ID.fullmatch(ident) else await intake.entry_id_of(ident)


async def _application_id(intake: Intake, ident: str) -> str:
    from hub.intake.queue import ENTRY_ID, IntakeError

    if not ENTRY_ID.fullmatch(ident):
        return ident
    found = await intake.redis.xrange(intake.stream, ident, ident)
    if not found:
        raise IntakeError("no_such_application", f"no entry {ident}")
    return str(found[0][1].get("application_id", ""))


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _line(status: ApplicationStatus) -> str:
    reason = f"  {status.reason}" if status.reason else ""
    return (
        f"{status.application_id}  {status.state.value:<8}  {_when(status.updated_at)}  "
        f"by {status.submitted_by or '-'}  deliveries {status.deliveries}{reason}"
    )


async def _list(intake: Intake, args: argparse.Namespace) -> Result:
    if not 1 <= args.limit <= 10_000:
        raise CliError("bad_limit", "--limit is 1-10000")
    statuses = await intake.list(args.state, limit=args.limit)
    counts = await intake.counts()
    summary = ", ".join(f"{state} {n}" for state, n in counts.items())
    lines = [_line(s) for s in statuses] or ["no applications"]
    return Result(
        {"applications": [s.to_json() for s in statuses], "counts": counts},
        "\n".join([*lines, f"({summary})"]),
    )


async def _show(intake: Intake, args: argparse.Namespace) -> Result:
    status, record = await intake.get(await _application_id(intake, args.id))
    procedures = ", ".join(str(p) for p in record.get("procedures", []))
    text = f"{_line(status)}\nlife event {record.get('life_event', '-')}: {procedures}"
    return Result({**status.to_json(), "record": record}, text)


async def _claim(intake: Intake, args: argparse.Namespace) -> Result:
    claimed = await intake.claim_next(args.consumer)
    if claimed is None:
        return Result({"application": None, "dead_lettered": []}, "nothing to claim")
    status, record = claimed.status, claimed.record
    procedures = ", ".join(str(p) for p in record.get("procedures", []))
    dead = (
        f"\nmoved to the dead letters on the way: {', '.join(claimed.dead_lettered)}"
        if claimed.dead_lettered
        else ""
    )
    return Result(
        {
            "application": {**status.to_json(), "record": record},
            "dead_lettered": list(claimed.dead_lettered),
        },
        f"claimed {status.application_id} (entry {status.entry_id}, delivery "
        f"{status.deliveries}) for {args.consumer}: {record.get('life_event', '-')}: "
        f"{procedures}{dead}",
    )


async def _done(intake: Intake, args: argparse.Namespace) -> Result:
    status = await intake.done(await _entry_id(intake, args.id), by=args.by)
    return Result(status.to_json(), f"{status.application_id} done")


async def _return(intake: Intake, args: argparse.Namespace) -> Result:
    status = await intake.return_(await _entry_id(intake, args.id), args.reason, by=args.by)
    return Result(status.to_json(), f"{status.application_id} returned: {status.reason}")
