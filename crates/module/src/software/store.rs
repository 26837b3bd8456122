//! The software module's key store: what it keeps behind each handle,
//! and how keys are filed and looked up (split out of `mod.rs` for size).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use pinset_block::{Format, Pan, Pin};
use pinset_envelope::rsa;
use pinset_envelope::{AesKey, PinKey, TdesKey};
use pinset_verify::PinVerificationKey;

use super::rsa::SoftRsa;
use super::{Mode, SoftwareModule, key_block};
use crate::{KeyAlgorithm, KeyCheck, KeyPurpose, KeyRef, ModuleError, PinSource};

/// Key material as the software module keeps it.
#[derive(Clone)]
pub(super) enum Material {
    Pin(Arc<PinKey>),
    /// A PIN verification key: the key, its TDES schedule built once, and
    /// the name its bound method is filed under.
    Verification(Arc<PinKey>, Arc<PinVerificationKey>, BindingName),
    Rsa(Arc<dyn SoftRsa>),
}

/// What a PVK's bound verification method is filed under: a digest of
/// its purpose and key bytes, not its handle. Every handle this module
/// gives the same key (imported again, or exported and imported back)
/// finds the same binding, so no copy can be bound to another table.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct BindingName([u8; 32]);

impl BindingName {
    fn of(purpose: KeyPurpose, key: &[u8]) -> Self {
        use sha2::Digest;
        let digest = sha2::Sha256::new()
            .chain_update(b"pinset PVK binding")
            .chain_update([purpose.code()])
            .chain_update(key)
            .finalize();
        BindingName(digest.into())
    }
}

impl Material {
    /// The symmetric key, whatever it is for.
    pub(super) fn as_pin_key(&self) -> Option<&Arc<PinKey>> {
        match self {
            Material::Pin(key) | Material::Verification(key, ..) => Some(key),
            Material::Rsa(_) => None,
        }
    }

    /// A symmetric key's bytes, to wrap it for export.
    pub(super) fn symmetric_bytes(&self) -> Option<&[u8]> {
        self.as_pin_key().map(|key| match key.as_ref() {
            PinKey::Tdes(k) => k.expose_bytes(),
            PinKey::Aes(k) => k.expose_bytes(),
        })
    }
}

impl SoftwareModule {
    pub(super) fn insert(
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
    pub(super) fn material(&self, handle: &KeyRef) -> Result<Material, ModuleError> {
        let keys = self.keys.lock().map_err(|_| Self::poisoned())?;
        match keys.get(handle.id()) {
            // A handle whose purpose or algorithm was edited is not ours.
            Some((stored, material)) if stored == handle => Ok(material.clone()),
            _ => Err(ModuleError::UnknownKey(handle.id().to_owned())),
        }
    }

    /// The PIN key behind `handle`, if its mode of use allows `mode`.
    pub(super) fn pin_key_for(
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

    pub(super) fn import_symmetric_now(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        material: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        self.import_symmetric_bound(algorithm, purpose, material, None)
    }

    pub(super) fn import_symmetric_bound(
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
                let name = BindingName::of(purpose, tdes.expose_bytes());
                Material::Verification(Arc::new(key), Arc::new(pvk), name)
            }
            _ => Material::Pin(Arc::new(key)),
        };
        self.insert_bound(algorithm, purpose, check, material, binding)
    }

    /// Reads the source PIN: everything that can go wrong here is one class.
    pub(super) fn open(
        &self,
        source: &PinSource<'_>,
        pan: Option<&Pan>,
    ) -> Result<Pin, ModuleError> {
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
