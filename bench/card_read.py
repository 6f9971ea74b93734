"""``madoguchi bench card-read``: from the specialist's 「カードを読む」 to prefilled fields.

Starts pcscd (when none runs) with vpcd's virtual reader and inserts the software card, then a
private Redis, a hub, a terminal and headless Chromium with the specialist's console. A call is
set up and the 転入 procedures chosen (住民異動届 needs the My Number, so it is read too). Then,
``runs`` times: the specialist clicks 「カードを読む」; the moment the PIN is asked for, the
benchmark posts it to the kiosk endpoint, as the kiosk's 決定 button does; the console fills the
fields. The time the resident would take to type the PIN is left out:

    total = (fields filled - click) - (PIN posted - PIN asked for, as the console saw it)

All times are wall-clock milliseconds on this machine. One warm-up read is not counted.
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
from bench.call_setup import _kiosk_start, _wait
from branch_client.card.pcsc_daemon import ensure_pcscd, wait_for_readers
from branch_client.card.reader import wait_for_card
from branch_client.card.software_card import DEMO_PIN, SoftwareCard
from madoguchi.local_deployment import DEMO_PASSWORD, BranchProcess, LocalDeployment


def _post_pin(branch: BranchProcess) -> None:
    request = urllib.request.Request(  # noqa: S310 -- loopback
        branch.kiosk_url + "/api/card/pin",
        data=json.dumps({"pin": DEMO_PIN}).encode(),
        method="POST",
        headers={"X-Madoguchi-Kiosk": "1", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310


def _one_read(page: Any, branch: BranchProcess) -> dict[str, float]:
    page.click("#card-read")
    _wait(lambda: (branch.status().get("task") or {}).get("step") == "pin", "the PIN step", 10)
    posted = time.time() * 1000
    _post_pin(branch)
    marks = _wait(
        lambda: (m := page.evaluate("window.madoguchiConsole.case.marks")).get("prefilledAt") and m,
        "the prefilled fields",
        10,
    )
    pin_wait = posted - marks["pinAt"]
    total = marks["prefilledAt"] - marks["requestedAt"] - pin_wait
    _wait(lambda: branch.status().get("task") is None, "the kiosk to return to the call", 15)
    return {
        "total_ms": total,
        "to_pin_ms": marks["pinAt"] - marks["requestedAt"],
        "after_pin_ms": marks["prefilledAt"] - posted,
    }


def _stats(samples: list[float]) -> dict[str, float]:
    a = np.array(samples)
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
        "max_ms": round(float(a.max()), 1),
    }


def run(runs: int = 10, verbose: bool = True) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    if runs < 1:
        return {"error": "runs_must_be_positive"}
    daemon = ensure_pcscd()
    card = SoftwareCard()
    samples: list[dict[str, float]] = []
    try:
        wait_for_readers([card.reader_name])
        card.start()
        if not wait_for_card(card.reader_name, True, 5.0):
            return {"benchmark": "card-read", "error": "card_not_seen"}
        with tempfile.TemporaryDirectory(prefix="mdg-bench-") as tmp:
            with LocalDeployment(Path(tmp)) as dep, sync_playwright() as pw:
                assert dep.hub is not None and dep.branch is not None
                browser = pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    page = browser.new_context(base_url=dep.hub.url).new_page()
                    console_login(page, "suzuki", DEMO_PASSWORD)
                    page.wait_for_selector("#ready:not([disabled])")
                    page.click("#ready")
                    _kiosk_start(dep.branch, "moving")
                    page.wait_for_selector("#ring:not([hidden])")
                    page.click("#accept")
                    page.wait_for_selector("#apply-procedures")
                    page.click("#apply-procedures")
                    page.wait_for_selector("#card-with-number:not([disabled])")
                    page.check("#card-with-number")
                    _one_read(page, dep.branch)  # warm-up
                    for i in range(runs):
                        page.check("#card-with-number")
                        sample = _one_read(page, dep.branch)
                        samples.append(sample)
                        if verbose:
                            print(
                                f"read {i + 1}/{runs}: {sample['total_ms']:.0f} ms",
                                file=sys.stderr,
                                flush=True,
                            )
                finally:
                    browser.close()
    finally:
        card.stop()
        daemon.stop()
    return {
        "benchmark": "card-read",
        "runs": runs,
        "with_number": True,
        **_stats([s["total_ms"] for s in samples]),
        "to_pin": _stats([s["to_pin_ms"] for s in samples]),
        "after_pin": _stats([s["after_pin_ms"] for s in samples]),
        "samples_ms": [round(s["total_ms"], 1) for s in samples],
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
