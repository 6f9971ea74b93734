"""The speaker's pure parts, without a device: the jitter buffer and the frame converter."""

from __future__ import annotations

import fractions

import numpy as np
import pytest
from av import AudioFrame
from hypothesis import given
from hypothesis import strategies as st

from branch_client.devices.audio import RATE, SAMPLES, MonoConverter, PlayoutBuffer
from tests.pulse import peak_hz, tone


def counting(start: int, count: int) -> np.ndarray:
    return np.arange(start, start + count, dtype=np.int16)


def small(**overrides: int) -> PlayoutBuffer:
    """A buffer with round numbers: play at 100 queued, trim what stays above 150 for 1000."""
    return PlayoutBuffer(**{"target": 100, "slack": 50, "window": 1000, "cap": 5000, **overrides})


def test_play_out_waits_for_the_target_then_plays_in_order() -> None:
    buffer = PlayoutBuffer()  # the defaults: 60 ms target
    buffer.push(counting(1, SAMPLES))
    assert not buffer.pull(480).any(), "one frame is below the target: still silent"
    buffer.push(counting(1 + SAMPLES, SAMPLES))
    assert not buffer.pull(480).any(), "two frames are below the target: still silent"
    buffer.push(counting(1 + 2 * SAMPLES, SAMPLES))
    assert list(buffer.pull(1000)) == list(range(1, 1001))  # across frames
    assert list(buffer.pull(1880)) == list(range(1001, 2881))
    assert buffer.queued == 0 and buffer.underruns == 0 and buffer.played == 2880


def test_an_underrun_pads_with_silence_and_waits_for_the_target_again() -> None:
    buffer = small()
    buffer.push(counting(1, 150))
    out = buffer.pull(200)
    assert list(out[:150]) == list(range(1, 151)) and not out[150:].any()
    assert buffer.underruns == 1
    buffer.push(counting(151, 50))
    assert not buffer.pull(10).any(), "50 queued is below the target"
    buffer.push(counting(201, 50))
    assert list(buffer.pull(100)) == list(range(151, 251))


def test_latency_that_stays_is_trimmed_after_a_window_of_live_play_out() -> None:
    """Frames held up and then released together leave 400 queued; with the stream going on
    at its pace that never drains, so after a window the oldest 300 (all above target) go."""
    buffer = small()
    buffer.push(counting(1, 400))
    heard: list[int] = []
    for step in range(10):  # 1000 samples: one window
        buffer.push(counting(401 + 100 * step, 100))
        heard += list(buffer.pull(100))
    assert buffer.dropped == 300 - 100 + 100  # the low point was 400, less the 100 target
    assert heard == list(range(1, 1001))
    assert buffer.queued == 100
    assert list(buffer.pull(100)) == list(range(1301, 1401)), "the newest audio is kept"


def test_normal_jitter_is_never_trimmed() -> None:
    """Frames in pairs: the queue swings between target and target + 2 frames, and its low
    point stays under target + slack."""
    buffer = PlayoutBuffer()
    pushed = 0
    for _ in range(200):  # four seconds
        for _ in range(2):
            buffer.push(counting(pushed % 30000 + 1, SAMPLES))
            pushed += SAMPLES
        for _ in range(4):
            buffer.pull(SAMPLES // 2)
    assert buffer.dropped == 0 and buffer.underruns == 0


def test_a_clip_queued_at_once_is_played_whole() -> None:
    buffer = small()
    buffer.push(counting(1, 3000))  # like the kiosk's chime: a whole second at once
    heard: list[int] = []
    while buffer.queued:
        heard += list(buffer.pull(100))
    assert heard == list(range(1, 3001)) and buffer.dropped == 0


def test_the_queue_never_grows_past_its_cap() -> None:
    buffer = small(cap=500)
    buffer.push(counting(1, 400))
    buffer.push(counting(401, 400))
    assert buffer.queued == 500 and buffer.dropped == 300
    assert list(buffer.pull(100)) == list(range(301, 401))


def test_drain_plays_out_what_is_below_the_target() -> None:
    buffer = small()
    buffer.push(counting(1, 30))
    assert not buffer.pull(10).any()
    buffer.drain()
    out = buffer.pull(40)
    assert list(out[:30]) == list(range(1, 31)) and not out[30:].any()
    assert buffer.underruns == 0, "running dry while draining is the end, not an underrun"


def test_a_buffer_needs_room_between_target_and_cap() -> None:
    with pytest.raises(ValueError, match="target"):
        PlayoutBuffer(target=500, slack=100, cap=600)


@given(st.lists(st.tuples(st.booleans(), st.integers(1, 1000)), max_size=30))
def test_every_sample_is_played_once_in_order_or_dropped(ops: list[tuple[bool, int]]) -> None:
    buffer = small(cap=2000)
    pushed = 0
    heard: list[int] = []
    for is_push, count in ops:
        if is_push:
            buffer.push(counting(pushed + 1, count))  # sample i is i: never silence, never twice
            pushed += count
        else:
            out = buffer.pull(count)
            assert len(out) == count
            heard += [int(v) for v in out if v]
        assert buffer.queued <= buffer.cap
    assert buffer.played + buffer.dropped + buffer.queued == pushed
    assert len(heard) == buffer.played
    assert heard == sorted(set(heard)), "played in order, none twice"


def sine(hz: float, start: int, count: int, rate: int) -> np.ndarray:
    n = np.arange(start, start + count)
    return (0.3 * 32767 * np.sin(2 * np.pi * hz * n / rate)).astype(np.int16)


def frame(samples: np.ndarray, layout: str, rate: int) -> AudioFrame:
    channels = 2 if layout == "stereo" else 1
    out = AudioFrame.from_ndarray(
        np.repeat(samples, channels).reshape(1, -1), format="s16", layout=layout
    )
    out.sample_rate = rate
    out.pts = 0
    out.time_base = fractions.Fraction(1, rate)
    return out


def test_stereo_at_48_khz_is_mixed_to_mono_sample_for_sample() -> None:
    samples = tone(440.0, 0.02)
    converted = MonoConverter().convert(frame(samples, "stereo", RATE))
    assert converted.dtype == np.int16
    assert np.array_equal(converted, samples)


def test_other_rates_are_resampled_and_a_change_of_format_is_followed() -> None:
    converter = MonoConverter()
    out = []
    for i in range(50):  # half a second at 44.1 kHz stereo
        out.append(converter.convert(frame(sine(1000.0, i * 441, 441, 44_100), "stereo", 44_100)))
    for i in range(25):  # then half a second of 48 kHz mono
        out.append(converter.convert(frame(sine(1000.0, i * 960, 960, RATE), "mono", RATE)))
    first, second = np.concatenate(out[:50]), np.concatenate(out[50:])
    assert abs(len(first) - RATE // 2) <= 64, "resampling delays a few samples at most"
    assert len(second) == RATE // 2
    assert abs(peak_hz(first[-RATE // 4 :]) - 1000.0) <= 4.0
    assert abs(peak_hz(second) - 1000.0) <= 2.0
