//! Key stores outside the crate: entries sealed under a KEK, a store over a
//! sealed blob, and two rings racing on one shared store.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use common::{Hsm, TestResult, at, clock, idx, rsa2048, rsa3072};
use pinset_block::Format;
use pinset_envelope::RsaPadding;
use pinset_keys::{
    ImportError, Kek, KeyError, KeyState, KeyStore, MemoryKeyStore, PublicKeyForm, RingEntry,
    RingSnapshot, RsaKeyRing, StoreError,
};
use pollster::block_on;

const GRACE: Duration = Duration::from_secs(600);

fn kek() -> Result<Kek, KeyError> {
    Kek::new(&[0x42; 32])
}

/// Everything an entry says, for comparison (`RingEntry` has no `PartialEq`).
fn describe(entries: &[RingEntry]) -> Vec<String> {
    entries
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
        .collect()
}

/// A ring with a decrypt-only K1 (PKCS#1 v1.5) and an active K2.
fn two_keys(hsm: &Hsm) -> Result<Vec<RingEntry>, KeyError> {
    let clock = clock();
    let ring = RsaKeyRing::with_clock(clock.clone());
    block_on(
        ring.rotate(
            hsm.new_key("K1", &rsa2048()?)?
                .with_padding(RsaPadding::Pkcs1v15),
            GRACE,
        ),
    )?;
    clock.advance(Duration::from_secs(1));
    block_on(ring.rotate(hsm.new_key("K2", &rsa3072()?)?, GRACE))?;
    block_on(ring.entries())
}

fn import_error(result: Result<Vec<RingEntry>, KeyError>) -> Option<ImportError> {
    match result {
        Err(KeyError::Import(e)) => Some(e),
        _ => None,
    }
}

#[test]
fn sealed_entries_open_as_they_were() -> TestResult {
    let hsm = Hsm::new(40)?;
    let entries = two_keys(&hsm)?;
    let sealed = RingEntry::seal(&entries, &kek()?)?;
    // The export format of a ring.
    assert_eq!(&sealed[..9], b"PINSETKX\x01");
    let opened = RingEntry::open(&sealed, &kek()?)?;
    assert_eq!(describe(&opened), describe(&entries));
    assert_eq!(
        opened.iter().map(RingEntry::state).collect::<Vec<_>>(),
        [
            KeyState::DecryptOnly {
                until: at(1_000 + 600_000)
            },
            KeyState::Active
        ]
    );
    // No key in it, private or public, is readable.
    for der in [
        rsa3072()?.to_pkcs8_der()?.to_vec(),
        rsa3072()?.public_key().to_der(),
    ] {
        for chunk in der.chunks(16).filter(|c| c.len() == 16) {
            assert!(!sealed.windows(16).any(|w| w == chunk));
        }
    }
    // An empty ring seals and opens too.
    assert!(RingEntry::open(&RingEntry::seal(&[], &kek()?)?, &kek()?)?.is_empty());
    Ok(())
}

#[test]
fn a_tampered_blob_or_the_wrong_kek_opens_nothing() -> TestResult {
    let hsm = Hsm::new(41)?;
    let sealed = RingEntry::seal(&two_keys(&hsm)?, &kek()?)?;
    for pos in 0..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[pos] ^= 1 << (pos % 8);
        let err = import_error(RingEntry::open(&tampered, &kek()?));
        assert!(err.is_some(), "flip at {pos} opened");
        if pos >= 13 {
            assert_eq!(err, Some(ImportError::Integrity), "flip at {pos}");
        }
    }
    for len in 0..sealed.len() {
        assert!(
            import_error(RingEntry::open(&sealed[..len], &kek()?)).is_some(),
            "truncated to {len}"
        );
    }
    let other = Kek::new(&[0x43; 32])?;
    assert!(matches!(
        import_error(RingEntry::open(&sealed, &other)),
        Some(ImportError::WrongKek { export, given })
            if export == *kek()?.kcv().as_bytes() && given == *other.kcv().as_bytes()
    ));
    Ok(())
}

/// A store over a database that keeps one sealed blob and its generation,
/// as the doc example on `KeyStore`: it stands for a table
/// `ring(generation BIGINT, sealed BYTEA)` of one row.
struct BlobStore {
    kek: Kek,
    row: Mutex<(u64, Vec<u8>)>,
    /// How many swaps were refused.
    conflicts: AtomicUsize,
}

impl BlobStore {
    fn new(kek: Kek) -> Self {
        BlobStore {
            kek,
            row: Mutex::new((0, Vec::new())),
            conflicts: AtomicUsize::new(0),
        }
    }

    /// The stored bytes, as the database holds them.
    fn blob(&self) -> Result<Vec<u8>, StoreError> {
        Ok(self.row.lock().map_err(|_| StoreError::Poisoned)?.1.clone())
    }
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

impl KeyStore for BlobStore {
    async fn snapshot(&self) -> Result<RingSnapshot, StoreError> {
        let (generation, sealed) = self.row.lock().map_err(|_| StoreError::Poisoned)?.clone();
        let entries = if sealed.is_empty() {
            Vec::new()
        } else {
            RingEntry::open(&sealed, &self.kek).map_err(backend)?
        };
        Ok(RingSnapshot {
            generation,
            entries,
        })
    }

    async fn compare_and_swap(
        &self,
        generation: u64,
        entries: Vec<RingEntry>,
    ) -> Result<u64, StoreError> {
        let sealed = RingEntry::seal(&entries, &self.kek).map_err(backend)?;
        let mut row = self.row.lock().map_err(|_| StoreError::Poisoned)?;
        if row.0 != generation {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Conflict {
                expected: generation,
                found: row.0,
            });
        }
        *row = (generation + 1, sealed);
        Ok(row.0)
    }
}

#[test]
fn a_ring_runs_on_a_store_over_a_sealed_blob() -> TestResult {
    let hsm = Hsm::new(42)?;
    let clock = clock();
    let store = Arc::new(BlobStore::new(kek()?));
    let ring = RsaKeyRing::with_store(Arc::clone(&store), clock.clone());
    assert!(matches!(
        block_on(ring.publish(PublicKeyForm::DerHex)),
        Err(KeyError::NoActiveKey)
    ));

    // Rotate twice; every write lands in the blob.
    let first = block_on(ring.rotate(hsm.new_key("K1", &rsa2048()?)?, GRACE))?;
    assert_eq!(first.previous, None);
    let k1 = block_on(ring.live_key("K1"))?.key().clone();
    clock.advance(Duration::from_secs(5));
    let second = block_on(ring.rotate(hsm.new_key("K2", &rsa3072()?)?, GRACE))?;
    assert_eq!(second.previous, Some(idx("K1")?));
    assert_eq!(block_on(store.snapshot())?.generation, 2);
    let blob = store.blob()?;
    assert_eq!(&blob[..9], b"PINSETKX\x01");
    assert_eq!(
        describe(&RingEntry::open(&blob, &kek()?)?),
        describe(&block_on(ring.entries())?)
    );

    // The ring reads its keys back out of the blob.
    assert_eq!(
        block_on(ring.publish(PublicKeyForm::DerHex))?.key_index,
        idx("K2")?
    );
    assert_eq!(block_on(ring.live_key("K1"))?.key(), &k1);
    let block = rsa2048()?.public_key().seal(
        Format::Iso1,
        &pinset_block::Pin::new("7580")?,
        None,
        RsaPadding::OaepSha256,
        &mut common::rng(42),
    )?;
    assert_eq!(
        hsm.open(&ring, "K1", Format::Iso1, &block, None)?
            .expose_digits(),
        b"7580"
    );
    // A second ring on the same store (another instance) sees the same keys.
    let other = RsaKeyRing::with_store(Arc::clone(&store), clock.clone());
    assert_eq!(
        block_on(other.publish(PublicKeyForm::DerHex))?,
        block_on(ring.publish(PublicKeyForm::DerHex))?
    );

    // The export is the blob's format: it imports into a memory ring.
    let export = block_on(ring.export(&kek()?))?;
    assert_eq!(export, blob, "the store keeps the export format");
    let restored = block_on(RsaKeyRing::import(&export, &kek()?, clock.clone()))?;
    assert_eq!(
        describe(&block_on(restored.entries())?),
        describe(&block_on(ring.entries())?)
    );
    // And an export imports into a blob store too.
    let fresh = Arc::new(BlobStore::new(kek()?));
    let imported = block_on(RsaKeyRing::import_into(
        &export,
        &kek()?,
        Arc::clone(&fresh),
        clock.clone(),
    ))?;
    assert_eq!(
        block_on(imported.live_key("K2"))?.key(),
        block_on(ring.live_key("K2"))?.key()
    );

    // Past the grace, the sweep writes K1's retirement into the blob.
    clock.advance(GRACE);
    let retired = block_on(ring.sweep())?;
    assert_eq!(retired.len(), 1);
    assert_eq!(retired[0].key, k1);
    let stored = RingEntry::open(&store.blob()?, &kek()?)?;
    assert!(matches!(stored[0].state(), KeyState::Retired { .. }));
    assert!(stored[0].key().is_none());
    assert_eq!(store.conflicts.load(Ordering::SeqCst), 0);
    Ok(())
}

#[test]
fn a_blob_store_with_another_kek_reads_nothing_and_says_so() -> TestResult {
    let hsm = Hsm::new(43)?;
    let writer = Arc::new(BlobStore::new(kek()?));
    let ring = RsaKeyRing::with_store(Arc::clone(&writer), clock());
    block_on(ring.rotate(hsm.new_key("K1", &rsa2048()?)?, GRACE))?;
    // The same row read by an instance holding another KEK.
    let reader = BlobStore::new(Kek::new(&[0x43; 32])?);
    *reader.row.lock().map_err(|_| "poisoned")? = (1, writer.blob()?);
    let stranger = RsaKeyRing::with_store(reader, clock());
    let err = block_on(stranger.live_key("K1"))
        .err()
        .ok_or("read a ring under the wrong KEK")?;
    assert!(
        matches!(err, KeyError::Store(StoreError::Backend(_))),
        "{err:?}"
    );
    // Nor may it write: the rotation fails before any swap.
    assert!(matches!(
        block_on(stranger.rotate(hsm.new_key("K2", &rsa3072()?)?, GRACE)),
        Err(KeyError::Store(StoreError::Backend(_)))
    ));
    assert_eq!(stranger.store().row.lock().map_err(|_| "poisoned")?.0, 1);
    Ok(())
}

/// One instance's view of a shared store: its first read waits until the
/// other instance has read too, so both write against the same generation.
struct Lockstep {
    shared: Arc<MemoryKeyStore>,
    barrier: Arc<Barrier>,
    waited: AtomicBool,
    swaps: AtomicUsize,
}

impl KeyStore for Lockstep {
    async fn snapshot(&self) -> Result<RingSnapshot, StoreError> {
        let snapshot = self.shared.snapshot().await;
        if !self.waited.swap(true, Ordering::SeqCst) {
            self.barrier.wait();
        }
        snapshot
    }

    async fn compare_and_swap(
        &self,
        generation: u64,
        entries: Vec<RingEntry>,
    ) -> Result<u64, StoreError> {
        self.swaps.fetch_add(1, Ordering::SeqCst);
        self.shared.compare_and_swap(generation, entries).await
    }
}

#[test]
fn two_rings_rotating_at_once_on_one_store_leave_one_active_key() -> TestResult {
    let hsm = Hsm::new(44)?;
    let clock = clock();
    let shared = Arc::new(MemoryKeyStore::new());
    // K0 is active before the race.
    block_on(
        RsaKeyRing::with_store(Arc::clone(&shared), clock.clone())
            .rotate(hsm.new_key("K0", &rsa2048()?)?, GRACE),
    )?;
    let before = block_on(shared.snapshot())?.generation;
    clock.advance(Duration::from_secs(1));

    let barrier = Arc::new(Barrier::new(2));
    let instance = |name: &str| {
        let ring = RsaKeyRing::with_store(
            Lockstep {
                shared: Arc::clone(&shared),
                barrier: Arc::clone(&barrier),
                waited: AtomicBool::new(false),
                swaps: AtomicUsize::new(0),
            },
            clock.clone(),
        );
        hsm.new_key(name, &rsa3072()?).map(|new| (ring, new))
    };
    let (ring_a, new_a) = instance("A1")?;
    let (ring_b, new_b) = instance("B1")?;
    let (done_a, done_b) = std::thread::scope(|s| {
        let a = s.spawn(|| block_on(ring_a.rotate(new_a, GRACE)));
        let b = s.spawn(|| block_on(ring_b.rotate(new_b, GRACE)));
        (a.join(), b.join())
    });
    let (done_a, done_b) = (
        done_a.map_err(|_| "A panicked")?,
        done_b.map_err(|_| "B panicked")?,
    );

    // Both read generation `before`; one swap won, the other was refused,
    // read again and rotated over the winner. Both calls succeed.
    let rotation_a = done_a?;
    let rotation_b = done_b?;
    let swaps =
        ring_a.store().swaps.load(Ordering::SeqCst) + ring_b.store().swaps.load(Ordering::SeqCst);
    assert_eq!(swaps, 3, "one swap was refused and retried");
    let after = block_on(shared.snapshot())?;
    assert_eq!(after.generation, before + 2);

    // The first to land followed K0; the second followed the first.
    let (first, second) = if rotation_a.previous == Some(idx("K0")?) {
        (rotation_a, rotation_b)
    } else {
        (rotation_b, rotation_a)
    };
    assert_eq!(first.previous, Some(idx("K0")?));
    assert_eq!(second.previous, Some(first.active.clone()));

    // Exactly one active key: the second's. The first's is decrypt-only, still live.
    let active: Vec<_> = after
        .entries
        .iter()
        .filter(|e| e.state() == KeyState::Active)
        .map(|e| e.key_index().clone())
        .collect();
    assert_eq!(active, vec![second.active.clone()]);
    let loser = after
        .entries
        .iter()
        .find(|e| e.key_index() == &first.active)
        .ok_or("the first rotation's key is gone")?;
    assert_eq!(
        loser.state(),
        KeyState::DecryptOnly {
            until: at(1_000 + 600_000)
        }
    );
    assert_eq!(after.entries.len(), 3);
    // Both instances publish the same key.
    assert_eq!(
        block_on(ring_a.publish(PublicKeyForm::DerHex))?.key_index,
        second.active
    );
    assert_eq!(
        block_on(ring_b.publish(PublicKeyForm::DerHex))?.key_index,
        second.active
    );
    assert!(block_on(ring_a.live_key(first.active.as_str())).is_ok());
    Ok(())
}

#[test]
fn rings_rotating_freely_on_one_store_never_have_two_active_keys() -> TestResult {
    let hsm = Hsm::new(45)?;
    let shared = Arc::new(MemoryKeyStore::new());
    let keys = [
        (
            hsm.rsa(pinset_keys::KeyPurpose::PinEncryption, &rsa2048()?)?,
            rsa2048()?.public_key(),
        ),
        (
            hsm.rsa(pinset_keys::KeyPurpose::PinEncryption, &rsa3072()?)?,
            rsa3072()?.public_key(),
        ),
    ];
    let rings = [
        RsaKeyRing::with_store(Arc::clone(&shared), clock()),
        RsaKeyRing::with_store(Arc::clone(&shared), clock()),
    ];
    std::thread::scope(|s| {
        for (n, ring) in rings.iter().enumerate() {
            let (handle, public) = keys[n].clone();
            s.spawn(move || {
                for i in 0..10 {
                    let done =
                        idx(&format!("I{n}R{i}"))
                            .map_err(KeyError::from)
                            .and_then(|index| {
                                pinset_keys::NewKey::new(index, handle.clone(), public.clone())
                                    .and_then(|new| block_on(ring.rotate(new, GRACE)))
                            });
                    assert!(done.is_ok(), "{done:?}");
                }
            });
        }
    });
    let snapshot = block_on(shared.snapshot())?;
    assert_eq!(snapshot.generation, 20);
    assert_eq!(snapshot.entries.len(), 20);
    assert_eq!(
        snapshot
            .entries
            .iter()
            .filter(|e| e.state() == KeyState::Active)
            .count(),
        1
    );
    Ok(())
}
