"""The resident and the specialist hear each other, for real: the terminal's microphone and
speaker are PortAudio devices on a private PulseAudio (:mod:`tests.pulse`), the specialist's
Chromium sends a known tone and analyses what it receives with Web Audio.

A 440 Hz tone played into the ``mic`` null sink is what the terminal's microphone hears; it must
arrive in the browser at 440 Hz. The browser's microphone is an 880 Hz oscillator; it must come
out of the terminal's speaker, recorded from the ``spk`` sink's monitor, at 880 Hz.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page

from bench.browser import wait_js
from madoguchi.local_deployment import LocalDeployment
from madoguchi.waiting import wait_for
from tests.e2e.conftest import StaffPage
from tests.pulse import (
    MIC_SINK,
    RATE,
    SPEAKER_SINK,
    PulseServer,
    TimedRecording,
    peak_hz,
    tone_seconds,
    tone_wav,
    tone_windows,
)

RESIDENT_HZ = 440.0
SPECIALIST_HZ = 880.0

# The specialist's camera and microphone, made in the page before the console's script runs: a
# canvas that changes every frame, and an oscillator. (An init script is not subject to the
# console's CSP.)
FAKE_MEDIA = """
(() => {
  const fake = async (constraints) => {
    const audio = new AudioContext({ sampleRate: 48000 });
    await audio.resume();
    const oscillator = audio.createOscillator();
    oscillator.frequency.value = __HZ__;
    const gain = audio.createGain();
    gain.gain.value = 0.3;
    const out = audio.createMediaStreamDestination();
    oscillator.connect(gain).connect(out);
    oscillator.start();
    const canvas = Object.assign(document.createElement("canvas"), { width: 320, height: 240 });
    const paint = canvas.getContext("2d");
    let n = 0;
    setInterval(() => {
      paint.fillStyle = `hsl(${(n += 7) % 360} 60% 50%)`;
      paint.fillRect(0, 0, canvas.width, canvas.height);
    }, 33);
    window.madoguchiFakeMedia = { audio, oscillator };
    return new MediaStream([
      ...canvas.captureStream(30).getVideoTracks(),
      ...out.stream.getAudioTracks(),
    ]);
  };
  navigator.mediaDevices.getUserMedia = fake;
})();
""".replace("__HZ__", str(SPECIALIST_HZ))

# What the specialist hears: the remote stream's audio through an AnalyserNode, several spectra
# a quarter of a second apart, each reduced to its peak and its median level.
ANALYSE_REMOTE_AUDIO = """
async () => {
  const stream = document.getElementById("remote-video").srcObject;
  const tracks = stream ? stream.getAudioTracks() : [];
  if (!tracks.length) return { error: "no remote audio track" };
  const audio = new AudioContext();
  await audio.resume();
  const analyser = audio.createAnalyser();
  analyser.fftSize = 8192;
  analyser.smoothingTimeConstant = 0;
  audio.createMediaStreamSource(new MediaStream(tracks)).connect(analyser);
  const spectra = [];
  for (let i = 0; i < 5; i++) {
    await new Promise((done) => setTimeout(done, 250));
    const db = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(db);
    let peak = 1;
    for (let k = 1; k < db.length; k++) if (db[k] > db[peak]) peak = k;
    const levels = Array.from(db, (v) => (Number.isFinite(v) ? v : -1000)).sort((a, b) => a - b);
    spectra.push({ peakBin: peak, peakDb: Math.max(db[peak], -1000),
                   medianDb: levels[levels.length >> 1] });
  }
  const result = { sampleRate: audio.sampleRate, fftSize: analyser.fftSize, spectra,
                   trackState: tracks[0].readyState, muted: tracks[0].muted };
  await audio.close();
  return result;
}
"""


QUIET_WINDOW_S = 2048 / 44_100  # what the silence watcher looks at: one analyser buffer
WATCH_FOR_SILENCE = """
() => {
  const stream = document.getElementById("remote-video").srcObject;
  const audio = new AudioContext({ sampleRate: 44100 });
  const analyser = audio.createAnalyser();
  analyser.fftSize = 2048;
  audio.createMediaStreamSource(new MediaStream(stream.getAudioTracks())).connect(analyser);
  const buffer = new Float32Array(analyser.fftSize);
  // Resolves with the page time at which the last 46 ms became silent, after a tone was heard.
  window.madoguchiTestSilence = new Promise((resolve) => {
    let heard = false;
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(buffer);
      const peak = buffer.reduce((top, v) => Math.max(top, Math.abs(v)), 0);
      if (peak > 0.05) heard = true;
      else if (heard && peak < 0.001) {
        clearInterval(timer);
        audio.close();
        resolve(performance.now());
      }
    }, 5);
  });
  return audio.resume();
}
"""


@pytest.fixture
def pulse(tmp_path: Path) -> Iterator[PulseServer]:
    server = PulseServer(tmp_path / "pulse")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def resident_voice(pulse: PulseServer, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The resident's voice: a 440 Hz tone into the ``mic`` sink, a minute long."""
    player = pulse.play(MIC_SINK, tone_wav(tmp_path / "resident.wav", RESIDENT_HZ, 60.0))
    yield player
    player.terminate()
    player.wait()


@pytest.fixture
def deployment(tmp_path: Path, pulse: PulseServer) -> Iterator[LocalDeployment]:
    """Redis, a hub, and a terminal whose ``default`` sound devices are the private PulseAudio's
    ``mic`` monitor and ``spk`` sink; the terminal asks for a counter as soon as it is online."""
    with LocalDeployment(
        tmp_path / "deployment",
        start_purpose="moving",
        audio="default",
        branch_env={
            **pulse.client_env,
            "PULSE_SINK": SPEAKER_SINK,
            "PULSE_SOURCE": f"{MIC_SINK}.monitor",
        },
    ) as dep:
        yield dep


@pytest.fixture
def specialist(staff_page: StaffPage) -> Page:
    """Suzuki on the staff console, whose camera and microphone are the fake ones above."""
    page = staff_page("suzuki", init_script=FAKE_MEDIA)
    page.wait_for_selector("#my-state[data-state=away]")
    return page


def check_spectra(result: dict[str, Any], hz: float) -> None:
    assert "error" not in result, result
    bin_hz = result["sampleRate"] / result["fftSize"]
    for spectrum in result["spectra"]:
        peak = spectrum["peakBin"] * bin_hz
        assert abs(peak - hz) <= bin_hz, f"the browser hears {peak:.0f} Hz, not {hz:.0f}: {result}"
        assert spectrum["peakDb"] > -50, f"the browser hears next to nothing: {result}"
        assert spectrum["peakDb"] - spectrum["medianDb"] > 30, f"a tone lost in noise: {result}"


def test_resident_and_specialist_hear_each_others_tones(
    deployment: LocalDeployment,
    specialist: Page,
    pulse: PulseServer,
    resident_voice: subprocess.Popen[bytes],
) -> None:
    branch, page = deployment.branch, specialist
    assert branch is not None
    wait_for(lambda: branch.status()["phase"] == "waiting", "the terminal to wait")

    page.click("#ready")
    page.wait_for_selector("#ring:not([hidden])")
    page.click("#accept")
    wait_js(page, "window.madoguchiConsole.inboundStats().then(s => s.audioPackets >= 50)")
    status = branch.status()
    assert status["microphone"] == "ok", status

    # (a) The resident's 440 Hz, through the terminal's microphone, in the specialist's ears.
    heard = page.evaluate(ANALYSE_REMOTE_AUDIO)
    print("browser:", heard)
    check_spectra(heard, RESIDENT_HZ)

    # The resident falls silent, and the specialist's loudspeaker soon after: what the browser
    # heard was the microphone (not a tone made up on the way: the synthetic one is 440 Hz too),
    # and in real time.
    page.evaluate(WATCH_FOR_SILENCE)
    killed_at = page.evaluate("performance.now()")
    resident_voice.terminate()
    resident_voice.wait()
    quiet_at = page.evaluate(
        "Promise.race([window.madoguchiTestSilence, new Promise(r => setTimeout(r, 5000, null))])"
    )
    assert quiet_at is not None, "the browser still hears the resident 5 s after they stopped"
    mic_lag = (quiet_at - killed_at) / 1000 - QUIET_WINDOW_S
    print(f"microphone to browser: silent {mic_lag * 1000:.0f} ms after the tone stopped")
    assert mic_lag < 1.5, "the browser hears the resident late"

    # (b) The specialist's 880 Hz, out of the terminal's speaker; then they stop, and so does it.
    wait_for(
        lambda: branch.status()["media"]["audio_frames"] >= 50,
        "the terminal to receive a second of the specialist's audio",
    )
    recording = TimedRecording(pulse, f"{SPEAKER_SINK}.monitor")
    wait_for(lambda: recording.seconds >= 1.2, "1.2 s of the speaker recorded", 10, every=0.02)
    stopped_at = time.monotonic()
    page.evaluate("window.madoguchiFakeMedia.oscillator.stop()")
    wait_for(
        lambda: recording.heard_until >= stopped_at + 1.0,
        "a second of the speaker recorded after the oscillator stopped",
        10,
        every=0.02,
    )
    recording.stop()
    everything = recording.samples
    second = everything[RATE // 10 : RATE // 10 + RATE]  # a second while the tone played
    clear = tone_seconds(second, SPECIALIST_HZ)
    print(f"speaker: peak {peak_hz(second):.1f} Hz, {clear:.2f} s of clear tone in 1 s")
    assert np.abs(second).max() > 1000, "the terminal's speaker is silent"
    assert abs(peak_hz(second) - SPECIALIST_HZ) <= 1.0
    assert clear >= 0.9, f"only {clear:.2f} s of a second was the specialist's tone"
    windows = tone_windows(everything, SPECIALIST_HZ)
    last = len(windows) - 1 - int(np.argmax(windows[::-1]))
    speaker_lag = recording.time_of((last + 1) * 960 - 1) - stopped_at
    print(f"browser to speaker: silent {speaker_lag * 1000:.0f} ms after the oscillator stopped")
    assert 0 < speaker_lag < 1.5, "the speaker plays the specialist late"
    assert np.abs(everything[-RATE // 5 :]).max() < 100, "the speaker went on after the tone"
