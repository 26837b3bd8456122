#!/usr/bin/env bash
# Makes a throwaway SoftHSM2 token for pinset-module's PKCS#11 tests.
#
#   eval "$(bash tests/softhsm/setup.sh)"
#
# Installs Debian's softhsm2 (and opensc, for pkcs11-tool) when missing,
# writes a softhsm2.conf over a fresh temporary token directory, initialises
# one token with random SO and user PINs, and prints `export` lines for
# SOFTHSM2_CONF and PINSET_PKCS11_{MODULE,TOKEN,PIN}. Progress goes to stderr,
# so stdout holds nothing but the exports. The PINs guard a test token only.
set -euo pipefail

log() { printf '%s\n' "$*" >&2; }

if ! command -v softhsm2-util >/dev/null || ! command -v pkcs11-tool >/dev/null; then
  log "installing softhsm2 and opensc with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends softhsm2 opensc >&2
fi

module=""
for candidate in \
  /usr/lib/softhsm/libsofthsm2.so \
  /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
  /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so \
  /usr/local/lib/softhsm/libsofthsm2.so; do
  if [ -f "$candidate" ]; then module=$candidate; break; fi
done
if [ -z "$module" ]; then log "libsofthsm2.so not found"; exit 1; fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/pinset-softhsm.XXXXXX")
mkdir -p "$dir/tokens"
cat > "$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
export SOFTHSM2_CONF="$dir/softhsm2.conf"

rand_pin() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }
label="pinset-test"
so_pin=$(rand_pin)
user_pin=$(rand_pin)
softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$user_pin" >&2
log "SoftHSM $(softhsm2-util --version) token '$label' in $dir"

printf 'export SOFTHSM2_CONF=%q\n' "$SOFTHSM2_CONF"
printf 'export PINSET_PKCS11_MODULE=%q\n' "$module"
printf 'export PINSET_PKCS11_TOKEN=%q\n' "$label"
printf 'export PINSET_PKCS11_PIN=%q\n' "$user_pin"
