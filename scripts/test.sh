#!/usr/bin/env bash
# Set everything up, then run the whole test suite, slow end-to-end tests included (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system_deps.sh   # chromium for the browser tests
(cd web && npm test --silent)    # the browser app's component tests (vitest)
exec .venv/bin/python -m pytest "$@"
