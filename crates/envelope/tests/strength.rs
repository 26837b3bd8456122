//! Key-strength rules: single DES in disguise, DES weak and semi-weak parts,
//! all-zero keys. The weak and semi-weak keys are those NIST SP 800-67 Rev. 2
//! (section 3.3.2) lists; the seeds' example keys must still be accepted.

use pinset_envelope::{AesKey, Error, TdesKey, WeakKey};
use proptest::prelude::*;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn tdes_rule(key: &str) -> Option<WeakKey> {
    match TdesKey::new(&unhex(key)) {
        Ok(_) => None,
        Err(Error::WeakKey {
            algorithm: "TDES",
            rule,
        }) => Some(rule),
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

#[test]
fn two_key_with_equal_halves_is_single_des() {
    assert_eq!(
        tdes_rule("0123456789ABCDEF0123456789ABCDEF"),
        Some(WeakKey::SingleDes)
    );
    // The halves differ only in parity bits: still the same DES key.
    assert_eq!(
        tdes_rule("0123456789ABCDEF0023456788ABCDEE"),
        Some(WeakKey::SingleDes)
    );
}

#[test]
fn three_key_that_reduces_to_single_des() {
    // K1 = K2: EDE cancels to E(K3).
    assert_eq!(
        tdes_rule("0123456789ABCDEF0123456789ABCDEFFEDCBA9876543210"),
        Some(WeakKey::SingleDes)
    );
    // K2 = K3: EDE cancels to E(K1).
    assert_eq!(
        tdes_rule("FEDCBA98765432100123456789ABCDEF0123456789ABCDEF"),
        Some(WeakKey::SingleDes)
    );
    // K1 = K3 is 2-key TDES written as 24 bytes, which is allowed.
    assert_eq!(
        tdes_rule("0123456789ABCDEFFEDCBA98765432100123456789ABCDEF"),
        None
    );
}

#[test]
fn single_des_in_disguise_enciphers_as_single_des() {
    // Why the rule exists: K1 K1 K3 gives the same ciphertext as DES under K3.
    use cipher::{BlockCipherEncrypt, KeyInit};
    let k1 = unhex("0123456789ABCDEF");
    let k3 = unhex("FEDCBA9876543210");
    let ede3 = des::TdesEde3::new_from_slice(&[k1.clone(), k1, k3.clone()].concat()).unwrap();
    let single = des::Des::new_from_slice(&k3).unwrap();
    let (mut a, mut b) = ([0x5Au8; 8], [0x5Au8; 8]);
    ede3.encrypt_block((&mut a).into());
    single.encrypt_block((&mut b).into());
    assert_eq!(a, b);
}

#[test]
fn weak_and_semi_weak_parts_are_refused_in_any_position() {
    // NIST SP 800-67 Rev. 2, 3.3.2.
    let weak = [
        "0101010101010101",
        "FEFEFEFEFEFEFEFE",
        "E0E0E0E0F1F1F1F1",
        "1F1F1F1F0E0E0E0E",
        // Parity is ignored: these are the same DES keys as the two above.
        "0000000000000000",
        "FFFFFFFFFFFFFFFF",
    ];
    let semi_weak = [
        "011F011F010E010E",
        "1F011F010E010E01",
        "01E001E001F101F1",
        "E001E001F101F101",
        "01FE01FE01FE01FE",
        "FE01FE01FE01FE01",
        "1FE01FE00EF10EF1",
        "E01FE01FF10EF10E",
        "1FFE1FFE0EFE0EFE",
        "FE1FFE1FFE0EFE0E",
        "E0FEE0FEF1FEF1FE",
        "FEE0FEE0FEF1FEF1",
    ];
    let good = ["0123456789ABCDEF", "FEDCBA9876543210", "89ABCDEF01234567"];
    for (parts, rule) in [
        (&weak[..], WeakKey::WeakDesPart),
        (&semi_weak[..], WeakKey::SemiWeakDesPart),
    ] {
        for part in parts {
            for key in [
                format!("{part}{}", good[0]),
                format!("{}{part}", good[0]),
                format!("{part}{}{}", good[0], good[1]),
                format!("{}{part}{}", good[0], good[1]),
                format!("{}{}{part}", good[0], good[1]),
            ] {
                assert_eq!(tdes_rule(&key), Some(rule), "{part} in {}", key.len() / 2);
            }
        }
    }
}

#[test]
fn all_zero_keys_are_refused() {
    for len in [16, 24] {
        assert_eq!(
            TdesKey::new(&vec![0; len]).unwrap_err(),
            Error::WeakKey {
                algorithm: "TDES",
                rule: WeakKey::AllZero
            }
        );
    }
    for len in [16, 24, 32] {
        assert_eq!(
            AesKey::new(&vec![0; len]).unwrap_err(),
            Error::WeakKey {
                algorithm: "AES",
                rule: WeakKey::AllZero
            }
        );
    }
    // One set bit is enough for AES (there is no weak-key notion beyond zero).
    let mut one = [0u8; 16];
    one[15] = 1;
    assert!(AesKey::new(&one).is_ok());
}

#[test]
fn published_and_seed_keys_without_odd_parity_are_accepted() {
    // shared/vectors/iso9564.json: KCV vectors and the Mastercard Processing sandbox ZPK.
    for key in [
        "0123456789ABCDEFFEDCBA9876543210",
        "E6F1081FEA4C402CC192B65DE367EC3E",
        "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861",
    ] {
        assert_eq!(tdes_rule(key), None, "{key}");
    }
    // Parity is not enforced: 0x00 and 0x02 have even parity.
    assert_eq!(tdes_rule("0002030405060708090A0B0C0D0E0F10"), None);
}

#[test]
fn the_error_names_the_rule_never_the_key() {
    let key = "0123456789ABCDEF0123456789ABCDEF";
    let err = TdesKey::new(&unhex(key)).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert_eq!(
        err.to_string(),
        "TDES key refused: two key parts are equal, so it is single DES"
    );
    assert!(!shown.contains("0123456789ABCDEF") && !shown.contains("0123456789abcdef"));
}

proptest! {
    #[test]
    fn equal_parts_are_always_refused(part in any::<[u8; 8]>(), other in any::<[u8; 8]>(), parity in any::<u8>()) {
        // Flip parity bits of the copy: DES ignores them, so must the rule.
        let mut copy = part;
        for (i, b) in copy.iter_mut().enumerate() {
            *b ^= (parity >> i) & 1;
        }
        prop_assert!(TdesKey::new(&[part, copy].concat()).is_err());
        prop_assert!(TdesKey::new(&[part, copy, other].concat()).is_err());
        prop_assert!(TdesKey::new(&[other, part, copy].concat()).is_err());
    }
}
