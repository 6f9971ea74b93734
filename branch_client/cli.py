"""``madoguchi branch``: run the terminal agent and its kiosk page until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from aiohttp import web

from branch_client.call.ice import restrict_host_candidates
from branch_client.config import BranchConfig, ConfigError
from branch_client.enrollment import (
    DEFAULT_TOKEN_FILE,
    EnrollmentFailed,
    load_token,
    redeem,
    save_token,
)
from branch_client.kiosk.server import create_kiosk_app
from branch_client.terminal import Terminal

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--hub", dest="hub_url", help="hub base URL (MADOGUCHI_HUB_URL)")
    parser.add_argument("--token", help="device token (MADOGUCHI_TERMINAL_TOKEN)")
    parser.add_argument(
        "--enroll-code",
        help="one-time code from `madoguchi terminals enroll`: "
        "traded for a device token, which is saved to --token-file",
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        default=DEFAULT_TOKEN_FILE,
        help=f"where the device token is kept (default {DEFAULT_TOKEN_FILE})",
    )
    parser.add_argument("--kiosk-host", help="kiosk page address (default 127.0.0.1)")
    parser.add_argument("--kiosk-port", type=int, help="kiosk page port (default 8801)")
    parser.add_argument("--camera", help="face camera: synthetic")
    parser.add_argument("--audio", help="microphone and speaker: synthetic")
    parser.add_argument(
        "--doc-camera", help="document camera: synthetic, a directory of pictures, or an index"
    )
    parser.add_argument(
        "--card-reader", help="card reader: auto (the one holding a card), a reader name, none"
    )
    parser.add_argument(
        "--ice-hosts", help="comma-separated local addresses for ICE, e.g. 127.0.0.1"
    )
    parser.add_argument(
        "--start",
        dest="start_purpose",
        metavar="PURPOSE",
        help="start a session for PURPOSE at once (e.g. moving)",
    )


async def serve(config: BranchConfig) -> None:
    restrict_host_candidates(config.ice_hosts)
    terminal = Terminal(config)
    runner = web.AppRunner(create_kiosk_app(terminal), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, config.kiosk_host, config.kiosk_port).start()
    log.info(
        "kiosk on http://%s:%d/ ; hub %s", config.kiosk_host, config.kiosk_port, config.hub_url
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await terminal.open_devices()
    link = asyncio.create_task(terminal.run(), name="hub-link")
    watch = asyncio.create_task(terminal.watch_devices(), name="device-health")
    try:
        await stop.wait()
    finally:
        for task in (link, watch):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await terminal.close()
        await runner.cleanup()


def main(args: argparse.Namespace) -> int:
    token = args.token
    if args.enroll_code:
        hub_url = args.hub_url or os.environ.get("MADOGUCHI_HUB_URL")
        if not hub_url:
            raise ConfigError("Config 'MADOGUCHI_HUB_URL' (--hub) is missing, and has no default.")
        try:
            terminal_id, token = redeem(hub_url, args.enroll_code)
        except EnrollmentFailed as exc:
            raise ConfigError(f"enrollment failed ({exc.code}): {exc}") from None
        save_token(args.token_file, token)
        log.info("enrolled as terminal %s; device token saved to %s", terminal_id, args.token_file)
    elif not token and not os.environ.get("MADOGUCHI_TERMINAL_TOKEN"):
        token = load_token(args.token_file)
    config = BranchConfig.from_env(
        hub_url=args.hub_url,
        token=token,
        kiosk_host=args.kiosk_host,
        kiosk_port=args.kiosk_port,
        camera=args.camera,
        audio=args.audio,
        ice_hosts=args.ice_hosts,
        card_reader=args.card_reader,
        doc_camera=args.doc_camera,
        start_purpose=args.start_purpose,
    )
    asyncio.run(serve(config))
    return 0
