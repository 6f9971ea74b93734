"""What arrives from the staff in a call: their video and audio frames, counted (and the audio
handed to a speaker when the terminal has one)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame


@dataclass
class ReceivedMedia:
    """Counts what arrives from the specialist: decoded video frames and audio frames."""

    video_frames: int = 0
    audio_frames: int = 0
    first_video_frame_at: float | None = None
    first_audio_frame_at: float | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def consume(
        self,
        track: MediaStreamTrack,
        play: Callable[[AudioFrame], Awaitable[None]] | None = None,
    ) -> None:
        """Count ``track``'s frames; hand audio frames to ``play`` (the speaker) when given."""
        task = asyncio.create_task(self._drain(track, play), name=f"drain-{track.kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(
        self, track: MediaStreamTrack, play: Callable[[AudioFrame], Awaitable[None]] | None
    ) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if play is not None and isinstance(frame, AudioFrame):
                    await play(frame)
                now = time.time()
                if track.kind == "video":
                    self.video_frames += 1
                    if self.first_video_frame_at is None:
                        self.first_video_frame_at = now
                else:
                    self.audio_frames += 1
                    if self.first_audio_frame_at is None:
                        self.first_audio_frame_at = now

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def snapshot(self) -> dict[str, float | int | None]:
        return {
            "video_frames": self.video_frames,
            "audio_frames": self.audio_frames,
            "first_video_frame_at": self.first_video_frame_at,
            "first_audio_frame_at": self.first_audio_frame_at,
        }
