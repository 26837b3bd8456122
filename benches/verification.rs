//! Criterion benchmarks for PIN verification values inside the security
//! module: Visa PVV and IBM 3624 offset generation and verification from a
//! format 0 block under a ZPK, against a format 0 to format 0 translation
//! between two ZPKs in the same run (the same one decipher, then one
//! encipher instead of the PVK step).
//!
//! Run with `cargo bench --bench verification`.
//!
//! - `verification/translate_iso0_baseline`: `SecurityModule::translate`,
//!   format 0 under one ZPK to format 0 under another.
//! - `verification/{pvv,ibm3624_offset}_generate`: `generate_verification_value`.
//! - `verification/{pvv,ibm3624_offset}_verify`: `verify_pin` (a match).
//! - `clear/{visa_pvv,ibm3624_offset}`: `pinset-verify` on a clear PIN,
//!   with the PVK built outside the loop: the algorithm alone.

// Bench set-up fails loudly on a bad constant; that is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use pinset::block::{Format, Pan, Pin};
use pinset::envelope::{PinKey, TdesKey};
use pinset::module::{
    GenerateVerificationValue, KeyAlgorithm, KeyPurpose, KeyRef, PinSource, SecurityModule,
    SoftwareModule, TranslatePin, VerifyPin,
};
use pinset::verify::{
    DecimalizationTable, PinVerificationKey, Pvki, ValidationData, ValidationSource,
    VerificationMethod, ibm3624_offset, visa_pvv,
};
use rand_core::SeedableRng;

// psec tests/test_pin.py: PVK, PAN, PIN 4524 (PVV 8523 under PVKI 1).
const PVK: &str = "0123456789ABCDEFFEDCBA9876543210";
const PAN: &str = "1122334455667788";
const PIN: &str = "4524";
// Mastercard Processing sandbox ZPK (shared/vectors/iso9564.json).
const ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
const ZPK2: &str = "0123456789ABCDEFFEDCBA987654321089ABCDEF01234567";

fn import(
    module: &SoftwareModule,
    algorithm: KeyAlgorithm,
    purpose: KeyPurpose,
    hex_key: &str,
) -> KeyRef {
    pollster::block_on(module.import_symmetric(algorithm, purpose, &hex::decode(hex_key).unwrap()))
        .unwrap()
}

fn methods() -> [(&'static str, VerificationMethod); 2] {
    [
        (
            "pvv",
            VerificationMethod::VisaPvv {
                pvki: Pvki::new(1).unwrap(),
            },
        ),
        (
            "ibm3624_offset",
            VerificationMethod::Ibm3624 {
                table: DecimalizationTable::STANDARD,
                validation: ValidationSource::Pan {
                    start: 4,
                    length: 11,
                    pad: 'F',
                },
            },
        ),
    ]
}

fn in_module(c: &mut Criterion) {
    let module = SoftwareModule::with_rng_seed([9; 32]);
    let zpk = import(&module, KeyAlgorithm::Tdes3, KeyPurpose::PinEncryption, ZPK);
    let zpk2 = import(
        &module,
        KeyAlgorithm::Tdes3,
        KeyPurpose::PinEncryption,
        ZPK2,
    );
    let pan = Pan::new(PAN).unwrap();
    let block = PinKey::from(TdesKey::new(&hex::decode(ZPK).unwrap()).unwrap())
        .seal(
            Format::Iso0,
            &Pin::new(PIN).unwrap(),
            Some(&pan),
            &mut chacha20::ChaCha20Rng::seed_from_u64(1),
        )
        .unwrap();
    let source = PinSource::Symmetric {
        key: &zpk,
        format: Format::Iso0,
        block: block.as_bytes(),
    };
    let mut g = c.benchmark_group("verification");
    g.bench_function("translate_iso0_baseline", |b| {
        b.iter(|| {
            pollster::block_on(module.translate(black_box(&TranslatePin {
                source,
                destination: &zpk2,
                format: Format::Iso0,
                pan: Some(&pan),
                policy: None,
            })))
            .unwrap()
        })
    });
    for (name, method) in methods() {
        let purpose = pinset::module::verification_purpose(&method);
        let pvk = import(&module, KeyAlgorithm::Tdes2, purpose, PVK);
        pollster::block_on(module.bind_verification_method(&pvk, &method)).unwrap();
        let generate = GenerateVerificationValue {
            source,
            pan: &pan,
            pvk: &pvk,
            method: &method,
        };
        let value = pollster::block_on(module.generate_verification_value(&generate)).unwrap();
        g.bench_function(format!("{name}_generate"), |b| {
            b.iter(|| {
                pollster::block_on(module.generate_verification_value(black_box(&generate)))
                    .unwrap()
            })
        });
        let verify = VerifyPin {
            source,
            pan: &pan,
            pvk: &pvk,
            method: &method,
            value: &value,
        };
        g.bench_function(format!("{name}_verify"), |b| {
            b.iter(|| pollster::block_on(module.verify_pin(black_box(&verify))).unwrap())
        });
    }
    g.finish();
}

fn clear(c: &mut Criterion) {
    let pvk = PinVerificationKey::new(&hex::decode(PVK).unwrap()).unwrap();
    let (pan, pin) = (Pan::new(PAN).unwrap(), Pin::new(PIN).unwrap());
    let data = ValidationData::new("22334455667", 'F').unwrap();
    let mut g = c.benchmark_group("clear");
    g.bench_function("visa_pvv", |b| {
        b.iter(|| {
            visa_pvv(
                black_box(&pvk),
                Pvki::new(1).unwrap(),
                black_box(&pan),
                black_box(&pin),
            )
        })
    });
    g.bench_function("ibm3624_offset", |b| {
        b.iter(|| {
            ibm3624_offset(
                black_box(&pvk),
                &DecimalizationTable::STANDARD,
                black_box(&data),
                black_box(&pin),
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = in_module, clear
}
criterion_main!(benches);
