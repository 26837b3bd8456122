//! Fixtures shared by the integration tests.
#![allow(dead_code)] // each test crate uses a different subset

use chacha20::ChaCha20Rng;
use pinset_block::{Format, Pan, Pin};
use pinset_envelope::{PinKey, RsaPrivateKey, TdesKey};
use pinset_keys::{
    Clock, KeyError, KeyIndex, KeyPurpose, KeyRef, KeyStore, ManualClock, NewKey, RsaKeyRing,
    Timestamp,
};
use pinset_module::{KeyAlgorithm, PinSource, SecurityModule, SoftwareModule, TranslatePin};
use pollster::block_on;
use rand_core::SeedableRng;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 2023-11-14T22:13:20Z.
pub const T0: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

/// The published KCV test key 0123456789ABCDEFFEDCBA9876543210 (KCV
/// 08D7B4): the ZPK every test translates to.
pub const ZPK: [u8; 16] = [
    0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10,
];

/// The PAN a translation to format 0 binds to when the test names none.
pub const PAN: &str = "5141576351968605";

pub fn rsa2048() -> Result<RsaPrivateKey, pinset_envelope::Error> {
    RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa2048.pem"))
}

pub fn rsa3072() -> Result<RsaPrivateKey, pinset_envelope::Error> {
    RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa3072.pem"))
}

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn clock() -> ManualClock {
    ManualClock::new(T0)
}

pub fn idx(s: &str) -> Result<KeyIndex, pinset_keys::InvalidId> {
    KeyIndex::new(s)
}

/// `T0 + ms` milliseconds.
pub fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(T0.as_unix_millis() + ms)
}

/// A software security module seeded with `seed`, one per test.
pub fn module(seed: u8) -> SoftwareModule {
    SoftwareModule::with_rng_seed([seed; 32])
}

/// Imports `key` into `module` for `purpose`.
pub fn import_rsa(
    module: &SoftwareModule,
    purpose: KeyPurpose,
    key: &RsaPrivateKey,
) -> Result<KeyRef, KeyError> {
    let der = key.to_pkcs8_der()?;
    Ok(block_on(module.import_rsa_private(purpose, &der))?)
}

/// Imports a symmetric key given in the clear into `module`.
pub fn import_symmetric(
    module: &SoftwareModule,
    algorithm: KeyAlgorithm,
    purpose: KeyPurpose,
    material: &[u8],
) -> Result<KeyRef, KeyError> {
    Ok(block_on(
        module.import_symmetric(algorithm, purpose, material),
    )?)
}

/// The security module of a test, with a ZPK whose bytes the test knows: a
/// PIN block the module translates to ISO format 0 under it is opened in
/// the clear to check the PIN.
pub struct Hsm {
    pub module: SoftwareModule,
    pub zpk: KeyRef,
    zpk_clear: PinKey,
}

impl Hsm {
    pub fn new(seed: u8) -> Result<Self, KeyError> {
        let module = module(seed);
        let zpk = import_symmetric(
            &module,
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinEncryption,
            &ZPK,
        )?;
        let zpk_clear = PinKey::from(TdesKey::new(&ZPK)?);
        Ok(Hsm {
            module,
            zpk,
            zpk_clear,
        })
    }

    /// Imports `key` for `purpose`.
    pub fn rsa(&self, purpose: KeyPurpose, key: &RsaPrivateKey) -> Result<KeyRef, KeyError> {
        import_rsa(&self.module, purpose, key)
    }

    /// `key` imported for PIN encryption, as a new ring key under `index`.
    pub fn new_key(&self, index: &str, key: &RsaPrivateKey) -> Result<NewKey, KeyError> {
        self.new_key_for(index, key, KeyPurpose::PinEncryption)
    }

    /// `key` imported for `purpose`, as a new ring key under `index`.
    pub fn new_key_for(
        &self,
        index: &str,
        key: &RsaPrivateKey,
        purpose: KeyPurpose,
    ) -> Result<NewKey, KeyError> {
        NewKey::new(idx(index)?, self.rsa(purpose, key)?, key.public_key())
    }

    /// What `open_pin_block` on the ring did before the module: the live key
    /// under `key_index`, the device's cryptogram translated inside the
    /// module to format 0 under the ZPK, and that block opened in the clear.
    pub fn open<S: KeyStore, C: Clock>(
        &self,
        ring: &RsaKeyRing<S, C>,
        key_index: &str,
        format: Format,
        cryptogram: &[u8],
        pan: Option<&Pan>,
    ) -> Result<Pin, KeyError> {
        let live = block_on(ring.live_key(key_index))?;
        let source = live.pin_source(cryptogram, format)?;
        self.translate(source, pan)
    }

    /// Translates `source` inside the module to format 0 under the ZPK
    /// (bound to `pan`, or to [`PAN`]) and opens the result in the clear.
    pub fn translate(&self, source: PinSource<'_>, pan: Option<&Pan>) -> Result<Pin, KeyError> {
        let default_pan = Pan::new(PAN).map_err(pinset_envelope::Error::from)?;
        let pan = pan.unwrap_or(&default_pan);
        let block = block_on(self.module.translate(&TranslatePin {
            source,
            destination: &self.zpk,
            format: Format::Iso0,
            pan: Some(pan),
            policy: None,
        }))?;
        Ok(self
            .zpk_clear
            .open(Format::Iso0, block.as_bytes(), Some(pan))?)
    }
}
