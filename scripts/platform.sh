#!/usr/bin/env bash
# Set everything up (Python, the browser app's build), then start the platform: the web app and the REST API on
# the default and digits models, with lite1 and lite2 (EfficientNet-Lite1/2: the judges of class pictures) at
# http://127.0.0.1:8000 (extra arguments go to `convscope serve`, e.g. --port).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/convscope serve --model default --model digits --model lite1 --model lite2 "$@"
