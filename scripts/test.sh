#!/usr/bin/env bash
# Runs every test of the workspace: unit, integration and end-to-end tests of every crate.
#
# Storage and API tests run on SQLite always, and on PostgreSQL too when
# LATCHKEY_TEST_POSTGRES_URL names a server where the user may create databases, e.g.
#   LATCHKEY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bash scripts/test.sh
# Without it those tests print why they skip PostgreSQL and pass on SQLite alone.
#
# Extra arguments go to `cargo test`, e.g. `bash scripts/test.sh -p latchkey-core`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# .cargo/config.toml puts builds in a shared directory outside the clone. Where that directory
# cannot be created or written (an ordinary user on a fresh machine), build in ./target instead.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    shared_target=$(sed -n 's/^[[:space:]]*target-dir[[:space:]]*=[[:space:]]*"\(.*\)"[[:space:]]*$/\1/p' .cargo/config.toml 2>/dev/null | head -n 1)
    if [ -n "$shared_target" ] && ! { mkdir -p "$shared_target" 2>/dev/null && [ -w "$shared_target" ]; }; then
        echo "note: cannot write $shared_target; building in ./target instead"
        export CARGO_TARGET_DIR="$PWD/target"
    fi
fi

if [ -n "${LATCHKEY_TEST_POSTGRES_URL:-}" ]; then
    # Never print a password.
    shown=$(printf '%s' "$LATCHKEY_TEST_POSTGRES_URL" | sed -E 's#(://[^:@/]*):[^@/]*@#\1:****@#')
    echo "tests run on SQLite and on PostgreSQL ($shown)"
    export LATCHKEY_TEST_POSTGRES_URL
else
    echo "tests run on SQLite only (set LATCHKEY_TEST_POSTGRES_URL to include PostgreSQL)"
fi

exec cargo test --workspace --all-targets "$@"
