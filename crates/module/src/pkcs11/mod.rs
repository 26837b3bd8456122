//! The PKCS#11 security module: keys live in a token (SoftHSM2, a
//! general-purpose HSM) as sensitive, non-extractable objects.

mod cipher;
mod config;
mod fault;
mod module;
mod ops;
mod pool;
mod rsa_der;
mod template;

use std::collections::HashMap;
use std::sync::Mutex;

use chacha20::ChaCha20Rng;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use pinset_envelope::RsaPublicKey;
use rand_core::{Rng, SeedableRng, TryRng};

pub use config::Pkcs11Config;
use fault::{poisoned, unavailable_because};
use pool::SessionPool;

use crate::{KeyAlgorithm, KeyCheck, KeyPurpose, KeyRef, ModuleError};

/// A [`SecurityModule`](crate::SecurityModule) on a PKCS#11 token, through
/// `cryptoki`.
///
/// # Where the keys are
///
/// Every key is CKA_SENSITIVE and not CKA_EXTRACTABLE (the tzpk alone is
/// extractable until its one wrap, below), with one purpose. Keys this
/// module creates get no more usages than that purpose needs (a PIN key
/// encrypts and decrypts and never wraps); keys loaded by other tools and
/// found by label must be sensitive and non-extractable, and usage flags
/// those tools add (`pkcs11-tool` always sets CKA_WRAP and CKA_UNWRAP on
/// secret keys) are tolerated, since pinset never calls those operations. A [`KeyRef`]'s id is the
/// object's CKA_LABEL; its purpose is the object's CKA_ID, one byte
/// ([`KeyPurpose::code`]: `01` PIN, `02` key, `03` data encryption), so a
/// handle whose purpose was edited is refused.
///
/// - Keys this module imports or generates are session objects, destroyed
///   by the token when the module drops, like [`SoftwareModule`]'s keys; with
///   [`Pkcs11Config::token_objects`] they are token objects instead and
///   outlive the process (a handle stored then works after a restart).
///   Imports are for tests and migration: in production a key ceremony
///   loads the keys, and [`find_key`](Self::find_key) finds them by label.
/// - A tzpk is always a session object. It alone is extractable, for the
///   one C_WrapKey to the device; CKA_EXTRACTABLE is cleared right after.
///
/// # The limit of a generic token
///
/// PKCS#11 has no PIN-translate mechanism. A payment HSM (payShield's
/// PIN-translate commands, AWS Payment Cryptography's TranslatePinData)
/// deciphers, checks and re-enciphers a PIN block inside its boundary, so
/// the clear PIN never reaches the host. Here the token deciphers with
/// raw TDES-ECB, AES-ECB or RSA, and **the clear PIN block passes through
/// host memory**: it is decoded by `pinset-block`'s strict decoders and
/// re-encoded there, held only in zeroizing types (`ClearBlock`,
/// `PinField`, `Pin`) for the length of one [`translate`] call. The keys
/// never leave the token; the PINs do, briefly. A PCI PIN deployment needs a
/// payment HSM behind this seam; this backend suits development, tests, and
/// deployments whose threat model accepts PINs in host memory but not keys.
///
/// And since the raw cipher is exposed, anyone holding the user PIN can
/// use a PIN key as a block-cipher oracle. PCI key separation then rests on
/// the usage attributes above; keys loaded by other tools should carry
/// CKA_WRAP and CKA_UNWRAP false (OpenSC's `pkcs11-tool` sets them true).
///
/// # Sessions and errors
///
/// Calls block for the token's round trip; the module is runtime-agnostic.
/// One keeper session creates and owns every object; other calls take a
/// session from a pool. A lost token, session or login, a device error or
/// any general failure is [`ModuleError::Unavailable`] (retry: the next call
/// opens a new session and logs in again). A logout destroys session
/// objects, whose handles then answer [`ModuleError::UnknownKey`].
///
/// SoftHSM 2.6 does RSA-OAEP with SHA-1 only: OAEP with SHA-256 is
/// [`ModuleError::Unsupported`] there, never an undecryptable block.
///
/// ```no_run
/// use pinset_module::{KeyAlgorithm, KeyPurpose, Pkcs11Config, Pkcs11Module};
///
/// # pollster::block_on(async {
/// let config = Pkcs11Config::from_env().ok_or("set PINSET_PKCS11_MODULE, _TOKEN and _PIN")?;
/// let module = Pkcs11Module::open(&config)?;
/// let zpk = module
///     .find_key("zpk-2026", KeyAlgorithm::Tdes3, KeyPurpose::PinEncryption)
///     .await?;
/// println!("{zpk}"); // TDES-3key zpk-2026 for PIN encryption (KCV …)
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// [`SoftwareModule`]: crate::SoftwareModule
/// [`translate`]: crate::SecurityModule::translate
pub struct Pkcs11Module {
    pool: SessionPool,
    token_label: String,
    token_objects: bool,
    keys: Mutex<HashMap<String, Entry>>,
    rng: Mutex<ChaCha20Rng>,
}

/// What the module knows of a key it issued a handle for.
#[derive(Clone)]
struct Entry {
    handle: KeyRef,
    object: ObjectHandle,
    /// The pool generation of a session object; `None` for a token object.
    generation: Option<u64>,
    /// The pool generation `object` was had in. A token object's handle
    /// from before a logout is looked up again by label.
    seen: u64,
    public: Option<RsaPublicKey>,
}

impl Pkcs11Module {
    /// Loads the PKCS#11 module, finds the token by label, opens a session
    /// and logs in as the user.
    ///
    /// # Errors
    ///
    /// [`ModuleError::Unavailable`] if the library cannot be loaded, no
    /// token (or more than one) carries the label, or the login fails; the
    /// reason names the PKCS#11 code, such as `C_Login: CKR_PIN_INCORRECT`.
    /// Do not retry a refused PIN blindly: tokens lock it after a few tries.
    /// [`ModuleError::Rng`] if the operating system's random source fails.
    pub fn open(config: &Pkcs11Config) -> Result<Self, ModuleError> {
        let mut seed = [0u8; 32];
        getrandom::SysRng
            .try_fill_bytes(&mut seed)
            .map_err(|_| ModuleError::Rng)?;
        Ok(Pkcs11Module {
            pool: SessionPool::open(config)?,
            token_label: config.token_label().to_owned(),
            token_objects: config.wants_token_objects(),
            keys: Mutex::new(HashMap::new()),
            rng: Mutex::new(ChaCha20Rng::from_seed(seed)),
        })
    }

    /// The token's label.
    pub fn token_label(&self) -> &str {
        &self.token_label
    }

    /// Finds a key that other tools put in the token, by its CKA_LABEL, and
    /// returns its handle: a token object of `algorithm` whose CKA_ID is the
    /// one byte of `purpose` ([`KeyPurpose::code`]) and that is sensitive.
    ///
    /// With OpenSC, a ZPK loads as
    /// `pkcs11-tool --login --write-object zpk.bin --type secrkey
    /// --key-type DES3:24 --label zpk-2026 --id 01 --sensitive --private`.
    ///
    /// # Errors
    ///
    /// [`ModuleError::UnknownKey`] if no token object, or more than one,
    /// carries the label, or it is not sensitive or records no purpose;
    /// [`ModuleError::WrongPurpose`] if it records another purpose;
    /// [`ModuleError::WrongAlgorithm`] if it is another kind of key;
    /// [`ModuleError::Unavailable`] from the token.
    pub async fn find_key(
        &self,
        label: &str,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
    ) -> Result<KeyRef, ModuleError> {
        let entry = self.load(label, algorithm, purpose)?;
        self.remember(entry)
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut ChaCha20Rng) -> T) -> Result<T, ModuleError> {
        let mut rng = self.rng.lock().map_err(poisoned)?;
        Ok(f(&mut rng))
    }

    /// A fresh CKA_LABEL: 64 random bits, so labels never collide.
    fn new_label(&self) -> Result<String, ModuleError> {
        let mut bytes = [0u8; 8];
        self.with_rng(|rng| rng.fill_bytes(&mut bytes))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("pinset-{hex}"))
    }

    fn remember(&self, entry: Entry) -> Result<KeyRef, ModuleError> {
        let handle = entry.handle.clone();
        self.keys
            .lock()
            .map_err(poisoned)?
            .insert(handle.id().to_owned(), entry);
        Ok(handle)
    }

    fn forget(&self, id: &str) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.remove(id);
        }
    }

    /// The key behind `handle`, if the handle is exactly the one issued.
    ///
    /// A session object is known only to the module that made it; a token
    /// object is looked up by label, so stored handles survive a restart.
    fn entry(&self, handle: &KeyRef) -> Result<Entry, ModuleError> {
        let cached = self
            .keys
            .lock()
            .map_err(poisoned)?
            .get(handle.id())
            .cloned();
        let entry = match cached {
            Some(entry)
                if entry
                    .generation
                    .is_some_and(|g| g != self.pool.generation()) =>
            {
                // Its session (or the login) is gone, and the object with it.
                self.forget(handle.id());
                return Err(ModuleError::UnknownKey(handle.id().to_owned()));
            }
            // A token object outlives a logout, but its handle may not.
            Some(entry) if entry.seen == self.pool.generation() => entry,
            _ => {
                let entry = self.load(handle.id(), handle.algorithm(), handle.purpose())?;
                self.remember(entry.clone())?;
                entry
            }
        };
        if entry.handle == *handle {
            Ok(entry)
        } else if entry.handle.purpose() != handle.purpose() {
            Err(ModuleError::WrongPurpose {
                key: handle.id().to_owned(),
                expected: handle.purpose(),
                found: entry.handle.purpose(),
            })
        } else {
            Err(ModuleError::UnknownKey(handle.id().to_owned()))
        }
    }

    /// Reads a token object by label and builds its handle.
    fn load(
        &self,
        label: &str,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
    ) -> Result<Entry, ModuleError> {
        let unknown = |why: String| ModuleError::UnknownKey(format!("{label} ({why})"));
        let rsa = matches!(algorithm, KeyAlgorithm::Rsa { .. });
        let class = if rsa {
            ObjectClass::PRIVATE_KEY
        } else {
            ObjectClass::SECRET_KEY
        };
        let search = [
            Attribute::Token(true),
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let objects = self
            .pool
            .with_session(|s| s.find_objects(&search))?
            .map_err(|e| fault::operation(&e, None, "searching objects by label"))?;
        let object = match objects.as_slice() {
            [object] => *object,
            [] => return Err(ModuleError::UnknownKey(label.to_owned())),
            many => return Err(unknown(format!("{} objects carry the label", many.len()))),
        };
        let mut wanted = vec![
            AttributeType::KeyType,
            AttributeType::Id,
            AttributeType::Sensitive,
            AttributeType::Extractable,
        ];
        wanted.extend(if rsa {
            [AttributeType::Modulus, AttributeType::PublicExponent].as_slice()
        } else {
            [AttributeType::ValueLen].as_slice()
        });
        let attributes = self
            .pool
            .with_session(|s| s.get_attributes(object, &wanted))?
            .map_err(|e| {
                fault::operation(&e, Some((label, algorithm)), "reading key attributes")
            })?;
        let mut found = Found::default();
        for attribute in attributes {
            match attribute {
                Attribute::KeyType(t) => found.key_type = Some(t),
                Attribute::Id(id) => found.purpose = template::purpose_of(&id),
                Attribute::Sensitive(on) => found.sensitive = on,
                Attribute::Extractable(on) => found.extractable = on,
                Attribute::ValueLen(len) => found.len = usize::from(len),
                Attribute::Modulus(n) => found.modulus = n,
                Attribute::PublicExponent(e) => found.exponent = e,
                _ => {}
            }
        }
        let found_purpose = found
            .purpose
            .ok_or_else(|| unknown("its CKA_ID records no pinset purpose: 01, 02 or 03".into()))?;
        if found_purpose != purpose {
            return Err(ModuleError::WrongPurpose {
                key: label.to_owned(),
                expected: purpose,
                found: found_purpose,
            });
        }
        if !found.sensitive || found.extractable {
            return Err(unknown(
                "not CKA_SENSITIVE, or CKA_EXTRACTABLE: pinset uses no key the token would reveal or let out"
                    .into(),
            ));
        }
        let (found_algorithm, public) = found.algorithm()?;
        if found_algorithm != algorithm {
            return Err(ModuleError::WrongAlgorithm {
                algorithm: found_algorithm,
                what: "stand in for a key of another algorithm or size",
            });
        }
        let check = match &public {
            Some(public) => KeyCheck::Fingerprint(public.fingerprint_bytes()),
            None => KeyCheck::Kcv(
                self.pool
                    .with_session(|s| cipher::kcv(s, object, algorithm))?
                    .map_err(|e| {
                        fault::operation(&e, Some((label, algorithm)), "key check values")
                    })?,
            ),
        };
        Ok(Entry {
            handle: KeyRef::new(label, algorithm, purpose, check),
            object,
            generation: None,
            seen: self.pool.generation(),
            public,
        })
    }
}

/// Attributes of a key found by label.
#[derive(Default)]
struct Found {
    key_type: Option<KeyType>,
    purpose: Option<KeyPurpose>,
    sensitive: bool,
    extractable: bool,
    len: usize,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

impl Found {
    /// The key's algorithm, and the public half of an RSA key; `Err` says
    /// why pinset cannot use the key.
    fn algorithm(&self) -> Result<(KeyAlgorithm, Option<RsaPublicKey>), ModuleError> {
        let algorithm = match self.key_type {
            Some(t) if t == KeyType::DES2 => KeyAlgorithm::Tdes2,
            Some(t) if t == KeyType::DES3 => KeyAlgorithm::Tdes3,
            Some(t) if t == KeyType::AES => KeyAlgorithm::symmetric(self.len, true)
                .ok_or_else(|| malformed("AES key length"))?,
            Some(t) if t == KeyType::RSA => {
                // Checked like any RSA key: 2048 to 4096 bits, e >= 65537.
                let public = rsa_der::public_key(&self.modulus, &self.exponent)
                    .map_err(ModuleError::KeyMaterial)?;
                let bits = u16::try_from(public.bits()).map_err(|_| malformed("RSA modulus"))?;
                return Ok((KeyAlgorithm::Rsa { bits }, Some(public)));
            }
            _ => {
                return Err(ModuleError::Unsupported {
                    module: fault::NAME,
                    what: "keys of this PKCS#11 key type",
                });
            }
        };
        Ok((algorithm, None))
    }
}

impl core::fmt::Debug for Pkcs11Module {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let keys = self.keys.lock().map(|k| k.len()).unwrap_or_default();
        f.debug_struct("Pkcs11Module")
            .field("token", &self.token_label)
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

/// Used where a token's answer makes no sense (a wrong length).
fn malformed(what: &str) -> ModuleError {
    unavailable_because(format!("the token returned a malformed {what}"))
}
