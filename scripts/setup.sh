#!/usr/bin/env bash
# Installs what Madoguchi needs on a Debian machine, idempotently and quickly on a second run:
#   - Debian packages, only those missing (needs root or sudo);
#   - a virtualenv at .venv with the project installed in editable mode.
# Usage: scripts/setup.sh [demo|test]
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-test}

# Servers and libraries the demo and the tests run for real.
apt_demo=(redis-server chromium libportaudio2 fonts-noto-cjk fonts-ipaexfont-gothic pcscd
          vsmartcard-vpcd)
apt_test=("${apt_demo[@]}" libpcsclite-dev swig coturn pulseaudio pulseaudio-utils
          libasound2-plugins)
if [ "$what" = demo ]; then wanted=("${apt_demo[@]}"); else wanted=("${apt_test[@]}"); fi

missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

# The virtualenv is rebuilt only when pyproject.toml changes.
stamp=.venv/.madoguchi-installed
digest=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "setup: installing Python packages into .venv"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".[dev,devices]"
    echo "$digest" > "$stamp"
fi
