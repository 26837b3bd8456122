//! Which clock measures what. Time-to-live checks (Enfuce controlIds and
//! tzpks, the Mastercard replay window) run on their own clock, a
//! `MonotonicClock` in production; audit times and error bodies use the
//! issuer's wall clock. A step of the wall clock must move neither TTL.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use pinset_envelope::{PinKey, RsaPadding, RsaPublicKey};
use pinset_flow::enfuce::SetPinRequest as EnfuceRequest;
use pinset_flow::{EnfuceSetPin, MastercardPanless, MemoryAudit, PinPolicy, Reason};
use pinset_keys::{ManualClock, PublicKeyForm, RsaKeyRing, Timestamp};

#[test]
fn the_replay_window_does_not_read_the_audit_clock() {
    let ttl = ManualClock::new(T0);
    let wall = ManualClock::new(T0);
    let audit = Arc::new(MemoryAudit::new());
    let issuer = issuer(sandbox_cms(), PinPolicy::default(), &audit, &wall);
    let ring = RsaKeyRing::with_clock(ttl.clone());
    pollster::block_on(ring.rotate(
        ring_key(issuer.module(), KEY_INDEX, &rsa2048()),
        Duration::ZERO,
    ))
    .unwrap();
    let flow = MastercardPanless::new(issuer, ring).with_replay_clock(ttl.clone());
    let published = pollster::block_on(flow.ring().publish(PublicKeyForm::DerHex)).unwrap();
    let cryptogram = RsaPublicKey::from_hex(&published.public_rsa_key)
        .unwrap()
        .seal(
            pinset_block::Format::Iso1,
            &pin("7580"),
            None,
            RsaPadding::OaepSha256,
            &mut rng(3),
        )
        .unwrap();
    let body = mp_request(&hex::encode_upper(cryptogram), EXPIRY, None);
    pollster::block_on(flow.set_pin("70001", Some(KEY_INDEX), &body)).unwrap();

    // A forward step of a day and more on the wall clock...
    wall.advance(Duration::from_secs(25 * 3600));
    let replay = pollster::block_on(flow.set_pin("70001", Some(KEY_INDEX), &body)).unwrap_err();
    // ...purges nothing: the replay is still refused,
    assert_eq!(replay.reason(), Reason::ReplayedPinBlock);
    // and the audit clock did stamp the event.
    assert_eq!(
        audit.events()[1].at,
        Timestamp::from_unix_secs(1_700_000_000 + 25 * 3600)
    );
}

#[test]
fn a_backward_wall_clock_step_does_not_stretch_a_control() {
    let ttl = ManualClock::new(T0);
    let wall = ManualClock::new(T0);
    let audit = Arc::new(MemoryAudit::new());
    let issuer = issuer(sandbox_cms(), PinPolicy::default(), &audit, &wall);
    let enfuce = Enfuce {
        flow: EnfuceSetPin::new(issuer, ttl.clone()),
        audit,
        clock: ttl.clone(),
        device_key: rsa3072(),
    };
    let control = enfuce.control("70001", SEQ);
    let tzpk = enfuce.tzpk(&control).unwrap();
    let block = PinKey::from(tzpk)
        .seal(pinset_block::Format::Iso1, &pin("7580"), None, &mut rng(4))
        .unwrap();
    // The wall clock steps back an hour while 30 s pass.
    wall.set(Timestamp::from_unix_secs(1_700_000_000 - 3600));
    ttl.advance(Duration::from_secs(30));
    let request = EnfuceRequest {
        control_id: control.as_str().into(),
        pin_block: base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            block.as_bytes(),
        ),
    };
    let err = pollster::block_on(enfuce.flow.set_pin(&request, "test")).unwrap_err();
    assert_eq!(err.reason(), Reason::ControlNotFound, "expired after 30 s");
    // The error body carries wall time, not the TTL clock's.
    let body = enfuce.flow.error_body(&err);
    assert_eq!(body.timestamp, "2023-11-14T21:13:20.000Z");
}
