#!/usr/bin/env bash
# Checks that the OpenAPI document tells the truth: schemathesis generates requests from
# /api/openapi.json (valid and invalid ones) and runs every check it has against a demo server —
# responses must be documented (status, content type, headers, schema), valid requests accepted,
# invalid ones refused, and no request may get a 5xx.
#
# Each role gets its own server on a free port with a throwaway data directory, because the run
# changes the demo (it revokes, freezes and ends things). The run is bounded: a fixed number of
# examples per operation, a time budget and a cap on failures.
#
#   bash scripts/schemathesis.sh              # build the debug binary if needed, then run
#   LATCHKEY_BIN=path/to/latchkey bash scripts/schemathesis.sh
#
# Environment:
#   SCHEMATHESIS           the schemathesis command (default: st on the PATH)
#   ST_MAX_EXAMPLES        examples per operation and phase (default 20)
#   ST_MAX_TIME            time budget per role in seconds (default 90; fuzzing repeats until
#                          it is spent)
#   ST_MAX_FAILURES        stop a role's run after this many failures (default 100)
#   ST_ROLES               roles to run as, from: admin resident (default: both)
#   ST_REPORT_DIR          where to keep the JUnit reports and server logs (default: a temp dir)
#
# Without schemathesis it skips with the reason, unless CI=true, where that is a failure. Install
# the pinned version with `pip install -r scripts/requirements-schemathesis.txt`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

ci=false
if [ "${CI:-}" = true ]; then
    ci=true
fi

st=${SCHEMATHESIS:-st}
if ! command -v "$st" >/dev/null 2>&1; then
    if [ "$ci" = true ]; then
        echo "schemathesis: \`$st\` not found; install it with pip install -r scripts/requirements-schemathesis.txt" >&2
        exit 1
    fi
    echo "schemathesis: skipped, \`$st\` is not installed (pip install -r scripts/requirements-schemathesis.txt)"
    exit 0
fi
for tool in curl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "schemathesis: $tool is needed to start the run" >&2
        exit 1
    fi
done

max_examples=${ST_MAX_EXAMPLES:-20}
max_time=${ST_MAX_TIME:-90}
max_failures=${ST_MAX_FAILURES:-100}
roles=${ST_ROLES:-admin resident}
password=linden-demo-2026

bin=${LATCHKEY_BIN:-}
if [ -z "$bin" ]; then
    echo "schemathesis: building latchkey (debug)"
    cargo build --quiet -p latchkey --bin latchkey
    bin="${CARGO_TARGET_DIR:-target}/debug/latchkey"
fi
if [ ! -x "$bin" ]; then
    echo "schemathesis: no latchkey binary at $bin" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/latchkey-schemathesis.XXXXXX")
reports=${ST_REPORT_DIR:-$work/reports}
mkdir -p "$reports"
server_pid=
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
}
cleanup() {
    stop_server
    if [ -z "${ST_REPORT_DIR:-}" ]; then
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# Starts `serve --demo` on free ports with a fresh data directory; sets $base.
start_server() {
    local name=$1 data="$work/$1-data" log="$reports/$1-server.log"
    mkdir -p "$data"
    # Push on, so that its operations answer as on a server that offers it (off, they are 503).
    LATCHKEY_PUSH_SUBJECT=mailto:schemathesis@example.org \
        LATCHKEY_LOG=warn "$bin" serve --demo --data-dir "$data" \
        --listen 127.0.0.1:0 --mqtt-listen 127.0.0.1:0 >"$log" 2>&1 &
    server_pid=$!
    base=
    for _ in $(seq 1 600); do
        base=$(sed -n 's#^latchkey listening on \(http://[^ ]*\)$#\1#p' "$log" | head -n 1)
        if [ -n "$base" ] && grep -q '^demo building' "$log"; then
            break
        fi
        base=
        if ! kill -0 "$server_pid" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    if [ -z "$base" ]; then
        echo "schemathesis: the $name server did not start; its log:" >&2
        cat "$log" >&2
        return 1
    fi
}

# Signs in as the demo person and creates an API token for the run; prints the token.
token_for() {
    local email=$1 jar="$work/jar.txt"
    rm -f "$jar"
    curl -sf -c "$jar" -H 'Content-Type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\"}" \
        "$base/api/v1/auth/login" >/dev/null
    # A cookie-authenticated write must come from the server's own origin.
    curl -sf -b "$jar" -H "Origin: $base" -H 'Content-Type: application/json' \
        -d '{"name":"schemathesis"}' "$base/api/v1/tokens" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

email_of() {
    case $1 in
        admin) echo admin@linden-court.example ;;
        resident) echo ana.1a@linden-court.example ;;
        *)
            echo "schemathesis: unknown role $1" >&2
            return 1
            ;;
    esac
}

# Runs schemathesis against the server at $base as the token's holder for at most SECONDS;
# extra arguments select operations. Sets $status to 1 on any failure.
run_st() {
    local name=$1 token=$2 seconds=$3
    shift 3
    # From the work directory, so schemathesis' and Hypothesis' caches stay out of the tree.
    if ! (cd "$work" && "$st" --config-file "$root/scripts/schemathesis.toml" run "$base/api/openapi.json" \
        --checks all \
        --max-response-time 35 \
        --header "Authorization: Bearer $token" \
        --max-examples "$max_examples" \
        --max-time "$seconds" \
        --max-failures "$max_failures" \
        --request-timeout 40 \
        --workers 1 \
        --seed 1 \
        --generation-database none \
        --suppress-health-check all \
        --no-color \
        --report junit --report-junit-path "$reports/$name.xml" \
        "$@"); then
        status=1
    fi
}

# Revoking a session or token may hit the run's own token and leave every later request
# unauthenticated, so those two operations run last, each role with a token of their own.
revoking=(--include-operation-id revoke_token --include-operation-id revoke_session)
# The live stream (`stream`) never ends, so schemathesis cannot read a whole answer; it is
# tested over HTTP by crates/latchkey/tests/stream.rs instead.
not_revoking=(--exclude-operation-id revoke_token --exclude-operation-id revoke_session
    --exclude-operation-id stream)

started=$SECONDS
status=0
for role in $roles; do
    email=$(email_of "$role")
    if ! start_server "$role"; then
        exit 1
    fi
    tokens=()
    for _ in 1 2; do
        if ! token=$(token_for "$email") || [ -z "$token" ]; then
            echo "schemathesis: could not create a token for $email at $base" >&2
            exit 1
        fi
        tokens+=("$token")
    done
    echo "schemathesis: as $role ($email) against $base, $max_examples examples per operation, at most ${max_time}s"
    role_started=$SECONDS
    run_st "$role" "${tokens[0]}" "$max_time" "${not_revoking[@]}"
    run_st "$role-revoking" "${tokens[1]}" 15 "${revoking[@]}"
    stop_server
    echo "schemathesis: $role done in $((SECONDS - role_started))s"
done
echo "schemathesis: finished in $((SECONDS - started))s"
if [ "$status" -ne 0 ]; then
    echo "schemathesis: the API does not match its OpenAPI document (see above)" >&2
fi
exit "$status"
