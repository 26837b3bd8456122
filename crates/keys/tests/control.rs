//! The `ControlStore` trait on the in-process store: one record per
//! controlId, attach once, take once, and expiry.

mod common;

use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{TestResult, at, clock, module, rsa2048};
use pinset_envelope::{Kcv, RsaPadding};
use pinset_keys::{
    ControlBinding, ControlId, ControlOperation, ControlStore, Kek, KeyError, KeyRef, ManualClock,
    MemoryControlStore, PlasticRef, TzpkCustody, TzpkError,
};
use pinset_module::{KeyCheck, SecurityModule, SoftwareModule};
use pollster::block_on;

/// A store as flows share it: behind an `Arc`, whose methods are the
/// trait's (`TemporaryKeys` itself has inherent `open`, `binding` and
/// `take` of other signatures, which a call on it would pick first).
fn store() -> (Arc<MemoryControlStore<ManualClock>>, ManualClock) {
    let clock = clock();
    (
        Arc::new(MemoryControlStore::with_clock(clock.clone())),
        clock,
    )
}

fn binding(plastic: &str) -> Result<ControlBinding, pinset_keys::InvalidId> {
    Ok(ControlBinding {
        plastic: PlasticRef::new(plastic)?,
        operation: ControlOperation::SetPin,
    })
}

/// A fresh tzpk's handle in `module`.
fn tzpk(module: &SoftwareModule) -> Result<KeyRef, Box<dyn std::error::Error>> {
    let device = rsa2048()?.public_key();
    Ok(block_on(module.generate_tzpk(&device, RsaPadding::OaepSha256))?.0)
}

/// A tzpk as another instance would file it: wrapped under a shared KEK.
fn wrapped(kcv: [u8; 3]) -> Result<TzpkCustody, KeyError> {
    Ok(TzpkCustody::Wrapped {
        kek: Kek::new(&[0x42; 32])?.kcv(),
        kcv: Kcv::from_bytes(kcv),
        wrapped: vec![0xA5; 24],
    })
}

/// Open, attach, take and their refusals, through the trait only.
async fn lifecycle<S: ControlStore>(store: &S, clock: &ManualClock, handle: KeyRef) -> TestResult {
    assert_eq!(store.ttl(), Duration::from_secs(30));
    let id = ControlId::new("83fa5f55-3dd7-453a-8233-4242a6bad179")?;
    let mine = binding("70001/1")?;
    assert_eq!(
        store.binding(&id).await.err(),
        Some(TzpkError::Unknown(id.clone()))
    );
    store.open(&id, mine.clone()).await?;
    // Opened twice: refused, and the first record stands.
    assert_eq!(
        store.open(&id, binding("70001/2")?).await.err(),
        Some(TzpkError::DuplicateControlId(id.clone()))
    );
    assert_eq!(store.binding(&id).await?, mine);

    // Attached 10 s later, the tzpk keeps the control's expiry (T0 + 30 s).
    clock.advance(Duration::from_secs(10));
    assert_eq!(
        store
            .attach(&id, TzpkCustody::Handle(handle.clone()))
            .await?,
        mine
    );
    // A second attach is refused and keeps nothing.
    assert_eq!(
        store.attach(&id, wrapped([1, 2, 3])?).await.err(),
        Some(TzpkError::DuplicateControlId(id.clone()))
    );
    clock.set(at(29_999));
    assert_eq!(store.binding(&id).await?, mine);

    // Taken once: the record and its own tzpk; a second take errs.
    let (bound, custody) = store.take(&id).await?;
    assert_eq!(bound, mine);
    assert_eq!(custody, Some(TzpkCustody::Handle(handle.clone())));
    assert!(store.take(&id).await.is_err());
    assert!(store.binding(&id).await.is_err());
    assert!(
        store
            .attach(&id, TzpkCustody::Handle(handle))
            .await
            .is_err()
    );
    // Taken, the key is the caller's: nothing to destroy from the store.
    assert!(store.take_expired().is_empty());
    Ok(())
}

#[test]
fn open_attach_and_take_through_the_trait() -> TestResult {
    let module = module(1);
    // The store itself,
    let clock = common::clock();
    let own = MemoryControlStore::with_clock(clock.clone());
    block_on(lifecycle(&own, &clock, tzpk(&module)?))?;
    // and through an `Arc`, as flows share one.
    let (shared, clock) = store();
    block_on(lifecycle(&shared, &clock, tzpk(&module)?))
}

#[test]
fn attach_keeps_the_expiry_of_the_control() -> TestResult {
    let module = module(2);
    let (store, clock) = store();
    let id = ControlId::new("late-attach")?;
    block_on(store.open(&id, binding("70001/1")?))?;
    clock.set(at(29_000));
    block_on(store.attach(&id, TzpkCustody::Handle(tzpk(&module)?)))?;
    // Expired at T0 + 30 s, not 30 s after the attach.
    clock.set(at(30_000));
    assert!(matches!(
        block_on(store.take(&id)),
        Err(TzpkError::Expired { expired_at, .. }) if expired_at == at(30_000)
    ));
    // An expired control takes no tzpk either.
    let other = ControlId::new("never-attached")?;
    block_on(store.open(&other, binding("70001/1")?))?;
    clock.set(at(60_000));
    assert!(block_on(store.attach(&other, wrapped([4, 5, 6])?)).is_err());
    Ok(())
}

#[test]
fn a_control_without_a_tzpk_is_taken_with_none() -> TestResult {
    let (store, _) = store();
    let id = ControlId::new("bare")?;
    block_on(store.open(&id, binding("70001/1")?))?;
    assert_eq!(block_on(store.take(&id))?, (binding("70001/1")?, None));
    assert!(matches!(
        block_on(store.take(&id)),
        Err(TzpkError::AlreadyUsed(_))
    ));
    Ok(())
}

#[test]
fn fifty_threads_racing_take_on_one_id_have_exactly_one_winner() -> TestResult {
    const THREADS: usize = 50;
    let module = module(3);
    let (store, _) = store();
    for round in 0..5 {
        let id = ControlId::new(&format!("race-{round}"))?;
        let handle = tzpk(&module)?;
        block_on(store.open(&id, binding("70001/1")?))?;
        block_on(store.attach(&id, TzpkCustody::Handle(handle.clone())))?;
        let barrier = Barrier::new(THREADS);
        let results: Vec<_> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..THREADS)
                .map(|_| {
                    let store = Arc::clone(&store);
                    let (id, barrier) = (&id, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        block_on(store.take(id))
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap_or(Err(TzpkError::Poisoned)))
                .collect()
        });
        let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}");
        assert_eq!(winners[0].1, Some(TzpkCustody::Handle(handle)));
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| *e == TzpkError::AlreadyUsed(id.clone())),
            "round {round}"
        );
    }
    Ok(())
}

#[test]
fn an_expired_control_errs_and_its_handle_comes_out_once() -> TestResult {
    let module = module(4);
    let (store, clock) = store();
    let (late, swept, remote) = (
        ControlId::new("late")?,
        ControlId::new("swept")?,
        ControlId::new("remote")?,
    );
    let (late_key, swept_key) = (tzpk(&module)?, tzpk(&module)?);
    for (id, custody) in [
        (&late, TzpkCustody::Handle(late_key.clone())),
        (&swept, TzpkCustody::Handle(swept_key.clone())),
        (&remote, wrapped([7, 8, 9])?),
    ] {
        block_on(store.open(id, binding("70001/1")?))?;
        block_on(store.attach(id, custody))?;
    }
    assert!(store.take_expired().is_empty(), "nothing expired yet");

    // A late take errs and lets go of the handle, once.
    clock.set(at(30_000));
    assert!(matches!(
        block_on(store.take(&late)),
        Err(TzpkError::Expired { .. })
    ));
    assert_eq!(store.take_expired(), vec![late_key.clone()]);
    assert!(store.take_expired().is_empty());
    assert!(block_on(store.take(&late)).is_err());
    assert!(store.take_expired().is_empty());

    // The next open sweeps the other; a wrapped tzpk holds no handle to destroy.
    block_on(store.open(&ControlId::new("next")?, binding("70001/1")?))?;
    assert_eq!(store.take_expired(), vec![swept_key.clone()]);
    assert!(store.take_expired().is_empty());
    assert!(block_on(store.take(&remote)).is_err());

    // The caller destroys them in the module.
    for handle in [&late_key, &swept_key] {
        block_on(module.destroy(handle))?;
    }
    Ok(())
}

#[test]
fn custody_tells_its_kcv_and_shows_no_key() -> TestResult {
    let module = module(5);
    let handle = tzpk(&module)?;
    let KeyCheck::Kcv(kcv) = handle.check() else {
        return Err("a tzpk has a KCV".into());
    };
    let held = TzpkCustody::Handle(handle.clone());
    assert_eq!(held.kcv()?, kcv);
    assert_eq!(held.handle(), Some(&handle));

    let remote = wrapped([0x0A, 0x0B, 0x0C])?;
    assert_eq!(remote.kcv()?, Kcv::from_bytes([0x0A, 0x0B, 0x0C]));
    assert_eq!(remote.handle(), None);
    let debug = format!("{remote:?}");
    assert!(
        debug.contains("0A0B0C") && debug.contains("wrapped_len: 24"),
        "{debug}"
    );
    assert!(!debug.contains("165"), "no wrapped byte is shown: {debug}");

    // A handle that is no tzpk has no tzpk KCV, and no store takes it.
    let zpk = common::import_symmetric(
        &module,
        pinset_module::KeyAlgorithm::Tdes3,
        pinset_keys::KeyPurpose::PinEncryption,
        // The Mastercard Processing sandbox ZPK, a 3-key TDES PIN key.
        &hex::decode("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")?,
    )?;
    assert_eq!(
        TzpkCustody::Handle(zpk.clone()).kcv(),
        Err(TzpkError::NotATzpk)
    );
    let (store, _) = store();
    let id = ControlId::new("c-1")?;
    block_on(store.open(&id, binding("70001/1")?))?;
    assert_eq!(
        block_on(store.attach(&id, TzpkCustody::Handle(zpk))).err(),
        Some(TzpkError::NotATzpk)
    );
    assert_eq!(block_on(store.take(&id))?.1, None);

    // The operation's stored byte is stable.
    assert_eq!(ControlOperation::SetPin.code(), 1);
    assert_eq!(
        ControlOperation::from_code(1),
        Some(ControlOperation::SetPin)
    );
    assert_eq!(ControlOperation::from_code(0), None);
    Ok(())
}
