#!/usr/bin/env bash
# A bounded wrk run of PUT /cards/70001/pin on loopback, with fresh cryptograms.
#
#   bash tests/server/load.sh BINARY [SERVER_ARGS...]
#
# Starts `BINARY --demo --listen 127.0.0.1:0 SERVER_ARGS...` (e.g. --provider
# aws-lc), pre-makes $LOAD_CRYPTOGRAMS (default 8000 per second of run) distinct RSA-OAEP
# cryptograms of ISO format 1 blocks with make_cryptograms.py, then runs Debian's
# wrk for $LOAD_DURATION s (default 10) with $LOAD_THREADS threads (2) and
# $LOAD_CONNECTIONS connections (8), each request carrying the next unused body
# (load.lua). The replay window makes each cryptogram valid once: if the file
# runs out, bodies are reused, answered 4xx, and reported as `reused`. Then the
# server is stopped with SIGTERM.
#
# Last lines: wrk's own report and
#   load: set PINs/s X (N x 2xx in D s), p50 A ms, p99 B ms, non-2xx C, ...
# set PINs/s = 2xx responses / wrk's measured duration; p50/p99 are over every
# response. Exit 1 if the server failed to start or stop cleanly, or wrk failed.
set -uo pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 BINARY [SERVER_ARGS...]" >&2
    exit 2
fi
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
server_bin=$(server_abs "$1")
shift
[ -x "$server_bin" ] || { echo "load.sh: no executable $server_bin" >&2; exit 2; }
duration=${LOAD_DURATION:-10}
threads=${LOAD_THREADS:-2}
conns=${LOAD_CONNECTIONS:-8}
count=${LOAD_CRYPTOGRAMS:-$((8000 * duration))}

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
    else
        sudo apt-get install -y -qq wrk >/dev/null
    fi
    command -v wrk >/dev/null || { echo "load.sh: wrk is missing (apt-get install wrk)" >&2; exit 2; }
fi
trap server_cleanup EXIT
trap 'exit 130' INT TERM
server_venv || exit 2
work="$server_root/target/server-load"
mkdir -p "$work"

server_start "$work/server.log" --demo --listen 127.0.0.1:0 "$@" || exit 1
[ -n "$server_token" ] || { echo "load.sh: no demo token line" >&2; exit 1; }
"$venv/bin/python" "$server_root/tests/server/make_cryptograms.py" "$server_url" "$server_token" \
    --count "$count" --out "$work/bodies.jsonl" || exit 1

echo "+ wrk -t$threads -c$conns -d${duration}s --timeout 10s --latency -s load.lua $server_url/cards/70001/pin"
wrk -t"$threads" -c"$conns" -d"${duration}s" --timeout 10s --latency \
    -s "$server_root/tests/server/load.lua" "$server_url/cards/70001/pin" \
    -- "$work/bodies.jsonl" "$threads" "$server_token" A1564386531162 >"$work/wrk.txt" 2>&1
wrk_rc=$?
sed "s/$server_token/TOKEN/g" "$work/wrk.txt"
if grep -Eq 'reused [1-9]' "$work/wrk.txt"; then
    echo "load.sh: the $count cryptograms ran out; the reused ones were answered as replays (raise LOAD_CRYPTOGRAMS)" >&2
fi
rc=0
[ $wrk_rc -eq 0 ] || { echo "load.sh: wrk exited $wrk_rc" >&2; rc=1; }
server_stop || rc=1
exit $rc
