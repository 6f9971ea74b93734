#!/usr/bin/env bash
# The whole suite, as CI runs it: lint, types, the import boundaries, then every test against real servers.
# The servers (Redis, the hub, terminals, Chromium) are started by the test fixtures themselves,
# each on a free loopback port, and stopped when the tests end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy (strict)"
mypy
echo "== import boundaries"
lint-imports --no-cache
echo "== pytest"
exec pytest "$@"
