# Shared by run.sh and load.sh (sourced, not run): the venv, and starting and
# stopping a pinset-server on a free loopback port.
#
#   server_venv                 -> sets $venv (created or reused, requirements installed)
#   server_start LOG ARGS...    -> sets $server_pid $server_url $server_token (token empty
#                                  if the server printed no demo token); 1 on failure
#   server_alive WHEN           -> 0 if it still runs; else prints how it ended
#   server_stop                 -> SIGTERM; 0 if it exited with status 0 within 10 s

server_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
server_here=$(pwd)

server_abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$server_here/$1" ;; esac; }

server_venv() {
    if [ -n "${PINSET_SERVER_VENV:-}" ]; then
        venv=$(server_abs "$PINSET_SERVER_VENV")
    else
        venv="$server_root/target/server-venv"
    fi
    if [ ! -x "$venv/bin/python" ]; then
        "${PYTHON:-python3}" -m venv "$venv" || return 1
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$server_root/tests/server/requirements.txt"
}

server_start() {
    local log=$1
    shift
    server_pid="" server_url="" server_token=""
    : >"$log"
    NO_COLOR=1 "$server_bin" "$@" >>"$log" 2>&1 &
    server_pid=$!
    local waited=0 limit=$((${PINSET_SERVER_START_TIMEOUT:-120} * 10))
    while [ $waited -lt $limit ]; do
        server_url=$(sed -n 's/.*pinset-server: listening on \(http:\/\/[^ ]*\).*/\1/p' "$log" | head -n 1)
        [ -n "$server_url" ] && break
        if ! kill -0 "$server_pid" 2>/dev/null; then
            wait "$server_pid"
            echo "server: exited with status $? before listening; its log:" >&2
            sed 's/^/  | /' "$log" >&2
            server_pid=""
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    if [ -z "$server_url" ]; then
        echo "server: no 'listening on' line within ${PINSET_SERVER_START_TIMEOUT:-120} s; its log:" >&2
        sed 's/^/  | /' "$log" >&2
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=""
        return 1
    fi
    server_token=$(sed -n 's/.*pinset-server: demo token: \([A-Za-z0-9_-]*\).*/\1/p' "$log" | head -n 1)
    echo "server: pid $server_pid listening on $server_url ($(printf '%s' "$*"))"
}

# 0 if the server is still running; else says how it ended (label: when) and 1.
server_alive() {
    [ -n "${server_pid:-}" ] || return 1
    kill -0 "$server_pid" 2>/dev/null && return 0
    wait "$server_pid"
    echo "server: pid $server_pid ended by itself with status $? ($1)" >&2
    server_pid=""
    return 1
}

server_stop() {
    server_alive "before SIGTERM" || return 1
    local pid=$server_pid rc i
    server_pid=""
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "server: still running 10 s after SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 1
    fi
    wait "$pid"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "server: exited with status $rc after SIGTERM (want 0)" >&2
        return 1
    fi
    echo "server: SIGTERM -> exited 0 within 10 s"
}

# Stops the server if the script dies or is interrupted.
server_cleanup() {
    if [ -n "${server_pid:-}" ]; then
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
}
