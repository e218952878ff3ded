#!/usr/bin/env bash
# Build the browser app (web/) into src/convscope/webapp/, which `convscope serve` serves at /.
# Needs Node.js 20+ and npm; skips the work when web/ and the API are unchanged since the last build.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "convscope: building the web app needs Node.js 20 or newer with npm (Debian: apt-get install nodejs npm);" \
       "the command line and the REST API work without it" >&2
  exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "convscope: the web app needs Node.js 20 or newer, found $(node --version)" >&2
  exit 1
fi
python=.venv/bin/python
[ -x "$python" ] || python=${PYTHON:-python3}
stamp=src/convscope/webapp/.build-stamp
want=$( { cat web/package-lock.json web/vite.config.ts web/index.html web/tsconfig.json; \
          find web/src -type f ! -name schema.d.ts -print0 | sort -z | xargs -0 cat; \
          find src/convscope/server src/convscope/recipes -name '*.py' -print0 | sort -z | xargs -0 cat; } \
        | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ]; then
  exit 0
fi
echo "building the web app (web/ -> src/convscope/webapp/)" >&2
lock=$(sha256sum web/package-lock.json | cut -d' ' -f1)
if [ "$(cat web/node_modules/.convscope-lock 2>/dev/null || true)" != "$lock" ]; then
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock" > web/node_modules/.convscope-lock
fi
"$python" -c "import json; from convscope.server.app import openapi_document; print(json.dumps(openapi_document()))" \
  > web/openapi.json
(cd web && npm run --silent api >/dev/null && npm run --silent build)
echo "$want" > "$stamp"
