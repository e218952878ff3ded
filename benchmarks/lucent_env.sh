#!/usr/bin/env bash
# Install the Lucent baseline (torch-lucent 0.1.8) into benchmarks/.lucent/ for benchmarks/lucent_baseline.py.
# Benchmark-only: never a dependency of convscope. --no-deps keeps torch, torchvision, numpy, pillow, tqdm and
# pygments coming from the project's .venv; only what Lucent needs beyond them is pinned here:
#   kornia 0.4.1    - the newest release Lucent 0.1.8 declares (kornia<=0.4.1) and that works with torch 2.14;
#                     kornia >= 0.6 dropped kornia.get_rotation_matrix2d / kornia.warp_affine (AttributeError
#                     in Lucent's random_rotate), >= 0.7 also needs the compiled kornia_rs. 0.5.11 works too.
#   decorator       - lucent.optvis.objectives
#   ipython, traitlets - lucent.misc.io.showing imports IPython.display (IPython 9 needs only traitlets for it)
# Idempotent: a stamp holding the package list skips the work when the folder is complete and up to date.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
TARGET="$ROOT/benchmarks/.lucent"
STAMP="$TARGET/.complete"
PACKAGES=(torch-lucent==0.1.8 kornia==0.4.1 decorator==5.3.1 ipython==9.18.1 traitlets==5.16.1)

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "${PACKAGES[*]}" ]]; then
    echo "lucent env: $TARGET is up to date"
    exit 0
fi

rm -rf "$TARGET"
# pipefail keeps a pip failure failing; `|| true` only stops grep's "no line left" status from counting as one.
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-deps --target "$TARGET" "${PACKAGES[@]}" 2>&1 \
    | { grep -v '^WARNING: Location' || true; }
# kornia 0.4.1's wheel ships its test suite as a top-level `test` package, which would shadow the standard
# library's `test` once the folder is first on sys.path.
rm -rf "$TARGET/test"

# Check that Lucent imports against the venv's torch before declaring the folder complete.
if ! (cd "$ROOT/benchmarks" \
        && "$PYTHON" -c 'import sys, lucent_baseline; sys.exit(not lucent_baseline.lucent_available())'); then
    echo "lucent env: lucent does not import from $TARGET" >&2
    exit 1
fi
echo "${PACKAGES[*]}" > "$STAMP"
echo "lucent env: installed ${PACKAGES[*]} into $TARGET"
