//! The software security module: RustCrypto keys in process memory.
//!
//! For development, tests and issuers whose threat model allows keys in
//! host memory. Every key zeroizes when its last use ends; the clear PIN
//! exists only inside [`SecurityModule::translate`], in zeroizing types.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aes_kw::{KeyInit, KwpAes128, KwpAes192, KwpAes256};
use chacha20::ChaCha20Rng;
use pinset_block::{Format, Pan, Pin};
use pinset_envelope::rsa::{self, RsaDecryptor, RsaPrivateKey};
use pinset_envelope::{AesKey, EncryptedPinBlock, PinKey, RsaPadding, RsaPublicKey, TdesKey};
use pinset_verify::PinVerificationKey;
use rand_core::{Rng, SeedableRng, TryRng};
use zeroize::Zeroizing;

#[cfg(feature = "aws-lc")]
use crate::AwsLcRsaKey;
use crate::key::rsa_handle_parts;
use crate::{
    GenerateNaturalPin, GenerateVerificationValue, KeyAlgorithm, KeyBlockExport, KeyCheck,
    KeyPurpose, KeyRef, ModuleError, PinSource, PinVerified, SecurityModule, TranslatePin,
    VerifyPin, Wrapping,
};
use pinset_verify::{VerificationMethod, VerificationValue};

mod key_block;
mod pin_data;

use key_block::Mode;

const NAME: &str = "software";

/// Key material as the software module keeps it.
#[derive(Clone)]
enum Material {
    Pin(Arc<PinKey>),
    /// A PIN verification key: the key, and its TDES schedule built once.
    Verification(Arc<PinKey>, Arc<PinVerificationKey>),
    Rsa(Arc<dyn SoftRsa>),
}

impl Material {
    /// The symmetric key, whatever it is for.
    fn as_pin_key(&self) -> Option<&Arc<PinKey>> {
        match self {
            Material::Pin(key) | Material::Verification(key, _) => Some(key),
            Material::Rsa(_) => None,
        }
    }

    /// A symmetric key's bytes, to wrap it for export.
    fn symmetric_bytes(&self) -> Option<&[u8]> {
        self.as_pin_key().map(|key| match key.as_ref() {
            PinKey::Tdes(k) => k.expose_bytes(),
            PinKey::Aes(k) => k.expose_bytes(),
        })
    }
}

/// An RSA private key in process memory: it decrypts, and it can be
/// exported wrapped.
trait SoftRsa: RsaDecryptor {
    fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, pinset_envelope::Error>;
}

impl SoftRsa for RsaPrivateKey {
    fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, pinset_envelope::Error> {
        self.to_pkcs8_der()
    }
}

#[cfg(feature = "aws-lc")]
impl SoftRsa for AwsLcRsaKey {
    fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, pinset_envelope::Error> {
        self.to_pkcs8_der()
    }
}

/// AES key wrap with padding (RFC 5649) under `kek` (16, 24 or 32 bytes):
/// wraps if `wrap`, else unwraps. Every output is zeroizing.
fn aes_kwp(kek: &[u8], input: &[u8], wrap: bool) -> Result<Zeroizing<Vec<u8>>, ModuleError> {
    const SEMIBLOCK: usize = 8;
    let mut out = Zeroizing::new(vec![
        0u8;
        if wrap {
            input.len().div_ceil(SEMIBLOCK) * SEMIBLOCK + SEMIBLOCK
        } else {
            input.len().saturating_sub(SEMIBLOCK)
        }
    ]);
    macro_rules! run {
        ($kwp:ty) => {{
            let kwp = <$kwp>::new_from_slice(kek).map_err(|_| ModuleError::WrappedKeyIntegrity)?;
            let result = if wrap {
                kwp.wrap_key(input, &mut out)
            } else {
                kwp.unwrap_key(input, &mut out)
            };
            result
                .map(<[u8]>::len)
                .map_err(|_| ModuleError::WrappedKeyIntegrity)?
        }};
    }
    let len = match kek.len() {
        16 => run!(KwpAes128),
        24 => run!(KwpAes192),
        _ => run!(KwpAes256),
    };
    out.truncate(len);
    Ok(out)
}

/// Which library performs the RSA private-key operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RsaEngine {
    /// `rsa` 0.10: constant-time arithmetic, blinding, implicit rejection.
    RustCrypto,
    /// aws-lc for OAEP, `rsa` 0.10 for PKCS#1 v1.5: see [`AwsLcRsaKey`].
    #[cfg(feature = "aws-lc")]
    AwsLc,
}

impl RsaEngine {
    fn name(self) -> &'static str {
        match self {
            RsaEngine::RustCrypto => NAME,
            #[cfg(feature = "aws-lc")]
            RsaEngine::AwsLc => "aws-lc",
        }
    }

    fn load(self, der: &[u8]) -> Result<Arc<dyn SoftRsa>, ModuleError> {
        match self {
            RsaEngine::RustCrypto => Ok(Arc::new(
                RsaPrivateKey::from_der(der).map_err(ModuleError::KeyMaterial)?,
            )),
            #[cfg(feature = "aws-lc")]
            RsaEngine::AwsLc => Ok(Arc::new(
                AwsLcRsaKey::from_der(der).map_err(ModuleError::KeyMaterial)?,
            )),
        }
    }

    fn generate(self, bits: usize, seed: [u8; 32]) -> Result<Arc<dyn SoftRsa>, ModuleError> {
        match self {
            RsaEngine::RustCrypto => Ok(Arc::new(
                RsaPrivateKey::generate(bits, &mut ChaCha20Rng::from_seed(seed))
                    .map_err(ModuleError::KeyMaterial)?,
            )),
            // aws-lc draws primes from its own generator; the seed goes unused.
            #[cfg(feature = "aws-lc")]
            RsaEngine::AwsLc => Ok(Arc::new(
                AwsLcRsaKey::generate(bits).map_err(ModuleError::KeyMaterial)?,
            )),
        }
    }
}

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
    // The verification method bound to each PIN verification key.
    methods: Mutex<HashMap<String, VerificationMethod>>,
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
    /// [`AwsLcRsaKey`]), seeded from the operating system. Its
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

    fn insert(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        check: KeyCheck,
        material: Material,
    ) -> Result<KeyRef, ModuleError> {
        self.insert_bound(algorithm, purpose, check, material, None)
    }

    /// Files a key, with what its key block bound it to if it came in one.
    /// The binding is filed first, so the key is never usable without it.
    fn insert_bound(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        check: KeyCheck,
        material: Material,
        binding: Option<key_block::Binding>,
    ) -> Result<KeyRef, ModuleError> {
        let id = match check {
            // Named by its public fingerprint: every module that holds this
            // key pair issues the same handle, so instances can share a ring.
            KeyCheck::Fingerprint(fingerprint) => {
                let hex: String = fingerprint.iter().map(|b| format!("{b:02x}")).collect();
                format!("sw-rsa-{hex}-{}", purpose.code())
            }
            // A 3-byte KCV may collide: symmetric keys are counted.
            KeyCheck::Kcv(_) => format!("sw-{}", self.next_id.fetch_add(1, Ordering::Relaxed)),
        };
        let handle = KeyRef::new(id.clone(), algorithm, purpose, check);
        if let Some(binding) = binding {
            self.bindings
                .lock()
                .map_err(|_| Self::poisoned())?
                .insert(id.clone(), binding);
        }
        self.keys
            .lock()
            .map_err(|_| Self::poisoned())?
            // The same key pair imported again keeps its first material.
            .entry(id)
            .or_insert((handle.clone(), material));
        Ok(handle)
    }

    /// The material behind `handle`, if the module issued exactly this handle.
    fn material(&self, handle: &KeyRef) -> Result<Material, ModuleError> {
        let keys = self.keys.lock().map_err(|_| Self::poisoned())?;
        match keys.get(handle.id()) {
            // A handle whose purpose or algorithm was edited is not ours.
            Some((stored, material)) if stored == handle => Ok(material.clone()),
            _ => Err(ModuleError::UnknownKey(handle.id().to_owned())),
        }
    }

    /// The PIN key behind `handle`, if its mode of use allows `mode`.
    fn pin_key_for(
        &self,
        handle: &KeyRef,
        format: Format,
        mode: Mode,
    ) -> Result<Arc<PinKey>, ModuleError> {
        let key = self.pin_key(handle, format)?;
        self.require_mode(handle, mode)?;
        Ok(key)
    }

    fn pin_key(&self, handle: &KeyRef, format: Format) -> Result<Arc<PinKey>, ModuleError> {
        handle.require_pin_key_for(format)?;
        match self.material(handle)? {
            Material::Pin(key) => Ok(key),
            // The purpose check above keeps verification keys out.
            Material::Verification(..) | Material::Rsa(_) => Err(ModuleError::WrongAlgorithm {
                algorithm: handle.algorithm(),
                what: "carry a symmetric PIN block",
            }),
        }
    }

    fn rsa_key(&self, handle: &KeyRef) -> Result<Arc<dyn SoftRsa>, ModuleError> {
        match self.material(handle)? {
            Material::Rsa(key) => Ok(key),
            Material::Pin(_) | Material::Verification(..) => Err(ModuleError::WrongAlgorithm {
                algorithm: handle.algorithm(),
                what: "decrypt an RSA cryptogram",
            }),
        }
    }

    fn import_symmetric_now(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        material: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        self.import_symmetric_bound(algorithm, purpose, material, None)
    }

    fn import_symmetric_bound(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        material: &[u8],
        binding: Option<key_block::Binding>,
    ) -> Result<KeyRef, ModuleError> {
        if algorithm.key_len() != Some(material.len()) {
            return Err(ModuleError::KeyMaterial(
                pinset_envelope::Error::KeyLength {
                    algorithm: if algorithm.is_aes() { "AES" } else { "TDES" },
                    expected: "the length of the algorithm named",
                    found: material.len(),
                },
            ));
        }
        let key = if algorithm.is_aes() {
            PinKey::from(AesKey::new(material).map_err(ModuleError::KeyMaterial)?)
        } else {
            PinKey::from(TdesKey::new(material).map_err(ModuleError::KeyMaterial)?)
        };
        let check = KeyCheck::Kcv(key.kcv());
        let material = match (purpose, &key) {
            (
                KeyPurpose::PinVerificationVisa | KeyPurpose::PinVerificationIbm3624,
                PinKey::Tdes(tdes),
            ) => {
                let pvk = PinVerificationKey::new(tdes.expose_bytes())
                    .map_err(ModuleError::Verification)?;
                Material::Verification(Arc::new(key), Arc::new(pvk))
            }
            _ => Material::Pin(Arc::new(key)),
        };
        self.insert_bound(algorithm, purpose, check, material, binding)
    }

    /// AES key wrap with padding under the key-encryption key `kek`.
    fn kwp(
        &self,
        kek: &KeyRef,
        input: &[u8],
        wrap: bool,
    ) -> Result<Zeroizing<Vec<u8>>, ModuleError> {
        kek.require_purpose(KeyPurpose::KeyEncryption)?;
        self.require_mode(kek, if wrap { Mode::Encipher } else { Mode::Decipher })?;
        match self.material(kek)?.as_pin_key().map(Arc::as_ref) {
            Some(PinKey::Aes(key)) => aes_kwp(key.expose_bytes(), input, wrap),
            _ => Err(ModuleError::WrongAlgorithm {
                algorithm: kek.algorithm(),
                what: "wrap keys (AES key-encryption keys only)",
            }),
        }
    }

    /// Reads the source PIN: everything that can go wrong here is one class.
    fn open(&self, source: &PinSource<'_>, pan: Option<&Pan>) -> Result<Pin, ModuleError> {
        match *source {
            PinSource::Rsa {
                key,
                padding,
                cryptogram,
                format,
            } => {
                key.require_purpose(KeyPurpose::PinEncryption)?;
                let private = self.rsa_key(key)?;
                rsa::open(private.as_ref(), padding, format, cryptogram, pan)
                    .map_err(ModuleError::Undecryptable)
            }
            PinSource::Symmetric { key, format, block } => self
                .pin_key_for(key, format, Mode::Decipher)?
                .open(format, block, pan)
                .map_err(ModuleError::Undecryptable),
        }
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
                self.methods
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
