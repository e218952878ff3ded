#!/usr/bin/env bash
# Set everything up, then run the main job: `convscope demo` on the default model (extra arguments pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/convscope demo "$@"
