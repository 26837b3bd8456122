//! Where the RSA key ring keeps its entries: the [`KeyStore`] trait and [`MemoryKeyStore`].

use core::future::Future;
use std::sync::{Arc, RwLock};

use pinset_envelope::{RsaPadding, RsaPublicKey};
use pinset_module::KeyRef;

use crate::{KeyIndex, KeyPurpose, StoreError, Timestamp};

/// Where an RSA key is in its life.
///
/// A ring holds at most one `Active` key. Rotation moves the previous one to
/// `DecryptOnly` for a grace period; when that ends (or the key passes its
/// not-after date) it is `Retired`, which the ring works out from the clock
/// at each lookup and writes down in [`RsaKeyRing::sweep`](crate::RsaKeyRing::sweep).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Published, and decrypts.
    Active,
    /// No longer published; still decrypts blocks sealed before rotation.
    DecryptOnly {
        /// When it stops decrypting.
        until: Timestamp,
    },
    /// Decrypts nothing: clients must fetch the current public key.
    Retired {
        /// When it stopped decrypting.
        since: Timestamp,
    },
}

/// A live ring key: its handle in the security module, which holds the
/// private key, and its public half, which the ring publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RingKey {
    pub(crate) handle: KeyRef,
    pub(crate) public: RsaPublicKey,
}

/// The state and key together, so a retired entry cannot hold a key.
#[derive(Clone, Debug)]
pub(crate) enum Lifecycle {
    Active(RingKey),
    DecryptOnly { until: Timestamp, key: RingKey },
    Retired { since: Timestamp },
}

/// One RSA key of a ring with its index, state, dates, padding and purpose.
///
/// Built only by the ring; a [`KeyStore`] keeps and returns it. A live
/// entry holds the key's handle in the security module and its public key,
/// never the private key. Retired entries keep their metadata (so the index
/// answers "retired", not "unknown") but no handle.
#[derive(Clone, Debug)]
pub struct RingEntry {
    pub(crate) key_index: KeyIndex,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) created_at: Timestamp,
    pub(crate) not_after: Option<Timestamp>,
    pub(crate) padding: RsaPadding,
    pub(crate) purpose: KeyPurpose,
}

impl RingEntry {
    /// The key's index.
    pub fn key_index(&self) -> &KeyIndex {
        &self.key_index
    }

    /// The state as stored, without looking at the clock.
    pub fn state(&self) -> KeyState {
        match &self.lifecycle {
            Lifecycle::Active(_) => KeyState::Active,
            Lifecycle::DecryptOnly { until, .. } => KeyState::DecryptOnly { until: *until },
            Lifecycle::Retired { since } => KeyState::Retired { since: *since },
        }
    }

    /// The state at `now`: `Retired` once the grace period or the not-after date has passed.
    pub fn state_at(&self, now: Timestamp) -> KeyState {
        let stored = self.state();
        let end = match stored {
            KeyState::Retired { .. } => return stored,
            KeyState::Active => self.not_after,
            KeyState::DecryptOnly { until } => {
                Some(self.not_after.map_or(until, |na| na.min(until)))
            }
        };
        match end {
            Some(since) if now >= since => KeyState::Retired { since },
            _ => stored,
        }
    }

    /// When the key was added to the ring.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// The date after which the key decrypts nothing, whatever its state.
    pub fn not_after(&self) -> Option<Timestamp> {
        self.not_after
    }

    /// The padding the device uses with this key.
    pub fn padding(&self) -> RsaPadding {
        self.padding
    }

    /// What the key may be used for.
    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    /// The public key, unless the entry is retired and holds no key.
    pub fn public_key(&self) -> Option<&RsaPublicKey> {
        self.live_key().map(|k| &k.public)
    }

    /// The private key's handle in the security module, unless the entry is
    /// retired.
    pub fn key(&self) -> Option<&KeyRef> {
        self.live_key().map(|k| &k.handle)
    }

    /// The live key as stored, whatever the clock says.
    pub(crate) fn live_key(&self) -> Option<&RingKey> {
        match &self.lifecycle {
            Lifecycle::Active(key) | Lifecycle::DecryptOnly { key, .. } => Some(key),
            Lifecycle::Retired { .. } => None,
        }
    }

    /// Serializes `entries` (index, state, dates, padding, purpose, key
    /// handle and public key of each) and wraps them under `kek` with AES
    /// key wrap with padding (RFC 5649): the format of
    /// [`RsaKeyRing::export`](crate::RsaKeyRing::export), for a
    /// [`KeyStore`] to keep anywhere. It holds no private key.
    ///
    /// # Errors
    ///
    /// [`KeyError::ExportTooLarge`](crate::KeyError::ExportTooLarge) past 4 GiB.
    pub fn seal(entries: &[RingEntry], kek: &crate::Kek) -> Result<Vec<u8>, crate::KeyError> {
        crate::ring::seal_entries(entries, kek)
    }

    /// Reads what [`seal`](Self::seal) wrote, checking it whole first.
    ///
    /// # Errors
    ///
    /// [`KeyError::Import`](crate::KeyError::Import) for a tampered or
    /// truncated blob, the wrong KEK, a key index twice or two active keys.
    pub fn open(sealed: &[u8], kek: &crate::Kek) -> Result<Vec<RingEntry>, crate::KeyError> {
        crate::ring::open_entries(sealed, kek)
    }

    /// The entry as it stands at `now`: a lapsed key becomes `Retired` and drops its handle.
    pub(crate) fn settled(&self, now: Timestamp) -> RingEntry {
        let mut entry = self.clone();
        if let (KeyState::Retired { since }, Some(_)) = (self.state_at(now), self.live_key()) {
            entry.lifecycle = Lifecycle::Retired { since };
        }
        entry
    }
}

/// Everything a store holds, with the generation it was read at.
#[derive(Clone, Debug, Default)]
pub struct RingSnapshot {
    /// Increases by one at every successful [`KeyStore::compare_and_swap`].
    pub generation: u64,
    /// The entries, in the order they were added.
    pub entries: Vec<RingEntry>,
}

/// Storage for an [`RsaKeyRing`](crate::RsaKeyRing): the whole ring is read as
/// a snapshot and replaced with a compare-and-swap on its generation, so a
/// rotation (new key in, old key out) is one atomic write, and of two
/// instances rotating at once exactly one wins; the other reads again.
///
/// [`MemoryKeyStore`] is the in-process store; `pinset-redis` keeps the
/// ring in Redis for several instances. Implementations only keep entries:
/// the ring checks the rules (one active key, unique indexes). An entry
/// holds handles and public keys, never a private key, and
/// [`RingEntry::seal`] turns a ring into the KEK-wrapped export format for
/// storage anywhere. Every method is async, so a network round trip never
/// blocks an executor; a store that fails answers [`StoreError::Backend`],
/// which the flows turn into a retryable 500.
///
/// A store over another database keeps one sealed blob and its generation,
/// and swaps both in one transaction:
///
/// ```
/// use std::sync::Mutex;
/// use pinset_keys::{Kek, KeyStore, RingEntry, RingSnapshot, StoreError};
///
/// /// Stands for a table `ring(generation BIGINT, sealed BYTEA)` of one row.
/// struct SqlKeyStore {
///     kek: Kek,
///     row: Mutex<(u64, Vec<u8>)>,
/// }
///
/// fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
///     StoreError::Backend(Box::new(e))
/// }
///
/// impl KeyStore for SqlKeyStore {
///     async fn snapshot(&self) -> Result<RingSnapshot, StoreError> {
///         // SELECT generation, sealed FROM ring
///         let (generation, sealed) = self.row.lock().map_err(|_| StoreError::Poisoned)?.clone();
///         let entries = if sealed.is_empty() { Vec::new() } else { RingEntry::open(&sealed, &self.kek).map_err(backend)? };
///         Ok(RingSnapshot { generation, entries })
///     }
///
///     async fn compare_and_swap(&self, generation: u64, entries: Vec<RingEntry>) -> Result<u64, StoreError> {
///         let sealed = RingEntry::seal(&entries, &self.kek).map_err(backend)?;
///         // UPDATE ring SET generation = generation + 1, sealed = $2 WHERE generation = $1
///         let mut row = self.row.lock().map_err(|_| StoreError::Poisoned)?;
///         if row.0 != generation {
///             return Err(StoreError::Conflict { expected: generation, found: row.0 });
///         }
///         *row = (generation + 1, sealed);
///         Ok(row.0)
///     }
/// }
///
/// # pollster::block_on(async {
/// let store = SqlKeyStore { kek: Kek::new(&[0x42; 32])?, row: Mutex::new((0, Vec::new())) };
/// assert_eq!(store.compare_and_swap(0, Vec::new()).await?, 1);
/// assert!(matches!(store.compare_and_swap(0, Vec::new()).await, Err(StoreError::Conflict { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub trait KeyStore: Send + Sync {
    /// Reads every entry and the current generation.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the store cannot be read.
    fn snapshot(&self) -> impl Future<Output = Result<RingSnapshot, StoreError>> + Send;

    /// Reads one entry. The default scans a snapshot; override it with a lookup.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the store cannot be read.
    fn get(
        &self,
        key_index: &KeyIndex,
    ) -> impl Future<Output = Result<Option<RingEntry>, StoreError>> + Send {
        async move {
            Ok(self
                .snapshot()
                .await?
                .entries
                .into_iter()
                .find(|e| e.key_index() == key_index))
        }
    }

    /// Replaces every entry with `entries` if the store is still at
    /// `generation`, and returns the new generation.
    ///
    /// # Errors
    ///
    /// [`StoreError::Conflict`] if another writer got there first; nothing
    /// changes.
    fn compare_and_swap(
        &self,
        generation: u64,
        entries: Vec<RingEntry>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl<S: KeyStore + ?Sized> KeyStore for Arc<S> {
    fn snapshot(&self) -> impl Future<Output = Result<RingSnapshot, StoreError>> + Send {
        (**self).snapshot()
    }

    fn get(
        &self,
        key_index: &KeyIndex,
    ) -> impl Future<Output = Result<Option<RingEntry>, StoreError>> + Send {
        (**self).get(key_index)
    }

    fn compare_and_swap(
        &self,
        generation: u64,
        entries: Vec<RingEntry>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        (**self).compare_and_swap(generation, entries)
    }
}

/// A [`KeyStore`] in process memory, behind an `RwLock`. It holds handles
/// and public keys only.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    inner: RwLock<RingSnapshot>,
}

impl MemoryKeyStore {
    /// An empty store at generation 0.
    pub fn new() -> Self {
        Self::default()
    }
}

impl KeyStore for MemoryKeyStore {
    async fn snapshot(&self) -> Result<RingSnapshot, StoreError> {
        Ok(self.inner.read().map_err(|_| StoreError::Poisoned)?.clone())
    }

    async fn get(&self, key_index: &KeyIndex) -> Result<Option<RingEntry>, StoreError> {
        let inner = self.inner.read().map_err(|_| StoreError::Poisoned)?;
        Ok(inner
            .entries
            .iter()
            .find(|e| e.key_index() == key_index)
            .cloned())
    }

    async fn compare_and_swap(
        &self,
        generation: u64,
        entries: Vec<RingEntry>,
    ) -> Result<u64, StoreError> {
        let mut inner = self.inner.write().map_err(|_| StoreError::Poisoned)?;
        if inner.generation != generation {
            return Err(StoreError::Conflict {
                expected: generation,
                found: inner.generation,
            });
        }
        inner.generation += 1;
        inner.entries = entries;
        Ok(inner.generation)
    }
}
