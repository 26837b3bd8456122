//! Criterion benchmarks of the key-index layer and the whole set-PIN flows,
//! against the bare RSA-2048 decryptions in the same run.
//!
//! `cargo bench --bench flows` (about a minute). Every key lives in a
//! `SoftwareModule`; the ring, the zone keys and the flows hold handles.
//! Groups:
//!
//! - `keys/ring_lookup`: `RsaKeyRing::live_key` by key index (async since
//!   the key store is; driven by `pollster::block_on`, as the flows are here).
//! - `keys/tzpk_issue_take`: `SecurityModule::generate_tzpk` (16-byte key
//!   drawn, RSA-OAEP wrapped for the device), `TemporaryKeys::issue` of the
//!   handle (`TzpkCustody::Handle`), `take`, then `destroy` of the tzpk in
//!   the module.
//! - `mastercard_set_pin_backends`: Mastercard Processing `set_pin` with a
//!   `Key-Index`, from the request body to the CMS store (hex decode, CMS
//!   reads, RSA-2048 OAEP-SHA-256 decrypt, format 1 decode, policy, format 0
//!   under the ZPK, all inside the module's `translate`, then the store), on
//!   each RSA engine of the software module, next to that engine's bare
//!   decryption of the same cryptogram:
//!   - `flow_software`: on `SoftwareModule::new()` (the `rsa` crate);
//!   - `flow_aws_lc`: on `SoftwareModule::new_aws_lc()`;
//!   - `aws_lc_decrypt`: `pinset_module::AwsLcRsaKey` through the
//!     `RsaDecryptor` trait (aws-lc, plus one zeroizing buffer);
//!   - `rsa_decrypt`: `pinset_envelope::RsaPrivateKey` through the same
//!     trait (the `rsa` crate), the baseline.
//!
//!   Budgets: `flow_software` ≤ 1.05 × `rsa_decrypt`; `flow_aws_lc` ≤ 1.10 ×
//!   `aws_lc_decrypt`; `flow_software` ≥ 4 × `flow_aws_lc`. The cryptogram is
//!   sealed once, outside the timed loop (sealing is the device's work), and
//!   the flows' replay window is zero, so every iteration sends the same
//!   request. Filter with `cargo bench --bench flows -- mastercard`.
//! - `mastercard_set_pin_softhsm`: the same flow with its keys in a SoftHSM2
//!   token (RSA-OAEP-SHA-1: SoftHSM 2.6 has no OAEP-SHA-256), beside the
//!   software module on OAEP-SHA-1. Only when `PINSET_PKCS11_*` name a token.
//! - `enfuce_set_pin/issue_tzpk_set`: issuer side of one Enfuce set PIN
//!   (`issue_control`, `get_tzpk`, `set_pin`) on the software module; the
//!   device's unwrap and TDES encryption between them are not timed.

// Bench set-up fails loudly on a bad constant; that is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20::ChaCha20Rng;
use criterion::{Criterion, criterion_group, criterion_main};
use pinset::block::{Format, Pan, Pin, iso1};
use pinset::cms::{ContractState, MemoryCms, PlasticStatus};
use pinset::envelope::rsa::{RsaDecryptor, unwrap_tdes_key};
use pinset::envelope::{PinKey, RsaPadding, RsaPrivateKey};
use pinset::flow::enfuce::{ControlOperation, SetPinRequest as EnfuceSetPinRequest, TzpkRequest};
use pinset::flow::mastercard::SetPinRequest;
use pinset::flow::{EnfuceSetPin, Issuer, MastercardPanless};
use pinset::keys::{
    ControlId, KeyIndex, KeyPurpose, MonotonicClock, NewKey, PlasticRef, RsaKeyRing, TemporaryKeys,
    TzpkCustody, ZoneKeys, ZpkIndex,
};
use pinset::module::{AwsLcRsaKey, KeyAlgorithm, SecurityModule, SoftwareModule};
use rand_core::SeedableRng;

/// The 2048-bit fixture key (PKCS#8 PEM, OpenSSL-made).
const RSA2048_PEM: &str = include_str!("../crates/envelope/tests/data/rsa2048.pem");
/// Mastercard Processing sandbox key index, ZPK and card 70001
/// (shared/vectors/iso9564.json).
const KEY_INDEX: &str = "A1564386531162";
const ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
const CONTRACT: &str = "70001";
const PAN: &str = "5141576351968605";

/// An issuer on `module`: card 70001 in a `MemoryCms`, the sandbox ZPK
/// imported into the module as the CMS's zone PIN key.
fn issuer<M: SecurityModule>(module: M) -> Issuer<MemoryCms, M> {
    let cms = MemoryCms::new();
    let contract = CONTRACT.parse().unwrap();
    cms.add_contract(contract, Pan::new(PAN).unwrap(), ContractState::OPEN);
    cms.add_plastic(
        contract,
        "1".parse().unwrap(),
        "2812".parse().unwrap(),
        PlasticStatus::Locked,
    );
    let handle = pollster::block_on(module.import_symmetric(
        KeyAlgorithm::Tdes3,
        KeyPurpose::PinEncryption,
        &hex::decode(ZPK).unwrap(),
    ))
    .unwrap();
    let zone = ZoneKeys::new();
    let zpk = ZpkIndex::new("ZPK-CMS").unwrap();
    zone.insert(zpk.clone(), handle).unwrap();
    Issuer::with_rng_seed(cms, module, zone, zpk, [7; 32])
}

/// A ring whose active key under [`KEY_INDEX`] is the fixture key, imported
/// into `module` for PIN encryption.
fn ring<M: SecurityModule>(module: &M, padding: RsaPadding) -> RsaKeyRing {
    let der = RsaPrivateKey::from_pem(RSA2048_PEM)
        .unwrap()
        .to_pkcs8_der()
        .unwrap();
    let new = pollster::block_on(async {
        let handle = module
            .import_rsa_private(KeyPurpose::PinEncryption, &der)
            .await
            .unwrap();
        NewKey::from_module(module, KeyIndex::new(KEY_INDEX).unwrap(), handle)
            .await
            .unwrap()
            .with_padding(padding)
    });
    let ring = RsaKeyRing::new();
    pollster::block_on(ring.rotate(new, Duration::ZERO)).unwrap();
    ring
}

fn keys(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let module = SoftwareModule::with_rng_seed([1; 32]);
    let ring = ring(&module, RsaPadding::OaepSha256);
    let mut g = c.benchmark_group("keys");
    g.bench_function("ring_lookup", |b| {
        b.iter(|| black_box(pollster::block_on(ring.live_key(black_box(KEY_INDEX))).unwrap()))
    });
    let tzpks = TemporaryKeys::new();
    let device = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap().public_key();
    let plastic = PlasticRef::new("70001/1").unwrap();
    g.bench_function("tzpk_issue_take", |b| {
        b.iter(|| {
            let id = ControlId::generate(&mut rng);
            pollster::block_on(async {
                let (tzpk, wrapped) = module
                    .generate_tzpk(&device, RsaPadding::OaepSha256)
                    .await
                    .unwrap();
                tzpks
                    .issue(
                        id.clone(),
                        plastic.clone(),
                        TzpkCustody::Handle(tzpk),
                        &wrapped,
                    )
                    .unwrap();
                let taken = tzpks.take(&id, &plastic).unwrap();
                let handle = taken.handle().expect("issued as a handle");
                module.destroy(black_box(handle)).await.unwrap();
            })
        })
    });
    g.finish();
}

/// The Mastercard flow on `module`, replay window zero: the same request may
/// be sent again and again.
fn mastercard_flow<M: SecurityModule>(
    module: M,
    padding: RsaPadding,
) -> MastercardPanless<MemoryCms, pinset::keys::MemoryKeyStore, pinset::keys::SystemClock, M> {
    let ring = ring(&module, padding);
    MastercardPanless::new(issuer(module), ring).with_replay_window(Duration::ZERO)
}

/// The device's work, done once and untimed: PIN 7580 as format 1 under
/// the fixture key with `padding`, and the request body that carries it.
fn sealed_request(padding: RsaPadding, seed: u64) -> (Vec<u8>, SetPinRequest) {
    let cryptogram = RsaPrivateKey::from_pem(RSA2048_PEM)
        .unwrap()
        .public_key()
        .seal(
            Format::Iso1,
            &Pin::new("7580").unwrap(),
            None,
            padding,
            &mut ChaCha20Rng::seed_from_u64(seed),
        )
        .unwrap();
    let body = SetPinRequest {
        new_pin_block: hex::encode_upper(&cryptogram),
        card_expiry_date: "2812".into(),
        card_sequence_number: None,
    };
    (cryptogram, body)
}

/// One set PIN with a pre-sealed body; it must answer 204.
fn set_pin_once<M: SecurityModule>(
    mp: &MastercardPanless<MemoryCms, pinset::keys::MemoryKeyStore, pinset::keys::SystemClock, M>,
    body: &SetPinRequest,
) -> u16 {
    pollster::block_on(mp.set_pin(CONTRACT, Some(KEY_INDEX), black_box(body)))
        .unwrap()
        .http_status
}

/// `mastercard_set_pin_softhsm`: the same flow with its keys in a SoftHSM2
/// token, OAEP-SHA-1 (SoftHSM 2.6 has no OAEP-SHA-256), next to the
/// software module on the same padding. Runs when `PINSET_PKCS11_*` name a
/// token (`eval "$(bash tests/softhsm/setup.sh)"`); otherwise says so.
fn mastercard_softhsm(c: &mut Criterion) {
    let Some(config) = pinset::module::Pkcs11Config::from_env() else {
        eprintln!("mastercard_set_pin_softhsm: no PKCS#11 token in the environment, skipped");
        return;
    };
    let padding = RsaPadding::OaepSha1;
    let (_, body) = sealed_request(padding, 3);
    let token = mastercard_flow(
        pinset::module::Pkcs11Module::open(&config).unwrap(),
        padding,
    );
    let software = mastercard_flow(SoftwareModule::new().unwrap(), padding);
    assert_eq!(set_pin_once(&token, &body), 204);
    assert_eq!(set_pin_once(&software, &body), 204);
    let mut g = c.benchmark_group("mastercard_set_pin_softhsm");
    g.bench_function("flow_softhsm_oaep_sha1", |b| {
        b.iter(|| set_pin_once(&token, &body))
    });
    token.issuer().cms().take_emv_scripts();
    g.bench_function("flow_software_oaep_sha1", |b| {
        b.iter(|| set_pin_once(&software, &body))
    });
    software.issuer().cms().take_emv_scripts();
    g.finish();
}

fn mastercard(c: &mut Criterion) {
    let private = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap();
    let aws = AwsLcRsaKey::from_der(&private.to_pkcs8_der().unwrap()).unwrap();
    let padding = RsaPadding::OaepSha256;
    let (cryptogram, body) = sealed_request(padding, 2);
    let flows = [
        (
            "flow_software",
            mastercard_flow(SoftwareModule::new().unwrap(), padding),
        ),
        (
            "flow_aws_lc",
            mastercard_flow(SoftwareModule::new_aws_lc().unwrap(), padding),
        ),
    ];
    // Every contender must do the whole job, or the ratios mean nothing.
    assert_eq!(flows[0].1.issuer().module().name(), "software");
    assert_eq!(flows[1].1.issuer().module().name(), "aws-lc");
    let stored: Vec<_> = flows
        .iter()
        .map(|(_, mp)| {
            // Twice: the zero replay window lets the same cryptogram through.
            for _ in 0..2 {
                assert_eq!(set_pin_once(mp, &body), 204);
            }
            let snapshot = mp.issuer().cms().snapshot();
            let contract = CONTRACT.parse().unwrap();
            snapshot.contracts[&contract].plastics[0]
                .pin
                .as_ref()
                .unwrap()
                .pin_block
        })
        .collect();
    assert_eq!(stored[0], stored[1], "format 0 is deterministic");
    assert_eq!(aws.decrypt(padding, &cryptogram).unwrap().len(), 8);
    assert_eq!(private.decrypt(padding, &cryptogram).unwrap().len(), 8);

    let mut g = c.benchmark_group("mastercard_set_pin_backends");
    for (name, mp) in &flows {
        g.bench_function(*name, |b| b.iter(|| set_pin_once(mp, &body)));
        // One EMV script is queued per PIN set: drop them between benches.
        mp.issuer().cms().take_emv_scripts();
    }
    g.bench_function("aws_lc_decrypt", |b| {
        b.iter(|| black_box(&aws).decrypt(padding, black_box(&cryptogram)))
    });
    g.bench_function("rsa_decrypt", |b| {
        b.iter(|| black_box(&private).decrypt(padding, black_box(&cryptogram)))
    });
    g.finish();
}

fn enfuce(c: &mut Criterion) {
    let api = EnfuceSetPin::new(issuer(SoftwareModule::new().unwrap()), MonotonicClock);
    let device = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap();
    let public_key = device.public_key().to_base64();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let pin = Pin::new("1234").unwrap();
    let (contract, plastic) = (CONTRACT.parse().unwrap(), "1".parse().unwrap());

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
                let tzpk = pollster::block_on(api.get_tzpk(&TzpkRequest {
                    control_id: control.as_str().into(),
                    public_key: public_key.clone(),
                }))
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
    // Every tzpk was taken and destroyed.
    assert_eq!(api.pending_tzpks().unwrap(), 0);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    targets = keys, mastercard, mastercard_softhsm, enfuce
}
criterion_main!(benches);
