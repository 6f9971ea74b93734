"""``madoguchi report daily``: the day's figures per branch and per skill, straight from Redis.

``madoguchi report daily [--date YYYY-MM-DD] [--format csv|json] [--redis URL]``

The day is a calendar day in Asia/Tokyo (default today); the figures are those of
:mod:`hub.supervision.figures` over the sessions that started that day: arrivals, residents served,
abandoned while waiting and the abandonment rate, the mean wait and handling time, the share
answered within the service-level target (``MADOGUCHI_SUPERVISION_FILE``, default 300 s), the
entries the residents did not have to write (書かない) and their satisfaction. CSV has one row
for the whole day (``scope`` = ``total``), one per branch and one per skill; JSON adds the
figures per hour.

The sessions of a day are found through its day index, kept for a week
(:data:`hub.sessions.dispatch.DAY_INDEX_TTL_S`): run the report nightly. A refusal is one line on
stderr (``madoguchi: …``), or with ``--format json`` an object ``{"error": code, "message": …}`` on
stdout; the exit status is 1 (2 when no Redis URL is given).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import sys
import time
from datetime import date, datetime
from typing import Any

COLUMNS = (
    "arrivals",
    "served",
    "over",
    "abandoned",
    "answered",
    "avg_wait_s",
    "avg_handle_s",
    "abandonment_rate",
    "service_level",
    "entries_avoided",
    "rating_mean",
    "rating_count",
)


class ReportError(Exception):
    def __init__(self, code: str, message: str, exit_status: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.exit_status = exit_status


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``report`` to the ``madoguchi`` subcommands."""
    report = sub.add_parser("report", help="figures for supervisors")
    verbs = report.add_subparsers(dest="verb", required=True, metavar="VERB")
    p = verbs.add_parser("daily", help="one day's figures per branch and per skill")
    p.add_argument(
        "--date", dest="day", metavar="YYYY-MM-DD", help="the day (Asia/Tokyo; default today)"
    )
    p.add_argument("--format", choices=("csv", "json"), default="csv", help="default csv")
    p.add_argument(
        "--redis", dest="redis_url", metavar="URL", help="Redis URL (MADOGUCHI_REDIS_URL)"
    )
    p.set_defaults(func=run)


def parse_day(text: str | None, now: float) -> date:
    from hub.sessions.dispatch import DAY_INDEX_TTL_S, JST

    today = datetime.fromtimestamp(now, JST).date()
    if text is None:
        return today
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ReportError("bad_date", f"--date {text!r} is not YYYY-MM-DD") from None
    if (today - day).days >= DAY_INDEX_TTL_S // 86400:
        raise ReportError(
            "too_old",
            f"{day} is older than the {DAY_INDEX_TTL_S // 86400} days the day index is kept",
        )
    return day


def to_csv(report: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("date", "scope", "key", *COLUMNS))

    def row(scope: str, key: str, figures: dict[str, Any]) -> None:
        writer.writerow(
            (
                report["date"],
                scope,
                key,
                *("" if figures[c] is None else figures[c] for c in COLUMNS),
            )
        )

    row("total", "all", report["total"])
    for branch, figures in report["branches"].items():
        row("branch", branch, figures)
    for skill, figures in report["skills"].items():
        row("skill", skill, figures)
    return out.getvalue()


async def daily(redis_url: str, day: date, now: float) -> dict[str, Any]:
    import redis.asyncio as aioredis

    from hub.config import HubConfig
    from hub.sessions.router import load_rules
    from hub.supervision.figures import Supervision, load_thresholds

    config = HubConfig.from_env(redis_url=redis_url)
    rules = load_rules(config.routing_file) if config.routing_file else load_rules()
    client = aioredis.from_url(redis_url, decode_responses=True, socket_connect_timeout=5)
    try:
        reader = Supervision(client, rules, load_thresholds(config.supervision_file))
        return await reader.day_report(day, now)
    finally:
        await client.aclose()


def run(args: argparse.Namespace) -> int:
    from redis.exceptions import RedisError

    from hub.supervision.figures import SupervisionError

    as_json = args.format == "json"
    try:
        url = args.redis_url or os.environ.get("MADOGUCHI_REDIS_URL")
        if not url:
            raise ReportError(
                "config",
                "Config 'MADOGUCHI_REDIS_URL' is missing, and has no default. Pass --redis URL.",
                exit_status=2,
            )
        now = time.time()
        report = asyncio.run(daily(url, parse_day(args.day, now), now))
    except (ReportError, SupervisionError, RedisError, OSError, ValueError) as exc:
        if isinstance(exc, ReportError | SupervisionError):
            code = exc.code
        elif isinstance(exc, ValueError):
            code = "config"  # a malformed Redis URL
        else:
            code = "store_unavailable"
        status = exc.exit_status if isinstance(exc, ReportError) else 1
        if as_json:
            print(json.dumps({"error": code, "message": str(exc)}, ensure_ascii=False))
        else:
            print(f"madoguchi: {exc}", file=sys.stderr)
        return status
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(to_csv(report))
    return 0
