"""Microphone and speaker through the real PortAudio -> ALSA -> PulseAudio path, against a
private PulseAudio (:mod:`tests.pulse`): a tone played into the ``mic`` null sink is what the
microphone hears, and what the speaker plays is recorded from the ``spk`` sink's monitor."""

from __future__ import annotations

import asyncio
import fractions
import time
from pathlib import Path

import numpy as np
import pytest
from av import AudioFrame

from branch_client.devices import DeviceError, open_microphone, open_speaker
from branch_client.devices.synthetic import tone_frames
from tests.pulse import (
    RATE,
    SPEAKER_SINK,
    PulseServer,
    TimedRecording,
    peak_hz,
    tone,
    tone_seconds,
    tone_wav,
    tone_windows,
)

BIN_HZ = 1.0  # the FFT bin width of a one-second analysis


def stereo_frames(samples: np.ndarray) -> list[AudioFrame]:
    """``samples`` as aiortc's Opus decoder hands them over: 20 ms of 48 kHz stereo s16."""
    frames = []
    for start in range(0, len(samples), 960):
        block = samples[start : start + 960]
        frame = AudioFrame.from_ndarray(
            np.repeat(block, 2).reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = RATE
        frame.pts = start
        frame.time_base = fractions.Fraction(1, RATE)
        frames.append(frame)
    return frames


def first_tone_index(samples: np.ndarray, hz: float) -> int:
    """Where the tone starts: the first 5 ms window that is loud and at ``hz``."""
    size = 240
    for start in range(0, len(samples) - size, size):
        if tone_seconds(samples[start : start + 960], hz) >= 0.02:
            return start
    raise AssertionError("no tone at all")


async def test_speaker_plays_a_two_second_tone_continuously(pulse: PulseServer) -> None:
    """2 s of 660 Hz arrive as 20 ms frames in bursts of two every 40 ms, as network jitter
    delivers them; all of it reaches the sink, at the right pitch, promptly, and the end is not
    cut off by closing."""
    frames = stereo_frames(tone(660.0, 2.0))
    recording = TimedRecording(pulse, f"{SPEAKER_SINK}.monitor")
    speaker = await open_speaker("default")
    from branch_client.devices.sounddevice_audio import SoundDeviceSpeaker  # after PulseAudio

    assert isinstance(speaker, SoundDeviceSpeaker)
    try:
        await asyncio.sleep(0.2)  # the recorder is running
        started = time.monotonic()
        for i in range(0, len(frames), 2):
            await asyncio.sleep(max(0.0, started + i * 0.02 - time.monotonic()))
            for frame in frames[i : i + 2]:
                speaker.play(frame)
        queued_latency = speaker.latency
    finally:
        await asyncio.to_thread(speaker.close)
    await asyncio.sleep(0.3)
    recording.stop()
    samples = recording.samples
    clear = tone_windows(samples, 660.0)  # 20 ms windows
    heard = float(np.count_nonzero(clear) * 0.02)
    first, last = int(np.argmax(clear)), len(clear) - 1 - int(np.argmax(clear[::-1]))
    span = (last - first + 1) * 0.02
    onset = first_tone_index(samples, 660.0)
    latency = recording.time_of(onset) - started
    buffer = speaker.buffer
    print(
        f"heard {heard:.2f} s of the 2 s tone over {span:.2f} s; underruns {buffer.underruns},"
        f" dropped {buffer.dropped} samples; at the sink {latency * 1000:.0f} ms after the first"
        f" play(); queued + device latency at the end {queued_latency * 1000:.0f} ms"
    )
    assert span >= 1.98, f"the tone lasted {span:.2f} s at the sink: its end was cut off"
    assert heard >= 1.96, f"only {heard:.2f} s of the 2 s tone came through cleanly"
    tail = samples[onset : onset + RATE]
    assert abs(peak_hz(tail) - 660.0) <= BIN_HZ
    assert np.abs(tail).max() > 0.25 * 32767  # level kept through the stereo to mono mix
    assert latency < 0.25, f"{latency * 1000:.0f} ms from play() to the sink"


async def test_a_clip_queued_at_once_plays_whole(pulse: PulseServer) -> None:
    """The kiosk's speaker check queues its one-second chime all at once: none of it is taken
    for latency and dropped."""
    recording = TimedRecording(pulse, f"{SPEAKER_SINK}.monitor")
    speaker = await open_speaker("default")
    try:
        await asyncio.sleep(0.1)
        for frame in tone_frames(660.0, seconds=1.0):
            speaker.play(frame)
        await asyncio.sleep(1.1)
    finally:
        await asyncio.to_thread(speaker.close)
    recording.stop()
    heard = tone_seconds(recording.samples, 660.0)
    print(f"heard {heard:.2f} s of the 1 s chime")
    assert heard >= 0.94  # the chime fades in and out over 20 ms at each end


async def test_microphone_hears_the_tone(pulse: PulseServer, tmp_path: Path) -> None:
    player = pulse.play("mic", tone_wav(tmp_path / "tone.wav", 440.0, 4.0))
    mic = open_microphone("default")
    try:
        received = [await asyncio.wait_for(mic.recv(), 2) for _ in range(100)]  # two seconds
    finally:
        mic.stop()
        player.terminate()
        await asyncio.to_thread(player.wait)
    frames = [f for f in received if isinstance(f, AudioFrame)]
    assert len(frames) == len(received)
    assert {(f.sample_rate, f.samples, f.format.name, f.layout.name) for f in frames} == {
        (RATE, 960, "s16", "mono")
    }
    pts = [f.pts for f in frames]
    assert pts == list(range(0, 960 * 100, 960))
    samples = np.concatenate([f.to_ndarray().ravel() for f in frames[50:]])  # the last second
    assert np.abs(samples).max() > 1000, "the microphone heard silence"
    assert abs(peak_hz(samples) - 440.0) <= BIN_HZ
    assert tone_seconds(samples, 440.0) >= 0.95


def test_a_missing_microphone_raises_a_coded_error(pulse: PulseServer) -> None:
    with pytest.raises(DeviceError) as missing:
        open_microphone("no-such-microphone")
    assert missing.value.code == "microphone_unavailable"


async def test_a_missing_speaker_raises_a_coded_error(pulse: PulseServer) -> None:
    with pytest.raises(DeviceError) as missing:
        await open_speaker("no-such-speaker")
    assert missing.value.code == "speaker_unavailable"


def test_the_recorder_hears_nothing_when_nothing_plays(pulse: PulseServer) -> None:
    """The speaker test's measure is not fooled by an idle sink."""
    silence = pulse.record(f"{SPEAKER_SINK}.monitor", 0.5)
    assert len(silence) == RATE // 2
    assert tone_seconds(silence, 660.0) == 0.0
