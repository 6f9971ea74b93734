"""Terminal configuration: one frozen dataclass from flags and the environment, failing fast."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


class ConfigError(Exception):
    """A setting is missing or malformed. The message names it."""


@dataclass(frozen=True)
class Secret:
    """A value that prints as ``**********``."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "**********"

    def __repr__(self) -> str:
        return "Secret('**********')"


@dataclass(frozen=True)
class BranchConfig:
    hub_url: str
    """Base URL of the hub, e.g. ``https://hub.example.lg.jp`` (MADOGUCHI_HUB_URL)."""

    token: Secret
    """Device token from enrollment (MADOGUCHI_TERMINAL_TOKEN). Never printed."""

    kiosk_host: str = "127.0.0.1"
    """Where the kiosk page listens; the terminal's own browser shows it (MADOGUCHI_KIOSK_HOST)."""

    kiosk_port: int = 8801
    """Port of the kiosk page (MADOGUCHI_KIOSK_PORT)."""

    camera: str = "synthetic"
    """Face camera: ``synthetic`` (test pattern), a device index like ``0``, or the path of a
    video file (MADOGUCHI_CAMERA)."""

    audio: str = "synthetic"
    """Microphone: ``synthetic`` (a 440 Hz tone), ``default`` (the system's), or a PortAudio
    device name (MADOGUCHI_AUDIO)."""

    ice_hosts: tuple[str, ...] = ()
    """Restrict local ICE host candidates to these addresses; empty means every interface.
    ``127.0.0.1`` keeps a demo or test on one machine on loopback (MADOGUCHI_ICE_HOSTS)."""

    start_purpose: str | None = None
    """Start a session for this purpose as soon as the hub answers (``--start PURPOSE``)."""

    doc_camera: str = "synthetic"
    """Document camera: ``synthetic`` (sample documents on a desk), a directory of pictures (each
    still is the next file), or a device index (MADOGUCHI_DOC_CAMERA)."""

    card_reader: str = "auto"
    """My Number card reader: ``auto`` (the one holding a card), a PC/SC reader name, or
    ``none`` (MADOGUCHI_CARD_READER)."""

    video_probe: bool = False
    """Read a latency probe's time code from the specialist's video and report when each frame
    arrived, for ``madoguchi bench kiosk-video`` (MADOGUCHI_VIDEO_PROBE=1)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: object) -> BranchConfig:
        env = os.environ if env is None else env
        given = {k: v for k, v in flags.items() if v is not None}
        hub_url = given.get("hub_url") or env.get("MADOGUCHI_HUB_URL")
        token = given.get("token") or env.get("MADOGUCHI_TERMINAL_TOKEN")
        if not hub_url:
            raise ConfigError("Config 'MADOGUCHI_HUB_URL' (--hub) is missing, and has no default.")
        if not token:
            raise ConfigError(
                "Config 'MADOGUCHI_TERMINAL_TOKEN' (--token) is missing, and has no default."
            )

        def setting(name: str) -> str | None:
            raw = given.get(name, env.get(f"MADOGUCHI_{name.upper()}"))
            return None if raw is None else str(raw)

        def text(name: str, default: str) -> str:
            value = setting(name)
            return default if value is None else value

        port = setting("kiosk_port")
        try:
            kiosk_port = cls.kiosk_port if port is None else int(port)
        except ValueError:
            raise ConfigError("Config 'MADOGUCHI_KIOSK_PORT' is malformed.") from None
        hosts = setting("ice_hosts")
        config = cls(
            hub_url=str(hub_url).rstrip("/"),
            token=Secret(str(token)),
            kiosk_host=text("kiosk_host", cls.kiosk_host),
            kiosk_port=kiosk_port,
            camera=text("camera", cls.camera),
            audio=text("audio", cls.audio),
            ice_hosts=tuple(h.strip() for h in hosts.split(",") if h.strip()) if hosts else (),
            start_purpose=setting("start_purpose"),
            doc_camera=text("doc_camera", cls.doc_camera),
            card_reader=text("card_reader", cls.card_reader),
            video_probe=env.get("MADOGUCHI_VIDEO_PROBE", "") == "1",
        )
        camera = config.camera
        if camera != "synthetic" and not camera.isdigit() and not os.path.isfile(camera):
            raise ConfigError(
                "Config 'MADOGUCHI_CAMERA' must be 'synthetic', a device index like 0, "
                "or the path of a video file."
            )
        if not config.audio.strip():
            raise ConfigError(
                "Config 'MADOGUCHI_AUDIO' must be 'synthetic', 'default' or a device name."
            )
        if not config.hub_url.startswith(("http://", "https://")):
            raise ConfigError("Config 'MADOGUCHI_HUB_URL' must start with http:// or https://")
        return config
