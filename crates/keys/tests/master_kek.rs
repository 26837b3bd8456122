//! One master KEK, one key per purpose.
//!
//! Vector: the derivations of master `42` × 32 bytes, computed with
//! pyca/cryptography 50.0.2's HKDF (SHA-256, no salt, 32 bytes, the
//! `info` strings below), an implementation independent of RustCrypto's
//! `hkdf`:
//!
//! ```text
//! HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"pinset v1 tzpk wrapping").derive(b"\x42" * 32)
//! ```

use pinset_keys::{Kek, KeyError, MasterKek};

const RING: &str = "C0E8EAD118AA92C050124932ABEDB79BA2EEEBF88E8B7685E18B239D59451FE9";
const TZPK: &str = "3B36F16AC2728B67AA0B0B344CFB06AF24473A4310DE85168DB4FDE25C899E3E";

#[test]
fn derivations_match_an_independent_hkdf() {
    let master = MasterKek::new(&[0x42; 32]).unwrap();
    assert_eq!(hex::encode_upper(master.tzpk_wrapping().as_slice()), TZPK);
    let ring = master.ring_sealing().unwrap();
    assert_eq!(
        ring.kcv(),
        Kek::new(&hex::decode(RING).unwrap()).unwrap().kcv()
    );
}

#[test]
fn each_purpose_has_its_own_key_and_every_instance_derives_the_same() {
    let (a, b) = (
        MasterKek::new(&[7; 32]).unwrap(),
        MasterKek::new(&[7; 32]).unwrap(),
    );
    assert_eq!(a.tzpk_wrapping().as_slice(), b.tzpk_wrapping().as_slice());
    assert_eq!(
        a.ring_sealing().unwrap().kcv(),
        b.ring_sealing().unwrap().kcv()
    );
    let wrapping = Kek::new(a.tzpk_wrapping().as_slice()).unwrap();
    assert_ne!(a.ring_sealing().unwrap().kcv(), wrapping.kcv());
    assert_ne!(
        a.ring_sealing().unwrap().kcv(),
        Kek::new(&[7; 32]).unwrap().kcv()
    );
}

#[test]
fn a_master_is_32_bytes_and_not_zero() {
    assert!(matches!(
        MasterKek::new(&[1; 16]),
        Err(KeyError::KekLength { found: 16 })
    ));
    assert!(matches!(
        MasterKek::new(&[0; 32]),
        Err(KeyError::Envelope(_))
    ));
}
