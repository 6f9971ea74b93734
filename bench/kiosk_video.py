"""``madoguchi bench kiosk-video``: the delay the kiosk adds to the specialist's video.

Starts a private Redis, a hub and a terminal (with ``MADOGUCHI_VIDEO_PROBE=1``) and headless
Chromium with two pages: the specialist's console and the resident's kiosk. The console's camera
is replaced by a canvas that draws, every frame, the wall clock's low 16 bits as a row of black and
white cells (:func:`branch_client.kiosk.local_media.read_time_code` reads them). A call is set up;
then, for ``runs`` seconds:

* the terminal notes when each coded frame arrives from WebRTC (decoded by aiortc);
* the kiosk page reads the code of the picture it shows at every animation frame and notes when
  each new code first appears.

All processes share this machine's clock, so for every code seen on both sides we get

* ``webrtc_ms``: drawn in the console -> decoded at the terminal (what WebRTC delivers);
* ``added_ms``: decoded at the terminal -> shown on the kiosk (what the kiosk adds: JPEG encoding,
  the local HTTP stream, the browser's decode and paint, up to one display refresh);
* ``glass_ms``: the sum, drawn -> shown.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from bench.browser import KIOSK_VIEWPORT, deployment_and_chromium, specialist_ready, wait_js
from bench.common import POLL_S, machine, summary_ms
from madoguchi.waiting import wait_for

# The specialist's camera: a canvas with the time code (cells of width/32, one cell in from the
# top-left corner) and a moving bar so the encoder has motion to code, plus a quiet tone.
CODED_CAMERA = """
(() => {
  const W = 640, H = 480, CELL = W / 32;
  const canvas = document.createElement("canvas");
  canvas.width = W; canvas.height = H;
  const g = canvas.getContext("2d");
  function draw() {
    const now = Date.now(), code = now & 0xffff;
    g.fillStyle = "#808080"; g.fillRect(0, 0, W, H);
    g.fillStyle = "#3060c0"; g.fillRect((now / 5) % W, 200, 60, 200);
    for (let bit = 0; bit < 16; bit++) {
      g.fillStyle = (code >> (15 - bit)) & 1 ? "#ffffff" : "#000000";
      g.fillRect((1 + bit) * CELL, CELL, CELL, CELL);
    }
  }
  setInterval(draw, 1000 / 30);
  draw();
  const fake = async () => {
    const stream = canvas.captureStream(30);
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    gain.gain.value = 0.05;
    const dest = ctx.createMediaStreamDestination();
    osc.connect(gain).connect(dest);
    osc.start();
    for (const track of dest.stream.getAudioTracks()) stream.addTrack(track);
    return stream;
  };
  navigator.mediaDevices.getUserMedia = fake;
})();
"""

# In the kiosk page: read the code of the picture shown, at each animation frame.
WATCH_KIOSK = """
async (seconds) => {
  const img = document.getElementById("staff-video");
  const canvas = document.createElement("canvas");
  const g = canvas.getContext("2d", { willReadFrequently: true });
  const seen = [];
  let last = -1;
  const end = performance.now() + seconds * 1000;
  await new Promise((done) => {
    function tick() {
      const now = Date.now();
      if (Number(img.dataset.frames ?? 0) > 0) {
        canvas.width = img.width; canvas.height = img.height;
        g.drawImage(img, 0, 0);
        const cell = canvas.width / 32;
        const row = g.getImageData(0, cell, canvas.width, cell).data;
        let code = 0, clear = true;
        for (let bit = 0; bit < 16; bit++) {
          const x = Math.round((1.5 + bit) * cell), y = Math.round(cell / 2);
          const i = (y * canvas.width + x) * 4;
          const v = (row[i] + row[i + 1] + row[i + 2]) / 3;
          if (v > 70 && v < 185) clear = false;
          code = (code << 1) | (v > 128 ? 1 : 0);
        }
        if (clear && code !== last) { seen.push([code, now]); last = code; }
      }
      if (performance.now() < end) requestAnimationFrame(tick); else done();
    }
    requestAnimationFrame(tick);
  });
  return seen;
}
"""


def _unwrap(code: int, near_ms: float) -> float:
    """The wall-clock ms whose low 16 bits are ``code``, at or just before ``near_ms``."""
    return near_ms - ((int(near_ms) - code) % 65536)


def run(runs: int = 10, verbose: bool = True) -> dict[str, Any]:
    seconds = max(2, runs)
    os.environ["MADOGUCHI_VIDEO_PROBE"] = "1"  # inherited by the terminal we start
    arrivals: dict[int, float] = {}
    shown: list[tuple[int, float]] = []
    tap: dict[str, Any] = {}
    with deployment_and_chromium() as (dep, browser):
        assert dep.hub is not None and dep.branch is not None
        branch = dep.branch
        console = browser.new_context(base_url=dep.hub.url)
        console.add_init_script(CODED_CAMERA)
        page = console.new_page()
        specialist_ready(page)
        kiosk = browser.new_context(viewport=KIOSK_VIEWPORT).new_page()
        kiosk.goto(branch.kiosk_url + "/")
        branch.kiosk_post("/api/start", {"purpose": "moving"})
        page.wait_for_selector("#ring:not([hidden])")
        page.click("#accept")
        wait_for(
            lambda: branch.status()["views"]["staff"].get("arrivals"),
            "coded frames at the terminal",
            every=POLL_S,
        )
        kiosk.wait_for_selector("#screen-call:not([hidden])")
        wait_js(kiosk, "Number(document.getElementById('staff-video').dataset.frames) > 0")
        time.sleep(1.0)  # pacing on purpose: let the streams settle before measuring
        if verbose:
            print(f"measuring for {seconds} s", file=sys.stderr, flush=True)
        watch = kiosk.evaluate_handle(WATCH_KIOSK, seconds)
        # The terminal keeps its last 300 arrivals: collect them as we go, once a second.
        deadline = time.monotonic() + seconds + 1
        while time.monotonic() < deadline:
            for code, at in branch.status()["views"]["staff"]["arrivals"]:
                arrivals.setdefault(code, at)
            time.sleep(1.0)
        shown = [tuple(x) for x in watch.json_value()]
        views = branch.status()["views"]
        for code, at in views["staff"]["arrivals"]:
            arrivals.setdefault(code, at)
        tap = views["staff"]
    webrtc, added, glass = [], [], []
    for code, shown_at in shown:
        arrived = arrivals.get(code)
        if arrived is None:
            continue
        drawn = _unwrap(code, arrived)
        webrtc.append(arrived - drawn)
        added.append(shown_at - arrived)
        glass.append(shown_at - drawn)
    if not added:
        return {"benchmark": "kiosk-video", "error": "no_matching_frames", "shown": len(shown)}
    return {
        "benchmark": "kiosk-video",
        "seconds": seconds,
        "frames_arrived": len(arrivals),
        "frames_shown": len(shown),
        "frames_matched": len(added),
        "shown_fps": round(len(shown) / seconds, 1),
        "webrtc_ms": summary_ms(webrtc),
        "added_ms": summary_ms(added),
        "glass_ms": summary_ms(glass),
        "terminal_tap_added_p50_ms": tap.get("added_ms_p50"),
        "machine": machine(),
    }
