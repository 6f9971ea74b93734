"""Exchanging a one-time enrollment code for the terminal's device token.

An administrator runs ``madoguchi terminals enroll`` at head office and reads the code to the
branch; ``madoguchi branch --enroll-code CODE`` trades it once for a device token, which is kept
in a file only root can read. Later starts read the token from there.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_TOKEN_FILE = Path("var/branch/device-token")


class EnrollmentFailed(Exception):
    """The hub refused the code or could not be reached; ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def redeem(hub_url: str, code: str, timeout_s: float = 10.0) -> tuple[str, str]:
    """(terminal id, device token) for the code, from the hub."""
    request = urllib.request.Request(  # noqa: S310 -- the configured hub
        hub_url.rstrip("/") + "/api/terminals/enroll",
        data=json.dumps({"code": code}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as res:  # noqa: S310
            body = json.loads(res.read())
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read()).get("error", "refused")
        except ValueError:
            error = "refused"
        raise EnrollmentFailed(str(error), f"the hub refused the code (HTTP {exc.code})") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise EnrollmentFailed("hub_unreachable", f"cannot reach the hub: {exc}") from None
    terminal_id, token = body.get("terminal_id"), body.get("token")
    if not isinstance(terminal_id, str) or not isinstance(token, str):
        raise EnrollmentFailed("bad_reply", "the hub's answer has no token")
    return terminal_id, token


def save_token(path: Path, token: str) -> None:
    """Write the token readable by its owner only, replacing any previous one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(token)
    os.replace(tmp, path)


def load_token(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
