#!/usr/bin/env python3
"""Randomized interoperability cross-check of the `pinblock` CLI.

The CLI is checked in both directions against implementations that share no
code with it:

* ``psec`` (PyPI, pinned in requirements.txt) for ISO 9564-1 formats 0, 2, 3
  and 4: ``psec.pinblock.encode_pinblock_iso_0/2/3``,
  ``decode_pinblock_iso_0/2/3``, ``encipher_pinblock_iso_4``,
  ``decipher_pinblock_iso_4`` and ``encode_pan_field_iso_4``; and
  ``psec.des.adjust_key_parity`` to make well-formed TDES keys.
* ``cryptography`` (PyPI) for TDES-ECB, AES-ECB and AES-CMAC (KCVs).
* Format 1, which psec lacks, is written here straight from ISO 9564-1:
  control nibble 1, PIN length nibble, PIN digits, random fill 0-F up to 16
  nibbles.

Directions checked for every format and key kind:
  CLI encode  -> independent decrypt + decode (PIN equal, fill rules hold)
  independent encode + encrypt -> CLI decode (PIN equal)
plus KCVs, translate, PIN on stdin, base64, lowercase hex, published vectors
and negative cases (non-zero exit, empty stdout, one stderr line, no PIN / PAN
/ key echoed on stderr).

All randomness comes from ``--seed``; psec's own randomness (format 3 fill,
format 4 random pad) is redirected to the same seeded generator, so a run is
reproducible.  ``--self-test`` checks only the independent side against
published vectors and needs no binary.

The last line printed is ``interop: N passed, M failed``; the exit status is
non-zero when M > 0.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

try:
    from cryptography.hazmat.primitives import cmac as _cmac
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    try:  # cryptography >= 43 keeps TripleDES here
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES as _TripleDES
    except ImportError:  # pragma: no cover - older cryptography
        _TripleDES = algorithms.TripleDES
    import psec
    import psec.des
    import psec.pinblock
except ImportError as exc:  # pragma: no cover
    sys.stderr.write(
        f"cross_check.py: missing dependency ({exc}); "
        "pip install -r tests/interop/requirements.txt (or use tests/interop/run.sh)\n"
    )
    sys.exit(2)

warnings.filterwarnings("ignore", module=r"cryptography.*")
warnings.filterwarnings("ignore", module=r"psec.*")

SCRIPT_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPT_DIR.parent.parent
DEFAULT_BIN = REPO_ROOT / "target" / "release" / "pinblock"
DEFAULT_VECTORS = REPO_ROOT.parent / "shared" / "vectors" / "iso9564.json"

HEX = "0123456789ABCDEF"

# --------------------------------------------------------------------------
# Published vectors (self-checks of the independent side, and CLI checks).
# --------------------------------------------------------------------------

VECTORS_FORMAT0 = [
    # (pin, pan, clear block, source)
    ("1234", "5432101234567891", "041215FEDCBA9876", "moov-io/pinblock formats/iso0_test.go"),
    ("92389", "4000001234562", "0592789FFFEDCBA9", "pynblock tests.py"),
]
VECTORS_FORMAT1_TDES = [
    # (tdes key, clear block, encrypted block, pin, source)
    ("12345678123456781234567812345678", "14123444B4B2B43F", "07438C40F225BF7D", "1234",
     "jPOS JCESecurityModuleTest"),
]
VECTORS_FORMAT3_F_FILL = [
    # (pin, pan, clear block with F fill, source)
    ("1234", "12345678901234", "341217BA9876FEDC", "paysec src/pin/iso_9564/tests/test_format_3.rs"),
]
VECTORS_FORMAT4 = [
    # (aes key, pin, pan, pin field, enciphered block, source)
    ("C1D0F8FB4958670DBA40AB1F3752EF0D", "1234", "432198765432109870",
     "441234AAAAAAAAAA146C6601F4A8035C", "CC17F65586BFD0953010226C4FC5B3CA",
     "psec tests (ep2 specification example)"),
]
VECTORS_KCV = [
    # (kind, key, kcv, source / rule)
    ("tdes", "0123456789ABCDEFFEDCBA9876543210", "08D7B4", "first 3 bytes of TDES-ECB(K, 00*8)"),
    ("aes", "00112233445566778899AABBCCDDEEFF", "53E107",
     "first 3 bytes of AES-CMAC(K, 00*16), ANSI X9.24-1:2017"),
]


def load_shared_vectors(path: Optional[Path]) -> dict:
    """The project's shared vector file (optional): adds its entries to the lists above."""
    if path is None or not path.is_file():
        return {}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def all_vectors(shared: dict) -> dict:
    """Embedded vectors plus those of shared/vectors/iso9564.json, deduplicated."""
    v = {
        "f0": list(VECTORS_FORMAT0),
        "f0_invalid": [],
        "f1": list(VECTORS_FORMAT1_TDES),
        "f2": [],
        "f3": list(VECTORS_FORMAT3_F_FILL),
        "f4": list(VECTORS_FORMAT4),
        "f4_pan": [],
        "tdes_f0": [],
        "kcv": list(VECTORS_KCV),
    }
    for e in shared.get("format0_clear", []):
        v["f0"].append((e["pin"], e["pan"], e["block"], e.get("source", "shared vectors")))
    for e in shared.get("format0_invalid", []):
        v["f0_invalid"].append((e["pan"], e["block"], e.get("why", ""), e.get("source", "shared vectors")))
    for e in shared.get("format1_encrypted", []):
        v["f1"].append((e["tdes_key"], e["clear"], e["encrypted"], e["pin"], e.get("source", "shared vectors")))
    for e in shared.get("format2_clear", []):
        v["f2"].append((e["pin"], e["block"], e.get("source", "shared vectors")))
    for e in shared.get("format3_clear_with_F_fill", []):
        v["f3"].append((e["pin"], e["pan"], e["block"], e.get("source", "shared vectors")))
    for e in shared.get("format4_aes", []):
        v["f4"].append((e["aes_key"], e["pin"], e["pan"], e["pin_field"], e["block"],
                        e.get("source", "shared vectors")))
    for e in shared.get("format4_pan_field", []):
        v["f4_pan"].append((e["pan"], e["pan_field"]))
    for e in shared.get("tdes_format0", []):
        v["tdes_f0"].append((e["tdes_key"], e["kcv"], e["pin"], e["pan"], e["clear"], e["encrypted"],
                             e.get("source", "shared vectors")))
    for e in shared.get("kcv", []):
        kind = "tdes" if "tdes_key" in e else "aes"
        v["kcv"].append((kind, e.get("tdes_key") or e.get("aes_key"), e["kcv"], e.get("rule", "")))
    for k, items in v.items():
        seen, out = set(), []
        for it in items:
            key = tuple(x.upper() if isinstance(x, str) else x for x in it[:-1]) if k != "f4_pan" else it
            if key not in seen:
                seen.add(key)
                out.append(it)
        v[k] = out
    return v


# --------------------------------------------------------------------------
# Independent side: cryptography for the ciphers, psec for PIN blocks.
# --------------------------------------------------------------------------

def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _tdes_key24(key: bytes) -> bytes:
    if len(key) == 16:  # 2-key TDES is K1 K2 K1
        return key + key[:8]
    if len(key) == 24:
        return key
    raise ValueError(f"TDES key must be 16 or 24 bytes, got {len(key)}")


def tdes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    c = Cipher(_TripleDES(_tdes_key24(key)), modes.ECB())
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def aes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    c = Cipher(algorithms.AES(key), modes.ECB())
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def kcv_tdes(key: bytes) -> str:
    return tdes_ecb(key, bytes(8))[:3].hex().upper()


def kcv_aes(key: bytes) -> str:
    m = _cmac.CMAC(algorithms.AES(key))
    m.update(bytes(16))
    return m.finalize()[:3].hex().upper()


class _FixedChoice:
    """An rng stand-in whose choice() replays given characters (for vectors)."""

    def __init__(self, chars: str):
        self._it = iter(chars)

    def choice(self, seq):
        return next(self._it)

    def randbytes(self, n):
        raise AssertionError("not used")


class _SeededSecrets:
    """Stands in for the `secrets` module inside psec.pinblock (format 3 fill)."""

    def __init__(self, rng: random.Random):
        self._rng = rng

    def choice(self, seq):
        return self._rng.choice(seq)


@contextlib.contextmanager
def seeded_psec(rng: random.Random, urandom: Optional[Callable[[int], bytes]] = None):
    """Route psec 1.3.0's randomness (secrets.choice for format 3 fill, os.urandom
    for the format 4 random pad) to the seeded generator, for reproducible runs."""
    mod = psec.pinblock
    saved = {k: getattr(mod, k) for k in ("_secrets", "_urandom") if hasattr(mod, k)}
    if "_secrets" in saved:
        mod._secrets = _SeededSecrets(rng)
    if "_urandom" in saved:
        mod._urandom = urandom or (lambda n: rng.randbytes(n))
    try:
        yield
    finally:
        for k, val in saved.items():
            setattr(mod, k, val)


def pan13(pan: str) -> str:
    """psec's format 0/3 code wants >= 13 digits.  ISO 9564-1 right-justifies the
    PAN digits (check digit excluded) and pads with zeros on the left when fewer
    than 12 remain, so a left-zero-padded PAN gives the same PAN block."""
    return pan.rjust(13, "0")


def pan_block_03(pan: str) -> bytes:
    """ISO 9564-1 format 0/3 PAN field: 0000 + 12 rightmost digits excluding check digit."""
    return bytes.fromhex("0000" + pan[:-1][-12:].rjust(12, "0"))


def pan_field_4(pan: str) -> bytes:
    """ISO 9564-1 format 4 PAN field: M = len(PAN)-12, PAN digits, zero fill to 32 nibbles."""
    m = max(0, len(pan) - 12)
    return bytes.fromhex((f"{m:X}" + pan.rjust(12, "0")).ljust(32, "0"))


def encode_iso1_clear(pin: str, rng: random.Random) -> bytes:
    """ISO 9564-1 format 1, written here (psec has no format 1)."""
    fill = "".join(rng.choice(HEX) for _ in range(14 - len(pin)))
    return bytes.fromhex("1" + f"{len(pin):X}" + pin + fill)


def analyse_pin_field(fmt: int, field: bytes):
    """Decode a clear PIN field (PAN already removed for 0/3) by the ISO 9564-1
    rules and check its fill.  Returns (pin or None, problems, random nibbles)."""
    nib = field.hex().upper()
    problems = []
    want_len = 32 if fmt == 4 else 16
    if len(nib) != want_len:
        return None, [f"PIN field is {len(nib)} nibbles, want {want_len}"], ""
    if nib[0] != str(fmt):
        problems.append(f"control nibble {nib[0]}, want {fmt}")
    n = int(nib[1], 16)
    if not 4 <= n <= 12:
        return None, problems + [f"PIN length nibble {nib[1]} out of 4..C"], ""
    pin = nib[2:2 + n]
    if not (pin.isascii() and pin.isdigit()):
        problems.append(f"PIN nibbles {pin} are not all 0-9")
    fill = nib[2 + n:16]
    rand = ""
    if fmt in (0, 2):
        if set(fill) - {"F"}:
            problems.append(f"fill {fill} is not all F")
    elif fmt == 3:
        if set(fill) - set("ABCDEF"):
            problems.append(f"fill {fill} is not all A-F")
        rand = fill
    elif fmt == 1:
        rand = fill  # any 0-F
    elif fmt == 4:
        if set(fill) - {"A"}:
            problems.append(f"fill {fill} is not all A")
        rand = nib[16:]  # random pad, any 0-F
    return pin, problems, rand


def independent_encode(fmt: int, pin: str, pan: Optional[str], key: Optional[bytes],
                       rng: random.Random) -> bytes:
    """PIN block made by psec (formats 0, 2, 3, 4) or by ISO 9564-1 directly
    (format 1); formats 0-3 are then TDES-ECB enciphered when a key is given."""
    with seeded_psec(rng):
        if fmt == 0:
            clear = psec.pinblock.encode_pinblock_iso_0(pin, pan13(pan))
        elif fmt == 1:
            clear = encode_iso1_clear(pin, rng)
        elif fmt == 2:
            clear = psec.pinblock.encode_pinblock_iso_2(pin)
        elif fmt == 3:
            clear = psec.pinblock.encode_pinblock_iso_3(pin, pan13(pan))
        elif fmt == 4:
            return psec.pinblock.encipher_pinblock_iso_4(key, pin, pan)
        else:
            raise ValueError(fmt)
    return tdes_ecb(key, clear) if key else clear


def independent_decode(fmt: int, block: bytes, pan: Optional[str], key: Optional[bytes]):
    """Decrypt + decode a block with psec (and the ISO rules above for format 1
    and the fill checks).  Returns (pin or None, problems, random nibbles)."""
    problems = []
    want = 16 if fmt == 4 else 8
    if len(block) != want:
        return None, [f"block is {len(block)} bytes, want {want}"], ""
    if fmt == 4:
        try:
            psec_pin = psec.pinblock.decipher_pinblock_iso_4(key, block, pan)
        except ValueError as e:
            psec_pin = None
            problems.append(f"psec.decipher_pinblock_iso_4 rejected it: {e}")
        inter_b = aes_ecb(key, block, decrypt=True)
        field = aes_ecb(key, xor(inter_b, pan_field_4(pan)), decrypt=True)
    else:
        clear = tdes_ecb(key, block, decrypt=True) if key else block
        try:
            if fmt == 0:
                psec_pin = psec.pinblock.decode_pinblock_iso_0(clear, pan13(pan))
            elif fmt == 2:
                psec_pin = psec.pinblock.decode_pinblock_iso_2(clear)
            elif fmt == 3:
                psec_pin = psec.pinblock.decode_pinblock_iso_3(clear, pan13(pan))
            else:
                psec_pin = "n/a"  # format 1: the ISO rules below are the decoder
        except ValueError as e:
            psec_pin = None
            problems.append(f"psec decode_pinblock_iso_{fmt} rejected clear block {clear.hex().upper()}: {e}")
        field = xor(clear, pan_block_03(pan)) if fmt in (0, 3) else clear
    pin, p2, rand = analyse_pin_field(fmt, field)
    problems += [f"{p} (PIN field {field.hex().upper()})" for p in p2]
    if psec_pin not in (None, "n/a") and pin is not None and psec_pin != pin:
        problems.append(f"psec decoded {psec_pin} but ISO rules give {pin}")
    return pin, problems, rand


# --------------------------------------------------------------------------
# Random inputs
# --------------------------------------------------------------------------

def luhn_check_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def luhn_valid(pan: str) -> bool:
    return luhn_check_digit(pan[:-1]) == pan[-1]


def rand_digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def rand_pan(rng: random.Random, length: int, luhn: bool) -> str:
    body = rand_digits(rng, length - 1)
    good = luhn_check_digit(body)
    if luhn:
        return body + good
    return body + str((int(good) + 1 + rng.randrange(9)) % 10)


def tdes_parts(key) -> list:
    """The 8-byte parts of a TDES key (bytes, or a hex string), as integers
    with the parity bits cleared."""
    if isinstance(key, str):
        return [int(key[i:i + 16], 16) & ~0x0101010101010101 for i in range(0, len(key), 16)]
    return [int.from_bytes(key[i:i + 8], "big") & ~0x0101010101010101 for i in range(0, len(key), 8)]


def is_single_des(key) -> bool:
    """K1 = K2, or K2 = K3 in a 3-key key (bytes, or a hex string), ignoring
    parity bits: TDES that enciphers as single DES, which PCI PIN forbids and
    pinset refuses."""
    parts = tdes_parts(key)
    return parts[0] == parts[1] or (len(parts) == 3 and parts[1] == parts[2])


def rand_tdes_key(rng: random.Random, n: int, parity: bool = True, refuse=()) -> bytes:
    """A random TDES key of `n` bytes that is not single DES in disguise and
    has no part (parity bits cleared) in `refuse`; with odd parity unless
    `parity` is false."""
    while True:
        key = rng.randbytes(n)
        if parity:
            key = psec.des.adjust_key_parity(key)
        if not is_single_des(key) and not any(p in refuse for p in tdes_parts(key)):
            return key


def rand_aes_key(rng: random.Random, n: int, nonzero: bool = False) -> bytes:
    """A random AES key of `n` bytes; never all zero if `nonzero`."""
    while True:
        key = rng.randbytes(n)
        if not nonzero or any(key):
            return key


def h(b: bytes) -> str:
    return b.hex().upper()


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


# --------------------------------------------------------------------------
# Check bookkeeping
# --------------------------------------------------------------------------

@dataclass
class Result:
    rc: int
    out: str
    err: str
    cmd: str


@dataclass
class Case:
    name: str
    args: list
    verify: Callable[[Result], list]
    stdin: Optional[str] = None
    result: Optional[Result] = None


@dataclass
class Tally:
    passed: int = 0
    failed: int = 0
    failures: list = field(default_factory=list)
    by_name: dict = field(default_factory=dict)

    def record(self, name: str, problems: list, cmd: str = "") -> None:
        stats = self.by_name.setdefault(name, [0, 0])
        if problems:
            self.failed += 1
            stats[1] += 1
            self.failures.append((name, "; ".join(problems), cmd))
        else:
            self.passed += 1
            stats[0] += 1


def check(tally: Tally, name: str, ok: bool, what: str) -> None:
    tally.record(name, [] if ok else [what])


# --------------------------------------------------------------------------
# Self-test of the independent side
# --------------------------------------------------------------------------

def self_test(tally: Tally, vectors: dict, rng: random.Random) -> None:
    for pin, pan, block, src in vectors["f0"]:
        got = h(psec.pinblock.encode_pinblock_iso_0(pin, pan13(pan)))
        check(tally, "self/format0-encode", got == block, f"[{src}] pin {pin} pan {pan}: {got} != {block}")
        got_pin, probs, _ = independent_decode(0, bytes.fromhex(block), pan, None)
        check(tally, "self/format0-decode", got_pin == pin and not probs,
              f"[{src}] {block}: got {got_pin} {probs}")
    for pan, block, why, src in vectors["f0_invalid"]:
        got_pin, probs, _ = independent_decode(0, bytes.fromhex(block), pan, None)
        check(tally, "self/format0-invalid", bool(probs), f"[{src}] {block} ({why}) was accepted")
    for key, clear, enc, pin, src in vectors["f1"]:
        k = bytes.fromhex(key)
        got = h(tdes_ecb(k, bytes.fromhex(clear)))
        check(tally, "self/format1-tdes-encrypt", got == enc, f"[{src}] {got} != {enc}")
        got_pin, probs, _ = independent_decode(1, bytes.fromhex(enc), None, k)
        check(tally, "self/format1-tdes-decode", got_pin == pin and not probs,
              f"[{src}] got {got_pin} {probs}")
        rebuilt = encode_iso1_clear(pin, _FixedChoice(clear[2 + len(pin):]))
        check(tally, "self/format1-encode", h(rebuilt) == clear, f"[{src}] {h(rebuilt)} != {clear}")
    for pin, block, src in vectors["f2"]:
        got = h(psec.pinblock.encode_pinblock_iso_2(pin))
        check(tally, "self/format2-encode", got == block, f"[{src}] {got} != {block}")
    for pin, pan, block, src in vectors["f3"]:
        with seeded_psec(_FixedChoice("F" * 10)):
            got = h(psec.pinblock.encode_pinblock_iso_3(pin, pan13(pan)))
        check(tally, "self/format3-encode-F-fill", got == block, f"[{src}] {got} != {block}")
        got_pin, probs, _ = independent_decode(3, bytes.fromhex(block), pan, None)
        check(tally, "self/format3-decode", got_pin == pin and not probs, f"[{src}] got {got_pin} {probs}")
    for key, pin, pan, pin_field, block, src in vectors["f4"]:
        k = bytes.fromhex(key)
        pad = bytes.fromhex(pin_field[16:])
        with seeded_psec(rng, urandom=lambda n: pad[:n]):
            got = h(psec.pinblock.encipher_pinblock_iso_4(k, pin, pan))
        check(tally, "self/format4-psec-encipher", got == block, f"[{src}] {got} != {block}")
        c1 = aes_ecb(k, bytes.fromhex(pin_field))
        own = h(aes_ecb(k, xor(c1, pan_field_4(pan))))
        check(tally, "self/format4-iso-encipher", own == block, f"[{src}] {own} != {block}")
        got_pin, probs, rand = independent_decode(4, bytes.fromhex(block), pan, k)
        check(tally, "self/format4-decipher", got_pin == pin and not probs and rand == pin_field[16:],
              f"[{src}] got {got_pin} {probs}")
    for pan, pf in vectors["f4_pan"]:
        check(tally, "self/format4-pan-field", h(pan_field_4(pan)) == pf and
              h(psec.pinblock.encode_pan_field_iso_4(pan)) == pf, f"pan {pan}: {h(pan_field_4(pan))} != {pf}")
    for key, kcv, pin, pan, clear, enc, src in vectors["tdes_f0"]:
        k = bytes.fromhex(key)
        check(tally, "self/tdes-format0", kcv_tdes(k) == kcv and
              h(psec.pinblock.encode_pinblock_iso_0(pin, pan13(pan))) == clear and
              h(tdes_ecb(k, bytes.fromhex(clear))) == enc, f"[{src}] mismatch")
    for kind, key, kcv, src in vectors["kcv"]:
        k = bytes.fromhex(key)
        got = kcv_tdes(k) if kind == "tdes" else kcv_aes(k)
        check(tally, f"self/kcv-{kind}", got == kcv, f"[{src}] {key}: {got} != {kcv}")

    # Internal consistency on random data: round trips, psec vs ISO rules,
    # 2-key TDES = K1 K2 K1, psec's own KCV code vs ours.
    for i in range(60):
        pin = rand_digits(rng, 4 + i % 9)
        pan = rand_pan(rng, 12 + i % 8, i % 2 == 0)
        for fmt in range(5):
            for key in ([None, rand_tdes_key(rng, 16), rand_tdes_key(rng, 24)] if fmt < 4
                        else [rand_aes_key(rng, n) for n in (16, 24, 32)]):
                blk = independent_encode(fmt, pin, pan if fmt in (0, 3, 4) else None, key, rng)
                got, probs, _ = independent_decode(fmt, blk, pan if fmt in (0, 3, 4) else None, key)
                check(tally, f"self/roundtrip-iso{fmt}", got == pin and not probs,
                      f"pin {pin} pan {pan} key {h(key) if key else '-'}: got {got} {probs}")
        k16 = rand_tdes_key(rng, 16)
        check(tally, "self/tdes-2key", tdes_ecb(k16, bytes(8)) == tdes_ecb(k16 + k16[:8], bytes(8)),
              "2-key TDES != K1K2K1")
        check(tally, "self/kcv-vs-psec", h(psec.des.generate_kcv(k16, 3)) == kcv_tdes(k16), "KCV mismatch")
        check(tally, "self/pan-field-vs-psec",
              psec.pinblock.encode_pan_field_iso_4(pan) == pan_field_4(pan), f"pan {pan}")
        check(tally, "self/pan-block-vs-psec",
              xor(psec.pinblock.encode_pinblock_iso_0(pin, pan13(pan)), pan_block_03(pan))
              == bytes.fromhex(f"0{len(pin):X}{pin}" + "F" * (14 - len(pin))), f"pan {pan}")


# --------------------------------------------------------------------------
# CLI cases
# --------------------------------------------------------------------------

def out_line(r: Result, kind: str):
    """Validate rc == 0 and a single stdout line of the given kind; returns
    (value, problems).  value is bytes for blocks, str for pin/kcv."""
    if r.rc != 0:
        return None, [f"exit {r.rc}, stderr: {r.err.strip()[:200]!r}"]
    if not r.out.endswith("\n") or r.out.count("\n") != 1:
        return None, [f"stdout is not exactly one newline-terminated line: {r.out[:200]!r}"]
    line = r.out[:-1]
    if kind in ("hex8", "hex16"):
        n = 16 if kind == "hex8" else 32
        if not re.fullmatch(f"[0-9A-F]{{{n}}}", line):
            return None, [f"stdout {line!r} is not {n} uppercase hex digits"]
        return bytes.fromhex(line), []
    if kind in ("b64_8", "b64_16"):
        n = 8 if kind == "b64_8" else 16
        try:
            raw = base64.b64decode(line, validate=True)
        except ValueError:
            return None, [f"stdout {line!r} is not standard base64"]
        if len(raw) != n or b64(raw) != line:
            return None, [f"stdout {line!r} is not canonical base64 of {n} bytes"]
        return raw, []
    if kind == "pin":
        if not re.fullmatch(r"[0-9]{4,12}", line):
            return None, [f"stdout {line!r} is not a PIN"]
        return line, []
    if kind == "kcv":
        if not re.fullmatch(r"[0-9A-F]{6}", line):
            return None, [f"stdout {line!r} is not 6 uppercase hex digits"]
        return line, []
    raise ValueError(kind)


def leaked(err: str, secret: str, whole_below: int = 4) -> bool:
    """Whether stderr quotes `secret` (case-insensitive; ASCII digit strings
    shorter than `whole_below` only as a whole number)."""
    if not secret:
        return False
    if secret.isascii() and secret.isdigit() and len(secret) < whole_below:
        return re.search(rf"(?<![0-9]){re.escape(secret)}(?![0-9])", err) is not None
    return secret.upper() in err.upper()


def expect_fail(pin: Optional[str] = None, pan: Optional[str] = None, keys=()):
    def verify(r: Result) -> list:
        probs = []
        if r.rc == 0:
            probs.append("exit 0, want non-zero")
        elif r.rc < 0:
            probs.append(f"killed by signal {-r.rc}")
        if r.out:
            probs.append(f"stdout not empty: {r.out[:120]!r}")
        lines = r.err.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) != 1 or not lines[0].strip():
            probs.append(f"stderr has {len(lines)} lines, want exactly 1: {r.err[:300]!r}")
        if pin and leaked(r.err, pin):
            probs.append(f"stderr contains the PIN {pin}")
        if pan and leaked(r.err, pan):
            probs.append(f"stderr contains the full PAN {pan}")
        for k in keys:
            if k and leaked(r.err, k):
                probs.append("stderr contains the key")
        return probs
    return verify


def key_args(prefix: str, fmt: int, key: Optional[bytes], lower: bool = False) -> list:
    if key is None:
        return []
    kh = h(key).lower() if lower else h(key)
    kind = "aes" if fmt == 4 else "tdes"
    return [f"--{prefix}{kind}-key", kh]


def pan_args(fmt: int, pan: str) -> list:
    return ["--pan", pan] if fmt in (0, 3, 4) else []


class Aggregate:
    """Random-fill nibbles seen in CLI-made blocks, per format."""

    def __init__(self):
        self.rand = {1: [], 3: [], 4: []}
        self.fresh = {1: [], 3: [], 4: []}  # outputs of repeated identical encodes


def decode_verify(fmt: int, pan: Optional[str], key: Optional[bytes], pin: str, agg: Aggregate,
                  kind: Optional[str] = None, exact: Optional[bytes] = None):
    """Verifier for a CLI-produced block: independent decrypt + decode."""
    kind = kind or ("hex16" if fmt == 4 else "hex8")

    def verify(r: Result) -> list:
        blk, probs = out_line(r, kind)
        if probs:
            return probs
        got, probs, rand = independent_decode(fmt, blk, pan, key)
        if got != pin:
            probs.append(f"independent decode gave PIN {got}, want {pin}")
        if exact is not None and blk != exact:
            probs.append(f"block {h(blk)} != independent {h(exact)}")
        if fmt in agg.rand and not probs:
            agg.rand[fmt].append(rand)
        return probs
    return verify


def pin_verify(pin: str):
    def verify(r: Result) -> list:
        got, probs = out_line(r, "pin")
        if not probs and got != pin:
            probs.append(f"CLI decoded PIN {got}, want {pin}")
        return probs
    return verify


def kcv_verify(want: str):
    def verify(r: Result) -> list:
        got, probs = out_line(r, "kcv")
        if not probs and got != want:
            probs.append(f"KCV {got}, want {want}")
        return probs
    return verify


def exact_verify(want: bytes, kind: str):
    def verify(r: Result) -> list:
        got, probs = out_line(r, kind)
        if not probs and got != want:
            probs.append(f"block {h(got)}, want {h(want)}")
        return probs
    return verify


TDES_SIZES = (16, 24)
AES_SIZES = (16, 24, 32)
TRANSLATE_ALLOWED = [(1, 0), (1, 3), (1, 4), (1, 1), (0, 3), (3, 0), (3, 4), (4, 3), (0, 4), (4, 0)]
TRANSLATE_REFUSED = [(0, 1), (3, 1), (4, 1)]


def make_key(rng: random.Random, fmt: int, i: int) -> bytes:
    if fmt == 4:
        return rand_aes_key(rng, AES_SIZES[i % 3])
    return rand_tdes_key(rng, TDES_SIZES[i % 2])


def key_label(fmt: int, key: Optional[bytes]) -> str:
    if key is None:
        return "clear"
    return f"aes{len(key) * 8}" if fmt == 4 else f"tdes{len(key)}"


def translate_case(name: str, src: int, dst: int, pin: str, pan: str, i: int, rng: random.Random,
                   agg: Aggregate, encoding: str = "hex", lower: bool = False) -> Case:
    """Independent block in format src under key A -> CLI translate -> independent
    decrypt (key B) and decode in format dst."""
    ka, kb = make_key(rng, src, i), make_key(rng, dst, i + 1)
    blk = independent_encode(src, pin, pan if src in (0, 3, 4) else None, ka, rng)
    data = b64(blk) if encoding == "base64" else (h(blk).lower() if lower else h(blk))
    need_pan = src in (0, 3, 4) or dst in (0, 3, 4)
    args = (["translate", "--from", f"iso{src}", "--to", f"iso{dst}", "--block", data]
            + (["--pan", pan] if need_pan else [])
            + key_args("from-", src, ka, lower) + key_args("to-", dst, kb, lower)
            + (["--encoding", "base64"] if encoding == "base64" else []))
    if dst == 1 and src != 1:
        return Case(f"{name}/iso{src}->iso{dst}", args, expect_fail(pin, pan, (h(ka), h(kb))))
    kind = ("b64_" if encoding == "base64" else "hex") + ("16" if dst == 4 else "8")
    return Case(f"{name}/iso{src}->iso{dst}", args,
                decode_verify(dst, pan if dst in (0, 3, 4) else None, kb, pin, agg, kind=kind))


def gen_iteration(i: int, rng: random.Random, agg: Aggregate) -> list:
    cases = []
    pin = rand_digits(rng, 4 + i % 9)               # every PIN length 4..12
    pan = rand_pan(rng, 12 + (i // 9) % 8, rng.random() < 0.5)  # every PAN length 12..19

    # Encode / decode, both directions, every format and key kind.
    for fmt in range(5):
        fpan = pan if fmt in (0, 3, 4) else None
        keys = [make_key(rng, fmt, i)] if fmt == 4 else [None, make_key(rng, fmt, i)]
        for key in keys:
            lab = key_label(fmt, key)
            exact = None
            if fmt in (0, 2):  # deterministic formats: the CLI must match byte for byte
                exact = independent_encode(fmt, pin, fpan, key, rng)
            cases.append(Case(f"encode/{lab}/iso{fmt}",
                              ["encode", "--format", f"iso{fmt}", "--pin", pin]
                              + pan_args(fmt, pan) + key_args("", fmt, key),
                              decode_verify(fmt, fpan, key, pin, agg, exact=exact)))
            blk = independent_encode(fmt, pin, fpan, key, rng)
            cases.append(Case(f"decode/{lab}/iso{fmt}",
                              ["decode", "--format", f"iso{fmt}", "--block", h(blk)]
                              + pan_args(fmt, pan) + key_args("", fmt, key),
                              pin_verify(pin)))

    # KCVs.
    tk = rand_tdes_key(rng, TDES_SIZES[i % 2])
    cases.append(Case(f"kcv/tdes{len(tk)}", ["kcv", "--tdes-key", h(tk)], kcv_verify(kcv_tdes(tk))))
    ak = rand_aes_key(rng, AES_SIZES[i % 3])
    cases.append(Case(f"kcv/aes{len(ak) * 8}", ["kcv", "--aes-key", h(ak)], kcv_verify(kcv_aes(ak))))

    # Translate: the three named in the brief every iteration, the rest round robin.
    pairs = [(1, 0), (0, 4), (4, 0)]
    extra = [p for p in TRANSLATE_ALLOWED if p not in pairs]
    pairs.append(extra[i % len(extra)])
    for src, dst in pairs:
        cases.append(translate_case("translate", src, dst, pin, pan, i, rng, agg))
    src, dst = (0, 1) if i % 2 == 0 else TRANSLATE_REFUSED[(i // 2) % 3]
    cases.append(translate_case("translate-refused", src, dst, pin, pan, i, rng, agg))

    # PIN on stdin (with and without trailing newline).
    fmt = i % 5
    key = make_key(rng, fmt, i) if (fmt == 4 or i % 3) else None
    nl = "\n" if i % 2 == 0 else ""
    cases.append(Case(f"stdin-pin/{'newline' if nl else 'no-newline'}",
                      ["encode", "--format", f"iso{fmt}", "--pin", "-"] + pan_args(fmt, pan)
                      + key_args("", fmt, key),
                      decode_verify(fmt, pan if fmt in (0, 3, 4) else None, key, pin, agg),
                      stdin=pin + nl))

    # base64 out (encode), base64 in (decode), base64 in+out (translate).
    fmt = (i + 1) % 5
    fpan = pan if fmt in (0, 3, 4) else None
    key = make_key(rng, fmt, i) if (fmt == 4 or i % 2) else None
    kind = "b64_16" if fmt == 4 else "b64_8"
    cases.append(Case(f"base64/encode/iso{fmt}",
                      ["encode", "--format", f"iso{fmt}", "--pin", pin, "--encoding", "base64"]
                      + pan_args(fmt, pan) + key_args("", fmt, key),
                      decode_verify(fmt, fpan, key, pin, agg, kind=kind)))
    blk = independent_encode(fmt, pin, fpan, key, rng)
    cases.append(Case(f"base64/decode/iso{fmt}",
                      ["decode", "--format", f"iso{fmt}", "--block", b64(blk), "--encoding", "base64"]
                      + pan_args(fmt, pan) + key_args("", fmt, key), pin_verify(pin)))
    src, dst = TRANSLATE_ALLOWED[i % len(TRANSLATE_ALLOWED)]
    cases.append(translate_case("base64/translate", src, dst, pin, pan, i, rng, agg, encoding="base64"))

    # Lowercase hex input (block and keys).
    fmt = (i + 2) % 5
    fpan = pan if fmt in (0, 3, 4) else None
    key = make_key(rng, fmt, i)
    blk = independent_encode(fmt, pin, fpan, key, rng)
    cases.append(Case(f"lowercase-hex/decode/iso{fmt}",
                      ["decode", "--format", f"iso{fmt}", "--block", h(blk).lower()]
                      + pan_args(fmt, pan) + key_args("", fmt, key, lower=True), pin_verify(pin)))
    cases.append(Case(f"lowercase-hex/encode/iso{fmt}",
                      ["encode", "--format", f"iso{fmt}", "--pin", pin]
                      + pan_args(fmt, pan) + key_args("", fmt, key, lower=True),
                      decode_verify(fmt, fpan, key, pin, agg)))
    k = tk if i % 2 else ak
    cases.append(Case("lowercase-hex/kcv", ["kcv", "--tdes-key" if k is tk else "--aes-key", h(k).lower()],
                      kcv_verify(kcv_tdes(k) if k is tk else kcv_aes(k))))
    src, dst = TRANSLATE_ALLOWED[(i + 3) % len(TRANSLATE_ALLOWED)]
    cases.append(translate_case("lowercase-hex/translate", src, dst, pin, pan, i, rng, agg, lower=True))

    # Tampered control nibble: a block that is valid except for its control field.
    fmt = (i + 3) % 5
    key = make_key(rng, fmt, i) if (fmt == 4 or i % 2) else None
    if fmt == 4:
        with seeded_psec(rng):
            field_ = psec.pinblock.encode_pin_field_iso_4(pin)
    else:
        field_ = independent_encode(fmt, pin, pan if fmt in (0, 3) else None, None, rng)
    ctrl = rng.choice([c for c in HEX if c != str(fmt)])
    tampered = bytes.fromhex(ctrl + h(field_)[1:])
    if fmt == 4:
        blk = aes_ecb(key, xor(aes_ecb(key, tampered), pan_field_4(pan)))
    else:
        blk = tdes_ecb(key, tampered) if key else tampered
    cases.append(Case(f"negative/tampered-control-nibble/iso{fmt}",
                      ["decode", "--format", f"iso{fmt}", "--block", h(blk)]
                      + pan_args(fmt, pan) + key_args("", fmt, key),
                      expect_fail(pin, pan, (h(key) if key else "",))))
    return cases


def gen_fixed(rng: random.Random, vectors: dict, agg: Aggregate) -> list:
    """Published vectors through the CLI, fill freshness and negative cases."""
    cases = []
    for pin, pan, block, src in vectors["f0"]:
        cases.append(Case(f"vector/format0-encode [{src}]",
                          ["encode", "--format", "iso0", "--pin", pin, "--pan", pan],
                          exact_verify(bytes.fromhex(block), "hex8")))
        cases.append(Case(f"vector/format0-decode [{src}]",
                          ["decode", "--format", "iso0", "--block", block, "--pan", pan], pin_verify(pin)))
    for pan, block, why, src in vectors["f0_invalid"]:
        cases.append(Case(f"vector/format0-invalid ({why}) [{src}]",
                          ["decode", "--format", "iso0", "--block", block, "--pan", pan], expect_fail(pan=pan)))
    for key, clear, enc, pin, src in vectors["f1"]:
        if is_single_des(key):
            # jPOS's ZPK is single DES: the self-test checked the vector, the CLI must refuse the key.
            cases.append(Case(f"vector/format1-single-des-key-refused [{src}]",
                              ["decode", "--format", "iso1", "--block", enc, "--tdes-key", key],
                              expect_fail(pin, None, (key,))))
        else:
            cases.append(Case(f"vector/format1-tdes-decode [{src}]",
                              ["decode", "--format", "iso1", "--block", enc, "--tdes-key", key], pin_verify(pin)))
        cases.append(Case(f"vector/format1-clear-decode [{src}]",
                          ["decode", "--format", "iso1", "--block", clear], pin_verify(pin)))
    for pin, block, src in vectors["f2"]:
        cases.append(Case(f"vector/format2-encode [{src}]", ["encode", "--format", "iso2", "--pin", pin],
                          exact_verify(bytes.fromhex(block), "hex8")))
    for pin, pan, block, src in vectors["f3"]:
        cases.append(Case(f"vector/format3-decode-F-fill [{src}]",
                          ["decode", "--format", "iso3", "--block", block, "--pan", pan], pin_verify(pin)))
    for key, pin, pan, pin_field, block, src in vectors["f4"]:
        cases.append(Case(f"vector/format4-decode [{src}]",
                          ["decode", "--format", "iso4", "--block", block, "--pan", pan, "--aes-key", key],
                          pin_verify(pin)))
    for key, kcv, pin, pan, clear, enc, src in vectors["tdes_f0"]:
        if is_single_des(key):
            for cmd, args in [("encode", ["encode", "--format", "iso0", "--pin", pin, "--pan", pan]),
                              ("decode", ["decode", "--format", "iso0", "--block", enc, "--pan", pan]),
                              ("kcv", ["kcv"])]:
                cases.append(Case(f"vector/tdes-format0-single-des-key-refused/{cmd} [{src}]",
                                  args + ["--tdes-key", key], expect_fail(pin, pan, (key,))))
            continue
        cases.append(Case(f"vector/tdes-format0-encode [{src}]",
                          ["encode", "--format", "iso0", "--pin", pin, "--pan", pan, "--tdes-key", key],
                          exact_verify(bytes.fromhex(enc), "hex8")))
        cases.append(Case(f"vector/tdes-format0-decode [{src}]",
                          ["decode", "--format", "iso0", "--block", enc, "--pan", pan, "--tdes-key", key],
                          pin_verify(pin)))
        cases.append(Case(f"vector/tdes-format0-kcv [{src}]", ["kcv", "--tdes-key", key], kcv_verify(kcv)))
    for kind, key, kcv, src in vectors["kcv"]:
        cases.append(Case(f"vector/kcv-{kind} [{src}]", ["kcv", f"--{kind}-key", key], kcv_verify(kcv)))

    # Random formats must not repeat: same PIN/PAN/key encoded 8 times.
    pin, pan = rand_digits(rng, 4), rand_pan(rng, 16, True)
    fresh = agg.fresh
    for fmt in fresh:
        key = rand_aes_key(rng, 16) if fmt == 4 else None
        inner = decode_verify(fmt, pan if fmt != 1 else None, key, pin, Aggregate())
        for _ in range(8):
            def grab(r: Result, inner=inner, store=fresh[fmt]):
                probs = inner(r)
                if not probs:
                    store.append(r.out)
                return probs
            cases.append(Case(f"fill-fresh/iso{fmt}", ["encode", "--format", f"iso{fmt}", "--pin", pin]
                              + pan_args(fmt, pan) + key_args("", fmt, key), grab))

    # Negative cases.
    pin = rand_digits(rng, 6)
    pan = rand_pan(rng, 16, True)
    tk = h(rand_tdes_key(rng, 16))
    ak = h(rand_aes_key(rng, 16))

    def neg(name, args, stdin=None, p=pin, pn=pan, keys=(tk, ak)):
        cases.append(Case(f"negative/{name}", args, expect_fail(p, pn, keys), stdin=stdin))

    for fmt in range(5):
        kargs = ["--aes-key", ak] if fmt == 4 else []
        pargs = pan_args(fmt, pan)
        base = ["encode", "--format", f"iso{fmt}"]
        neg(f"non-digit-pin/iso{fmt}", base + ["--pin", "12a4" + pin[:2]] + pargs + kargs, p="12a4" + pin[:2])
        p3 = rand_digits(rng, 3)
        neg(f"3-digit-pin/iso{fmt}", base + ["--pin", p3] + pargs + kargs, p=p3)
        p13 = rand_digits(rng, 13)
        neg(f"13-digit-pin/iso{fmt}", base + ["--pin", p13] + pargs + kargs, p=p13)
    neg("empty-pin", ["encode", "--format", "iso0", "--pin", "", "--pan", pan], p="")
    neg("fullwidth-digit-pin", ["encode", "--format", "iso0", "--pin", "\uff11\uff12\uff13\uff14",
                                "--pan", pan], p="\uff11\uff12\uff13\uff14")
    neg("arabic-indic-digit-pin", ["encode", "--format", "iso2", "--pin", "\u0661\u0662\u0663\u0664"],
        p="\u0661\u0662\u0663\u0664")
    neg("stdin/non-digit-pin", ["encode", "--format", "iso0", "--pin", "-", "--pan", pan],
        stdin=pin[:3] + "x" + pin[3:] + "\n", p=pin[:3] + "x" + pin[3:])
    p3 = rand_digits(rng, 3)
    neg("stdin/3-digit-pin", ["encode", "--format", "iso2", "--pin", "-"], stdin=p3 + "\n", p=p3)
    p13 = rand_digits(rng, 13)
    neg("stdin/13-digit-pin", ["encode", "--format", "iso2", "--pin", "-"], stdin=p13 + "\n", p=p13)
    neg("stdin/empty", ["encode", "--format", "iso2", "--pin", "-"], stdin="")

    good0 = h(independent_encode(0, pin, pan, None, rng))
    neg("bad-hex/block", ["decode", "--format", "iso0", "--block", "G" + good0[1:], "--pan", pan])
    neg("bad-hex/block-odd-length", ["decode", "--format", "iso0", "--block", good0[:-1], "--pan", pan])
    neg("bad-hex/block-with-space", ["decode", "--format", "iso0", "--block", good0[:8] + " " + good0[8:],
                                     "--pan", pan])
    neg("bad-hex/tdes-key", ["encode", "--format", "iso0", "--pin", pin, "--pan", pan,
                             "--tdes-key", "Z" + tk[1:]], keys=("Z" + tk[1:],))
    neg("bad-hex/aes-key", ["encode", "--format", "iso4", "--pin", pin, "--pan", pan,
                            "--aes-key", ak[:-1] + "x"], keys=(ak[:-1] + "x",))
    neg("bad-hex/kcv-key-odd-length", ["kcv", "--tdes-key", tk[:-1]], keys=(tk[:-1],))
    neg("block-length/iso0-7-bytes", ["decode", "--format", "iso0", "--block", good0[:14], "--pan", pan])
    neg("block-length/iso0-16-bytes", ["decode", "--format", "iso0", "--block", good0 * 2, "--pan", pan])
    neg("block-length/iso4-8-bytes", ["decode", "--format", "iso4", "--block", good0, "--pan", pan,
                                      "--aes-key", ak])
    for n in (8, 15, 17, 32):
        k = h(rng.randbytes(n))
        neg(f"wrong-key-length/tdes-{n}-bytes", ["encode", "--format", "iso0", "--pin", pin, "--pan", pan,
                                                 "--tdes-key", k], keys=(k,))
        neg(f"wrong-key-length/kcv-tdes-{n}-bytes", ["kcv", "--tdes-key", k], keys=(k,))
    for n in (8, 15, 20, 33):
        k = h(rng.randbytes(n))
        neg(f"wrong-key-length/aes-{n}-bytes", ["encode", "--format", "iso4", "--pin", pin, "--pan", pan,
                                                "--aes-key", k], keys=(k,))
        neg(f"wrong-key-length/kcv-aes-{n}-bytes", ["kcv", "--aes-key", k], keys=(k,))
    neg("iso4/no-key", ["encode", "--format", "iso4", "--pin", pin, "--pan", pan])
    neg("iso4/tdes-key", ["encode", "--format", "iso4", "--pin", pin, "--pan", pan, "--tdes-key", tk])
    # PCI PIN: no single DES in disguise, no DES weak or semi-weak part (NIST SP 800-67r2 3.3.2),
    # no all-zero key. Parity bits are ignored when parts are compared.
    p1, p2 = h(rand_tdes_key(rng, 16))[:16], h(rand_tdes_key(rng, 16))[16:]
    flipped = f"{int(p1, 16) ^ 0x0100010001000100:016X}"
    for name, k in [("single-des/2-key", p1 + p1), ("single-des/2-key-parity-differs", p1 + flipped),
                    ("single-des/3-key-k1-k2", p1 + p1 + p2), ("single-des/3-key-k2-k3", p2 + p1 + p1),
                    ("weak-part", "0101010101010101" + p2), ("semi-weak-part", p1 + "01FE01FE01FE01FE"),
                    ("all-zero", "00" * 16)]:
        neg(f"degenerate-tdes/{name}", ["encode", "--format", "iso0", "--pin", pin, "--pan", pan,
                                        "--tdes-key", k], keys=(k,))
        neg(f"degenerate-tdes/kcv-{name}", ["kcv", "--tdes-key", k], keys=(k,))
    for n in (16, 24, 32):
        neg(f"degenerate-aes/all-zero-{n}", ["kcv", "--aes-key", "00" * n], keys=())
    neg("both-keys", ["encode", "--format", "iso0", "--pin", pin, "--pan", pan, "--tdes-key", tk,
                      "--aes-key", ak])
    for fmt in (0, 3, 4):
        kargs = ["--aes-key", ak] if fmt == 4 else []
        neg(f"missing-pan/encode-iso{fmt}", ["encode", "--format", f"iso{fmt}", "--pin", pin] + kargs)
        blk = independent_encode(fmt, pin, pan, bytes.fromhex(ak) if fmt == 4 else None, rng)
        neg(f"missing-pan/decode-iso{fmt}", ["decode", "--format", f"iso{fmt}", "--block", h(blk)] + kargs)
    neg("bad-pan/non-digit", ["encode", "--format", "iso0", "--pin", pin, "--pan", pan[:6] + "A" + pan[7:]],
        pn=pan[:6] + "A" + pan[7:])
    pan20 = rand_digits(rng, 20)
    neg("bad-pan/20-digits-iso4", ["encode", "--format", "iso4", "--pin", pin, "--pan", pan20,
                                   "--aes-key", ak], pn=pan20)
    neg("bad-pan/20-digits-iso0", ["encode", "--format", "iso0", "--pin", pin, "--pan", pan20], pn=pan20)
    neg("unknown-format", ["encode", "--format", "iso5", "--pin", pin, "--pan", pan])
    neg("bad-encoding", ["encode", "--format", "iso0", "--pin", pin, "--pan", pan, "--encoding", "base32"])
    neg("bad-base64", ["decode", "--format", "iso0", "--block", "!!notbase64!", "--pan", pan,
                       "--encoding", "base64"])
    neg("base64-wrong-length", ["decode", "--format", "iso0", "--block", b64(bytes.fromhex(good0))[:-4] + "AA==",
                                "--pan", pan, "--encoding", "base64"])
    neg("kcv/no-key", ["kcv"])
    neg("translate/iso4-without-aes-keys", ["translate", "--from", "iso0", "--to", "iso4", "--block", good0,
                                            "--pan", pan, "--from-tdes-key", tk, "--to-tdes-key", tk])

    # Blocks that are well formed except for one ISO 9564-1 rule.
    def bad_block(fmt, pin_field_hex):
        raw = bytes.fromhex(pin_field_hex)
        if fmt in (0, 3):
            raw = xor(raw, pan_block_03(pan))
        return h(raw)
    n = len(pin)
    bad = {
        "fill/iso0-not-F": (0, f"0{n:X}{pin}" + "F" * (13 - n) + "E"),
        "fill/iso2-not-F": (2, f"2{n:X}{pin}" + "F" * (13 - n) + "0"),
        "fill/iso3-digit": (3, f"3{n:X}{pin}" + "A" * (13 - n) + "9"),
        "pin-length-nibble-3/iso0": (0, f"03{pin[:3]}" + "F" * 11),
        "pin-length-nibble-D/iso2": (2, "2D" + rand_digits(rng, 13) + "F"),
        "pin-length-nibble-3/iso1": (1, f"13{pin[:3]}" + "0123456789A"),
        "non-digit-pin-nibble/iso1": (1, f"1{n:X}{pin[:-1]}B" + "0" * (14 - n)),
        "non-digit-pin-nibble/iso3": (3, f"3{n:X}{pin[:-1]}C" + "D" * (14 - n)),
    }
    for name, (fmt, field_hex) in bad.items():
        neg(f"bad-block/{name}", ["decode", "--format", f"iso{fmt}", "--block", bad_block(fmt, field_hex)]
            + pan_args(fmt, pan))
    k4 = bytes.fromhex(ak)
    field4 = bytes.fromhex(f"4{n:X}{pin}" + "A" * (13 - n) + "B" + h(rng.randbytes(8)))
    blk4 = aes_ecb(k4, xor(aes_ecb(k4, field4), pan_field_4(pan)))
    neg("bad-block/fill/iso4-not-A", ["decode", "--format", "iso4", "--block", h(blk4), "--pan", pan,
                                      "--aes-key", ak])
    return cases


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------

def cmd_string(binary: str, args: list, stdin: Optional[str]) -> str:
    c = shlex.join([binary] + args)
    if stdin is None:
        return c
    if stdin.endswith("\n"):
        return f"printf '%s\\n' {shlex.quote(stdin[:-1])} | {c}"
    return f"printf '%s' {shlex.quote(stdin)} | {c}"


def run_case(binary: str, case: Case, timeout: float) -> Result:
    cmd = cmd_string(binary, case.args, case.stdin)
    try:
        p = subprocess.run([binary] + case.args,
                           input=(case.stdin or "").encode("utf-8"),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Result(-999, "", f"timed out after {timeout}s", cmd)
    except OSError as e:
        return Result(-998, "", f"could not run: {e}", cmd)
    return Result(p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"), cmd)


def add_run_args(ap: argparse.ArgumentParser, show: int) -> None:
    """The options of a CLI run shared by the interop harnesses."""
    ap.add_argument("--jobs", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                    help="CLI processes run in parallel (results do not depend on it)")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per CLI call")
    ap.add_argument("--show", type=int, default=show, help=f"failing cases printed in full (default {show})")
    ap.add_argument("--verbose", action="store_true", help="print pass/fail counts for every case name")


def find_binary(name: str, tally: Tally) -> Optional[str]:
    """The executable `name` (a path, or a name looked up on PATH); None, with a
    failed "setup" check recorded, when there is none."""
    binary = str(Path(name).resolve()) if os.sep in name else (shutil.which(name) or name)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        tally.record("setup", [f"binary {name} not found or not executable"])
        return None
    return binary


def run_cases(binary: str, cases: list, jobs: int, timeout: float, tally: Tally) -> list:
    """Runs every case (`jobs` at a time), records its verdict in `tally` in
    case order, and returns the results in that order."""
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(lambda c: run_case(binary, c, timeout), cases))
    for case, res in zip(cases, results):
        try:
            probs = case.verify(res)
        except Exception as e:  # a verifier bug must not hide other results
            probs = [f"verifier raised {type(e).__name__}: {e}"]
        tally.record(case.name, probs, res.cmd)
    return results


def report(tally: Tally, label: str, show: int, verbose: bool) -> int:
    """Prints the counts (every case name's if `verbose`), the failing names and
    the first `show` failures, then `label: N passed, M failed`; returns the
    exit status."""
    if verbose:
        for n, (ok, bad) in sorted(tally.by_name.items()):
            print(f"  {n}: {ok} passed, {bad} failed")
    if tally.failures:
        groups = {n: s for n, s in sorted(tally.by_name.items()) if s[1]}
        print(f"{label}: FAILED cases by name ({len(groups)} names):")
        for n, (ok, bad) in groups.items():
            print(f"  {n}: {bad} failed, {ok} passed")
        print(f"{label}: failures:")
        for name, why, cmd in tally.failures[:show]:
            print(f"FAIL {name}: {why}")
            if cmd:
                print(f"     $ {cmd}")
        if len(tally.failures) > show:
            print(f"... {len(tally.failures) - show} more failures not shown (--show N)")
    print(f"{label}: {tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


def aggregate_checks(tally: Tally, agg: Aggregate) -> None:
    """Random fill really is random: every allowed nibble value shows up, and
    eight encodings of the same PIN/PAN/key differ."""
    allowed = {1: set(HEX), 3: set("ABCDEF"), 4: set(HEX)}
    for fmt, seen in agg.rand.items():
        nibbles = "".join(seen)
        if len(nibbles) < 400:
            continue  # too few samples to judge (low --iterations)
        missing = sorted(allowed[fmt] - set(nibbles))
        tally.record(f"fill-random/iso{fmt}",
                     [f"fill nibbles {','.join(missing)} never appear in {len(nibbles)} CLI-made nibbles"]
                     if missing else [])
    for fmt, outs in agg.fresh.items():
        if len(outs) == 8:
            tally.record(f"fill-fresh/iso{fmt}-distinct",
                         [] if len(set(outs)) == 8 else
                         [f"only {len(set(outs))} distinct blocks in 8 encodings of the same PIN/PAN"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(DEFAULT_BIN),
                    help="pinblock binary (default: target/release/pinblock under the repo root)")
    ap.add_argument("--seed", type=int, default=9564, help="random seed (default 9564)")
    ap.add_argument("--iterations", type=int, default=200, help="random iterations per case (default 200)")
    ap.add_argument("--self-test", action="store_true", help="check only the independent side; no binary")
    ap.add_argument("--vectors", type=Path, default=DEFAULT_VECTORS,
                    help="optional shared vector JSON (default ../shared/vectors/iso9564.json beside the repo)")
    add_run_args(ap, show=200)
    args = ap.parse_args(argv)

    started = time.monotonic()
    tally = Tally()
    rng = random.Random(args.seed)
    vectors = all_vectors(load_shared_vectors(args.vectors))

    self_test(tally, vectors, random.Random(args.seed ^ 0x5E1F))
    print(f"interop: psec {psec.__version__}, independent self-test "
          f"{tally.passed} passed, {tally.failed} failed (seed {args.seed})")

    if not args.self_test:
        if tally.failed:
            print("interop: independent side is broken; not running the CLI checks")
        else:
            binary = find_binary(args.bin, tally)
            if binary is not None:
                agg = Aggregate()
                cases = gen_fixed(rng, vectors, agg)
                for i in range(args.iterations):
                    cases += gen_iteration(i, rng, agg)
                run_cases(binary, cases, args.jobs, args.timeout, tally)
                aggregate_checks(tally, agg)
                print(f"interop: {len(cases)} CLI runs in {time.monotonic() - started:.1f}s")

    return report(tally, "interop", args.show, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
