"""Making sure a pcscd runs, for the demo and the tests, and waiting for its readers to appear.

Only one pcscd runs per machine. If one answers (or is starting), it is used as it is; otherwise
:func:`ensure_pcscd` starts ``pcscd --foreground`` as a child (root needed) and
:meth:`PcscDaemon.stop` stops only a pcscd it started. No ``--auto-exit``: Debian sets that only
in its systemd unit, and there is no systemd here. Never pass ``--apdu``: pcscd would log every
VERIFY, PIN included.
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from branch_client.card.errors import CardError
from branch_client.card.reader import list_readers

log = logging.getLogger(__name__)

COMM_SOCKET = Path("/run/pcscd/pcscd.comm")
"""Where Debian's pcscd listens for clients."""
_PCSCD_PATHS = ("/usr/sbin/pcscd", "/usr/local/sbin/pcscd")


def pcscd_answers() -> bool:
    """Whether a pcscd answers PC/SC clients."""
    try:
        list_readers()
    except CardError:
        return False
    return True


def pcscd_process_exists() -> bool:
    """Whether a live (not zombie) ``pcscd`` process exists, perhaps still starting."""
    try:
        found = subprocess.run(
            ["pgrep", "-x", "pcscd"], capture_output=True, text=True, check=False, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return COMM_SOCKET.exists()
    for pid in found.stdout.split():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if stat.rpartition(")")[2].split()[:1] != ["Z"]:
            return True
    return False


class PcscDaemon:
    """The pcscd in use: ``process`` is set when this program started it."""

    def __init__(self, process: subprocess.Popen[bytes] | None) -> None:
        self.process = process

    @property
    def started_here(self) -> bool:
        return self.process is not None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop pcscd if this program started it; leave anyone else's alone."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        log.info("pcscd (pid %d) stopped", process.pid)


def _own_session_and_die_with_parent() -> None:  # pragma: no cover - between fork and exec
    """A Ctrl-C meant for us is not meant for pcscd; but if we die, even by kill -9, the pcscd
    we started goes too (PR_SET_PDEATHSIG), leaving the machine as we found it."""
    os.setsid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)


def ensure_pcscd(timeout: float = 10.0) -> PcscDaemon:
    """A running pcscd: the one already there, or one started now (needs root)."""
    deadline = time.monotonic() + timeout
    if pcscd_process_exists() or pcscd_answers():
        _wait_until_answering(deadline, None)
        return PcscDaemon(None)
    executable = shutil.which("pcscd") or next(
        (p for p in _PCSCD_PATHS if os.access(p, os.X_OK)), None
    )
    if executable is None:
        raise CardError("reader_unavailable", "pcscd is not installed (Debian package pcscd)")
    if os.geteuid() != 0:
        raise CardError("reader_unavailable", "pcscd is not running; start it as root: pcscd")
    process = subprocess.Popen(
        [executable, "--foreground"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_own_session_and_die_with_parent,
    )
    log.info("pcscd started (pid %d)", process.pid)
    daemon = PcscDaemon(process)
    try:
        _wait_until_answering(deadline, process)
    except BaseException:
        daemon.stop()
        raise
    if process.poll() is not None:  # another pcscd won the race; use that one
        return PcscDaemon(None)
    return daemon


def _wait_until_answering(deadline: float, process: subprocess.Popen[bytes] | None) -> None:
    while not pcscd_answers():
        if process is not None and process.poll() is not None and not pcscd_process_exists():
            raise CardError(
                "reader_unavailable", f"pcscd exited at once (status {process.returncode})"
            )
        if time.monotonic() >= deadline:
            raise CardError("reader_unavailable", "pcscd did not answer in time")
        time.sleep(0.05)


def wait_for_readers(names: Iterable[str], timeout: float = 10.0) -> list[str]:
    """Wait until pcscd lists every reader in ``names`` (vpcd's appear at pcscd's start); all
    the readers it lists then."""
    wanted = set(names)
    deadline = time.monotonic() + timeout
    while True:
        try:
            present = list_readers()
        except CardError:
            present = []
        if wanted <= set(present):
            return present
        if time.monotonic() >= deadline:
            missing = ", ".join(sorted(wanted - set(present)))
            raise CardError("reader_unavailable", f"pcscd did not list {missing} in time")
        time.sleep(0.05)
