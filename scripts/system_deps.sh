#!/usr/bin/env bash
# Debian packages the browser tests need: chromium (driven by Playwright through executable_path; Playwright's own
# browser download is not used). Installs it with apt-get when it is missing and we may (root, or sudo without a
# password); otherwise says what to install.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
    exit 0
  elif sudo -n true 2>/dev/null; then
    sudo apt-get install -y -q chromium >/dev/null || { sudo apt-get update -q >/dev/null && sudo apt-get install -y -q chromium >/dev/null; }
    exit 0
  fi
fi
echo "convscope: the browser tests need Chromium at /usr/bin/chromium (Debian: apt-get install chromium)" >&2
exit 1
