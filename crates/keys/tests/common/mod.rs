//! Fixtures shared by the integration tests.
#![allow(dead_code)] // each test crate uses a different subset

use chacha20::ChaCha20Rng;
use pinset_envelope::RsaPrivateKey;
use pinset_keys::{KeyIndex, ManualClock, Timestamp};
use rand_core::SeedableRng;

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// 2023-11-14T22:13:20Z.
pub const T0: Timestamp = Timestamp::from_unix_secs(1_700_000_000);

pub fn rsa2048() -> Result<RsaPrivateKey, pinset_envelope::Error> {
    RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa2048.pem"))
}

pub fn rsa3072() -> Result<RsaPrivateKey, pinset_envelope::Error> {
    RsaPrivateKey::from_pem(include_str!("../../../envelope/tests/data/rsa3072.pem"))
}

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn clock() -> ManualClock {
    ManualClock::new(T0)
}

pub fn idx(s: &str) -> Result<KeyIndex, pinset_keys::InvalidId> {
    KeyIndex::new(s)
}

/// `T0 + ms` milliseconds.
pub fn at(ms: u64) -> Timestamp {
    Timestamp::from_unix_millis(T0.as_unix_millis() + ms)
}
