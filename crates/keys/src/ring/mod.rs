//! The RSA key ring of Mastercard Processing's seed set-PIN flow.
//!
//! The issuer publishes `{keyIndex, publicRsaKey}` from
//! `GET /public-keys?data_type_to_secure=PIN_BLOCK`; the device seals an ISO
//! format 1 block under that key and sends the index back in the `Key-Index`
//! header. The ring answers both sides: [`RsaKeyRing::publish`] and
//! [`RsaKeyRing::open_pin_block`], with rotation and a grace period between.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use pinset_block::{Format, Pan, Pin};
use pinset_envelope::{RsaPadding, RsaPrivateKey};
use rand_core::CryptoRng;

mod codec;
mod decryptor;

pub use decryptor::RingDecryptor;

use crate::snapshot::{self, Kind, SecretWriter};
use crate::store::Lifecycle;
use crate::{
    Clock, Kek, KeyError, KeyIndex, KeyPurpose, KeyState, KeyStore, MemoryKeyStore, RingEntry,
    StoreError, SystemClock, Timestamp,
};

/// How many times a write retries when another writer changed the store first.
const CAS_ATTEMPTS: usize = 8;

/// How [`RsaKeyRing::publish`] encodes the public key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PublicKeyForm {
    /// Uppercase hex of the DER SubjectPublicKeyInfo: Mastercard Processing's default.
    #[default]
    DerHex,
    /// The PEM body without its BEGIN/END lines, on one line: base64 of the DER
    /// SubjectPublicKeyInfo.
    PemBody,
}

/// What `GET /public-keys` answers: the active key's index and public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedKey {
    /// `keyIndex`: the device sends it back in the `Key-Index` header.
    pub key_index: KeyIndex,
    /// `publicRsaKey`, in the form asked for.
    pub public_rsa_key: String,
}

/// A key to add to the ring with [`RsaKeyRing::rotate`], with its settings.
///
/// Defaults: padding OAEP-SHA-256, purpose PIN encryption, no not-after date.
#[derive(Clone, Debug)]
pub struct NewKey {
    key_index: KeyIndex,
    key: RsaPrivateKey,
    padding: RsaPadding,
    purpose: KeyPurpose,
    not_after: Option<Timestamp>,
}

impl NewKey {
    /// Wraps a key you generated or loaded (RSA-2048 generation takes a while:
    /// do it ahead of time, or in an HSM).
    pub fn new(key_index: KeyIndex, key: RsaPrivateKey) -> Self {
        NewKey {
            key_index,
            key,
            padding: RsaPadding::default(),
            purpose: KeyPurpose::PinEncryption,
            not_after: None,
        }
    }

    /// Generates a key of `bits` (2048 to 4096) from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(
        key_index: KeyIndex,
        bits: usize,
        rng: &mut R,
    ) -> Result<Self, KeyError> {
        Ok(NewKey::new(key_index, RsaPrivateKey::generate(bits, rng)?))
    }

    /// The padding devices use with this key (Mastercard Processing does not publish it).
    pub fn with_padding(mut self, padding: RsaPadding) -> Self {
        self.padding = padding;
        self
    }

    /// A date after which the key decrypts nothing, whatever its state.
    pub fn with_not_after(mut self, not_after: Timestamp) -> Self {
        self.not_after = Some(not_after);
        self
    }

    /// What the key may be used for; [`RsaKeyRing::open_pin_block`] needs
    /// [`KeyPurpose::PinEncryption`], the default.
    pub fn with_purpose(mut self, purpose: KeyPurpose) -> Self {
        self.purpose = purpose;
        self
    }
}

/// What a rotation did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    /// The new active key.
    pub active: KeyIndex,
    /// The key that was active before, if there was a live one.
    pub previous: Option<KeyIndex>,
    /// When the previous key stops decrypting (`Some` exactly when `previous` is).
    pub previous_until: Option<Timestamp>,
}

/// RSA key pairs under key indexes, with one active key, rotation with a
/// grace period, and retirement.
///
/// - [`publish`](Self::publish) gives the active key for `GET /public-keys`.
/// - [`rotate`](Self::rotate) makes a new key active; the previous one
///   decrypts for a grace period (`DecryptOnly`), then is `Retired`. The
///   clock is read at every lookup, so retirement needs no timer;
///   [`sweep`](Self::sweep) writes it down and drops the retired private keys.
/// - [`open_pin_block`](Self::open_pin_block) opens a device's cryptogram
///   under the index it names. A retired index fails with
///   [`KeyError::RetiredKeyIndex`], whose [`KeyError::is_refetch`] tells the
///   client to fetch the public key again; an index never issued fails with
///   [`KeyError::UnknownKeyIndex`].
/// - [`export`](Self::export) and [`import`](Self::import) move the whole
///   ring under a [`Kek`].
///
/// Storage is a [`KeyStore`] ([`MemoryKeyStore`] by default) and time a
/// [`Clock`] ([`SystemClock`] by default). `RsaKeyRing` is `Send + Sync`:
/// share it behind an `Arc`.
pub struct RsaKeyRing<S: KeyStore = MemoryKeyStore, C: Clock = SystemClock> {
    store: S,
    clock: C,
}

impl RsaKeyRing {
    /// An empty ring in memory on the system clock.
    pub fn new() -> Self {
        RsaKeyRing::with_store(MemoryKeyStore::new(), SystemClock)
    }
}

impl Default for RsaKeyRing {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> RsaKeyRing<MemoryKeyStore, C> {
    /// An empty ring in memory on `clock`.
    pub fn with_clock(clock: C) -> Self {
        RsaKeyRing::with_store(MemoryKeyStore::new(), clock)
    }

    /// Rebuilds a ring in memory from an [`export`](Self::export).
    ///
    /// Every key index, state, date, padding, purpose and private key comes
    /// back as it was. A tampered or truncated export, or the wrong KEK,
    /// fails with [`KeyError::Import`] and builds nothing.
    pub fn import(export: &[u8], kek: &Kek, clock: C) -> Result<Self, KeyError> {
        RsaKeyRing::import_into(export, kek, MemoryKeyStore::new(), clock)
    }
}

impl<S: KeyStore, C: Clock> RsaKeyRing<S, C> {
    /// A ring over `store` on `clock`. The store may already hold a ring.
    pub fn with_store(store: S, clock: C) -> Self {
        RsaKeyRing { store, clock }
    }

    /// Rebuilds a ring from an [`export`](Self::export) into `store`, which
    /// must be empty ([`KeyError::StoreNotEmpty`] otherwise). The export is
    /// checked completely before the store is written, in one write.
    pub fn import_into(export: &[u8], kek: &Kek, store: S, clock: C) -> Result<Self, KeyError> {
        let entries = codec::decode_ring(export, kek)?;
        let current = store.snapshot()?;
        if !current.entries.is_empty() {
            return Err(KeyError::StoreNotEmpty);
        }
        store.compare_and_swap(current.generation, entries)?;
        Ok(RsaKeyRing { store, clock })
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Every entry as stored (use [`RingEntry::state_at`] for the state now).
    pub fn entries(&self) -> Result<Vec<RingEntry>, KeyError> {
        Ok(self.store.snapshot()?.entries)
    }

    /// The active key's index and public key, for `GET /public-keys`.
    ///
    /// # Errors
    ///
    /// [`KeyError::NoActiveKey`] on an empty ring,
    /// [`KeyError::ActiveKeyExpired`] once the active key passed its
    /// not-after date, and [`KeyError::WrongPurpose`] if the active key is
    /// not for PIN encryption: devices would seal PIN blocks under it that
    /// the ring then refuses to open.
    ///
    /// ```
    /// use pinset_envelope::{RsaPrivateKey, RsaPublicKey};
    /// use pinset_keys::{KeyIndex, NewKey, PublicKeyForm, RsaKeyRing};
    /// use std::time::Duration;
    ///
    /// let ring = RsaKeyRing::new();
    /// let key = RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa2048.pem"))?;
    /// ring.rotate(NewKey::new(KeyIndex::new("A1564386531162")?, key), Duration::ZERO)?;
    ///
    /// let hex = ring.publish(PublicKeyForm::DerHex)?;
    /// assert_eq!(hex.key_index.as_str(), "A1564386531162");
    /// assert!(hex.public_rsa_key.starts_with("30820122")); // DER SPKI of RSA-2048
    /// let body = ring.publish(PublicKeyForm::PemBody)?;
    /// assert_eq!(RsaPublicKey::from_base64(&body.public_rsa_key)?, RsaPublicKey::from_hex(&hex.public_rsa_key)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn publish(&self, form: PublicKeyForm) -> Result<PublishedKey, KeyError> {
        self.publish_for(KeyPurpose::PinEncryption, form)
    }

    /// The active key's index and public key, if it is tagged for
    /// `purpose`: for a ring of key-transport keys, say, whose devices wrap
    /// session keys under it rather than PIN blocks. [`publish`](Self::publish)
    /// is this for PIN encryption.
    ///
    /// # Errors
    ///
    /// As [`publish`](Self::publish), with [`KeyError::WrongPurpose`] when
    /// the active key is not for `purpose`.
    pub fn publish_for(
        &self,
        purpose: KeyPurpose,
        form: PublicKeyForm,
    ) -> Result<PublishedKey, KeyError> {
        let now = self.clock.now();
        let snapshot = self.store.snapshot()?;
        let entry = snapshot
            .entries
            .iter()
            .find(|e| e.state() == KeyState::Active)
            .ok_or(KeyError::NoActiveKey)?;
        // Devices use what is published as it says: one purpose per key.
        if entry.purpose != purpose {
            return Err(KeyError::WrongPurpose {
                key: entry.key_index.to_string(),
                expected: purpose,
                found: entry.purpose,
            });
        }
        let key = match (entry.state_at(now), entry.private_key()) {
            (KeyState::Active, Some(key)) => key,
            (KeyState::Retired { since }, _) => {
                return Err(KeyError::ActiveKeyExpired {
                    key_index: entry.key_index.clone(),
                    since,
                });
            }
            _ => return Err(KeyError::NoActiveKey),
        };
        let public = key.public_key();
        Ok(PublishedKey {
            key_index: entry.key_index.clone(),
            public_rsa_key: match form {
                PublicKeyForm::DerHex => public.to_hex(),
                PublicKeyForm::PemBody => public.to_base64(),
            },
        })
    }

    /// Makes `new` the active key. The previous active key decrypts until
    /// now + `grace` (`DecryptOnly`), then is retired; with a zero grace it
    /// is retired at once. On an empty ring this installs the first key.
    ///
    /// # Errors
    ///
    /// Nothing changes on any error.
    /// - [`KeyError::NewKeyExpired`] if the new key is already past its
    ///   not-after date: it would leave no active key, and with a zero grace
    ///   it would retire the live key too.
    /// - [`KeyError::DuplicateKeyIndex`] if the ring already holds the
    ///   index, even retired.
    /// - [`KeyError::Store`] if the store fails or keeps conflicting. The
    ///   write is one compare-and-swap of the whole ring, retried if another
    ///   writer got there first.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pinset_block::{Format, Pin};
    /// use pinset_envelope::{RsaPadding, RsaPrivateKey};
    /// use pinset_keys::{KeyIndex, ManualClock, NewKey, RsaKeyRing, Timestamp};
    /// use rand_core::SeedableRng;
    ///
    /// let clock = ManualClock::new(Timestamp::from_unix_secs(1_700_000_000));
    /// let ring = RsaKeyRing::with_clock(clock.clone());
    /// let old = RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa2048.pem"))?;
    /// let new = RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa3072.pem"))?;
    /// ring.rotate(NewKey::new(KeyIndex::new("K1")?, old.clone()), Duration::ZERO)?;
    ///
    /// // A device sealed a block under K1 just before the rotation...
    /// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
    /// let block = old.public_key().seal(Format::Iso1, &Pin::new("1234")?, None, RsaPadding::OaepSha256, &mut rng)?;
    /// ring.rotate(NewKey::new(KeyIndex::new("K2")?, new), Duration::from_secs(600))?;
    ///
    /// // ...it still opens during the grace period,
    /// assert_eq!(ring.open_pin_block("K1", Format::Iso1, &block, None)?.expose_digits(), b"1234");
    /// // and afterwards the client is told to fetch the public key again.
    /// clock.advance(Duration::from_secs(600));
    /// let err = ring.open_pin_block("K1", Format::Iso1, &block, None).unwrap_err();
    /// assert!(err.is_refetch());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rotate(&self, new: NewKey, grace: Duration) -> Result<Rotation, KeyError> {
        let NewKey {
            key_index,
            key,
            padding,
            purpose,
            not_after,
        } = new;
        let key = Arc::new(key);
        self.write(|now, entries| {
            if let Some(not_after) = not_after.filter(|na| *na <= now) {
                return Err(KeyError::NewKeyExpired {
                    key_index: key_index.clone(),
                    not_after,
                });
            }
            if entries.iter().any(|e| e.key_index == key_index) {
                return Err(KeyError::DuplicateKeyIndex(key_index.clone()));
            }
            let mut rotation = Rotation {
                active: key_index.clone(),
                previous: None,
                previous_until: None,
            };
            for entry in entries.iter_mut() {
                // An active key already past its not-after date is simply retired by `write`.
                if entry.state_at(now) != KeyState::Active {
                    continue;
                }
                if let Lifecycle::Active(old) = &entry.lifecycle {
                    let until = now.saturating_add(grace);
                    entry.lifecycle = if grace.is_zero() {
                        Lifecycle::Retired { since: now }
                    } else {
                        Lifecycle::DecryptOnly {
                            until,
                            key: Arc::clone(old),
                        }
                    };
                    rotation.previous = Some(entry.key_index.clone());
                    rotation.previous_until = Some(until);
                }
            }
            entries.push(RingEntry {
                key_index: key_index.clone(),
                lifecycle: Lifecycle::Active(Arc::clone(&key)),
                created_at: now,
                not_after,
                padding,
                purpose,
            });
            Ok(rotation)
        })
    }

    /// [`rotate`](Self::rotate) to a freshly generated key of `bits` (2048 to
    /// 4096) with the default settings. Generation takes a while.
    pub fn rotate_generate<R: CryptoRng + ?Sized>(
        &self,
        key_index: KeyIndex,
        bits: usize,
        grace: Duration,
        rng: &mut R,
    ) -> Result<Rotation, KeyError> {
        self.rotate(NewKey::generate(key_index, bits, rng)?, grace)
    }

    /// Writes down what the clock says: keys past their grace period or
    /// not-after date become `Retired` and their private keys are dropped
    /// (zeroized once no handle holds them). Returns the indexes it retired.
    ///
    /// Lookups already treat such keys as retired; sweeping only stores it
    /// and frees the key material.
    pub fn sweep(&self) -> Result<Vec<KeyIndex>, KeyError> {
        // `write` settles every entry; name the ones it is about to retire.
        self.write(|now, entries| {
            Ok(entries
                .iter()
                .filter(|e| e.private_key().is_some())
                .filter(|e| matches!(e.state_at(now), KeyState::Retired { .. }))
                .map(|e| e.key_index.clone())
                .collect())
        })
    }

    /// The live key under `key_index` (as the client sent it), ready to
    /// decrypt with its padding.
    ///
    /// Fails with [`KeyError::UnknownKeyIndex`] for an index never issued,
    /// [`KeyError::RetiredKeyIndex`] for one past its grace period or
    /// not-after date, and [`KeyError::InvalidId`] for text that is no index.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pinset_envelope::{rsa, RsaPrivateKey};
    /// use pinset_keys::{KeyError, KeyIndex, NewKey, RsaKeyRing};
    ///
    /// let ring = RsaKeyRing::new();
    /// let key = RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa2048.pem"))?;
    /// ring.rotate(NewKey::new(KeyIndex::new("K1")?, key), Duration::ZERO)?;
    /// let decryptor = ring.decryptor("K1")?; // implements rsa::RsaDecryptor
    /// assert_eq!(rsa::RsaDecryptor::public_key(&decryptor).bits(), 2048);
    /// assert!(matches!(ring.decryptor("K9"), Err(KeyError::UnknownKeyIndex(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decryptor(&self, key_index: &str) -> Result<RingDecryptor, KeyError> {
        let key_index = KeyIndex::new(key_index)?;
        let Some(entry) = self.store.get(&key_index)? else {
            return Err(KeyError::UnknownKeyIndex(key_index));
        };
        match (entry.state_at(self.clock.now()), entry.private_key()) {
            (KeyState::Retired { since }, _) => Err(KeyError::RetiredKeyIndex { key_index, since }),
            (_, Some(key)) => Ok(RingDecryptor {
                key_index,
                padding: entry.padding,
                purpose: entry.purpose,
                key: Arc::clone(key),
            }),
            // A live state always holds a key (`Lifecycle` has no other shape).
            (_, None) => Err(KeyError::RetiredKeyIndex {
                key_index,
                since: entry.created_at,
            }),
        }
    }

    /// Opens a device's RSA cryptogram under the key named by the `Key-Index`
    /// header, and decodes the PIN block inside as `format` (1 in both seed flows).
    ///
    /// Errors are detailed for the log. Answer a client with the refetch
    /// hint when [`KeyError::is_refetch`] holds, and with
    /// [`KeyError::outward`] otherwise.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pinset_block::{Format, Pin};
    /// use pinset_envelope::{RsaPadding, RsaPrivateKey, RsaPublicKey};
    /// use pinset_keys::{KeyIndex, NewKey, PublicKeyForm, RsaKeyRing};
    /// use rand_core::SeedableRng;
    ///
    /// let ring = RsaKeyRing::new();
    /// let key = RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa2048.pem"))?;
    /// ring.rotate(NewKey::new(KeyIndex::new("A1564386531162")?, key), Duration::ZERO)?;
    /// let published = ring.publish(PublicKeyForm::DerHex)?;
    ///
    /// let device_key = RsaPublicKey::from_hex(&published.public_rsa_key)?;
    /// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
    /// let cryptogram = device_key.seal(Format::Iso1, &Pin::new("7580")?, None, RsaPadding::OaepSha256, &mut rng)?;
    ///
    /// let pin = ring.open_pin_block(published.key_index.as_str(), Format::Iso1, &cryptogram, None)?;
    /// assert_eq!(pin.expose_digits(), b"7580");
    /// let err = ring.open_pin_block("A1564386531162", Format::Iso1, &cryptogram[1..], None).unwrap_err();
    /// assert_eq!(err.outward().to_string(), "the PIN block could not be decrypted or is not a valid PIN block");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_pin_block(
        &self,
        key_index: &str,
        format: Format,
        cryptogram: &[u8],
        pan: Option<&Pan>,
    ) -> Result<Pin, KeyError> {
        self.decryptor(key_index)?
            .open_pin_block(format, cryptogram, pan)
    }

    /// Serializes the whole ring (every index, state, date, padding, purpose
    /// and PKCS#8 private key) and wraps it under `kek` with AES key wrap with
    /// padding (RFC 5649). The clear serialization lives only in zeroizing memory.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pinset_envelope::RsaPrivateKey;
    /// use pinset_keys::{Kek, KeyIndex, NewKey, PublicKeyForm, RsaKeyRing, SystemClock};
    ///
    /// let ring = RsaKeyRing::new();
    /// let key = RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa2048.pem"))?;
    /// ring.rotate(NewKey::new(KeyIndex::new("K1")?, key), Duration::ZERO)?;
    ///
    /// let kek = Kek::new(&[0x42; 32])?;
    /// let export = ring.export(&kek)?;
    /// let restored = RsaKeyRing::import(&export, &kek, SystemClock)?;
    /// assert_eq!(restored.publish(PublicKeyForm::DerHex)?, ring.publish(PublicKeyForm::DerHex)?);
    /// assert!(RsaKeyRing::import(&export[..export.len() - 1], &kek, SystemClock).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn export(&self, kek: &Kek) -> Result<Vec<u8>, KeyError> {
        let entries = self.store.snapshot()?.entries;
        let mut body = SecretWriter::new();
        body.count(entries.len());
        for entry in &entries {
            codec::encode_entry(&mut body, entry)?;
        }
        snapshot::seal(Kind::RsaRing, kek, body)
    }

    /// Reads the ring, lets `edit` change it, settles every entry against
    /// the clock (lapsed keys become retired and drop their private keys),
    /// and writes it back in one compare-and-swap if anything changed,
    /// retrying from a fresh read on conflict. `edit` may refuse.
    fn write<T>(
        &self,
        mut edit: impl FnMut(Timestamp, &mut Vec<RingEntry>) -> Result<T, KeyError>,
    ) -> Result<T, KeyError> {
        let mut conflict = StoreError::Conflict {
            expected: 0,
            found: 0,
        };
        for _ in 0..CAS_ATTEMPTS {
            let snapshot = self.store.snapshot()?;
            let now = self.clock.now();
            let mut entries = snapshot.entries.clone();
            let result = edit(now, &mut entries)?;
            let entries: Vec<RingEntry> = entries.iter().map(|e| e.settled(now)).collect();
            let unchanged = entries.len() == snapshot.entries.len()
                && entries
                    .iter()
                    .zip(&snapshot.entries)
                    .all(|(a, b)| a.state() == b.state());
            if unchanged {
                return Ok(result);
            }
            match self.store.compare_and_swap(snapshot.generation, entries) {
                Ok(_) => return Ok(result),
                Err(e @ StoreError::Conflict { .. }) => conflict = e,
                Err(e) => return Err(e.into()),
            }
        }
        Err(conflict.into())
    }
}

impl<S: KeyStore, C: Clock> fmt::Debug for RsaKeyRing<S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaKeyRing").finish_non_exhaustive()
    }
}
