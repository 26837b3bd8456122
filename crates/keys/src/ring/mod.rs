//! The RSA key ring of Mastercard Processing's seed set-PIN flow.
//!
//! The issuer publishes `{keyIndex, publicRsaKey}` from
//! `GET /public-keys?data_type_to_secure=PIN_BLOCK`; the device seals an ISO
//! format 1 block under that key and sends the index back in the `Key-Index`
//! header. The ring answers both sides: [`RsaKeyRing::publish`] and
//! [`RsaKeyRing::live_key`], with rotation and a grace period between.
//!
//! The ring holds key handles and public keys, never a private key: the
//! private halves live in a [`SecurityModule`], which decrypts the device's
//! cryptogram inside itself ([`LiveKey::pin_source`] names it for
//! [`SecurityModule::translate`]).

use std::fmt;
use std::time::Duration;

use pinset_envelope::{RsaPadding, RsaPublicKey};
use pinset_module::{KeyAlgorithm, KeyCheck, KeyRef, SecurityModule};

mod codec;
mod live;

pub use live::LiveKey;

use crate::snapshot::{self, Kind, SecretWriter};
use crate::store::{Lifecycle, RingKey};
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

/// A key to add to the ring with [`RsaKeyRing::rotate`]: a handle to an
/// RSA key pair in a [`SecurityModule`], its public key, and its settings.
///
/// The key's purpose is the one its handle carries. Defaults: padding
/// OAEP-SHA-256, no not-after date.
#[derive(Clone, Debug)]
pub struct NewKey {
    key_index: KeyIndex,
    key: RingKey,
    padding: RsaPadding,
    not_after: Option<Timestamp>,
}

impl NewKey {
    /// A key pair already in a module, with its public key.
    ///
    /// # Errors
    ///
    /// [`KeyError::KeyMismatch`] unless `handle` names an RSA key whose
    /// fingerprint is `public`'s.
    pub fn new(
        key_index: KeyIndex,
        handle: KeyRef,
        public: RsaPublicKey,
    ) -> Result<Self, KeyError> {
        let fits = matches!(handle.algorithm(), KeyAlgorithm::Rsa { .. })
            && handle.check() == KeyCheck::Fingerprint(public.fingerprint_bytes());
        if !fits {
            return Err(KeyError::KeyMismatch(handle.id().to_owned()));
        }
        Ok(NewKey {
            key_index,
            key: RingKey { handle, public },
            padding: RsaPadding::default(),
            not_after: None,
        })
    }

    /// A key pair already in `module`, its public key read from the module.
    ///
    /// # Errors
    ///
    /// [`KeyError::Module`] if the module refuses or fails, and as [`new`](Self::new).
    pub async fn from_module<M: SecurityModule>(
        module: &M,
        key_index: KeyIndex,
        handle: KeyRef,
    ) -> Result<Self, KeyError> {
        let public = module.rsa_public_key(&handle).await?;
        NewKey::new(key_index, handle, public)
    }

    /// Generates a key pair of `bits` (2048 to 4096) for `purpose` inside
    /// `module` (RSA-2048 generation takes a while in software: do it ahead
    /// of time).
    ///
    /// # Errors
    ///
    /// [`KeyError::Module`] if the module refuses or fails.
    pub async fn generate<M: SecurityModule>(
        module: &M,
        key_index: KeyIndex,
        bits: usize,
        purpose: KeyPurpose,
    ) -> Result<Self, KeyError> {
        let (handle, public) = module.generate_rsa(bits, purpose).await?;
        NewKey::new(key_index, handle, public)
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

    /// The key's handle.
    pub fn key(&self) -> &KeyRef {
        &self.key.handle
    }

    /// The public key, as the ring will publish it.
    pub fn public_key(&self) -> &RsaPublicKey {
        &self.key.public
    }
}

/// A key the ring let go: retired by a rotation with zero grace, or swept
/// after its grace period. Its handle is reported once, so the caller can
/// [`destroy`](SecurityModule::destroy) the private key in the module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetiredKey {
    /// The retired index.
    pub key_index: KeyIndex,
    /// The handle of its private key in the security module.
    pub key: KeyRef,
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
    /// Keys this write retired (the previous key with a zero grace, and any
    /// that lapsed meanwhile): destroy them in the module.
    pub retired: Vec<RetiredKey>,
}

/// RSA key pairs under key indexes, with one active key, rotation with a
/// grace period, and retirement.
///
/// - [`publish`](Self::publish) gives the active key for `GET /public-keys`.
/// - [`rotate`](Self::rotate) makes a new key active; the previous one
///   decrypts for a grace period (`DecryptOnly`), then is `Retired`. The
///   clock is read at every lookup, so retirement needs no timer;
///   [`sweep`](Self::sweep) writes it down and hands back the retired
///   handles, for the caller to destroy in the module.
/// - [`live_key`](Self::live_key) names the key a device's cryptogram is
///   under, by the index the device sent. A retired index fails with
///   [`KeyError::RetiredKeyIndex`], whose [`KeyError::is_refetch`] tells the
///   client to fetch the public key again; an index never issued fails with
///   [`KeyError::UnknownKeyIndex`].
/// - [`export`](Self::export) and [`import`](Self::import) move the whole
///   ring under a [`Kek`].
///
/// The ring holds handles and public keys; the private keys stay in a
/// [`SecurityModule`]. Storage is a [`KeyStore`] ([`MemoryKeyStore`] by
/// default) and time a [`Clock`] ([`SystemClock`] by default). `RsaKeyRing` is `Send + Sync`:
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
    /// Every key index, state, date, padding, purpose, key handle and public
    /// key comes back as it was. A tampered or truncated export, or the wrong KEK,
    /// fails with [`KeyError::Import`] and builds nothing.
    pub async fn import(export: &[u8], kek: &Kek, clock: C) -> Result<Self, KeyError> {
        RsaKeyRing::import_into(export, kek, MemoryKeyStore::new(), clock).await
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
    pub async fn import_into(
        export: &[u8],
        kek: &Kek,
        store: S,
        clock: C,
    ) -> Result<Self, KeyError> {
        let entries = codec::decode_ring(export, kek)?;
        let current = store.snapshot().await?;
        if !current.entries.is_empty() {
            return Err(KeyError::StoreNotEmpty);
        }
        store.compare_and_swap(current.generation, entries).await?;
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
    pub async fn entries(&self) -> Result<Vec<RingEntry>, KeyError> {
        Ok(self.store.snapshot().await?.entries)
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
    /// use pinset_envelope::RsaPublicKey;
    /// use pinset_keys::{KeyIndex, KeyPurpose, NewKey, PublicKeyForm, RsaKeyRing};
    /// use pinset_module::{SecurityModule, SoftwareModule};
    /// use std::time::Duration;
    ///
    /// # pollster::block_on(async {
    /// let module = SoftwareModule::new()?;
    /// let der = pinset_envelope::RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa2048.pem"))?.to_pkcs8_der()?;
    /// let handle = module.import_rsa_private(KeyPurpose::PinEncryption, &der).await?;
    /// let ring = RsaKeyRing::new();
    /// ring.rotate(NewKey::from_module(&module, KeyIndex::new("A1564386531162")?, handle).await?, Duration::ZERO).await?;
    ///
    /// let hex = ring.publish(PublicKeyForm::DerHex).await?;
    /// assert_eq!(hex.key_index.as_str(), "A1564386531162");
    /// assert!(hex.public_rsa_key.starts_with("30820122")); // DER SPKI of RSA-2048
    /// let body = ring.publish(PublicKeyForm::PemBody).await?;
    /// assert_eq!(RsaPublicKey::from_base64(&body.public_rsa_key)?, RsaPublicKey::from_hex(&hex.public_rsa_key)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn publish(&self, form: PublicKeyForm) -> Result<PublishedKey, KeyError> {
        self.publish_for(KeyPurpose::PinEncryption, form).await
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
    pub async fn publish_for(
        &self,
        purpose: KeyPurpose,
        form: PublicKeyForm,
    ) -> Result<PublishedKey, KeyError> {
        let now = self.clock.now();
        let snapshot = self.store.snapshot().await?;
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
        let key = match (entry.state_at(now), entry.live_key()) {
            (KeyState::Active, Some(key)) => key,
            (KeyState::Retired { since }, _) => {
                return Err(KeyError::ActiveKeyExpired {
                    key_index: entry.key_index.clone(),
                    since,
                });
            }
            _ => return Err(KeyError::NoActiveKey),
        };
        Ok(PublishedKey {
            key_index: entry.key_index.clone(),
            public_rsa_key: match form {
                PublicKeyForm::DerHex => key.public.to_hex(),
                PublicKeyForm::PemBody => key.public.to_base64(),
            },
        })
    }

    /// Makes `new` the active key. The previous active key decrypts until
    /// now + `grace` (`DecryptOnly`), then is retired; with a zero grace it
    /// is retired at once, and its handle comes back in
    /// [`Rotation::retired`]. On an empty ring this installs the first key.
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
    /// use pinset_block::{Format, Pan, Pin};
    /// use pinset_envelope::RsaPadding;
    /// use pinset_keys::{KeyIndex, KeyPurpose, ManualClock, NewKey, RsaKeyRing, Timestamp};
    /// use pinset_module::{KeyAlgorithm, SecurityModule, SoftwareModule, TranslatePin};
    /// use rand_core::SeedableRng;
    ///
    /// # pollster::block_on(async {
    /// let module = SoftwareModule::new()?;
    /// let clock = ManualClock::new(Timestamp::from_unix_secs(1_700_000_000));
    /// let ring = RsaKeyRing::with_clock(clock.clone());
    /// let old = NewKey::generate(&module, KeyIndex::new("K1")?, 2048, KeyPurpose::PinEncryption).await?;
    /// let device_key = old.public_key().clone();
    /// ring.rotate(old, Duration::ZERO).await?;
    ///
    /// // A device sealed a block under K1 just before the rotation...
    /// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
    /// let block = device_key.seal(Format::Iso1, &Pin::new("1234")?, None, RsaPadding::OaepSha256, &mut rng)?;
    /// let new = NewKey::generate(&module, KeyIndex::new("K2")?, 2048, KeyPurpose::PinEncryption).await?;
    /// ring.rotate(new, Duration::from_secs(600)).await?;
    ///
    /// // ...it still opens during the grace period,
    /// let zpk = module.import_symmetric(KeyAlgorithm::Tdes2, KeyPurpose::PinEncryption, &hex::decode("0123456789ABCDEFFEDCBA9876543210")?).await?;
    /// let pan = Pan::new("5141576351968605")?;
    /// let live = ring.live_key("K1").await?;
    /// let request = TranslatePin { source: live.pin_source(&block, Format::Iso1)?, destination: &zpk, format: Format::Iso0, pan: Some(&pan), policy: None };
    /// assert_eq!(module.translate(&request).await?.as_bytes().len(), 8);
    /// // and afterwards the client is told to fetch the public key again.
    /// clock.advance(Duration::from_secs(600));
    /// assert!(ring.live_key("K1").await.unwrap_err().is_refetch());
    /// // A sweep hands back the retired handle, to destroy in the module.
    /// for retired in ring.sweep().await? {
    ///     module.destroy(&retired.key).await?;
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn rotate(&self, new: NewKey, grace: Duration) -> Result<Rotation, KeyError> {
        let NewKey {
            key_index,
            key,
            padding,
            not_after,
        } = new;
        let purpose = key.handle.purpose();
        let (mut rotation, retired) = self
            .write(|now, entries| {
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
                    retired: Vec::new(),
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
                                key: old.clone(),
                            }
                        };
                        rotation.previous = Some(entry.key_index.clone());
                        rotation.previous_until = Some(until);
                    }
                }
                entries.push(RingEntry {
                    key_index: key_index.clone(),
                    lifecycle: Lifecycle::Active(key.clone()),
                    created_at: now,
                    not_after,
                    padding,
                    purpose,
                });
                Ok(rotation)
            })
            .await?;
        rotation.retired = retired;
        Ok(rotation)
    }

    /// Writes down what the clock says: keys past their grace period or
    /// not-after date become `Retired` and drop their handles. Returns the
    /// keys it retired, whose private keys the caller should now
    /// [`destroy`](SecurityModule::destroy) in the module.
    ///
    /// Lookups already treat such keys as retired; sweeping only stores it
    /// and lets go of the handles.
    ///
    /// # Errors
    ///
    /// [`KeyError::Store`] if the store fails or keeps conflicting.
    pub async fn sweep(&self) -> Result<Vec<RetiredKey>, KeyError> {
        // `write` settles every entry and reports what it retired.
        Ok(self.write(|_, _| Ok(())).await?.1)
    }

    /// The live key under `key_index` (as the client sent it): its handle
    /// and padding, ready for the security module.
    ///
    /// # Errors
    ///
    /// [`KeyError::UnknownKeyIndex`] for an index never issued,
    /// [`KeyError::RetiredKeyIndex`] for one past its grace period or
    /// not-after date (answer the client with the refetch hint,
    /// [`KeyError::is_refetch`]), and [`KeyError::InvalidId`] for text that
    /// is no index.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pinset_keys::{KeyError, KeyIndex, KeyPurpose, NewKey, RsaKeyRing};
    /// use pinset_module::SoftwareModule;
    ///
    /// # pollster::block_on(async {
    /// let module = SoftwareModule::new()?;
    /// let ring = RsaKeyRing::new();
    /// ring.rotate(NewKey::generate(&module, KeyIndex::new("K1")?, 2048, KeyPurpose::PinEncryption).await?, Duration::ZERO).await?;
    /// let live = ring.live_key("K1").await?;
    /// assert_eq!(live.key_index().as_str(), "K1");
    /// assert!(matches!(ring.live_key("K9").await, Err(KeyError::UnknownKeyIndex(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn live_key(&self, key_index: &str) -> Result<LiveKey, KeyError> {
        let key_index = KeyIndex::new(key_index)?;
        let Some(entry) = self.store.get(&key_index).await? else {
            return Err(KeyError::UnknownKeyIndex(key_index));
        };
        match (entry.state_at(self.clock.now()), entry.live_key()) {
            (KeyState::Retired { since }, _) => Err(KeyError::RetiredKeyIndex { key_index, since }),
            (_, Some(key)) => Ok(LiveKey {
                key_index,
                padding: entry.padding,
                purpose: entry.purpose,
                key: key.handle.clone(),
            }),
            // A live state always holds a key (`Lifecycle` has no other shape).
            (_, None) => Err(KeyError::RetiredKeyIndex {
                key_index,
                since: entry.created_at,
            }),
        }
    }

    /// Serializes the whole ring (every index, state, date, padding,
    /// purpose, key handle and public key) and wraps it under `kek` with AES
    /// key wrap with padding (RFC 5649), which keeps it whole: an export
    /// holds no private key.
    ///
    /// # Errors
    ///
    /// [`KeyError::Store`] if the store cannot be read.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pinset_keys::{Kek, KeyIndex, KeyPurpose, NewKey, PublicKeyForm, RsaKeyRing, SystemClock};
    /// use pinset_module::SoftwareModule;
    ///
    /// # pollster::block_on(async {
    /// let module = SoftwareModule::new()?;
    /// let ring = RsaKeyRing::new();
    /// ring.rotate(NewKey::generate(&module, KeyIndex::new("K1")?, 2048, KeyPurpose::PinEncryption).await?, Duration::ZERO).await?;
    ///
    /// let kek = Kek::new(&[0x42; 32])?;
    /// let export = ring.export(&kek).await?;
    /// let restored = RsaKeyRing::import(&export, &kek, SystemClock).await?;
    /// assert_eq!(restored.publish(PublicKeyForm::DerHex).await?, ring.publish(PublicKeyForm::DerHex).await?);
    /// assert_eq!(restored.live_key("K1").await?.key(), ring.live_key("K1").await?.key());
    /// assert!(RsaKeyRing::import(&export[..export.len() - 1], &kek, SystemClock).await.is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn export(&self, kek: &Kek) -> Result<Vec<u8>, KeyError> {
        seal_entries(&self.store.snapshot().await?.entries, kek)
    }

    /// Reads the ring, lets `edit` change it, settles every entry against
    /// the clock (lapsed keys become retired and drop their handles), and
    /// writes it back in one compare-and-swap if anything changed, retrying
    /// from a fresh read on conflict. `edit` may refuse. Returns what `edit`
    /// returned and the keys the write retired.
    async fn write<T>(
        &self,
        mut edit: impl FnMut(Timestamp, &mut Vec<RingEntry>) -> Result<T, KeyError>,
    ) -> Result<(T, Vec<RetiredKey>), KeyError> {
        let mut conflict = StoreError::Conflict {
            expected: 0,
            found: 0,
        };
        for _ in 0..CAS_ATTEMPTS {
            let snapshot = self.store.snapshot().await?;
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
                return Ok((result, Vec::new()));
            }
            // Entries are only appended, so the old ones keep their places.
            // A handle another live entry still uses (the same key pair
            // under a new index) is not the caller's to destroy.
            let live: Vec<&KeyRef> = entries
                .iter()
                .filter_map(|e| e.live_key().map(|k| &k.handle))
                .collect();
            let retired = snapshot
                .entries
                .iter()
                .zip(&entries)
                .filter_map(
                    |(before, after)| match (before.live_key(), after.live_key()) {
                        (Some(key), None) if !live.contains(&&key.handle) => Some(RetiredKey {
                            key_index: before.key_index.clone(),
                            key: key.handle.clone(),
                        }),
                        _ => None,
                    },
                )
                .collect();
            match self
                .store
                .compare_and_swap(snapshot.generation, entries)
                .await
            {
                Ok(_) => return Ok((result, retired)),
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

/// The export format of a ring's entries: see [`RingEntry::seal`].
pub(crate) fn seal_entries(entries: &[RingEntry], kek: &Kek) -> Result<Vec<u8>, KeyError> {
    let mut body = SecretWriter::new();
    body.count(entries.len());
    for entry in entries {
        codec::encode_entry(&mut body, entry);
    }
    snapshot::seal(Kind::RsaRing, kek, body)
}

/// Reads [`seal_entries`]: see [`RingEntry::open`].
pub(crate) fn open_entries(sealed: &[u8], kek: &Kek) -> Result<Vec<RingEntry>, KeyError> {
    codec::decode_ring(sealed, kek)
}
