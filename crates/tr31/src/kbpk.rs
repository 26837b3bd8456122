//! The key block protection key (KBPK).
//!
//! The KBPK is the key shared with the other party (a card management
//! system, a processor) that protects every key exchanged as a key block, so
//! it gets a type of its own: its bytes are zeroized on drop and never shown.
//! `Debug` prints the family, the length and the key check value, which is
//! what an operator compares on both sides of a key ceremony.

use core::fmt;

use zeroize::Zeroizing;

use crate::crypto::{self, CipherKind};
use crate::error::KbpkError;

/// The family of a KBPK, which fixes the key block versions it serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KbpkAlgorithm {
    /// Triple DES (16 or 24 bytes): versions A, B and C.
    Tdes,
    /// AES (16, 24 or 32 bytes): version D.
    Aes,
}

impl KbpkAlgorithm {
    /// `"TDES"` or `"AES"`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Tdes => "TDES",
            Self::Aes => "AES",
        }
    }
}

/// A key block protection key. Zeroized on drop; `Debug` shows only the
/// algorithm, the length and the KCV.
///
/// ```
/// use pinset_tr31::Kbpk;
///
/// let kbpk = Kbpk::tdes(&[0x89, 0xE8, 0x8C, 0xF7, 0x93, 0x14, 0x44, 0xF3,
///                         0x34, 0xBD, 0x75, 0x47, 0xFC, 0x3F, 0x38, 0x0C])?;
/// assert!(format!("{kbpk:?}").starts_with("Kbpk { algorithm: \"TDES\", len: 16, kcv: "));
/// # Ok::<(), pinset_tr31::KbpkError>(())
/// ```
#[derive(Clone)]
pub struct Kbpk {
    kind: CipherKind,
    bytes: Zeroizing<Vec<u8>>,
    kcv: [u8; 3],
}

impl Kbpk {
    /// A TDES KBPK of 16 (two-key) or 24 (three-key) bytes.
    ///
    /// # Errors
    ///
    /// [`KbpkError::Length`] for any other length; [`KbpkError::SingleDes`]
    /// when K1 = K2 or (three-key) K2 = K3, parity bits ignored, since such a
    /// key is single DES in disguise.
    pub fn tdes(key: &[u8]) -> Result<Self, KbpkError> {
        let kind = match key.len() {
            16 => CipherKind::Tdes2,
            24 => CipherKind::Tdes3,
            _ => return Err(KbpkError::Length),
        };
        let part = |i: usize| key.get(i * 8..(i + 1) * 8).unwrap_or_default();
        let same = |a: &[u8], b: &[u8]| a.iter().zip(b).all(|(x, y)| (x ^ y) & 0xFE == 0);
        if same(part(0), part(1)) || (kind == CipherKind::Tdes3 && same(part(1), part(2))) {
            return Err(KbpkError::SingleDes);
        }
        // KCV: the first three bytes of a zero block encrypted under the key.
        let mut block = Zeroizing::new([0u8; 8]);
        crypto::cbc_encrypt(kind, key, &[0u8; 8], &mut block[..]).ok_or(KbpkError::Length)?;
        Ok(Self::with_kcv(kind, key, &block[..]))
    }

    /// An AES KBPK of 16, 24 or 32 bytes.
    ///
    /// # Errors
    ///
    /// [`KbpkError::Length`] for any other length.
    pub fn aes(key: &[u8]) -> Result<Self, KbpkError> {
        let kind = match key.len() {
            16 => CipherKind::Aes128,
            24 => CipherKind::Aes192,
            32 => CipherKind::Aes256,
            _ => return Err(KbpkError::Length),
        };
        // KCV: the first three bytes of the CMAC of a zero block (X9.24-1 style).
        let mut tag = Zeroizing::new(Vec::with_capacity(16));
        crypto::cmac(kind, key, &[&[0u8; 16]], &mut tag).ok_or(KbpkError::Length)?;
        Ok(Self::with_kcv(kind, key, &tag))
    }

    fn with_kcv(kind: CipherKind, key: &[u8], check: &[u8]) -> Self {
        let mut kcv = [0u8; 3];
        for (k, c) in kcv.iter_mut().zip(check) {
            *k = *c;
        }
        Self {
            kind,
            bytes: Zeroizing::new(key.to_vec()),
            kcv,
        }
    }

    /// The KBPK's family.
    #[must_use]
    pub fn algorithm(&self) -> KbpkAlgorithm {
        if self.kind.is_tdes() {
            KbpkAlgorithm::Tdes
        } else {
            KbpkAlgorithm::Aes
        }
    }

    /// Key length in bytes.
    #[must_use]
    pub fn key_len(&self) -> usize {
        self.bytes.len()
    }

    /// Key check value: for TDES the first three bytes of a zero block
    /// encrypted under the key; for AES the first three bytes of the
    /// AES-CMAC of a zero block.
    #[must_use]
    pub fn kcv(&self) -> [u8; 3] {
        self.kcv
    }

    pub(crate) fn kind(&self) -> CipherKind {
        self.kind
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Kbpk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.kcv;
        f.debug_struct("Kbpk")
            .field("algorithm", &self.algorithm().name())
            .field("len", &self.bytes.len())
            .field("kcv", &format_args!("\"{a:02X}{b:02X}{c:02X}\""))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_lengths_and_single_des() {
        assert_eq!(Kbpk::tdes(&[1; 8]).unwrap_err(), KbpkError::Length);
        assert_eq!(Kbpk::tdes(&[1; 32]).unwrap_err(), KbpkError::Length);
        assert_eq!(Kbpk::aes(&[1; 20]).unwrap_err(), KbpkError::Length);
        let mut k = [0x10u8; 16];
        k[8] = 0x11; // differs only in the parity bit
        assert_eq!(Kbpk::tdes(&k).unwrap_err(), KbpkError::SingleDes);
        let mut k3: Vec<u8> = (0..24).collect();
        k3[16..].copy_from_slice(&(8..16).collect::<Vec<u8>>());
        assert_eq!(Kbpk::tdes(&k3).unwrap_err(), KbpkError::SingleDes);
    }

    #[test]
    fn debug_hides_key() {
        // KCV of the ANSI X9.24 two-key TDES test key 0123456789ABCDEFFEDCBA9876543210 is 08D7B4.
        let key = hex::decode("0123456789ABCDEFFEDCBA9876543210").unwrap();
        let kbpk = Kbpk::tdes(&key).unwrap();
        assert_eq!(
            format!("{kbpk:?}"),
            "Kbpk { algorithm: \"TDES\", len: 16, kcv: \"08D7B4\" }"
        );
        let aes = Kbpk::aes(&[0x42; 32]).unwrap();
        let shown = format!("{aes:?}");
        assert!(shown.starts_with("Kbpk { algorithm: \"AES\", len: 32"));
        assert!(!shown.contains("4242"));
    }
}
