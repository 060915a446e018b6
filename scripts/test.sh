#!/usr/bin/env bash
# Runs every test of the workspace: unit, integration and end-to-end tests of every crate.
#
# Storage and API tests run on SQLite always, and on PostgreSQL too when
# LATCHKEY_TEST_POSTGRES_URL names a server where the user may create databases, e.g.
#   LATCHKEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bash scripts/test.sh
# Without it those tests print why they skip PostgreSQL and pass on SQLite alone.
#
# Then scripts/schemathesis.sh checks the running server against its OpenAPI document, and the
# web app's journeys run in headless Chromium (scripts/browser-tests.sh); each skips, with the
# reason, when its tools are missing, and under CI=true that is a failure.
#
# Extra arguments go to `cargo test`, e.g. `bash scripts/test.sh -p latchkey-core`; with them
# they go to cargo alone and neither schemathesis nor the browser tests run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ -n "${LATCHKEY_TEST_POSTGRES_URL:-}" ]; then
    # Never print a password.
    shown=$(printf '%s' "$LATCHKEY_TEST_POSTGRES_URL" | sed -E 's#(://[^:@/]*):[^@/]*@#\1:****@#')
    echo "tests run on SQLite and on PostgreSQL ($shown)"
    export LATCHKEY_TEST_POSTGRES_URL
else
    echo "tests run on SQLite only (set LATCHKEY_TEST_POSTGRES_URL to include PostgreSQL)"
fi

if [ "$#" -gt 0 ]; then
    exec cargo test --workspace --all-targets "$@"
fi
cargo test --workspace --all-targets
bash scripts/schemathesis.sh

# ---- browser tests (the web app in headless Chromium) ----
bash scripts/browser-tests.sh
