"""`madoguchi demo` starts everything, prints where to go, and Ctrl-C leaves nothing running."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from branch_client.card.pcsc_daemon import PcscDaemon
from madoguchi.local_deployment import free_port, http_ok
from madoguchi.waiting import wait_for


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _start_demo(tmp_path: Path) -> tuple[subprocess.Popen[str], int, int, Path]:
    data_dir = tmp_path / "demo-data"
    hub_port, kiosk_port, redis_port = free_port(), free_port(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub",
            "demo",
            "--port",
            str(hub_port),
            "--kiosk-port",
            str(kiosk_port),
            "--redis-port",
            str(redis_port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
        if not line and proc.poll() is not None:
            break
    output = "".join(lines)
    assert f"http://127.0.0.1:{hub_port}/console/" in output, output
    assert f"http://127.0.0.1:{kiosk_port}/" in output
    assert "suzuki" in output and "madoguchi-demo" in output
    return proc, hub_port, kiosk_port, data_dir


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill-9"])
def test_demo_runs_and_stops_cleanly(
    tmp_path: Path,
    stop: signal.Signals,
    pcscd: PcscDaemon,  # the machine's pcscd runs, so the demo starts none
) -> None:
    proc, hub_port, kiosk_port, data_dir = _start_demo(tmp_path)
    try:
        assert http_ok(f"http://127.0.0.1:{hub_port}/healthz")
        assert http_ok(f"http://127.0.0.1:{kiosk_port}/api/status")
        children = _children(proc.pid)
        assert len(children) == 3  # redis, hub, terminal
        assert (data_dir / "redis" / "appendonlydir").is_dir()  # AOF on
        proc.send_signal(stop)
        proc.wait(timeout=30)
        wait_for(
            lambda: not any(map(_alive, children)),
            lambda: (
                f"redis, the hub and the terminal to exit (alive: {list(filter(_alive, children))})"
            ),
            timeout=15,
        )
        assert not http_ok(f"http://127.0.0.1:{hub_port}/healthz")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()
