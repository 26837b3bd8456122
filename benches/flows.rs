//! Criterion benchmarks of the key-index layer and the whole set-PIN flows,
//! against the bare RSA-2048 decryption in the same run.
//!
//! `cargo bench --bench flows` (about a minute). Groups:
//!
//! - `keys/ring_lookup`: `RsaKeyRing::decryptor` by key index.
//! - `keys/tzpk_issue_take`: `TemporaryKeys::issue` (16-byte key drawn, RSA-OAEP
//!   wrapped for the device) then `take`.
//! - `mp_set_pin/flow`: Mastercard Processing `set_pin`, from the request body
//!   to the CMS store (hex decode, CMS reads, RSA-2048 OAEP-SHA-256 decrypt,
//!   format 1 decode, policy, format 0 under the ZPK, store).
//!   `mp_set_pin/bare_rsa_decrypt`: the `rsa` crate's decryption alone. The
//!   budget is flow ≤ 1.05 × bare. Each request carries a fresh cryptogram
//!   (made untimed in set-up), since the flow refuses replays.
//! - `enfuce_set_pin/issue_tzpk_set`: issuer side of one Enfuce set PIN
//!   (`issue_control`, `get_tzpk`, `set_pin`); the device's unwrap and TDES
//!   encryption between them are not timed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20::ChaCha20Rng;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use pinset::block::{Format, Pan, Pin, iso1};
use pinset::cms::{ContractState, MemoryCms, PlasticStatus};
use pinset::envelope::rsa::unwrap_tdes_key;
use pinset::envelope::{PinKey, RsaPadding, RsaPrivateKey, TdesKey};
use pinset::flow::enfuce::{ControlOperation, SetPinRequest as EnfuceSetPinRequest, TzpkRequest};
use pinset::flow::mastercard::SetPinRequest;
use pinset::flow::{EnfuceSetPin, Issuer, MastercardPanless};
use pinset::keys::{
    ControlId, KeyIndex, KeyPurpose, MonotonicClock, NewKey, PlasticRef, RsaKeyRing, TemporaryKeys,
    ZoneKeys, ZpkIndex,
};
use rand_core::SeedableRng;
use rsa::Oaep;
use rsa::pkcs8::DecodePrivateKey;
use sha2::Sha256;

const RSA2048_PEM: &str = include_str!("../crates/envelope/tests/data/rsa2048.pem");
/// Mastercard Processing sandbox ZPK and card 70001.
const ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";

fn issuer() -> Issuer<MemoryCms> {
    let cms = MemoryCms::new();
    let contract = "70001".parse().unwrap();
    cms.add_contract(
        contract,
        Pan::new("5141576351968605").unwrap(),
        ContractState::OPEN,
    );
    cms.add_plastic(
        contract,
        "1".parse().unwrap(),
        "2812".parse().unwrap(),
        PlasticStatus::Locked,
    );
    let zone = ZoneKeys::new();
    let zpk = ZpkIndex::new("ZPK-CMS").unwrap();
    zone.insert(
        zpk.clone(),
        TdesKey::new(&hex::decode(ZPK).unwrap()).unwrap(),
        KeyPurpose::PinEncryption,
    )
    .unwrap();
    Issuer::with_rng_seed(cms, zone, zpk, [7; 32])
}

fn keys(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let ring = RsaKeyRing::new();
    let key = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap();
    ring.rotate(
        NewKey::new(KeyIndex::new("A1564386531162").unwrap(), key.clone()),
        Duration::ZERO,
    )
    .unwrap();
    let mut g = c.benchmark_group("keys");
    g.bench_function("ring_lookup", |b| {
        b.iter(|| black_box(ring.decryptor(black_box("A1564386531162")).unwrap()))
    });
    let tzpks = TemporaryKeys::new();
    let device = key.public_key();
    let plastic = PlasticRef::new("70001/1").unwrap();
    g.bench_function("tzpk_issue_take", |b| {
        b.iter(|| {
            let id = ControlId::generate(&mut rng);
            tzpks
                .issue(id.clone(), plastic.clone(), &device, &mut rng)
                .unwrap();
            black_box(tzpks.take(&id, &plastic).unwrap())
        })
    });
    g.finish();
}

fn mastercard(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let ring = RsaKeyRing::new();
    let key = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap();
    let device = key.public_key();
    ring.rotate(
        NewKey::new(KeyIndex::new("A1564386531162").unwrap(), key),
        Duration::ZERO,
    )
    .unwrap();
    let mp = MastercardPanless::new(issuer(), ring);
    let cryptogram = device
        .seal(
            Format::Iso1,
            &Pin::new("7580").unwrap(),
            None,
            RsaPadding::OaepSha256,
            &mut rng,
        )
        .unwrap();
    let body = SetPinRequest {
        new_pin_block: hex::encode_upper(&cryptogram),
        card_expiry_date: "2812".into(),
        card_sequence_number: None,
    };
    let bare = rsa::RsaPrivateKey::from_pkcs8_pem(RSA2048_PEM).unwrap();

    let mut g = c.benchmark_group("mp_set_pin");
    // Each request needs a fresh cryptogram (a repeat is refused as a
    // replay); sealing it is the device's work, so it is set-up, not timed.
    let pin = Pin::new("7580").unwrap();
    g.bench_function("flow", |b| {
        b.iter_batched(
            || SetPinRequest {
                new_pin_block: hex::encode_upper(
                    device
                        .seal(Format::Iso1, &pin, None, RsaPadding::OaepSha256, &mut rng)
                        .unwrap(),
                ),
                ..body.clone()
            },
            |body| {
                black_box(
                    pollster::block_on(mp.set_pin("70001", Some("A1564386531162"), &body)).unwrap(),
                )
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("bare_rsa_decrypt", |b| {
        b.iter(|| {
            black_box(
                bare.decrypt(Oaep::<Sha256>::new(), black_box(&cryptogram))
                    .unwrap(),
            )
        })
    });
    g.finish();
}

fn enfuce(c: &mut Criterion) {
    let api = EnfuceSetPin::new(issuer(), MonotonicClock);
    let device = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap();
    let public_key = device.public_key().to_base64();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let pin = Pin::new("1234").unwrap();
    let (contract, plastic) = ("70001".parse().unwrap(), "1".parse().unwrap());

    let mut g = c.benchmark_group("enfuce_set_pin");
    g.bench_function("issue_tzpk_set", |b| {
        b.iter_custom(|iters| {
            let mut issuer_time = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let control: ControlId = pollster::block_on(api.issue_control(
                    contract,
                    plastic,
                    ControlOperation::SetPin,
                ))
                .unwrap();
                let tzpk = api
                    .get_tzpk(&TzpkRequest {
                        control_id: control.as_str().into(),
                        public_key: public_key.clone(),
                    })
                    .unwrap();
                issuer_time += start.elapsed();
                // Device side, not timed.
                let key = unwrap_tdes_key(
                    &device,
                    RsaPadding::OaepSha256,
                    &BASE64.decode(&tzpk.tzpk).unwrap(),
                )
                .unwrap();
                let request = EnfuceSetPinRequest {
                    control_id: control.as_str().into(),
                    pin_block: BASE64.encode(
                        PinKey::from(key)
                            .encipher_block(Format::Iso1, &iso1::encode(&pin, &mut rng), None)
                            .unwrap(),
                    ),
                };
                let start = Instant::now();
                black_box(pollster::block_on(api.set_pin(&request, "bench")).unwrap());
                issuer_time += start.elapsed();
            }
            issuer_time
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    targets = keys, mastercard, enfuce
}
criterion_main!(benches);
