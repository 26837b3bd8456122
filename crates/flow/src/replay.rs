//! Remembers the RSA cryptograms that set a PIN, so a captured request
//! cannot be sent again to set the same PIN later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pinset_keys::{Clock, MonotonicClock, Timestamp};
use sha2::{Digest, Sha256};

use crate::{Detail, FlowError, Reason};

/// SHA-256 fingerprints of used cryptograms, each kept for `window`.
///
/// RSA-OAEP and PKCS#1 v1.5 cryptograms are randomised, so an honest device
/// never sends the same one twice: a repeat is a replay. Only fingerprints
/// are kept, never the cryptogram. The window runs on its own clock (a
/// [`MonotonicClock`] unless set), never the audit clock: a forward step of
/// the wall clock must not purge the set.
pub(crate) struct ReplayGuard {
    window: Duration,
    clock: Arc<dyn Clock>,
    state: Mutex<Seen>,
}

struct Seen {
    until: HashMap<[u8; 32], Timestamp>,
    next_sweep: Timestamp,
}

/// A fingerprint claimed for one request, settled on drop.
///
/// Dropped before [`Claim::commit_starting`] (a refused request, or one
/// cancelled before it reached the CMS), it gives the fingerprint back:
/// nothing happened, so the honest retry is no replay. From the moment the
/// CMS call starts, a drop keeps it (fail closed): the PIN may have been
/// stored, and releasing would let a captured cryptogram be replayed. Only
/// an error the CMS returns releases it then, through [`Claim::release`].
pub(crate) struct Claim<'a> {
    guard: &'a ReplayGuard,
    /// The fingerprint and the expiry this claim wrote, so a late release
    /// never removes another request's newer claim.
    held: Option<([u8; 32], Timestamp)>,
    keep_on_drop: bool,
}

impl Claim<'_> {
    /// The CMS call is about to start: from now on a drop keeps the claim.
    pub(crate) fn commit_starting(&mut self) {
        self.keep_on_drop = true;
    }

    /// The set PIN failed with nothing stored: give the fingerprint back.
    pub(crate) fn release(mut self) {
        if let Some((fingerprint, until)) = self.held.take() {
            self.guard.release(&fingerprint, until);
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some((fingerprint, until)) = self.held.take() {
            if !self.keep_on_drop {
                self.guard.release(&fingerprint, until);
            }
        }
    }
}

impl ReplayGuard {
    pub(crate) fn new(window: Duration) -> Self {
        ReplayGuard {
            window,
            clock: Arc::new(MonotonicClock),
            state: Mutex::new(Seen {
                until: HashMap::new(),
                next_sweep: Timestamp::UNIX_EPOCH,
            }),
        }
    }

    /// The same guard with another window; nothing has been claimed yet.
    pub(crate) fn with_window(self, window: Duration) -> Self {
        ReplayGuard { window, ..self }
    }

    /// The same guard on another clock; nothing has been claimed yet.
    pub(crate) fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        ReplayGuard { clock, ..self }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Seen>, FlowError> {
        self.state.lock().map_err(|_| {
            FlowError::new(Reason::Unexpected, Detail::Internal("replay lock poisoned"))
        })
    }

    /// Refuses a cryptogram seen within the window; otherwise claims it.
    pub(crate) fn claim(&self, cryptogram: &[u8]) -> Result<Claim<'_>, FlowError> {
        if self.window.is_zero() {
            return Ok(Claim {
                guard: self,
                held: None,
                keep_on_drop: false,
            });
        }
        let fingerprint: [u8; 32] = Sha256::digest(cryptogram).into();
        let now = self.clock.now();
        let mut seen = self.lock()?;
        if now >= seen.next_sweep {
            // Sweep a few times per window, not on every request.
            seen.until.retain(|_, until| *until > now);
            seen.next_sweep = now.saturating_add(self.window / 8);
        }
        match seen.until.get(&fingerprint) {
            Some(until) if *until > now => {
                Err(FlowError::new(Reason::ReplayedPinBlock, Detail::Replay))
            }
            _ => {
                let until = now.saturating_add(self.window);
                seen.until.insert(fingerprint, until);
                Ok(Claim {
                    guard: self,
                    held: Some((fingerprint, until)),
                    keep_on_drop: false,
                })
            }
        }
    }

    /// Forgets a claim whose set PIN failed or was cancelled early, if the
    /// entry is still the one that claim wrote.
    fn release(&self, fingerprint: &[u8; 32], until: Timestamp) {
        if let Ok(mut seen) = self.lock() {
            if seen.until.get(fingerprint) == Some(&until) {
                seen.until.remove(fingerprint);
            }
        }
    }
}
