//! The flows as several instances run them: two Enfuce and two Mastercard
//! instances, each with its own software module, sharing one Redis and
//! one CMS. Vector sources are in `common/fixtures.rs`.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20::ChaCha20Rng;
use common::fixtures::{
    CARDS, ENFUCE_AUDIT_USER, ENFUCE_SEED_BLOCK, ENFUCE_SEED_PIN, EXPIRY, KEY_INDEX, SEQ,
    SharedCms, assert_reason, assert_stored_pin, contract, encrypt_block, issuer, pin, refused,
    ring_key, rsa2048, rsa3072, sandbox_cms, tzpk_kek,
};
use common::{RedisServer, contains, dump, within};
use pinset_block::Format;
use pinset_envelope::{RsaPadding, RsaPrivateKey, RsaPublicKey, TdesKey, rsa};
use pinset_flow::enfuce::{ControlOperation, SetPinRequest as EnfuceRequest, TzpkRequest};
use pinset_flow::mastercard::SetPinRequest;
use pinset_flow::{Detail, EnfuceSetPin, FlowError, MastercardPanless, Reason};
use pinset_keys::{ControlId, Kek, KeyStore, MemoryKeyStore, RsaKeyRing, SystemClock, TzpkError};
use pinset_module::KeyCheck;
use pinset_redis::{RedisControlStore, RedisKeyStore, RedisReplayStore};
use rand_core::SeedableRng;

type Enfuce = EnfuceSetPin<SharedCms, RedisControlStore>;
type Mastercard<S = MemoryKeyStore> =
    MastercardPanless<SharedCms, S, SystemClock, pinset_module::SoftwareModule, RedisReplayStore>;

/// One Enfuce instance: its own module (seeded with `seed`) and Redis
/// connection, the shared KEK imported, tzpks kept wrapped under it.
async fn enfuce(server: &RedisServer, cms: &SharedCms, seed: u8) -> Enfuce {
    let issuer = issuer(cms.clone(), seed).await;
    let kek = tzpk_kek(issuer.module()).await;
    EnfuceSetPin::with_store(issuer, server.stores().await.controls()).with_shared_tzpks(kek)
}

/// One Mastercard instance with its ring on `ring_store`: rsa2048.pem
/// imported into its own module under the sandbox key index.
async fn mastercard<S: KeyStore>(
    server: &RedisServer,
    cms: &SharedCms,
    seed: u8,
    ring_store: S,
) -> Mastercard<S> {
    let issuer = issuer(cms.clone(), seed).await;
    let ring = RsaKeyRing::with_store(ring_store, SystemClock);
    ring.rotate(
        ring_key(issuer.module(), KEY_INDEX, &rsa2048()).await,
        Duration::from_secs(600),
    )
    .await
    .expect("install the sandbox key index");
    MastercardPanless::new(issuer, ring).with_replay_store(server.stores().await.replay())
}

fn ring_kek() -> Kek {
    Kek::new(&[0x24; 32]).expect("KEK")
}

/// The device: rsa3072.pem, as in the flow tests.
fn device() -> RsaPrivateKey {
    rsa3072()
}

async fn issue(flow: &Enfuce, contract_id: &str) -> Result<ControlId, FlowError> {
    flow.issue_control(
        contract(contract_id),
        SEQ.parse().expect("sequence"),
        ControlOperation::SetPin,
    )
    .await
}

/// `POST /pin/v3/set/tzpk`; the device unwraps the answer.
async fn fetch_tzpk(flow: &Enfuce, control: &ControlId) -> Result<TdesKey, FlowError> {
    let device = device();
    let response = flow
        .get_tzpk(&TzpkRequest {
            control_id: control.as_str().to_owned(),
            public_key: device.public_key().to_base64(),
        })
        .await?;
    let wrapped = BASE64.decode(&response.tzpk).expect("base64");
    Ok(rsa::unwrap_tdes_key(&device, RsaPadding::OaepSha256, &wrapped).expect("device unwraps"))
}

async fn set_pin(
    flow: &Enfuce,
    control: &ControlId,
    tzpk: &TdesKey,
) -> Result<pinset_flow::enfuce::SetPinResponse, FlowError> {
    flow.set_pin(
        &EnfuceRequest {
            control_id: control.as_str().to_owned(),
            pin_block: encrypt_block(tzpk, ENFUCE_SEED_BLOCK),
        },
        ENFUCE_AUDIT_USER,
    )
    .await
}

/// Device side: ISO format 1 of `pin_digits` sealed under the key `flow`
/// publishes, as an MP request body.
async fn sealed_request<S: KeyStore>(
    flow: &Mastercard<S>,
    pin_digits: &str,
    rng: &mut ChaCha20Rng,
) -> (SetPinRequest, Vec<u8>) {
    let published = flow.public_keys("PIN_BLOCK").await.expect("public key");
    assert_eq!(published.key_index, KEY_INDEX);
    let key = RsaPublicKey::from_hex(&published.public_rsa_key).expect("DER hex");
    let cryptogram = key
        .seal(
            Format::Iso1,
            &pin(pin_digits),
            None,
            RsaPadding::OaepSha256,
            rng,
        )
        .expect("seal");
    let request = SetPinRequest {
        new_pin_block: hex::encode_upper(&cryptogram),
        card_expiry_date: EXPIRY.to_owned(),
        card_sequence_number: Some(SEQ.to_owned()),
    };
    (request, cryptogram)
}

fn is_store_outage(e: &FlowError) -> bool {
    match e.detail() {
        Detail::Store(_) => true,
        Detail::Tzpk(TzpkError::Unavailable { store, .. }) => *store == "redis",
        _ => false,
    }
}

/// 500 `INTEGRATION_ERROR`, recoverable, caused by the Redis store.
fn assert_outage(e: &FlowError) {
    assert_reason(e, Reason::IntegrationError, 500, true);
    assert!(is_store_outage(e), "not a store outage: {e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_issued_on_a_tzpk_fetched_on_b_pin_set_on_a() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cms = sandbox_cms();
    let (a, b) = (
        enfuce(&server, &cms, 1).await,
        enfuce(&server, &cms, 2).await,
    );
    let card = CARDS[0];

    let control = issue(&a, card.contract).await.expect("issue on A");
    let tzpk = fetch_tzpk(&b, &control).await.expect("tzpk from B");

    // Redis holds the tzpk wrapped under the shared KEK, never clear, and
    // never the controlId.
    let stored = dump(&server).await;
    assert_eq!(stored.len(), 1);
    let (key, record) = &stored[0];
    assert_eq!(key, &a.controls().key_for(&control));
    assert_eq!(record[10], 2, "custody: wrapped");
    let kek_kcv = match tzpk_kek(b.issuer().module()).await.check() {
        KeyCheck::Kcv(kcv) => kcv,
        other => panic!("{other:?}"),
    };
    assert_eq!(&record[11..14], kek_kcv.as_bytes());
    assert_eq!(&record[14..17], tzpk.kcv().as_bytes());
    assert!(
        !contains(record, tzpk.expose_bytes()),
        "clear tzpk in Redis"
    );
    assert!(!contains(record, control.as_str().as_bytes()));
    assert!(!key.contains(control.as_str()));

    // The PIN block opens on A, though B generated the tzpk.
    set_pin(&a, &control, &tzpk).await.expect("200 on A");
    assert_stored_pin(&cms.snapshot(), card.contract, ENFUCE_SEED_PIN, card.pan);

    // Spent on every instance, and gone from Redis.
    let snapshot = cms.snapshot();
    for flow in [&a, &b] {
        let e = refused(set_pin(flow, &control, &tzpk).await);
        assert_reason(&e, Reason::ControlNotFound, 404, false);
    }
    assert_eq!(cms.snapshot(), snapshot);
    assert!(dump(&server).await.is_empty());

    // And the other way round: issued on B, fetched on A, set on B.
    let card = CARDS[1];
    let control = issue(&b, card.contract).await.expect("issue on B");
    let tzpk = fetch_tzpk(&a, &control).await.expect("tzpk from A");
    set_pin(&b, &control, &tzpk).await.expect("200 on B");
    assert_stored_pin(&cms.snapshot(), card.contract, ENFUCE_SEED_PIN, card.pan);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastercard_cryptogram_used_on_a_is_refused_on_b() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cms = sandbox_cms();
    // A keeps its ring in Redis (sealed under a KEK), B in its own memory;
    // both hold rsa2048.pem under the sandbox index, each in its own module.
    let a: Mastercard<RedisKeyStore> =
        mastercard(&server, &cms, 1, server.stores().await.key_ring(ring_kek())).await;
    let b = mastercard(&server, &cms, 2, MemoryKeyStore::new()).await;
    assert_eq!(
        a.public_keys("PIN_BLOCK").await.expect("A"),
        b.public_keys("PIN_BLOCK").await.expect("B")
    );
    let mut device = ChaCha20Rng::seed_from_u64(7);
    let card = CARDS[1];

    let (request, cryptogram) = sealed_request(&a, card.pin, &mut device).await;
    let outcome = a
        .set_pin(card.contract, Some(KEY_INDEX), &request)
        .await
        .expect("204 on A");
    assert_eq!(outcome.http_status, 204);
    assert_stored_pin(&cms.snapshot(), card.contract, card.pin, card.pan);

    // The same request on B (and again on A) is a replay.
    let snapshot = cms.snapshot();
    for flow_result in [
        b.set_pin(card.contract, Some(KEY_INDEX), &request).await,
        a.set_pin(card.contract, Some(KEY_INDEX), &request).await,
    ] {
        let e = refused(flow_result);
        assert_reason(&e, Reason::ReplayedPinBlock, 400, false);
    }
    assert_eq!(cms.snapshot(), snapshot, "a replay changed the CMS");

    // A fresh cryptogram is no replay, on either instance.
    let (fresh, _) = sealed_request(&b, CARDS[0].pin, &mut device).await;
    b.set_pin(CARDS[0].contract, Some(KEY_INDEX), &fresh)
        .await
        .expect("204 on B");
    assert_stored_pin(
        &cms.snapshot(),
        CARDS[0].contract,
        CARDS[0].pin,
        CARDS[0].pan,
    );

    // Redis holds two fingerprints and A's sealed ring: no cryptogram, no
    // PAN, no PIN block.
    let stored = dump(&server).await;
    let replays: Vec<_> = stored
        .iter()
        .filter(|(k, _)| k.contains(":replay:"))
        .collect();
    assert_eq!(replays.len(), 2);
    assert!(stored.iter().any(|(k, _)| k.ends_with(":ring")));
    for (key, value) in &stored {
        for secret in [
            &cryptogram[..],
            request.new_pin_block.as_bytes(),
            card.pan.as_bytes(),
            CARDS[0].pan.as_bytes(),
        ] {
            assert!(!contains(value, secret) && !contains(key.as_bytes(), secret));
        }
    }
}

/// One ring in Redis serves two instances with their own software modules:
/// each imports the same key pair (from the same wrapped backup, in
/// production), and a software module names a key pair by its public
/// fingerprint, so the ring's handle is valid in both. A rotation written by
/// A is what B publishes and decrypts under at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_redis_ring_serves_instances_with_their_own_modules() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cms = sandbox_cms();
    let a: Mastercard<RedisKeyStore> =
        mastercard(&server, &cms, 1, server.stores().await.key_ring(ring_kek())).await;
    // B only imports the key into its own module; the ring comes from Redis.
    let b_issuer = issuer(cms.clone(), 2).await;
    drop(ring_key(b_issuer.module(), KEY_INDEX, &rsa2048()).await);
    let b = MastercardPanless::new(
        b_issuer,
        RsaKeyRing::with_store(server.stores().await.key_ring(ring_kek()), SystemClock),
    )
    .with_replay_store(server.stores().await.replay());
    assert_eq!(
        a.public_keys("PIN_BLOCK").await.expect("A"),
        b.public_keys("PIN_BLOCK").await.expect("B")
    );
    let mut device = ChaCha20Rng::seed_from_u64(9);
    let card = CARDS[0];
    let (request, _) = sealed_request(&a, card.pin, &mut device).await;
    let outcome = b
        .set_pin(card.contract, Some(KEY_INDEX), &request)
        .await
        .expect("204 on B, under the ring A wrote");
    assert_eq!(outcome.http_status, 204);
    assert_stored_pin(&cms.snapshot(), card.contract, card.pin, card.pan);

    // A rotates to rsa3072.pem, which both modules hold; B publishes it at once.
    drop(ring_key(b.issuer().module(), "K-3072", &rsa3072()).await);
    let rotation = a
        .ring()
        .rotate(
            ring_key(a.issuer().module(), "K-3072", &rsa3072()).await,
            Duration::from_secs(600),
        )
        .await
        .expect("rotate on A");
    assert_eq!(
        rotation.previous.as_ref().map(|k| k.as_str()),
        Some(KEY_INDEX)
    );
    let published = b.public_keys("PIN_BLOCK").await.expect("B");
    assert_eq!(published.key_index, "K-3072");
    let cryptogram = RsaPublicKey::from_hex(&published.public_rsa_key)
        .expect("DER hex")
        .seal(
            Format::Iso1,
            &pin(CARDS[1].pin),
            None,
            RsaPadding::OaepSha256,
            &mut device,
        )
        .expect("seal");
    let fresh = SetPinRequest {
        new_pin_block: hex::encode_upper(&cryptogram),
        card_expiry_date: EXPIRY.to_owned(),
        card_sequence_number: Some(SEQ.to_owned()),
    };
    b.set_pin(CARDS[1].contract, Some("K-3072"), &fresh)
        .await
        .expect("204 on B under the new key");
    assert_stored_pin(
        &cms.snapshot(),
        CARDS[1].contract,
        CARDS[1].pin,
        CARDS[1].pan,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_flows_answer_500_cms_unchanged_then_resume() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let cms = sandbox_cms();
    let (ea, eb) = (
        enfuce(&server, &cms, 1).await,
        enfuce(&server, &cms, 2).await,
    );
    let ma = mastercard(&server, &cms, 3, MemoryKeyStore::new()).await;
    let mb = mastercard(&server, &cms, 4, MemoryKeyStore::new()).await;
    let mut device = ChaCha20Rng::seed_from_u64(9);

    // Mid-run: a control issued and its tzpk fetched, a cryptogram sealed.
    let pending = issue(&ea, CARDS[0].contract).await.expect("issue");
    let pending_tzpk = fetch_tzpk(&eb, &pending).await.expect("tzpk");
    let (request, _) = sealed_request(&ma, CARDS[1].pin, &mut device).await;
    let before = cms.snapshot();

    server.stop();
    let limit = Duration::from_secs(2);
    for (flow, other) in [(&ea, &eb), (&eb, &ea)] {
        let e = refused(within(limit, "issue", issue(flow, CARDS[1].contract)).await);
        assert_outage(&e);
        let e = refused(within(limit, "tzpk", fetch_tzpk(other, &pending)).await);
        assert_outage(&e);
        let e = refused(within(limit, "set PIN", set_pin(flow, &pending, &pending_tzpk)).await);
        assert_outage(&e);
    }
    for flow in [&ma, &mb] {
        let e = refused(
            within(
                limit,
                "MP set PIN",
                flow.set_pin(CARDS[1].contract, Some(KEY_INDEX), &request),
            )
            .await,
        );
        assert_outage(&e);
    }
    assert_eq!(cms.snapshot(), before, "an outage changed the CMS");

    // Redis is back on the same port; no flow or store is rebuilt.
    server.restart();
    // This Redis keeps nothing across a restart (no persistence): the
    // pending control is gone, and its client starts again.
    let e = refused(set_pin(&ea, &pending, &pending_tzpk).await);
    assert_reason(&e, Reason::ControlNotFound, 404, false);

    let control = issue(&ea, CARDS[0].contract)
        .await
        .expect("issue after restart");
    let tzpk = fetch_tzpk(&eb, &control).await.expect("tzpk after restart");
    set_pin(&ea, &control, &tzpk)
        .await
        .expect("200 after restart");
    assert_stored_pin(
        &cms.snapshot(),
        CARDS[0].contract,
        ENFUCE_SEED_PIN,
        CARDS[0].pan,
    );

    // The cryptogram refused during the outage was never claimed: it sets
    // the PIN now, once.
    mb.set_pin(CARDS[1].contract, Some(KEY_INDEX), &request)
        .await
        .expect("204 after restart");
    assert_stored_pin(
        &cms.snapshot(),
        CARDS[1].contract,
        CARDS[1].pin,
        CARDS[1].pan,
    );
    let e = refused(
        ma.set_pin(CARDS[1].contract, Some(KEY_INDEX), &request)
            .await,
    );
    assert_reason(&e, Reason::ReplayedPinBlock, 400, false);
}
