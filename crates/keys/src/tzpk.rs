//! Enfuce's controlIds and their temporary zone PIN keys, one record each.
//!
//! A `controlId` lives 30 seconds and opens one PIN block. The device sends
//! its RSA public key (base64 of DER SPKI); the issuer's security module
//! generates a fresh 16-byte TDES key (the tzpk) and wraps it with RSA-OAEP
//! SHA-256 (MGF1-SHA-256, empty label); the table keeps the key's handle,
//! bound to that controlId. The control and its key are one record on one
//! clock, so they cannot disagree about whether the control is live.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pinset_envelope::Kcv;
use pinset_module::KeyRef;
use sha2::{Digest, Sha256};

use crate::{
    Clock, ControlBinding, ControlId, ControlStore, MonotonicClock, PlasticRef, Timestamp,
    TzpkCustody, TzpkError,
};

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

/// One controlId's record. `B` is what the control is bound to (a plastic).
enum Slot<B> {
    /// A control opened; no key wrapped for it yet.
    Open { binding: B, expires_at: Timestamp },
    /// A key issued and not yet taken: a handle, or wrapped under a KEK.
    Pending {
        binding: B,
        key: TzpkCustody,
        expires_at: Timestamp,
    },
    /// Taken: a tombstone, so a replay says `AlreadyUsed`.
    Used { expires_at: Timestamp },
    /// Its TTL ran out untaken; the key is gone.
    Lapsed { expires_at: Timestamp },
}

impl<B> Slot<B> {
    fn expires_at(&self) -> Timestamp {
        match self {
            Slot::Open { expires_at, .. }
            | Slot::Pending { expires_at, .. }
            | Slot::Used { expires_at }
            | Slot::Lapsed { expires_at } => *expires_at,
        }
    }
}

/// A controlId is a bearer value while it lives: the table keys records by
/// its SHA-256, so lookups compare digests, never the id's own bytes.
type IdDigest = [u8; 32];

fn digest(control_id: &ControlId) -> IdDigest {
    Sha256::digest(control_id.as_str().as_bytes()).into()
}

struct Table<B> {
    slots: HashMap<IdDigest, Slot<B>>,
    next_sweep: Timestamp,
    /// Handles of keys that expired untaken, for the caller to destroy.
    discarded: Vec<KeyRef>,
}

impl<B> Table<B> {
    /// Forgets every record past its TTL, keeping the handles of untaken keys.
    fn sweep(&mut self, now: Timestamp) -> usize {
        let before = self.slots.len();
        let discarded = &mut self.discarded;
        self.slots.retain(|_, slot| {
            let live = slot.expires_at() > now;
            if !live
                && let Slot::Pending {
                    key: TzpkCustody::Handle(key),
                    ..
                } = slot
            {
                discarded.push(key.clone());
            }
            live
        });
        before - self.slots.len()
    }
}

/// The in-process [`ControlStore`] the Enfuce flow uses unless given another.
pub type MemoryControlStore<C = MonotonicClock> = TemporaryKeys<C, ControlBinding>;

/// Enfuce's controlIds with their single-use temporary TDES keys: one record
/// per controlId, bound to what the control is for (`B`, a [`PlasticRef`]
/// unless set), with a time to live (30 s unless set otherwise). The table
/// keeps each key's [`KeyRef`] handle; the key itself stays in the security
/// module that generated it.
///
/// [`open`](Self::open) starts a control; [`issue_for_open`](Self::issue_for_open)
/// files the handle of a key the module generated and wrapped for the
/// device ([`issue`](Self::issue) does both for an id never opened);
/// [`take`](Self::take) and [`take_bound`](Self::take_bound) hand the
/// handle to the issuer once and spend the control. A second take of the
/// same id fails with [`TzpkError::AlreadyUsed`] until the record is swept
/// after its TTL, a spent or lapsed record is never armed again, and of two
/// concurrent takes exactly one wins. Thread-safe behind `&self`; expired
/// records are forgotten by [`sweep`](Self::sweep), which `open` and
/// `issue` also run once per TTL, so no call scans every live control. The
/// handles of keys that expired untaken wait in
/// [`take_discarded`](Self::take_discarded), for the caller to destroy.
///
/// ```
/// use base64::Engine;
/// use pinset_envelope::{rsa, RsaPadding, RsaPrivateKey};
/// use pinset_keys::{ControlId, PlasticRef, TemporaryKeys, TzpkCustody};
/// use pinset_module::{SecurityModule, SoftwareModule};
/// use rand_core::SeedableRng;
///
/// # pollster::block_on(async {
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
/// let module = SoftwareModule::new()?;
/// let device = RsaPrivateKey::from_pem(include_str!("../../envelope/tests/data/rsa2048.pem"))?;
/// let tzpks = TemporaryKeys::new();
/// let (id, plastic) = (ControlId::generate(&mut rng), PlasticRef::new("contract-1029/2")?);
///
/// // Issuer: the module makes a tzpk and wraps it under the device's public key.
/// let (tzpk, wrapped) = module.generate_tzpk(&device.public_key(), RsaPadding::OaepSha256).await?;
/// let issued = tzpks.issue(id.clone(), plastic.clone(), TzpkCustody::Handle(tzpk), &wrapped)?;
/// // Device: unwrap it.
/// let der = base64::engine::general_purpose::STANDARD.decode(issued.encrypted_key())?;
/// let device_tzpk = rsa::unwrap_tdes_key(&device, RsaPadding::OaepSha256, &der)?;
/// assert_eq!(device_tzpk.kcv(), issued.kcv());
/// // Issuer, when the PIN block arrives: take the handle, once.
/// let taken = tzpks.take(&id, &plastic)?;
/// assert!(tzpks.take(&id, &plastic).is_err()); // AlreadyUsed
/// module.destroy(taken.handle().expect("kept as a handle")).await?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct TemporaryKeys<C: Clock = MonotonicClock, B = PlasticRef> {
    clock: C,
    ttl: Duration,
    table: Mutex<Table<B>>,
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

impl<C: Clock, B: Clone + PartialEq> TemporaryKeys<C, B> {
    /// An empty table on `clock` with the default 30-second TTL.
    pub fn with_clock(clock: C) -> Self {
        TemporaryKeys {
            clock,
            ttl: DEFAULT_TZPK_TTL,
            table: Mutex::new(Table {
                slots: HashMap::new(),
                next_sweep: Timestamp::UNIX_EPOCH,
                discarded: Vec::new(),
            }),
        }
    }

    /// The same table with another time to live (to the millisecond).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The time to live of each control and its key.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> Result<MutexGuard<'_, Table<B>>, TzpkError> {
        self.table.lock().map_err(|_| TzpkError::Poisoned)
    }

    /// The table at `now`, swept if a TTL has passed since the last sweep.
    fn swept(&self, now: Timestamp) -> Result<MutexGuard<'_, Table<B>>, TzpkError> {
        let mut table = self.lock()?;
        if now >= table.next_sweep {
            table.sweep(now);
            table.next_sweep = now.saturating_add(self.ttl);
        }
        Ok(table)
    }

    /// Opens a control for `binding`, live until now + TTL, with no key yet.
    ///
    /// # Errors
    ///
    /// [`TzpkError::DuplicateControlId`] if the table holds the id at all
    /// (open, pending, used, or expired and not yet swept).
    pub fn open(&self, control_id: ControlId, binding: B) -> Result<Timestamp, TzpkError> {
        let now = self.clock.now();
        let expires_at = now.saturating_add(self.ttl);
        let mut table = self.swept(now)?;
        let id = digest(&control_id);
        // Any record, even expired and not yet swept, keeps its id: a spent
        // control is never opened again.
        if table.slots.contains_key(&id) {
            return Err(TzpkError::DuplicateControlId(control_id));
        }
        table.slots.insert(
            id,
            Slot::Open {
                binding,
                expires_at,
            },
        );
        Ok(expires_at)
    }

    /// What a live control is bound to.
    ///
    /// # Errors
    ///
    /// [`TzpkError::Unknown`], [`TzpkError::Expired`] or
    /// [`TzpkError::AlreadyUsed`].
    pub fn binding(&self, control_id: &ControlId) -> Result<B, TzpkError> {
        let now = self.clock.now();
        let table = self.lock()?;
        match table.slots.get(&digest(control_id)) {
            None => Err(TzpkError::Unknown(control_id.clone())),
            Some(slot) if now >= slot.expires_at() => Err(TzpkError::Expired {
                control_id: control_id.clone(),
                expired_at: slot.expires_at(),
            }),
            Some(Slot::Open { binding, .. } | Slot::Pending { binding, .. }) => Ok(binding.clone()),
            Some(Slot::Used { .. } | Slot::Lapsed { .. }) => {
                Err(TzpkError::AlreadyUsed(control_id.clone()))
            }
        }
    }

    /// Keeps `tzpk`, the handle of a key the security module generated
    /// and wrapped for the device as `wrapped`
    /// ([`SecurityModule::generate_tzpk`](pinset_module::SecurityModule::generate_tzpk)),
    /// for `control_id` and `binding` until the control expires. An open
    /// control for the same binding keeps its expiry; an id the table does
    /// not hold (never issued, or swept after its TTL) is opened now, live
    /// until now + TTL.
    ///
    /// On any error the table keeps nothing: destroy `tzpk` in the module.
    ///
    /// # Errors
    ///
    /// [`TzpkError::NotATzpk`] unless `tzpk` is a 2-key TDES PIN key;
    /// [`TzpkError::DuplicateControlId`] if the id already has a key or was
    /// used, and has not expired; [`TzpkError::Expired`] for a record past
    /// its TTL and not yet swept (never re-armed);
    /// [`TzpkError::PlasticMismatch`] if it was opened for another binding.
    pub fn issue(
        &self,
        control_id: ControlId,
        binding: B,
        tzpk: TzpkCustody,
        wrapped: &[u8],
    ) -> Result<WrappedTzpk, TzpkError> {
        let kcv = tzpk.kcv()?;
        let now = self.clock.now();
        let mut table = self.swept(now)?;
        let id = digest(&control_id);
        let expires_at = match table.slots.get(&id) {
            // Never issued, or forgotten once its TTL passed: a new record.
            None => now.saturating_add(self.ttl),
            Some(Slot::Open {
                binding: bound,
                expires_at,
            }) if *expires_at > now && *bound == binding => *expires_at,
            Some(Slot::Open { expires_at, .. }) if *expires_at > now => {
                return Err(TzpkError::PlasticMismatch(control_id));
            }
            // A spent or lapsed record is never armed again, even expired.
            Some(slot) if slot.expires_at() <= now => {
                return Err(TzpkError::Expired {
                    expired_at: slot.expires_at(),
                    control_id,
                });
            }
            Some(_) => return Err(TzpkError::DuplicateControlId(control_id)),
        };
        table.slots.insert(
            id,
            Slot::Pending {
                binding,
                key: tzpk,
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

    /// [`issue`](Self::issue) for a control [`open`](Self::open)ed before,
    /// whatever it is bound to: `tzpk` is kept only if the control is still
    /// open and live, in one step, so a control spent or expired meanwhile
    /// is never armed again. Returns the binding with the wrapped key. Check
    /// the control with [`binding`](Self::binding) before asking the module
    /// for a key, so an unknown id costs no RSA operation.
    ///
    /// On any error the table keeps nothing: destroy `tzpk` in the module.
    ///
    /// # Errors
    ///
    /// [`TzpkError::NotATzpk`], [`TzpkError::Unknown`],
    /// [`TzpkError::Expired`], [`TzpkError::DuplicateControlId`] (a key was
    /// issued already) or [`TzpkError::AlreadyUsed`].
    pub fn issue_for_open(
        &self,
        control_id: ControlId,
        tzpk: TzpkCustody,
        wrapped: &[u8],
    ) -> Result<(B, WrappedTzpk), TzpkError> {
        let (binding, kcv, expires_at) = self.attach_key(&control_id, tzpk)?;
        Ok((
            binding,
            WrappedTzpk {
                control_id,
                encrypted_key: BASE64.encode(wrapped),
                kcv,
                expires_at,
            },
        ))
    }

    /// The one critical section of [`issue_for_open`](Self::issue_for_open).
    fn attach_key(
        &self,
        control_id: &ControlId,
        tzpk: TzpkCustody,
    ) -> Result<(B, Kcv, Timestamp), TzpkError> {
        let kcv = tzpk.kcv()?;
        let control_id = control_id.clone();
        let now = self.clock.now();
        let mut table = self.lock()?;
        let id = digest(&control_id);
        let Some(slot) = table.slots.get_mut(&id) else {
            return Err(TzpkError::Unknown(control_id));
        };
        let expires_at = slot.expires_at();
        if now >= expires_at {
            return Err(TzpkError::Expired {
                control_id,
                expired_at: expires_at,
            });
        }
        let binding = match slot {
            Slot::Open { binding, .. } => binding.clone(),
            Slot::Pending { .. } => return Err(TzpkError::DuplicateControlId(control_id)),
            Slot::Used { .. } | Slot::Lapsed { .. } => {
                return Err(TzpkError::AlreadyUsed(control_id));
            }
        };
        *slot = Slot::Pending {
            binding: binding.clone(),
            key: tzpk,
            expires_at,
        };
        Ok((binding, kcv, expires_at))
    }

    /// Hands over the handle of the key issued for `control_id`, once, if
    /// it was issued for `binding`. Destroy the key in the module once the
    /// PIN block is translated.
    ///
    /// # Errors
    ///
    /// - [`TzpkError::Unknown`]: never issued, or forgotten after expiry.
    /// - [`TzpkError::Expired`]: the TTL has passed (at exactly issue + TTL
    ///   it has); the handle moves to [`take_discarded`](Self::take_discarded).
    /// - [`TzpkError::AlreadyUsed`]: taken before (a replay).
    /// - [`TzpkError::PlasticMismatch`]: issued for another binding; the key
    ///   stays available to its own.
    /// - [`TzpkError::NotIssued`]: the control is open but no key was issued;
    ///   the control stays open.
    pub fn take(&self, control_id: &ControlId, binding: &B) -> Result<TzpkCustody, TzpkError> {
        match self.take_where(control_id, |bound| bound == binding, false)? {
            (_, Some(key)) => Ok(key),
            (_, None) => Err(TzpkError::NotIssued(control_id.clone())),
        }
    }

    /// Spends the control `control_id` whatever it holds, and hands over
    /// what it was bound to with its key, if one was issued (`None` if the
    /// device never fetched one). For a flow that knows the control by id
    /// alone; one step, so no `issue` can slip in between.
    ///
    /// # Errors
    ///
    /// [`TzpkError::Unknown`], [`TzpkError::Expired`] or [`TzpkError::AlreadyUsed`].
    pub fn take_bound(
        &self,
        control_id: &ControlId,
    ) -> Result<(B, Option<TzpkCustody>), TzpkError> {
        self.take_where(control_id, |_| true, true)
    }

    /// The one critical section of both takes. An open control with no key
    /// is spent only if `spend_open`; a record bound elsewhere is left as it was.
    fn take_where(
        &self,
        control_id: &ControlId,
        accept: impl FnOnce(&B) -> bool,
        spend_open: bool,
    ) -> Result<(B, Option<TzpkCustody>), TzpkError> {
        let now = self.clock.now();
        let mut table = self.lock()?;
        let Some(slot) = table.slots.get_mut(&digest(control_id)) else {
            return Err(TzpkError::Unknown(control_id.clone()));
        };
        let expires_at = slot.expires_at();
        if now >= expires_at {
            if matches!(slot, Slot::Pending { .. } | Slot::Open { .. }) {
                // Let go of the key now rather than at the next sweep.
                if let Slot::Pending {
                    key: TzpkCustody::Handle(key),
                    ..
                } = std::mem::replace(slot, Slot::Lapsed { expires_at })
                {
                    table.discarded.push(key);
                }
            }
            return Err(TzpkError::Expired {
                control_id: control_id.clone(),
                expired_at: expires_at,
            });
        }
        match std::mem::replace(slot, Slot::Used { expires_at }) {
            Slot::Pending {
                binding,
                key,
                expires_at,
            } => {
                if accept(&binding) {
                    Ok((binding, Some(key)))
                } else {
                    *slot = Slot::Pending {
                        binding,
                        key,
                        expires_at,
                    };
                    Err(TzpkError::PlasticMismatch(control_id.clone()))
                }
            }
            Slot::Open {
                binding,
                expires_at,
            } => {
                if spend_open && accept(&binding) {
                    Ok((binding, None))
                } else {
                    *slot = Slot::Open {
                        binding,
                        expires_at,
                    };
                    Err(TzpkError::NotIssued(control_id.clone()))
                }
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

    /// Forgets every record whose TTL has passed; returns how many.
    /// Afterwards their ids answer [`TzpkError::Unknown`], and the handles of
    /// their untaken keys wait in [`take_discarded`](Self::take_discarded).
    ///
    /// # Errors
    ///
    /// [`TzpkError::Poisoned`] if another thread panicked holding the table.
    pub fn sweep(&self) -> Result<usize, TzpkError> {
        let now = self.clock.now();
        let mut table = self.lock()?;
        let forgotten = table.sweep(now);
        table.next_sweep = now.saturating_add(self.ttl);
        Ok(forgotten)
    }

    /// The handles of keys that expired untaken (found by a sweep or a late
    /// take), each handed out once: destroy them in the module, or they
    /// stay there until it restarts.
    ///
    /// # Errors
    ///
    /// [`TzpkError::Poisoned`] if another thread panicked holding the table.
    pub fn take_discarded(&self) -> Result<Vec<KeyRef>, TzpkError> {
        Ok(std::mem::take(&mut self.lock()?.discarded))
    }

    /// Puts the handle of a key nobody will use on the destroy list: a key
    /// generated for a control that was spent meanwhile, a taken key whose
    /// request was cancelled, or one the module could not destroy yet.
    /// Never fails: a poisoned table still takes the handle.
    pub fn discard(&self, key: KeyRef) {
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        table.discarded.push(key);
    }

    /// How many keys are issued, not taken and not expired.
    ///
    /// # Errors
    ///
    /// [`TzpkError::Poisoned`] if another thread panicked holding the table.
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

impl<C: Clock, B> fmt::Debug for TemporaryKeys<C, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporaryKeys")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The in-process [`ControlStore`]: controls bound to a [`ControlBinding`].
impl<C: Clock> ControlStore for TemporaryKeys<C, ControlBinding> {
    fn ttl(&self) -> Duration {
        self.ttl
    }

    async fn open(&self, control_id: &ControlId, binding: ControlBinding) -> Result<(), TzpkError> {
        TemporaryKeys::open(self, control_id.clone(), binding).map(|_| ())
    }

    async fn binding(&self, control_id: &ControlId) -> Result<ControlBinding, TzpkError> {
        TemporaryKeys::binding(self, control_id)
    }

    async fn attach(
        &self,
        control_id: &ControlId,
        tzpk: TzpkCustody,
    ) -> Result<ControlBinding, TzpkError> {
        self.attach_key(control_id, tzpk)
            .map(|(binding, _, _)| binding)
    }

    async fn take(
        &self,
        control_id: &ControlId,
    ) -> Result<(ControlBinding, Option<TzpkCustody>), TzpkError> {
        self.take_bound(control_id)
    }

    fn take_expired(&self) -> Vec<KeyRef> {
        self.take_discarded().unwrap_or_default()
    }
}
