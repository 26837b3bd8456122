//! The key-encryption key that wraps exports.

use std::fmt;

use aes_kw::{KeyInit, KwpAes256};
use pinset_envelope::{AesKey, Kcv};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::KeyError;

/// An AES-256 key-encryption key for exports (AES key wrap with padding, RFC 5649).
///
/// Holds only the prepared AES key schedule, which is zeroized on drop.
/// `Debug` shows the KCV, the first 3 bytes of AES-CMAC(K, 00×16) as in
/// ANSI X9.24-1:2017, and nothing else.
///
/// ```
/// use pinset_keys::Kek;
///
/// let kek = Kek::new(&[0x42; 32])?;
/// assert_eq!(format!("{kek:?}"), format!("Kek {{ kcv: Kcv({}) }}", kek.kcv()));
/// assert!(Kek::new(&[0x42; 16]).is_err()); // AES-256 only
/// assert!(Kek::new(&[0; 32]).is_err()); // all zero
/// # Ok::<(), pinset_keys::KeyError>(())
/// ```
#[derive(Clone)]
pub struct Kek {
    kwp: KwpAes256,
    kcv: Kcv,
}

impl Kek {
    /// Key length in bytes.
    pub const LEN: usize = 32;

    /// Builds a KEK from 32 bytes.
    ///
    /// # Errors
    ///
    /// [`KeyError::KekLength`] unless `key` is 32 bytes, and
    /// [`KeyError::Envelope`] with [`pinset_envelope::Error::WeakKey`] for an
    /// all-zero key.
    pub fn new(key: &[u8]) -> Result<Self, KeyError> {
        let bad = || KeyError::KekLength { found: key.len() };
        if key.len() != Self::LEN {
            return Err(bad());
        }
        let kcv = AesKey::new(key)?.kcv();
        let kwp = KwpAes256::new_from_slice(key).map_err(|_| bad())?;
        Ok(Kek { kwp, kcv })
    }

    /// A fresh KEK from `rng`. Fails only if the AES backend refuses a 32-byte key.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; Self::LEN]);
        rng.fill_bytes(bytes.as_mut_slice());
        Kek::new(bytes.as_slice())
    }

    /// The key check value.
    pub fn kcv(&self) -> Kcv {
        self.kcv
    }

    pub(crate) fn kwp(&self) -> &KwpAes256 {
        &self.kwp
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek").field("kcv", &self.kcv).finish()
    }
}
