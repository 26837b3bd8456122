//! Criterion benchmarks for pinset's RSA envelopes, against the bare `rsa`
//! crate they wrap, measured in the same run.
//!
//! Run with `cargo bench --bench rsa` (about a minute). Medians are in
//! `target/criterion/<group>/<bench>/new/estimates.json` (`.median.point_estimate`,
//! in ns). The budget is `open` ≤ 1.05 × `bare` in each `rsa2048_decrypt_*`
//! group. For an independent reference, run `openssl speed -seconds 3 rsa2048`
//! in the same sitting: its "sign" column is the same private-key operation
//! (OpenSSL's own, with its own blinding).
//!
//! Groups and benches (each pair runs back to back, so drift hits both alike):
//!
//! - `rsa2048_decrypt_{oaep-sha256,oaep-sha1,pkcs1v15}/open`:
//!   `pinset_envelope::rsa::open`, RSA-2048 decryption plus the format 1
//!   PIN-block decode.
//! - `rsa2048_decrypt_*/bare`: `rsa::RsaPrivateKey::decrypt` of the same
//!   cryptogram under the same padding, the baseline.
//! - `rsa2048_encrypt_oaep-sha256/seal`: `RsaPublicKey::seal`, format 1
//!   encode plus RSA-2048 public-key encryption; `.../bare` is
//!   `rsa::RsaPublicKey::encrypt` of an 8-byte block.
//! - `rsa2048_engines_oaep-sha256/{rsa_bare,aws_lc_decrypt}`: the bare `rsa`
//!   decryption against `pinset_module::AwsLcRsaKey` (aws-lc, plus one
//!   zeroizing buffer), same cryptogram; `.../translate_{rust_crypto,aws_lc}`:
//!   `SoftwareModule::translate` of that cryptogram (format 1) to format 0
//!   under a TDES ZPK, on each RSA engine. Filter with
//!   `cargo bench --bench rsa -- rsa2048_engines`.

// Bench set-up fails loudly on a bad constant; that is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use criterion::{Criterion, criterion_group, criterion_main};
use pinset::block::{Format, Pan, Pin};
use pinset::envelope::rsa::{RsaDecryptor, open};
use pinset::envelope::{RsaPadding, RsaPrivateKey};
use pinset_module::{
    AwsLcRsaKey, KeyAlgorithm, KeyPurpose, KeyRef, PinSource, SecurityModule, SoftwareModule,
    TranslatePin,
};
use rand_core::SeedableRng;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Oaep, Pkcs1v15Encrypt};
use sha1::Sha1;
use sha2::Sha256;

/// The 2048-bit fixture key (PKCS#8 PEM, OpenSSL-made).
const RSA2048_PEM: &str = include_str!("../crates/envelope/tests/data/rsa2048.pem");

/// One RNG for the whole run, seeded once. (Decryption blinds with the OS RNG,
/// in pinset and the bare crate alike.)
fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(0x9564_2048)
}

/// The bare `rsa` crate's decryption of `ct` under `padding`: what pinset wraps.
fn bare_decrypt(key: &rsa::RsaPrivateKey, padding: RsaPadding, ct: &[u8]) -> Vec<u8> {
    match padding {
        RsaPadding::OaepSha256 => key.decrypt(Oaep::<Sha256>::new(), ct),
        RsaPadding::OaepSha1 => key.decrypt(Oaep::<Sha1>::new(), ct),
        RsaPadding::Pkcs1v15 => key.decrypt(Pkcs1v15Encrypt, ct),
    }
    .unwrap()
}

/// Issuer side: decrypt and decode, and the bare decryption next to it.
fn decrypt(c: &mut Criterion) {
    let ours = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap();
    let bare = rsa::RsaPrivateKey::from_pkcs8_pem(RSA2048_PEM).unwrap();
    let pin = Pin::new("1234").unwrap();
    let mut rng = rng();

    for padding in RsaPadding::ALL {
        let ct = ours
            .public_key()
            .seal(Format::Iso1, &pin, None, padding, &mut rng)
            .unwrap();
        // Both sides must do the whole job, or the ratio means nothing.
        assert_eq!(open(&ours, padding, Format::Iso1, &ct, None).unwrap(), pin);
        assert_eq!(bare_decrypt(&bare, padding, &ct).len(), 8);

        let mut g = c.benchmark_group(format!("rsa2048_decrypt_{padding}"));
        g.bench_function("open", |b| {
            b.iter(|| {
                open(
                    black_box(&ours),
                    padding,
                    Format::Iso1,
                    black_box(&ct),
                    None,
                )
            })
        });
        g.bench_function("bare", |b| {
            b.iter(|| bare_decrypt(black_box(&bare), padding, black_box(&ct)))
        });
        g.finish();
    }
}

/// Device side: encode and encrypt under the public key.
fn encrypt(c: &mut Criterion) {
    let ours = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap().public_key();
    let bare = rsa::RsaPrivateKey::from_pkcs8_pem(RSA2048_PEM)
        .unwrap()
        .to_public_key();
    let pin = Pin::new("1234").unwrap();
    let block = [0x14, 0x12, 0x34, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA];
    let mut rng = rng();

    let mut g = c.benchmark_group("rsa2048_encrypt_oaep-sha256");
    g.bench_function("seal", |b| {
        b.iter(|| {
            ours.seal(
                Format::Iso1,
                black_box(&pin),
                None,
                RsaPadding::OaepSha256,
                &mut rng,
            )
        })
    });
    g.bench_function("bare", |b| {
        b.iter(|| bare.encrypt(&mut rng, Oaep::<Sha256>::new(), black_box(&block)))
    });
    g.finish();
}

/// One module with the fixture RSA key and a TDES ZPK imported.
fn module_with_keys<M: SecurityModule>(module: &M) -> (KeyRef, KeyRef) {
    pollster::block_on(async {
        let rsa_key = module
            .import_rsa_private(
                KeyPurpose::PinEncryption,
                &RsaPrivateKey::from_pem(RSA2048_PEM)
                    .unwrap()
                    .to_pkcs8_der()
                    .unwrap(),
            )
            .await
            .unwrap();
        let zpk = module
            .import_symmetric(
                KeyAlgorithm::Tdes3,
                KeyPurpose::PinEncryption,
                &[
                    0xF9, 0x4B, 0x8C, 0xD6, 0x2A, 0x20, 0xB8, 0x5A, 0xA9, 0xB8, 0xE0, 0x6D, 0xB6,
                    0xB0, 0xBA, 0x67, 0x85, 0xEC, 0x02, 0x9C, 0xB6, 0x04, 0xE8, 0x61,
                ],
            )
            .await
            .unwrap();
        (rsa_key, zpk)
    })
}

/// One `translate` of the cryptogram `ct` (format 1 under the handle's RSA
/// key) to format 0 under the ZPK handle: the Mastercard set PIN's crypto.
fn run<M: SecurityModule>(
    module: &M,
    (rsa_key, zpk): &(KeyRef, KeyRef),
    padding: RsaPadding,
    ct: &[u8],
    pan: &Pan,
) -> pinset::envelope::EncryptedPinBlock {
    pollster::block_on(module.translate(&TranslatePin {
        source: PinSource::Rsa {
            key: rsa_key,
            padding,
            cryptogram: black_box(ct),
            format: Format::Iso1,
        },
        destination: zpk,
        format: Format::Iso0,
        pan: Some(pan),
        policy: None,
    }))
    .unwrap()
}

/// A device's cryptogram of PIN 1234 (format 1) under the fixture key, its
/// card's PAN, and a software module on each RSA engine.
fn module_fixture(padding: RsaPadding) -> (Vec<u8>, Pan, SoftwareModule, SoftwareModule) {
    let ct = RsaPrivateKey::from_pem(RSA2048_PEM)
        .unwrap()
        .public_key()
        .seal(
            Format::Iso1,
            &Pin::new("1234").unwrap(),
            None,
            padding,
            &mut rng(),
        )
        .unwrap();
    (
        ct,
        Pan::new("5141576351968605").unwrap(),
        SoftwareModule::with_rng_seed([1; 32]),
        SoftwareModule::aws_lc_with_rng_seed([1; 32]),
    )
}

/// The two RSA engines side by side: bare decryption, then a whole
/// `translate` from an RSA cryptogram to format 0.
fn engines(c: &mut Criterion) {
    let bare = rsa::RsaPrivateKey::from_pkcs8_pem(RSA2048_PEM).unwrap();
    let ours = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap();
    let aws = AwsLcRsaKey::from_der(&ours.to_pkcs8_der().unwrap()).unwrap();
    let padding = RsaPadding::OaepSha256;
    let (ct, pan, rust_crypto, aws_lc) = module_fixture(padding);
    let keys = [
        (
            "translate_rust_crypto",
            &rust_crypto,
            module_with_keys(&rust_crypto),
        ),
        ("translate_aws_lc", &aws_lc, module_with_keys(&aws_lc)),
    ];
    // Every contender must do the whole job, or the ratios mean nothing.
    assert_eq!(bare.decrypt(Oaep::<Sha256>::new(), &ct).unwrap().len(), 8);
    assert_eq!(aws.decrypt(padding, &ct).unwrap().len(), 8);
    let outputs: Vec<_> = keys
        .iter()
        .map(|(_, module, k)| run(*module, k, padding, &ct, &pan))
        .collect();
    assert_eq!(outputs[0], outputs[1], "format 0 is deterministic");

    let mut g = c.benchmark_group("rsa2048_engines_oaep-sha256");
    g.bench_function("rsa_bare", |b| {
        b.iter(|| bare.decrypt(Oaep::<Sha256>::new(), black_box(&ct)))
    });
    g.bench_function("aws_lc_decrypt", |b| {
        b.iter(|| black_box(&aws).decrypt(padding, black_box(&ct)))
    });
    for (name, module, k) in &keys {
        g.bench_function(*name, |b| b.iter(|| run(*module, k, padding, &ct, &pan)));
    }
    g.finish();
}

/// Moderate times: the whole run stays well under two minutes on two cores.
fn config() -> Criterion {
    Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
}

/// The same translation, OAEP-SHA-1 (SoftHSM 2.6 has no OAEP-SHA-256), on a
/// PKCS#11 token next to both software engines. Runs only when
/// `PINSET_PKCS11_{MODULE,TOKEN,PIN}` name a token
/// (`eval "$(bash tests/softhsm/setup.sh)"`); otherwise says so and skips.
fn pkcs11(c: &mut Criterion) {
    let Some(config) = pinset_module::Pkcs11Config::from_env() else {
        eprintln!("rsa2048_modules_oaep-sha1: no PKCS#11 token in the environment, skipped");
        return;
    };
    let token = pinset_module::Pkcs11Module::open(&config).unwrap();
    let padding = RsaPadding::OaepSha1;
    let (ct, pan, rust_crypto, aws_lc) = module_fixture(padding);
    let (sw, aws, hsm) = (
        module_with_keys(&rust_crypto),
        module_with_keys(&aws_lc),
        module_with_keys(&token),
    );
    let expected = run(&rust_crypto, &sw, padding, &ct, &pan);
    assert_eq!(run(&token, &hsm, padding, &ct, &pan), expected);
    assert_eq!(run(&aws_lc, &aws, padding, &ct, &pan), expected);

    let mut g = c.benchmark_group("rsa2048_modules_oaep-sha1");
    g.bench_function("translate_rust_crypto", |b| {
        b.iter(|| run(&rust_crypto, &sw, padding, &ct, &pan))
    });
    g.bench_function("translate_aws_lc", |b| {
        b.iter(|| run(&aws_lc, &aws, padding, &ct, &pan))
    });
    g.bench_function("translate_softhsm", |b| {
        b.iter(|| run(&token, &hsm, padding, &ct, &pan))
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = decrypt, encrypt, engines, pkcs11
}
criterion_main!(benches);
