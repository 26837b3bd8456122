#!/usr/bin/env bash
# Run the independent interop cross-check against a pinblock binary.
#
#   bash tests/interop/run.sh [PATH_TO_PINBLOCK] [cross_check.py options...]
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

exec "$venv/bin/python" "$root/tests/interop/cross_check.py" --bin "$bin" "$@"
