"""What every device adapter reports: a health state, and an error with a stable code."""

from __future__ import annotations

import enum


class Health(enum.StrEnum):
    """How a device is doing, as the kiosk and the hub show it."""

    OK = "ok"
    """Delivering real media."""
    MISSING = "missing"
    """Not (yet) opened: no such device, or it has not answered since the track started."""
    FAILED = "failed"
    """Was working and stopped (cable pulled); the adapter retries every second."""
    IN_USE = "in_use"
    """The device exists but cannot be opened: another program holds it, or it is not ours."""


class DeviceError(Exception):
    """A device cannot be used. ``code`` is stable (``camera_unavailable``,
    ``microphone_unavailable``, ``speaker_unavailable``); the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
