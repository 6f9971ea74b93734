"""The terminal's shared camera and microphone: opened once, copied for each consumer, and their
health from ``idle`` to what the devices say (or why they never opened)."""

from __future__ import annotations

from branch_client.devices.shared import SharedDevices, Yuv420


async def test_opened_once_and_copied_for_each_consumer() -> None:
    devices = SharedDevices("synthetic", "synthetic")
    assert devices.health() == ("idle", "idle") and not devices.opened
    assert devices.camera_copy() is None and devices.microphone_copy() is None
    assert devices.open() == [] and devices.opened
    camera = devices.camera
    assert isinstance(camera, Yuv420)
    assert devices.open() == [] and devices.camera is camera  # not opened twice
    first, second = devices.camera_copy(), devices.camera_copy()
    assert first is not None and second is not None and first is not second
    frame = await first.recv()
    assert frame.format.name == "yuv420p"
    assert devices.health() == ("ok", "ok")
    assert not devices.has_speaker and not await devices.test_speaker()
    devices.stop()


def test_a_device_that_does_not_open_is_left_out_and_said_missing() -> None:
    devices = SharedDevices("no-such-camera.avi", "synthetic")
    failed = devices.open()
    assert [exc.code for exc in failed] == ["camera_unavailable"]
    assert devices.camera is None and devices.camera_copy() is None
    assert devices.health() == ("missing", "ok")
    devices.stop()
