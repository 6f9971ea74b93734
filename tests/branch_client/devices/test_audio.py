"""Microphone and speaker through the real PortAudio -> ALSA -> PulseAudio path, against a
private PulseAudio with two null sinks: a tone played into ``mdg_mic`` is what the microphone
hears (through ``mdg_mic.monitor``)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from branch_client.devices import DeviceError, open_microphone

RATE = 48_000

PULSE_CONFIG = """\
load-module module-native-protocol-unix
load-module module-null-sink sink_name=mdg_speaker rate=48000 channels=1
load-module module-null-sink sink_name=mdg_mic rate=48000 channels=1
set-default-sink mdg_speaker
set-default-source mdg_mic.monitor
"""


@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A PulseAudio of our own, on a socket in a temporary directory, stopped at teardown."""
    home = tmp_path_factory.mktemp("pulse")
    runtime = home / "run"
    runtime.mkdir()
    (home / "default.pa").write_text(PULSE_CONFIG)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "PULSE_RUNTIME_PATH": str(runtime),
        "PULSE_SERVER": f"unix:{runtime}/native",
    }
    saved = {k: os.environ.get(k) for k in ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "HOME")}
    log = (home / "pulseaudio.log").open("wb")
    server = subprocess.Popen(
        [
            *("pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--system=false", "-n"),
            *("-F", str(home / "default.pa"), "--log-target=stderr", "--log-level=error"),
        ],
        env=env,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode:
            assert server.poll() is None, (home / "pulseaudio.log").read_text()
            assert time.monotonic() < deadline, "pulseaudio did not answer"
            time.sleep(0.1)
        os.environ.update({k: env[k] for k in saved})
        yield env
    finally:
        server.terminate()
        server.wait(10)
        log.close()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def tone_wav(path: Path, hz: float, seconds: float) -> Path:
    n = np.arange(int(RATE * seconds))
    samples = (0.3 * 32767 * np.sin(2 * np.pi * hz * n / RATE)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())
    return path


def peak_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(float) * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * RATE / len(samples))


async def test_microphone_hears_the_tone(pulse: dict[str, str], tmp_path: Path) -> None:
    wav = tone_wav(tmp_path / "tone.wav", 440.0, 4.0)
    player = await asyncio.create_subprocess_exec("paplay", "--device=mdg_mic", str(wav), env=pulse)
    mic = open_microphone("default")
    try:
        frames = [await asyncio.wait_for(mic.recv(), 2) for _ in range(100)]  # two seconds
    finally:
        mic.stop()
        player.terminate()
        await player.wait()
    assert {(f.sample_rate, f.samples, f.format.name, f.layout.name) for f in frames} == {
        (RATE, 960, "s16", "mono")
    }
    pts = [f.pts for f in frames]
    assert pts == list(range(0, 960 * 100, 960))
    samples = np.concatenate([f.to_ndarray().ravel() for f in frames[50:]])  # the last second
    assert np.abs(samples).max() > 1000, "the microphone heard silence"
    assert abs(peak_hz(samples) - 440.0) <= 5.0


def test_a_missing_microphone_raises_a_coded_error(pulse: dict[str, str]) -> None:
    with pytest.raises(DeviceError) as missing:
        open_microphone("no-such-microphone")
    assert missing.value.code == "microphone_unavailable"
