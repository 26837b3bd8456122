//! Criterion benchmarks for pinset: clear PIN block coding, TDES and AES
//! envelopes, translation, and the bare cipher calls they are judged against.
//!
//! Run with `cargo bench --bench pin_block`, then `python3 benches/summarize.py`
//! for the median table and the budget ratios.
//!
//! Group and bench names (the summary script keys on them):
//!
//! - `clear/{iso0,iso1,iso3}_{encode,decode}`: formats 0, 1 and 3 in clear.
//! - `baseline/...`: one bare `TdesEde2`/`TdesEde3` block, one and two bare
//!   AES-128 blocks, measured in the same run.
//! - `iso0_tdes_prepared/...`: format 0 under a TDES key built outside the loop.
//! - `iso0_tdes_per_call/...`: the same with `TdesKey::new` inside the loop.
//! - `translate/iso1_tdes2_to_iso0_tdes3`: the Enfuce-style translation.
//! - `iso4_aes/...`: format 4 encipher/decipher and seal/open under AES.

// Bench set-up fails loudly on a bad constant; that is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use aes::Aes128;
use chacha20::ChaCha20Rng;
use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use criterion::{Criterion, criterion_group, criterion_main};
use des::{TdesEde2, TdesEde3};
use pinset::block::{ClearBlock, Format, Pan, Pin, iso0, iso1, iso3, iso4};
use pinset::envelope::{AesKey, PinKey, TdesKey, translate};
use rand_core::SeedableRng;

const PIN: &str = "1234";
const PAN: &str = "5141576351968605";
const TDES2: &str = "0123456789ABCDEFFEDCBA9876543210";
const TDES3: &str = "0123456789ABCDEFFEDCBA987654321089ABCDEF01234567";
const AES128: &str = "00112233445566778899AABBCCDDEEFF";
const AES256: &str = "00112233445566778899AABBCCDDEEFF0123456789ABCDEFFEDCBA9876543210";

fn key(hex_key: &str) -> Vec<u8> {
    hex::decode(hex_key).unwrap()
}

/// One RNG for the whole run, seeded once: never an OS RNG per block.
fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(0x9564)
}

fn pin() -> Pin {
    Pin::new(PIN).unwrap()
}

fn pan() -> Pan {
    Pan::new(PAN).unwrap()
}

/// Formats 0, 1 and 3 in clear.
fn clear(c: &mut Criterion) {
    let (pin, pan) = (pin(), pan());
    let mut rng = rng();
    let mut g = c.benchmark_group("clear");

    g.bench_function("iso0_encode", |b| {
        b.iter(|| iso0::encode(black_box(&pin), black_box(&pan)))
    });
    let block0 = iso0::encode(&pin, &pan);
    g.bench_function("iso0_decode", |b| {
        b.iter(|| iso0::decode(black_box(&block0), black_box(&pan)))
    });

    g.bench_function("iso1_encode", |b| {
        b.iter(|| iso1::encode(black_box(&pin), &mut rng))
    });
    let block1 = iso1::encode(&pin, &mut rng);
    g.bench_function("iso1_decode", |b| {
        b.iter(|| iso1::decode(black_box(&block1)))
    });

    g.bench_function("iso3_encode", |b| {
        b.iter(|| iso3::encode(black_box(&pin), black_box(&pan), &mut rng))
    });
    let block3 = iso3::encode(&pin, &pan, &mut rng);
    g.bench_function("iso3_decode", |b| {
        b.iter(|| iso3::decode(black_box(&block3), black_box(&pan)))
    });

    g.finish();
}

/// The bare TDES block calls, with no pinset code around them.
///
/// Run right before the TDES groups, so that the ratios compare numbers
/// taken under the same machine load.
fn baseline_tdes(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    let block8 = [0x04u8, 0x12, 0x15, 0xFE, 0xDC, 0xBA, 0x98, 0x76];

    let ede2 = TdesEde2::new(&Array::try_from(key(TDES2).as_slice()).unwrap());
    g.bench_function("tdes2_encrypt_block", |b| {
        b.iter(|| {
            let mut blk = Array::from(black_box(block8));
            ede2.encrypt_block(&mut blk);
            blk
        })
    });
    let ede3 = TdesEde3::new(&Array::try_from(key(TDES3).as_slice()).unwrap());
    g.bench_function("tdes3_encrypt_block", |b| {
        b.iter(|| {
            let mut blk = Array::from(black_box(block8));
            ede3.encrypt_block(&mut blk);
            blk
        })
    });

    g.finish();
}

/// The bare AES-128 block calls, with no pinset code around them.
fn baseline_aes(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    let block16 = [0x5Au8; 16];

    let aes = Aes128::new(&Array::try_from(key(AES128).as_slice()).unwrap());
    g.bench_function("aes128_encrypt_block_x1", |b| {
        b.iter(|| {
            let mut blk = Array::from(black_box(block16));
            aes.encrypt_block(&mut blk);
            blk
        })
    });
    g.bench_function("aes128_encrypt_block_x2", |b| {
        b.iter(|| {
            let mut blk = Array::from(black_box(block16));
            aes.encrypt_block(&mut blk);
            aes.encrypt_block(&mut blk);
            blk
        })
    });
    // Not a budget baseline: the like-for-like reference for `decipher_iso4`.
    g.bench_function("aes128_decrypt_block_x2", |b| {
        b.iter(|| {
            let mut blk = Array::from(black_box(block16));
            aes.decrypt_block(&mut blk);
            aes.decrypt_block(&mut blk);
            blk
        })
    });

    g.finish();
}

/// Format 0 under TDES, with the key schedule prepared outside the loop.
fn iso0_tdes_prepared(c: &mut Criterion) {
    let (pin, pan) = (pin(), pan());
    let mut rng = rng();
    let mut g = c.benchmark_group("iso0_tdes_prepared");

    for (name, hex_key) in [("tdes2", TDES2), ("tdes3", TDES3)] {
        let tdes = TdesKey::new(&key(hex_key)).unwrap();
        let clear: ClearBlock = iso0::encode(&pin, &pan);
        let pin_key = PinKey::from(tdes.clone());
        // A PIN key enciphers a clear block only once it reads as one.
        g.bench_function(format!("{name}_encipher_block_only"), |b| {
            b.iter(|| {
                pin_key
                    .encipher_block(Format::Iso0, black_box(&clear), Some(&pan))
                    .unwrap()
            })
        });
        g.bench_function(format!("{name}_encode_encrypt"), |b| {
            b.iter(|| {
                pin_key
                    .encipher_block(
                        Format::Iso0,
                        &iso0::encode(black_box(&pin), black_box(&pan)),
                        Some(&pan),
                    )
                    .unwrap()
            })
        });
        g.bench_function(format!("{name}_seal"), |b| {
            b.iter(|| {
                pin_key
                    .seal(
                        Format::Iso0,
                        black_box(&pin),
                        Some(black_box(&pan)),
                        &mut rng,
                    )
                    .unwrap()
            })
        });
        let sealed = pin_key
            .seal(Format::Iso0, &pin, Some(&pan), &mut rng)
            .unwrap();
        g.bench_function(format!("{name}_open"), |b| {
            b.iter(|| {
                pin_key
                    .open(
                        Format::Iso0,
                        black_box(sealed.as_bytes()),
                        Some(black_box(&pan)),
                    )
                    .unwrap()
            })
        });
    }

    g.finish();
}

/// Format 0 under TDES, building the key (schedule and KCV) on every call.
fn iso0_tdes_per_call(c: &mut Criterion) {
    let (pin, pan) = (pin(), pan());
    let mut rng = rng();
    let mut g = c.benchmark_group("iso0_tdes_per_call");

    for (name, hex_key) in [("tdes2", TDES2), ("tdes3", TDES3)] {
        let bytes = key(hex_key);
        g.bench_function(format!("{name}_encode_encrypt"), |b| {
            b.iter(|| {
                PinKey::from(TdesKey::new(black_box(&bytes)).unwrap())
                    .encipher_block(
                        Format::Iso0,
                        &iso0::encode(black_box(&pin), black_box(&pan)),
                        Some(&pan),
                    )
                    .unwrap()
            })
        });
        g.bench_function(format!("{name}_seal"), |b| {
            b.iter(|| {
                let pin_key = PinKey::from(TdesKey::new(black_box(&bytes)).unwrap());
                pin_key
                    .seal(
                        Format::Iso0,
                        black_box(&pin),
                        Some(black_box(&pan)),
                        &mut rng,
                    )
                    .unwrap()
            })
        });
    }

    g.finish();
}

/// Format 1 under a 16-byte TZPK to format 0 under a 24-byte ZPK.
fn translation(c: &mut Criterion) {
    let (pin, pan) = (pin(), pan());
    let mut rng = rng();
    let tzpk = PinKey::from(TdesKey::new(&key(TDES2)).unwrap());
    let zpk = PinKey::from(TdesKey::new(&key(TDES3)).unwrap());
    let device = tzpk.seal(Format::Iso1, &pin, None, &mut rng).unwrap();
    let mut g = c.benchmark_group("translate");

    g.bench_function("iso1_tdes2_to_iso0_tdes3", |b| {
        b.iter(|| {
            translate(
                black_box(device.as_bytes()),
                (Format::Iso1, &tzpk),
                (Format::Iso0, &zpk),
                Some(black_box(&pan)),
                &mut rng,
            )
            .unwrap()
        })
    });

    g.finish();
}

/// Format 4 under AES: the two-call encipherment alone, then seal and open.
fn iso4_aes(c: &mut Criterion) {
    let (pin, pan) = (pin(), pan());
    let mut rng = rng();
    let mut g = c.benchmark_group("iso4_aes");

    let aes128 = AesKey::new(&key(AES128)).unwrap();
    let pin_field = iso4::encode_pin_field(&pin, &mut rng);
    let pan_field = iso4::pan_field(&pan);
    g.bench_function("aes128_encipher", |b| {
        b.iter(|| aes128.encipher_iso4(black_box(&pin_field), black_box(&pan_field)))
    });
    let enciphered = aes128.encipher_iso4(&pin_field, &pan_field);
    g.bench_function("aes128_decipher", |b| {
        b.iter(|| aes128.decipher_iso4(black_box(&enciphered), black_box(&pan_field)))
    });

    for (name, hex_key) in [("aes128", AES128), ("aes256", AES256)] {
        let pin_key = PinKey::from(AesKey::new(&key(hex_key)).unwrap());
        g.bench_function(format!("{name}_seal"), |b| {
            b.iter(|| {
                pin_key
                    .seal(
                        Format::Iso4,
                        black_box(&pin),
                        Some(black_box(&pan)),
                        &mut rng,
                    )
                    .unwrap()
            })
        });
        let sealed = pin_key
            .seal(Format::Iso4, &pin, Some(&pan), &mut rng)
            .unwrap();
        g.bench_function(format!("{name}_open"), |b| {
            b.iter(|| {
                pin_key
                    .open(
                        Format::Iso4,
                        black_box(sealed.as_bytes()),
                        Some(black_box(&pan)),
                    )
                    .unwrap()
            })
        });
    }

    g.finish();
}

/// Short runs: about 25 benches must fit in ~3 minutes on 2 cores.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(3))
        .sample_size(60)
}

criterion_group! {
    name = benches;
    config = config();
    targets = clear, baseline_tdes, iso0_tdes_prepared, iso0_tdes_per_call, translation,
        baseline_aes, iso4_aes
}
criterion_main!(benches);
