//! Keys at rest: KEK-wrapped export and import of the RSA ring and the zone keys.

mod common;

use std::time::Duration;

use common::{Hsm, TestResult, at, clock, import_symmetric, module, rng, rsa2048, rsa3072};
use pinset_block::{Format, Pan, Pin};
use pinset_envelope::{PinKey, RsaPadding, TdesKey};
use pinset_keys::{
    Clock, ImportError, Kek, KeyError, KeyPurpose, KeyState, KeyStore, ManualClock, MemoryKeyStore,
    PublicKeyForm, RsaKeyRing, ZoneKeys, ZpkIndex,
};
use pinset_module::{
    KeyAlgorithm, ModuleError, PinSource, SecurityModule, SoftwareModule, TranslatePin,
};
use pollster::block_on;
use proptest::prelude::*;

const GRACE: Duration = Duration::from_secs(3600);

fn kek() -> Result<Kek, KeyError> {
    Kek::new(&[0x42; 32])
}

/// A ring with one key in each state and every setting off its default:
/// R0 retired (and swept), K1 decrypt-only with PKCS#1 v1.5 and a not-after
/// date, K2 active, OAEP-SHA-1, for key encryption (imported into the
/// module for that purpose).
fn full_ring(
    hsm: &Hsm,
) -> Result<(RsaKeyRing<MemoryKeyStore, ManualClock>, ManualClock), KeyError> {
    let clock = clock();
    let ring = RsaKeyRing::with_clock(clock.clone());
    block_on(ring.rotate(hsm.new_key("R0", &rsa2048()?)?, GRACE))?;
    clock.advance(Duration::from_secs(1));
    block_on(
        ring.rotate(
            hsm.new_key("K1", &rsa2048()?)?
                .with_padding(RsaPadding::Pkcs1v15)
                .with_not_after(at(90_000_000)),
            Duration::ZERO,
        ),
    )?;
    clock.advance(Duration::from_secs(1));
    block_on(
        ring.rotate(
            hsm.new_key_for("K2", &rsa3072()?, KeyPurpose::KeyEncryption)?
                .with_padding(RsaPadding::OaepSha1),
            GRACE,
        ),
    )?;
    Ok((ring, clock))
}

/// Everything an entry says, for comparison.
fn describe<S: KeyStore, C: Clock>(ring: &RsaKeyRing<S, C>) -> Result<Vec<String>, KeyError> {
    Ok(block_on(ring.entries())?
        .iter()
        .map(|e| {
            format!(
                "{} {:?} {} {:?} {:?} {:?} {:?} {:?}",
                e.key_index(),
                e.state(),
                e.created_at(),
                e.not_after(),
                e.padding(),
                e.purpose(),
                e.public_key().map(|k| k.fingerprint()),
                e.key()
            )
        })
        .collect())
}

#[test]
fn ring_round_trip_keeps_every_key_and_its_state() -> TestResult {
    let hsm = Hsm::new(1)?;
    let (ring, clock) = full_ring(&hsm)?;
    let entries = block_on(ring.entries())?;
    let states: Vec<KeyState> = entries.iter().map(|e| e.state()).collect();
    assert_eq!(
        states,
        [
            KeyState::Retired { since: at(1_000) },
            KeyState::DecryptOnly {
                until: at(2_000 + 3_600_000)
            },
            KeyState::Active,
        ]
    );
    let v15_block = rsa2048()?.public_key().seal(
        Format::Iso1,
        &Pin::new("7580")?,
        None,
        RsaPadding::Pkcs1v15,
        &mut rng(1),
    )?;

    let export = block_on(ring.export(&kek()?))?;
    assert_eq!(&export[..9], b"PINSETKX\x01");
    let restored = block_on(RsaKeyRing::import(&export, &kek()?, clock.clone()))?;

    assert_eq!(describe(&restored)?, describe(&ring)?);
    // The active key is for key encryption: neither ring publishes it.
    for r in [&restored, &ring] {
        assert!(matches!(
            block_on(r.publish(PublicKeyForm::DerHex)),
            Err(KeyError::WrongPurpose { .. })
        ));
    }
    assert_eq!(
        block_on(restored.live_key("K2"))?,
        block_on(ring.live_key("K2"))?
    );
    assert_eq!(
        block_on(restored.entries())?[2].public_key(),
        block_on(ring.entries())?[2].public_key()
    );
    // The handles came back, naming the same keys in the module: the
    // decrypt-only key opens with its own padding,
    assert_eq!(
        block_on(restored.live_key("K1"))?.key(),
        block_on(ring.live_key("K1"))?.key()
    );
    assert_eq!(
        hsm.open(&restored, "K1", Format::Iso1, &v15_block, None)?
            .expose_digits(),
        b"7580"
    );
    // the active key is still not for PIN blocks, and the retired index still asks for a refetch.
    assert!(matches!(
        block_on(restored.live_key("K2"))?.purpose(),
        KeyPurpose::KeyEncryption
    ));
    assert!(
        block_on(restored.live_key("R0"))
            .err()
            .is_some_and(|e| e.is_refetch())
    );

    // The grace period runs on from the restored state.
    clock.set(at(2_000 + 3_600_000));
    assert!(
        block_on(restored.live_key("K1"))
            .err()
            .is_some_and(|e| e.is_refetch())
    );
    Ok(())
}

#[test]
fn the_export_holds_no_key_in_clear() -> TestResult {
    let hsm = Hsm::new(2)?;
    let (ring, _) = full_ring(&hsm)?;
    let export = block_on(ring.export(&kek()?))?;
    let der = rsa3072()?.to_pkcs8_der()?;
    // Any 16-byte run of the private key would give it away.
    for chunk in der.chunks(16).filter(|c| c.len() == 16) {
        assert!(!export.windows(16).any(|w| w == chunk));
    }
    // Nor does the public half: the whole body, metadata too, is wrapped.
    let public = rsa3072()?.public_key().to_der();
    for chunk in public.chunks(16).filter(|c| c.len() == 16) {
        assert!(!export.windows(16).any(|w| w == chunk));
    }
    Ok(())
}

#[test]
fn a_ring_export_holds_handles_not_private_keys() -> TestResult {
    let hsm = Hsm::new(11)?;
    let (ring, clock) = full_ring(&hsm)?;
    let export = block_on(ring.export(&kek()?))?;
    // Two live RSA keys' private halves could not fit: the export is
    // smaller than the PKCS#8 of the RSA-3072 key alone.
    assert!(
        export.len() < rsa3072()?.to_pkcs8_der()?.len(),
        "{} bytes",
        export.len()
    );

    // It imports without any module, and every handle is the original.
    let restored = block_on(RsaKeyRing::import(&export, &kek()?, clock))?;
    let handles = |r: &RsaKeyRing<MemoryKeyStore, ManualClock>| -> Result<Vec<_>, KeyError> {
        Ok(block_on(r.entries())?
            .iter()
            .map(|e| e.key().cloned())
            .collect())
    };
    let originals = handles(&ring)?;
    assert_eq!(handles(&restored)?, originals);
    assert!(originals[0].is_none(), "R0 was retired");
    assert!(originals[1..].iter().all(Option::is_some));
    for index in ["K1", "K2"] {
        assert_eq!(
            block_on(restored.live_key(index))?.key(),
            block_on(ring.live_key(index))?.key()
        );
    }

    // A handle opens nothing without the module that holds its key.
    let block = rsa2048()?.public_key().seal(
        Format::Iso1,
        &Pin::new("7580")?,
        None,
        RsaPadding::Pkcs1v15,
        &mut rng(12),
    )?;
    let elsewhere = Hsm::new(12)?;
    let err = elsewhere
        .open(&restored, "K1", Format::Iso1, &block, None)
        .err()
        .ok_or("a handle opened a block in a module without its key")?;
    assert!(
        matches!(err, KeyError::Module(ModuleError::UnknownKey(_))),
        "{err:?}"
    );
    // The module that holds it still does.
    assert_eq!(
        hsm.open(&restored, "K1", Format::Iso1, &block, None)?
            .expose_digits(),
        b"7580"
    );
    Ok(())
}

#[test]
fn a_zone_export_round_trip_keeps_handles() -> TestResult {
    let hsm = Hsm::new(13)?;
    let zone = ZoneKeys::new();
    let zpk = ZpkIndex::new("zpk-1")?;
    zone.insert(zpk.clone(), hsm.zpk.clone())?;
    let export = zone.export(&kek()?)?;
    let restored = ZoneKeys::import(&export, &kek()?)?;
    assert_eq!(restored.pin_key(&zpk)?, hsm.zpk);
    let info = restored.info(&zpk)?;
    assert_eq!(info.algorithm, KeyAlgorithm::Tdes2);
    assert_eq!(info.purpose, KeyPurpose::PinEncryption);
    assert_eq!(info.kcv.to_string(), "08D7B4");
    // The restored handle works in the module that holds the key.
    let block = PinKey::from(TdesKey::new(&common::ZPK)?).seal(
        Format::Iso1,
        &Pin::new("2468")?,
        None,
        &mut rng(13),
    )?;
    let source = PinSource::Symmetric {
        key: &restored.pin_key(&zpk)?,
        format: Format::Iso1,
        block: block.as_bytes(),
    };
    assert_eq!(hsm.translate(source, None)?.expose_digits(), b"2468");
    Ok(())
}

#[test]
fn zone_round_trip_keeps_every_key_purpose_and_kcv() -> TestResult {
    let module = module(3);
    let zone = ZoneKeys::new();
    for (name, algorithm, purpose, material) in [
        (
            "zpk-tdes2",
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinEncryption,
            b"11 pinset test k".to_vec(),
        ),
        (
            "zpk-tdes3",
            KeyAlgorithm::Tdes3,
            KeyPurpose::PinEncryption,
            b"22 pinset test key of 24".to_vec(),
        ),
        (
            "zpk-aes",
            KeyAlgorithm::Aes256,
            KeyPurpose::PinEncryption,
            vec![0x33; 32],
        ),
        (
            "zmk",
            KeyAlgorithm::Aes128,
            KeyPurpose::KeyEncryption,
            vec![0x44; 16],
        ),
        (
            "dek",
            KeyAlgorithm::Tdes2,
            KeyPurpose::DataEncryption,
            b"55 pinset test k".to_vec(),
        ),
    ] {
        let handle = import_symmetric(&module, algorithm, purpose, &material)?;
        zone.insert(ZpkIndex::new(name)?, handle)?;
    }

    let restored = ZoneKeys::import(&zone.export(&kek()?)?, &kek()?)?;
    assert_eq!(restored.list()?, zone.list()?);
    // Every handle came back as it was.
    for (index, _) in zone.list()? {
        if let Ok(handle) = zone.pin_key(&index) {
            assert_eq!(restored.pin_key(&index)?, handle);
        }
    }
    // The restored handles still name the keys in the module: a block the
    // device sealed under zpk-tdes3 translates to zpk-tdes2.
    let index = ZpkIndex::new("zpk-tdes3")?;
    let block = PinKey::from(TdesKey::new(b"22 pinset test key of 24")?).seal(
        Format::Iso1,
        &Pin::new("1234")?,
        None,
        &mut rng(2),
    )?;
    let pan = Pan::new("5141576351968605")?;
    let translated = block_on(module.translate(&TranslatePin {
        source: PinSource::Symmetric {
            key: &restored.pin_key(&index)?,
            format: Format::Iso1,
            block: block.as_bytes(),
        },
        destination: &restored.pin_key(&ZpkIndex::new("zpk-tdes2")?)?,
        format: Format::Iso0,
        pan: Some(&pan),
        policy: None,
    }))?;
    assert_eq!(
        PinKey::from(TdesKey::new(b"11 pinset test k")?)
            .open(Format::Iso0, translated.as_bytes(), Some(&pan))?
            .expose_digits(),
        b"1234"
    );
    assert!(matches!(
        restored.pin_key(&ZpkIndex::new("dek")?),
        Err(KeyError::WrongPurpose { .. })
    ));
    // An empty store round-trips too.
    assert!(
        ZoneKeys::import(&ZoneKeys::new().export(&kek()?)?, &kek()?)?
            .list()?
            .is_empty()
    );
    Ok(())
}

fn import_error(result: Result<impl Sized, KeyError>) -> Option<ImportError> {
    match result {
        Err(KeyError::Import(e)) => Some(e),
        _ => None,
    }
}

#[test]
fn every_flipped_bit_fails_cleanly() -> TestResult {
    let hsm = Hsm::new(4)?;
    let zone = ZoneKeys::new();
    zone.insert(ZpkIndex::new("zpk")?, hsm.zpk.clone())?;
    let (ring, clock) = full_ring(&hsm)?;
    let ring_export = block_on(ring.export(&kek()?))?;
    let zone_export = zone.export(&kek()?)?;

    for (name, export) in [("ring", &ring_export), ("zone", &zone_export)] {
        for pos in 0..export.len() {
            let mut tampered = export.clone();
            tampered[pos] ^= 1 << (pos % 8);
            let err = if name == "ring" {
                import_error(block_on(RsaKeyRing::import(
                    &tampered,
                    &kek()?,
                    clock.clone(),
                )))
            } else {
                import_error(ZoneKeys::import(&tampered, &kek()?))
            };
            let expected_kind = match pos {
                0..=7 => matches!(err, Some(ImportError::NotAnExport)),
                8 => matches!(err, Some(ImportError::UnsupportedVersion(_))),
                9 => matches!(err, Some(ImportError::WrongKind { .. })),
                10..=12 => matches!(err, Some(ImportError::WrongKek { .. })),
                _ => err == Some(ImportError::Integrity),
            };
            assert!(expected_kind, "{name}: flip at {pos} gave {err:?}");
        }
    }
    Ok(())
}

#[test]
fn every_truncation_and_extension_fails_cleanly() -> TestResult {
    let hsm = Hsm::new(5)?;
    let (ring, clock) = full_ring(&hsm)?;
    let export = block_on(ring.export(&kek()?))?;
    for len in 0..export.len() {
        let err = import_error(block_on(RsaKeyRing::import(
            &export[..len],
            &kek()?,
            clock.clone(),
        )));
        assert!(
            matches!(
                err,
                Some(
                    ImportError::NotAnExport
                        | ImportError::Truncated { .. }
                        | ImportError::Integrity
                )
            ),
            "truncated to {len}: {err:?}"
        );
    }
    for extra in [1usize, 7, 8, 16] {
        let mut longer = export.clone();
        longer.extend(std::iter::repeat_n(0u8, extra));
        assert!(
            import_error(block_on(RsaKeyRing::import(
                &longer,
                &kek()?,
                clock.clone()
            )))
            .is_some()
        );
    }
    Ok(())
}

#[test]
fn a_wrong_kek_fails_cleanly_and_names_both_kcvs() -> TestResult {
    let hsm = Hsm::new(6)?;
    let (ring, clock) = full_ring(&hsm)?;
    let export = block_on(ring.export(&kek()?))?;
    let other = Kek::new(&[0x43; 32])?;
    let err = block_on(RsaKeyRing::import(&export, &other, clock.clone()))
        .err()
        .ok_or("imported under the wrong KEK")?;
    assert!(
        matches!(err, KeyError::Import(ImportError::WrongKek { export: e, given: g })
            if e == *kek()?.kcv().as_bytes() && g == *other.kcv().as_bytes()),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains(&kek()?.kcv().to_string()) && message.contains(&other.kcv().to_string())
    );

    // A header forged to name the wrong KEK gets no further than the unwrap.
    let mut forged = export.clone();
    forged[10..13].copy_from_slice(other.kcv().as_bytes());
    assert_eq!(
        import_error(block_on(RsaKeyRing::import(&forged, &other, clock))),
        Some(ImportError::Integrity)
    );
    Ok(())
}

#[test]
fn a_ring_export_is_not_zone_keys_and_back() -> TestResult {
    let hsm = Hsm::new(7)?;
    let (ring, clock) = full_ring(&hsm)?;
    let ring_export = block_on(ring.export(&kek()?))?;
    assert!(matches!(
        import_error(ZoneKeys::import(&ring_export, &kek()?)),
        Some(ImportError::WrongKind {
            expected: "zone keys",
            found: "an RSA key ring"
        })
    ));
    let zone_export = ZoneKeys::new().export(&kek()?)?;
    assert!(matches!(
        import_error(block_on(RsaKeyRing::import(&zone_export, &kek()?, clock))),
        Some(ImportError::WrongKind { .. })
    ));
    Ok(())
}

#[test]
fn import_into_a_non_empty_store_changes_nothing() -> TestResult {
    let hsm = Hsm::new(8)?;
    let (ring, clock) = full_ring(&hsm)?;
    let export = block_on(ring.export(&kek()?))?;
    let store = std::sync::Arc::new(MemoryKeyStore::new());
    let existing = RsaKeyRing::with_store(std::sync::Arc::clone(&store), clock.clone());
    block_on(existing.rotate(hsm.new_key("OWN", &rsa2048()?)?, GRACE))?;
    let before = block_on(store.snapshot())?.generation;

    let err = block_on(RsaKeyRing::import_into(
        &export,
        &kek()?,
        std::sync::Arc::clone(&store),
        clock.clone(),
    ))
    .err()
    .ok_or("imported over existing keys")?;
    assert!(matches!(err, KeyError::StoreNotEmpty));
    assert_eq!(block_on(store.snapshot())?.generation, before);
    assert_eq!(block_on(existing.entries())?.len(), 1);

    // A failed import into an empty store leaves it empty.
    let empty = std::sync::Arc::new(MemoryKeyStore::new());
    let mut tampered = export.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x80;
    assert!(
        block_on(RsaKeyRing::import_into(
            &tampered,
            &kek()?,
            std::sync::Arc::clone(&empty),
            clock
        ))
        .is_err()
    );
    assert!(block_on(empty.snapshot())?.entries.is_empty());
    assert_eq!(block_on(empty.snapshot())?.generation, 0);
    Ok(())
}

#[test]
fn kek_debug_shows_only_the_kcv() -> TestResult {
    let kek = Kek::generate(&mut rng(3))?;
    assert_eq!(
        format!("{kek:?}"),
        format!("Kek {{ kcv: Kcv({}) }}", kek.kcv())
    );
    assert!(matches!(
        Kek::new(&[0; 24]),
        Err(KeyError::KekLength { found: 24 })
    ));
    Ok(())
}

#[test]
fn the_export_is_deterministic_for_a_given_ring() -> TestResult {
    let hsm = Hsm::new(9)?;
    // AES-KWP has no IV: the same ring and KEK give the same bytes, so an
    // unchanged ring can be recognised without unwrapping it.
    let (ring, _) = full_ring(&hsm)?;
    assert_eq!(
        block_on(ring.export(&kek()?))?,
        block_on(ring.export(&kek()?))?
    );
    Ok(())
}

/// A small valid zone-key export to mutate.
fn zone_export() -> Vec<u8> {
    let module = SoftwareModule::with_rng_seed([10; 32]);
    let zone = ZoneKeys::new();
    let made = ZpkIndex::new("zpk")
        .map_err(KeyError::from)
        .and_then(|i| {
            let handle = import_symmetric(
                &module,
                KeyAlgorithm::Tdes2,
                KeyPurpose::PinEncryption,
                b"11 pinset test k",
            )?;
            zone.insert(i, handle)
        })
        .and_then(|_| zone.export(&kek()?));
    made.unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes never panic either import.
    #[test]
    fn import_of_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let kek = kek().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(block_on(RsaKeyRing::import(&bytes, &kek, ManualClock::default())).is_err());
        prop_assert!(ZoneKeys::import(&bytes, &kek).is_err());
    }

    /// Arbitrary bytes behind a valid header reach the unwrap, and still fail cleanly.
    #[test]
    fn arbitrary_wrapped_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512), kind in 1u8..=2) {
        let kek = kek().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut export = b"PINSETKX\x01".to_vec();
        export.push(kind);
        export.extend_from_slice(kek.kcv().as_bytes());
        export.extend_from_slice(&body);
        prop_assert!(block_on(RsaKeyRing::import(&export, &kek, ManualClock::default())).is_err());
        prop_assert!(ZoneKeys::import(&export, &kek).is_err());
    }

    /// Any change to a valid export is caught.
    #[test]
    fn any_edit_of_a_valid_export_is_refused(pos in any::<prop::sample::Index>(), xor in 1u8..=255, cut in 0usize..3) {
        let mut export = zone_export();
        prop_assume!(!export.is_empty());
        let i = pos.index(export.len());
        export[i] ^= xor;
        let new_len = export.len() - cut;
        export.truncate(new_len);
        prop_assert!(ZoneKeys::import(&export, &kek().map_err(|e| TestCaseError::fail(e.to_string()))?).is_err());
    }
}
