"""A resident at a terminal and a specialist in a browser see and hear each other."""

from __future__ import annotations

import json

import redis
from playwright.sync_api import Page

from bench.browser import wait_js
from madoguchi.local_deployment import LocalDeployment
from madoguchi.waiting import wait_for

MIN_FRAMES = 30


def test_call_both_ways_then_end(
    deployment: LocalDeployment, specialist_page: Page, kiosk: Page
) -> None:
    branch, page = deployment.branch, specialist_page
    assert branch is not None and deployment.redis is not None

    # The resident asks for a counter at the kiosk.
    kiosk.click("button[data-purpose=moving]")
    # The device check first: the resident sees themselves and the microphone's level.
    kiosk.wait_for_selector("#screen-check:not([hidden])")
    wait_js(kiosk, "document.getElementById('check-preview').naturalWidth > 0")
    wait_js(kiosk, "Number(document.getElementById('mic-meter').getAttribute('aria-valuenow')) > 0")
    kiosk.click("#check-ok")
    waiting = wait_for(
        lambda: branch.status()["phase"] == "waiting" and branch.status(), "the terminal to wait"
    )
    session_id = waiting["session_id"]
    kiosk.wait_for_selector("#screen-waiting:not([hidden])")

    # The specialist is ready, is rung, answers; media flows both ways.
    page.click("#ready")
    page.wait_for_selector("#ring:not([hidden])")
    assert "A-001" in page.inner_text("#ring-info") and "引っ越し" in page.inner_text("#ring-info")
    page.click("#accept")
    wait_js(page, "window.madoguchiConsole.sessionId !== null")
    assert page.evaluate("window.madoguchiConsole.sessionId") == session_id
    wait_js(
        page, f"window.madoguchiConsole.inboundStats().then(s => s.framesDecoded >= {MIN_FRAMES})"
    )
    wait_js(page, "window.madoguchiConsole.inboundStats().then(s => s.audioPackets >= 30)")
    media = wait_for(
        lambda: (
            (m := branch.status()["media"])["video_frames"] >= MIN_FRAMES
            and m["audio_frames"] >= MIN_FRAMES
            and m
        ),
        "the terminal to receive the browser's video and audio",
    )
    assert media["first_video_frame_at"] is not None
    assert branch.status()["phase"] == "in_call"
    kiosk.wait_for_selector("#screen-call:not([hidden])")
    # The kiosk shows the specialist large (Chromium's fake camera) and the resident small.
    wait_js(kiosk, "Number(document.getElementById('staff-video').dataset.frames) > 10")
    wait_js(kiosk, "document.getElementById('self-video').naturalWidth > 0")
    views = wait_for(
        lambda: (v := branch.status()["views"])["staff"]["frames_out"] >= 10 and v,
        "the kiosk to show the specialist's video",
    )
    assert views["staff"]["live"] and views["self"]["frames_out"] > 0

    # "End" closes both sides; the specialist wraps up, then is ready again.
    page.click("#end")
    wait_js(page, "window.madoguchiConsole.phase === 'ended'")
    page.wait_for_selector("#wrapup-controls:not([hidden])")
    page.click("#finish")
    wait_js(page, "window.madoguchiConsole.myState === 'available'")
    assert page.evaluate("window.madoguchiConsole.connectionState") == "closed"
    ended = wait_for(
        lambda: branch.status()["phase"] == "ended" and branch.status(), "the terminal to hang up"
    )
    assert ended["end_reason"] == "completed"
    assert ended["pc_state"] == "closed"
    # The resident rates the counter, then the kiosk says goodbye.
    kiosk.wait_for_selector("#screen-rating:not([hidden])")
    kiosk.click("button.rating[data-score='4']")
    kiosk.wait_for_selector("#screen-ended:not([hidden])")
    assert branch.status()["rated"] == 4

    # The session record in Redis: waiting -> offered -> connected -> wrap-up -> ended, with
    # timestamps in order.
    client = redis.Redis(port=deployment.redis.port, decode_responses=True)
    record = client.hgetall(f"mdg:session:{session_id}")
    assert record["state"] == "ended"
    assert record["end_reason"] == "completed"
    assert record["specialist"] == "suzuki"
    assert wait_for(lambda: client.hget(f"mdg:session:{session_id}", "rating"), "the rating") == "4"
    times = [
        float(record[f"{s}_at"]) for s in ("waiting", "offered", "connected", "wrap_up", "ended")
    ]
    assert times == sorted(times)
    assert times[-1] - times[0] < 120
    assert [s for s, _ in json.loads(record["history"])] == [
        "waiting",
        "offered",
        "connected",
        "wrap_up",
        "ended",
    ]
    client.close()
