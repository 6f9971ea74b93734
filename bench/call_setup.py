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

import sys
from typing import Any

import numpy as np

from bench.browser import deployment_and_chromium, specialist_ready
from bench.common import POLL_S, machine, summary_ms
from madoguchi.local_deployment import BranchProcess
from madoguchi.waiting import wait_for

PHASES = ("assignedAt", "offerSentAt", "answerAt", "connectedAt", "firstFrameAt")


def _one_call(page: Any, branch: BranchProcess) -> tuple[float, float, dict[str, float]]:
    branch.kiosk_post("/api/start", {"purpose": "moving"})
    wait_for(lambda: branch.status()["phase"] == "waiting", "the resident to wait", every=POLL_S)
    page.wait_for_selector("#ring:not([hidden])")
    page.click("#accept")
    timings = wait_for(
        lambda: (
            (t := page.evaluate("() => window.madoguchiConsole.timings")).get("firstFrameAt") and t
        ),
        "the first frame in the browser",
        every=POLL_S,
    )
    status = wait_for(
        lambda: (s := branch.status())["media"]["first_video_frame_at"] and s,
        "the first frame at the terminal",
        every=POLL_S,
    )
    accepted = timings["acceptedAt"]
    browser_ms = timings["firstFrameAt"] - accepted
    terminal_ms = status["media"]["first_video_frame_at"] * 1000 - accepted
    phases = {p: timings[p] - accepted for p in PHASES if timings.get(p)}
    page.click("#end")
    wait_for(
        lambda: branch.status()["phase"] in ("ended", "idle"),
        "the terminal to hang up",
        every=POLL_S,
    )
    page.wait_for_selector("#wrapup-controls:not([hidden])")
    page.click("#finish")
    page.wait_for_selector("#my-state[data-state=available]")
    return browser_ms, terminal_ms, phases


def run(runs: int = 10, verbose: bool = True) -> dict[str, Any]:
    if runs < 1:
        return {"error": "runs_must_be_positive"}
    browser_samples: list[float] = []
    terminal_samples: list[float] = []
    phase_samples: dict[str, list[float]] = {}
    with deployment_and_chromium() as (dep, browser):
        assert dep.hub is not None and dep.branch is not None
        page = browser.new_context(base_url=dep.hub.url).new_page()
        specialist_ready(page)
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
    browser_stats = summary_ms(browser_samples)
    terminal_stats = summary_ms(terminal_samples)
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
        "machine": machine(),
    }
