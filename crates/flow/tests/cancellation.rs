//! A set PIN whose future is dropped mid-flight (the client went away, a
//! server timeout fired) is still audited, and its replay claim fails
//! closed: the PIN may have been stored, so the same cryptogram stays spent.
//!
//! The CMS here commits the PIN and then yields once, as a remote CMS does
//! when the response is still on the wire: the test polls `set_pin` once,
//! sees it pending after the commit, and drops it.

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::*;
use pinset_block::Pan;
use pinset_cms::{
    CardContractId, CardManagement, CardPlastic, CmsError, ContractState, MemoryCms, StorePin,
    StorePinOutcome,
};
use pinset_envelope::{RsaPadding, RsaPublicKey};
use pinset_flow::{AuditEvent, MastercardPanless, MemoryAudit, Operation, PinPolicy, Reason};
use pinset_keys::{ManualClock, PublicKeyForm, RsaKeyRing};

/// The reference CMS, except that `store_pin` commits and then returns
/// `Pending` once (while `yield_after_commit` is set).
struct CommitThenYield {
    inner: MemoryCms,
    yield_after_commit: AtomicBool,
}

/// Pending on its first poll, ready on the second.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl CardManagement for CommitThenYield {
    fn pan(&self, c: CardContractId) -> impl Future<Output = Result<Pan, CmsError>> + Send {
        self.inner.pan(c)
    }
    fn contract_state(
        &self,
        c: CardContractId,
    ) -> impl Future<Output = Result<ContractState, CmsError>> + Send {
        self.inner.contract_state(c)
    }
    fn plastics(
        &self,
        c: CardContractId,
    ) -> impl Future<Output = Result<Vec<CardPlastic>, CmsError>> + Send {
        self.inner.plastics(c)
    }
    async fn store_pin(&self, request: StorePin) -> Result<StorePinOutcome, CmsError> {
        let outcome = self.inner.store_pin(request).await;
        if self.yield_after_commit.load(Ordering::SeqCst) {
            YieldOnce(false).await;
        }
        outcome
    }
}

type Flow = MastercardPanless<
    CommitThenYield,
    pinset_keys::MemoryKeyStore,
    ManualClock,
    pinset_module::SoftwareModule,
    pinset_flow::MemoryReplayStore<ManualClock>,
>;

fn flow() -> (Flow, Arc<MemoryAudit>, ManualClock) {
    let clock = ManualClock::new(T0);
    let audit = Arc::new(MemoryAudit::new());
    let cms = CommitThenYield {
        inner: sandbox_cms(),
        yield_after_commit: AtomicBool::new(true),
    };
    let issuer = issuer(cms, PinPolicy::default(), &audit, &clock);
    // rsa2048.pem goes into the issuer's module; the ring holds its handle.
    let ring = RsaKeyRing::with_clock(clock.clone());
    pollster::block_on(ring.rotate(
        ring_key(issuer.module(), KEY_INDEX, &rsa2048()),
        Duration::ZERO,
    ))
    .unwrap();
    let flow = MastercardPanless::new(issuer, ring).with_replay_clock(clock.clone());
    (flow, audit, clock)
}

/// A device's cryptogram; each seed gives a different (randomised) one.
fn seal(flow: &Flow, pin_digits: &str, seed: u64) -> String {
    let published = pollster::block_on(flow.ring().publish(PublicKeyForm::DerHex)).unwrap();
    let key = RsaPublicKey::from_hex(&published.public_rsa_key).unwrap();
    let cryptogram = key
        .seal(
            pinset_block::Format::Iso1,
            &pin(pin_digits),
            None,
            RsaPadding::OaepSha256,
            &mut rng(seed),
        )
        .unwrap();
    hex::encode_upper(cryptogram)
}

#[test]
fn a_set_pin_dropped_after_the_cms_commit_is_audited_and_keeps_its_claim() {
    let (flow, audit, _) = flow();
    let body = mp_request(&seal(&flow, "7580", 3), EXPIRY, None);

    {
        let mut future = pin!(flow.set_pin("70001", Some(KEY_INDEX), &body));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        // The CMS has committed; the caller now goes away.
    }
    let stored = flow.issuer().cms().inner.snapshot();
    assert!(
        stored.contracts[&contract("70001")].plastics[0]
            .pin
            .is_some(),
        "the CMS committed before the drop"
    );

    let events = audit.events();
    assert_eq!(
        events.len(),
        1,
        "the dropped attempt is audited exactly once"
    );
    let event = &events[0];
    assert_eq!(event.operation, Operation::MastercardSetPin);
    assert_eq!(event.outcome, AuditEvent::CANCELLED);
    assert_eq!(event.contract, Some(contract("70001")));
    assert_eq!(
        event.key_index.as_ref().map(|k| k.as_str()),
        Some(KEY_INDEX)
    );
    assert_eq!(
        event.masked_pan.map(|p| p.as_str().to_owned()).as_deref(),
        Some("514157******8605")
    );

    // The cryptogram stays spent: a captured copy cannot set the PIN again.
    flow.issuer()
        .cms()
        .yield_after_commit
        .store(false, Ordering::SeqCst);
    let replay = pollster::block_on(flow.set_pin("70001", Some(KEY_INDEX), &body)).unwrap_err();
    assert_eq!(replay.reason(), Reason::ReplayedPinBlock);
    // The honest retry re-seals, as RSA devices do, and succeeds.
    let fresh = mp_request(&seal(&flow, "7580", 4), EXPIRY, None);
    let retry = pollster::block_on(flow.set_pin("70001", Some(KEY_INDEX), &fresh)).unwrap();
    assert_eq!(retry.http_status, 204);
    let outcomes: Vec<_> = audit.events().iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        [AuditEvent::CANCELLED, "PIN_BLOCK_REPLAYED", AuditEvent::OK]
    );
}

#[test]
fn a_cms_error_gives_the_claim_back() {
    // The CMS refuses to store (all or nothing): nothing happened, so the
    // same cryptogram may be sent again.
    let (flow, _, _) = flow();
    flow.issuer()
        .cms()
        .yield_after_commit
        .store(false, Ordering::SeqCst);
    let body = mp_request(&seal(&flow, "7580", 3), EXPIRY, None);
    flow.issuer().cms().inner.fail_next_store();
    let failed = pollster::block_on(flow.set_pin("70001", Some(KEY_INDEX), &body)).unwrap_err();
    assert_eq!(failed.reason(), Reason::IntegrationError);
    let retry = pollster::block_on(flow.set_pin("70001", Some(KEY_INDEX), &body)).unwrap();
    assert_eq!(retry.http_status, 204);
}

#[test]
fn a_future_never_polled_did_nothing_and_records_nothing() {
    // An attempt starts at its first poll: before that no CMS read, no RSA
    // operation, no claim, so there is nothing to audit.
    let (flow, audit, _) = flow();
    let body = mp_request(&seal(&flow, "7580", 3), EXPIRY, None);
    drop(flow.set_pin("70001", Some(KEY_INDEX), &body));
    assert!(audit.events().is_empty());
    assert!(
        flow.issuer().cms().inner.snapshot().contracts[&contract("70001")].plastics[0]
            .pin
            .is_none()
    );
    // Nor was the cryptogram claimed.
    flow.issuer()
        .cms()
        .yield_after_commit
        .store(false, Ordering::SeqCst);
    let done = pollster::block_on(flow.set_pin("70001", Some(KEY_INDEX), &body)).unwrap();
    assert_eq!(done.http_status, 204);
}
