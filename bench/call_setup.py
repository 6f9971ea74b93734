"""``madoguchi bench call-setup``: from the specialist's accept to the first decoded frame.

Starts a private Redis, a hub, a terminal (synthetic camera and tone) and headless Chromium; logs
in as the demo specialist and makes them available; then, ``runs`` times: the resident asks for a
counter at the kiosk, the specialist's console rings, they answer, and we take

* browser side: the time from the click on 「応答」 (accept) to the first frame of the terminal's
  video presented in the console (``requestVideoFrameCallback``);
* terminal side: the time from the click to the first decoded frame of the browser's video at
  the terminal (wall clock; all processes share this machine's clock).

One warm-up call comes first and is not counted. Everything is stopped afterwards.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from bench.browser import CHROMIUM, CHROMIUM_ARGS, console_login
from madoguchi.local_deployment import DEMO_PASSWORD, BranchProcess, LocalDeployment


def _wait(predicate: Any, what: str, limit_s: float = 20.0) -> Any:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.01)
    raise TimeoutError(f"timed out waiting for {what}")


def _kiosk_start(branch: BranchProcess, purpose: str) -> None:
    request = urllib.request.Request(  # noqa: S310 -- loopback
        branch.kiosk_url + "/api/start",
        data=json.dumps({"purpose": purpose}).encode(),
        method="POST",
        headers={"X-Madoguchi-Kiosk": "1", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310


PHASES = ("assignedAt", "offerSentAt", "answerAt", "connectedAt", "firstFrameAt")


def _login(page: Any) -> None:
    console_login(page, "suzuki", DEMO_PASSWORD)
    page.wait_for_selector("#ready:not([disabled])")
    page.click("#ready")


def _one_call(page: Any, branch: BranchProcess) -> tuple[float, float, dict[str, float]]:
    _kiosk_start(branch, "moving")
    _wait(lambda: branch.status()["phase"] == "waiting", "the resident to wait")
    page.wait_for_selector("#ring:not([hidden])")
    page.click("#accept")
    timings = _wait(
        lambda: (
            (t := page.evaluate("() => window.madoguchiConsole.timings")).get("firstFrameAt") and t
        ),
        "the first frame in the browser",
    )
    status = _wait(
        lambda: (s := branch.status())["media"]["first_video_frame_at"] and s,
        "the first frame at the terminal",
    )
    accepted = timings["acceptedAt"]
    browser_ms = timings["firstFrameAt"] - accepted
    terminal_ms = status["media"]["first_video_frame_at"] * 1000 - accepted
    phases = {p: timings[p] - accepted for p in PHASES if timings.get(p)}
    page.click("#end")
    _wait(lambda: branch.status()["phase"] in ("ended", "idle"), "the terminal to hang up")
    page.wait_for_selector("#wrapup-controls:not([hidden])")
    page.click("#finish")
    page.wait_for_selector("#my-state[data-state=available]")
    return browser_ms, terminal_ms, phases


def _summary(samples: list[float]) -> dict[str, float]:
    a = np.array(samples)
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
        "mean_ms": round(float(a.mean()), 1),
        "min_ms": round(float(a.min()), 1),
        "max_ms": round(float(a.max()), 1),
    }


def run(runs: int = 10, verbose: bool = True) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    if runs < 1:
        return {"error": "runs_must_be_positive"}
    browser_samples: list[float] = []
    terminal_samples: list[float] = []
    phase_samples: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="mdg-bench-") as tmp:
        with LocalDeployment(Path(tmp)) as dep, sync_playwright() as pw:
            assert dep.hub is not None and dep.branch is not None
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = browser.new_context(base_url=dep.hub.url).new_page()
                _login(page)
                _one_call(page, dep.branch)  # warm-up
                for i in range(runs):
                    b, t, marks = _one_call(page, dep.branch)
                    browser_samples.append(b)
                    terminal_samples.append(t)
                    for name, at in marks.items():
                        phase_samples.setdefault(name, []).append(at)
                    if verbose:
                        print(
                            f"call {i + 1}/{runs}: browser {b:.0f} ms, terminal {t:.0f} ms",
                            file=sys.stderr,
                            flush=True,
                        )
            finally:
                browser.close()
    browser_stats = _summary(browser_samples)
    terminal_stats = _summary(terminal_samples)
    return {
        "benchmark": "call-setup",
        "runs": runs,
        **browser_stats,
        "terminal": terminal_stats,
        # Median ms after the click at which each step of the browser's setup was reached.
        "browser_phases_p50_ms": {
            name: round(float(np.percentile(v, 50)), 1) for name, v in phase_samples.items()
        },
        "browser_samples_ms": [round(s, 1) for s in browser_samples],
        "terminal_samples_ms": [round(s, 1) for s in terminal_samples],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
