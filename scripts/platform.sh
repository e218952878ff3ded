#!/usr/bin/env bash
# Set everything up (Python, the browser app's build), then start the platform: the web app and the REST API on
# the default and digits models at http://127.0.0.1:8000 (extra arguments go to `convscope serve`, e.g. --port).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/convscope serve --model default --model digits "$@"
