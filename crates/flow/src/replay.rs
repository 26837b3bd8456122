//! Remembers the RSA cryptograms that set a PIN, so a captured request
//! cannot be sent again to set the same PIN later: the [`ReplayStore`]
//! trait, its in-process [`MemoryReplayStore`], and the flow's claim on it.

use core::future::Future;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use pinset_keys::{Clock, MonotonicClock, StoreError, Timestamp};
use sha2::{Digest, Sha256};

use crate::{Detail, FlowError, Reason};

/// A claim's proof of ownership: [`ReplayStore::release`] removes an entry
/// only if it still carries the token its claim wrote, so a late release
/// never removes another request's newer claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClaimToken(pub u64);

/// Where the Mastercard flow remembers used cryptograms, by SHA-256
/// fingerprint, for a window (24 hours by default).
///
/// RSA cryptograms are randomised, so an honest device never sends the same
/// one twice: a repeat is a replay. Shared by every instance of a service
/// (`pinset-redis` keeps it in Redis), a cryptogram used on one instance is
/// refused on all. Entries are bounded by their expiry, measured by the
/// store. A store that fails answers [`StoreError`], which the flow turns
/// into a retryable 500; nothing is stored then.
///
/// ```
/// use std::time::Duration;
/// use pinset_flow::{MemoryReplayStore, ReplayStore};
///
/// # pollster::block_on(async {
/// let store = MemoryReplayStore::new();
/// let fingerprint = [7u8; 32];
/// let token = store.claim(&fingerprint, Duration::from_secs(60)).await?.expect("first use");
/// assert!(store.claim(&fingerprint, Duration::from_secs(60)).await?.is_none()); // a replay
/// store.release(&fingerprint, token).await?; // the set PIN failed: give it back
/// assert!(store.claim(&fingerprint, Duration::from_secs(60)).await?.is_some());
/// # Ok::<(), pinset_keys::StoreError>(())
/// # }).unwrap();
/// ```
///
/// A store over another database needs an insert that fails on a live
/// duplicate and a delete guarded by the token:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::{Duration, Instant};
/// use pinset_flow::{ClaimToken, ReplayStore};
/// use pinset_keys::StoreError;
///
/// /// Stands for a table `replay(fingerprint BYTEA PRIMARY KEY, token BIGINT, expires_at)`.
/// struct SqlReplay(Mutex<(u64, HashMap<[u8; 32], (ClaimToken, Instant)>)>);
///
/// impl ReplayStore for SqlReplay {
///     async fn claim(&self, fingerprint: &[u8; 32], window: Duration) -> Result<Option<ClaimToken>, StoreError> {
///         // INSERT INTO replay VALUES ($1, $2, now() + $3)
///         //   ON CONFLICT (fingerprint) DO UPDATE SET token = $2, expires_at = now() + $3
///         //   WHERE replay.expires_at <= now() RETURNING token
///         let mut table = self.0.lock().map_err(|_| StoreError::Poisoned)?;
///         let now = Instant::now();
///         if table.1.get(fingerprint).is_some_and(|(_, until)| *until > now) {
///             return Ok(None);
///         }
///         table.0 += 1;
///         let token = ClaimToken(table.0);
///         table.1.insert(*fingerprint, (token, now + window));
///         Ok(Some(token))
///     }
///
///     async fn release(&self, fingerprint: &[u8; 32], token: ClaimToken) -> Result<(), StoreError> {
///         // DELETE FROM replay WHERE fingerprint = $1 AND token = $2
///         let mut table = self.0.lock().map_err(|_| StoreError::Poisoned)?;
///         if table.1.get(fingerprint).is_some_and(|(t, _)| *t == token) {
///             table.1.remove(fingerprint);
///         }
///         Ok(())
///     }
/// }
///
/// # pollster::block_on(async {
/// let store = SqlReplay(Mutex::new((0, HashMap::new())));
/// assert!(store.claim(&[1; 32], Duration::from_secs(60)).await?.is_some());
/// assert!(store.claim(&[1; 32], Duration::from_secs(60)).await?.is_none());
/// # Ok::<(), StoreError>(())
/// # }).unwrap();
/// ```
pub trait ReplayStore: Send + Sync {
    /// Claims `fingerprint` for `window`: a token if it was free (never
    /// claimed, or its window passed), `None` if it is claimed.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the store cannot be reached; nothing is claimed.
    fn claim(
        &self,
        fingerprint: &[u8; 32],
        window: Duration,
    ) -> impl Future<Output = Result<Option<ClaimToken>, StoreError>> + Send;

    /// Undoes an unfinished claim, if the entry still carries `token`.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if the store cannot be reached; the claim then stays
    /// until its window ends (fail closed).
    fn release(
        &self,
        fingerprint: &[u8; 32],
        token: ClaimToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<R: ReplayStore + ?Sized> ReplayStore for std::sync::Arc<R> {
    fn claim(
        &self,
        fingerprint: &[u8; 32],
        window: Duration,
    ) -> impl Future<Output = Result<Option<ClaimToken>, StoreError>> + Send {
        (**self).claim(fingerprint, window)
    }

    fn release(
        &self,
        fingerprint: &[u8; 32],
        token: ClaimToken,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).release(fingerprint, token)
    }
}

/// The in-process [`ReplayStore`], on its own clock (a [`MonotonicClock`]
/// unless set, never the audit clock: a step of the wall clock must neither
/// purge nor stretch the window). Each claim first forgets the entries
/// whose window has passed, oldest first, so memory is bounded by the
/// claims of one window, with no sweep to schedule.
pub struct MemoryReplayStore<C: Clock = MonotonicClock> {
    clock: C,
    state: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    until: HashMap<[u8; 32], (Timestamp, ClaimToken)>,
    /// Claims in the order they were made, with their expiry.
    order: VecDeque<(Timestamp, [u8; 32])>,
    next_token: u64,
}

impl MemoryReplayStore {
    /// An empty store on the [`MonotonicClock`].
    pub fn new() -> Self {
        MemoryReplayStore::with_clock(MonotonicClock)
    }
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> MemoryReplayStore<C> {
    /// An empty store on `clock` (a `ManualClock` in tests).
    pub fn with_clock(clock: C) -> Self {
        MemoryReplayStore {
            clock,
            state: Mutex::new(Seen::default()),
        }
    }

    /// How many fingerprints are held, live or not yet forgotten.
    pub fn len(&self) -> usize {
        self.state.lock().map(|s| s.until.len()).unwrap_or_default()
    }

    /// Whether no fingerprint is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<C: Clock> ReplayStore for MemoryReplayStore<C> {
    async fn claim(
        &self,
        fingerprint: &[u8; 32],
        window: Duration,
    ) -> Result<Option<ClaimToken>, StoreError> {
        let now = self.clock.now();
        let mut seen = self.state.lock().map_err(|_| StoreError::Poisoned)?;
        let Seen {
            until,
            order,
            next_token,
        } = &mut *seen;
        while let Some((expiry, old)) = order.front().copied() {
            if expiry > now {
                break;
            }
            order.pop_front();
            // A fingerprint claimed again since keeps its newer entry.
            if until.get(&old).is_some_and(|(u, _)| *u <= now) {
                until.remove(&old);
            }
        }
        if until.get(fingerprint).is_some_and(|(u, _)| *u > now) {
            return Ok(None);
        }
        *next_token += 1;
        let token = ClaimToken(*next_token);
        let expiry = now.saturating_add(window);
        until.insert(*fingerprint, (expiry, token));
        order.push_back((expiry, *fingerprint));
        Ok(Some(token))
    }

    async fn release(&self, fingerprint: &[u8; 32], token: ClaimToken) -> Result<(), StoreError> {
        let mut seen = self.state.lock().map_err(|_| StoreError::Poisoned)?;
        if seen
            .until
            .get(fingerprint)
            .is_some_and(|(_, t)| *t == token)
        {
            seen.until.remove(fingerprint);
        }
        Ok(())
    }
}

impl<C: Clock> core::fmt::Debug for MemoryReplayStore<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("held", &self.len())
            .finish()
    }
}

/// The flow's use of a [`ReplayStore`]: a window (zero turns it off) and
/// the claim of one request.
pub(crate) struct ReplayGuard<R> {
    pub(crate) store: R,
    pub(crate) window: Duration,
}

/// A fingerprint claimed for one request. It is kept unless
/// [`release`](Claim::release)d: the flow claims only after the module has
/// read the cryptogram, right before the CMS call, so a claim dropped by a
/// cancelled request fails closed (the PIN may have been stored, and
/// releasing would let a captured cryptogram be replayed). Only an error
/// the CMS returns releases it.
pub(crate) struct Claim {
    held: Option<([u8; 32], ClaimToken)>,
}

fn unavailable(e: StoreError) -> FlowError {
    FlowError::new(Reason::IntegrationError, Detail::Store(e))
}

impl<R: ReplayStore> ReplayGuard<R> {
    /// Refuses a cryptogram seen within the window; otherwise claims it.
    pub(crate) async fn claim(&self, cryptogram: &[u8]) -> Result<Claim, FlowError> {
        if self.window.is_zero() {
            return Ok(Claim { held: None });
        }
        let fingerprint: [u8; 32] = Sha256::digest(cryptogram).into();
        match self
            .store
            .claim(&fingerprint, self.window)
            .await
            .map_err(unavailable)?
        {
            Some(token) => Ok(Claim {
                held: Some((fingerprint, token)),
            }),
            None => Err(FlowError::new(Reason::ReplayedPinBlock, Detail::Replay)),
        }
    }

    /// The set PIN failed with nothing stored: give the fingerprint back.
    /// If the store cannot be reached, the claim stays until its window
    /// ends (fail closed); the client re-seals, as after any replay refusal.
    pub(crate) async fn release(&self, claim: Claim) {
        if let Some((fingerprint, token)) = claim.held {
            let _ = self.store.release(&fingerprint, token).await;
        }
    }
}
