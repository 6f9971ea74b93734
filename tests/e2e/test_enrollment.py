"""A new terminal trades a one-time enrollment code for its device token and comes online."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from hub.accounts.enrollment import create_enrollment_code
from madoguchi.local_deployment import Child, HubProcess, free_port, http_json, run_in_fresh_loop


@pytest.fixture
def hub(redis_url: str, tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(redis_url, tmp_path / "hub")
    process.start()
    yield process
    process.stop()


async def _code(redis_url: str) -> str:
    r = aioredis.from_url(redis_url, decode_responses=True)
    try:
        return await create_enrollment_code(r, "minami-01", "minami", "南出張所 1番窓口")
    finally:
        await r.aclose()


def test_enroll_with_a_code_then_run_from_the_saved_token(
    hub: HubProcess, redis_url: str, tmp_path: Path
) -> None:
    code = run_in_fresh_loop(_code, redis_url)
    token_file = tmp_path / "branch" / "device-token"
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "hub",
        "branch",
        "--hub",
        hub.url,
        "--kiosk-port",
        str(port),
        "--token-file",
        str(token_file),
        "--ice-hosts",
        "127.0.0.1",
    ]
    terminal = Child("branch", [*argv, "--enroll-code", code.lower()], tmp_path / "b1.log")
    terminal.start()
    try:
        terminal.wait_until(lambda: _online(port), "online")
    finally:
        terminal.stop()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert token_file.read_text().startswith("minami-01.")

    # The code is spent: a second use is refused with a clear message.
    again = subprocess.run(
        [*argv, "--enroll-code", code], capture_output=True, text=True, timeout=30
    )
    assert again.returncode == 2
    assert "bad_code" in again.stderr

    # Without a code, the terminal starts from the saved token.
    restarted = Child("branch", argv, tmp_path / "b2.log")
    restarted.start()
    try:
        restarted.wait_until(lambda: _online(port), "online again")
    finally:
        restarted.stop()


def _online(port: int) -> bool:
    try:
        return bool(http_json(f"http://127.0.0.1:{port}/api/status")["link"] == "online")
    except OSError:  # not listening yet
        return False
