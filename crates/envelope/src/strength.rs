//! Key-strength rules every symmetric PIN key passes before it is built.
//!
//! PCI PIN forbids single DES. A "TDES" key whose parts are equal enciphers
//! exactly as single DES (EDE with K1 = K2 cancels to E under K3), and DES
//! weak and semi-weak keys make encryption an involution or pair up keys.
//! An HSM refuses such keys on import; so does pinset.
//!
//! Parity bits are ignored, as DES itself ignores them: two parts that
//! differ only in parity are the same DES key. Odd parity is *not* enforced,
//! because the seeds' own example keys (and many published vectors) lack it.

use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroize;

/// Which key-strength rule a refused key broke. It names the rule, never the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WeakKey {
    /// Every key byte is zero.
    AllZero,
    /// Two TDES key parts are the same DES key (K1 = K2, or K2 = K3 in a
    /// 3-key key), so the key enciphers as single DES.
    SingleDes,
    /// A TDES key part is one of the four DES weak keys (NIST SP 800-67 Rev. 2, 3.3.2).
    WeakDesPart,
    /// A TDES key part is one of the twelve DES semi-weak keys (NIST SP 800-67 Rev. 2, 3.3.2).
    SemiWeakDesPart,
}

impl fmt::Display for WeakKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WeakKey::AllZero => "every key byte is zero",
            WeakKey::SingleDes => "two key parts are equal, so it is single DES",
            WeakKey::WeakDesPart => "a key part is a DES weak key",
            WeakKey::SemiWeakDesPart => "a key part is a DES semi-weak key",
        })
    }
}

/// The parity bits of a DES key part, which DES ignores.
const PARITY: u64 = 0x0101_0101_0101_0101;

/// DES weak keys, NIST SP 800-67 Rev. 2, section 3.3.2 (shown with odd parity).
const WEAK: [u64; 4] = [
    0x0101_0101_0101_0101,
    0xFEFE_FEFE_FEFE_FEFE,
    0xE0E0_E0E0_F1F1_F1F1,
    0x1F1F_1F1F_0E0E_0E0E,
];

/// DES semi-weak keys, NIST SP 800-67 Rev. 2, section 3.3.2: six pairs.
const SEMI_WEAK: [u64; 12] = [
    0x011F_011F_010E_010E,
    0x1F01_1F01_0E01_0E01,
    0x01E0_01E0_01F1_01F1,
    0xE001_E001_F101_F101,
    0x01FE_01FE_01FE_01FE,
    0xFE01_FE01_FE01_FE01,
    0x1FE0_1FE0_0EF1_0EF1,
    0xE01F_E01F_F10E_F10E,
    0x1FFE_1FFE_0EFE_0EFE,
    0xFE1F_FE1F_FE0E_FE0E,
    0xE0FE_E0FE_F1FE_F1FE,
    0xFEE0_FEE0_FEF1_FEF1,
];

/// Checks a 16- or 24-byte TDES key. Constant time in the key's value; the
/// rule reported is the first of all-zero, single DES, weak, semi-weak.
pub(crate) fn check_tdes(key: &[u8]) -> Result<(), WeakKey> {
    let mut parts = [0u64; 3];
    for (part, chunk) in parts.iter_mut().zip(key.chunks_exact(8)) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        *part = u64::from_be_bytes(bytes) & !PARITY;
    }
    let three = key.len() == 24;
    // In a 2-key key K3 is K1; K1 = K3 in a 3-key key is a 2-key key, which is allowed.
    let single_des =
        parts[0].ct_eq(&parts[1]) | (Choice::from(u8::from(three)) & parts[1].ct_eq(&parts[2]));
    let used = if three { &parts[..] } else { &parts[..2] };
    let any_in = |table: &[u64]| {
        used.iter().fold(Choice::from(0), |acc, part| {
            table
                .iter()
                .fold(acc, |acc, bad| acc | part.ct_eq(&(bad & !PARITY)))
        })
    };
    let all_zero = key.iter().fold(Choice::from(1), |acc, b| acc & b.ct_eq(&0));
    let weak = any_in(&WEAK);
    let semi_weak = any_in(&SEMI_WEAK);
    parts.zeroize();
    if bool::from(all_zero) {
        Err(WeakKey::AllZero)
    } else if bool::from(single_des) {
        Err(WeakKey::SingleDes)
    } else if bool::from(weak) {
        Err(WeakKey::WeakDesPart)
    } else if bool::from(semi_weak) {
        Err(WeakKey::SemiWeakDesPart)
    } else {
        Ok(())
    }
}

/// Checks an AES key: all-zero is refused.
pub(crate) fn check_aes(key: &[u8]) -> Result<(), WeakKey> {
    let all_zero = key.iter().fold(Choice::from(1), |acc, b| acc & b.ct_eq(&0));
    if bool::from(all_zero) {
        Err(WeakKey::AllZero)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_odd_parity() {
        // A typo in a table would very likely break parity.
        for key in WEAK.iter().chain(&SEMI_WEAK) {
            assert!(key.to_be_bytes().iter().all(|b| b.count_ones() % 2 == 1));
        }
    }

    #[test]
    fn semi_weak_keys_come_in_pairs() {
        // Each pair (K, K') swaps byte halves of a 2-byte pattern: K' is K with
        // adjacent bytes exchanged.
        for pair in SEMI_WEAK.chunks_exact(2) {
            let (a, b) = (pair[0].to_be_bytes(), pair[1].to_be_bytes());
            for i in (0..8).step_by(2) {
                assert_eq!((a[i], a[i + 1]), (b[i + 1], b[i]));
            }
        }
    }
}
