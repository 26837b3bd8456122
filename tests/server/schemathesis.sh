#!/usr/bin/env bash
# Schemathesis against a live pinset-server's /openapi.json, with auth.
#
#   bash tests/server/schemathesis.sh URL TOKEN
#
# URL is the server's base (http://127.0.0.1:PORT), TOKEN a bearer token valid
# for both API families (the demo token). Every operation except /demo/* is
# tested, in every phase (examples, coverage, fuzzing, stateful), positive and
# negative data, one worker (CPython 3.11 races in hypothesis's AST use with more),
# with the checks in $SCHEMATHESIS_CHECKS (default: no 5xx, and
# status code, Content-Type and body as documented). At most
# $SCHEMATHESIS_MAX_EXAMPLES (default 50) generated cases per operation and
# phase; the run is killed after $SCHEMATHESIS_TIMEOUT seconds (default 170).
# The venv is the one run.sh uses: ${PINSET_SERVER_VENV:-target/server-venv}.
# Output and a JUnit report go to target/server-schemathesis/. The last line is
# `schemathesis: <its summary line>`; the exit status is schemathesis's.
set -uo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 URL TOKEN" >&2
    exit 2
fi
url=${1%/}
token=$2
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
server_venv || exit 2

checks=${SCHEMATHESIS_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}
work="$server_root/target/server-schemathesis"
mkdir -p "$work"
cd "$work" || exit 2   # hypothesis and the reports stay under target/

"$venv/bin/schemathesis" --version
args=(run "$url/openapi.json"
    --url "$url"
    --header "Authorization: Bearer $token"
    --exclude-path-regex '^/demo/'
    --checks "$checks"
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}"
    --workers "${SCHEMATHESIS_WORKERS:-1}"
    --request-timeout 10
    --generation-database none
    --no-color
    --report junit --report-dir "$work")
[ -n "${SCHEMATHESIS_SEED:-}" ] && args+=(--seed "$SCHEMATHESIS_SEED")
echo "+ schemathesis ${args[*]//$token/TOKEN}"
timeout --signal=TERM --kill-after=10 "${SCHEMATHESIS_TIMEOUT:-170}" \
    "$venv/bin/schemathesis" "${args[@]}" >"$work/output.txt" 2>&1
rc=$?

cat "$work/output.txt"
summary=$(grep -E '^=+ .+ =+$' "$work/output.txt" | tail -n 1 | sed -E 's/^=+ (.*) =+$/\1/')
cases=$(grep -A1 -E '^Test cases:' "$work/output.txt" | tail -n 1 | sed -E 's/^ +//')
[ -n "$cases" ] && summary="$cases; $summary"
[ $rc -eq 124 ] && summary="killed after ${SCHEMATHESIS_TIMEOUT:-170} s ${summary}"
echo "schemathesis: ${summary:-no summary line} (exit $rc)"
exit $rc
