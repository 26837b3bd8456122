#!/usr/bin/env bash
# pinset -> OpenSSL: decrypt pinset's RSA cryptograms with OpenSSL 3 `pkeyutl`.
#
#   bash tests/interop/rsa_openssl.sh [DIR]
#
# DIR holds what the ignored test `write_cryptograms_for_openssl` in
# crates/envelope/tests/rsa.rs writes (run it with PINSET_RSA_OUT=DIR):
#
#   iso1_pin1234_{oaep-sha256,oaep-sha1,pkcs1v15}.bin  PIN 1234, format 1, sealed
#                                                     under tests/data/rsa2048.pem
#   tdes_key_{oaep-sha256,oaep-sha1,pkcs1v15}.bin      a 16-byte TDES key, wrapped
#   tdes_key.hex, tdes_key.kcv                         that key in clear, and our KCV
#
# Without DIR the script runs that test into a temporary directory first.
# (The direction OpenSSL -> pinset is fixed fixtures: tests/data/README.md.)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
data="$root/crates/envelope/tests/data"
key="$data/rsa2048.pem"
other="$data/rsa2048_other.pem"

command -v openssl >/dev/null || { echo "rsa-openssl: openssl not found" >&2; exit 2; }
case "$(openssl version)" in
    "OpenSSL 3."*) ;;
    *) echo "rsa-openssl: needs OpenSSL 3, found: $(openssl version)" >&2; exit 2 ;;
esac

if [ $# -gt 0 ]; then
    dir=$(cd "$1" && pwd)
else
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    (cd "$root" && PINSET_RSA_OUT="$dir" cargo test --quiet -p pinset-envelope --test rsa \
        -- --ignored --exact write_cryptograms_for_openssl >/dev/null)
fi

# The -pkeyopt flags for each pinset padding name.
opts() {
    case "$1" in
        oaep-sha256) echo "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256" ;;
        oaep-sha1) echo "-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1" ;;
        pkcs1v15) echo "-pkeyopt rsa_padding_mode:pkcs1" ;;
        *) echo "unknown padding $1" >&2; return 1 ;;
    esac
}

# decrypt KEY PADDING FILE: the plaintext as uppercase hex, or fails.
decrypt() {
    local out
    # shellcheck disable=SC2046 # the options are meant to split
    out=$(openssl pkeyutl -decrypt -inkey "$1" $(opts "$2") -in "$3" 2>/dev/null | xxd -p -u | tr -d '\n') &&
        printf '%s\n' "$out" # pipefail: an openssl failure fails the whole pipeline
}

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }

want_key=$(tr -d '[:space:]' <"$dir/tdes_key.hex")
our_kcv=$(tr -d '[:space:]' <"$dir/tdes_key.kcv")

# Our KCV against OpenSSL's TDES-ECB of eight zero bytes.
kcv=$(head -c 8 /dev/zero | openssl enc -des-ede -K "$want_key" -nopad | xxd -p -l 3 -u)
if [ "$kcv" = "$our_kcv" ]; then ok "KCV $our_kcv = openssl enc -des-ede"; else bad "KCV: ours $our_kcv, openssl $kcv"; fi

for padding in oaep-sha256 oaep-sha1 pkcs1v15; do
    pin_ct="$dir/iso1_pin1234_$padding.bin"
    key_ct="$dir/tdes_key_$padding.bin"

    for f in "$pin_ct" "$key_ct"; do
        size=$(wc -c <"$f")
        if [ "$size" -eq 256 ]; then ok "$padding: $(basename "$f") is 256 bytes"; else bad "$padding: $(basename "$f") is $size bytes"; fi
    done

    # The PIN block: control nibble 1, length 4, digits 1234, then 10 fill nibbles (any hex).
    if clear=$(decrypt "$key" "$padding" "$pin_ct"); then
        if [[ "$clear" =~ ^141234[0-9A-F]{10}$ ]]; then
            ok "$padding: PIN block $clear (format 1, PIN 1234)"
        else
            bad "$padding: plaintext $clear is not a format 1 block of PIN 1234"
        fi
    else
        bad "$padding: openssl could not decrypt the PIN block"
    fi

    # The wrapped key: exactly the clear key.
    if clear=$(decrypt "$key" "$padding" "$key_ct"); then
        if [ "$clear" = "$want_key" ]; then
            ok "$padding: unwrapped TDES key matches (KCV $our_kcv)"
        else
            bad "$padding: unwrapped $clear, expected $want_key"
        fi
    else
        bad "$padding: openssl could not unwrap the TDES key"
    fi

    # The padding is the one named: the other OAEP digest, and another key, fail.
    # (OpenSSL 3.0 PKCS#1 v1.5 has no implicit rejection, so a wrong key fails there too.)
    case "$padding" in
        oaep-sha256) wrong=oaep-sha1 ;;
        oaep-sha1) wrong=oaep-sha256 ;;
        pkcs1v15) wrong=oaep-sha256 ;;
    esac
    if decrypt "$key" "$wrong" "$pin_ct" >/dev/null; then
        bad "$padding: cryptogram also decrypts as $wrong"
    else
        ok "$padding: refused as $wrong"
    fi
    if clear=$(decrypt "$other" "$padding" "$pin_ct") && [[ "$clear" =~ ^141234 ]]; then
        bad "$padding: cryptogram decrypts under another key"
    else
        ok "$padding: refused under another key"
    fi
done

echo "rsa-openssl: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
