#!/usr/bin/env python3
"""Randomized cross-check of `pinblock pvv`, `ibm3624-offset`, `ibm3624-pin` and `tr31` against psec.

psec (PyPI, MIT, pinned in requirements.txt) shares no code with pinset:

* ``psec.pin.generate_visa_pvv`` for the Visa PVV (psec takes exactly four
  PIN digits; the PVV uses the first four of any PIN, so it gets those);
* ``psec.pin.generate_ibm3624_offset`` and ``generate_ibm3624_pin`` for the
  IBM 3624 offset, natural PIN (offset ``00…0``) and customer PIN (natural
  PIN plus an offset).  psec takes the validation data as PAN digits plus an
  offset and a length into them: our ``--validation-data`` digits are passed
  as that "PAN", from 0, whole;
* ``psec.tr31.wrap`` and ``psec.tr31.unwrap`` for TR-31 key blocks of
  versions A, B, C and D.

Checked, each kind ``--cases`` times (default 300) from ``--seed``:
  pvv             random 2- and 3-key TDES PVKs, PVKI 0-6, PINs of 4-12
                  digits, PANs of 13-19 digits: CLI == psec
  pvv-letters     3 PVVs (found by search) that need the A-F fallback
  ibm-offset      random tables, validation data of 1-16 digits, pad F or
                  another hex digit, PINs of 4-12 digits: CLI == psec
  ibm-natural     natural PIN of 4-12 digits: CLI == psec
  ibm-customer    --offset of 4-12 digits (with and without --length):
                  CLI == psec
  tr31-psec-cli   psec wraps (B: 2/3-key TDES KBPK, D: AES-128/192/256 KBPK;
                  TDES 16/24 or AES 16/24/32 keys; usages P0 V1 V2 K0 K1 D0
                  with allowed modes; exportability E N S; key version 00 or
                  random; sometimes KS/TC optional blocks), CLI unwraps the key
  tr31-cli-psec   CLI wraps the same kind of header, psec unwraps the key and
                  the same header fields and optional blocks
  tr31-legacy     psec wraps versions A and C, CLI unwraps them
  tr31-tamper     one character of a block altered (header, key data or MAC),
                  or a wrong KBPK: CLI exits 1, stdout empty, and the same
                  single stderr line every time
plus the published vectors (psec tests/test_pin.py; ANSI TR-31:2018 A.7.2.1,
A.7.2.2, A.7.4) through both implementations, and refusals (single-DES PVK and
KBPK, version A/C wrap, bad parameters) that must keep the error contract:
non-zero exit, empty stdout, one stderr line that quotes no key, PIN, PAN or
block.

The last line printed is ``verify-tr31: N passed, M failed``; the exit status
is non-zero when M > 0.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

try:
    import psec
    import psec.des
    import psec.pin
    import psec.tr31
except ImportError as exc:  # pragma: no cover
    sys.stderr.write(
        f"verify_tr31.py: missing dependency ({exc}); "
        "pip install -r tests/interop/requirements.txt (or use tests/interop/run.sh)\n"
    )
    sys.exit(2)

warnings.filterwarnings("ignore", module=r"psec.*")

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parent.parent
DEFAULT_BIN = REPO_ROOT / "target" / "release" / "pinblock"

# Random values, cases, running and the report are cross_check.py's.
sys.path.insert(0, str(SCRIPT_DIR))
from cross_check import (  # noqa: E402
    HEX, Case, Result, Tally, add_run_args, find_binary, h, leaked, rand_aes_key, rand_digits,
    report, run_cases,
)
from cross_check import rand_tdes_key as _rand_tdes_key  # noqa: E402

REFUSED = "pinblock: error: the key block could not be unwrapped: wrong KBPK, or not a valid TR-31 key block"

# --------------------------------------------------------------------------
# Published vectors
# --------------------------------------------------------------------------

PVK = "0123456789ABCDEFFEDCBA9876543210"
VECTORS_PVV = [
    # (pvk, pvki, pin, pan, pvv, source)
    (PVK, "1", "4524", "1122334455667788", "8523", "psec tests/test_pin.py"),
    (PVK, "2", "1912", "1122334455667788", "3244", "psec tests/test_pin.py"),
    (PVK, "3", "4524", "1122334455667788", "4021", "psec pin.generate_visa_pvv docstring"),
]
VECTORS_IBM = [
    # (pvk, table, validation data, pad, pin, offset, source)
    (PVK, "1234567890123456", "1122334455667788", "F", "4524", "0000", "psec tests/test_pin.py"),
    (PVK, "1234567890123456", "1122334455667788", "F", "1234", "7710", "psec tests/test_pin.py"),
]
VECTORS_TR31 = [
    # (kbpk, key, block, source)
    ("89E88CF7931444F334BD7547FC3F380C", "F039121BEC83D26B169BDCD5B22AAF8F",
     "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701",
     "ANSI TR-31:2018 A.7.2.1"),
    ("DD7515F2BFC17F85CE48F3CA25CB21F6", "3F419E1CB7079442AA37474C2EFBF8B8",
     "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E",
     "ANSI TR-31:2018 A.7.2.2"),
    ("88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
     "3F419E1CB7079442AA37474C2EFBF8B8",
     "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34",
     "ANSI TR-31:2018 A.7.4"),
]

# Key usages and the modes of use pinset-tr31 (and X9.143) allow for them.
USAGE_MODES = {
    "P0": "BDE", "K0": "BDE", "K1": "BDE", "D0": "BDE",
    "V1": "CGVN", "V2": "CGVN",
}

# DES weak and semi-weak keys (FIPS 74), parity bits ignored: pinset refuses
# a TDES key with such a part, so random keys avoid them.
_WEAK = [int(k, 16) & ~0x0101010101010101 for k in (
    "0101010101010101", "FEFEFEFEFEFEFEFE", "E0E0E0E0F1F1F1F1", "1F1F1F1F0E0E0E0E",
    "011F011F010E010E", "1F011F010E010E01", "01E001E001F101F1", "E001E001F101F101",
    "01FE01FE01FE01FE", "FE01FE01FE01FE01", "1FE01FE00EF10EF1", "E01FE01FF10EF10E",
    "1FFE1FFE0EFE0EFE", "FE1FFE1FFE0EFE0E", "E0FEE0FEF1FEF1FE", "FEE0FEE0FEF1FEF1",
)]

# --------------------------------------------------------------------------
# Random values
# --------------------------------------------------------------------------


def rand_tdes_key(rng: random.Random, n: int) -> bytes:
    """A TDES key pinset accepts: not single DES in disguise, no weak part
    (parity bits as drawn)."""
    return _rand_tdes_key(rng, n, parity=False, refuse=_WEAK)


# --------------------------------------------------------------------------
# Cases and bookkeeping
# --------------------------------------------------------------------------


def expect_line(want: str, secrets=()):
    """Exit 0, stdout exactly `want` and a newline, stderr empty."""
    def verify(r: Result) -> list:
        probs = []
        if r.rc != 0:
            return [f"exit {r.rc}, stderr: {r.err.strip()[:200]!r}"]
        if r.out != want + "\n":
            probs.append(f"stdout {r.out[:200]!r}, want {want!r}")
        if r.err:
            probs.append(f"stderr not empty: {r.err[:200]!r}")
        return probs
    return verify


def expect_fail(code: int = 1, message: Optional[str] = None, secrets=()):
    """Exit `code`, empty stdout, one stderr line (equal to `message` if
    given) quoting none of `secrets`."""
    def verify(r: Result) -> list:
        probs = []
        if r.rc != code:
            probs.append(f"exit {r.rc}, want {code}")
        if r.out:
            probs.append(f"stdout not empty: {r.out[:120]!r}")
        lines = r.err.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) != 1 or not lines[0].startswith("pinblock: error: "):
            probs.append(f"stderr is not one 'pinblock: error:' line: {r.err[:300]!r}")
        elif message is not None and lines[0] != message:
            probs.append(f"stderr {lines[0]!r}, want {message!r}")
        for s in secrets:
            # Digit strings under 6 only as a whole number: "PIN must have 4 to 12 digits" is no leak.
            if leaked(r.err, s, whole_below=6):
                probs.append(f"stderr quotes a secret ({len(s)} characters)")
        return probs
    return verify


# --------------------------------------------------------------------------
# PVV and IBM 3624
# --------------------------------------------------------------------------


def rand_pvk(rng: random.Random) -> bytes:
    return rand_tdes_key(rng, rng.choice((16, 24)))


def pvk_arg(rng: random.Random, pvk: bytes) -> str:
    return pvk.hex() if rng.random() < 0.2 else h(pvk)


def gen_pvv(i: int, rng: random.Random) -> Case:
    pvk = rand_pvk(rng)
    pvki = str(rng.randrange(7))
    pin = rand_digits(rng, rng.randint(4, 12))
    pan = rand_digits(rng, rng.randint(13, 19))
    want = psec.pin.generate_visa_pvv(pvk, pvki, pin[:4], pan)
    args = ["pvv", "--pvk", pvk_arg(rng, pvk), "--pvki", pvki, "--pan", pan]
    stdin = None
    if i % 10 == 0:  # the PIN from stdin
        args += ["--pin", "-"]
        stdin = pin + "\n"
    else:
        args += ["--pin", pin]
    return Case("pvv", args, expect_line(want), stdin)


def gen_pvv_letters(rng: random.Random, n: int) -> list:
    """PVVs whose enciphered TSP has fewer than four decimal digits, so the
    PVV takes letters A-F less 10: found by search (about 1 in 2 000)."""
    pvk = rand_pvk(rng)
    cases = []
    while len(cases) < n:
        pvki = str(rng.randrange(7))
        pin = rand_digits(rng, 4)
        pan = rand_digits(rng, rng.randint(13, 19))
        tsp = psec.des.encrypt_tdes_ecb(pvk, bytes.fromhex(pan[-12:-1] + pvki + pin)).hex()
        if sum(c.isdigit() for c in tsp) >= 4:
            continue
        want = psec.pin.generate_visa_pvv(pvk, pvki, pin, pan)
        cases.append(Case("pvv-letters", ["pvv", "--pvk", h(pvk), "--pvki", pvki, "--pin", pin, "--pan", pan],
                          expect_line(want)))
    return cases


def rand_ibm(rng: random.Random):
    """PVK, table, validation data, pad (None for the default F)."""
    pvk = rand_pvk(rng)
    table = rand_digits(rng, 16)
    data = rand_digits(rng, 16 if rng.random() < 0.5 else rng.randint(1, 15))
    pad = None if rng.random() < 0.7 else rng.choice(HEX + "abcdef")
    return pvk, table, data, pad


def ibm_args(rng: random.Random, pvk: bytes, table: str, data: str, pad: Optional[str]) -> list:
    args = ["--pvk", pvk_arg(rng, pvk), "--decimalization-table", table, "--validation-data", data]
    return args + (["--pad", pad] if pad is not None else [])


def gen_ibm_offset(i: int, rng: random.Random) -> Case:
    pvk, table, data, pad = rand_ibm(rng)
    pin = rand_digits(rng, rng.randint(4, 12))
    want = psec.pin.generate_ibm3624_offset(pvk, table, pin, data, 0, len(data), (pad or "F").upper())
    args = ["ibm3624-offset"] + ibm_args(rng, pvk, table, data, pad)
    if i % 10 == 0:
        return Case("ibm-offset", args + ["--pin", "-"], expect_line(want), pin)
    return Case("ibm-offset", args + ["--pin", pin], expect_line(want))


def gen_ibm_natural(i: int, rng: random.Random) -> Case:
    pvk, table, data, pad = rand_ibm(rng)
    length = rng.randint(4, 12)
    want = psec.pin.generate_ibm3624_pin(pvk, table, "0" * length, data, 0, len(data), (pad or "F").upper())
    args = ["ibm3624-pin"] + ibm_args(rng, pvk, table, data, pad) + ["--length", str(length)]
    return Case("ibm-natural", args, expect_line(want))


def gen_ibm_customer(i: int, rng: random.Random) -> Case:
    pvk, table, data, pad = rand_ibm(rng)
    offset = rand_digits(rng, rng.randint(4, 12))
    want = psec.pin.generate_ibm3624_pin(pvk, table, offset, data, 0, len(data), (pad or "F").upper())
    args = ["ibm3624-pin"] + ibm_args(rng, pvk, table, data, pad) + ["--offset", offset]
    if i % 2:
        args += ["--length", str(len(offset))]
    return Case("ibm-customer", args, expect_line(want))


# --------------------------------------------------------------------------
# TR-31
# --------------------------------------------------------------------------


@dataclass
class Tr31Spec:
    version: str
    kbpk: bytes
    key: bytes
    usage: str
    algorithm: str
    mode: str
    key_version: str
    exportability: str
    blocks: list  # [(id, data)]

    def header(self) -> str:
        """The bare header, length field 0000, without a padding block."""
        opt = ""
        for bid, data in self.blocks:
            opt += bid + f"{len(data) + 4:02X}" + data
        return (f"{self.version}0000{self.usage}{self.algorithm}{self.mode}{self.key_version}"
                f"{self.exportability}{len(self.blocks):02d}00{opt}")


def rand_block_data(rng: random.Random) -> str:
    return "".join(rng.choice(HEX) for _ in range(rng.randint(1, 40)))


def rand_tr31(rng: random.Random, version: str) -> Tr31Spec:
    if version in "ABC":
        kbpk = rand_tdes_key(rng, rng.choice((16, 24)))
    else:
        kbpk = rand_aes_key(rng, rng.choice((16, 24, 32)), nonzero=True)
    if rng.random() < 0.5:
        algorithm, key = "T", rand_tdes_key(rng, rng.choice((16, 24)))
    else:
        algorithm, key = "A", rand_aes_key(rng, rng.choice((16, 24, 32)), nonzero=True)
    usage = rng.choice(sorted(USAGE_MODES))
    mode = rng.choice(USAGE_MODES[usage])
    key_version = "00" if rng.random() < 0.5 else rand_digits(rng, 2)
    blocks = []
    if rng.random() < 0.4:
        blocks.append(("KS", rand_block_data(rng)))
        if rng.random() < 0.3:
            blocks.append(("TC", "20" + rand_digits(rng, 12) + "Z"))
    return Tr31Spec(version, kbpk, key, usage, algorithm, mode, key_version,
                    rng.choice("ENS"), blocks)


def gen_tr31_psec_cli(i: int, rng: random.Random, tamper_pool: list) -> Case:
    spec = rand_tr31(rng, rng.choice("BD"))
    block = psec.tr31.wrap(spec.kbpk, spec.header(), spec.key)
    tamper_pool.append((spec, block))
    return Case("tr31-psec-cli", ["tr31", "unwrap", "--kbpk", h(spec.kbpk), "--block", block],
                expect_line(h(spec.key)))


def verify_cli_wrap(spec: Tr31Spec) -> Callable[[Result], list]:
    def verify(r: Result) -> list:
        if r.rc != 0:
            return [f"exit {r.rc}, stderr: {r.err.strip()[:200]!r}"]
        if r.err:
            return [f"stderr not empty: {r.err[:200]!r}"]
        if not r.out.endswith("\n") or r.out.count("\n") != 1:
            return [f"stdout is not one line: {r.out[:200]!r}"]
        block = r.out[:-1]
        probs = []
        if not block[1:5].isdigit() or int(block[1:5]) != len(block):
            probs.append(f"length field {block[1:5]!r} but {len(block)} characters")
        try:
            header, key = psec.tr31.unwrap(spec.kbpk, block)
        except Exception as e:  # psec refuses the block
            return probs + [f"psec refused the block: {type(e).__name__}: {e}"]
        if key != spec.key:
            probs.append("psec unwrapped another key")
        got = (header.version_id, header.key_usage, header.algorithm, header.mode_of_use,
               header.version_num, header.exportability)
        want = (spec.version, spec.usage, spec.algorithm, spec.mode, spec.key_version, spec.exportability)
        if got != want:
            probs.append(f"header fields {got}, want {want}")
        if dict(header.blocks.items()) != dict(spec.blocks):
            probs.append(f"optional blocks {dict(header.blocks.items())}, want {dict(spec.blocks)}")
        return probs
    return verify


def gen_tr31_cli_psec(i: int, rng: random.Random) -> Case:
    spec = rand_tr31(rng, rng.choice("BD"))
    args = ["tr31", "wrap", "--kbpk", h(spec.kbpk), "--header", spec.header(), "--key", h(spec.key)]
    return Case("tr31-cli-psec", args, verify_cli_wrap(spec))


def gen_tr31_legacy(i: int, rng: random.Random) -> Case:
    spec = rand_tr31(rng, rng.choice("AC"))
    block = psec.tr31.wrap(spec.kbpk, spec.header(), spec.key)
    return Case(f"tr31-legacy-{spec.version}", ["tr31", "unwrap", "--kbpk", h(spec.kbpk), "--block", block],
                expect_line(h(spec.key)))


def tamper(rng: random.Random, block: str) -> tuple:
    """One character of `block` changed; returns (region, altered block)."""
    version = block[0]
    mac_hex = {"A": 8, "B": 16, "C": 8, "D": 32}[version]
    # Header length: psec's own parser tells where the optional blocks end.
    hdr = psec.tr31.Header()
    header_len = hdr.load(block)
    region = rng.choice(("header", "key data", "mac"))
    if region == "header":
        pos = rng.randrange(header_len)
        alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    elif region == "key data":
        pos = rng.randrange(header_len, len(block) - mac_hex)
        alphabet = HEX
    else:
        pos = rng.randrange(len(block) - mac_hex, len(block))
        alphabet = HEX
    new = rng.choice([c for c in alphabet if c != block[pos]])
    return region, block[:pos] + new + block[pos + 1:]


def gen_tamper(rng: random.Random, pool: list, n: int) -> list:
    cases = []
    for spec, block in rng.sample(pool, min(n, len(pool))):
        secrets = (h(spec.kbpk), h(spec.key), block)
        region, bad = tamper(rng, block)
        cases.append(Case(f"tr31-tamper-{region.replace(' ', '-')}",
                          ["tr31", "unwrap", "--kbpk", h(spec.kbpk), "--block", bad],
                          expect_fail(1, REFUSED, secrets)))
    # A wrong KBPK of the right family and length.
    for spec, block in rng.sample(pool, min(max(n // 5, 1), len(pool))):
        other = (rand_tdes_key(rng, len(spec.kbpk)) if spec.version == "B"
                 else rand_aes_key(rng, len(spec.kbpk), nonzero=True))
        cases.append(Case("tr31-tamper-wrong-kbpk", ["tr31", "unwrap", "--kbpk", h(other), "--block", block],
                          expect_fail(1, REFUSED, (h(other), h(spec.kbpk), h(spec.key), block))))
    return cases


# --------------------------------------------------------------------------
# Fixed cases: vectors and refusals
# --------------------------------------------------------------------------


def gen_fixed(rng: random.Random, tally: Tally) -> list:
    cases = []
    for pvk, pvki, pin, pan, pvv, src in VECTORS_PVV:
        got = psec.pin.generate_visa_pvv(bytes.fromhex(pvk), pvki, pin, pan)
        tally.record("vector/psec-pvv", [] if got == pvv else [f"[{src}] psec gives {got}, want {pvv}"])
        cases.append(Case("vector/cli-pvv", ["pvv", "--pvk", pvk, "--pvki", pvki, "--pin", pin, "--pan", pan],
                          expect_line(pvv)))
    for pvk, table, data, pad, pin, offset, src in VECTORS_IBM:
        got = psec.pin.generate_ibm3624_offset(bytes.fromhex(pvk), table, pin, data, 0, len(data), pad)
        tally.record("vector/psec-ibm3624", [] if got == offset else [f"[{src}] psec gives {got}, want {offset}"])
        base = ["--pvk", pvk, "--decimalization-table", table, "--validation-data", data, "--pad", pad]
        cases.append(Case("vector/cli-ibm3624-offset", ["ibm3624-offset"] + base + ["--pin", pin],
                          expect_line(offset)))
        cases.append(Case("vector/cli-ibm3624-customer-pin", ["ibm3624-pin"] + base + ["--offset", offset],
                          expect_line(pin)))
    cases.append(Case("vector/cli-ibm3624-natural-pin",
                      ["ibm3624-pin", "--pvk", PVK, "--decimalization-table", "1234567890123456",
                       "--validation-data", "1122334455667788", "--length", "4"], expect_line("4524")))
    for kbpk, key, block, src in VECTORS_TR31:
        try:
            _, got = psec.tr31.unwrap(bytes.fromhex(kbpk), block)
            probs = [] if h(got) == key else [f"[{src}] psec unwraps {h(got)}"]
        except Exception as e:
            probs = [f"[{src}] psec refuses: {e}"]
        tally.record("vector/psec-tr31", probs)
        cases.append(Case(f"vector/cli-tr31-{block[0]}", ["tr31", "unwrap", "--kbpk", kbpk, "--block", block],
                          expect_line(key)))

    # Refusals: the error contract, and no secret quoted.
    pin, pan = "4524", "1122334455667788"
    k1, k0 = rand_tdes_key(rng, 16)[:8], rand_tdes_key(rng, 16)[:8]
    single = h(k1 + k1)
    three_single = h(k0 + k1 + k1)
    cases.append(Case("refuse/pvv-single-des-pvk",
                      ["pvv", "--pvk", single, "--pvki", "1", "--pin", pin, "--pan", pan],
                      expect_fail(1, "pinblock: error: --pvk: TDES key refused: two key parts are equal, "
                                     "so it is single DES", (single, pin, pan))))
    cases.append(Case("refuse/pvv-3key-single-des-pvk",
                      ["pvv", "--pvk", three_single, "--pvki", "1", "--pin", pin, "--pan", pan],
                      expect_fail(1, None, (three_single, pin, pan))))
    cases.append(Case("refuse/ibm-single-des-pvk",
                      ["ibm3624-offset", "--pvk", single, "--decimalization-table", "0123456789012345",
                       "--validation-data", pan, "--pin", pin],
                      expect_fail(1, None, (single, pin, pan))))
    cases.append(Case("refuse/tr31-single-des-kbpk",
                      ["tr31", "unwrap", "--kbpk", single, "--block", VECTORS_TR31[1][2]],
                      expect_fail(1, None, (single, VECTORS_TR31[1][1], VECTORS_TR31[1][2]))))
    for bad_args, secrets in [
        (["pvv", "--pvk", PVK, "--pvki", "7", "--pin", pin, "--pan", pan], (PVK, pin, pan)),
        (["pvv", "--pvk", PVK, "--pvki", "1", "--pin", "452", "--pan", pan], (PVK, "452", pan)),
        (["pvv", "--pvk", PVK, "--pvki", "1", "--pin", "45x4", "--pan", pan], (PVK, "45x4", pan)),
        (["pvv", "--pvk", PVK, "--pvki", "1", "--pin", pin, "--pan", "11223344556677889900"],
         (PVK, pin, "11223344556677889900")),
        (["pvv", "--pvk", PVK[:-2], "--pvki", "1", "--pin", pin, "--pan", pan], (PVK[:-2], pin, pan)),
        (["ibm3624-offset", "--pvk", PVK, "--decimalization-table", "123456789012345",
          "--validation-data", pan, "--pin", pin], (PVK, pin, pan)),
        (["ibm3624-offset", "--pvk", PVK, "--decimalization-table", "1234567890123456",
          "--validation-data", pan + "1", "--pin", pin], (PVK, pin, pan)),
        (["ibm3624-offset", "--pvk", PVK, "--decimalization-table", "1234567890123456",
          "--validation-data", pan, "--pad", "G", "--pin", pin], (PVK, pin, pan)),
        (["ibm3624-pin", "--pvk", PVK, "--decimalization-table", "1234567890123456",
          "--validation-data", pan, "--offset", "77x0"], (PVK, "77x0", pan)),
        (["ibm3624-pin", "--pvk", PVK, "--decimalization-table", "1234567890123456",
          "--validation-data", pan, "--length", "13"], (PVK, pan)),
        (["tr31", "unwrap", "--kbpk", VECTORS_TR31[1][0][:-2], "--block", VECTORS_TR31[1][2]],
         (VECTORS_TR31[1][0][:-2], VECTORS_TR31[1][2])),
        (["tr31", "wrap", "--kbpk", VECTORS_TR31[1][0], "--header", "B0000P0TG00E0000",
          "--key", VECTORS_TR31[1][1]], (VECTORS_TR31[1][0], VECTORS_TR31[1][1])),
        (["tr31", "wrap", "--kbpk", VECTORS_TR31[1][0], "--header", "B0000P0TE00E0000",
          "--key", VECTORS_TR31[2][0]], (VECTORS_TR31[1][0], VECTORS_TR31[2][0])),
    ]:
        cases.append(Case(f"refuse/{bad_args[0]}", bad_args, expect_fail(1, None, secrets)))
    for v in "AC":
        kbpk, key = VECTORS_TR31[0][0], VECTORS_TR31[0][1]
        cases.append(Case("refuse/tr31-wrap-deprecated-version",
                          ["tr31", "wrap", "--kbpk", kbpk, "--header", f"{v}0000P0TE00E0000", "--key", key],
                          expect_fail(2, f"pinblock: error: --header: TR-31 version {v} is deprecated and "
                                         "unwrap-only: wrap with version B (TDES KBPK) or D (AES KBPK)",
                                      (kbpk, key))))
    return cases


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(DEFAULT_BIN),
                    help="pinblock binary (default: target/release/pinblock under the repo root)")
    ap.add_argument("--seed", type=int, default=3624, help="random seed (default 3624)")
    ap.add_argument("--cases", type=int, default=300, help="random cases per kind (default 300)")
    add_run_args(ap, show=50)
    args = ap.parse_args(argv)

    started = time.monotonic()
    tally = Tally()
    rng = random.Random(args.seed)
    # psec's key block padding comes from os.urandom: route it to the seed.
    psec.tr31._urandom = lambda n: rng.randbytes(n)

    binary = find_binary(args.bin, tally)
    if binary is not None:
        cases = gen_fixed(rng, tally)
        pool: list = []
        n = args.cases
        cases += [gen_pvv(i, rng) for i in range(n)]
        cases += gen_pvv_letters(rng, 3)
        cases += [gen_ibm_offset(i, rng) for i in range(n)]
        cases += [gen_ibm_natural(i, rng) for i in range(n)]
        cases += [gen_ibm_customer(i, rng) for i in range(n)]
        cases += [gen_tr31_psec_cli(i, rng, pool) for i in range(n)]
        cases += [gen_tr31_cli_psec(i, rng) for i in range(n)]
        cases += [gen_tr31_legacy(i, rng) for i in range(max(n // 3, 1))]
        cases += gen_tamper(rng, pool, n)
        results = run_cases(binary, cases, args.jobs, args.timeout, tally)
        # Every tampered block and wrong KBPK gave one and the same line.
        refusals = {res.err for case, res in zip(cases, results) if case.name.startswith("tr31-tamper")}
        tally.record("tr31-tamper-one-message",
                     [] if len(refusals) == 1 else [f"{len(refusals)} distinct stderr texts: {sorted(refusals)[:5]}"])
        print(f"verify-tr31: psec {psec.__version__}, {len(cases)} CLI runs in "
              f"{time.monotonic() - started:.1f}s (seed {args.seed}, {n} cases per kind)")

    return report(tally, "verify-tr31", args.show, args.verbose)

if __name__ == "__main__":
    sys.exit(main())
