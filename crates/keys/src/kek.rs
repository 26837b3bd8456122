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

/// The one secret an operator keeps at rest (a KEK file), from which
/// pinset derives one key per purpose with HKDF-SHA256 (RFC 5869): the
/// [`Kek`] that seals stored key rings, and the AES-256 key that wraps
/// tzpks shared between instances. PCI PIN allows one purpose per key, and
/// two purposes that shared a key could be played against each other (a
/// sealed ring record offered as a wrapped tzpk).
///
/// Every instance given the same master derives the same keys. `Debug`
/// shows nothing of the key.
///
/// ```
/// use pinset_keys::MasterKek;
///
/// let master = MasterKek::new(&[0x42; 32])?;
/// let ring = master.ring_sealing()?;
/// let wrapping = master.tzpk_wrapping();
/// // Two keys, neither of them the master.
/// assert_ne!(ring.kcv(), pinset_keys::Kek::new(&[0x42; 32])?.kcv());
/// assert_ne!(wrapping.as_slice(), &[0x42; 32]);
/// assert_eq!(format!("{master:?}"), "MasterKek(<redacted>)");
/// # Ok::<(), pinset_keys::KeyError>(())
/// ```
pub struct MasterKek(Zeroizing<[u8; Kek::LEN]>);

impl MasterKek {
    /// HKDF `info` of the ring-sealing key. Stable: changing it orphans every sealed ring.
    const RING_SEALING: &'static [u8] = b"pinset v1 key ring sealing";
    /// HKDF `info` of the tzpk-wrapping key. Stable, as above.
    const TZPK_WRAPPING: &'static [u8] = b"pinset v1 tzpk wrapping";

    /// Takes 32 bytes of key material.
    ///
    /// # Errors
    ///
    /// [`KeyError::KekLength`] unless `key` is 32 bytes, and
    /// [`KeyError::Envelope`] for an all-zero key.
    pub fn new(key: &[u8]) -> Result<Self, KeyError> {
        // The same rules as a KEK: 32 bytes, not all zero.
        Kek::new(key)?;
        let mut bytes = Zeroizing::new([0u8; Kek::LEN]);
        bytes.copy_from_slice(key);
        Ok(MasterKek(bytes))
    }

    fn derive(&self, info: &[u8]) -> Zeroizing<[u8; Kek::LEN]> {
        let mut out = Zeroizing::new([0u8; Kek::LEN]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit: this cannot fail.
        let _ = hkdf::Hkdf::<sha2::Sha256>::new(None, self.0.as_slice())
            .expand(info, out.as_mut_slice());
        out
    }

    /// The KEK that seals key rings in a shared store.
    ///
    /// # Errors
    ///
    /// [`KeyError::Envelope`] in the 2^-256 case of an all-zero derivation.
    pub fn ring_sealing(&self) -> Result<Kek, KeyError> {
        Kek::new(self.derive(Self::RING_SEALING).as_slice())
    }

    /// The AES-256 key material that wraps shared tzpks, to import into a
    /// security module as a key-encryption key.
    pub fn tzpk_wrapping(&self) -> Zeroizing<[u8; Kek::LEN]> {
        self.derive(Self::TZPK_WRAPPING)
    }
}

impl fmt::Debug for MasterKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKek(<redacted>)")
    }
}
