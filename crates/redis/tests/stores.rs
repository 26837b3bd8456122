//! The three store contracts on a real `redis-server`: create-only-if-new,
//! atomic single-use take, attach rules, claims with tokens, ring
//! compare-and-swap; races across two connection managers; expiry by
//! Redis's own clock; and what happens when Redis stops and comes back.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::fixtures::{KEY_INDEX, ring_key, rsa2048, rsa3072};
use common::{PREFIX, RedisServer, contains, dump, within};
use pinset_envelope::Kcv;
use pinset_flow::{ClaimToken, ReplayStore};
use pinset_keys::{
    ControlBinding, ControlId, ControlOperation, ControlStore, Kek, KeyError, KeyPurpose, KeyRef,
    KeyState, KeyStore, PlasticRef, PublicKeyForm, RsaKeyRing, StoreError, SystemClock,
    TzpkCustody, TzpkError,
};
use pinset_module::{KeyAlgorithm, KeyCheck, SoftwareModule};
use pinset_redis::{RedisStoreError, RedisStores, redis};

/// A well-formed UUID control id; `n` picks the last digits.
fn control_id(n: u32) -> ControlId {
    ControlId::new(&format!("83fa5f55-3dd7-453a-8233-4242a6b{n:05}")).expect("control id")
}

fn binding(plastic: &str) -> ControlBinding {
    ControlBinding {
        plastic: PlasticRef::new(plastic).expect("plastic"),
        operation: ControlOperation::SetPin,
    }
}

fn tzpk_handle(id: &str) -> TzpkCustody {
    TzpkCustody::Handle(KeyRef::new(
        id,
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        KeyCheck::Kcv(Kcv::from_bytes([0x12, 0x34, 0x56])),
    ))
}

fn wrapped_tzpk() -> TzpkCustody {
    TzpkCustody::Wrapped {
        kek: Kcv::from_bytes([0xAA, 0xBB, 0xCC]),
        kcv: Kcv::from_bytes([0x01, 0x02, 0x03]),
        wrapped: (0..24).collect(),
    }
}

fn kek() -> Kek {
    Kek::new(&[0x42; 32]).expect("KEK")
}

fn is_unknown(result: &Result<impl std::fmt::Debug, TzpkError>) -> bool {
    matches!(result, Err(TzpkError::Unknown(_)))
}

fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, TzpkError>) -> bool {
    matches!(result, Err(TzpkError::Unavailable { store: "redis", .. }))
}

fn is_backend<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Backend(_)))
}

// ---- ControlStore ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_open_succeeds_only_for_a_new_id() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.stores().await.controls();
    let id = control_id(1);
    store.open(&id, binding("70001/1")).await.expect("open");
    assert_eq!(
        store.open(&id, binding("70002/1")).await,
        Err(TzpkError::DuplicateControlId(id.clone()))
    );
    // The first binding stands.
    assert_eq!(store.binding(&id).await, Ok(binding("70001/1")));
    assert!(is_unknown(&store.binding(&control_id(2)).await));
    assert_eq!(store.ttl(), Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_take_returns_the_record_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.stores().await.controls();
    let (with_key, without_key) = (control_id(1), control_id(2));
    store
        .open(&with_key, binding("70001/1"))
        .await
        .expect("open");
    store
        .open(&without_key, binding("70002/1"))
        .await
        .expect("open");
    store
        .attach(&with_key, wrapped_tzpk())
        .await
        .expect("attach");

    assert_eq!(
        store.take(&with_key).await,
        Ok((binding("70001/1"), Some(wrapped_tzpk())))
    );
    assert!(is_unknown(&store.take(&with_key).await), "single use");
    assert!(is_unknown(&store.binding(&with_key).await));
    // A control with no tzpk is taken too (the flow then answers 404).
    assert_eq!(
        store.take(&without_key).await,
        Ok((binding("70002/1"), None))
    );
    assert!(is_unknown(&store.take(&without_key).await));
    assert!(dump(&server).await.is_empty(), "taken records are deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_attach_rules() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server
        .stores()
        .await
        .with_control_ttl(Duration::from_secs(5))
        .controls();
    let id = control_id(1);

    // Only an open control takes a tzpk.
    assert!(is_unknown(&store.attach(&id, tzpk_handle("k1")).await));
    store.open(&id, binding("70001/1")).await.expect("open");

    // A handle that is no tzpk is refused before anything is written.
    let rsa = TzpkCustody::Handle(KeyRef::new(
        "rsa",
        KeyAlgorithm::Rsa { bits: 2048 },
        KeyPurpose::PinEncryption,
        KeyCheck::Fingerprint([7; 8]),
    ));
    assert_eq!(store.attach(&id, rsa).await, Err(TzpkError::NotATzpk));

    let mut inspector = server.inspector().await;
    let key = store.key_for(&id);
    let before: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut inspector)
        .await
        .expect("PTTL");
    assert_eq!(
        store.attach(&id, tzpk_handle("k1")).await,
        Ok(binding("70001/1"))
    );
    // One tzpk per control.
    assert_eq!(
        store.attach(&id, tzpk_handle("k2")).await,
        Err(TzpkError::DuplicateControlId(id.clone()))
    );
    // The expiry `open` set is kept.
    let after: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut inspector)
        .await
        .expect("PTTL");
    assert!(
        0 < after && after <= before && before <= 5000,
        "{before} {after}"
    );
    assert_eq!(store.binding(&id).await, Ok(binding("70001/1")));
    assert_eq!(
        store.take(&id).await,
        Ok((binding("70001/1"), Some(tzpk_handle("k1"))))
    );
    // Spent: no attach either.
    assert!(is_unknown(&store.attach(&id, tzpk_handle("k3")).await));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_keys_are_digests_and_records_hold_nothing_clear() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.stores().await.controls();
    let id = control_id(1);
    store.open(&id, binding("70001/1")).await.expect("open");
    store.attach(&id, wrapped_tzpk()).await.expect("attach");
    let stored = dump(&server).await;
    assert_eq!(stored.len(), 1);
    let (key, value) = &stored[0];
    assert_eq!(key, &store.key_for(&id));
    assert!(key.starts_with(&format!("{PREFIX}ctl:")));
    assert_eq!(key.len(), PREFIX.len() + 4 + 64, "prefix, ctl: and 64 hex");
    assert!(!key.contains(id.as_str()) && !key.contains("83fa5f55"));
    assert!(!contains(value, id.as_str().as_bytes()));
    // The version-1 record: version, operation, plastic, wrapped custody.
    assert_eq!(&value[..11], b"\x01\x01\x0770001/1\x02");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_fifty_tasks_each_racing_take_exactly_one_wins() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // Two instances: two connection managers.
    let a = server.stores().await.controls();
    let b = server.stores().await.controls();
    let id = control_id(7);
    a.open(&id, binding("70001/1")).await.expect("open");
    a.attach(&id, wrapped_tzpk()).await.expect("attach");

    let start = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let (id, start) = (id.clone(), Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.take(&id).await
        }));
    }
    let mut won = Vec::new();
    let mut unknown = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(record) => won.push(record),
            Err(TzpkError::Unknown(_)) => unknown += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one take wins");
    assert_eq!(unknown, 99);
    assert_eq!(won[0], (binding("70001/1"), Some(wrapped_tzpk())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_expires_by_redis_ttl() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server
        .stores()
        .await
        // Long enough that a loaded CI machine still opens, attaches and
        // reads the TTL inside it; the wait below outlasts it.
        .with_control_ttl(Duration::from_millis(1_500))
        .controls();
    let (kept, lapsed) = (control_id(1), control_id(2));
    store.open(&lapsed, binding("70001/1")).await.expect("open");
    store
        .attach(&lapsed, wrapped_tzpk())
        .await
        .expect("attach within the TTL");
    let mut inspector = server.inspector().await;
    let pttl: i64 = redis::cmd("PTTL")
        .arg(store.key_for(&lapsed))
        .query_async(&mut inspector)
        .await
        .expect("PTTL");
    assert!(0 < pttl && pttl <= 1_500, "Redis holds the TTL: {pttl} ms");

    tokio::time::sleep(Duration::from_millis(2_000)).await;
    store.open(&kept, binding("70002/1")).await.expect("open");
    assert!(is_unknown(&store.binding(&lapsed).await));
    assert!(is_unknown(&store.attach(&lapsed, tzpk_handle("k")).await));
    assert!(is_unknown(&store.take(&lapsed).await));
    assert_eq!(store.take(&kept).await, Ok((binding("70002/1"), None)));
    // Redis forgot it: nothing to sweep, nothing handed back.
    assert!(store.take_expired().is_empty());
}

// ---- ReplayStore ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_claims_once_and_releases_only_with_its_token() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = (
        server.stores().await.replay(),
        server.stores().await.replay(),
    );
    let window = Duration::from_secs(60);
    let fp = [7u8; 32];

    let token = a.claim(&fp, window).await.expect("claim").expect("free");
    assert_eq!(
        b.claim(&fp, window).await.expect("claim"),
        None,
        "claimed on A"
    );
    assert_eq!(a.claim(&fp, window).await.expect("claim"), None);
    // Another fingerprint is free.
    assert!(b.claim(&[8u8; 32], window).await.expect("claim").is_some());

    // A release with another token leaves the claim.
    b.release(&fp, ClaimToken(token.0.wrapping_add(1)))
        .await
        .expect("release");
    assert_eq!(b.claim(&fp, window).await.expect("claim"), None);
    // Its own token gives it back, from any instance.
    b.release(&fp, token).await.expect("release");
    let again = b
        .claim(&fp, window)
        .await
        .expect("claim")
        .expect("free again");
    assert_ne!(again, token, "tokens are fresh");
    // The stale token does not remove the newer claim.
    a.release(&fp, token).await.expect("release");
    assert_eq!(a.claim(&fp, window).await.expect("claim"), None);

    let stored = dump(&server).await;
    assert_eq!(stored.len(), 2);
    assert!(
        stored
            .iter()
            .any(|(k, v)| k == &a.key_for(&fp) && v == again.0.to_string().as_bytes())
    );
    assert!(
        stored
            .iter()
            .all(|(k, _)| k.starts_with(&format!("{PREFIX}replay:")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_claims_race_across_instances() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = (
        server.stores().await.replay(),
        server.stores().await.replay(),
    );
    let fp = [0x5Au8; 32];
    let start = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        let start = Arc::clone(&start);
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            store.claim(&fp, Duration::from_secs(60)).await
        }));
    }
    let mut claimed = 0;
    for task in tasks {
        if task.await.expect("task").expect("claim").is_some() {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_entry_expires_by_redis_ttl() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.stores().await.replay();
    let fp = [9u8; 32];
    // As above: room for a loaded machine, then a real wait past it.
    let window = Duration::from_millis(1_500);
    let token = store
        .claim(&fp, window)
        .await
        .expect("claim")
        .expect("free");
    assert_eq!(store.claim(&fp, window).await.expect("claim"), None);
    let mut inspector = server.inspector().await;
    let pttl: i64 = redis::cmd("PTTL")
        .arg(store.key_for(&fp))
        .query_async(&mut inspector)
        .await
        .expect("PTTL");
    assert!(
        0 < pttl && pttl <= 1_500,
        "Redis holds the window: {pttl} ms"
    );

    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert!(dump(&server).await.is_empty(), "Redis dropped the entry");
    let fresh = store
        .claim(&fp, window)
        .await
        .expect("claim")
        .expect("free after the window");
    assert_ne!(fresh, token);
}

// ---- KeyStore ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ring_compare_and_swap_refuses_a_stale_generation() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = server.stores().await.key_ring(kek());
    let empty = store.snapshot().await.expect("snapshot");
    assert_eq!(empty.generation, 0);
    assert!(empty.entries.is_empty());

    // A real entry, through a ring on a memory store.
    let module = SoftwareModule::with_rng_seed([1; 32]);
    let ring = RsaKeyRing::with_clock(SystemClock);
    ring.rotate(
        ring_key(&module, KEY_INDEX, &rsa2048()).await,
        Duration::ZERO,
    )
    .await
    .expect("rotate");
    let entries = ring.entries().await.expect("entries");

    assert_eq!(
        store
            .compare_and_swap(0, entries.clone())
            .await
            .expect("cas"),
        1
    );
    match store.compare_and_swap(0, Vec::new()).await {
        Err(StoreError::Conflict { expected, found }) => assert_eq!((expected, found), (0, 1)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    match store.compare_and_swap(5, Vec::new()).await {
        Err(StoreError::Conflict { expected, found }) => assert_eq!((expected, found), (5, 1)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let snapshot = store.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.generation, 1);
    assert_eq!(snapshot.entries.len(), 1);
    let entry = &snapshot.entries[0];
    assert_eq!(entry.key_index().as_str(), KEY_INDEX);
    assert_eq!(entry.state(), KeyState::Active);
    assert_eq!(entry.key(), entries[0].key());
    assert_eq!(entry.public_key(), entries[0].public_key());
    assert!(store.get(entry.key_index()).await.expect("get").is_some());

    // Stored sealed: the hash holds the generation and the KEK-wrapped blob.
    let stored = dump(&server).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].0, format!("{PREFIX}ring"));
    let der = rsa2048().to_pkcs8_der().expect("DER");
    assert!(!contains(&stored[0].1, &der[..32]), "no private key");
    let public = entries[0].public_key().expect("public").to_der();
    assert!(!contains(&stored[0].1, &public), "the entries are wrapped");

    // Another KEK cannot read it, and says so as a backend failure.
    let other = server
        .stores()
        .await
        .key_ring(Kek::new(&[0x43; 32]).expect("KEK"));
    let refused = other.snapshot().await;
    assert!(is_backend(&refused));
    if let Err(StoreError::Backend(e)) = refused {
        let e = e.downcast::<RedisStoreError>().expect("a RedisStoreError");
        assert!(matches!(*e, RedisStoreError::Ring(KeyError::Import(_))));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_rotating_at_once_both_land_in_one_ring() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // Two instances sharing one module's handles (as with one HSM).
    let module = SoftwareModule::with_rng_seed([2; 32]);
    let first = ring_key(&module, "K1", &rsa2048()).await;
    let second = ring_key(&module, "K2", &rsa3072()).await;
    let a = RsaKeyRing::with_store(server.stores().await.key_ring(kek()), SystemClock);
    let b = RsaKeyRing::with_store(server.stores().await.key_ring(kek()), SystemClock);
    let grace = Duration::from_secs(600);
    let (ra, rb) = tokio::join!(a.rotate(first, grace), b.rotate(second, grace));
    ra.expect("rotate on A");
    rb.expect("rotate on B");

    let snapshot = a.store().snapshot().await.expect("snapshot");
    assert_eq!(snapshot.generation, 2, "two writes, none lost");
    let states: Vec<KeyState> = snapshot.entries.iter().map(|e| e.state()).collect();
    assert_eq!(states.len(), 2);
    assert_eq!(
        states.iter().filter(|s| **s == KeyState::Active).count(),
        1,
        "one active key: {states:?}"
    );
    let published_a = a.publish(PublicKeyForm::DerHex).await.expect("publish");
    let published_b = b.publish(PublicKeyForm::DerHex).await.expect("publish");
    assert_eq!(published_a, published_b);
    // The other key decrypts through its grace period.
    for index in ["K1", "K2"] {
        assert!(b.live_key(index).await.is_ok(), "{index}");
    }
}

// ---- Outages ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_every_store_fails_fast_then_resumes_without_rebuilding() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let stores = server.stores().await;
    let controls = stores.controls();
    let replay = stores.replay();
    let ring = stores.key_ring(kek());
    let (id, fp) = (control_id(1), [3u8; 32]);
    controls.open(&id, binding("70001/1")).await.expect("open");
    assert!(
        replay
            .claim(&fp, Duration::from_secs(60))
            .await
            .expect("claim")
            .is_some()
    );
    ring.compare_and_swap(0, Vec::new()).await.expect("cas");

    server.stop();
    let limit = Duration::from_secs(1);
    let started = Instant::now();
    for round in 0..2 {
        let what = |op: &str| format!("{op} (round {round})");
        let open = within(
            limit,
            &what("open"),
            controls.open(&control_id(2), binding("70001/1")),
        )
        .await;
        assert!(is_unavailable(&open), "{open:?}");
        if let Err(e) = &open {
            let text = e.to_string();
            assert!(
                text.starts_with("the redis control store is unavailable: "),
                "{text}"
            );
            assert!(
                !text.contains("83fa5f55") && !text.contains("pinset"),
                "{text}"
            );
        }
        assert!(is_unavailable(
            &within(limit, &what("binding"), controls.binding(&id)).await
        ));
        assert!(is_unavailable(
            &within(limit, &what("attach"), controls.attach(&id, wrapped_tzpk())).await
        ));
        assert!(is_unavailable(
            &within(limit, &what("take"), controls.take(&id)).await
        ));
        assert!(is_backend(
            &within(
                limit,
                &what("claim"),
                replay.claim(&fp, Duration::from_secs(60))
            )
            .await
        ));
        assert!(is_backend(
            &within(limit, &what("release"), replay.release(&fp, ClaimToken(1))).await
        ));
        assert!(is_backend(
            &within(limit, &what("snapshot"), ring.snapshot()).await
        ));
        assert!(is_backend(
            &within(limit, &what("cas"), ring.compare_and_swap(1, Vec::new())).await
        ));
    }
    eprintln!(
        "16 calls against a stopped Redis took {:?}",
        started.elapsed()
    );

    // Back on the same port (empty: no persistence): the same values work.
    server.restart();
    let resumed = Instant::now();
    controls
        .open(&id, binding("70002/1"))
        .await
        .expect("open after restart");
    eprintln!("first call after the restart took {:?}", resumed.elapsed());
    assert_eq!(controls.take(&id).await, Ok((binding("70002/1"), None)));
    assert!(
        replay
            .claim(&fp, Duration::from_secs(60))
            .await
            .expect("claim")
            .is_some()
    );
    assert_eq!(ring.snapshot().await.expect("snapshot").generation, 0);
    assert_eq!(ring.compare_and_swap(0, Vec::new()).await.expect("cas"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_times_out_then_resumes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let stores = server.stores().await;
    let controls = stores.controls();
    let id = control_id(1);
    controls.open(&id, binding("70001/1")).await.expect("open");

    server.pause();
    let result = within(
        Duration::from_millis(2500),
        "binding on a hung Redis",
        controls.binding(&id),
    )
    .await;
    server.resume();
    match result {
        Err(TzpkError::Unavailable { store, reason }) => {
            assert_eq!(store, "redis");
            assert!(
                reason.contains("timed out") || reason.contains("lost"),
                "{reason}"
            );
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // The data survived the pause; the manager reconnects by itself.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match controls.take(&id).await {
            Ok(record) => {
                assert_eq!(record, (binding("70001/1"), None));
                break;
            }
            Err(TzpkError::Unavailable { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("did not resume: {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_keep_services_apart() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let stores = server.stores().await;
    let other = stores.clone().with_prefix("other:");
    assert_eq!(other.prefix(), "other:");
    let id = control_id(1);
    stores
        .controls()
        .open(&id, binding("70001/1"))
        .await
        .expect("open");
    assert!(is_unknown(&other.controls().binding(&id).await));
    other
        .controls()
        .open(&id, binding("70002/1"))
        .await
        .expect("open");
    assert_eq!(stores.controls().binding(&id).await, Ok(binding("70001/1")));
    assert!(other.controls().key_for(&id).starts_with("other:ctl:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_is_refused_without_echoing_it() {
    let e = RedisStores::connect("redis://:hunter2@[not a host/")
        .await
        .expect_err("a bad URL");
    assert!(matches!(e, RedisStoreError::Config), "{e:?}");
    assert!(!e.to_string().contains("hunter2"));
    assert!(!format!("{e:?}").contains("hunter2"));
}
