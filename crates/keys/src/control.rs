//! Where Enfuce controls live: the [`ControlStore`] trait, so that several
//! instances of a PIN service can share them.
//!
//! A controlId issued by one instance may be redeemed at another, so the
//! record (what the control is for, its tzpk, its expiry) must live in a
//! store they share. [`TemporaryKeys`](crate::TemporaryKeys) is the
//! in-process store; `pinset-redis` keeps controls in Redis.

use core::future::Future;
use std::time::Duration;

use pinset_envelope::Kcv;
use pinset_module::{KeyAlgorithm, KeyCheck, KeyPurpose, KeyRef};

use crate::{ControlId, PlasticRef, TzpkError};

/// What a controlId allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ControlOperation {
    /// Set the PIN of one plastic.
    SetPin,
}

impl ControlOperation {
    /// The byte that stands for it in a stored record. Stable.
    pub const fn code(self) -> u8 {
        match self {
            ControlOperation::SetPin => 1,
        }
    }

    /// The operation a stored byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(ControlOperation::SetPin),
            _ => None,
        }
    }
}

/// What a control is bound to: one plastic, for one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ControlBinding {
    /// The plastic (a card contract and plastic, never a PAN).
    pub plastic: PlasticRef,
    /// What the control allows.
    pub operation: ControlOperation,
}

/// How a control keeps its tzpk: never in the clear.
///
/// - `Handle`: the key stays in the security module that generated it. For
///   one instance, or instances sharing one HSM whose handles they all
///   understand.
/// - `Wrapped`: the key is exported from the module under a key-encryption
///   key every instance's module holds (AES key wrap with padding), so that
///   another instance can import it. For instances with software modules.
#[derive(Clone, PartialEq, Eq)]
pub enum TzpkCustody {
    /// The tzpk's handle in the security module.
    Handle(KeyRef),
    /// The tzpk wrapped under a shared key-encryption key.
    Wrapped {
        /// The key-encryption key's KCV, to check the right one unwraps it.
        kek: Kcv,
        /// The tzpk's own KCV.
        kcv: Kcv,
        /// AES key wrap with padding (RFC 5649) of the 16 key bytes.
        wrapped: Vec<u8>,
    },
}

impl TzpkCustody {
    /// The tzpk's KCV.
    ///
    /// # Errors
    ///
    /// [`TzpkError::NotATzpk`] for a handle that is not a 2-key TDES PIN
    /// key.
    pub fn kcv(&self) -> Result<Kcv, TzpkError> {
        match self {
            TzpkCustody::Handle(key) => match (key.algorithm(), key.purpose(), key.check()) {
                (KeyAlgorithm::Tdes2, KeyPurpose::PinEncryption, KeyCheck::Kcv(kcv)) => Ok(kcv),
                _ => Err(TzpkError::NotATzpk),
            },
            TzpkCustody::Wrapped { kcv, .. } => Ok(*kcv),
        }
    }

    /// The handle, for a tzpk kept in the module.
    pub fn handle(&self) -> Option<&KeyRef> {
        match self {
            TzpkCustody::Handle(key) => Some(key),
            TzpkCustody::Wrapped { .. } => None,
        }
    }
}

/// Shows KCVs and lengths only.
impl core::fmt::Debug for TzpkCustody {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TzpkCustody::Handle(key) => f.debug_tuple("Handle").field(key).finish(),
            TzpkCustody::Wrapped { kek, kcv, wrapped } => f
                .debug_struct("Wrapped")
                .field("kek", kek)
                .field("kcv", kcv)
                .field("wrapped_len", &wrapped.len())
                .finish(),
        }
    }
}

/// Shared storage of Enfuce controls: one record per controlId, holding
/// what it is bound to, its tzpk once issued (a handle or KEK-wrapped,
/// never clear) and its expiry.
///
/// The store measures each control's time to live itself (Redis's own
/// clock, or a [`MonotonicClock`](crate::MonotonicClock) in process), so
/// instance clocks never disagree about it. [`take`](Self::take) is atomic
/// and single use: of any number of concurrent takes of one id, across
/// instances, exactly one gets the record. A store that cannot be reached
/// answers [`TzpkError::Unavailable`], which the flows turn into a
/// retryable 500; it changes nothing.
///
/// A store over another database needs an insert that fails on a duplicate
/// key, an update of one column, and a delete that returns the row:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::{Duration, Instant};
/// use pinset_keys::{ControlBinding, ControlId, ControlStore, TzpkCustody, TzpkError};
///
/// /// Stands for a table `controls(id_sha256 BYTEA PRIMARY KEY, binding, tzpk, expires_at)`.
/// struct SqlControls(Mutex<HashMap<ControlId, (ControlBinding, Option<TzpkCustody>, Instant)>>);
///
/// impl SqlControls {
///     fn live(&self, id: &ControlId) -> Result<Option<(ControlBinding, Option<TzpkCustody>)>, TzpkError> {
///         let rows = self.0.lock().map_err(|_| TzpkError::Poisoned)?;
///         Ok(rows.get(id).filter(|row| row.2 > Instant::now()).map(|row| (row.0.clone(), row.1.clone())))
///     }
/// }
///
/// impl ControlStore for SqlControls {
///     fn ttl(&self) -> Duration {
///         Duration::from_secs(30)
///     }
///
///     async fn open(&self, id: &ControlId, binding: ControlBinding) -> Result<(), TzpkError> {
///         // INSERT INTO controls VALUES ($1, $2, NULL, now() + '30 s')
///         let mut rows = self.0.lock().map_err(|_| TzpkError::Poisoned)?;
///         if rows.contains_key(id) {
///             return Err(TzpkError::DuplicateControlId(id.clone()));
///         }
///         rows.insert(id.clone(), (binding, None, Instant::now() + self.ttl()));
///         Ok(())
///     }
///
///     async fn binding(&self, id: &ControlId) -> Result<ControlBinding, TzpkError> {
///         // SELECT binding FROM controls WHERE id_sha256 = $1 AND expires_at > now()
///         self.live(id)?.map(|row| row.0).ok_or_else(|| TzpkError::Unknown(id.clone()))
///     }
///
///     async fn attach(&self, id: &ControlId, tzpk: TzpkCustody) -> Result<ControlBinding, TzpkError> {
///         // UPDATE controls SET tzpk = $2 WHERE id_sha256 = $1 AND tzpk IS NULL AND expires_at > now() RETURNING binding
///         let (binding, held) = self.live(id)?.ok_or_else(|| TzpkError::Unknown(id.clone()))?;
///         if held.is_some() {
///             return Err(TzpkError::DuplicateControlId(id.clone()));
///         }
///         if let Some(row) = self.0.lock().map_err(|_| TzpkError::Poisoned)?.get_mut(id) {
///             row.1 = Some(tzpk);
///         }
///         Ok(binding)
///     }
///
///     async fn take(&self, id: &ControlId) -> Result<(ControlBinding, Option<TzpkCustody>), TzpkError> {
///         // DELETE FROM controls WHERE id_sha256 = $1 AND expires_at > now() RETURNING binding, tzpk
///         let row = self.0.lock().map_err(|_| TzpkError::Poisoned)?.remove(id);
///         row.filter(|row| row.2 > Instant::now())
///             .map(|row| (row.0, row.1))
///             .ok_or_else(|| TzpkError::Unknown(id.clone()))
///     }
/// }
/// ```
pub trait ControlStore: Send + Sync {
    /// How long each control lives from [`open`](Self::open).
    fn ttl(&self) -> Duration;

    /// Opens a control for `binding`, live for [`ttl`](Self::ttl), with no
    /// tzpk yet.
    ///
    /// # Errors
    ///
    /// [`TzpkError::DuplicateControlId`] if the id is known;
    /// [`TzpkError::Unavailable`] if the store cannot be reached.
    fn open(
        &self,
        control_id: &ControlId,
        binding: ControlBinding,
    ) -> impl Future<Output = Result<(), TzpkError>> + Send;

    /// What a live control is bound to.
    ///
    /// # Errors
    ///
    /// [`TzpkError::Unknown`] (never opened, spent, or expired; a store
    /// may tell the last two apart with [`TzpkError::AlreadyUsed`] and
    /// [`TzpkError::Expired`]); [`TzpkError::Unavailable`].
    fn binding(
        &self,
        control_id: &ControlId,
    ) -> impl Future<Output = Result<ControlBinding, TzpkError>> + Send;

    /// Files `tzpk` with a live control that has none yet, keeping the
    /// control's expiry, in one step. Returns what the control is bound to.
    ///
    /// # Errors
    ///
    /// As [`binding`](Self::binding), and
    /// [`TzpkError::DuplicateControlId`] if a tzpk was filed already. On
    /// any error nothing is kept: the caller destroys the key.
    fn attach(
        &self,
        control_id: &ControlId,
        tzpk: TzpkCustody,
    ) -> impl Future<Output = Result<ControlBinding, TzpkError>> + Send;

    /// Spends a live control: returns what it was bound to and its tzpk,
    /// if one was filed, and forgets it, in one step.
    ///
    /// # Errors
    ///
    /// As [`binding`](Self::binding).
    fn take(
        &self,
        control_id: &ControlId,
    ) -> impl Future<Output = Result<(ControlBinding, Option<TzpkCustody>), TzpkError>> + Send;

    /// Handles of tzpks whose controls expired untaken, each given out
    /// once, for the caller to destroy in the module. A store whose
    /// records expire out of sight (Redis) has none to give.
    fn take_expired(&self) -> Vec<KeyRef> {
        Vec::new()
    }
}

/// A shared store is a store: hand one `Arc` to several flows.
impl<S: ControlStore + ?Sized> ControlStore for std::sync::Arc<S> {
    fn ttl(&self) -> Duration {
        (**self).ttl()
    }

    fn open(
        &self,
        control_id: &ControlId,
        binding: ControlBinding,
    ) -> impl Future<Output = Result<(), TzpkError>> + Send {
        (**self).open(control_id, binding)
    }

    fn binding(
        &self,
        control_id: &ControlId,
    ) -> impl Future<Output = Result<ControlBinding, TzpkError>> + Send {
        (**self).binding(control_id)
    }

    fn attach(
        &self,
        control_id: &ControlId,
        tzpk: TzpkCustody,
    ) -> impl Future<Output = Result<ControlBinding, TzpkError>> + Send {
        (**self).attach(control_id, tzpk)
    }

    fn take(
        &self,
        control_id: &ControlId,
    ) -> impl Future<Output = Result<(ControlBinding, Option<TzpkCustody>), TzpkError>> + Send {
        (**self).take(control_id)
    }

    fn take_expired(&self) -> Vec<KeyRef> {
        (**self).take_expired()
    }
}
