#!/usr/bin/env bash
# Black-box tests of a pinset-server binary over a real loopback socket.
#
#   bash tests/server/run.sh [BINARY]
#
# BINARY defaults to target/debug/pinset-server under the repo root. Phases:
#   1. `BINARY --demo --listen 127.0.0.1:0`: reads the port from the
#      `listening on` line and the token from the `demo token` line; runs
#      client.py (independent client, server log checked for leaks) and
#      schemathesis.sh; SIGTERM, exit status 0 within 10 s.
#   2. `--demo --token-file FILE` with an all-family token and one token per
#      family: no demo token printed; client.py again with the scoped tokens
#      (403 checks); SIGTERM.
#   3. `--demo --listen 0.0.0.0:0` must be refused (non-zero exit, never listening).
# Logs go to target/server-test/. The last line is `server tests: passed` or
# `server tests: FAILED (...)`; the exit status is non-zero on any failure.
# RUN_SCHEMATHESIS=0 skips schemathesis.
set -uo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
server_bin=$(server_abs "${1:-$server_root/target/debug/pinset-server}")
if [ ! -x "$server_bin" ]; then
    echo "run.sh: no executable $server_bin (cargo build -p pinset-server)" >&2
    exit 2
fi
trap server_cleanup EXIT
trap 'exit 130' INT TERM

server_venv || { echo "run.sh: could not make the venv" >&2; exit 2; }
logs="$server_root/target/server-test"
mkdir -p "$logs"
here_dir="$server_root/tests/server"
failed=()
fail() { failed+=("$1"); echo "FAILED: $1"; }

echo "== 1. demo mode, demo token"
if server_start "$logs/demo.log" --demo --listen 127.0.0.1:0; then
    if [ -z "$server_token" ]; then
        fail "demo: no 'demo token' line on stderr"
    else
        [ ${#server_token} -eq 43 ] || fail "demo: the demo token has ${#server_token} chars, not 43"
        [ "$(grep -c 'demo token:' "$logs/demo.log")" -eq 1 ] || fail "demo: the demo token line is printed more than once"
        "$venv/bin/python" "$here_dir/client.py" "$server_url" "$server_token" \
            --server-log "$logs/demo.log" || fail "demo: client.py"
        server_alive "after client.py" || fail "demo: the server stopped during client.py"
        if [ "${RUN_SCHEMATHESIS:-1}" != 0 ] && [ -n "$server_pid" ]; then
            bash "$here_dir/schemathesis.sh" "$server_url" "$server_token" || fail "demo: schemathesis"
            server_alive "after schemathesis" || fail "demo: the server stopped during schemathesis"
        fi
    fi
    server_stop || fail "demo: graceful SIGTERM"
else
    fail "demo: server did not start"
fi

echo
echo "== 2. demo mode, --token-file with scoped tokens"
tokens="$logs/tokens.txt"
tok() { "$venv/bin/python" -c 'import secrets; print(secrets.token_urlsafe(32))'; }
all=$(tok) mc=$(tok) en=$(tok)
umask_old=$(umask); umask 077
cat >"$tokens" <<TOKENS
# pinset-server token file written by tests/server/run.sh

$all mastercard,enfuce
$mc mastercard
   # an indented comment
$en enfuce
TOKENS
umask "$umask_old"
if server_start "$logs/token-file.log" --demo --token-file "$tokens" --listen 127.0.0.1:0; then
    if grep -q 'demo token' "$logs/token-file.log"; then
        fail "token-file: a demo token was printed although --token-file was given"
    fi
    "$venv/bin/python" "$here_dir/client.py" "$server_url" "$all" \
        --scoped-token "mastercard:$mc" --scoped-token "enfuce:$en" \
        --server-log "$logs/token-file.log" || fail "token-file: client.py"
    server_stop || fail "token-file: graceful SIGTERM"
else
    fail "token-file: server did not start"
fi

echo
echo "== 3. demo mode refuses a non-loopback address"
: >"$logs/non-loopback.log"
NO_COLOR=1 timeout --kill-after=5 30 "$server_bin" --demo --listen 0.0.0.0:0 >"$logs/non-loopback.log" 2>&1
rc=$?
if grep -q 'listening on' "$logs/non-loopback.log" || [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    fail "non-loopback: --demo --listen 0.0.0.0:0 was not refused (exit $rc)"
else
    echo "ok   --demo --listen 0.0.0.0:0 refused (exit $rc: $(tail -n 1 "$logs/non-loopback.log"))"
fi

echo
if [ ${#failed[@]} -eq 0 ]; then
    echo "server tests: passed"
else
    echo "server tests: FAILED (${failed[*]})"
    exit 1
fi
