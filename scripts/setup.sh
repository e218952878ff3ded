#!/usr/bin/env bash
# Create .venv/ in the repo root with convscope (the `convscope` command) and its test dependencies.
# Then builds the browser app (scripts/build_web.sh). Idempotent: skips what has not changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.convscope-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  quiet() { { "$@" 2>&1; } | { grep -v -e '^WARNING: Location' -e '^$' || true; }; }
  # torch / torchvision first, pinned to the builds this machine's pip takes from local disk
  case "$(uname -m)" in
    aarch64|arm64) torch_pins="torch==2.9.1 torchvision==0.24.1" ;;
    *) torch_pins="torch==2.14.1 torchvision==0.29.1" ;;
  esac
  echo "setting up .venv (torch first; the first run takes a few minutes)" >&2
  quiet .venv/bin/pip install -q $torch_pins
  quiet .venv/bin/pip install -q -e '.[test]'
  # test-only oracles whose declared dependencies would pull opencv-python (with GUI) or repin zennit: their needs
  # (pandas, opencv-python-headless, cachetools, zennit) are in the test extra above
  quiet .venv/bin/pip install -q --no-deps quantus==0.6.0 zennit-crp==0.6.0
  echo "$want" > "$stamp"
fi
# the browser app (web/ -> src/convscope/webapp/): needs Node.js 20+; skipped quickly when nothing changed
bash scripts/build_web.sh
