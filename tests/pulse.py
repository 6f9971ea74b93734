"""A private PulseAudio for the audio tests, and the signal helpers they share.

The server runs on a socket in a temporary directory (anonymous auth, so no cookie and no
``HOME`` to share) with two null sinks: a tone played into ``mic`` is what a microphone reading
``mic.monitor`` hears, and whatever plays into ``spk`` can be recorded from ``spk.monitor``.
``mic.monitor`` is the default source and ``spk`` the default sink, so PortAudio's ``default``
device (ALSA's PulseAudio plugin) is wired to both. ALSA decides whether ``default`` means
PulseAudio when PortAudio starts, so ``sounddevice`` must be imported only once the server runs.

A null sink renders as far ahead as the lowest latency any of its streams asks for, and with none
asking, two seconds at a time: audio would come out of a monitor in two-second lumps, late. So
the server keeps a low-latency recorder on each monitor (the *pacers*), and :meth:`start` returns
once both sinks have worked off the two seconds they rendered ahead at start-up.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from madoguchi.waiting import wait_for

RATE = 48_000
MIC_SINK = "mic"
SPEAKER_SINK = "spk"

CONFIG = f"""\
load-module module-native-protocol-unix auth-anonymous=1 socket={{socket}}
load-module module-null-sink sink_name={MIC_SINK} rate={RATE} channels=1
load-module module-null-sink sink_name={SPEAKER_SINK} rate={RATE} channels=1
set-default-sink {SPEAKER_SINK}
set-default-source {MIC_SINK}.monitor
"""


class PulseServer:
    """``pulseaudio`` in ``home``: started by :meth:`start`, answered on :attr:`server`."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.server = f"unix:{home / 'native'}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._pacers: list[subprocess.Popen[bytes]] = []

    @property
    def client_env(self) -> dict[str, str]:
        """What a client needs in its environment to use this server (and only this one)
        without touching ``~/.config/pulse``."""
        return {
            "PULSE_SERVER": self.server,
            "PULSE_RUNTIME_PATH": str(self.home / "run"),
            "PULSE_COOKIE": str(self.home / "cookie"),
        }

    @property
    def env(self) -> dict[str, str]:
        """This process's environment with :attr:`client_env`: for the command-line tools."""
        return {**os.environ, **self.client_env}

    def start(self, timeout: float = 10.0) -> None:
        (self.home / "run").mkdir(parents=True, exist_ok=True)
        script = self.home / "default.pa"
        script.write_text(CONFIG.format(socket=self.home / "native"))
        log = self.home / "pulseaudio.log"
        with log.open("wb") as out:
            self._proc = subprocess.Popen(
                [
                    *("pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "--system=false"),
                    *("--use-pid-file=no", "--realtime=no", "--high-priority=no", "-n"),
                    *("-F", str(script), "--log-target=stderr", "--log-level=error"),
                ],
                env={**self.env, "HOME": str(self.home), "XDG_RUNTIME_DIR": str(self.home / "run")},
                stdin=subprocess.DEVNULL,
                stderr=out,
            )
        proc = self._proc

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"pulseaudio exited: {log.read_text()}")
            info = subprocess.run(["pactl", "info"], env=self.env, capture_output=True)
            return info.returncode == 0

        try:
            wait_for(
                answers, lambda: f"pulseaudio to answer: {log.read_text()}", timeout, every=0.05
            )
            self._pacers = [
                subprocess.Popen(
                    ["parec", f"--device={sink}.monitor", "--raw", "--latency-msec=5"],
                    env=self.env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                )
                for sink in (MIC_SINK, SPEAKER_SINK)
            ]
            wait_for(
                lambda: max(self.sink_latencies()) <= 0.05,
                lambda: f"the null sinks to catch up (still {self.sink_latencies()} s ahead)",
                timeout,
                every=0.05,
            )
        except BaseException:
            self.stop()
            raise

    def sink_latencies(self) -> list[float]:
        """How far ahead of the clock each sink has rendered, in seconds."""
        listing = subprocess.run(
            ["pactl", "list", "sinks"], env=self.env, capture_output=True, text=True, check=True
        ).stdout
        return [int(usec) / 1e6 for usec in re.findall(r"\bLatency: (\d+) usec", listing)]

    def stop(self) -> None:
        for proc in [*self._pacers, self._proc]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def play(self, sink: str, wav: Path) -> subprocess.Popen[bytes]:
        """Play ``wav`` into ``sink`` (in the background)."""
        return subprocess.Popen(
            ["paplay", f"--device={sink}", str(wav)], env=self.env, stdin=subprocess.DEVNULL
        )

    def recorder(self, source: str) -> subprocess.Popen[bytes]:
        """Record ``source`` as raw 48 kHz mono s16 on the process's stdout, with little
        buffering; :func:`read_seconds` reads it."""
        return subprocess.Popen(
            [
                *("parec", f"--device={source}", "--raw", "--format=s16le"),
                *(f"--rate={RATE}", "--channels=1", "--latency-msec=10"),
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )

    def record(self, source: str, seconds: float) -> np.ndarray:
        """``seconds`` of ``source``, recorded from now."""
        rec = self.recorder(source)
        try:
            return read_seconds(rec, seconds)
        finally:
            stop_recorder(rec)


def stop_recorder(rec: subprocess.Popen[bytes]) -> None:
    rec.terminate()
    rec.wait()
    if rec.stdout is not None:
        rec.stdout.close()


class TimedRecording:
    """``parec`` on a monitor, read on a thread that notes when each chunk arrived, so a sample
    index can be turned into (roughly) the moment it was played."""

    def __init__(self, pulse: PulseServer, source: str) -> None:
        self._rec = pulse.recorder(source)
        self._chunks: list[tuple[float, bytes]] = []
        self._thread = threading.Thread(target=self._read, name="parec-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._rec.stdout is not None
        fd = self._rec.stdout.fileno()
        while chunk := os.read(fd, 4096):
            self._chunks.append((time.monotonic(), chunk))

    def stop(self) -> None:
        self._rec.terminate()
        self._thread.join(5)
        stop_recorder(self._rec)

    @property
    def seconds(self) -> float:
        """How much has been recorded so far."""
        return sum(len(chunk) for _, chunk in list(self._chunks)) / 2 / RATE

    @property
    def heard_until(self) -> float:
        """When the newest chunk arrived (``time.monotonic``); 0 before the first."""
        chunks = self._chunks
        return chunks[-1][0] if chunks else 0.0

    @property
    def samples(self) -> np.ndarray:
        data = b"".join(chunk for _, chunk in self._chunks)
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2")

    def time_of(self, index: int) -> float:
        """When sample ``index`` was recorded (``time.monotonic``): its chunk's arrival less
        what followed it in the chunk. The monitor of a null sink hears audio within a few
        milliseconds of its being played (the pacers see to that)."""
        end = 0
        for arrived, chunk in self._chunks:
            end += len(chunk) // 2
            if end > index:
                return arrived - (end - index) / RATE
        raise IndexError(index)


def read_seconds(rec: subprocess.Popen[bytes], seconds: float) -> np.ndarray:
    """The next ``seconds`` of a :meth:`PulseServer.recorder`, as int16 samples."""
    assert rec.stdout is not None
    want = int(RATE * seconds) * 2
    data = bytearray()
    while len(data) < want:
        chunk = os.read(rec.stdout.fileno(), want - len(data))
        if not chunk:
            raise RuntimeError(f"parec stopped after {len(data) / 2 / RATE:.2f} s")
        data += chunk
    return np.frombuffer(bytes(data), dtype="<i2")


def private_pulse(home: Path) -> Iterator[PulseServer]:
    """A started :class:`PulseServer`, with its :attr:`~PulseServer.client_env` set in this
    process's environment while it runs, so in-process PortAudio uses it; for fixtures."""
    pulse = PulseServer(home)
    pulse.start()
    saved = {name: os.environ.get(name) for name in pulse.client_env}
    os.environ.update(pulse.client_env)
    try:
        yield pulse
    finally:
        pulse.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def tone(hz: float, seconds: float, level: float = 0.3) -> np.ndarray:
    """A sine at ``hz`` as int16 samples at 48 kHz."""
    n = np.arange(int(RATE * seconds))
    return (level * 32767 * np.sin(2 * np.pi * hz * n / RATE)).astype("<i2")


def tone_wav(path: Path, hz: float, seconds: float) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(tone(hz, seconds).tobytes())
    return path


def peak_hz(samples: np.ndarray) -> float:
    """The frequency of the strongest FFT bin of ``samples`` (48 kHz)."""
    spectrum = np.abs(np.fft.rfft(samples.astype(float) * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * RATE / len(samples))


def tone_windows(samples: np.ndarray, hz: float, window: float = 0.02) -> np.ndarray:
    """For each ``window`` of ``samples``, whether it carries a clear tone at ``hz``: loud, and
    with its energy at ``hz`` (a gap, a click or another pitch in the window spoils it)."""
    size = int(RATE * window)
    blocks = samples[: len(samples) // size * size].astype(float).reshape(-1, size)
    n = np.arange(size)
    probe = np.exp(-2j * np.pi * hz * n / RATE)
    at_hz = np.abs(blocks @ probe) * 2 / size  # amplitude of the tone in each window
    rms = np.sqrt(np.mean(blocks**2, axis=1)) * np.sqrt(2)  # amplitude a pure sine would have
    clear: np.ndarray = (rms > 1000) & (at_hz > 0.8 * rms)
    return clear


def tone_seconds(samples: np.ndarray, hz: float, window: float = 0.02) -> float:
    """How many seconds of ``samples`` carry a clear tone at ``hz`` (see :func:`tone_windows`)."""
    return float(np.count_nonzero(tone_windows(samples, hz, window)) * window)
