//! Several instances of the PIN service sharing their state through stores:
//! each instance has its OWN software module (as two processes would), and
//! the instances share the CMS, the control store, the replay store and the
//! key ring through `Arc`s.
//!
//! Vectors: Mastercard Processing sandbox card 70001 (PIN 7580, PAN
//! 5141576351968605), key index A1564386531162 and ZPK
//! (`shared/vectors/iso9564.json`, `mastercard_sandbox`); the Enfuce seed
//! block `141234AAAAAAAAAA`, PIN 1234 (`shared/seeds/enfuce-set-pin-v3.md`,
//! "Example flow"); RSA keys from `crates/envelope/tests/data/`. The
//! key-encryption key's bytes are this suite's own.

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::*;
use pinset_block::Pan;
use pinset_cms::{
    CardContractId, CardManagement, CardPlastic, CmsError, ContractState, MemoryCms, StorePin,
    StorePinOutcome,
};
use pinset_envelope::{RsaPadding, RsaPrivateKey, RsaPublicKey, TdesKey};
use pinset_flow::enfuce::{ControlOperation, SetPinResponse};
use pinset_flow::mastercard::{DEFAULT_REPLAY_WINDOW, SetPinOutcome};
use pinset_flow::{
    ClaimToken, Detail, EnfuceSetPin, FlowError, MastercardPanless, MemoryAudit, MemoryReplayStore,
    PinPolicy, Reason, ReplayStore,
};
use pinset_keys::{
    ControlBinding, ControlId, ControlStore, KeyError, KeyIndex, KeyPurpose, KeyRef, KeyStore,
    ManualClock, MemoryControlStore, MemoryKeyStore, RingEntry, RingSnapshot, RsaKeyRing,
    StoreError, TzpkCustody, TzpkError,
};
use pinset_module::{
    ErrorClass, KeyAlgorithm, KeyCheck, ModuleError, SecurityModule, SoftwareModule,
};

/// The AES-256 key-encryption key every instance's module holds (this suite's own bytes).
const TZPK_KEK: [u8; 32] = [
    0x3C, 0x71, 0x0E, 0xA2, 0x5B, 0xD4, 0x96, 0x18, 0xE7, 0x40, 0x2F, 0xC9, 0x85, 0x6A, 0x13, 0xFB,
    0x0D, 0x9E, 0x52, 0xB7, 0x34, 0xC8, 0x61, 0xAF, 0x27, 0xE0, 0x7B, 0x95, 0x4C, 0x1D, 0xF6, 0x88,
];

/// The CMS both instances talk to.
struct SharedCms(Arc<MemoryCms>);

impl CardManagement for SharedCms {
    fn pan(&self, c: CardContractId) -> impl Future<Output = Result<Pan, CmsError>> + Send {
        self.0.pan(c)
    }
    fn contract_state(
        &self,
        c: CardContractId,
    ) -> impl Future<Output = Result<ContractState, CmsError>> + Send {
        self.0.contract_state(c)
    }
    fn plastics(
        &self,
        c: CardContractId,
    ) -> impl Future<Output = Result<Vec<CardPlastic>, CmsError>> + Send {
        self.0.plastics(c)
    }
    fn store_pin(
        &self,
        request: StorePin,
    ) -> impl Future<Output = Result<StorePinOutcome, CmsError>> + Send {
        self.0.store_pin(request)
    }
}

/// What the instances share besides their stores: the CMS and the clock.
struct Backend {
    cms: Arc<MemoryCms>,
    clock: ManualClock,
}

impl Backend {
    fn new() -> Self {
        Backend {
            cms: Arc::new(sandbox_cms()),
            clock: ManualClock::new(T0),
        }
    }

    /// An issuer with its own software module and RNG, both seeded with `seed`.
    fn issuer(&self, seed: u8, audit: &Arc<MemoryAudit>) -> pinset_flow::Issuer<SharedCms> {
        issuer_seeded(
            SharedCms(Arc::clone(&self.cms)),
            SoftwareModule::with_rng_seed([seed; 32]),
            [seed; 32],
            PinPolicy::default(),
            audit,
            &self.clock,
        )
    }
}

fn import<M: SecurityModule>(
    module: &M,
    algorithm: KeyAlgorithm,
    purpose: KeyPurpose,
    bytes: &[u8],
) -> KeyRef {
    pollster::block_on(module.import_symmetric(algorithm, purpose, bytes)).expect("import")
}

fn outcome_codes(audit: &MemoryAudit) -> Vec<&'static str> {
    audit.events().iter().map(|e| e.outcome).collect()
}

// ---------------------------------------------------------------- Enfuce

type Controls = Arc<MemoryControlStore<ManualClock>>;

/// One Enfuce instance: its flow and audit log.
struct EnfuceInstance<S: ControlStore> {
    flow: EnfuceSetPin<SharedCms, S>,
    audit: Arc<MemoryAudit>,
}

impl<S: ControlStore> EnfuceInstance<S> {
    /// On `store`; with `kek`, the AES key-encryption key is imported into
    /// this instance's module and tzpks travel wrapped under it.
    fn new(backend: &Backend, seed: u8, store: S, kek: Option<&[u8; 32]>) -> Self {
        let audit = Arc::new(MemoryAudit::new());
        let mut flow = EnfuceSetPin::with_store(backend.issuer(seed, &audit), store);
        if let Some(kek) = kek {
            let handle = import(
                flow.issuer().module(),
                KeyAlgorithm::Aes256,
                KeyPurpose::KeyEncryption,
                kek,
            );
            flow = flow.with_shared_tzpks(handle);
        }
        EnfuceInstance { flow, audit }
    }

    fn control(&self, contract_id: &str) -> Result<ControlId, FlowError> {
        pollster::block_on(self.flow.issue_control(
            contract(contract_id),
            seq(SEQ),
            ControlOperation::SetPin,
        ))
    }

    /// The device fetches a tzpk here and unwraps it.
    fn tzpk(&self, control: &ControlId) -> Result<TdesKey, FlowError> {
        let device = rsa3072();
        let response = pollster::block_on(self.flow.get_tzpk(&pinset_flow::enfuce::TzpkRequest {
            control_id: control.as_str().to_owned(),
            public_key: device.public_key().to_base64(),
        }))?;
        Ok(unwrap_tzpk(&device, &response.tzpk))
    }

    fn set_pin(&self, control: &ControlId, block: &str) -> Result<SetPinResponse, FlowError> {
        pollster::block_on(self.flow.set_pin(
            &pinset_flow::enfuce::SetPinRequest {
                control_id: control.as_str().to_owned(),
                pin_block: block.to_owned(),
            },
            ENFUCE_AUDIT_USER,
        ))
    }
}

fn unwrap_tzpk(device: &RsaPrivateKey, tzpk: &str) -> TdesKey {
    use base64::Engine;
    let wrapped = base64::engine::general_purpose::STANDARD
        .decode(tzpk)
        .expect("base64");
    pinset_envelope::rsa::unwrap_tdes_key(device, RsaPadding::OaepSha256, &wrapped)
        .expect("the device unwraps the tzpk")
}

/// Two instances, each with its own module, sharing one control store.
fn enfuce_pair(
    backend: &Backend,
    shared_tzpks: bool,
) -> (EnfuceInstance<Controls>, EnfuceInstance<Controls>, Controls) {
    let controls: Controls = Arc::new(MemoryControlStore::with_clock(backend.clock.clone()));
    let kek = shared_tzpks.then_some(&TZPK_KEK);
    let a = EnfuceInstance::new(backend, 0xA1, Arc::clone(&controls), kek);
    let b = EnfuceInstance::new(backend, 0xB2, Arc::clone(&controls), kek);
    (a, b, controls)
}

#[test]
fn enfuce_control_issued_on_a_tzpk_fetched_on_b_pin_set_on_a() {
    let backend = Backend::new();
    let (a, b, _) = enfuce_pair(&backend, true);

    let control = a.control("70001").expect("control on A");
    // B knows the control A issued, and fetches its tzpk.
    let tzpk = b.tzpk(&control).expect("tzpk on B");
    // The device enciphers the seed block under it; A sets the PIN: 200 `{}`.
    let block = encrypt_block(&tzpk, ENFUCE_SEED_BLOCK);
    assert_eq!(
        a.set_pin(&control, &block).expect("set on A"),
        SetPinResponse {}
    );
    // The CMS holds ISO 0 of PIN 1234 and card 70001's PAN under the CMS ZPK.
    assert_stored_pin(
        &backend.cms.snapshot(),
        "70001",
        SEQ,
        ENFUCE_SEED_PIN,
        CARDS[0].pan,
    );
    // The control is spent everywhere.
    let before = backend.cms.snapshot();
    for instance in [&a, &b] {
        let e = refused(instance.set_pin(&control, &block));
        assert_reason(&e, Reason::ControlNotFound, 404, false);
    }
    assert_eq!(backend.cms.snapshot(), before);
    assert_eq!(
        outcome_codes(&a.audit),
        ["OK", "OK", "CONTROL_ID_NOT_FOUND"]
    );
    assert_eq!(outcome_codes(&b.audit), ["OK", "CONTROL_ID_NOT_FOUND"]);

    // And the other way round, with the whole flow on B but the tzpk from A.
    let control = b.control("70002").expect("control on B");
    let tzpk = a.tzpk(&control).expect("tzpk on A");
    b.set_pin(&control, &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK))
        .expect("set on B");
    assert_stored_pin(
        &backend.cms.snapshot(),
        "70002",
        SEQ,
        ENFUCE_SEED_PIN,
        CARDS[1].pan,
    );
}

#[test]
fn a_shared_tzpk_is_kept_wrapped_under_the_kek_never_clear() {
    let backend = Backend::new();
    let (a, b, controls) = enfuce_pair(&backend, true);
    let control = a.control("70001").expect("control");
    let tzpk = b.tzpk(&control).expect("tzpk");
    // What the store holds (taken here, as a third party would read it).
    let (binding, custody) =
        pollster::block_on(ControlStore::take(&controls, &control)).expect("a record");
    assert_eq!(
        binding,
        ControlBinding {
            plastic: pinset_keys::PlasticRef::new("70001/1").expect("plastic"),
            operation: ControlOperation::SetPin,
        }
    );
    let Some(TzpkCustody::Wrapped { kek, kcv, wrapped }) = custody else {
        panic!("with shared tzpks the store keeps the key wrapped: {custody:?}");
    };
    let kek_handle = import(
        &SoftwareModule::with_rng_seed([9; 32]),
        KeyAlgorithm::Aes256,
        KeyPurpose::KeyEncryption,
        &TZPK_KEK,
    );
    assert_eq!(KeyCheck::Kcv(kek), kek_handle.check());
    assert_eq!(kcv, tzpk.kcv());
    // AES key wrap with padding of 16 bytes: 24 bytes, none of them the key's.
    assert_eq!(wrapped.len(), 24);
    let clear = tzpk.expose_bytes();
    assert!(!wrapped.windows(4).any(|w| clear.windows(4).any(|c| c == w)));
    // Taken by a third party, the control is gone for A too.
    let e = refused(a.set_pin(&control, &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK)));
    assert_reason(&e, Reason::ControlNotFound, 404, false);
}

#[test]
fn without_shared_tzpks_a_tzpk_fetched_on_b_is_unknown_to_a() {
    let backend = Backend::new();
    let (a, b, controls) = enfuce_pair(&backend, false);
    let control = a.control("70001").expect("control on A");
    let tzpk = b.tzpk(&control).expect("tzpk on B");
    let before = backend.cms.snapshot();
    let e = refused(a.set_pin(&control, &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK)));
    // The store handed A a handle of B's module: A's module does not know it.
    // A configuration error, not a retryable outage: 500, not recoverable.
    assert_reason(&e, Reason::Unexpected, 500, false);
    assert_eq!(module_class(&e), Some(ErrorClass::Refused));
    assert!(
        matches!(e.detail(), Detail::Module(ModuleError::UnknownKey(_))),
        "{:?}",
        e.detail()
    );
    assert_eq!(backend.cms.snapshot(), before, "nothing was stored");
    assert_eq!(outcome_codes(&a.audit), ["OK", "UNEXPECTED_ERROR"]);
    // The control was spent by the attempt, on every instance.
    let e = refused(b.set_pin(&control, &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK)));
    assert_reason(&e, Reason::ControlNotFound, 404, false);
    assert!(pollster::block_on(controls.binding(&control)).is_err());

    // On the instance that fetched it, the same flow works.
    let control = a.control("70002").expect("control on A");
    let tzpk = b.tzpk(&control).expect("tzpk on B");
    b.set_pin(&control, &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK))
        .expect("set on B, whose module holds the tzpk");
    assert_stored_pin(
        &backend.cms.snapshot(),
        "70002",
        SEQ,
        ENFUCE_SEED_PIN,
        CARDS[1].pan,
    );
}

#[test]
fn instances_with_different_keks_cannot_share_tzpks() {
    let backend = Backend::new();
    let controls: Controls = Arc::new(MemoryControlStore::with_clock(backend.clock.clone()));
    let a = EnfuceInstance::new(&backend, 0xA1, Arc::clone(&controls), Some(&TZPK_KEK));
    let mut other = TZPK_KEK;
    other[0] ^= 0xFF;
    let b = EnfuceInstance::new(&backend, 0xB2, Arc::clone(&controls), Some(&other));
    let control = a.control("70001").expect("control");
    let tzpk = b.tzpk(&control).expect("tzpk");
    let before = backend.cms.snapshot();
    let e = refused(a.set_pin(&control, &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK)));
    assert_reason(&e, Reason::Unexpected, 500, false);
    assert!(
        matches!(e.detail(), Detail::Internal(_)),
        "{:?}",
        e.detail()
    );
    assert_eq!(backend.cms.snapshot(), before);
}

#[test]
fn two_instances_racing_set_pin_on_one_control_have_exactly_one_winner() {
    const THREADS: usize = 50;
    let backend = Backend::new();
    let (a, b, _) = enfuce_pair(&backend, true);
    let control = a.control("70001").expect("control");
    let tzpk = b.tzpk(&control).expect("tzpk");
    let block = encrypt_block(&tzpk, ENFUCE_SEED_BLOCK);
    let barrier = Barrier::new(2 * THREADS);
    let results: Vec<Result<SetPinResponse, FlowError>> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..2 * THREADS)
            .map(|i| {
                let instance = if i % 2 == 0 { &a } else { &b };
                let (control, block, barrier) = (&control, &block, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    instance.set_pin(control, block)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("no panic"))
            .collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for e in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_reason(e, Reason::ControlNotFound, 404, false);
    }
    assert_stored_pin(
        &backend.cms.snapshot(),
        "70001",
        SEQ,
        ENFUCE_SEED_PIN,
        CARDS[0].pan,
    );
}

// ---------------------------------------------------------------- Mastercard

type Replay = Arc<MemoryReplayStore<ManualClock>>;
type Keys = Arc<MemoryKeyStore>;

/// One Mastercard instance: its flow and audit log.
struct MpInstance<S: KeyStore = Keys, R: ReplayStore = Replay> {
    flow: MastercardPanless<SharedCms, S, ManualClock, SoftwareModule, R>,
    audit: Arc<MemoryAudit>,
}

impl<S: KeyStore, R: ReplayStore> MpInstance<S, R> {
    /// rsa2048.pem and rsa3072.pem are imported into this instance's own
    /// module; the ring on `keys` holds handles.
    fn new(backend: &Backend, seed: u8, keys: S, replay: R) -> Self {
        let audit = Arc::new(MemoryAudit::new());
        let issuer = backend.issuer(seed, &audit);
        for key in [rsa2048(), rsa3072()] {
            rsa_handle(issuer.module(), &key);
        }
        let ring = RsaKeyRing::with_store(keys, backend.clock.clone());
        let flow = MastercardPanless::new(issuer, ring).with_replay_store(replay);
        MpInstance { flow, audit }
    }

    fn module(&self) -> &SoftwareModule {
        self.flow.issuer().module()
    }

    /// The device fetches the public key here and seals `pin_digits` under it.
    fn seal(&self, pin_digits: &str, seed: u64) -> (String, String) {
        let published = pollster::block_on(self.flow.public_keys("PIN_BLOCK")).expect("public key");
        let key = RsaPublicKey::from_hex(&published.public_rsa_key).expect("hex DER");
        let cryptogram = key
            .seal(
                pinset_block::Format::Iso1,
                &pin(pin_digits),
                None,
                RsaPadding::OaepSha256,
                &mut rng(seed),
            )
            .expect("seal");
        (published.key_index, hex::encode_upper(cryptogram))
    }

    fn set_pin(&self, key_index: &str, block: &str) -> Result<SetPinOutcome, FlowError> {
        pollster::block_on(self.flow.set_pin(
            "70001",
            Some(key_index),
            &mp_request(block, EXPIRY, None),
        ))
    }
}

/// Imports a PKCS#8 key into `module` for PIN encryption, as every
/// instance's key ceremony would; returns its handle.
fn rsa_handle(module: &SoftwareModule, key: &RsaPrivateKey) -> KeyRef {
    let der = key.to_pkcs8_der().expect("PKCS#8");
    pollster::block_on(module.import_rsa_private(KeyPurpose::PinEncryption, &der)).expect("import")
}

/// Installs `key` in a ring on `keys` under `index`, from `module`.
fn rotate_in<S: KeyStore>(
    keys: S,
    clock: &ManualClock,
    module: &SoftwareModule,
    index: &str,
    key: &RsaPrivateKey,
) {
    pollster::block_on(
        RsaKeyRing::with_store(keys, clock.clone())
            .rotate(ring_key(module, index, key), Duration::from_secs(600)),
    )
    .expect("rotate");
}

#[test]
fn mastercard_one_ring_shared_by_instances_with_their_own_modules() {
    let backend = Backend::new();
    let keys: Keys = Arc::new(MemoryKeyStore::new());
    let replay: Replay = Arc::new(MemoryReplayStore::with_clock(backend.clock.clone()));
    let a = MpInstance::new(&backend, 0xA1, Arc::clone(&keys), Arc::clone(&replay));
    let b = MpInstance::new(&backend, 0xB2, Arc::clone(&keys), Arc::clone(&replay));
    rotate_in(
        Arc::clone(&keys),
        &backend.clock,
        a.module(),
        KEY_INDEX,
        &rsa2048(),
    );

    // A software module names an RSA key by its public fingerprint, so the
    // handle A's module issued is the one B's module issued for the same
    // PKCS#8: one ring serves both.
    let live = pollster::block_on(b.flow.ring().live_key(KEY_INDEX)).expect("live on B");
    assert_eq!(live.key(), &rsa_handle(b.module(), &rsa2048()));
    assert_eq!(live.key(), &rsa_handle(a.module(), &rsa2048()));

    // Published by B, used on A; a fresh one published by A, used on B.
    let (index, block) = b.seal("7580", 1);
    assert_eq!(index, KEY_INDEX);
    assert_eq!(a.set_pin(&index, &block).expect("on A").http_status, 204);
    assert_stored_pin(&backend.cms.snapshot(), "70001", SEQ, "7580", CARDS[0].pan);
    let (index, block) = a.seal("5336", 2);
    assert_eq!(b.set_pin(&index, &block).expect("on B").http_status, 204);
    assert_stored_pin(&backend.cms.snapshot(), "70001", SEQ, "5336", CARDS[0].pan);

    // A rotation on B is seen by A at once.
    rotate_in(
        Arc::clone(&keys),
        &backend.clock,
        b.module(),
        "K2",
        &rsa3072(),
    );
    let (index, block) = a.seal("2360", 3);
    assert_eq!(index, "K2");
    assert_eq!(a.set_pin(&index, &block).expect("K2 on A").http_status, 204);
    assert_eq!(replay.len(), 3);
}

#[test]
fn a_ring_key_missing_from_one_instances_module_fails_there_only() {
    let backend = Backend::new();
    let keys: Keys = Arc::new(MemoryKeyStore::new());
    let replay: Replay = Arc::new(MemoryReplayStore::with_clock(backend.clock.clone()));
    let a = MpInstance::new(&backend, 0xA1, Arc::clone(&keys), Arc::clone(&replay));
    let b = MpInstance::new(&backend, 0xB2, Arc::clone(&keys), Arc::clone(&replay));
    // A key B's module generated: A's module has never held it.
    let generated = pollster::block_on(pinset_keys::NewKey::generate(
        b.module(),
        KeyIndex::new("GEN").expect("index"),
        2048,
        KeyPurpose::PinEncryption,
    ))
    .expect("generate");
    pollster::block_on(
        RsaKeyRing::with_store(Arc::clone(&keys), backend.clock.clone())
            .rotate(generated, Duration::ZERO),
    )
    .expect("rotate");
    let (index, block) = a.seal("7580", 4);
    let before = backend.cms.snapshot();
    let e = refused(a.set_pin(&index, &block));
    assert_reason(&e, Reason::Unexpected, 500, false);
    assert!(
        matches!(e.detail(), Detail::Module(ModuleError::UnknownKey(_))),
        "{:?}",
        e.detail()
    );
    assert_eq!(backend.cms.snapshot(), before);
    // Nothing was claimed (the module refused before the claim): B takes it.
    assert!(replay.is_empty());
    assert_eq!(b.set_pin(&index, &block).expect("on B").http_status, 204);
}

#[test]
fn mastercard_cryptogram_used_on_a_and_replayed_on_b_is_refused() {
    let backend = Backend::new();
    let keys: Keys = Arc::new(MemoryKeyStore::new());
    let replay: Replay = Arc::new(MemoryReplayStore::with_clock(backend.clock.clone()));
    let a = MpInstance::new(&backend, 0xA1, Arc::clone(&keys), Arc::clone(&replay));
    let b = MpInstance::new(&backend, 0xB2, Arc::clone(&keys), Arc::clone(&replay));
    rotate_in(
        Arc::clone(&keys),
        &backend.clock,
        a.module(),
        KEY_INDEX,
        &rsa2048(),
    );

    let (index, block) = a.seal("7580", 5);
    assert_eq!(a.set_pin(&index, &block).expect("on A").http_status, 204);
    let after_first = backend.cms.snapshot();
    let e = refused(b.set_pin(&index, &block));
    assert_reason(&e, Reason::ReplayedPinBlock, 400, false);
    assert_eq!(e.reason().code(), "PIN_BLOCK_REPLAYED");
    assert!(matches!(e.detail(), Detail::Replay));
    assert_eq!(backend.cms.snapshot(), after_first);
    assert_eq!(outcome_codes(&b.audit), ["PIN_BLOCK_REPLAYED"]);
    // Refused on A as well, and on B after a restart (a new instance, same store).
    assert_eq!(
        refused(a.set_pin(&index, &block)).reason(),
        Reason::ReplayedPinBlock
    );
    let restarted = MpInstance::new(&backend, 0xC3, Arc::clone(&keys), Arc::clone(&replay));
    assert_eq!(
        refused(restarted.set_pin(&index, &block)).reason(),
        Reason::ReplayedPinBlock
    );
    // Until the window ends.
    backend.clock.advance(DEFAULT_REPLAY_WINDOW);
    assert_eq!(
        b.set_pin(&index, &block)
            .expect("after the window")
            .http_status,
        204
    );
}

#[test]
fn mastercard_instances_each_with_own_ring_holding_the_same_key_share_replays() {
    // The fallback for modules whose handles differ: each instance keeps
    // its own ring with the same key under the same index.
    let backend = Backend::new();
    let replay: Replay = Arc::new(MemoryReplayStore::with_clock(backend.clock.clone()));
    let a = MpInstance::new(&backend, 0xA1, MemoryKeyStore::new(), Arc::clone(&replay));
    let b = MpInstance::new(&backend, 0xB2, MemoryKeyStore::new(), Arc::clone(&replay));
    for instance in [&a, &b] {
        pollster::block_on(instance.flow.ring().rotate(
            ring_key(instance.module(), KEY_INDEX, &rsa2048()),
            Duration::from_secs(600),
        ))
        .expect("rotate");
    }
    let (index, block) = a.seal("7580", 6);
    assert_eq!(a.set_pin(&index, &block).expect("on A").http_status, 204);
    let e = refused(b.set_pin(&index, &block));
    assert_reason(&e, Reason::ReplayedPinBlock, 400, false);
}

// ---------------------------------------------------------------- store outages

/// A store that answers as its inner store, or fails while `down` is set.
struct Flaky<T> {
    inner: T,
    down: AtomicBool,
    /// Fails `release` only (the replay store).
    release_down: AtomicBool,
}

impl<T> Flaky<T> {
    fn new(inner: T) -> Self {
        Flaky {
            inner,
            down: AtomicBool::new(false),
            release_down: AtomicBool::new(false),
        }
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    fn backend_error() -> StoreError {
        StoreError::Backend("connection refused".into())
    }

    fn unavailable() -> TzpkError {
        TzpkError::Unavailable {
            store: "flaky",
            reason: "connection refused".into(),
        }
    }
}

impl<R: ReplayStore> ReplayStore for Flaky<R> {
    async fn claim(
        &self,
        fingerprint: &[u8; 32],
        window: Duration,
    ) -> Result<Option<ClaimToken>, StoreError> {
        if self.is_down() {
            return Err(Self::backend_error());
        }
        self.inner.claim(fingerprint, window).await
    }

    async fn release(&self, fingerprint: &[u8; 32], token: ClaimToken) -> Result<(), StoreError> {
        if self.is_down() || self.release_down.load(Ordering::SeqCst) {
            return Err(Self::backend_error());
        }
        self.inner.release(fingerprint, token).await
    }
}

impl<K: KeyStore> KeyStore for Flaky<K> {
    async fn snapshot(&self) -> Result<RingSnapshot, StoreError> {
        if self.is_down() {
            return Err(Self::backend_error());
        }
        self.inner.snapshot().await
    }

    async fn compare_and_swap(
        &self,
        generation: u64,
        entries: Vec<RingEntry>,
    ) -> Result<u64, StoreError> {
        if self.is_down() {
            return Err(Self::backend_error());
        }
        self.inner.compare_and_swap(generation, entries).await
    }
}

impl<S: ControlStore> ControlStore for Flaky<S> {
    fn ttl(&self) -> Duration {
        self.inner.ttl()
    }

    async fn open(&self, control_id: &ControlId, binding: ControlBinding) -> Result<(), TzpkError> {
        if self.is_down() {
            return Err(Self::unavailable());
        }
        self.inner.open(control_id, binding).await
    }

    async fn binding(&self, control_id: &ControlId) -> Result<ControlBinding, TzpkError> {
        if self.is_down() {
            return Err(Self::unavailable());
        }
        self.inner.binding(control_id).await
    }

    async fn attach(
        &self,
        control_id: &ControlId,
        tzpk: TzpkCustody,
    ) -> Result<ControlBinding, TzpkError> {
        if self.is_down() {
            return Err(Self::unavailable());
        }
        self.inner.attach(control_id, tzpk).await
    }

    async fn take(
        &self,
        control_id: &ControlId,
    ) -> Result<(ControlBinding, Option<TzpkCustody>), TzpkError> {
        if self.is_down() {
            return Err(Self::unavailable());
        }
        self.inner.take(control_id).await
    }

    fn take_expired(&self) -> Vec<KeyRef> {
        self.inner.take_expired()
    }
}

fn assert_integration_error(e: &FlowError) {
    assert_reason(e, Reason::IntegrationError, 500, true);
    assert_eq!(e.reason().code(), "INTEGRATION_ERROR");
}

#[test]
fn a_replay_store_outage_is_a_recoverable_500_that_changes_nothing() {
    let backend = Backend::new();
    let keys: Keys = Arc::new(MemoryKeyStore::new());
    let replay = Arc::new(Flaky::new(MemoryReplayStore::with_clock(
        backend.clock.clone(),
    )));
    let a = MpInstance::new(&backend, 0xA1, Arc::clone(&keys), Arc::clone(&replay));
    rotate_in(
        Arc::clone(&keys),
        &backend.clock,
        a.module(),
        KEY_INDEX,
        &rsa2048(),
    );
    let (index, block) = a.seal("7580", 7);

    replay.set_down(true);
    let before = backend.cms.snapshot();
    let e = refused(a.set_pin(&index, &block));
    assert_integration_error(&e);
    assert!(
        matches!(e.detail(), Detail::Store(StoreError::Backend(_))),
        "{:?}",
        e.detail()
    );
    assert_eq!(backend.cms.snapshot(), before, "the CMS is unchanged");
    assert!(replay.inner.is_empty(), "nothing was claimed");
    assert_eq!(
        outcome_codes(&a.audit),
        ["OK", "INTEGRATION_ERROR"],
        "public key, then the refusal"
    );

    // The store is back: the same request goes through, without a restart,
    // and a replay is refused again.
    replay.set_down(false);
    assert_eq!(
        a.set_pin(&index, &block).expect("recovered").http_status,
        204
    );
    assert_stored_pin(&backend.cms.snapshot(), "70001", SEQ, "7580", CARDS[0].pan);
    assert_eq!(
        refused(a.set_pin(&index, &block)).reason(),
        Reason::ReplayedPinBlock
    );
}

#[test]
fn a_release_that_cannot_reach_the_store_keeps_the_claim() {
    let backend = Backend::new();
    let keys: Keys = Arc::new(MemoryKeyStore::new());
    let replay = Arc::new(Flaky::new(MemoryReplayStore::with_clock(
        backend.clock.clone(),
    )));
    let a = MpInstance::new(&backend, 0xA1, Arc::clone(&keys), Arc::clone(&replay));
    rotate_in(
        Arc::clone(&keys),
        &backend.clock,
        a.module(),
        KEY_INDEX,
        &rsa2048(),
    );
    let (index, block) = a.seal("7580", 8);
    // The CMS fails, and the claim cannot be given back: it stays (fail closed).
    replay.release_down.store(true, Ordering::SeqCst);
    backend.cms.fail_next_store();
    assert_integration_error(&refused(a.set_pin(&index, &block)));
    replay.release_down.store(false, Ordering::SeqCst);
    assert_eq!(replay.inner.len(), 1);
    assert_eq!(
        refused(a.set_pin(&index, &block)).reason(),
        Reason::ReplayedPinBlock
    );
    // With the store reachable, a failed CMS call gives the claim back.
    let (index, block) = a.seal("7580", 9);
    backend.cms.fail_next_store();
    assert_integration_error(&refused(a.set_pin(&index, &block)));
    assert_eq!(a.set_pin(&index, &block).expect("retry").http_status, 204);
}

#[test]
fn a_key_store_outage_is_a_recoverable_500_that_changes_nothing() {
    let backend = Backend::new();
    let keys = Arc::new(Flaky::new(MemoryKeyStore::new()));
    let replay: Replay = Arc::new(MemoryReplayStore::with_clock(backend.clock.clone()));
    let a = MpInstance::new(&backend, 0xA1, Arc::clone(&keys), Arc::clone(&replay));
    rotate_in(
        Arc::clone(&keys),
        &backend.clock,
        a.module(),
        KEY_INDEX,
        &rsa2048(),
    );
    let (index, block) = a.seal("7580", 10);

    keys.set_down(true);
    let e = refused(pollster::block_on(a.flow.public_keys("PIN_BLOCK")));
    assert_integration_error(&e);
    assert!(
        matches!(
            e.detail(),
            Detail::Key(KeyError::Store(StoreError::Backend(_)))
        ),
        "{:?}",
        e.detail()
    );
    let before = backend.cms.snapshot();
    let e = refused(a.set_pin(&index, &block));
    assert_integration_error(&e);
    assert!(
        matches!(
            e.detail(),
            Detail::Key(KeyError::Store(StoreError::Backend(_)))
        ),
        "{:?}",
        e.detail()
    );
    assert_eq!(backend.cms.snapshot(), before);
    assert!(replay.is_empty());

    keys.set_down(false);
    assert_eq!(
        a.set_pin(&index, &block).expect("recovered").http_status,
        204
    );
}

#[test]
fn a_control_store_outage_is_a_recoverable_500_that_changes_nothing() {
    let backend = Backend::new();
    let controls = Arc::new(Flaky::new(MemoryControlStore::with_clock(
        backend.clock.clone(),
    )));
    let a = EnfuceInstance::new(&backend, 0xA1, Arc::clone(&controls), Some(&TZPK_KEK));
    let b = EnfuceInstance::new(&backend, 0xB2, Arc::clone(&controls), Some(&TZPK_KEK));

    // Down: no control, no tzpk.
    controls.set_down(true);
    let e = refused(a.control("70001"));
    assert_integration_error(&e);
    assert!(
        matches!(e.detail(), Detail::Tzpk(TzpkError::Unavailable { .. })),
        "{:?}",
        e.detail()
    );
    controls.set_down(false);
    let control = a.control("70001").expect("control");
    controls.set_down(true);
    assert_integration_error(&refused(b.tzpk(&control)));
    controls.set_down(false);
    let tzpk = b.tzpk(&control).expect("tzpk");
    let block = encrypt_block(&tzpk, ENFUCE_SEED_BLOCK);

    // Down at set PIN: 500, recoverable, and the CMS is unchanged.
    controls.set_down(true);
    let before = backend.cms.snapshot();
    let e = refused(a.set_pin(&control, &block));
    assert_integration_error(&e);
    assert!(
        matches!(
            e.detail(),
            Detail::Tzpk(TzpkError::Unavailable { store: "flaky", .. })
        ),
        "{:?}",
        e.detail()
    );
    assert_eq!(backend.cms.snapshot(), before);
    let body = a.flow.error_body(&e);
    assert!(
        body.to_json().contains("INTEGRATION_ERROR"),
        "{}",
        body.to_json()
    );

    // Back: the same control and block set the PIN, on either instance.
    controls.set_down(false);
    assert_eq!(
        b.set_pin(&control, &block).expect("recovered"),
        SetPinResponse {}
    );
    assert_stored_pin(
        &backend.cms.snapshot(),
        "70001",
        SEQ,
        ENFUCE_SEED_PIN,
        CARDS[0].pan,
    );
    assert_eq!(
        outcome_codes(&a.audit),
        ["INTEGRATION_ERROR", "OK", "INTEGRATION_ERROR"]
    );
}

// ---------------------------------------------------------------- replay store bounds

#[test]
fn the_memory_replay_store_is_bounded_by_expiry() {
    let clock = ManualClock::new(T0);
    let store = MemoryReplayStore::with_clock(clock.clone());
    let window = Duration::from_secs(3600);
    pollster::block_on(async {
        for i in 0..100u8 {
            assert!(
                store
                    .claim(&[i; 32], window)
                    .await
                    .expect("claim")
                    .is_some()
            );
        }
        assert_eq!(store.len(), 100);
        // Within the window, everything is held and refused again.
        clock.advance(window - Duration::from_millis(1));
        assert!(
            store
                .claim(&[0; 32], window)
                .await
                .expect("claim")
                .is_none()
        );
        assert_eq!(store.len(), 100);
        // Once it has passed, one new claim forgets every expired entry.
        clock.advance(Duration::from_millis(1));
        assert!(
            store
                .claim(&[200; 32], window)
                .await
                .expect("claim")
                .is_some()
        );
        assert_eq!(store.len(), 1);
        // An expired fingerprint may be claimed afresh.
        assert!(
            store
                .claim(&[0; 32], window)
                .await
                .expect("claim")
                .is_some()
        );
        assert_eq!(store.len(), 2);
    });
}

#[test]
fn the_flows_replay_store_forgets_cryptograms_after_the_window() {
    let mut mp = Mp::new();
    for pin_digits in ["7580", "5336", "2360"] {
        let body = mp_request(&mp.seal(pin_digits, RsaPadding::OaepSha256), EXPIRY, None);
        mp.set_pin("70001", Some(KEY_INDEX), &body).expect("set");
    }
    assert_eq!(mp.flow.replay_store().len(), 3);
    mp.clock.advance(DEFAULT_REPLAY_WINDOW);
    let body = mp_request(&mp.seal("3011", RsaPadding::OaepSha256), EXPIRY, None);
    mp.set_pin("70001", Some(KEY_INDEX), &body).expect("set");
    assert_eq!(mp.flow.replay_store().len(), 1);
}

#[test]
fn a_stale_release_never_removes_a_newer_claim() {
    let clock = ManualClock::new(T0);
    let store = MemoryReplayStore::with_clock(clock.clone());
    let window = Duration::from_secs(60);
    let fingerprint = [7u8; 32];
    pollster::block_on(async {
        let old = store.claim(&fingerprint, window).await.expect("claim");
        let old = old.expect("first use");
        clock.advance(window);
        let new = store.claim(&fingerprint, window).await.expect("claim");
        assert!(new.is_some());
        assert_ne!(new, Some(old));
        // The first request's late release leaves the second's claim.
        store.release(&fingerprint, old).await.expect("release");
        assert!(
            store
                .claim(&fingerprint, window)
                .await
                .expect("claim")
                .is_none()
        );
    });
}

#[test]
fn fifty_threads_claiming_one_fingerprint_have_exactly_one_winner() {
    let store = MemoryReplayStore::new();
    let barrier = Barrier::new(50);
    let wins = std::thread::scope(|s| {
        let threads: Vec<_> = (0..50)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    pollster::block_on(store.claim(&[1; 32], Duration::from_secs(60)))
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("no panic").expect("claim"))
            .filter(Option::is_some)
            .count()
    });
    assert_eq!(wins, 1);
    assert_eq!(store.len(), 1);
}
