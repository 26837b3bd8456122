//! Enfuce temporary keys: TTL to the millisecond, single use, replay, binding, races.

mod common;

use std::sync::Barrier;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{TestResult, at, clock, rng, rsa2048};
use pinset_block::{Format, Pin};
use pinset_envelope::{PinKey, RsaPadding, rsa};
use pinset_keys::{ControlId, DEFAULT_TZPK_TTL, ManualClock, PlasticRef, TemporaryKeys, TzpkError};

fn table() -> (TemporaryKeys<ManualClock>, ManualClock) {
    let clock = clock();
    (TemporaryKeys::with_clock(clock.clone()), clock)
}

fn plastic(s: &str) -> Result<PlasticRef, pinset_keys::InvalidId> {
    PlasticRef::new(s)
}

#[test]
fn default_ttl_is_30_seconds() {
    assert_eq!(DEFAULT_TZPK_TTL, Duration::from_secs(30));
    assert_eq!(TemporaryKeys::new().ttl(), Duration::from_secs(30));
}

#[test]
fn ttl_ends_at_exactly_30_seconds() -> TestResult {
    let (tzpks, clock) = table();
    let device = rsa2048()?.public_key();
    let card = plastic("contract-1/1")?;
    let mut rng = rng(1);
    let early = ControlId::new("early")?;
    let late = ControlId::new("late")?;
    let wrapped = tzpks.issue(early.clone(), card.clone(), &device, &mut rng)?;
    tzpks.issue(late.clone(), card.clone(), &device, &mut rng)?;
    assert_eq!(wrapped.expires_at(), at(30_000));
    assert_eq!(tzpks.pending()?, 2);

    clock.set(at(29_999));
    assert_eq!(tzpks.take(&early, &card)?.kcv(), wrapped.kcv());

    clock.set(at(30_000));
    assert_eq!(
        tzpks.take(&late, &card).err(),
        Some(TzpkError::Expired {
            control_id: late.clone(),
            expired_at: at(30_000)
        })
    );
    // The expired key is destroyed: asking again gives the same answer, never the key.
    assert!(matches!(
        tzpks.take(&late, &card),
        Err(TzpkError::Expired { .. })
    ));
    assert_eq!(tzpks.pending()?, 0);
    Ok(())
}

#[test]
fn a_key_is_taken_once_and_a_replay_is_already_used() -> TestResult {
    let (tzpks, clock) = table();
    let card = plastic("contract-1/1")?;
    let id = ControlId::new("83fa5f55-3dd7-453a-8233-4242a6bad179")?;
    tzpks.issue(
        id.clone(),
        card.clone(),
        &rsa2048()?.public_key(),
        &mut rng(2),
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
    assert_eq!(
        tzpks
            .issue(
                id.clone(),
                card.clone(),
                &rsa2048()?.public_key(),
                &mut rng(3)
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
    let wrapped = tzpks.issue(
        id.clone(),
        mine.clone(),
        &rsa2048()?.public_key(),
        &mut rng(4),
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
    assert_eq!(tzpks.take(&id, &mine)?.kcv(), wrapped.kcv());
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
    let device = rsa2048()?.public_key();
    tzpks.issue(id.clone(), card.clone(), &device, &mut rng(5))?;
    assert_eq!(
        tzpks.issue(id.clone(), card, &device, &mut rng(6)).err(),
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
    let wrapped = tzpks.issue(
        id.clone(),
        card.clone(),
        &rsa2048()?.public_key(),
        &mut rng(7),
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
    let device = rsa2048()?;
    let card = plastic("contract-77/3")?;
    let mut rng = rng(8);
    let id = ControlId::generate(&mut rng);
    let wrapped = tzpks.issue(id.clone(), card.clone(), &device.public_key(), &mut rng)?;
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

    // Device seals the PIN (format 1) under the tzpk; issuer takes the key and opens it.
    let block = PinKey::from(device_tzpk).seal(Format::Iso1, &Pin::new("7580")?, None, &mut rng)?;
    let issuer_tzpk = PinKey::from(tzpks.take(&id, &card)?);
    assert_eq!(
        issuer_tzpk
            .open(Format::Iso1, block.as_bytes(), None)?
            .expose_digits(),
        b"7580"
    );
    Ok(())
}

#[test]
fn every_issue_draws_a_fresh_key() -> TestResult {
    let (tzpks, _) = table();
    let device = rsa2048()?.public_key();
    let card = plastic("p")?;
    let mut rng = rng(10);
    let mut kcvs = std::collections::HashSet::new();
    for i in 0..20 {
        let wrapped = tzpks.issue(
            ControlId::new(&format!("id-{i}"))?,
            card.clone(),
            &device,
            &mut rng,
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
    let device = rsa2048()?.public_key();
    let card = plastic("contract-1/1")?;
    let mut rng = rng(11);
    for round in 0..ROUNDS {
        let id = ControlId::new(&format!("race-{round}"))?;
        tzpks.issue(id.clone(), card.clone(), &device, &mut rng)?;
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
    let device = rsa2048()?.public_key();
    let card = plastic("p")?;
    let mut rng = rng(12);
    let old = ControlId::new("old")?;
    tzpks.issue(old.clone(), card.clone(), &device, &mut rng)?;
    clock.set(at(60_000));
    tzpks.issue(ControlId::new("new")?, card.clone(), &device, &mut rng)?;
    // The old entry was forgotten by the issue's sweep.
    assert_eq!(tzpks.take(&old, &card).err(), Some(TzpkError::Unknown(old)));
    assert_eq!(tzpks.pending()?, 1);
    Ok(())
}

#[test]
fn one_record_per_control_id_from_open_to_take() -> TestResult {
    let (tzpks, clock) = table();
    let device = rsa2048()?;
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
    assert!(matches!(
        tzpks.issue(id.clone(), other, &device.public_key(), &mut rng),
        Err(TzpkError::PlasticMismatch(_))
    ));
    clock.advance(Duration::from_secs(10));
    let wrapped = tzpks.issue(id.clone(), mine.clone(), &device.public_key(), &mut rng)?;
    assert_eq!(
        wrapped.expires_at(),
        expires_at,
        "the control's 30 s, not 30 more"
    );
    assert!(matches!(
        tzpks.issue(id.clone(), mine.clone(), &device.public_key(), &mut rng),
        Err(TzpkError::DuplicateControlId(_))
    ));
    let (bound, key) = tzpks.take_bound(&id)?;
    assert_eq!(bound, mine);
    assert_eq!(key.map(|k| k.kcv()), Some(wrapped.kcv()));
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
    let device = rsa2048()?;
    let mut rng = rng(11);
    let id = ControlId::generate(&mut rng);
    let mine = plastic("70001/1")?;
    // Sweeps at T0 and T0 + 35 s; opened at T0 + 10 s, the record still
    // sits in the table after its expiry (T0 + 40 s), until T0 + 65 s.
    tzpks.open(ControlId::generate(&mut rng), mine.clone())?;
    clock.advance(Duration::from_secs(10));
    tzpks.open(id.clone(), mine.clone())?;
    let (bound, _) = tzpks.issue_for_open(id.clone(), &device.public_key(), &mut rng)?;
    assert_eq!(bound, mine);
    assert!(tzpks.take_bound(&id)?.1.is_some());
    clock.advance(Duration::from_secs(25));
    tzpks.open(ControlId::generate(&mut rng), mine.clone())?; // sweeps at T0 + 35 s
    clock.advance(Duration::from_secs(5));
    assert!(matches!(
        tzpks.issue(id.clone(), mine.clone(), &device.public_key(), &mut rng),
        Err(TzpkError::Expired { .. })
    ));
    assert!(
        tzpks
            .issue_for_open(id.clone(), &device.public_key(), &mut rng)
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
    assert!(matches!(
        tzpks.issue_for_open(spent.clone(), &device.public_key(), &mut rng),
        Err(TzpkError::AlreadyUsed(_))
    ));
    // Once swept, the id is simply unknown.
    clock.advance(Duration::from_secs(31));
    tzpks.sweep()?;
    assert!(matches!(
        tzpks.issue_for_open(spent, &device.public_key(), &mut rng),
        Err(TzpkError::Unknown(_))
    ));
    Ok(())
}
