//! Remembers the RSA cryptograms that set a PIN, so a captured request
//! cannot be sent again to set the same PIN later.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use pinset_keys::Timestamp;
use sha2::{Digest, Sha256};

use crate::{Detail, FlowError, Reason};

/// SHA-256 fingerprints of used cryptograms, each kept for `window`.
///
/// RSA-OAEP and PKCS#1 v1.5 cryptograms are randomised, so an honest device
/// never sends the same one twice: a repeat is a replay. Only fingerprints
/// are kept, never the cryptogram.
pub(crate) struct ReplayGuard {
    window: Duration,
    state: Mutex<Seen>,
}

struct Seen {
    until: HashMap<[u8; 32], Timestamp>,
    next_sweep: Timestamp,
}

/// A fingerprint claimed for one request; [`ReplayGuard::release`] gives it
/// back when the set PIN fails, so a refused request leaves no trace.
pub(crate) struct Claim(Option<[u8; 32]>);

impl ReplayGuard {
    pub(crate) fn new(window: Duration) -> Self {
        ReplayGuard {
            window,
            state: Mutex::new(Seen {
                until: HashMap::new(),
                next_sweep: Timestamp::UNIX_EPOCH,
            }),
        }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Seen>, FlowError> {
        self.state.lock().map_err(|_| {
            FlowError::new(Reason::Unexpected, Detail::Control("replay lock poisoned"))
        })
    }

    /// Refuses a cryptogram seen within the window; otherwise claims it.
    pub(crate) fn claim(&self, cryptogram: &[u8], now: Timestamp) -> Result<Claim, FlowError> {
        if self.window.is_zero() {
            return Ok(Claim(None));
        }
        let fingerprint: [u8; 32] = Sha256::digest(cryptogram).into();
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
                Ok(Claim(Some(fingerprint)))
            }
        }
    }

    /// Forgets a claim whose set PIN failed.
    pub(crate) fn release(&self, claim: Claim) {
        if let (Some(fingerprint), Ok(mut seen)) = (claim.0, self.lock()) {
            seen.until.remove(&fingerprint);
        }
    }
}
