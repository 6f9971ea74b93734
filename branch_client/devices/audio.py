"""The audio interfaces: a microphone is an aiortc audio ``MediaStreamTrack`` (48 kHz mono s16,
20 ms frames); a speaker is anything with ``play(frame)`` and ``close()``."""

from __future__ import annotations

from typing import Protocol

from av import AudioFrame

RATE = 48_000
SAMPLES = 960  # 20 ms at 48 kHz


class Speaker(Protocol):
    """Plays what the specialist says. ``play`` never blocks the event loop."""

    def play(self, frame: AudioFrame) -> None: ...

    def close(self) -> None: ...
