#!/usr/bin/env python3
"""Summarize `cargo bench --bench pin_block` into a Markdown table.

Reads every `new/estimates.json` under the Criterion output directory
(default: target/criterion, relative to the workspace root), prints the
median time per iteration in nanoseconds, then the budget checks:

- formats 0, 1 and 3 in clear: encode and decode <= 50 ns per block;
- format 0 under TDES, key prepared: <= 1.10 x one bare TDES block call;
- format 4 under AES-128: <= 1.25 x two bare AES-128 block calls.

Usage: python3 benches/summarize.py [CRITERION_DIR] [--check] [--all]
With --check the exit status is 1 when a budget is missed. Only the groups
of benches/pin_block.rs are listed (other benches share target/criterion);
--all lists every estimate found. Standard library only.
"""

import json
import sys
from pathlib import Path

CLEAR_BUDGET_NS = 50.0
TDES_BUDGET = 1.10
AES_BUDGET = 1.25

# (label, numerator bench id, denominator bench id, budget or None)
RATIOS = [
    ("iso0 encode+TDES 2-key (prepared) / bare TdesEde2",
     "iso0_tdes_prepared/tdes2_encode_encrypt", "baseline/tdes2_encrypt_block", TDES_BUDGET),
    ("iso0 encode+TDES 3-key (prepared) / bare TdesEde3",
     "iso0_tdes_prepared/tdes3_encode_encrypt", "baseline/tdes3_encrypt_block", TDES_BUDGET),
    ("iso4 encipher AES-128 / 2 x bare AES-128 encrypt",
     "iso4_aes/aes128_encipher", "baseline/aes128_encrypt_block_x2", AES_BUDGET),
    ("iso4 decipher AES-128 / 2 x bare AES-128 encrypt",
     "iso4_aes/aes128_decipher", "baseline/aes128_encrypt_block_x2", AES_BUDGET),
    # Informational: what the library adds around the same primitive.
    ("iso4 decipher AES-128 / 2 x bare AES-128 decrypt (info)",
     "iso4_aes/aes128_decipher", "baseline/aes128_decrypt_block_x2", None),
    ("iso0 seal TDES 2-key (prepared) / bare TdesEde2 (info)",
     "iso0_tdes_prepared/tdes2_seal", "baseline/tdes2_encrypt_block", None),
    ("iso0 seal TDES 3-key (prepared) / bare TdesEde3 (info)",
     "iso0_tdes_prepared/tdes3_seal", "baseline/tdes3_encrypt_block", None),
    ("iso0 encode+TDES 2-key per call / prepared (info)",
     "iso0_tdes_per_call/tdes2_encode_encrypt", "iso0_tdes_prepared/tdes2_encode_encrypt", None),
    ("iso0 encode+TDES 3-key per call / prepared (info)",
     "iso0_tdes_per_call/tdes3_encode_encrypt", "iso0_tdes_prepared/tdes3_encode_encrypt", None),
]

# The groups benches/pin_block.rs writes.
GROUPS = ("clear", "baseline", "iso0_tdes_prepared", "iso0_tdes_per_call", "translate", "iso4_aes")

CLEAR_IDS = [f"clear/iso{f}_{op}" for f in (0, 1, 3) for op in ("encode", "decode")]


def load(root: Path, groups) -> dict:
    """Map full bench id -> (median, lower CI, upper CI) in ns."""
    out = {}
    for est in sorted(root.glob("**/new/estimates.json")):
        bench_dir = est.parent
        meta = bench_dir / "benchmark.json"
        try:
            full_id = json.loads(meta.read_text())["full_id"]
        except (OSError, ValueError, KeyError):
            full_id = bench_dir.parent.relative_to(root).as_posix()
        if groups and full_id.split("/", 1)[0] not in groups:
            continue
        median = json.loads(est.read_text())["median"]
        ci = median["confidence_interval"]
        out[full_id] = (median["point_estimate"], ci["lower_bound"], ci["upper_bound"])
    return out


def fmt_ns(v: float) -> str:
    return f"{v:,.1f}" if v < 10_000 else f"{v:,.0f}"


def main(argv: list) -> int:
    check = "--check" in argv
    groups = None if "--all" in argv else GROUPS
    args = [a for a in argv if not a.startswith("--")]
    root = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "target" / "criterion"
    data = load(root, groups)
    if not data:
        print(f"no Criterion estimates under {root}: run `cargo bench --bench pin_block` first",
              file=sys.stderr)
        return 2

    missed = 0
    print("| bench | median (ns) | 95% CI of median (ns) |")
    print("| --- | ---: | ---: |")
    for bench_id, (med, lo, hi) in data.items():
        print(f"| `{bench_id}` | {fmt_ns(med)} | {fmt_ns(lo)} – {fmt_ns(hi)} |")

    print()
    print(f"| budget: clear encode/decode ≤ {CLEAR_BUDGET_NS:.0f} ns | median (ns) | verdict |")
    print("| --- | ---: | --- |")
    for bench_id in CLEAR_IDS:
        if bench_id not in data:
            print(f"| `{bench_id}` | – | missing |")
            continue
        med = data[bench_id][0]
        ok = med <= CLEAR_BUDGET_NS
        missed += not ok
        print(f"| `{bench_id}` | {fmt_ns(med)} | {'ok' if ok else 'MISSED'} |")

    print()
    print("| ratio | numerator (ns) | baseline (ns) | ratio | budget | verdict |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for label, num, den, budget in RATIOS:
        if num not in data or den not in data:
            print(f"| {label} | – | – | – | – | missing |")
            continue
        n, d = data[num][0], data[den][0]
        ratio = n / d
        if budget is None:
            verdict, budget_s = "info", "–"
        else:
            ok = ratio <= budget
            missed += not ok
            verdict, budget_s = ("ok" if ok else "MISSED"), f"≤ {budget:.2f}"
        print(f"| {label} | {fmt_ns(n)} | {fmt_ns(d)} | {ratio:.2f} | {budget_s} | {verdict} |")

    return 1 if (check and missed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
