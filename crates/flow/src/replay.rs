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

/// A fingerprint claimed for one request. Unless [`Claim::keep`] is called
/// once the PIN is stored, dropping it gives the fingerprint back: a refused
/// request, and a cancelled one, leave no trace, so an honest retry is not
/// taken for a replay.
pub(crate) struct Claim<'a> {
    guard: &'a ReplayGuard,
    fingerprint: Option<[u8; 32]>,
}

impl Claim<'_> {
    /// The set PIN succeeded: the fingerprint stays for the window.
    pub(crate) fn keep(mut self) {
        self.fingerprint = None;
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(fingerprint) = self.fingerprint.take() {
            self.guard.release(&fingerprint);
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
                fingerprint: None,
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
                seen.until
                    .insert(fingerprint, now.saturating_add(self.window));
                Ok(Claim {
                    guard: self,
                    fingerprint: Some(fingerprint),
                })
            }
        }
    }

    /// Forgets a claim whose set PIN failed or was cancelled.
    fn release(&self, fingerprint: &[u8; 32]) {
        if let Ok(mut seen) = self.lock() {
            seen.until.remove(fingerprint);
        }
    }
}
