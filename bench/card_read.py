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

import sys
import time
from typing import Any

from bench.browser import deployment_and_chromium, specialist_ready
from bench.common import POLL_S, machine, summary_ms
from branch_client.card.pcsc_daemon import ensure_pcscd, wait_for_readers
from branch_client.card.reader import wait_for_card
from branch_client.card.software_card import DEMO_PIN, SoftwareCard
from madoguchi.local_deployment import BranchProcess
from madoguchi.waiting import wait_for


def _one_read(page: Any, branch: BranchProcess) -> dict[str, float]:
    page.click("#card-read")
    wait_for(
        lambda: (branch.status().get("task") or {}).get("step") == "pin",
        "the PIN step",
        10,
        every=POLL_S,
    )
    posted = time.time() * 1000
    branch.kiosk_post("/api/card/pin", {"pin": DEMO_PIN})  # as the kiosk's 決定 button does
    marks = wait_for(
        lambda: (m := page.evaluate("window.madoguchiConsole.case.marks")).get("prefilledAt") and m,
        "the prefilled fields",
        10,
        every=POLL_S,
    )
    pin_wait = posted - marks["pinAt"]
    total = marks["prefilledAt"] - marks["requestedAt"] - pin_wait
    wait_for(
        lambda: branch.status().get("task") is None,
        "the kiosk to return to the call",
        15,
        every=POLL_S,
    )
    return {
        "total_ms": total,
        "to_pin_ms": marks["pinAt"] - marks["requestedAt"],
        "after_pin_ms": marks["prefilledAt"] - posted,
    }


def run(runs: int = 10, verbose: bool = True) -> dict[str, Any]:
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
        with deployment_and_chromium() as (dep, browser):
            assert dep.hub is not None and dep.branch is not None
            page = browser.new_context(base_url=dep.hub.url).new_page()
            specialist_ready(page)
            dep.branch.kiosk_post("/api/start", {"purpose": "moving"})
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
        card.stop()
        daemon.stop()
    return {
        "benchmark": "card-read",
        "runs": runs,
        "with_number": True,
        **summary_ms([s["total_ms"] for s in samples]),
        "to_pin": summary_ms([s["to_pin_ms"] for s in samples]),
        "after_pin": summary_ms([s["after_pin_ms"] for s in samples]),
        "samples_ms": [round(s["total_ms"], 1) for s in samples],
        "machine": machine(),
    }
