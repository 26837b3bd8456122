#!/usr/bin/env bash
# Run the independent interop cross-checks against a pinblock binary:
# cross_check.py (PIN blocks and KCVs) and verify_tr31.py (PVV, IBM 3624 and
# TR-31 key blocks). Both always run; the exit status is non-zero if either fails.
#
#   bash tests/interop/run.sh [PATH_TO_PINBLOCK] [cross_check.py options...]
#
# Options after the binary go to cross_check.py; verify_tr31.py takes its
# options from VERIFY_TR31_ARGS (such as "--cases 1000 --seed 7").
#
# PATH_TO_PINBLOCK defaults to target/release/pinblock under the repo root;
# a relative path is taken from the current directory. The venv lives in
# ${INTEROP_VENV:-target/interop-venv} (relative to the current directory when
# set, to the repo root by default) and is reused between runs.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here=$(pwd)

abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$here/$1" ;; esac; }

if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    bin=$(abs "$1")
    shift
else
    bin="$root/target/release/pinblock"
fi
if [ -n "${INTEROP_VENV:-}" ]; then
    venv=$(abs "$INTEROP_VENV")
else
    venv="$root/target/interop-venv"
fi

if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$root/tests/interop/requirements.txt"

status=0
"$venv/bin/python" "$root/tests/interop/cross_check.py" --bin "$bin" "$@" || status=1
# shellcheck disable=SC2086 # VERIFY_TR31_ARGS is split into options on purpose.
"$venv/bin/python" "$root/tests/interop/verify_tr31.py" --bin "$bin" ${VERIFY_TR31_ARGS:-} || status=1
exit "$status"
