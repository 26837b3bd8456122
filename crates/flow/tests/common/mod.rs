//! Fixtures shared by the flow integration tests.
//!
//! Vector sources:
//! - Mastercard Processing sandbox (key index, ZPK and its KCV, cards 70001
//!   to 70005 with PIN and PAN): `shared/vectors/iso9564.json`,
//!   `mastercard_sandbox`.
//! - Enfuce seed example block `141234AAAAAAAAAA` (PIN 1234, ISO format 1):
//!   `shared/seeds/enfuce-set-pin-v3.md`, "Example flow", step 1.
//! - RSA keys: `crates/envelope/tests/data/rsa2048.pem` and `rsa3072.pem`
//!   (OpenSSL-made fixtures, see that directory's README).
//! - The full-PAN shared ZPK: `crates/envelope/tests/data/README.md`,
//!   `tdes_key.bin` (`5AFE406A9BEF03F979DC56FB8DA06BDF`, KCV `4A997A`).
//!
//! Plastic data (expiry `2812`, sequence 1, `Locked`) is this suite's own
//! choice: the sandbox data names contracts, PINs and PANs only.
//!
//! Every issuer key lives in a security module (a seeded `SoftwareModule`
//! unless a test brings its own): the fixtures import the zone keys and the
//! RSA key into it and hold handles only. The tests keep the clear key
//! bytes of their own vectors, to play the device and to read what the CMS
//! stored.
#![allow(dead_code)] // each test crate uses a different subset

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20::ChaCha20Rng;
use pinset_block::{ClearBlock, Format, Pan, Pin, iso0};
use pinset_cms::{
    CardContractId, CardManagement, CmsSnapshot, ContractState, MemoryCms, PlasticRecord,
    PlasticSequence, PlasticStatus, StoredPin,
};
use pinset_envelope::rsa::{self, WrappableKey};
use pinset_envelope::{PinKey, RsaPadding, RsaPrivateKey, RsaPublicKey, TdesKey};
use pinset_flow::enfuce::{
    ControlOperation, SetPinRequest as EnfuceRequest, TzpkRequest, TzpkResponse,
};
use pinset_flow::mastercard::{PublicKeysResponse, SetPinOutcome, SetPinRequest};
use pinset_flow::{
    Detail, EnfuceSetPin, FlowError, Issuer, MastercardPanless, MemoryAudit, MemoryReplayStore,
    PinPolicy, Reason,
};
use pinset_keys::{
    ControlId, KeyIndex, KeyPurpose, ManualClock, MemoryControlStore, MemoryKeyStore, NewKey,
    PublicKeyForm, RsaKeyRing, Timestamp, ZoneKeys, ZpkIndex,
};
use pinset_module::{ErrorClass, KeyAlgorithm, SecurityModule, SoftwareModule};
use rand_core::SeedableRng;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 2023-11-14T22:13:20Z: where every manual clock starts.
pub const T0: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

// ---- Mastercard Processing sandbox: shared/vectors/iso9564.json, "mastercard_sandbox" ----

/// `key_index`.
pub const KEY_INDEX: &str = "A1564386531162";
/// `zpk`: the CMS's zone PIN key in these tests.
pub const ZPK_HEX: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
/// `zpk_kcv`.
pub const ZPK_KCV: &str = "F3BF3A";

/// One sandbox card.
#[derive(Clone, Copy, Debug)]
pub struct Card {
    pub contract: &'static str,
    pub pin: &'static str,
    pub pan: &'static str,
}

/// `cards`: contract id, PIN and PAN of each sandbox card.
pub const CARDS: [Card; 5] = [
    Card {
        contract: "70001",
        pin: "7580",
        pan: "5141576351968605",
    },
    Card {
        contract: "70002",
        pin: "5336",
        pan: "5185410084016382",
    },
    Card {
        contract: "70003",
        pin: "2360",
        pan: "5115795782050849",
    },
    Card {
        contract: "70004",
        pin: "3011",
        pan: "5128839686355014",
    },
    Card {
        contract: "70005",
        pin: "4041",
        pan: "5121876475234064",
    },
];

// ---- This suite's own choices ----

/// Every sandbox contract gets one plastic: sequence 1, this expiry, `Locked`.
pub const EXPIRY: &str = "2812";
pub const SEQ: &str = "1";
/// Zone key index the CMS expects its blocks under (holds the sandbox ZPK).
pub const CMS_ZPK: &str = "ZPK-CMS";
/// Zone key index of the full-PAN shared ZPK.
pub const SHARED_ZPK: &str = "ZPK-SHARED";
/// crates/envelope/tests/data/README.md, `tdes_key.bin` (OpenSSL `rand`), KCV 4A997A.
pub const SHARED_ZPK_HEX: &str = "5AFE406A9BEF03F979DC56FB8DA06BDF";

// ---- Enfuce seed: shared/seeds/enfuce-set-pin-v3.md, "Example flow" ----

/// "PIN 1234 in ISO format 1 (xxYYYYxxxxxxxxxx)".
pub const ENFUCE_SEED_BLOCK: &str = "141234AAAAAAAAAA";
pub const ENFUCE_SEED_PIN: &str = "1234";
/// The seed's `auditUser`.
pub const ENFUCE_AUDIT_USER: &str = "test";

// ---- RSA fixtures ----

pub const RSA2048_PEM: &str = include_str!("../../../envelope/tests/data/rsa2048.pem");
pub const RSA3072_PEM: &str = include_str!("../../../envelope/tests/data/rsa3072.pem");

pub fn rsa2048() -> RsaPrivateKey {
    RsaPrivateKey::from_pem(RSA2048_PEM).expect("rsa2048.pem parses")
}

pub fn rsa3072() -> RsaPrivateKey {
    RsaPrivateKey::from_pem(RSA3072_PEM).expect("rsa3072.pem parses")
}

// ---- Small helpers ----

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn contract(id: &str) -> CardContractId {
    id.parse().expect("contract id")
}

pub fn seq(s: &str) -> PlasticSequence {
    s.parse().expect("sequence")
}

pub fn pan(digits: &str) -> Pan {
    Pan::new(digits).expect("PAN")
}

pub fn pin(digits: &str) -> Pin {
    Pin::new(digits).expect("PIN")
}

/// The sandbox ZPK (the CMS's key in these tests).
pub fn zpk() -> TdesKey {
    TdesKey::new(&hex::decode(ZPK_HEX).expect("hex")).expect("ZPK")
}

pub fn shared_zpk() -> TdesKey {
    TdesKey::new(&hex::decode(SHARED_ZPK_HEX).expect("hex")).expect("shared ZPK")
}

/// A CMS holding the five sandbox contracts, each open with plastic 1
/// (expiry 2812, `Locked`).
pub fn sandbox_cms() -> MemoryCms {
    let cms = MemoryCms::new();
    for card in CARDS {
        let id = contract(card.contract);
        cms.add_contract(id, pan(card.pan), ContractState::OPEN);
        assert!(cms.add_plastic(
            id,
            seq(SEQ),
            EXPIRY.parse().expect("expiry"),
            PlasticStatus::Locked
        ));
    }
    cms
}

/// The software module of every fixture, with a fixed seed so runs repeat.
pub fn software_module() -> SoftwareModule {
    SoftwareModule::with_rng_seed([0x42; 32])
}

/// Imports the CMS ZPK (sandbox, 3-key TDES) and the full-PAN shared ZPK
/// (2-key TDES) into `module` and files their handles.
pub fn zone_keys<M: SecurityModule>(module: &M) -> ZoneKeys {
    pollster::block_on(async {
        let zone = ZoneKeys::new();
        let cms_zpk = module
            .import_symmetric(
                KeyAlgorithm::Tdes3,
                KeyPurpose::PinEncryption,
                &hex::decode(ZPK_HEX).expect("hex"),
            )
            .await
            .expect("import CMS ZPK");
        let kcv = zone
            .insert(ZpkIndex::new(CMS_ZPK).expect("index"), cms_zpk)
            .expect("insert CMS ZPK");
        assert_eq!(kcv.to_string(), ZPK_KCV, "sandbox ZPK KCV");
        let shared = module
            .import_symmetric(
                KeyAlgorithm::Tdes2,
                KeyPurpose::PinEncryption,
                &hex::decode(SHARED_ZPK_HEX).expect("hex"),
            )
            .await
            .expect("import shared ZPK");
        zone.insert(ZpkIndex::new(SHARED_ZPK).expect("index"), shared)
            .expect("insert shared ZPK");
        zone
    })
}

/// Imports `key` into `module` as an RSA PIN-encryption key and names it
/// `index` for a ring.
pub fn ring_key<M: SecurityModule>(module: &M, index: &str, key: &RsaPrivateKey) -> NewKey {
    pollster::block_on(async {
        let der = key.to_pkcs8_der().expect("PKCS#8 DER");
        let handle = module
            .import_rsa_private(KeyPurpose::PinEncryption, &der)
            .await
            .expect("import the RSA key");
        NewKey::from_module(module, KeyIndex::new(index).expect("index"), handle)
            .await
            .expect("ring key")
    })
}

/// An issuer on the sandbox CMS and a fresh seeded software module, with a
/// seeded RNG, `audit` and `clock`.
pub fn issuer<C: CardManagement>(
    cms: C,
    policy: PinPolicy,
    audit: &Arc<MemoryAudit>,
    clock: &ManualClock,
) -> Issuer<C> {
    issuer_on(cms, software_module(), policy, audit, clock)
}

/// [`issuer`] on `module`, into which the zone keys are imported.
pub fn issuer_on<C: CardManagement, M: SecurityModule>(
    cms: C,
    module: M,
    policy: PinPolicy,
    audit: &Arc<MemoryAudit>,
    clock: &ManualClock,
) -> Issuer<C, M> {
    issuer_seeded(cms, module, [0x42; 32], policy, audit, clock)
}

/// [`issuer_on`] with its own RNG seed: instances that share stores must
/// not draw the same controlIds.
pub fn issuer_seeded<C: CardManagement, M: SecurityModule>(
    cms: C,
    module: M,
    seed: [u8; 32],
    policy: PinPolicy,
    audit: &Arc<MemoryAudit>,
    clock: &ManualClock,
) -> Issuer<C, M> {
    let zone = zone_keys(&module);
    Issuer::with_rng_seed(
        cms,
        module,
        zone,
        ZpkIndex::new(CMS_ZPK).expect("index"),
        seed,
    )
    .with_policy(policy)
    .with_audit(Arc::clone(audit))
    .with_clock(clock.clone())
}

/// Encrypts raw bytes under an RSA public key: any payload, not only a
/// well-formed PIN block (the envelope's `wrap_key` takes any key bytes).
pub struct Raw<'a>(pub &'a [u8]);

impl WrappableKey for Raw<'_> {
    fn key_bytes(&self) -> &[u8] {
        self.0
    }
}

// ---- Outcome checks ----

/// Unwraps an error, failing the test on success.
pub fn refused<T: std::fmt::Debug>(result: Result<T, FlowError>) -> FlowError {
    match result {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => e,
    }
}

/// Checks the reason, its HTTP status and recoverability.
pub fn assert_reason(e: &FlowError, reason: Reason, status: u16, recoverable: bool) {
    assert_eq!(e.reason(), reason, "reason ({e:?})");
    assert_eq!(e.http_status(), status, "status ({e:?})");
    assert_eq!(e.reason().http_status(), status);
    assert_eq!(e.reason().recoverable(), recoverable, "recoverable ({e:?})");
}

/// The class of the security module's answer behind `e`, if the module refused.
pub fn module_class(e: &FlowError) -> Option<ErrorClass> {
    match e.detail() {
        Detail::Module(m) => Some(m.class()),
        _ => None,
    }
}

/// The MP error body as JSON, as a service would send it.
pub fn mp_body(e: &FlowError) -> String {
    pinset_flow::wire::MastercardErrorBody::new(e).to_json()
}

pub fn plastic_record(snapshot: &CmsSnapshot, contract_id: &str, seq_no: &str) -> PlasticRecord {
    snapshot.contracts[&contract(contract_id)]
        .plastics
        .iter()
        .find(|p| p.plastic.sequence == seq(seq_no))
        .cloned()
        .expect("plastic in snapshot")
}

/// Checks that the CMS holds, for that plastic, an 8-byte block under the
/// CMS ZPK (KCV F3BF3A) that deciphers to exactly ISO format 0 of `pin`
/// bound to `pan`.
pub fn assert_stored_pin(
    snapshot: &CmsSnapshot,
    contract_id: &str,
    seq_no: &str,
    pin_digits: &str,
    pan_digits: &str,
) {
    let record = plastic_record(snapshot, contract_id, seq_no);
    let StoredPin {
        pin_block,
        zpk_index,
        zpk_kcv,
        ..
    } = record.pin.expect("a PIN was stored");
    assert_eq!(zpk_index, CMS_ZPK);
    assert_eq!(zpk_kcv.to_string(), ZPK_KCV);
    let bytes: [u8; 8] = pin_block.as_bytes().try_into().expect("8-byte block");
    // The clear block is exactly ISO format 0 of the PIN and PAN (format 0 is deterministic).
    let clear = ClearBlock::from_bytes(tdes_ecb(&zpk(), bytes, false));
    assert_eq!(clear.control_format(), Some(Format::Iso0));
    let expected = iso0::encode(&pin(pin_digits), &pan(pan_digits));
    assert!(
        clear == expected,
        "stored block is not ISO 0 of PIN and PAN"
    );
    // And the envelope's own decoder agrees.
    let opened = PinKey::Tdes(zpk())
        .open(Format::Iso0, &bytes, Some(&pan(pan_digits)))
        .expect("opens as ISO 0");
    assert_eq!(opened.expose_digits(), pin_digits.as_bytes());
}

// ---- Mastercard Processing ----

pub type MpFlow<M = SoftwareModule> =
    MastercardPanless<MemoryCms, MemoryKeyStore, ManualClock, M, MemoryReplayStore<ManualClock>>;

/// How to build an [`Mp`].
pub struct MpConfig {
    pub padding: RsaPadding,
    pub policy: PinPolicy,
    pub form: PublicKeyForm,
    pub shared_zpk: bool,
    pub cms: Option<MemoryCms>,
}

impl Default for MpConfig {
    fn default() -> Self {
        MpConfig {
            padding: RsaPadding::OaepSha256,
            policy: PinPolicy::default(),
            form: PublicKeyForm::DerHex,
            shared_zpk: false,
            cms: None,
        }
    }
}

/// The Mastercard Processing flow over the sandbox CMS, with its audit
/// log, its manual clock (shared by the ring, the replay window and the
/// audit) and a device.
pub struct Mp<M: SecurityModule = SoftwareModule> {
    pub flow: MpFlow<M>,
    pub audit: Arc<MemoryAudit>,
    pub clock: ManualClock,
    pub device: ChaCha20Rng,
}

impl MpConfig {
    /// On a fresh seeded software module.
    pub fn build(self) -> Mp {
        self.build_on(software_module())
    }

    /// On `module`: the zone keys and rsa2048.pem (the sandbox key index)
    /// are imported into it.
    pub fn build_on<M: SecurityModule>(self, module: M) -> Mp<M> {
        let clock = ManualClock::new(T0);
        let audit = Arc::new(MemoryAudit::new());
        let issuer = issuer_on(
            self.cms.unwrap_or_else(sandbox_cms),
            module,
            self.policy,
            &audit,
            &clock,
        );
        let ring = RsaKeyRing::with_clock(clock.clone());
        pollster::block_on(ring.rotate(
            ring_key(issuer.module(), KEY_INDEX, &rsa2048()).with_padding(self.padding),
            Duration::from_secs(600),
        ))
        .expect("install the sandbox key index");
        let mut flow = MastercardPanless::new(issuer, ring)
            .with_public_key_form(self.form)
            .with_replay_clock(clock.clone());
        if self.shared_zpk {
            flow = flow.with_shared_zpk(ZpkIndex::new(SHARED_ZPK).expect("index"));
        }
        Mp {
            flow,
            audit,
            clock,
            device: rng(7),
        }
    }
}

impl Mp {
    pub fn new() -> Self {
        MpConfig::default().build()
    }
}

impl<M: SecurityModule> Mp<M> {
    /// The issuer's security module.
    pub fn module(&self) -> &M {
        self.flow.issuer().module()
    }

    /// `key` imported into the issuer's module, as ring key `index`.
    pub fn new_key(&self, index: &str, key: &RsaPrivateKey) -> NewKey {
        ring_key(self.module(), index, key)
    }

    pub fn cms(&self) -> &MemoryCms {
        self.flow.issuer().cms()
    }

    pub fn snapshot(&self) -> CmsSnapshot {
        self.cms().snapshot()
    }

    /// `GET /public-keys?data_type_to_secure=PIN_BLOCK`.
    pub fn public_key(&self) -> PublicKeysResponse {
        pollster::block_on(self.flow.public_keys("PIN_BLOCK")).expect("public key")
    }

    /// The published key, read as the device reads it (DER hex or PEM body).
    pub fn device_key(&self) -> RsaPublicKey {
        let published = self.public_key();
        RsaPublicKey::from_hex(&published.public_rsa_key)
            .or_else(|_| RsaPublicKey::from_base64(&published.public_rsa_key))
            .expect("published key parses")
    }

    /// Device side: ISO format 1 of `pin` sealed under the published key, uppercase hex.
    pub fn seal(&mut self, pin_digits: &str, padding: RsaPadding) -> String {
        self.seal_format(Format::Iso1, pin_digits, None, padding)
    }

    /// Device side: a clear block of `format` sealed under the published key.
    pub fn seal_format(
        &mut self,
        format: Format,
        pin_digits: &str,
        pan: Option<&Pan>,
        padding: RsaPadding,
    ) -> String {
        let key = self.device_key();
        let cryptogram = key
            .seal(format, &pin(pin_digits), pan, padding, &mut self.device)
            .expect("seal");
        hex::encode_upper(cryptogram)
    }

    /// Device side: any bytes encrypted under the published key.
    pub fn seal_raw(&mut self, payload: &[u8], padding: RsaPadding) -> String {
        let key = self.device_key();
        let cryptogram = key
            .wrap_key(&Raw(payload), padding, &mut self.device)
            .expect("encrypt");
        hex::encode_upper(cryptogram)
    }

    /// Full-PAN device side: ISO format 0 of `pin` and `pan` under the shared ZPK, hex.
    pub fn iso0_under_shared(&mut self, pin_digits: &str, pan_digits: &str) -> String {
        let block = PinKey::Tdes(shared_zpk())
            .seal(
                Format::Iso0,
                &pin(pin_digits),
                Some(&pan(pan_digits)),
                &mut self.device,
            )
            .expect("seal ISO 0");
        hex::encode_upper(block.as_bytes())
    }

    /// `PUT /cards/{contract}/pin`, run to completion.
    pub fn set_pin(
        &self,
        contract_id: &str,
        key_index: Option<&str>,
        body: &SetPinRequest,
    ) -> Result<SetPinOutcome, FlowError> {
        pollster::block_on(self.flow.set_pin(contract_id, key_index, body))
    }

    /// Runs a request that must be refused, checks its reason, and checks
    /// that the CMS did not change and exactly one audit event was written
    /// with the reason code as outcome. Returns the error.
    pub fn refuse(
        &self,
        contract_id: &str,
        key_index: Option<&str>,
        body: &SetPinRequest,
        reason: Reason,
        status: u16,
        recoverable: bool,
    ) -> FlowError {
        let before = self.snapshot();
        let events = self.audit.events().len();
        let e = refused(self.set_pin(contract_id, key_index, body));
        assert_reason(&e, reason, status, recoverable);
        assert_eq!(self.snapshot(), before, "a refused set PIN changed the CMS");
        let after = self.audit.events();
        assert_eq!(after.len(), events + 1, "one audit event per attempt");
        assert_eq!(after[events].outcome, reason.code());
        e
    }
}

/// An MP request body.
pub fn mp_request(block: &str, expiry: &str, sequence: Option<&str>) -> SetPinRequest {
    SetPinRequest {
        new_pin_block: block.to_owned(),
        card_expiry_date: expiry.to_owned(),
        card_sequence_number: sequence.map(str::to_owned),
    }
}

// ---- Enfuce ----

pub type EnfuceFlow<M = SoftwareModule> =
    EnfuceSetPin<MemoryCms, MemoryControlStore<ManualClock>, M>;

/// The Enfuce flow over the sandbox CMS, with its audit log, its manual
/// clock (controls, tzpks and audit) and the device's RSA key (rsa3072.pem).
pub struct Enfuce<M: SecurityModule = SoftwareModule> {
    pub flow: EnfuceFlow<M>,
    pub audit: Arc<MemoryAudit>,
    pub clock: ManualClock,
    pub device_key: RsaPrivateKey,
}

impl Enfuce {
    pub fn new() -> Self {
        Self::with(sandbox_cms(), PinPolicy::default())
    }

    pub fn with(cms: MemoryCms, policy: PinPolicy) -> Self {
        Self::with_module(cms, policy, software_module())
    }
}

impl<M: SecurityModule> Enfuce<M> {
    /// On `module`, into which the zone keys are imported.
    pub fn with_module(cms: MemoryCms, policy: PinPolicy, module: M) -> Self {
        let clock = ManualClock::new(T0);
        let audit = Arc::new(MemoryAudit::new());
        let issuer = issuer_on(cms, module, policy, &audit, &clock);
        Enfuce {
            flow: EnfuceSetPin::new(issuer, clock.clone()),
            audit,
            clock,
            device_key: rsa3072(),
        }
    }

    /// The issuer's security module.
    pub fn module(&self) -> &M {
        self.flow.issuer().module()
    }

    pub fn cms(&self) -> &MemoryCms {
        self.flow.issuer().cms()
    }

    pub fn snapshot(&self) -> CmsSnapshot {
        self.cms().snapshot()
    }

    /// A controlId for a contract's plastic.
    pub fn control(&self, contract_id: &str, seq_no: &str) -> ControlId {
        pollster::block_on(self.flow.issue_control(
            contract(contract_id),
            seq(seq_no),
            ControlOperation::SetPin,
        ))
        .expect("issue control")
    }

    /// `POST /pin/v3/set/tzpk` with the device's key, run to completion.
    pub fn get_tzpk(&self, control_id: &str, public_key: &str) -> Result<TzpkResponse, FlowError> {
        pollster::block_on(self.flow.get_tzpk(&TzpkRequest {
            control_id: control_id.to_owned(),
            public_key: public_key.to_owned(),
        }))
    }

    /// `POST /pin/v3/set/tzpk` with the device's key; the device unwraps the answer.
    pub fn tzpk(&self, control: &ControlId) -> Result<TdesKey, FlowError> {
        let response =
            self.get_tzpk(control.as_str(), &self.device_key.public_key().to_base64())?;
        let wrapped = BASE64.decode(&response.tzpk).expect("tzpk is base64");
        Ok(
            rsa::unwrap_tdes_key(&self.device_key, RsaPadding::OaepSha256, &wrapped)
                .expect("device unwraps the tzpk"),
        )
    }

    /// `POST /pin/v3/set?auditUser=…`.
    pub fn set_pin(
        &self,
        control: &str,
        pin_block: &str,
        audit_user: &str,
    ) -> Result<pinset_flow::enfuce::SetPinResponse, FlowError> {
        pollster::block_on(self.flow.set_pin(
            &EnfuceRequest {
                control_id: control.to_owned(),
                pin_block: pin_block.to_owned(),
            },
            audit_user,
        ))
    }
}

/// Device side: the clear block (hex) TDES-ECB under the tzpk, base64, as in the seed.
pub fn encrypt_block(tzpk: &TdesKey, clear_hex: &str) -> String {
    let bytes: [u8; 8] = hex::decode(clear_hex)
        .expect("hex")
        .try_into()
        .expect("8 bytes");
    BASE64.encode(tdes_ecb(tzpk, bytes, true))
}

/// Raw TDES-ECB of one block, straight from the `des` crate: the tests
/// build and read blocks (bad fill, wrong format) that pinset's PIN keys
/// refuse to encipher.
pub fn tdes_ecb(key: &TdesKey, mut block: [u8; 8], encrypt: bool) -> [u8; 8] {
    use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
    let bytes = key.expose_bytes();
    let buf = (&mut block).into();
    match (bytes.len(), encrypt) {
        (16, true) => des::TdesEde2::new_from_slice(bytes)
            .expect("2-key")
            .encrypt_block(buf),
        (16, false) => des::TdesEde2::new_from_slice(bytes)
            .expect("2-key")
            .decrypt_block(buf),
        (_, true) => des::TdesEde3::new_from_slice(bytes)
            .expect("3-key")
            .encrypt_block(buf),
        (_, false) => des::TdesEde3::new_from_slice(bytes)
            .expect("3-key")
            .decrypt_block(buf),
    }
    block
}

/// Whether `s` looks like a lowercase or uppercase 8-4-4-4-12 UUID.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}
