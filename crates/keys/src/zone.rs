//! Zone keys: symmetric keys under a [`ZpkIndex`], each with its KCV and purpose.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use pinset_envelope::{AesKey, Kcv, PinKey, TdesKey};

use crate::snapshot::{self, Kind, SecretWriter};
use crate::{ImportError, Kek, KeyError, KeyPurpose, ZpkIndex};

/// One stored zone key.
#[derive(Clone)]
struct ZoneKey {
    purpose: KeyPurpose,
    key: Arc<PinKey>,
}

/// What is known about a stored zone key, without the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneKeyInfo {
    /// What the key may be used for.
    pub purpose: KeyPurpose,
    /// `TDES` or `AES`.
    pub algorithm: &'static str,
    /// The key check value.
    pub kcv: Kcv,
}

/// Symmetric zone keys (ZPKs and the like, TDES or AES) under a [`ZpkIndex`],
/// each tagged with a [`KeyPurpose`].
///
/// The only way to a key is [`ZoneKeys::pin_key`], which hands out a
/// [`PinKey`] for a key tagged [`KeyPurpose::PinEncryption`] and refuses any
/// other with [`KeyError::WrongPurpose`]. A `PinKey` itself seals, opens and
/// translates PIN blocks and nothing else: there is no data-encryption
/// operation to misuse it with.
///
/// ```
/// use pinset_envelope::TdesKey;
/// use pinset_keys::{KeyError, KeyPurpose, ZoneKeys, ZpkIndex};
///
/// let zone = ZoneKeys::new();
/// let zpk = ZpkIndex::new("zpk-1")?;
/// let kcv = zone.insert(zpk.clone(), TdesKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210")?)?, KeyPurpose::PinEncryption)?;
/// assert_eq!(zone.pin_key(&zpk)?.kcv(), kcv);
///
/// let dek = ZpkIndex::new("dek-1")?;
/// zone.insert(dek.clone(), TdesKey::new(&hex::decode("E6F1081FEA4C402CC192B65DE367EC3E")?)?, KeyPurpose::DataEncryption)?;
/// assert!(matches!(zone.pin_key(&dek), Err(KeyError::WrongPurpose { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A PIN key offers no way to encrypt anything but a PIN block:
///
/// ```compile_fail,E0599
/// # use pinset_keys::{KeyPurpose, ZoneKeys, ZpkIndex};
/// # let zone = ZoneKeys::new();
/// # let zpk = ZpkIndex::new("zpk-1").unwrap();
/// let ciphertext = zone.pin_key(&zpk).unwrap().encrypt(b"card data");
/// ```
#[derive(Default)]
pub struct ZoneKeys {
    keys: RwLock<BTreeMap<ZpkIndex, ZoneKey>>,
}

impl ZoneKeys {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> Result<RwLockReadGuard<'_, BTreeMap<ZpkIndex, ZoneKey>>, KeyError> {
        self.keys
            .read()
            .map_err(|_| KeyError::Poisoned("zone keys"))
    }

    fn write(&self) -> Result<RwLockWriteGuard<'_, BTreeMap<ZpkIndex, ZoneKey>>, KeyError> {
        self.keys
            .write()
            .map_err(|_| KeyError::Poisoned("zone keys"))
    }

    /// Stores `key` under `index` for `purpose` and returns its KCV. Fails
    /// with [`KeyError::DuplicateZpkIndex`] if the index is taken.
    pub fn insert(
        &self,
        index: ZpkIndex,
        key: impl Into<PinKey>,
        purpose: KeyPurpose,
    ) -> Result<Kcv, KeyError> {
        let key = key.into();
        let kcv = key.kcv();
        let mut keys = self.write()?;
        if keys.contains_key(&index) {
            return Err(KeyError::DuplicateZpkIndex(index));
        }
        keys.insert(
            index,
            ZoneKey {
                purpose,
                key: Arc::new(key),
            },
        );
        Ok(kcv)
    }

    /// [`insert`](Self::insert), after checking the key against the KCV it
    /// was delivered with ([`KeyError::KcvMismatch`] otherwise).
    pub fn insert_checked(
        &self,
        index: ZpkIndex,
        key: impl Into<PinKey>,
        purpose: KeyPurpose,
        expected_kcv: Kcv,
    ) -> Result<(), KeyError> {
        let key = key.into();
        let found = key.kcv();
        if found != expected_kcv {
            return Err(KeyError::KcvMismatch {
                expected: expected_kcv,
                found,
            });
        }
        self.insert(index, key, purpose).map(|_| ())
    }

    /// The PIN-encryption key under `index`.
    ///
    /// Fails with [`KeyError::UnknownZpkIndex`] if there is none and with
    /// [`KeyError::WrongPurpose`] if the key there is for another purpose.
    pub fn pin_key(&self, index: &ZpkIndex) -> Result<Arc<PinKey>, KeyError> {
        let keys = self.read()?;
        let stored = keys
            .get(index)
            .ok_or_else(|| KeyError::UnknownZpkIndex(index.clone()))?;
        if stored.purpose != KeyPurpose::PinEncryption {
            return Err(KeyError::WrongPurpose {
                key: index.to_string(),
                expected: KeyPurpose::PinEncryption,
                found: stored.purpose,
            });
        }
        Ok(Arc::clone(&stored.key))
    }

    /// Purpose, algorithm and KCV of the key under `index`.
    pub fn info(&self, index: &ZpkIndex) -> Result<ZoneKeyInfo, KeyError> {
        let keys = self.read()?;
        keys.get(index)
            .map(info)
            .ok_or_else(|| KeyError::UnknownZpkIndex(index.clone()))
    }

    /// Every index with its key's purpose, algorithm and KCV, in index order.
    pub fn list(&self) -> Result<Vec<(ZpkIndex, ZoneKeyInfo)>, KeyError> {
        Ok(self
            .read()?
            .iter()
            .map(|(index, key)| (index.clone(), info(key)))
            .collect())
    }

    /// Removes the key under `index`; returns whether there was one. The key
    /// is zeroized once no [`pin_key`](Self::pin_key) handle holds it.
    pub fn remove(&self, index: &ZpkIndex) -> Result<bool, KeyError> {
        Ok(self.write()?.remove(index).is_some())
    }

    /// Serializes every key with its index, purpose and KCV, wrapped under
    /// `kek` with AES key wrap with padding (RFC 5649).
    ///
    /// ```
    /// use pinset_envelope::TdesKey;
    /// use pinset_keys::{Kek, KeyPurpose, ZoneKeys, ZpkIndex};
    ///
    /// let zone = ZoneKeys::new();
    /// let zpk = ZpkIndex::new("zpk-1")?;
    /// zone.insert(zpk.clone(), TdesKey::new(&hex::decode("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")?)?, KeyPurpose::PinEncryption)?;
    /// let kek = Kek::new(&[0x42; 32])?;
    /// let restored = ZoneKeys::import(&zone.export(&kek)?, &kek)?;
    /// assert_eq!(restored.info(&zpk)?, zone.info(&zpk)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn export(&self, kek: &Kek) -> Result<Vec<u8>, KeyError> {
        let keys = self.read()?;
        let mut body = SecretWriter::new();
        body.count(keys.len());
        for (index, stored) in keys.iter() {
            // index_len u8, index, purpose u8, algorithm u8 (1 TDES, 2 AES), key_len u8, key, KCV (3)
            body.short(index.as_str().as_bytes());
            body.u8(stored.purpose.code());
            let (algorithm, bytes) = match stored.key.as_ref() {
                PinKey::Tdes(k) => (TDES, k.expose_bytes()),
                PinKey::Aes(k) => (AES, k.expose_bytes()),
            };
            body.u8(algorithm);
            body.short(bytes);
            body.bytes(stored.key.kcv().as_bytes());
        }
        drop(keys);
        snapshot::seal(Kind::ZoneKeys, kek, body)
    }

    /// Rebuilds a store from an [`export`](Self::export), checking every
    /// key against its KCV. Fails cleanly, building nothing, on a tampered
    /// or truncated export or the wrong KEK.
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
            let purpose = KeyPurpose::from_code(r.u8()?)
                .ok_or(ImportError::Malformed("a key purpose is unknown"))?;
            let algorithm = r.u8()?;
            let bytes = r.short()?;
            let kcv = r.take(3)?;
            let key = match algorithm {
                TDES => TdesKey::new(bytes).map(PinKey::from),
                AES => AesKey::new(bytes).map(PinKey::from),
                _ => return Err(ImportError::Malformed("a key algorithm is unknown").into()),
            }
            .map_err(|_| {
                ImportError::Malformed("a key has a length its algorithm does not take")
            })?;
            if key.kcv().as_bytes() != kcv {
                return Err(ImportError::Malformed("a key does not match its KCV").into());
            }
            let key = ZoneKey {
                purpose,
                key: Arc::new(key),
            };
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

const TDES: u8 = 1;
const AES: u8 = 2;

fn info(key: &ZoneKey) -> ZoneKeyInfo {
    ZoneKeyInfo {
        purpose: key.purpose,
        algorithm: key.key.algorithm(),
        kcv: key.key.kcv(),
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
