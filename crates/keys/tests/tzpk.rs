//! Enfuce temporary keys: TTL to the millisecond, single use, replay, binding, races.

mod common;

use std::sync::Barrier;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{Hsm, TestResult, at, clock, import_rsa, import_symmetric, module, rng, rsa2048};
use pinset_block::{Format, Pin};
use pinset_envelope::{PinKey, RsaPadding, RsaPublicKey, rsa};
use pinset_keys::{
    ControlId, DEFAULT_TZPK_TTL, KeyPurpose, KeyRef, ManualClock, PlasticRef, TemporaryKeys,
    TzpkCustody, TzpkError,
};
use pinset_module::{
    KeyAlgorithm, KeyCheck, ModuleError, PinSource, SecurityModule, SoftwareModule,
};
use pollster::block_on;

fn table() -> (TemporaryKeys<ManualClock>, ManualClock) {
    let clock = clock();
    (TemporaryKeys::with_clock(clock.clone()), clock)
}

fn plastic(s: &str) -> Result<PlasticRef, pinset_keys::InvalidId> {
    PlasticRef::new(s)
}

/// What the issuer asks the module for: a fresh tzpk's handle, and the key
/// wrapped for `device` with RSA-OAEP SHA-256.
fn fresh(module: &SoftwareModule, device: &RsaPublicKey) -> Result<(KeyRef, Vec<u8>), ModuleError> {
    block_on(module.generate_tzpk(device, RsaPadding::OaepSha256))
}

#[test]
fn default_ttl_is_30_seconds() {
    assert_eq!(DEFAULT_TZPK_TTL, Duration::from_secs(30));
    assert_eq!(TemporaryKeys::new().ttl(), Duration::from_secs(30));
}

#[test]
fn ttl_ends_at_exactly_30_seconds() -> TestResult {
    let (tzpks, clock) = table();
    let module = module(1);
    let device = rsa2048()?.public_key();
    let card = plastic("contract-1/1")?;
    let early = ControlId::new("early")?;
    let late = ControlId::new("late")?;
    let (early_key, early_wrapped) = fresh(&module, &device)?;
    let wrapped = tzpks.issue(
        early.clone(),
        card.clone(),
        TzpkCustody::Handle(early_key.clone()),
        &early_wrapped,
    )?;
    let (late_key, late_wrapped) = fresh(&module, &device)?;
    tzpks.issue(
        late.clone(),
        card.clone(),
        TzpkCustody::Handle(late_key.clone()),
        &late_wrapped,
    )?;
    assert_eq!(wrapped.expires_at(), at(30_000));
    assert_eq!(tzpks.pending()?, 2);

    clock.set(at(29_999));
    let taken = tzpks.take(&early, &card)?;
    assert_eq!(taken, TzpkCustody::Handle(early_key.clone()));
    assert_eq!(taken.kcv()?, wrapped.kcv());
    let taken = taken.handle().ok_or("kept as a handle")?;
    assert_eq!(taken, &early_key);
    assert_eq!(taken.check(), KeyCheck::Kcv(wrapped.kcv()));

    clock.set(at(30_000));
    assert_eq!(
        tzpks.take(&late, &card).err(),
        Some(TzpkError::Expired {
            control_id: late.clone(),
            expired_at: at(30_000)
        })
    );
    // The expired key is let go: asking again gives the same answer, never
    // the key, and its handle waits to be destroyed in the module.
    assert!(matches!(
        tzpks.take(&late, &card),
        Err(TzpkError::Expired { .. })
    ));
    assert_eq!(tzpks.pending()?, 0);
    assert_eq!(tzpks.take_discarded()?, vec![late_key]);
    Ok(())
}

#[test]
fn a_key_is_taken_once_and_a_replay_is_already_used() -> TestResult {
    let (tzpks, clock) = table();
    let module = module(2);
    let device = rsa2048()?.public_key();
    let card = plastic("contract-1/1")?;
    let id = ControlId::new("83fa5f55-3dd7-453a-8233-4242a6bad179")?;
    let (tzpk, wrapped) = fresh(&module, &device)?;
    tzpks.issue(
        id.clone(),
        card.clone(),
        TzpkCustody::Handle(tzpk),
        &wrapped,
    )?;

    assert!(tzpks.take(&id, &card).is_ok());
    clock.set(at(10_000));
    assert_eq!(
        tzpks.take(&id, &card).err(),
        Some(TzpkError::AlreadyUsed(id.clone()))
    );
    clock.set(at(29_999));
    assert_eq!(
        tzpks.take(&id, &card).err(),
        Some(TzpkError::AlreadyUsed(id.clone()))
    );
    // The tombstone cannot be re-issued while it lives...
    let (tzpk, wrapped) = fresh(&module, &device)?;
    assert_eq!(
        tzpks
            .issue(
                id.clone(),
                card.clone(),
                TzpkCustody::Handle(tzpk),
                &wrapped
            )
            .err(),
        Some(TzpkError::DuplicateControlId(id.clone()))
    );

    // ...and once its TTL has passed it is expired, then forgotten by a sweep.
    clock.set(at(30_000));
    assert!(matches!(
        tzpks.take(&id, &card),
        Err(TzpkError::Expired { .. })
    ));
    assert_eq!(tzpks.sweep()?, 1);
    assert_eq!(tzpks.take(&id, &card).err(), Some(TzpkError::Unknown(id)));
    Ok(())
}

#[test]
fn another_plastic_cannot_take_the_key() -> TestResult {
    let (tzpks, _) = table();
    let mine = plastic("contract-1/1")?;
    let theirs = plastic("contract-1/2")?;
    let id = ControlId::new("c-1")?;
    let module = module(4);
    let (tzpk, wrapped_key) = fresh(&module, &rsa2048()?.public_key())?;
    let wrapped = tzpks.issue(
        id.clone(),
        mine.clone(),
        TzpkCustody::Handle(tzpk.clone()),
        &wrapped_key,
    )?;

    let err = tzpks
        .take(&id, &theirs)
        .err()
        .ok_or("wrong plastic got the key")?;
    assert_eq!(err, TzpkError::PlasticMismatch(id.clone()));
    assert!(
        !err.to_string().contains("contract"),
        "the binding stays out of messages"
    );
    // The rightful plastic still gets it.
    let taken = tzpks.take(&id, &mine)?;
    let taken = taken.handle().ok_or("kept as a handle")?;
    assert_eq!(taken.check(), KeyCheck::Kcv(wrapped.kcv()));
    assert_eq!(taken, &tzpk);
    Ok(())
}

#[test]
fn unknown_and_duplicate_control_ids() -> TestResult {
    let (tzpks, _) = table();
    let card = plastic("p")?;
    let id = ControlId::new("dup")?;
    assert_eq!(
        tzpks.take(&id, &card).err(),
        Some(TzpkError::Unknown(id.clone()))
    );
    let module = module(5);
    let device = rsa2048()?.public_key();
    let (tzpk, wrapped) = fresh(&module, &device)?;
    tzpks.issue(
        id.clone(),
        card.clone(),
        TzpkCustody::Handle(tzpk),
        &wrapped,
    )?;
    let (tzpk, wrapped) = fresh(&module, &device)?;
    assert_eq!(
        tzpks
            .issue(id.clone(), card, TzpkCustody::Handle(tzpk), &wrapped)
            .err(),
        Some(TzpkError::DuplicateControlId(id))
    );
    Ok(())
}

#[test]
fn ttl_is_configurable() -> TestResult {
    let clock = clock();
    let tzpks = TemporaryKeys::with_clock(clock.clone()).with_ttl(Duration::from_millis(1_500));
    let card = plastic("p")?;
    let id = ControlId::new("short")?;
    let module = module(7);
    let (tzpk, wrapped_key) = fresh(&module, &rsa2048()?.public_key())?;
    let wrapped = tzpks.issue(
        id.clone(),
        card.clone(),
        TzpkCustody::Handle(tzpk),
        &wrapped_key,
    )?;
    assert_eq!(wrapped.expires_at(), at(1_500));
    clock.set(at(1_500));
    assert!(matches!(
        tzpks.take(&id, &card),
        Err(TzpkError::Expired { .. })
    ));
    Ok(())
}

#[test]
fn device_unwraps_the_tzpk_and_the_issuer_opens_its_block() -> TestResult {
    let (tzpks, _) = table();
    let hsm = Hsm::new(8)?;
    let device = rsa2048()?;
    let card = plastic("contract-77/3")?;
    let mut rng = rng(8);
    let id = ControlId::generate(&mut rng);
    let (tzpk, wrapped_key) = fresh(&hsm.module, &device.public_key())?;
    let wrapped = tzpks.issue(
        id.clone(),
        card.clone(),
        TzpkCustody::Handle(tzpk),
        &wrapped_key,
    )?;
    assert_eq!(wrapped.control_id(), &id);

    // Device: base64 → RSA-OAEP-SHA-256 unwrap → 16-byte TDES key with the advertised KCV.
    let cryptogram = BASE64.decode(wrapped.encrypted_key())?;
    assert_eq!(cryptogram.len(), 256);
    let device_tzpk = rsa::unwrap_tdes_key(&device, RsaPadding::OaepSha256, &cryptogram)?;
    assert_eq!(device_tzpk.kcv(), wrapped.kcv());
    let bytes = device_tzpk.expose_bytes();
    assert_eq!(bytes.len(), 16);
    assert_ne!(bytes[..8], bytes[8..], "K1 = K2 would be single DES");
    assert!(bytes.iter().all(|b| b.count_ones() % 2 == 1), "odd parity");
    // The wrap is OAEP, not PKCS#1 v1.5.
    assert!(rsa::unwrap_tdes_key(&device, RsaPadding::OaepSha1, &cryptogram).is_err());

    // Device seals the PIN (format 1) under the tzpk; issuer takes the key
    // and the module translates the block to format 0 under the ZPK.
    let block = PinKey::from(device_tzpk).seal(Format::Iso1, &Pin::new("7580")?, None, &mut rng)?;
    let issuer_tzpk = tzpks
        .take(&id, &card)?
        .handle()
        .cloned()
        .ok_or("kept as a handle")?;
    let source = PinSource::Symmetric {
        key: &issuer_tzpk,
        format: Format::Iso1,
        block: block.as_bytes(),
    };
    assert_eq!(hsm.translate(source, None)?.expose_digits(), b"7580");
    // Destroyed afterwards, the key opens nothing more.
    block_on(hsm.module.destroy(&issuer_tzpk))?;
    let source = PinSource::Symmetric {
        key: &issuer_tzpk,
        format: Format::Iso1,
        block: block.as_bytes(),
    };
    assert!(matches!(
        hsm.translate(source, None),
        Err(pinset_keys::KeyError::Module(ModuleError::UnknownKey(_)))
    ));
    Ok(())
}

#[test]
fn every_issue_draws_a_fresh_key() -> TestResult {
    let (tzpks, _) = table();
    let module = module(10);
    let device = rsa2048()?.public_key();
    let card = plastic("p")?;
    let mut kcvs = std::collections::HashSet::new();
    for i in 0..20 {
        let (tzpk, wrapped_key) = fresh(&module, &device)?;
        let wrapped = tzpks.issue(
            ControlId::new(&format!("id-{i}"))?,
            card.clone(),
            TzpkCustody::Handle(tzpk),
            &wrapped_key,
        )?;
        assert!(kcvs.insert(wrapped.kcv()), "a KCV repeated");
    }
    Ok(())
}

#[test]
fn concurrent_takes_of_one_id_have_exactly_one_winner() -> TestResult {
    const THREADS: usize = 4;
    const ROUNDS: usize = 200;
    let (tzpks, _) = table();
    let module = module(11);
    let device = rsa2048()?.public_key();
    let card = plastic("contract-1/1")?;
    for round in 0..ROUNDS {
        let id = ControlId::new(&format!("race-{round}"))?;
        let (tzpk, wrapped) = fresh(&module, &device)?;
        tzpks.issue(
            id.clone(),
            card.clone(),
            TzpkCustody::Handle(tzpk),
            &wrapped,
        )?;
        let barrier = Barrier::new(THREADS);
        let results: Vec<Result<(), TzpkError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        tzpks.take(&id, &card).map(|_| ())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err(TzpkError::Poisoned)))
                .collect()
        });
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: {results:?}");
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| *e == TzpkError::AlreadyUsed(id.clone())),
            "round {round}: {results:?}"
        );
    }
    Ok(())
}

#[test]
fn issue_sweeps_expired_entries_once_per_ttl() -> TestResult {
    let (tzpks, clock) = table();
    let module = module(12);
    let device = rsa2048()?.public_key();
    let card = plastic("p")?;
    let old = ControlId::new("old")?;
    let (old_key, wrapped) = fresh(&module, &device)?;
    tzpks.issue(
        old.clone(),
        card.clone(),
        TzpkCustody::Handle(old_key.clone()),
        &wrapped,
    )?;
    clock.set(at(60_000));
    let (tzpk, wrapped) = fresh(&module, &device)?;
    tzpks.issue(
        ControlId::new("new")?,
        card.clone(),
        TzpkCustody::Handle(tzpk),
        &wrapped,
    )?;
    // The old entry was forgotten by the issue's sweep, and its key's handle kept for destruction.
    assert_eq!(tzpks.take(&old, &card).err(), Some(TzpkError::Unknown(old)));
    assert_eq!(tzpks.pending()?, 1);
    assert_eq!(tzpks.take_discarded()?, vec![old_key]);
    Ok(())
}

#[test]
fn one_record_per_control_id_from_open_to_take() -> TestResult {
    let (tzpks, clock) = table();
    let module = module(9);
    let device = rsa2048()?.public_key();
    let mut rng = rng(9);
    let id = ControlId::generate(&mut rng);
    let (mine, other) = (plastic("70001/1")?, plastic("70001/2")?);

    let expires_at = tzpks.open(id.clone(), mine.clone())?;
    assert_eq!(tzpks.binding(&id)?, mine);
    assert!(matches!(
        tzpks.open(id.clone(), mine.clone()),
        Err(TzpkError::DuplicateControlId(_))
    ));
    // No key yet: take refuses and leaves the control open.
    assert!(matches!(
        tzpks.take(&id, &mine),
        Err(TzpkError::NotIssued(_))
    ));
    // A key for another plastic is refused; for its own it keeps the control's expiry.
    let (tzpk, wrapped_key) = fresh(&module, &device)?;
    assert!(matches!(
        tzpks.issue(id.clone(), other, TzpkCustody::Handle(tzpk), &wrapped_key),
        Err(TzpkError::PlasticMismatch(_))
    ));
    clock.advance(Duration::from_secs(10));
    let (tzpk, wrapped_key) = fresh(&module, &device)?;
    let wrapped = tzpks.issue(
        id.clone(),
        mine.clone(),
        TzpkCustody::Handle(tzpk.clone()),
        &wrapped_key,
    )?;
    assert_eq!(
        wrapped.expires_at(),
        expires_at,
        "the control's 30 s, not 30 more"
    );
    let (second, wrapped_key) = fresh(&module, &device)?;
    assert!(matches!(
        tzpks.issue(
            id.clone(),
            mine.clone(),
            TzpkCustody::Handle(second),
            &wrapped_key
        ),
        Err(TzpkError::DuplicateControlId(_))
    ));
    let (bound, key) = tzpks.take_bound(&id)?;
    assert_eq!(bound, mine);
    let key = key.ok_or("a key was issued")?;
    assert_eq!(key.kcv()?, wrapped.kcv());
    assert_eq!(
        key.handle().map(KeyRef::check),
        Some(KeyCheck::Kcv(wrapped.kcv()))
    );
    assert_eq!(key.handle(), Some(&tzpk));
    assert!(matches!(
        tzpks.take_bound(&id),
        Err(TzpkError::AlreadyUsed(_))
    ));
    assert!(matches!(tzpks.binding(&id), Err(TzpkError::AlreadyUsed(_))));
    Ok(())
}

#[test]
fn a_control_without_a_key_is_spent_by_take_bound_and_expires_on_time() -> TestResult {
    let (tzpks, clock) = table();
    let mut rng = rng(10);
    let (spent, lapsing) = (ControlId::generate(&mut rng), ControlId::generate(&mut rng));
    tzpks.open(spent.clone(), plastic("70001/1")?)?;
    tzpks.open(lapsing.clone(), plastic("70001/1")?)?;
    let (bound, key) = tzpks.take_bound(&spent)?;
    assert_eq!(bound, plastic("70001/1")?);
    assert!(key.is_none());
    assert!(matches!(
        tzpks.take_bound(&spent),
        Err(TzpkError::AlreadyUsed(_))
    ));
    clock.advance(Duration::from_millis(29_999));
    assert!(tzpks.binding(&lapsing).is_ok());
    clock.advance(Duration::from_millis(1));
    assert!(matches!(
        tzpks.binding(&lapsing),
        Err(TzpkError::Expired { .. })
    ));
    assert!(matches!(
        tzpks.take_bound(&lapsing),
        Err(TzpkError::Expired { .. })
    ));
    Ok(())
}

#[test]
fn a_spent_or_lapsed_control_is_never_armed_again() -> TestResult {
    // Review finding: issue() used to treat an expired record, spent ones
    // included, as new, giving a used controlId a fresh key and 30 s more.
    let (tzpks, clock) = table();
    let module = module(13);
    let device = rsa2048()?.public_key();
    let mut rng = rng(11);
    let id = ControlId::generate(&mut rng);
    let mine = plastic("70001/1")?;
    // Sweeps at T0 and T0 + 35 s; opened at T0 + 10 s, the record still
    // sits in the table after its expiry (T0 + 40 s), until T0 + 65 s.
    tzpks.open(ControlId::generate(&mut rng), mine.clone())?;
    clock.advance(Duration::from_secs(10));
    tzpks.open(id.clone(), mine.clone())?;
    let (tzpk, wrapped) = fresh(&module, &device)?;
    let (bound, _) = tzpks.issue_for_open(id.clone(), TzpkCustody::Handle(tzpk), &wrapped)?;
    assert_eq!(bound, mine);
    assert!(tzpks.take_bound(&id)?.1.is_some());
    clock.advance(Duration::from_secs(25));
    tzpks.open(ControlId::generate(&mut rng), mine.clone())?; // sweeps at T0 + 35 s
    clock.advance(Duration::from_secs(5));
    let (tzpk, wrapped) = fresh(&module, &device)?;
    assert!(matches!(
        tzpks.issue(
            id.clone(),
            mine.clone(),
            TzpkCustody::Handle(tzpk.clone()),
            &wrapped
        ),
        Err(TzpkError::Expired { .. })
    ));
    assert!(
        tzpks
            .issue_for_open(id.clone(), TzpkCustody::Handle(tzpk), &wrapped)
            .is_err()
    );
    assert!(tzpks.take_bound(&id).is_err());
    assert!(matches!(
        tzpks.open(id.clone(), mine.clone()),
        Err(TzpkError::DuplicateControlId(_))
    ));
    // A spent control cannot get a key either, before or after its TTL.
    let spent = ControlId::generate(&mut rng);
    tzpks.open(spent.clone(), mine.clone())?;
    assert!(tzpks.take_bound(&spent)?.1.is_none());
    let (tzpk, wrapped) = fresh(&module, &device)?;
    assert!(matches!(
        tzpks.issue_for_open(spent.clone(), TzpkCustody::Handle(tzpk.clone()), &wrapped),
        Err(TzpkError::AlreadyUsed(_))
    ));
    // Once swept, the id is simply unknown.
    clock.advance(Duration::from_secs(31));
    tzpks.sweep()?;
    assert!(matches!(
        tzpks.issue_for_open(spent, TzpkCustody::Handle(tzpk), &wrapped),
        Err(TzpkError::Unknown(_))
    ));
    Ok(())
}

#[test]
fn a_key_that_expired_untaken_is_handed_out_once_for_destruction() -> TestResult {
    let (tzpks, clock) = table();
    let module = module(14);
    let device = rsa2048()?.public_key();
    let card = plastic("contract-1/1")?;
    let mut handles = Vec::new();
    for name in ["taken", "late", "swept"] {
        let (tzpk, wrapped) = fresh(&module, &device)?;
        tzpks.issue(
            ControlId::new(name)?,
            card.clone(),
            TzpkCustody::Handle(tzpk.clone()),
            &wrapped,
        )?;
        handles.push(tzpk);
    }
    let [taken, late, swept] = <[KeyRef; 3]>::try_from(handles).map_err(|_| "three keys")?;
    assert_eq!(
        tzpks.take(&ControlId::new("taken")?, &card)?.handle(),
        Some(&taken)
    );
    assert!(tzpks.take_discarded()?.is_empty(), "nothing expired yet");

    // A late take finds the key expired: its handle is discarded, once.
    clock.set(at(30_000));
    assert!(matches!(
        tzpks.take(&ControlId::new("late")?, &card),
        Err(TzpkError::Expired { .. })
    ));
    assert_eq!(tzpks.take_discarded()?, vec![late.clone()]);
    assert!(tzpks.take_discarded()?.is_empty());
    assert!(matches!(
        tzpks.take(&ControlId::new("late")?, &card),
        Err(TzpkError::Expired { .. })
    ));
    assert!(
        tzpks.take_discarded()?.is_empty(),
        "a second late take discards nothing"
    );

    // A sweep finds the other untaken key; the taken and the lapsed ones hold none.
    assert_eq!(tzpks.sweep()?, 3);
    assert_eq!(tzpks.take_discarded()?, vec![swept.clone()]);
    assert!(tzpks.take_discarded()?.is_empty());

    // A handle put back by hand (a cancelled request) comes out the same way.
    tzpks.discard(taken.clone());
    assert_eq!(tzpks.take_discarded()?, vec![taken.clone()]);

    // The caller destroys them in the module.
    for handle in [&taken, &late, &swept] {
        block_on(module.destroy(handle))?;
    }
    Ok(())
}

#[test]
fn issue_refuses_a_handle_that_is_not_a_tzpk() -> TestResult {
    let (tzpks, _) = table();
    let module = module(15);
    let card = plastic("contract-1/1")?;
    let not_tzpks = [
        // A 3-key TDES PIN key (the Mastercard Processing sandbox ZPK).
        import_symmetric(
            &module,
            KeyAlgorithm::Tdes3,
            KeyPurpose::PinEncryption,
            &hex::decode("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")?,
        )?,
        // A 2-key TDES key for data, not PINs.
        import_symmetric(
            &module,
            KeyAlgorithm::Tdes2,
            KeyPurpose::DataEncryption,
            &hex::decode("E6F1081FEA4C402CC192B65DE367EC3E")?,
        )?,
        // An AES PIN key.
        import_symmetric(
            &module,
            KeyAlgorithm::Aes128,
            KeyPurpose::PinEncryption,
            &hex::decode("00112233445566778899AABBCCDDEEFF")?,
        )?,
        // An RSA PIN key.
        import_rsa(&module, KeyPurpose::PinEncryption, &rsa2048()?)?,
    ];
    let id = ControlId::new("c-1")?;
    for handle in not_tzpks.iter().cloned() {
        assert_eq!(
            tzpks
                .issue(
                    id.clone(),
                    card.clone(),
                    TzpkCustody::Handle(handle),
                    b"wrapped"
                )
                .err(),
            Some(TzpkError::NotATzpk)
        );
    }
    // The table kept nothing.
    assert_eq!(tzpks.pending()?, 0);
    assert_eq!(
        tzpks.take(&id, &card).err(),
        Some(TzpkError::Unknown(id.clone()))
    );

    // Nor for an open control, which stays open for a real tzpk.
    tzpks.open(id.clone(), card.clone())?;
    for handle in not_tzpks {
        assert_eq!(
            tzpks
                .issue_for_open(id.clone(), TzpkCustody::Handle(handle), b"wrapped")
                .err(),
            Some(TzpkError::NotATzpk)
        );
    }
    assert_eq!(tzpks.binding(&id)?, card);
    let (tzpk, wrapped) = fresh(&module, &rsa2048()?.public_key())?;
    let (bound, _) =
        tzpks.issue_for_open(id.clone(), TzpkCustody::Handle(tzpk.clone()), &wrapped)?;
    assert_eq!(bound, card);
    assert_eq!(tzpks.take(&id, &card)?.handle(), Some(&tzpk));
    Ok(())
}
