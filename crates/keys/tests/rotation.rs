//! The RSA key ring: publishing, rotation with a grace period, retirement and lookups.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Hsm, T0, TestResult, at, clock, idx, rng, rsa2048, rsa3072};
use pinset_block::{Format, Pan, Pin};
use pinset_envelope::{RsaPadding, RsaPublicKey, Undecryptable};
use pinset_keys::{
    Clock, KeyError, KeyIndex, KeyPurpose, KeyState, KeyStore, ManualClock, MemoryKeyStore, NewKey,
    PublicKeyForm, RetiredKey, RingEntry, RingSnapshot, RsaKeyRing, StoreError,
};
use pinset_module::{
    ErrorClass, KeyAlgorithm, KeyCheck, ModuleError, SecurityModule, TranslatePin,
};
use pollster::block_on;

const GRACE: Duration = Duration::from_secs(600);

/// What a device does: fetch the published key and seal a format 1 block under it.
fn device_seal<S: KeyStore, C: pinset_keys::Clock>(
    ring: &RsaKeyRing<S, C>,
    pin: &str,
    seed: u64,
) -> Result<(String, Vec<u8>), Box<dyn std::error::Error>> {
    let published = block_on(ring.publish(PublicKeyForm::DerHex))?;
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

fn two_key_ring(
    hsm: &Hsm,
) -> Result<(RsaKeyRing<MemoryKeyStore, ManualClock>, ManualClock), KeyError> {
    let clock = clock();
    let ring = RsaKeyRing::with_clock(clock.clone());
    block_on(ring.rotate(hsm.new_key("K1", &rsa2048()?)?, GRACE))?;
    Ok((ring, clock))
}

#[test]
fn block_under_old_index_opens_during_grace_then_asks_for_refetch() -> TestResult {
    let hsm = Hsm::new(1)?;
    let (ring, clock) = two_key_ring(&hsm)?;
    let (old_index, old_block) = device_seal(&ring, "7580", 1)?;
    assert_eq!(old_index, "K1");

    clock.advance(Duration::from_secs(5));
    let rotation = block_on(ring.rotate(hsm.new_key("K2", &rsa3072()?)?, GRACE))?;
    assert_eq!(rotation.active, idx("K2")?);
    assert_eq!(rotation.previous, Some(idx("K1")?));
    let until = at(5_000 + 600_000);
    assert_eq!(rotation.previous_until, Some(until));

    // The new key is the one published, and it opens its own blocks.
    let (new_index, new_block) = device_seal(&ring, "1234", 2)?;
    assert_eq!(new_index, "K2");
    assert_eq!(
        hsm.open(&ring, "K2", Format::Iso1, &new_block, None)?
            .expose_digits(),
        b"1234"
    );

    // The old key still opens its blocks up to the last millisecond of grace.
    clock.set(at(5_000 + 600_000 - 1));
    assert_eq!(
        hsm.open(&ring, "K1", Format::Iso1, &old_block, None)?
            .expose_digits(),
        b"7580"
    );

    // At the end of grace it is retired: the client must fetch the key again.
    clock.set(until);
    let err = hsm
        .open(&ring, "K1", Format::Iso1, &old_block, None)
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
        hsm.open(&ring, "K2", Format::Iso1, &new_block, None)
            .is_ok()
    );
    Ok(())
}

#[test]
fn unknown_index_is_its_own_error_and_not_a_refetch() -> TestResult {
    let hsm = Hsm::new(2)?;
    let (ring, _) = two_key_ring(&hsm)?;
    let (_, block) = device_seal(&ring, "7580", 1)?;
    let err = hsm
        .open(&ring, "A1564386531162", Format::Iso1, &block, None)
        .err()
        .ok_or("unknown index decrypted")?;
    assert!(matches!(&err, KeyError::UnknownKeyIndex(i) if i.as_str() == "A1564386531162"));
    assert!(!err.is_refetch());

    // Text that is no key index at all is refused before any lookup, without echoing it.
    let err = hsm
        .open(&ring, "K1\r\nX-Injected: 1", Format::Iso1, &block, None)
        .err()
        .ok_or("bad index accepted")?;
    assert!(matches!(err, KeyError::InvalidId(_)));
    assert!(!err.to_string().contains("Injected"));
    Ok(())
}

#[test]
fn exactly_one_active_key_through_rotations() -> TestResult {
    let hsm = Hsm::new(3)?;
    let (ring, clock) = two_key_ring(&hsm)?;
    let keys = [rsa3072()?, rsa2048()?, rsa3072()?];
    for (i, key) in keys.into_iter().enumerate() {
        clock.advance(Duration::from_secs(60));
        block_on(ring.rotate(hsm.new_key(&format!("R{i}"), &key)?, GRACE))?;
        let entries = block_on(ring.entries())?;
        let active: Vec<_> = entries
            .iter()
            .filter(|e| e.state() == KeyState::Active)
            .collect();
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].key_index().as_str(), format!("R{i}"));
    }
    let states: Vec<(String, KeyState)> = block_on(ring.entries())?
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
    let hsm = Hsm::new(4)?;
    let (ring, clock) = two_key_ring(&hsm)?;
    let k1_handle = block_on(ring.live_key("K1"))?.key().clone();
    block_on(ring.rotate(hsm.new_key("K2", &rsa3072()?)?, GRACE))?;
    assert_eq!(block_on(ring.sweep())?, Vec::<RetiredKey>::new());

    clock.advance(GRACE);
    let k1 = |ring: &RsaKeyRing<MemoryKeyStore, ManualClock>| -> Option<RingEntry> {
        block_on(ring.entries())
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
    assert_eq!(before.key(), Some(&k1_handle));

    // The sweep hands back the retired key's handle, once.
    let retired = block_on(ring.sweep())?;
    assert_eq!(
        retired,
        vec![RetiredKey {
            key_index: idx("K1")?,
            key: k1_handle.clone(),
        }]
    );
    let after = k1(&ring).ok_or("K1 missing")?;
    assert_eq!(after.state(), KeyState::Retired { since: at(600_000) });
    assert!(after.public_key().is_none(), "a retired entry keeps no key");
    assert!(after.key().is_none(), "a retired entry keeps no handle");
    assert_eq!(block_on(ring.sweep())?, Vec::<RetiredKey>::new());

    // The caller destroys the private key in the module; its handle is then unknown there.
    block_on(hsm.module.destroy(&retired[0].key))?;
    assert!(matches!(
        block_on(hsm.module.rsa_public_key(&k1_handle)),
        Err(ModuleError::UnknownKey(_))
    ));

    // Swept, the index still says "retired", not "unknown".
    let err = block_on(ring.live_key("K1"))
        .err()
        .ok_or("retired key decrypts")?;
    assert!(err.is_refetch());
    Ok(())
}

#[test]
fn zero_grace_retires_the_previous_key_at_once() -> TestResult {
    let hsm = Hsm::new(5)?;
    let (ring, _) = two_key_ring(&hsm)?;
    let (_, block) = device_seal(&ring, "7580", 1)?;
    let k1_handle = block_on(ring.live_key("K1"))?.key().clone();
    let rotation = block_on(ring.rotate(hsm.new_key("K2", &rsa3072()?)?, Duration::ZERO))?;
    assert_eq!(rotation.previous_until, Some(T0));
    // The rotation itself hands back the previous key's handle, to destroy in the module.
    assert_eq!(
        rotation.retired,
        vec![RetiredKey {
            key_index: idx("K1")?,
            key: k1_handle,
        }]
    );
    let err = hsm
        .open(&ring, "K1", Format::Iso1, &block, None)
        .err()
        .ok_or("decrypted")?;
    assert!(err.is_refetch());
    // Nothing left to sweep: the key was dropped in the rotation itself.
    assert!(block_on(ring.sweep())?.is_empty());
    Ok(())
}

#[test]
fn an_index_is_never_reused() -> TestResult {
    let hsm = Hsm::new(6)?;
    let (ring, clock) = two_key_ring(&hsm)?;
    let err = block_on(ring.rotate(hsm.new_key("K1", &rsa3072()?)?, GRACE))
        .err()
        .ok_or("reused an index")?;
    assert!(matches!(err, KeyError::DuplicateKeyIndex(ref i) if i.as_str() == "K1"));

    // Not even once it is retired and swept.
    block_on(ring.rotate(hsm.new_key("K2", &rsa3072()?)?, Duration::ZERO))?;
    clock.advance(GRACE);
    block_on(ring.sweep())?;
    assert!(matches!(
        block_on(ring.rotate(hsm.new_key("K1", &rsa2048()?)?, GRACE)),
        Err(KeyError::DuplicateKeyIndex(_))
    ));
    // The failed rotations changed nothing.
    assert_eq!(
        block_on(ring.publish(PublicKeyForm::DerHex))?.key_index,
        idx("K2")?
    );
    assert_eq!(block_on(ring.entries())?.len(), 2);
    Ok(())
}

#[test]
fn not_after_retires_even_the_active_key() -> TestResult {
    let hsm = Hsm::new(7)?;
    let clock = clock();
    let ring = RsaKeyRing::with_clock(clock.clone());
    block_on(
        ring.rotate(
            hsm.new_key("K1", &rsa2048()?)?
                .with_not_after(at(3_600_000)),
            GRACE,
        ),
    )?;
    let (_, block) = device_seal(&ring, "7580", 1)?;

    clock.set(at(3_600_000));
    assert!(matches!(
        block_on(ring.publish(PublicKeyForm::DerHex)),
        Err(KeyError::ActiveKeyExpired { ref key_index, since }) if key_index.as_str() == "K1" && since == at(3_600_000)
    ));
    let err = hsm
        .open(&ring, "K1", Format::Iso1, &block, None)
        .err()
        .ok_or("expired key decrypts")?;
    assert!(err.is_refetch());

    // A rotation after expiry reports no live previous key.
    let rotation = block_on(ring.rotate(hsm.new_key("K2", &rsa3072()?)?, GRACE))?;
    assert_eq!(rotation.previous, None);
    assert_eq!(
        block_on(ring.publish(PublicKeyForm::DerHex))?.key_index,
        idx("K2")?
    );
    Ok(())
}

#[test]
fn not_after_cuts_a_grace_period_short() -> TestResult {
    let hsm = Hsm::new(8)?;
    let clock = clock();
    let ring = RsaKeyRing::with_clock(clock.clone());
    block_on(ring.rotate(
        hsm.new_key("K1", &rsa2048()?)?.with_not_after(at(60_000)),
        GRACE,
    ))?;
    block_on(ring.rotate(hsm.new_key("K2", &rsa3072()?)?, GRACE))?;
    clock.set(at(60_000));
    assert!(matches!(
        block_on(ring.live_key("K1")),
        Err(KeyError::RetiredKeyIndex { since, .. }) if since == at(60_000)
    ));
    Ok(())
}

#[test]
fn each_key_has_its_own_padding() -> TestResult {
    let hsm = Hsm::new(9)?;
    let ring = RsaKeyRing::with_clock(clock());
    block_on(
        ring.rotate(
            hsm.new_key("V15", &rsa2048()?)?
                .with_padding(RsaPadding::Pkcs1v15),
            GRACE,
        ),
    )?;
    let public =
        RsaPublicKey::from_hex(&block_on(ring.publish(PublicKeyForm::DerHex))?.public_rsa_key)?;
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
        hsm.open(&ring, "V15", Format::Iso0, &block, Some(&pan))?
            .expose_digits(),
        b"4321"
    );
    assert_eq!(
        block_on(ring.live_key("V15"))?.padding(),
        RsaPadding::Pkcs1v15
    );

    // A block under another padding is refused, and only the log sees why.
    let oaep = public.seal(
        Format::Iso1,
        &Pin::new("4321")?,
        None,
        RsaPadding::OaepSha256,
        &mut rng,
    )?;
    let err = hsm
        .open(&ring, "V15", Format::Iso1, &oaep, None)
        .err()
        .ok_or("wrong padding accepted")?;
    // The module answers one class for it, whatever the cause.
    assert!(
        matches!(&err, KeyError::Module(e @ ModuleError::Undecryptable(_)) if e.class() == ErrorClass::Undecryptable),
        "{err:?}"
    );
    assert!(!err.is_refetch());
    assert_eq!(err.outward(), Undecryptable);
    Ok(())
}

#[test]
fn publish_forms_are_hex_der_and_pem_body() -> TestResult {
    let hsm = Hsm::new(30)?;
    let ring = RsaKeyRing::with_clock(clock());
    assert!(matches!(
        block_on(ring.publish(PublicKeyForm::default())),
        Err(KeyError::NoActiveKey)
    ));
    let key = rsa3072()?;
    block_on(ring.rotate(hsm.new_key("A1564386531162", &key)?, GRACE))?;

    let hex = block_on(ring.publish(PublicKeyForm::default()))?;
    assert_eq!(hex.key_index.as_str(), "A1564386531162");
    assert!(
        hex.public_rsa_key
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    );
    assert_eq!(hex.public_rsa_key, key.public_key().to_hex());

    let body = block_on(ring.publish(PublicKeyForm::PemBody))?;
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
fn live_key_names_the_key_in_the_module() -> TestResult {
    let hsm = Hsm::new(10)?;
    let (ring, _) = two_key_ring(&hsm)?;
    let (_, block) = device_seal(&ring, "7580", 1)?;
    let live = block_on(ring.live_key("K1"))?;
    assert_eq!(live.key_index().as_str(), "K1");
    assert_eq!(live.purpose(), KeyPurpose::PinEncryption);
    assert_eq!(live.padding(), RsaPadding::OaepSha256);
    // The handle names the fixture's key pair by its public fingerprint.
    let public = rsa2048()?.public_key();
    assert_eq!(live.key().algorithm(), KeyAlgorithm::Rsa { bits: 2048 });
    assert_eq!(
        live.key().check(),
        KeyCheck::Fingerprint(public.fingerprint_bytes())
    );
    assert_eq!(block_on(hsm.module.rsa_public_key(live.key()))?, public);
    // Its source names the handle and padding; the module opens the block.
    let source = live.pin_source(&block, Format::Iso1)?;
    assert_eq!(source.key(), live.key());
    assert_eq!(source.format(), Format::Iso1);
    assert_eq!(hsm.translate(source, None)?.expose_digits(), b"7580");
    // Debug names the key by fingerprint, never by its bytes.
    let debug = format!("{live:?}");
    assert!(
        debug.contains("Fingerprint") && debug.contains("K1"),
        "{debug}"
    );
    Ok(())
}

#[test]
fn new_key_refuses_a_handle_that_is_not_its_public_key() -> TestResult {
    let hsm = Hsm::new(31)?;
    let handle = hsm.rsa(KeyPurpose::PinEncryption, &rsa2048()?)?;
    let err = NewKey::new(idx("K1")?, handle.clone(), rsa3072()?.public_key())
        .err()
        .ok_or("a mismatched public key was accepted")?;
    assert!(
        matches!(&err, KeyError::KeyMismatch(id) if id == handle.id()),
        "{err:?}"
    );
    // A symmetric handle is no ring key either.
    let err = NewKey::new(idx("K1")?, hsm.zpk.clone(), rsa2048()?.public_key())
        .err()
        .ok_or("a TDES handle was accepted")?;
    assert!(matches!(err, KeyError::KeyMismatch(_)), "{err:?}");
    // From the module, the public key is the handle's own.
    let new = block_on(NewKey::from_module(&hsm.module, idx("K1")?, handle.clone()))?;
    assert_eq!(new.key(), &handle);
    assert_eq!(new.public_key(), &rsa2048()?.public_key());
    Ok(())
}

#[test]
fn a_key_for_another_purpose_is_not_published_and_opens_no_pin_block() -> TestResult {
    let hsm = Hsm::new(11)?;
    let ring = RsaKeyRing::with_clock(clock());
    block_on(ring.rotate(
        hsm.new_key_for("KEK1", &rsa2048()?, KeyPurpose::KeyEncryption)?,
        GRACE,
    ))?;
    // Published, it would have devices seal PIN blocks that every set PIN then refuses.
    for form in [PublicKeyForm::DerHex, PublicKeyForm::PemBody] {
        assert!(matches!(
            block_on(ring.publish(form)),
            Err(KeyError::WrongPurpose {
                expected: KeyPurpose::PinEncryption,
                found: KeyPurpose::KeyEncryption,
                ..
            })
        ));
    }
    // Published for what it is, it is fine.
    let transport = block_on(ring.publish_for(KeyPurpose::KeyEncryption, PublicKeyForm::DerHex))?;
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
        hsm.open(&ring, "KEK1", Format::Iso1, &block, None),
        Err(KeyError::WrongPurpose {
            expected: KeyPurpose::PinEncryption,
            found: KeyPurpose::KeyEncryption,
            ..
        })
    ));
    // The module refuses it too, should a caller name the handle directly.
    let live = block_on(ring.live_key("KEK1"))?;
    let pan = Pan::new("5141576351968605")?;
    let refused = block_on(hsm.module.translate(&TranslatePin {
        source: pinset_module::PinSource::Rsa {
            key: live.key(),
            padding: live.padding(),
            cryptogram: &block,
            format: Format::Iso1,
        },
        destination: &hsm.zpk,
        format: Format::Iso0,
        pan: Some(&pan),
        policy: None,
    }));
    assert!(
        matches!(
            refused,
            Err(ModuleError::WrongPurpose {
                expected: KeyPurpose::PinEncryption,
                found: KeyPurpose::KeyEncryption,
                ..
            })
        ),
        "{refused:?}"
    );
    Ok(())
}

#[test]
fn rotating_to_an_expired_key_is_refused_and_changes_nothing() -> TestResult {
    let hsm = Hsm::new(12)?;
    for grace in [GRACE, Duration::ZERO] {
        let (ring, clock) = two_key_ring(&hsm)?;
        clock.advance(Duration::from_secs(60));
        let before = block_on(ring.store().snapshot())?;
        let (_, block) = device_seal(&ring, "7580", 1)?;
        // Expired a millisecond ago, and expiring exactly now.
        for not_after in [at(59_999), at(60_000)] {
            let err = block_on(ring.rotate(
                hsm.new_key("K2", &rsa3072()?)?.with_not_after(not_after),
                grace,
            ))
            .unwrap_err();
            assert!(
                matches!(err, KeyError::NewKeyExpired { ref key_index, not_after: na }
                    if key_index.as_str() == "K2" && na == not_after),
                "{err:?}"
            );
        }
        let after = block_on(ring.store().snapshot())?;
        assert_eq!(after.generation, before.generation, "nothing was written");
        assert_eq!(
            block_on(ring.publish(PublicKeyForm::DerHex))?
                .key_index
                .as_str(),
            "K1"
        );
        // The live key kept its private half, even with a zero grace.
        assert_eq!(
            hsm.open(&ring, "K1", Format::Iso1, &block, None)?
                .expose_digits(),
            b"7580"
        );
        // One millisecond of life left is enough to rotate.
        block_on(ring.rotate(
            hsm.new_key("K3", &rsa3072()?)?.with_not_after(at(60_001)),
            grace,
        ))?;
        assert_eq!(
            block_on(ring.publish(PublicKeyForm::DerHex))?
                .key_index
                .as_str(),
            "K3"
        );
    }
    Ok(())
}

#[test]
fn concurrent_rotations_all_land_with_one_active_key() -> TestResult {
    let hsm = Hsm::new(15)?;
    let ring = Arc::new(RsaKeyRing::with_clock(clock()));
    let mut keys = Vec::new();
    for key in [rsa2048()?, rsa3072()?] {
        keys.push((hsm.rsa(KeyPurpose::PinEncryption, &key)?, key.public_key()));
    }
    std::thread::scope(|s| {
        for t in 0..4 {
            let ring = Arc::clone(&ring);
            let (handle, public) = keys[t % 2].clone();
            s.spawn(move || {
                for i in 0..5 {
                    let index = KeyIndex::new(&format!("T{t}I{i}"));
                    let done = index.map(|index| {
                        NewKey::new(index, handle.clone(), public.clone())
                            .and_then(|new| block_on(ring.rotate(new, GRACE)))
                    });
                    assert!(matches!(done, Ok(Ok(_))), "{done:?}");
                }
            });
        }
    });
    let entries = block_on(ring.entries())?;
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
    async fn snapshot(&self) -> Result<RingSnapshot, StoreError> {
        self.0.snapshot().await
    }

    async fn compare_and_swap(
        &self,
        generation: u64,
        _: Vec<RingEntry>,
    ) -> Result<u64, StoreError> {
        Err(StoreError::Conflict {
            expected: generation,
            found: generation + 1,
        })
    }
}

#[test]
fn a_store_that_never_settles_fails_the_rotation_cleanly() -> TestResult {
    let hsm = Hsm::new(13)?;
    let ring = RsaKeyRing::with_store(AlwaysConflict(MemoryKeyStore::new()), clock());
    let err = block_on(ring.rotate(hsm.new_key("K1", &rsa2048()?)?, GRACE))
        .err()
        .ok_or("rotation claimed success")?;
    assert!(
        matches!(err, KeyError::Store(StoreError::Conflict { .. })),
        "{err:?}"
    );
    assert!(block_on(ring.entries())?.is_empty());
    Ok(())
}

#[test]
fn rotate_generate_makes_a_working_key() -> TestResult {
    let hsm = Hsm::new(14)?;
    // The one test that generates an RSA key: `rotate_generate` is now
    // `NewKey::generate` in the module, then `rotate`.
    let (ring, _) = two_key_ring(&hsm)?;
    let new = block_on(NewKey::generate(
        &hsm.module,
        idx("GEN")?,
        2048,
        KeyPurpose::PinEncryption,
    ))?;
    assert_eq!(new.key().algorithm(), KeyAlgorithm::Rsa { bits: 2048 });
    block_on(ring.rotate(new, GRACE))?;
    let (index, block) = device_seal(&ring, "24680", 4)?;
    assert_eq!(index, "GEN");
    assert_eq!(
        hsm.open(&ring, "GEN", Format::Iso1, &block, None)?
            .expose_digits(),
        b"24680"
    );
    Ok(())
}

/// The same key pair rotated in under a new index (a software module names
/// it by fingerprint, so both entries share one handle): retiring the old
/// index hands back no handle, since the live entry still uses it.
/// Key: crates/envelope/tests/data/rsa2048_pkcs8.der.
#[test]
fn a_handle_a_live_entry_still_uses_is_never_handed_back_to_destroy() {
    use pinset_keys::{KeyIndex, KeyPurpose, NewKey, RsaKeyRing};
    use pinset_module::{SecurityModule, SoftwareModule};
    const DER: &[u8] = include_bytes!("../../envelope/tests/data/rsa2048_pkcs8.der");
    let module = SoftwareModule::with_rng_seed([3; 32]);
    pollster::block_on(async {
        let ring = RsaKeyRing::new();
        for index in ["K1", "K2"] {
            let handle = module
                .import_rsa_private(KeyPurpose::PinEncryption, DER)
                .await
                .unwrap();
            let new = NewKey::from_module(&module, KeyIndex::new(index).unwrap(), handle)
                .await
                .unwrap();
            let rotation = ring.rotate(new, std::time::Duration::ZERO).await.unwrap();
            assert!(
                rotation.retired.is_empty(),
                "{index}: {:?}",
                rotation.retired
            );
        }
        // K1 is retired, K2 decrypts with the very same key.
        assert!(ring.live_key("K1").await.unwrap_err().is_refetch());
        let live = ring.live_key("K2").await.unwrap();
        assert!(module.rsa_public_key(live.key()).await.is_ok());
    });
}
