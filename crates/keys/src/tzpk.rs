//! Temporary zone PIN keys of Enfuce's seed set-PIN flow.
//!
//! The device sends its RSA public key (base64 of DER SPKI); the issuer
//! answers with a fresh 16-byte TDES key (the tzpk) wrapped with RSA-OAEP
//! SHA-256 (MGF1-SHA-256, empty label), base64, bound to a `controlId` that
//! lives 30 seconds and opens one PIN block.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pinset_envelope::{Kcv, RsaPadding, RsaPublicKey, TdesKey};
use rand_core::CryptoRng;

use crate::{Clock, ControlId, MonotonicClock, PlasticRef, Timestamp, TzpkError};

/// How long a temporary key lives unless set otherwise: 30 seconds, as Enfuce's `controlId`.
pub const DEFAULT_TZPK_TTL: Duration = Duration::from_secs(30);

/// What [`TemporaryKeys::issue`] answers the device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappedTzpk {
    control_id: ControlId,
    encrypted_key: String,
    kcv: Kcv,
    expires_at: Timestamp,
}

impl WrappedTzpk {
    /// The control id the key is bound to.
    pub fn control_id(&self) -> &ControlId {
        &self.control_id
    }

    /// The tzpk under the device's RSA key (OAEP-SHA-256), base64.
    pub fn encrypted_key(&self) -> &str {
        &self.encrypted_key
    }

    /// The tzpk's KCV, for the device to check its unwrap.
    pub fn kcv(&self) -> Kcv {
        self.kcv
    }

    /// When the key stops being accepted.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
}

enum Slot {
    /// Issued and not yet taken. Boxed: a TDES key schedule is large.
    Pending {
        plastic: PlasticRef,
        key: Box<TdesKey>,
        expires_at: Timestamp,
    },
    /// Taken: a tombstone, so a replay says `AlreadyUsed`.
    Used { expires_at: Timestamp },
    /// Its TTL ran out untaken; the key is gone.
    Lapsed { expires_at: Timestamp },
}

impl Slot {
    fn expires_at(&self) -> Timestamp {
        match self {
            Slot::Pending { expires_at, .. }
            | Slot::Used { expires_at }
            | Slot::Lapsed { expires_at } => *expires_at,
        }
    }
}

struct Table {
    slots: HashMap<ControlId, Slot>,
    next_sweep: Timestamp,
}

/// Single-use temporary TDES keys bound to a control id and a plastic, with
/// a time to live (30 s unless set otherwise).
///
/// [`issue`](Self::issue) makes a key and wraps it for the device;
/// [`take`](Self::take) hands it to the issuer once. A second take of the
/// same id fails with [`TzpkError::AlreadyUsed`] until the id's TTL has
/// passed, and of two concurrent takes exactly one wins. Thread-safe behind
/// `&self`; expired entries are forgotten by [`sweep`](Self::sweep), which
/// `issue` also runs once per TTL.
///
/// ```
/// use base64::Engine;
/// use pinset_envelope::{rsa, RsaPadding, RsaPrivateKey};
/// use pinset_keys::{ControlId, PlasticRef, TemporaryKeys};
/// use rand_core::SeedableRng;
///
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
/// let device = RsaPrivateKey::from_pem(include_str!("../../envelope/tests/data/rsa2048.pem"))?;
/// let tzpks = TemporaryKeys::new();
/// let (id, plastic) = (ControlId::generate(&mut rng), PlasticRef::new("contract-1029/2")?);
///
/// // Issuer: wrap a fresh tzpk under the device's public key.
/// let wrapped = tzpks.issue(id.clone(), plastic.clone(), &device.public_key(), &mut rng)?;
/// // Device: unwrap it.
/// let der = base64::engine::general_purpose::STANDARD.decode(wrapped.encrypted_key())?;
/// let device_tzpk = rsa::unwrap_tdes_key(&device, RsaPadding::OaepSha256, &der)?;
/// assert_eq!(device_tzpk.kcv(), wrapped.kcv());
/// // Issuer, when the PIN block arrives: take it, once.
/// assert_eq!(tzpks.take(&id, &plastic)?.kcv(), wrapped.kcv());
/// assert!(tzpks.take(&id, &plastic).is_err()); // AlreadyUsed
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TemporaryKeys<C: Clock = MonotonicClock> {
    clock: C,
    ttl: Duration,
    table: Mutex<Table>,
}

impl TemporaryKeys {
    /// An empty table on the [`MonotonicClock`] with the default 30-second
    /// TTL: a step of the wall clock neither expires nor stretches a key.
    pub fn new() -> Self {
        TemporaryKeys::with_clock(MonotonicClock)
    }
}

impl Default for TemporaryKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> TemporaryKeys<C> {
    /// An empty table on `clock` with the default 30-second TTL.
    pub fn with_clock(clock: C) -> Self {
        TemporaryKeys {
            clock,
            ttl: DEFAULT_TZPK_TTL,
            table: Mutex::new(Table {
                slots: HashMap::new(),
                next_sweep: Timestamp::UNIX_EPOCH,
            }),
        }
    }

    /// The same table with another time to live (to the millisecond).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The time to live of each key.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> Result<MutexGuard<'_, Table>, TzpkError> {
        self.table.lock().map_err(|_| TzpkError::Poisoned)
    }

    /// Makes a fresh 16-byte TDES key from `rng`, wraps it under the
    /// device's RSA key with OAEP-SHA-256, and keeps it for `control_id` and
    /// `plastic` until now + TTL.
    ///
    /// The key has odd DES parity; a draw with K1 = K2 (single DES in
    /// disguise) is thrown away and drawn again. Fails with
    /// [`TzpkError::DuplicateControlId`] if the id is pending or used and
    /// not yet expired.
    pub fn issue<R: CryptoRng + ?Sized>(
        &self,
        control_id: ControlId,
        plastic: PlasticRef,
        device_public_key: &RsaPublicKey,
        rng: &mut R,
    ) -> Result<WrappedTzpk, TzpkError> {
        // Key making and the RSA operation run outside the lock.
        let key = fresh_tzpk(rng)?;
        let wrapped = device_public_key.wrap_key(&key, RsaPadding::OaepSha256, rng)?;
        let kcv = key.kcv();

        let now = self.clock.now();
        let expires_at = now.saturating_add(self.ttl);
        let mut table = self.lock()?;
        if now >= table.next_sweep {
            table.slots.retain(|_, slot| slot.expires_at() > now);
            table.next_sweep = expires_at;
        }
        if let Some(slot) = table.slots.get(&control_id) {
            if slot.expires_at() > now {
                return Err(TzpkError::DuplicateControlId(control_id));
            }
        }
        table.slots.insert(
            control_id.clone(),
            Slot::Pending {
                plastic,
                key: Box::new(key),
                expires_at,
            },
        );
        Ok(WrappedTzpk {
            control_id,
            encrypted_key: BASE64.encode(wrapped),
            kcv,
            expires_at,
        })
    }

    /// Hands over the key issued for `control_id`, once.
    ///
    /// - [`TzpkError::Unknown`]: never issued, or forgotten after expiry.
    /// - [`TzpkError::Expired`]: the TTL has passed (at exactly issue + TTL
    ///   it has); the key is destroyed.
    /// - [`TzpkError::AlreadyUsed`]: taken before (a replay).
    /// - [`TzpkError::PlasticMismatch`]: issued for another plastic; the key
    ///   stays available to its own.
    pub fn take(&self, control_id: &ControlId, plastic: &PlasticRef) -> Result<TdesKey, TzpkError> {
        let now = self.clock.now();
        let mut table = self.lock()?;
        let Some(slot) = table.slots.get_mut(control_id) else {
            return Err(TzpkError::Unknown(control_id.clone()));
        };
        let expires_at = slot.expires_at();
        if now >= expires_at {
            if matches!(slot, Slot::Pending { .. }) {
                // Drop (and so zeroize) the key now rather than at the next sweep.
                *slot = Slot::Lapsed { expires_at };
            }
            return Err(TzpkError::Expired {
                control_id: control_id.clone(),
                expired_at: expires_at,
            });
        }
        match std::mem::replace(slot, Slot::Used { expires_at }) {
            Slot::Pending {
                plastic: bound,
                key,
                ..
            // Clone out rather than move out of the box: the boxed original is
            // then dropped, and so zeroized, instead of freed as it is.
            } if bound == *plastic => Ok(TdesKey::clone(&key)),
            pending @ Slot::Pending { .. } => {
                *slot = pending;
                Err(TzpkError::PlasticMismatch(control_id.clone()))
            }
            Slot::Used { .. } => Err(TzpkError::AlreadyUsed(control_id.clone())),
            lapsed @ Slot::Lapsed { .. } => {
                *slot = lapsed;
                Err(TzpkError::Expired {
                    control_id: control_id.clone(),
                    expired_at: expires_at,
                })
            }
        }
    }

    /// Forgets every entry whose TTL has passed (their keys are zeroized);
    /// returns how many. Afterwards their ids answer [`TzpkError::Unknown`].
    pub fn sweep(&self) -> Result<usize, TzpkError> {
        let now = self.clock.now();
        let mut table = self.lock()?;
        let before = table.slots.len();
        table.slots.retain(|_, slot| slot.expires_at() > now);
        table.next_sweep = now.saturating_add(self.ttl);
        Ok(before - table.slots.len())
    }

    /// How many keys are issued, not taken and not expired.
    pub fn pending(&self) -> Result<usize, TzpkError> {
        let now = self.clock.now();
        Ok(self
            .lock()?
            .slots
            .values()
            .filter(|s| matches!(s, Slot::Pending { expires_at, .. } if *expires_at > now))
            .count())
    }
}

impl<C: Clock> fmt::Debug for TemporaryKeys<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporaryKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A fresh tzpk: see [`TdesKey::generate_double`].
fn fresh_tzpk<R: CryptoRng + ?Sized>(rng: &mut R) -> Result<TdesKey, TzpkError> {
    TdesKey::generate_double(rng).map_err(|e| match e {
        pinset_envelope::Error::WeakKey { .. } => TzpkError::DegenerateRng,
        e => TzpkError::Envelope(e),
    })
}
