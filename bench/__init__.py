"""Benchmarks: ``madoguchi bench NAME [--json]``. Each starts the servers it needs and stops them;
the last line printed is one JSON object."""

from __future__ import annotations

import argparse
import json
import sys


def main(args: argparse.Namespace) -> int:
    if args.name == "call-setup":
        from bench.call_setup import run
    elif args.name == "signaling":
        from bench.signaling import run
    elif args.name == "dispatch":
        from bench.dispatch import run
    elif args.name == "kiosk-video":
        from bench.kiosk_video import run
    else:
        print(
            json.dumps(
                {
                    "error": "unknown_benchmark",
                    "name": args.name,
                    "known": ["call-setup", "signaling", "dispatch", "kiosk-video"],
                }
            )
        )
        return 2
    try:
        result = run(runs=args.runs, verbose=not args.json)
    except Exception as exc:  # the one place a benchmark's failure becomes its JSON line
        import traceback

        traceback.print_exc(file=sys.stderr)
        result = {"benchmark": args.name, "error": type(exc).__name__, "message": str(exc)}
    print(json.dumps(result, ensure_ascii=False), flush=True)
    sys.stdout.flush()
    return 0 if "error" not in result else 1
