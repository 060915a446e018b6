#!/usr/bin/env bash
# The web app's journeys in real headless Chromium (tests/browser): each test starts a fresh
# `latchkey serve --demo` on free ports with its own temporary data directory and drives
# Debian's Chromium (/usr/bin/chromium) with Playwright. Screenshots of every page at 360 × 740
# go to target/screenshots (or $LATCHKEY_SCREENSHOTS).
#
# Installs nothing. What it needs: the `chromium` Debian package, and Python 3 with the pinned
# tools of tests/browser/requirements.txt (`pip install -r tests/browser/requirements.txt`;
# never `playwright install`: the system Chromium is used). When any is missing the tests are
# skipped with the reason, except under CI=true, where that is a failure.
#
# Uses $LATCHKEY_BIN when set; otherwise builds the binary (`cargo build -p latchkey`).
# Extra arguments go to pytest, e.g. `bash scripts/browser-tests.sh -k locked_out`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

chromium="${LATCHKEY_CHROMIUM:-/usr/bin/chromium}"
missing=""
if [ ! -x "$chromium" ]; then
    missing="Chromium is not installed at $chromium (apt-get install chromium chromium-driver)"
elif ! command -v python3 >/dev/null 2>&1; then
    missing="python3 is not installed"
elif ! python3 -c 'import playwright, pytest' >/dev/null 2>&1; then
    missing="Playwright or pytest is missing for python3 (pip install -r tests/browser/requirements.txt)"
fi
if [ -n "$missing" ]; then
    if [ "${CI:-}" = "true" ]; then
        echo "browser tests cannot run under CI=true: $missing" >&2
        exit 1
    fi
    echo "browser tests skipped: $missing"
    exit 0
fi

if [ -z "${LATCHKEY_BIN:-}" ]; then
    cargo build -p latchkey
    target="${CARGO_TARGET_DIR:-target}"
    # A private copy: another build into a shared target directory must not swap the binary
    # under a running test.
    copy="$(mktemp -d)/latchkey"
    cp "$target/debug/latchkey" "$copy"
    export LATCHKEY_BIN="$copy"
fi
echo "browser tests: $("$chromium" --version 2>/dev/null | head -n 1), binary $LATCHKEY_BIN"
exec python3 -m pytest -q tests/browser "$@"
