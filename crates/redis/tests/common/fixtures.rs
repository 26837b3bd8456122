//! Issuers, CMS and device helpers for the flow tests, copied (and moved
//! to the async API) from `crates/flow/tests/common/mod.rs`.
//!
//! Vector sources:
//! - Mastercard Processing sandbox (key index, ZPK and its KCV, cards 70001
//!   and 70002 with PIN and PAN): `shared/vectors/iso9564.json`,
//!   `mastercard_sandbox`.
//! - Enfuce seed example block `141234AAAAAAAAAA` (PIN 1234, ISO format 1):
//!   `shared/seeds/enfuce-set-pin-v3.md`, "Example flow", step 1.
//! - RSA keys: `crates/envelope/tests/data/rsa2048.pem` and `rsa3072.pem`
//!   (OpenSSL-made fixtures, see that directory's README).
//!
//! Plastic data (expiry `2812`, sequence 1, `Locked`) and the tzpk KEK are
//! this suite's own choices.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pinset_block::{ClearBlock, Format, Pan, Pin, iso0};
use pinset_cms::{
    CardContractId, CardManagement, CardPlastic, CmsError, CmsSnapshot, ContractState, MemoryCms,
    PlasticStatus, StorePin, StorePinOutcome, StoredPin,
};
use pinset_envelope::{PinKey, RsaPrivateKey, TdesKey};
use pinset_flow::{FlowError, Issuer, Reason};
use pinset_keys::{KeyIndex, KeyPurpose, KeyRef, NewKey, ZoneKeys, ZpkIndex};
use pinset_module::{KeyAlgorithm, SecurityModule, SoftwareModule};

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

/// `cards` (the first two).
pub const CARDS: [Card; 2] = [
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
];

// ---- This suite's own choices ----

pub const EXPIRY: &str = "2812";
pub const SEQ: &str = "1";
/// Zone key index the CMS expects its blocks under (holds the sandbox ZPK).
pub const CMS_ZPK: &str = "ZPK-CMS";
/// The AES-256 key-encryption key every instance imports to share tzpks.
pub const TZPK_KEK: [u8; 32] = [
    0x3C, 0x71, 0x0A, 0xE2, 0x5B, 0x94, 0x1F, 0xC8, 0x66, 0x2D, 0xB3, 0x40, 0x9E, 0x57, 0x81, 0x0F,
    0xD4, 0x28, 0x6B, 0xA9, 0x13, 0xF5, 0x7C, 0x32, 0xE0, 0x4A, 0x9D, 0x56, 0xBB, 0x07, 0xC1, 0x68,
];

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

pub fn contract(id: &str) -> CardContractId {
    id.parse().expect("contract id")
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

/// One CMS that every instance of a test calls: a [`MemoryCms`] behind an
/// `Arc`, as instances behind a load balancer share one CMS.
#[derive(Clone, Default)]
pub struct SharedCms(pub Arc<MemoryCms>);

impl SharedCms {
    pub fn snapshot(&self) -> CmsSnapshot {
        self.0.snapshot()
    }
}

impl CardManagement for SharedCms {
    async fn pan(&self, contract: CardContractId) -> Result<Pan, CmsError> {
        self.0.pan(contract).await
    }

    async fn contract_state(&self, contract: CardContractId) -> Result<ContractState, CmsError> {
        self.0.contract_state(contract).await
    }

    async fn plastics(&self, contract: CardContractId) -> Result<Vec<CardPlastic>, CmsError> {
        self.0.plastics(contract).await
    }

    async fn store_pin(&self, request: StorePin) -> Result<StorePinOutcome, CmsError> {
        self.0.store_pin(request).await
    }
}

/// A CMS holding the sandbox contracts, each open with plastic 1 (expiry
/// 2812, `Locked`).
pub fn sandbox_cms() -> SharedCms {
    let cms = MemoryCms::new();
    for card in CARDS {
        let id = contract(card.contract);
        cms.add_contract(id, pan(card.pan), ContractState::OPEN);
        assert!(cms.add_plastic(
            id,
            SEQ.parse().expect("sequence"),
            EXPIRY.parse().expect("expiry"),
            PlasticStatus::Locked
        ));
    }
    SharedCms(Arc::new(cms))
}

/// An issuer on `cms` with its own software module (seeded with `seed`, so
/// two instances draw different tzpks), into which the CMS ZPK is imported.
pub async fn issuer(cms: SharedCms, seed: u8) -> Issuer<SharedCms> {
    let module = SoftwareModule::with_rng_seed([seed; 32]);
    let zone = ZoneKeys::new();
    let handle = module
        .import_symmetric(
            KeyAlgorithm::Tdes3,
            KeyPurpose::PinEncryption,
            &hex::decode(ZPK_HEX).expect("hex"),
        )
        .await
        .expect("import CMS ZPK");
    let kcv = zone
        .insert(ZpkIndex::new(CMS_ZPK).expect("index"), handle)
        .expect("insert CMS ZPK");
    assert_eq!(kcv.to_string(), ZPK_KCV, "sandbox ZPK KCV");
    Issuer::with_rng_seed(
        cms,
        module,
        zone,
        ZpkIndex::new(CMS_ZPK).expect("index"),
        [seed; 32],
    )
}

/// The shared tzpk KEK imported into `module` as a key-encryption key.
pub async fn tzpk_kek<M: SecurityModule>(module: &M) -> KeyRef {
    module
        .import_symmetric(KeyAlgorithm::Aes256, KeyPurpose::KeyEncryption, &TZPK_KEK)
        .await
        .expect("import the tzpk KEK")
}

/// `key` imported into `module` as an RSA PIN-encryption key named `index`.
pub async fn ring_key<M: SecurityModule>(module: &M, index: &str, key: &RsaPrivateKey) -> NewKey {
    let der = key.to_pkcs8_der().expect("PKCS#8 DER");
    let handle = module
        .import_rsa_private(KeyPurpose::PinEncryption, &der)
        .await
        .expect("import the RSA key");
    NewKey::from_module(module, KeyIndex::new(index).expect("index"), handle)
        .await
        .expect("ring key")
}

/// Device side: the clear block (hex) TDES-ECB under the tzpk, base64, as in the seed.
pub fn encrypt_block(tzpk: &TdesKey, clear_hex: &str) -> String {
    let bytes: [u8; 8] = hex::decode(clear_hex)
        .expect("hex")
        .try_into()
        .expect("8 bytes");
    BASE64.encode(tdes_ecb(tzpk, bytes, true))
}

/// Raw TDES-ECB of one block, straight from the `des` crate.
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

/// Checks that the CMS holds, for that plastic, an 8-byte block under the
/// CMS ZPK (KCV F3BF3A) that deciphers to exactly ISO format 0 of `pin`
/// bound to `pan`.
pub fn assert_stored_pin(
    snapshot: &CmsSnapshot,
    contract_id: &str,
    pin_digits: &str,
    pan_digits: &str,
) {
    let record = snapshot.contracts[&contract(contract_id)]
        .plastics
        .iter()
        .find(|p| p.plastic.sequence == SEQ.parse().expect("sequence"))
        .cloned()
        .expect("plastic in snapshot");
    let StoredPin {
        pin_block,
        zpk_index,
        zpk_kcv,
        ..
    } = record.pin.expect("a PIN was stored");
    assert_eq!(zpk_index, CMS_ZPK);
    assert_eq!(zpk_kcv.to_string(), ZPK_KCV);
    let bytes: [u8; 8] = pin_block.as_bytes().try_into().expect("8-byte block");
    let clear = ClearBlock::from_bytes(tdes_ecb(&zpk(), bytes, false));
    assert_eq!(clear.control_format(), Some(Format::Iso0));
    assert!(
        clear == iso0::encode(&pin(pin_digits), &pan(pan_digits)),
        "stored block is not ISO 0 of PIN and PAN"
    );
    let opened = PinKey::Tdes(zpk())
        .open(Format::Iso0, &bytes, Some(&pan(pan_digits)))
        .expect("opens as ISO 0");
    assert_eq!(opened.expose_digits(), pin_digits.as_bytes());
}

/// Checks the reason, its HTTP status and recoverability.
pub fn assert_reason(e: &FlowError, reason: Reason, status: u16, recoverable: bool) {
    assert_eq!(e.reason(), reason, "reason ({e:?})");
    assert_eq!(e.http_status(), status, "status ({e:?})");
    assert_eq!(e.reason().recoverable(), recoverable, "recoverable ({e:?})");
}

/// Unwraps an error, failing the test on success.
pub fn refused<T: std::fmt::Debug>(result: Result<T, FlowError>) -> FlowError {
    match result {
        Ok(v) => panic!("expected a refusal, got {v:?}"),
        Err(e) => e,
    }
}
