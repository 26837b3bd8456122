//! Zone keys: handles to symmetric keys under a [`ZpkIndex`], each with its
//! KCV and purpose. The keys themselves stay in a security module.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use pinset_envelope::Kcv;
use pinset_module::{KeyAlgorithm, KeyCheck, KeyRef, ModuleError};

use crate::snapshot::{self, Kind, SecretWriter};
use crate::{ImportError, Kek, KeyError, KeyPurpose, ZpkIndex};

/// What is known about a zone key, without the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneKeyInfo {
    /// What the key may be used for.
    pub purpose: KeyPurpose,
    /// The algorithm and length.
    pub algorithm: KeyAlgorithm,
    /// The key check value.
    pub kcv: Kcv,
}

/// Symmetric zone keys (ZPKs and the like, TDES or AES) under a
/// [`ZpkIndex`]: a directory of [`KeyRef`] handles into a
/// [`SecurityModule`](pinset_module::SecurityModule), which holds the keys.
///
/// Each handle carries its [`KeyPurpose`]. [`ZoneKeys::pin_key`] hands out
/// a handle tagged [`KeyPurpose::PinEncryption`] and refuses any other with
/// [`KeyError::WrongPurpose`]; the module checks the purpose again on every
/// operation, and offers PIN keys no operation but PIN translation.
///
/// ```
/// use pinset_keys::{KeyError, KeyPurpose, ZoneKeys, ZpkIndex};
/// use pinset_module::{KeyAlgorithm, SecurityModule, SoftwareModule};
///
/// # pollster::block_on(async {
/// let module = SoftwareModule::new()?;
/// let zone = ZoneKeys::new();
/// let zpk = ZpkIndex::new("zpk-1")?;
/// let handle = module.import_symmetric(KeyAlgorithm::Tdes2, KeyPurpose::PinEncryption, &hex::decode("0123456789ABCDEFFEDCBA9876543210")?).await?;
/// let kcv = zone.insert(zpk.clone(), handle)?;
/// assert_eq!(kcv.to_string(), "08D7B4");
/// assert_eq!(zone.info(&zpk)?.kcv, kcv);
///
/// let dek = ZpkIndex::new("dek-1")?;
/// let handle = module.import_symmetric(KeyAlgorithm::Tdes2, KeyPurpose::DataEncryption, &hex::decode("E6F1081FEA4C402CC192B65DE367EC3E")?).await?;
/// zone.insert(dek.clone(), handle)?;
/// assert!(matches!(zone.pin_key(&dek), Err(KeyError::WrongPurpose { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Default)]
pub struct ZoneKeys {
    keys: RwLock<BTreeMap<ZpkIndex, KeyRef>>,
}

impl ZoneKeys {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, BTreeMap<ZpkIndex, KeyRef>>, KeyError> {
        self.keys
            .read()
            .map_err(|_| KeyError::Poisoned("zone keys"))
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, BTreeMap<ZpkIndex, KeyRef>>, KeyError> {
        self.keys
            .write()
            .map_err(|_| KeyError::Poisoned("zone keys"))
    }

    /// Files the handle `key` under `index` and returns its KCV.
    ///
    /// # Errors
    ///
    /// [`KeyError::DuplicateZpkIndex`] if the index is taken, and
    /// [`KeyError::Module`] with [`ModuleError::WrongAlgorithm`] for an RSA key.
    pub fn insert(&self, index: ZpkIndex, key: KeyRef) -> Result<Kcv, KeyError> {
        let kcv = kcv_of(&key)?;
        let mut keys = self.write()?;
        if keys.contains_key(&index) {
            return Err(KeyError::DuplicateZpkIndex(index));
        }
        keys.insert(index, key);
        Ok(kcv)
    }

    /// [`insert`](Self::insert), after checking the key against the KCV it
    /// was delivered with.
    ///
    /// # Errors
    ///
    /// [`KeyError::KcvMismatch`], or as [`insert`](Self::insert).
    pub fn insert_checked(
        &self,
        index: ZpkIndex,
        key: KeyRef,
        expected_kcv: Kcv,
    ) -> Result<(), KeyError> {
        let found = kcv_of(&key)?;
        if found != expected_kcv {
            return Err(KeyError::KcvMismatch {
                expected: expected_kcv,
                found,
            });
        }
        self.insert(index, key).map(|_| ())
    }

    /// The handle of the PIN-encryption key under `index`.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnknownZpkIndex`] if there is none, and
    /// [`KeyError::WrongPurpose`] if the key there is for another purpose.
    pub fn pin_key(&self, index: &ZpkIndex) -> Result<KeyRef, KeyError> {
        let keys = self.read()?;
        let key = keys
            .get(index)
            .ok_or_else(|| KeyError::UnknownZpkIndex(index.clone()))?;
        if key.purpose() != KeyPurpose::PinEncryption {
            return Err(KeyError::WrongPurpose {
                key: index.to_string(),
                expected: KeyPurpose::PinEncryption,
                found: key.purpose(),
            });
        }
        Ok(key.clone())
    }

    /// Purpose, algorithm and KCV of the key under `index`.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnknownZpkIndex`] if there is none.
    pub fn info(&self, index: &ZpkIndex) -> Result<ZoneKeyInfo, KeyError> {
        let keys = self.read()?;
        keys.get(index)
            .map(info)
            .ok_or_else(|| KeyError::UnknownZpkIndex(index.clone()))
    }

    /// Every index with its key's purpose, algorithm and KCV, in index order.
    ///
    /// # Errors
    ///
    /// [`KeyError::Poisoned`] if another thread panicked holding the directory.
    pub fn list(&self) -> Result<Vec<(ZpkIndex, ZoneKeyInfo)>, KeyError> {
        Ok(self
            .read()?
            .iter()
            .map(|(index, key)| (index.clone(), info(key)))
            .collect())
    }

    /// Removes the entry under `index` and hands back its handle, for the
    /// caller to [`destroy`](pinset_module::SecurityModule::destroy) in the
    /// module (another index may name the same key).
    ///
    /// # Errors
    ///
    /// [`KeyError::Poisoned`] if another thread panicked holding the directory.
    pub fn remove(&self, index: &ZpkIndex) -> Result<Option<KeyRef>, KeyError> {
        Ok(self.write()?.remove(index))
    }

    /// Serializes the directory (every index with its handle, purpose,
    /// algorithm and KCV) and wraps it under `kek` with AES key wrap with
    /// padding (RFC 5649), which keeps it whole. It holds no key material:
    /// the keys stay in the module, whose own persistence (a token's
    /// objects, an HSM's key store) must outlive the export.
    ///
    /// # Errors
    ///
    /// [`KeyError::Poisoned`], or [`KeyError::ExportTooLarge`].
    ///
    /// ```
    /// use pinset_keys::{Kek, KeyPurpose, ZoneKeys, ZpkIndex};
    /// use pinset_module::{KeyAlgorithm, SecurityModule, SoftwareModule};
    ///
    /// # pollster::block_on(async {
    /// let module = SoftwareModule::new()?;
    /// let zone = ZoneKeys::new();
    /// let zpk = ZpkIndex::new("zpk-1")?;
    /// let handle = module.import_symmetric(KeyAlgorithm::Tdes3, KeyPurpose::PinEncryption, &hex::decode("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")?).await?;
    /// zone.insert(zpk.clone(), handle)?;
    /// let kek = Kek::new(&[0x42; 32])?;
    /// let restored = ZoneKeys::import(&zone.export(&kek)?, &kek)?;
    /// assert_eq!(restored.pin_key(&zpk)?, zone.pin_key(&zpk)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn export(&self, kek: &Kek) -> Result<Vec<u8>, KeyError> {
        let keys = self.read()?;
        let mut body = SecretWriter::new();
        body.count(keys.len());
        for (index, key) in keys.iter() {
            // index_len u8, index, handle_len u8, handle id, purpose u8, algorithm u8, KCV (3)
            body.short(index.as_str().as_bytes());
            body.short(key.id().as_bytes());
            body.u8(key.purpose().code());
            body.u8(key.algorithm().code().unwrap_or_default());
            body.bytes(kcv_of(key)?.as_bytes());
        }
        drop(keys);
        snapshot::seal(Kind::ZoneKeys, kek, body)
    }

    /// Rebuilds a directory from an [`export`](Self::export). Fails cleanly,
    /// building nothing, on a tampered or truncated export or the wrong KEK.
    ///
    /// # Errors
    ///
    /// [`KeyError::Import`].
    pub fn import(export: &[u8], kek: &Kek) -> Result<Self, KeyError> {
        let body = snapshot::open(Kind::ZoneKeys, kek, export)?;
        let mut r = body.reader();
        let count = r.u32()?;
        let mut keys = BTreeMap::new();
        for _ in 0..count {
            let index = std::str::from_utf8(r.short()?)
                .ok()
                .and_then(|s| ZpkIndex::new(s).ok())
                .ok_or(ImportError::Malformed("a zone key index is not valid"))?;
            let id = std::str::from_utf8(r.short()?)
                .ok()
                .filter(|id| !id.is_empty())
                .ok_or(ImportError::Malformed("a key handle is not valid"))?
                .to_owned();
            let purpose = KeyPurpose::from_code(r.u8()?)
                .ok_or(ImportError::Malformed("a key purpose is unknown"))?;
            let algorithm = KeyAlgorithm::from_code(r.u8()?)
                .ok_or(ImportError::Malformed("a key algorithm is unknown"))?;
            let kcv: [u8; 3] = r
                .take(3)?
                .try_into()
                .map_err(|_| ImportError::Malformed("a KCV is not 3 bytes"))?;
            let key = KeyRef::new(id, algorithm, purpose, KeyCheck::Kcv(Kcv::from_bytes(kcv)));
            if keys.insert(index, key).is_some() {
                return Err(ImportError::Malformed("a zone key index appears twice").into());
            }
        }
        r.finish()?;
        Ok(ZoneKeys {
            keys: RwLock::new(keys),
        })
    }
}

/// The KCV of a symmetric key's handle; RSA keys are no zone keys.
fn kcv_of(key: &KeyRef) -> Result<Kcv, KeyError> {
    match key.check() {
        KeyCheck::Kcv(kcv) => Ok(kcv),
        KeyCheck::Fingerprint(_) => Err(ModuleError::WrongAlgorithm {
            algorithm: key.algorithm(),
            what: "be a zone key (symmetric keys only)",
        }
        .into()),
    }
}

fn info(key: &KeyRef) -> ZoneKeyInfo {
    ZoneKeyInfo {
        purpose: key.purpose(),
        algorithm: key.algorithm(),
        // `insert` and `import` admit symmetric keys only, which have a KCV.
        kcv: kcv_of(key).unwrap_or(Kcv::from_bytes([0; 3])),
    }
}

impl fmt::Debug for ZoneKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        match self.keys.read() {
            Ok(keys) => {
                for (index, key) in keys.iter() {
                    map.entry(index, &info(key));
                }
            }
            Err(_) => {
                map.entry(&"<poisoned>", &"");
            }
        }
        map.finish()
    }
}
