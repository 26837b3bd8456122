//! The RSA key ring: publishing, rotation with a grace period, retirement and lookups.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{T0, TestResult, at, clock, idx, rng, rsa2048, rsa3072};
use pinset_block::{Format, Pan, Pin};
use pinset_envelope::rsa::{self, RsaDecryptor};
use pinset_envelope::{RsaPadding, RsaPublicKey, Undecryptable};
use pinset_keys::{
    Clock, KeyError, KeyIndex, KeyPurpose, KeyState, KeyStore, ManualClock, MemoryKeyStore, NewKey,
    PublicKeyForm, RingEntry, RingSnapshot, RsaKeyRing, StoreError,
};

const GRACE: Duration = Duration::from_secs(600);

/// What a device does: fetch the published key and seal a format 1 block under it.
fn device_seal<S: KeyStore, C: pinset_keys::Clock>(
    ring: &RsaKeyRing<S, C>,
    pin: &str,
    seed: u64,
) -> Result<(String, Vec<u8>), Box<dyn std::error::Error>> {
    let published = ring.publish(PublicKeyForm::DerHex)?;
    let key = RsaPublicKey::from_hex(&published.public_rsa_key)?;
    let block = key.seal(
        Format::Iso1,
        &Pin::new(pin)?,
        None,
        RsaPadding::OaepSha256,
        &mut rng(seed),
    )?;
    Ok((published.key_index.to_string(), block))
}

fn two_key_ring() -> Result<(RsaKeyRing<MemoryKeyStore, ManualClock>, ManualClock), KeyError> {
    let clock = clock();
    let ring = RsaKeyRing::with_clock(clock.clone());
    ring.rotate(NewKey::new(idx("K1")?, rsa2048()?), GRACE)?;
    Ok((ring, clock))
}

#[test]
fn block_under_old_index_opens_during_grace_then_asks_for_refetch() -> TestResult {
    let (ring, clock) = two_key_ring()?;
    let (old_index, old_block) = device_seal(&ring, "7580", 1)?;
    assert_eq!(old_index, "K1");

    clock.advance(Duration::from_secs(5));
    let rotation = ring.rotate(NewKey::new(idx("K2")?, rsa3072()?), GRACE)?;
    assert_eq!(rotation.active, idx("K2")?);
    assert_eq!(rotation.previous, Some(idx("K1")?));
    let until = at(5_000 + 600_000);
    assert_eq!(rotation.previous_until, Some(until));

    // The new key is the one published, and it opens its own blocks.
    let (new_index, new_block) = device_seal(&ring, "1234", 2)?;
    assert_eq!(new_index, "K2");
    assert_eq!(
        ring.open_pin_block("K2", Format::Iso1, &new_block, None)?
            .expose_digits(),
        b"1234"
    );

    // The old key still opens its blocks up to the last millisecond of grace.
    clock.set(at(5_000 + 600_000 - 1));
    assert_eq!(
        ring.open_pin_block("K1", Format::Iso1, &old_block, None)?
            .expose_digits(),
        b"7580"
    );

    // At the end of grace it is retired: the client must fetch the key again.
    clock.set(until);
    let err = ring
        .open_pin_block("K1", Format::Iso1, &old_block, None)
        .err()
        .ok_or("retired key still decrypts")?;
    assert!(
        matches!(&err, KeyError::RetiredKeyIndex { key_index, since } if key_index.as_str() == "K1" && *since == until),
        "{err:?}"
    );
    assert!(err.is_refetch());
    assert!(err.to_string().contains("fetch the current public key"));
    assert_eq!(err.outward(), Undecryptable);
    // The new key is unaffected.
    assert!(
        ring.open_pin_block("K2", Format::Iso1, &new_block, None)
            .is_ok()
    );
    Ok(())
}

#[test]
fn unknown_index_is_its_own_error_and_not_a_refetch() -> TestResult {
    let (ring, _) = two_key_ring()?;
    let (_, block) = device_seal(&ring, "7580", 1)?;
    let err = ring
        .open_pin_block("A1564386531162", Format::Iso1, &block, None)
        .err()
        .ok_or("unknown index decrypted")?;
    assert!(matches!(&err, KeyError::UnknownKeyIndex(i) if i.as_str() == "A1564386531162"));
    assert!(!err.is_refetch());

    // Text that is no key index at all is refused before any lookup, without echoing it.
    let err = ring
        .open_pin_block("K1\r\nX-Injected: 1", Format::Iso1, &block, None)
        .err()
        .ok_or("bad index accepted")?;
    assert!(matches!(err, KeyError::InvalidId(_)));
    assert!(!err.to_string().contains("Injected"));
    Ok(())
}

#[test]
fn exactly_one_active_key_through_rotations() -> TestResult {
    let (ring, clock) = two_key_ring()?;
    let keys = [rsa3072()?, rsa2048()?, rsa3072()?];
    for (i, key) in keys.into_iter().enumerate() {
        clock.advance(Duration::from_secs(60));
        ring.rotate(NewKey::new(KeyIndex::new(&format!("R{i}"))?, key), GRACE)?;
        let entries = ring.entries()?;
        let active: Vec<_> = entries
            .iter()
            .filter(|e| e.state() == KeyState::Active)
            .collect();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].key_index().as_str(), format!("R{i}"));
    }
    let states: Vec<(String, KeyState)> = ring
        .entries()?
        .iter()
        .map(|e| (e.key_index().to_string(), e.state()))
        .collect();
    assert_eq!(
        states,
        vec![
            ("K1".into(), KeyState::DecryptOnly { until: at(660_000) }),
            ("R0".into(), KeyState::DecryptOnly { until: at(720_000) }),
            ("R1".into(), KeyState::DecryptOnly { until: at(780_000) }),
            ("R2".into(), KeyState::Active),
        ]
    );
    Ok(())
}

#[test]
fn sweep_writes_retirement_down_and_drops_the_private_key() -> TestResult {
    let (ring, clock) = two_key_ring()?;
    ring.rotate(NewKey::new(idx("K2")?, rsa3072()?), GRACE)?;
    assert_eq!(ring.sweep()?, Vec::<KeyIndex>::new());

    clock.advance(GRACE);
    let k1 = |ring: &RsaKeyRing<MemoryKeyStore, ManualClock>| -> Option<RingEntry> {
        ring.entries()
            .ok()?
            .into_iter()
            .find(|e| e.key_index().as_str() == "K1")
    };
    // Lazily retired: the stored state still says decrypt-only.
    let before = k1(&ring).ok_or("K1 missing")?;
    assert_eq!(before.state(), KeyState::DecryptOnly { until: at(600_000) });
    assert_eq!(
        before.state_at(clock.now()),
        KeyState::Retired { since: at(600_000) }
    );
    assert!(before.public_key().is_some());

    assert_eq!(ring.sweep()?, vec![idx("K1")?]);
    let after = k1(&ring).ok_or("K1 missing")?;
    assert_eq!(after.state(), KeyState::Retired { since: at(600_000) });
    assert!(after.public_key().is_none(), "a retired entry keeps no key");
    assert_eq!(ring.sweep()?, Vec::<KeyIndex>::new());

    // Swept, the index still says "retired", not "unknown".
    let err = ring.decryptor("K1").err().ok_or("retired key decrypts")?;
    assert!(err.is_refetch());
    Ok(())
}

#[test]
fn zero_grace_retires_the_previous_key_at_once() -> TestResult {
    let (ring, _) = two_key_ring()?;
    let (_, block) = device_seal(&ring, "7580", 1)?;
    let rotation = ring.rotate(NewKey::new(idx("K2")?, rsa3072()?), Duration::ZERO)?;
    assert_eq!(rotation.previous_until, Some(T0));
    let err = ring
        .open_pin_block("K1", Format::Iso1, &block, None)
        .err()
        .ok_or("decrypted")?;
    assert!(err.is_refetch());
    // Nothing left to sweep: the key was dropped in the rotation itself.
    assert!(ring.sweep()?.is_empty());
    Ok(())
}

#[test]
fn an_index_is_never_reused() -> TestResult {
    let (ring, clock) = two_key_ring()?;
    let err = ring
        .rotate(NewKey::new(idx("K1")?, rsa3072()?), GRACE)
        .err()
        .ok_or("reused an index")?;
    assert!(matches!(err, KeyError::DuplicateKeyIndex(ref i) if i.as_str() == "K1"));

    // Not even once it is retired and swept.
    ring.rotate(NewKey::new(idx("K2")?, rsa3072()?), Duration::ZERO)?;
    clock.advance(GRACE);
    ring.sweep()?;
    assert!(matches!(
        ring.rotate(NewKey::new(idx("K1")?, rsa2048()?), GRACE),
        Err(KeyError::DuplicateKeyIndex(_))
    ));
    // The failed rotations changed nothing.
    assert_eq!(ring.publish(PublicKeyForm::DerHex)?.key_index, idx("K2")?);
    assert_eq!(ring.entries()?.len(), 2);
    Ok(())
}

#[test]
fn not_after_retires_even_the_active_key() -> TestResult {
    let clock = clock();
    let ring = RsaKeyRing::with_clock(clock.clone());
    ring.rotate(
        NewKey::new(idx("K1")?, rsa2048()?).with_not_after(at(3_600_000)),
        GRACE,
    )?;
    let (_, block) = device_seal(&ring, "7580", 1)?;

    clock.set(at(3_600_000));
    assert!(matches!(
        ring.publish(PublicKeyForm::DerHex),
        Err(KeyError::ActiveKeyExpired { ref key_index, since }) if key_index.as_str() == "K1" && since == at(3_600_000)
    ));
    let err = ring
        .open_pin_block("K1", Format::Iso1, &block, None)
        .err()
        .ok_or("expired key decrypts")?;
    assert!(err.is_refetch());

    // A rotation after expiry reports no live previous key.
    let rotation = ring.rotate(NewKey::new(idx("K2")?, rsa3072()?), GRACE)?;
    assert_eq!(rotation.previous, None);
    assert_eq!(ring.publish(PublicKeyForm::DerHex)?.key_index, idx("K2")?);
    Ok(())
}

#[test]
fn not_after_cuts_a_grace_period_short() -> TestResult {
    let clock = clock();
    let ring = RsaKeyRing::with_clock(clock.clone());
    ring.rotate(
        NewKey::new(idx("K1")?, rsa2048()?).with_not_after(at(60_000)),
        GRACE,
    )?;
    ring.rotate(NewKey::new(idx("K2")?, rsa3072()?), GRACE)?;
    clock.set(at(60_000));
    assert!(matches!(
        ring.decryptor("K1"),
        Err(KeyError::RetiredKeyIndex { since, .. }) if since == at(60_000)
    ));
    Ok(())
}

#[test]
fn each_key_has_its_own_padding() -> TestResult {
    let ring = RsaKeyRing::with_clock(clock());
    ring.rotate(
        NewKey::new(idx("V15")?, rsa2048()?).with_padding(RsaPadding::Pkcs1v15),
        GRACE,
    )?;
    let public = RsaPublicKey::from_hex(&ring.publish(PublicKeyForm::DerHex)?.public_rsa_key)?;
    let pan = Pan::new("5141576351968605")?;
    let mut rng = rng(3);
    let block = public.seal(
        Format::Iso0,
        &Pin::new("4321")?,
        Some(&pan),
        RsaPadding::Pkcs1v15,
        &mut rng,
    )?;
    assert_eq!(
        ring.open_pin_block("V15", Format::Iso0, &block, Some(&pan))?
            .expose_digits(),
        b"4321"
    );
    assert_eq!(ring.decryptor("V15")?.padding(), RsaPadding::Pkcs1v15);

    // A block under another padding is refused, and only the log sees why.
    let oaep = public.seal(
        Format::Iso1,
        &Pin::new("4321")?,
        None,
        RsaPadding::OaepSha256,
        &mut rng,
    )?;
    let err = ring
        .open_pin_block("V15", Format::Iso1, &oaep, None)
        .err()
        .ok_or("wrong padding accepted")?;
    assert!(matches!(err, KeyError::Envelope(_)), "{err:?}");
    assert!(!err.is_refetch());
    assert_eq!(err.outward(), Undecryptable);
    Ok(())
}

#[test]
fn publish_forms_are_hex_der_and_pem_body() -> TestResult {
    let ring = RsaKeyRing::with_clock(clock());
    assert!(matches!(
        ring.publish(PublicKeyForm::default()),
        Err(KeyError::NoActiveKey)
    ));
    let key = rsa3072()?;
    ring.rotate(NewKey::new(idx("A1564386531162")?, key.clone()), GRACE)?;

    let hex = ring.publish(PublicKeyForm::default())?;
    assert_eq!(hex.key_index.as_str(), "A1564386531162");
    assert!(
        hex.public_rsa_key
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    );
    assert_eq!(hex.public_rsa_key, key.public_key().to_hex());

    let body = ring.publish(PublicKeyForm::PemBody)?;
    assert!(!body.public_rsa_key.contains("BEGIN") && !body.public_rsa_key.contains('\n'));
    assert!(
        key.public_key()
            .to_pem()
            .replace('\n', "")
            .contains(&body.public_rsa_key)
    );
    assert_eq!(
        RsaPublicKey::from_base64(&body.public_rsa_key)?,
        key.public_key()
    );
    Ok(())
}

#[test]
fn decryptor_is_an_envelope_rsa_decryptor() -> TestResult {
    let (ring, _) = two_key_ring()?;
    let (_, block) = device_seal(&ring, "7580", 1)?;
    let decryptor = ring.decryptor("K1")?;
    assert_eq!(decryptor.key_index().as_str(), "K1");
    assert_eq!(decryptor.purpose(), KeyPurpose::PinEncryption);
    let shared: Arc<dyn RsaDecryptor> = Arc::new(decryptor.clone());
    let pin = rsa::open(
        shared.as_ref(),
        decryptor.padding(),
        Format::Iso1,
        &block,
        None,
    )?;
    assert_eq!(pin.expose_digits(), b"7580");
    assert_eq!(shared.public_key(), rsa2048()?.public_key());
    // Debug names the key by fingerprint, never by its bytes.
    let debug = format!("{decryptor:?}");
    assert!(debug.contains("fingerprint") && debug.contains("K1"));
    Ok(())
}

#[test]
fn a_key_for_another_purpose_is_not_published_and_opens_no_pin_block() -> TestResult {
    let ring = RsaKeyRing::with_clock(clock());
    ring.rotate(
        NewKey::new(idx("KEK1")?, rsa2048()?).with_purpose(KeyPurpose::KeyEncryption),
        GRACE,
    )?;
    // Published, it would have devices seal PIN blocks that every set PIN then refuses.
    for form in [PublicKeyForm::DerHex, PublicKeyForm::PemBody] {
        assert!(matches!(
            ring.publish(form),
            Err(KeyError::WrongPurpose {
                expected: KeyPurpose::PinEncryption,
                found: KeyPurpose::KeyEncryption,
                ..
            })
        ));
    }
    // Published for what it is, it is fine.
    let transport = ring.publish_for(KeyPurpose::KeyEncryption, PublicKeyForm::DerHex)?;
    assert_eq!(transport.key_index.as_str(), "KEK1");
    let public = rsa2048()?.public_key();
    let block = public.seal(
        Format::Iso1,
        &Pin::new("7580")?,
        None,
        RsaPadding::OaepSha256,
        &mut rng(1),
    )?;
    assert!(matches!(
        ring.open_pin_block("KEK1", Format::Iso1, &block, None),
        Err(KeyError::WrongPurpose {
            expected: KeyPurpose::PinEncryption,
            found: KeyPurpose::KeyEncryption,
            ..
        })
    ));
    Ok(())
}

#[test]
fn rotating_to_an_expired_key_is_refused_and_changes_nothing() -> TestResult {
    for grace in [GRACE, Duration::ZERO] {
        let (ring, clock) = two_key_ring()?;
        clock.advance(Duration::from_secs(60));
        let before = ring.store().snapshot()?;
        let (_, block) = device_seal(&ring, "7580", 1)?;
        // Expired a millisecond ago, and expiring exactly now.
        for not_after in [at(59_999), at(60_000)] {
            let err = ring
                .rotate(
                    NewKey::new(idx("K2")?, rsa3072()?).with_not_after(not_after),
                    grace,
                )
                .unwrap_err();
            assert!(
                matches!(err, KeyError::NewKeyExpired { ref key_index, not_after: na }
                    if key_index.as_str() == "K2" && na == not_after),
                "{err:?}"
            );
        }
        let after = ring.store().snapshot()?;
        assert_eq!(after.generation, before.generation, "nothing was written");
        assert_eq!(
            ring.publish(PublicKeyForm::DerHex)?.key_index.as_str(),
            "K1"
        );
        // The live key kept its private half, even with a zero grace.
        assert_eq!(
            ring.open_pin_block("K1", Format::Iso1, &block, None)?
                .expose_digits(),
            b"7580"
        );
        // One millisecond of life left is enough to rotate.
        ring.rotate(
            NewKey::new(idx("K3")?, rsa3072()?).with_not_after(at(60_001)),
            grace,
        )?;
        assert_eq!(
            ring.publish(PublicKeyForm::DerHex)?.key_index.as_str(),
            "K3"
        );
    }
    Ok(())
}

#[test]
fn concurrent_rotations_all_land_with_one_active_key() -> TestResult {
    let ring = Arc::new(RsaKeyRing::with_clock(clock()));
    let keys = [rsa2048()?, rsa3072()?];
    std::thread::scope(|s| {
        for t in 0..4 {
            let ring = Arc::clone(&ring);
            let key = keys[t % 2].clone();
            s.spawn(move || {
                for i in 0..5 {
                    let index = KeyIndex::new(&format!("T{t}I{i}"));
                    let done =
                        index.map(|index| ring.rotate(NewKey::new(index, key.clone()), GRACE));
                    assert!(matches!(done, Ok(Ok(_))), "{done:?}");
                }
            });
        }
    });
    let entries = ring.entries()?;
    assert_eq!(entries.len(), 20);
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.state() == KeyState::Active)
            .count(),
        1
    );
    Ok(())
}

/// A store whose every write loses the race.
struct AlwaysConflict(MemoryKeyStore);

impl KeyStore for AlwaysConflict {
    fn snapshot(&self) -> Result<RingSnapshot, StoreError> {
        self.0.snapshot()
    }

    fn compare_and_swap(&self, generation: u64, _: Vec<RingEntry>) -> Result<u64, StoreError> {
        Err(StoreError::Conflict {
            expected: generation,
            found: generation + 1,
        })
    }
}

#[test]
fn a_store_that_never_settles_fails_the_rotation_cleanly() -> TestResult {
    let ring = RsaKeyRing::with_store(AlwaysConflict(MemoryKeyStore::new()), clock());
    let err = ring
        .rotate(NewKey::new(idx("K1")?, rsa2048()?), GRACE)
        .err()
        .ok_or("rotation claimed success")?;
    assert!(
        matches!(err, KeyError::Store(StoreError::Conflict { .. })),
        "{err:?}"
    );
    assert!(ring.entries()?.is_empty());
    Ok(())
}

#[test]
fn rotate_generate_makes_a_working_key() -> TestResult {
    // The one test that generates an RSA key.
    let (ring, _) = two_key_ring()?;
    ring.rotate_generate(idx("GEN")?, 2048, GRACE, &mut rng(9))?;
    let (index, block) = device_seal(&ring, "24680", 4)?;
    assert_eq!(index, "GEN");
    assert_eq!(
        ring.open_pin_block("GEN", Format::Iso1, &block, None)?
            .expose_digits(),
        b"24680"
    );
    Ok(())
}
