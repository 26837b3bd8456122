#!/usr/bin/env bash
# The pinblock CLI against keys a new user puts in a SoftHSM token with
# standard PKCS#11 tools (pkcs11-tool), and blocks made by independent
# implementations (OpenSSL). Needs the exports of tests/softhsm/setup.sh.
#
#   eval "$(bash tests/softhsm/setup.sh)"; bash tests/softhsm/cli.sh target/release/pinblock
set -uo pipefail

bin=${1:-target/release/pinblock}
data=crates/envelope/tests/data
: "${PINSET_PKCS11_MODULE:?run tests/softhsm/setup.sh first}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { # name, expected, actual
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $1: expected '$2', got '$3'"; fi
}
tool() {
  pkcs11-tool --module "$PINSET_PKCS11_MODULE" --token-label "$PINSET_PKCS11_TOKEN" \
    --login --pin env:PINSET_PKCS11_PIN "$@" >/dev/null 2>&1
}
p11=(--provider pkcs11 --pkcs11-module "$PINSET_PKCS11_MODULE" --pkcs11-token "$PINSET_PKCS11_TOKEN"
  --pkcs11-pin-env PINSET_PKCS11_PIN)
hexof() { xxd -p "$1" | tr -d '\n'; }

# Mastercard Processing sandbox ZPK (shared/vectors/iso9564.json), CKA_ID 01 = PIN encryption.
zpk=F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861
printf '%s' "$zpk" | xxd -r -p > "$tmp/zpk.bin"
tool --write-object "$tmp/zpk.bin" --type secrkey --key-type DES3:24 --label cli-zpk --id 01 --sensitive --private
# jPOS JCESecurityModuleTest's clear format 0 block of PIN 1234, enciphered by OpenSSL.
block=$(printf 0412719876FEDCBA | xxd -r -p | openssl enc -des-ede3-ecb -K "$zpk" -nopad | xxd -p -u)
check "decode iso0 under a pkcs11-tool TDES key" 1234 \
  "$("$bin" decode "${p11[@]}" --format iso0 --block "$block" --pan 1234567890123456 --tdes-key-label cli-zpk)"
# Encode in the token, decipher with OpenSSL: format 0 is deterministic.
out=$("$bin" encode "${p11[@]}" --format iso0 --pin 1234 --pan 1234567890123456 --tdes-key-label cli-zpk)
check "encode iso0 in the token, as OpenSSL enciphers it" "$block" "$out"
check "translate iso0 in the token to a software key and back" 1234 \
  "$("$bin" decode --format iso0 --pan 1234567890123456 --tdes-key 0123456789ABCDEFFEDCBA9876543210 --block \
    "$("$bin" translate "${p11[@]}" --from iso0 --to iso0 --block "$block" --pan 1234567890123456 \
      --from-tdes-key-label cli-zpk --to-tdes-key 0123456789ABCDEFFEDCBA9876543210)")"

# The OpenSSL-made RSA key and cryptograms of crates/envelope/tests/data (PIN 1234, format 1).
tool --write-object "$data/rsa2048.pem" --type privkey --label cli-rsa --id 01 --sensitive --private
for case in oaep-sha1:iso1_pin1234_oaep_sha1.bin pkcs1v15:iso1_pin1234_pkcs1v15.bin; do
  check "decode RSA ${case%%:*} under a pkcs11-tool key" 1234 \
    "$("$bin" decode "${p11[@]}" --format iso1 --block "$(hexof "$data/${case#*:}")" \
      --rsa-private-key-label cli-rsa --padding "${case%%:*}")"
done
err=$("$bin" decode "${p11[@]}" --format iso1 --block "$(hexof "$data/iso1_pin1234_oaep_sha256.bin")" \
  --rsa-private-key-label cli-rsa --padding oaep-sha256 2>&1 >/dev/null); rc=$?
check "SoftHSM 2.6 OAEP-SHA-256: unsupported, exit 1" \
  "1 pinblock: error: the pkcs11 security module does not support decrypting RSA-OAEP with SHA-256" "$rc $err"
check "aws-lc decodes OpenSSL's OAEP-SHA-256 cryptogram" 1234 \
  "$("$bin" decode --provider aws-lc --format iso1 --block "$(hexof "$data/iso1_pin1234_oaep_sha256.bin")" \
    --rsa-private-key "$data/rsa2048.pem")"
# A key the token would let out is refused, even sensitive.
tool --write-object "$tmp/zpk.bin" --type secrkey --key-type DES3:24 --label cli-zpk-x --id 01 --sensitive \
  --private --extractable
err=$("$bin" decode "${p11[@]}" --format iso0 --block "$block" --pan 1234567890123456 \
  --tdes-key-label cli-zpk-x 2>&1 >/dev/null); rc=$?
case "$err" in *CKA_EXTRACTABLE*) why=extractable ;; *) why="$err" ;; esac
check "an extractable token key is refused, exit 1" "1 extractable" "$rc $why"
err=$("$bin" decode "${p11[@]}" --format iso0 --block "$block" --pan 1234567890123456 --tdes-key-label no-such 2>&1); rc=$?
check "an unknown label exits 1" 1 "$rc"
case "$err$("$bin" decode "${p11[@]}" --format iso0 --block "$block" --pan 1234567890123456 \
  --tdes-key-label cli-zpk 2>&1)" in *"$zpk"*|*"$PINSET_PKCS11_PIN"*) check "no key or PIN in output" yes no ;; esac

echo "softhsm cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
