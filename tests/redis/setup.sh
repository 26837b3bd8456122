#!/usr/bin/env bash
# Makes sure redis-server is installed for pinset-redis's tests.
#
#   eval "$(bash tests/redis/setup.sh)"
#
# Installs Debian's redis-server with apt-get when it is missing and prints
# an `export` line for PINSET_REDIS_SERVER (the binary the tests start).
# The tests start their own servers, each on a free loopback port with a
# temporary directory and no persistence, and stop them when they end; no
# server is started here. Progress goes to stderr, so stdout holds nothing
# but the exports.
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }

if ! command -v redis-server >/dev/null; then
  log "installing redis-server with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends redis-server >&2
fi

server=$(command -v redis-server)
log "$("$server" --version)"

printf 'export PINSET_REDIS_SERVER=%q\n' "$server"
