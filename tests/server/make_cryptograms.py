#!/usr/bin/env python3
"""Pre-makes fresh Mastercard set-PIN bodies for load.sh (one JSON body a line).

    make_cryptograms.py URL TOKEN --count N --out FILE

Fetches the server's RSA key (GET /public-keys) and writes N bodies
{"newPinBlock", "cardExpiryDate", "cardSequenceNumber"}, each the RSA-OAEP
SHA-256 cryptogram of its own ISO format 1 block (random PIN, random fill),
built with client.py's independent code. Every line is a distinct cryptogram,
so none is a replay while the file lasts.
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in tests/server
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import EXPIRY, KEY_INDEX, Api, choose_pin, format1_block, rsa_encrypt_hex  # noqa: E402

import json  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("token")
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    r = Api(args.url, args.token).get("/public-keys?data_type_to_secure=PIN_BLOCK")
    if r.status != 200:
        sys.stderr.write(f"make_cryptograms: GET /public-keys: {r}\n")
        return 1
    body = r.json()
    if body.get("keyIndex") != KEY_INDEX:
        sys.stderr.write(f"make_cryptograms: keyIndex {body.get('keyIndex')!r}, want {KEY_INDEX}\n")
        return 1
    spki = bytes.fromhex(body["publicRsaKey"])
    t0 = time.monotonic()
    with open(args.out, "w") as f:
        for _ in range(args.count):
            f.write(json.dumps({
                "newPinBlock": rsa_encrypt_hex(spki, format1_block(choose_pin())),
                "cardExpiryDate": EXPIRY,
                "cardSequenceNumber": "1",
            }, separators=(",", ":")) + "\n")
    print(f"make_cryptograms: {args.count} fresh cryptograms in {time.monotonic() - t0:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
