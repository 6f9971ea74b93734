"""The staff console: a browser app served by the hub from ``static/``. No CDN, no build step."""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
