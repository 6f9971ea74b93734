"""The ``madoguchi`` command: ``hub``, ``branch``, ``demo``, ``bench``, ``accounts``, ``terminals``,
``card``, ``scan``.

Subcommands import what they need when they run, so ``madoguchi branch`` on a terminal does not
load the hub's server code and the reverse.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence


def _hub_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default 8800)")
    p.add_argument("--redis", dest="redis_url", help="Redis URL (MADOGUCHI_REDIS_URL)")
    p.add_argument("--data-dir", help="data directory (default var/hub)")


def run_hub(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aiohttp import web

    from hub.app import create_app
    from hub.config import HubConfig

    config = HubConfig.from_env(
        host=args.host,
        port=args.port,
        redis_url=args.redis_url,
        data_dir=Path(args.data_dir) if args.data_dir else None,
    )
    config.data_dir.mkdir(parents=True, exist_ok=True)
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        access_log=None,
        print=lambda *_: logging.getLogger("hub").info(
            "listening on http://%s:%d", config.host, config.port
        ),
        shutdown_timeout=5.0,
    )
    return 0


def run_branch(args: argparse.Namespace) -> int:
    from branch_client.cli import main as branch_main

    return branch_main(args)


def run_demo(args: argparse.Namespace) -> int:
    from madoguchi.demo import main as demo_main

    return demo_main(args)


def run_bench(args: argparse.Namespace) -> int:
    from bench import main as bench_main

    return bench_main(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="madoguchi", description="Madoguchi video counter")
    parser.add_argument("--log-level", default=os.environ.get("MADOGUCHI_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("hub", help="run a hub process")
    _hub_args(p)
    p.set_defaults(func=run_hub)

    p = sub.add_parser("branch", help="run a branch terminal agent")
    from branch_client.cli import add_arguments

    add_arguments(p)
    p.set_defaults(func=run_branch)

    p = sub.add_parser("demo", help="run Redis, a hub and a simulated terminal on this machine")
    p.add_argument("--port", type=int, default=8800, help="hub port (default 8800)")
    p.add_argument("--kiosk-port", type=int, default=8801, help="kiosk port (default 8801)")
    p.add_argument("--redis-port", type=int, default=6390, help="Redis port (default 6390)")
    p.add_argument("--data-dir", default="var/demo", help="where the demo keeps its data")
    p.set_defaults(func=run_demo)

    p = sub.add_parser("bench", help="run a benchmark; prints one JSON object last")
    p.add_argument("name", help="benchmark name, e.g. call-setup")
    p.add_argument("--json", action="store_true", help="machine-readable output only")
    p.add_argument("--runs", type=int, default=10, help="repetitions")
    p.set_defaults(func=run_bench)

    from branch_client.card.cli import add_commands as add_card_commands
    from branch_client.scan.cli import add_commands as add_scan_commands
    from hub.cli.admin import add_commands as add_admin_commands
    from hub.cli.intake import add_commands as add_intake_commands
    from hub.cli.report import add_commands as add_report_commands

    add_admin_commands(sub)
    add_intake_commands(sub)
    add_report_commands(sub)
    add_card_commands(sub)
    add_scan_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from branch_client.config import ConfigError as BranchConfigError
    from hub.config import ConfigError as HubConfigError

    try:
        return int(args.func(args))
    except (HubConfigError, BranchConfigError) as exc:
        print(f"madoguchi: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
