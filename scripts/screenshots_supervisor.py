"""Take docs/img/dashboard.png and docs/img/board.png from a real local deployment.

The morning so far is replayed through the hub's own routing scripts (hub.sessions.dispatch) with
the times it happened at, and a few applications are put in the central intake with the back
office's answers; then residents wait now at terminals and specialists work over real signaling,
and the supervisor's dashboard and the lobby board of the 北 branch are photographed in
headless Chromium.

Usage: .venv/bin/python scripts/screenshots_supervisor.py
"""

from __future__ import annotations

import json
import random
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis.asyncio as aioredis  # noqa: E402

import signaling as sig  # noqa: E402
from bench.browser import (  # noqa: E402
    KIOSK_VIEWPORT,
    console_login,
    deployment_and_chromium,
    wait_js,
)
from hub.intake.queue import Intake  # noqa: E402
from hub.sessions.dispatch import JST, Dispatch  # noqa: E402
from hub.sessions.lifecycle import EndReason  # noqa: E402
from hub.sessions.router import Specialist, load_rules  # noqa: E402
from madoguchi.local_deployment import DEMO_PASSWORD  # noqa: E402
from tests.e2e.load import Load  # noqa: E402

OUT = ROOT / "docs" / "img"
PURPOSES = {"juumin": "moving", "zei": "tax", "kokuho": "insurance", "kosodate": "birth"}


async def replay_morning(redis_url: str, now: float) -> None:
    """About thirty residents since 08:30 (or the last six hours), served by the two demo
    specialists; a few leave while waiting. Then three applications and their answers."""
    rng = random.Random(8)  # noqa: S311 -- sample data, not secrets
    redis = aioredis.from_url(redis_url, decode_responses=True)
    d = Dispatch(redis, load_rules())
    today = datetime.fromtimestamp(now, JST)
    start = max(
        today.replace(hour=8, minute=30, second=0, microsecond=0).timestamp(), now - 6 * 3600
    )
    end = now - 20 * 60
    people = {"suzuki": frozenset(PURPOSES), "tanaka": frozenset({"zei", "kokuho"})}
    for user, skills in people.items():
        await d.register(Specialist(user, skills), start - 60)
    count = 30
    served = []
    for i in range(count):
        at = start + (end - start) * i / count
        skill = rng.choice(["juumin", "juumin", "zei", "kokuho", "kosodate"])
        branch = rng.choice(["kita", "kita", "minami", "higashi"])
        sid = f"s-replay-{i:02d}"
        await d.create(
            sid,
            terminal_id=f"{branch}-r{i}",
            branch_id=branch,
            purpose=PURPOSES[skill],
            skill=skill,
            priority="normal",
            now=at,
        )
        if i % 9 == 4:
            await d.end_waiting(sid, EndReason.ABANDONED, at + rng.uniform(200, 500))
            continue
        user = "tanaka" if skill in people["tanaka"] and i % 2 else "suzuki"
        picked = at + rng.uniform(20, 420)
        offers = (await d.set_state(user, "available", picked)).offers
        if (sid, user) not in offers:
            await d.set_state(user, "away", picked)
            await d.end_waiting(sid, EndReason.ABANDONED, picked + 5)
            continue
        await d.accept(sid, user, picked + 4)
        done = picked + rng.uniform(300, 900)
        await d.hang_up(sid, EndReason.COMPLETED, done)
        await d.finish(sid, done + 40)
        await d.set_state(user, "away", done + 41)
        await redis.hset(f"mdg:session:{sid}", "rating", rng.choice([3, 4, 4, 5, 5, 5]))
        served.append((sid, branch))
    intake = Intake(redis, require_durable=False)
    kita = [sid for sid, branch in served if branch == "kita"][-4:]
    for n, sid in enumerate(kita):
        record = {"session_id": sid, "branch_id": "kita", "entries": {"avoided": 14 + 3 * n}}
        await intake.submit(json.dumps(record), f"app-{sid}", session_id=sid)
    for n in range(3):
        claimed = await intake.claim_next("yamada")
        if claimed is None:
            break
        if n == 0:
            await intake.done(claimed.status.entry_id, by="yamada")
        elif n == 1:
            await intake.return_(claimed.status.entry_id, "添付書類の確認", by="yamada")
    await redis.aclose()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with deployment_and_chromium() as (dep, browser):
        assert dep.hub and dep.branch and dep.redis
        load = Load(dep.hub.url, dep.redis.url)
        try:
            load.run(replay_morning(dep.redis.url, time.time()))
            # Residents waiting now, at three branches.
            for terminal, branch, purpose in (
                ("minami-01", "minami", "tax"),
                ("minami-02", "minami", "tax"),
                ("higashi-01", "higashi", "insurance"),
                ("kita-02", "kita", "moving"),
            ):
                peer = load.terminal(terminal, branch, f"{terminal} 窓口")
                load.send(peer, sig.SessionStart(purpose=purpose))
                load.expect(peer, sig.SessionWaiting)
            # Specialists at work: each takes the resident they are offered.
            for user in ("suzuki", "tanaka"):
                staff = load.staff(user, DEMO_PASSWORD)
                load.send(staff, sig.SpecialistSetState(state="available"))
                offered = load.expect(staff, sig.SessionOffered)
                load.send(staff, sig.SessionAccept(session_id=offered.session_id))
                load.expect(staff, sig.SessionAssigned)
            # And one more at the kiosk of the real terminal.
            page = browser.new_context(viewport=KIOSK_VIEWPORT).new_page()
            page.goto(dep.branch.kiosk_url + "/")
            page.click("button[data-purpose=certificate]")
            page.wait_for_selector("#screen-check:not([hidden])")
            page.click("#check-ok")
            page.wait_for_selector("#screen-waiting:not([hidden])")

            settled = time.time()
            context = browser.new_context(
                base_url=dep.hub.url, viewport={"width": 1280, "height": 1000}
            )
            dashboard = context.new_page()
            console_login(dashboard, "takahashi", DEMO_PASSWORD)
            dashboard.wait_for_selector("#supervisor-view:not([hidden]) #sup-skills")
            wait_js(
                dashboard, "document.querySelectorAll('#sup-waiting tr[data-ticket]').length >= 3"
            )
            # The picture once a snapshot computed after all of the above is shown (once a second).
            wait_js(dashboard, f"window.madoguchiDashboard.generatedAt > {settled}")
            dashboard.screenshot(path=OUT / "dashboard.png", full_page=True)

            lobby = browser.new_context(
                base_url=dep.hub.url, viewport={"width": 1600, "height": 900}
            ).new_page()
            lobby.goto("/board/kita")
            wait_js(lobby, "window.madoguchiBoard.tickets.length >= 4")
            lobby.screenshot(path=OUT / "board.png")
        finally:
            load.close()
    print("docs/img/dashboard.png\ndocs/img/board.png")


if __name__ == "__main__":
    main()
