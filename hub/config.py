"""Hub configuration: one frozen dataclass, built from the environment and flags, failing fast."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path


class ConfigError(Exception):
    """A setting is missing or malformed. The message names it."""


@dataclass(frozen=True)
class HubConfig:
    redis_url: str
    """Redis holding all shared state, e.g. ``redis://127.0.0.1:6379/0`` (MADOGUCHI_REDIS_URL)."""

    host: str = "127.0.0.1"
    """Address to listen on (MADOGUCHI_HOST). Behind the reverse proxy this stays on loopback."""

    port: int = 8800
    """TCP port (MADOGUCHI_PORT)."""

    data_dir: Path = Path("var/hub")
    """Where the hub keeps files: documents, PDFs (MADOGUCHI_DATA_DIR)."""

    cookie_secure: bool = False
    """Mark the login cookie Secure; true in production behind TLS (MADOGUCHI_COOKIE_SECURE)."""

    login_ttl_s: int = 8 * 3600
    """How long a staff login lasts without activity, in seconds (MADOGUCHI_LOGIN_TTL_S)."""

    hub_id: str = field(default_factory=lambda: f"hub-{os.getpid()}")
    """Name of this hub process in logs and Redis (MADOGUCHI_HUB_ID)."""

    routing_file: Path | None = None
    """Routing data (purposes, skills, priorities, timeouts); default the shipped
    ``hub/catalog/routing.json`` (MADOGUCHI_ROUTING_FILE)."""

    presence_grace_s: float = 30.0
    """How long a terminal or console may be gone before its session is given up: a terminal's
    ends (terminal_lost), a specialist's goes back to the queue (MADOGUCHI_PRESENCE_GRACE_S)."""

    session_retention_s: int = 90 * 86400
    """How long an ended session's record stays in Redis (MADOGUCHI_SESSION_RETENTION_S);
    what must be kept longer goes to the intake with the application."""

    redis_connections: int = 64
    """Connections to Redis this process keeps at most; requests beyond wait for one
    (MADOGUCHI_REDIS_CONNECTIONS)."""

    rate_per_s: float = 20.0
    """Signaling messages a connection may send per second, on average (MADOGUCHI_RATE_PER_S);
    bursts of twice that pass."""

    data_key: str | None = field(default=None, repr=False)
    """The key sealing residents' personal data at rest: 32 bytes, base64 (MADOGUCHI_DATA_KEY).
    Every hub of a deployment needs the same one. Without it a single hub makes one in
    ``data_dir/data.key`` (fine for the demo, wrong for several hubs). Never printed."""

    metrics_token: str | None = field(default=None, repr=False)
    """Bearer token that ``GET /metrics`` requires (MADOGUCHI_METRICS_TOKEN); without one the
    endpoint does not exist (404). Never printed."""

    supervision_file: Path | None = None
    """Supervisor thresholds and the service-level target; default the shipped
    ``hub/catalog/supervision.json`` (MADOGUCHI_SUPERVISION_FILE)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> HubConfig:
        """Read ``MADOGUCHI_*`` variables; explicit ``overrides`` (from flags) win."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f"MADOGUCHI_{f.name.upper()}"
            if overrides.get(f.name) is not None:
                values[f.name] = overrides[f.name]
            elif name in env:
                values[f.name] = _convert(name, env[name], f.type)
        if "redis_url" not in values:
            raise ConfigError("Config 'MADOGUCHI_REDIS_URL' is missing, and has no default.")
        return cls(**values)  # type: ignore[arg-type]


def _convert(name: str, raw: str, kind: object) -> object:
    try:
        if kind in ("int", int):
            return int(raw)
        if kind in ("bool", bool):
            if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes"}
        if kind in ("float", float):
            return float(raw)
        if kind in ("Path", Path, "Path | None"):
            return Path(raw)
    except ValueError:
        raise ConfigError(f"Config {name!r} has a malformed value {raw!r}.") from None
    return raw
