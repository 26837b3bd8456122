//! The software security module: RustCrypto keys in process memory.
//!
//! For development, tests and issuers whose threat model allows keys in
//! host memory. Every key zeroizes when its last use ends; the clear PIN
//! exists only inside [`SecurityModule::translate`], in zeroizing types.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use chacha20::ChaCha20Rng;
use pinset_envelope::{EncryptedPinBlock, PinKey, RsaPadding, RsaPublicKey, TdesKey};
use rand_core::{Rng, SeedableRng, TryRng};

use crate::key::rsa_handle_parts;
use crate::{
    GenerateNaturalPin, GenerateVerificationValue, KeyAlgorithm, KeyBlockExport, KeyCheck,
    KeyPurpose, KeyRef, ModuleError, PinVerified, SecurityModule, TranslatePin, VerifyPin,
    Wrapping,
};
use pinset_verify::{VerificationMethod, VerificationValue};

mod key_block;
mod pin_data;
mod rsa;
mod store;
mod wrap;

use key_block::Mode;
use rsa::RsaEngine;
use store::Material;

const NAME: &str = "software";

/// 32 bytes from the operating system, to seed the module's generator.
fn os_seed() -> Result<[u8; 32], ModuleError> {
    let mut seed = [0u8; 32];
    getrandom::SysRng
        .try_fill_bytes(&mut seed)
        .map_err(|_| ModuleError::Rng)?;
    Ok(seed)
}

/// A [`SecurityModule`] on RustCrypto: TDES and AES from `des` and `aes`,
/// RSA from `rsa` 0.10 (constant-time arithmetic, blinding, implicit
/// rejection for PKCS#1 v1.5). The default backend. With the `aws-lc`
/// feature, `SoftwareModule::new_aws_lc` builds the same module with
/// RSA-OAEP in aws-lc.
///
/// Symmetric keys' handles are `sw-1`, `sw-2`, … in issue order. An RSA
/// key pair's handle is named by its public fingerprint and purpose
/// (`sw-rsa-<fingerprint>-<purpose code>`), so every instance that imports
/// the same key pair (from the same wrapped backup, say) issues the same
/// handle, and a key ring can be shared between instances; importing it
/// again is idempotent. One ChaCha20 generator, seeded from the operating
/// system once, supplies fill digits and keys.
///
/// ```
/// use pinset_block::{Format, Pan, Pin};
/// use pinset_envelope::{PinKey, TdesKey};
/// use pinset_module::{KeyAlgorithm, KeyPurpose, PinSource, SecurityModule, SoftwareModule, TranslatePin};
/// use rand_core::SeedableRng;
///
/// # pollster::block_on(async {
/// let module = SoftwareModule::new()?;
/// let tzpk_bytes = hex::decode("0123456789ABCDEFFEDCBA9876543210")?;
/// let zpk_bytes = hex::decode("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")?;
/// let tzpk = module.import_symmetric(KeyAlgorithm::Tdes2, KeyPurpose::PinEncryption, &tzpk_bytes).await?;
/// let zpk = module.import_symmetric(KeyAlgorithm::Tdes3, KeyPurpose::PinEncryption, &zpk_bytes).await?;
///
/// // The device enciphers format 1 under the tzpk...
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
/// let device = PinKey::from(TdesKey::new(&tzpk_bytes)?);
/// let block = device.seal(Format::Iso1, &Pin::new("7580")?, None, &mut rng)?;
///
/// // ...and the module translates it to format 0 under the ZPK: no clear PIN in the host.
/// let pan = Pan::new("5141576351968605")?;
/// let iso0 = module.translate(&TranslatePin {
///     source: PinSource::Symmetric { key: &tzpk, format: Format::Iso1, block: block.as_bytes() },
///     destination: &zpk,
///     format: Format::Iso0,
///     pan: Some(&pan),
///     policy: None,
/// }).await?;
/// let zpk_clear = PinKey::from(TdesKey::new(&zpk_bytes)?);
/// assert_eq!(zpk_clear.open(Format::Iso0, iso0.as_bytes(), Some(&pan))?.expose_digits(), b"7580");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct SoftwareModule {
    rsa: RsaEngine,
    keys: Mutex<HashMap<String, (KeyRef, Material)>>,
    // What a key block said of the keys that arrived in one.
    bindings: Mutex<HashMap<String, key_block::Binding>>,
    // The verification method bound to each PIN verification key, by key.
    methods: Mutex<HashMap<store::BindingName, VerificationMethod>>,
    next_id: AtomicU64,
    rng: Mutex<ChaCha20Rng>,
}

impl SoftwareModule {
    /// An empty module whose generator is seeded from the operating system.
    ///
    /// # Errors
    ///
    /// [`ModuleError::Rng`] if the OS random source fails.
    pub fn new() -> Result<Self, ModuleError> {
        Ok(Self::with_rng_seed(os_seed()?))
    }

    /// An empty module with a fixed generator seed: for reproducible tests only.
    pub fn with_rng_seed(seed: [u8; 32]) -> Self {
        Self::build(RsaEngine::RustCrypto, seed)
    }

    /// An empty module whose RSA-OAEP decryptions run in aws-lc (PKCS#1
    /// v1.5 stays on `rsa` 0.10 for its implicit rejection; see
    /// [`AwsLcRsaKey`](crate::AwsLcRsaKey)), seeded from the operating system. Its
    /// [`name`](SecurityModule::name) is `aws-lc`; everything else is the
    /// software module's.
    ///
    /// ```
    /// use pinset_block::{Format, Pan, Pin};
    /// use pinset_envelope::{PinKey, RsaPadding, TdesKey};
    /// use pinset_module::{KeyAlgorithm, KeyPurpose, PinSource, SecurityModule, SoftwareModule, TranslatePin};
    /// use rand_core::SeedableRng;
    ///
    /// # pollster::block_on(async {
    /// let module = SoftwareModule::new_aws_lc()?;
    /// assert_eq!(module.name(), "aws-lc");
    /// let (rsa_key, public) = module.generate_rsa(2048, KeyPurpose::PinEncryption).await?;
    /// let zpk_bytes = hex::decode("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")?;
    /// let zpk = module.import_symmetric(KeyAlgorithm::Tdes3, KeyPurpose::PinEncryption, &zpk_bytes).await?;
    ///
    /// // The device seals format 1 under the public key; aws-lc decrypts it inside the module.
    /// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
    /// let cryptogram = public.seal(Format::Iso1, &Pin::new("7580")?, None, RsaPadding::OaepSha256, &mut rng)?;
    /// let pan = Pan::new("5141576351968605")?;
    /// let iso0 = module.translate(&TranslatePin {
    ///     source: PinSource::Rsa { key: &rsa_key, padding: RsaPadding::OaepSha256, cryptogram: &cryptogram, format: Format::Iso1 },
    ///     destination: &zpk,
    ///     format: Format::Iso0,
    ///     pan: Some(&pan),
    ///     policy: None,
    /// }).await?;
    /// let zpk_clear = PinKey::from(TdesKey::new(&zpk_bytes)?);
    /// assert_eq!(zpk_clear.open(Format::Iso0, iso0.as_bytes(), Some(&pan))?.expose_digits(), b"7580");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// [`ModuleError::Rng`] if the OS random source fails.
    #[cfg(feature = "aws-lc")]
    pub fn new_aws_lc() -> Result<Self, ModuleError> {
        Ok(Self::aws_lc_with_rng_seed(os_seed()?))
    }

    /// [`new_aws_lc`](Self::new_aws_lc) with a fixed generator seed: for
    /// reproducible tests only. The seed drives fill digits and tzpks; aws-lc
    /// generates RSA keys from its own generator.
    #[cfg(feature = "aws-lc")]
    pub fn aws_lc_with_rng_seed(seed: [u8; 32]) -> Self {
        Self::build(RsaEngine::AwsLc, seed)
    }

    fn build(rsa: RsaEngine, seed: [u8; 32]) -> Self {
        SoftwareModule {
            rsa,
            keys: Mutex::new(HashMap::new()),
            bindings: Mutex::new(HashMap::new()),
            methods: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            rng: Mutex::new(ChaCha20Rng::from_seed(seed)),
        }
    }

    fn poisoned() -> ModuleError {
        ModuleError::Unavailable {
            module: NAME,
            reason: "a lock was poisoned by a panic in another thread".into(),
        }
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut ChaCha20Rng) -> T) -> Result<T, ModuleError> {
        let mut rng = self.rng.lock().map_err(|_| Self::poisoned())?;
        Ok(f(&mut rng))
    }
}

impl SecurityModule for SoftwareModule {
    fn name(&self) -> &'static str {
        self.rsa.name()
    }

    async fn import_symmetric(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        material: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        self.import_symmetric_now(algorithm, purpose, material)
    }

    async fn import_rsa_private(
        &self,
        purpose: KeyPurpose,
        der: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        let key = self.rsa.load(der)?;
        let (algorithm, check) = rsa_handle_parts(&key.public_key())?;
        self.insert(algorithm, purpose, check, Material::Rsa(key))
    }

    async fn import_wrapped(
        &self,
        wrapping: Wrapping<'_>,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        let material = match wrapping {
            Wrapping::AesKeyWrap { kek } => self.kwp(kek, wrapped, false)?,
            Wrapping::Rsa { key, padding } => {
                key.require_purpose(KeyPurpose::KeyEncryption)?;
                if algorithm.key_len().is_none() {
                    return Err(ModuleError::WrongAlgorithm {
                        algorithm,
                        what: "travel under RSA (symmetric keys only)",
                    });
                }
                // Every failure is one kind: no padding oracle.
                self.rsa_key(key)?
                    .decrypt(padding, wrapped)
                    .ok()
                    .filter(|clear| Some(clear.len()) == algorithm.key_len())
                    .ok_or(ModuleError::WrappedKeyIntegrity)?
            }
        };
        match algorithm {
            KeyAlgorithm::Rsa { .. } => {
                let key = self.rsa.load(&material)?;
                let (found, check) = rsa_handle_parts(&key.public_key())?;
                if found != algorithm {
                    // Not the key that was expected: nothing is kept.
                    return Err(ModuleError::KeyMaterial(
                        pinset_envelope::Error::RsaKeySize {
                            bits: key.public_key().bits(),
                        },
                    ));
                }
                self.insert(found, purpose, check, Material::Rsa(key))
            }
            _ if Some(material.len()) != algorithm.key_len() => {
                Err(ModuleError::WrappedKeyIntegrity)
            }
            _ => self.import_symmetric_now(algorithm, purpose, &material),
        }
    }

    async fn export_wrapped(&self, key: &KeyRef, kek: &KeyRef) -> Result<Vec<u8>, ModuleError> {
        // A key that came in a key block leaves only in one, which keeps
        // its usage, mode of use and exportability: key wrap would drop them.
        self.require_unbound(key)?;
        let material = self.material(key)?;
        let wrapped = match (&material, material.symmetric_bytes()) {
            (_, Some(bytes)) => self.kwp(kek, bytes, true)?,
            (Material::Rsa(private), None) => {
                let der = private.pkcs8().map_err(ModuleError::KeyMaterial)?;
                self.kwp(kek, &der, true)?
            }
            (_, None) => return Err(ModuleError::UnknownKey(key.id().to_owned())),
        };
        Ok(wrapped.to_vec())
    }

    async fn generate_rsa(
        &self,
        bits: usize,
        purpose: KeyPurpose,
    ) -> Result<(KeyRef, RsaPublicKey), ModuleError> {
        // Seeded outside the lock: generation takes a while.
        let mut seed = [0u8; 32];
        self.with_rng(|rng| rng.fill_bytes(&mut seed))?;
        let key = self.rsa.generate(bits, seed)?;
        let public = key.public_key();
        let (algorithm, check) = rsa_handle_parts(&public)?;
        let handle = self.insert(algorithm, purpose, check, Material::Rsa(key))?;
        Ok((handle, public))
    }

    async fn rsa_public_key(&self, key: &KeyRef) -> Result<RsaPublicKey, ModuleError> {
        Ok(self.rsa_key(key)?.public_key())
    }

    async fn generate_tzpk(
        &self,
        device_key: &RsaPublicKey,
        padding: RsaPadding,
    ) -> Result<(KeyRef, Vec<u8>), ModuleError> {
        let (key, wrapped) = self.with_rng(|rng| {
            let key = TdesKey::generate_double(rng).map_err(|_| ModuleError::Rng)?;
            let wrapped = device_key
                .wrap_key(&key, padding, rng)
                .map_err(ModuleError::KeyMaterial)?;
            Ok::<_, ModuleError>((key, wrapped))
        })??;
        let check = KeyCheck::Kcv(key.kcv());
        let handle = self.insert(
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinEncryption,
            check,
            Material::Pin(Arc::new(PinKey::from(key))),
        )?;
        Ok((handle, wrapped))
    }

    async fn translate(
        &self,
        request: &TranslatePin<'_>,
    ) -> Result<EncryptedPinBlock, ModuleError> {
        request.check_formats()?;
        // Both keys are checked before anything is deciphered.
        let destination = self.pin_key_for(request.destination, request.format, Mode::Encipher)?;
        let pin = self.open(&request.source, request.pan)?;
        if let Some(policy) = request.policy {
            policy.check(&pin)?;
        }
        self.with_rng(|rng| destination.seal(request.format, &pin, request.pan, rng))?
            .map_err(ModuleError::KeyMaterial)
    }

    async fn bind_verification_method(
        &self,
        pvk: &KeyRef,
        method: &VerificationMethod,
    ) -> Result<(), ModuleError> {
        self.bind_verification_method_now(pvk, method)
    }

    async fn generate_verification_value(
        &self,
        request: &GenerateVerificationValue<'_>,
    ) -> Result<VerificationValue, ModuleError> {
        self.generate_verification_value_now(request)
    }

    async fn verify_pin(&self, request: &VerifyPin<'_>) -> Result<PinVerified, ModuleError> {
        self.verify_pin_now(request)
    }

    async fn generate_natural_pin(
        &self,
        request: &GenerateNaturalPin<'_>,
    ) -> Result<EncryptedPinBlock, ModuleError> {
        self.generate_natural_pin_now(request)
    }

    async fn import_key_block(
        &self,
        kbpk: &KeyRef,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        block: &str,
    ) -> Result<KeyRef, ModuleError> {
        self.import_key_block_now(kbpk, algorithm, purpose, block)
    }

    async fn export_key_block(
        &self,
        key: &KeyRef,
        kbpk: &KeyRef,
        export: &KeyBlockExport,
    ) -> Result<String, ModuleError> {
        self.export_key_block_now(key, kbpk, export)
    }

    async fn destroy(&self, key: &KeyRef) -> Result<(), ModuleError> {
        let mut keys = self.keys.lock().map_err(|_| Self::poisoned())?;
        match keys.get(key.id()) {
            Some((stored, _)) if stored == key => {
                keys.remove(key.id());
                self.bindings
                    .lock()
                    .map_err(|_| Self::poisoned())?
                    .remove(key.id());
                Ok(())
            }
            _ => Err(ModuleError::UnknownKey(key.id().to_owned())),
        }
    }
}

impl core::fmt::Debug for SoftwareModule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let keys = self.keys.lock().map(|k| k.len()).unwrap_or_default();
        f.debug_struct("SoftwareModule")
            .field("keys", &keys)
            .field("rsa", &self.rsa)
            .finish_non_exhaustive()
    }
}
