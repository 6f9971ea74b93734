"""Benchmarks: ``madoguchi bench NAME [--json]``. Each starts the servers it needs and stops them;
the last line printed is one JSON object."""

from __future__ import annotations

import argparse
import importlib
import json
import sys

BENCHMARKS = {
    "call-setup": "bench.call_setup",
    "signaling": "bench.signaling",
    "dispatch": "bench.dispatch",
    "kiosk-video": "bench.kiosk_video",
    "card-read": "bench.card_read",
    "intake": "bench.intake",
    "scan": "bench.scan",
}
"""Benchmark name -> module with ``run(runs, verbose) -> dict``."""


def main(args: argparse.Namespace) -> int:
    module = BENCHMARKS.get(args.name)
    if module is None:
        print(
            json.dumps(
                {"error": "unknown_benchmark", "name": args.name, "known": sorted(BENCHMARKS)}
            )
        )
        return 2
    run = importlib.import_module(module).run
    try:
        result = run(runs=args.runs, verbose=not args.json)
    except Exception as exc:  # the one place a benchmark's failure becomes its JSON line
        import traceback

        traceback.print_exc(file=sys.stderr)
        result = {"benchmark": args.name, "error": type(exc).__name__, "message": str(exc)}
    print(json.dumps(result, ensure_ascii=False), flush=True)
    sys.stdout.flush()
    return 0 if "error" not in result else 1
