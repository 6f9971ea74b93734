"""``madoguchi demo``: a private Redis, the hub and a simulated terminal, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from madoguchi.local_deployment import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    DeploymentError,
    LocalDeployment,
    free_port,
    port_is_free,
)


def _port(wanted: int) -> int:
    return wanted if port_is_free(wanted) else free_port()


_cleanups: list[Callable[[], None]] = []


def _insert_demo_card(deployment: LocalDeployment) -> str:
    """The demo's My Number card: a software card in vpcd's virtual reader, through a real pcscd
    (started here when none runs, which needs root)."""
    try:
        from branch_client.card.pcsc_daemon import ensure_pcscd, wait_for_readers
        from branch_client.card.reader import wait_for_card
        from branch_client.card.software_card import DEMO_PIN, SoftwareCard

        daemon = ensure_pcscd()
        _cleanups.append(daemon.stop)
        card = SoftwareCard()
        wait_for_readers([card.reader_name])
        card.start()
        _cleanups.insert(0, card.stop)
        if not wait_for_card(card.reader_name, True, 5.0):
            return "Virtual card: pcscd did not see it; card reads will say so."
    except Exception as exc:  # the demo goes on without a card; reads report reader_unavailable
        return f"Virtual card: not available ({exc}); card reads will say so."
    return f"Virtual My Number card: in the reader; PIN {DEMO_PIN}."


def main(args: argparse.Namespace) -> int:
    deployment = LocalDeployment(
        data_dir=Path(args.data_dir),
        hub_port=_port(args.port),
        kiosk_port=_port(args.kiosk_port),
        redis_port=_port(args.redis_port),
    )
    print("Starting Redis, the hub and a simulated branch terminal…", flush=True)
    try:
        deployment.start()
    except DeploymentError as exc:
        print(f"madoguchi demo: {exc}", file=sys.stderr)
        return 1
    assert deployment.hub and deployment.branch and deployment.redis
    card_note = _insert_demo_card(deployment)
    accounts = "\n".join(f"    {u:<10} {role:<13} {name}" for u, role, name in DEMO_ACCOUNTS)
    print(
        f"""
Madoguchi demo is running.

  Staff console   {deployment.hub.url}/console/
  Kiosk (北支所)   {deployment.branch.kiosk_url}/
  Lobby board     {deployment.hub.url}/board/kita
  Redis           {deployment.redis.url}   (data and AOF under {deployment.data_dir}/redis)
  Logs            {deployment.data_dir}/hub/*.log, {deployment.data_dir}/branch/*.log

  Demo logins (password: {DEMO_PASSWORD})
{accounts}

  {card_note}

  Try it: log in to the console as suzuki and press 「次の方を受け付ける」; open the kiosk,
  choose a purpose and start. Answer, read the card, fill and submit the forms, take a
  document (README.md walks through it). yamada sees the intake, takahashi the dashboard.
  Ctrl-C stops everything.
""",
        flush=True,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(1.0):
            for child in (deployment.redis, deployment.hub, deployment.branch):
                if not child.running:
                    print(
                        f"madoguchi demo: {child.name} stopped unexpectedly:\n{child.tail()}",
                        file=sys.stderr,
                    )
                    stopped.set()
    finally:
        print("Stopping…", flush=True)
        for stop in _cleanups:
            stop()
        deployment.stop()
    print("Stopped; nothing left running.")
    return 0
