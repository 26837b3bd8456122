//! The Mastercard flow refuses a cryptogram that already set a PIN.
//!
//! Vectors: Mastercard Processing sandbox card 70001 (PIN 7580), key index
//! A1564386531162 (shared/vectors/iso9564.json, `mastercard_sandbox`).

mod common;

use std::time::Duration;

use common::*;
use pinset_envelope::RsaPadding;
use pinset_flow::Reason;
use pinset_flow::mastercard::DEFAULT_REPLAY_WINDOW;

#[test]
fn a_replayed_cryptogram_is_refused_and_changes_nothing() {
    let mut mp = Mp::new();
    let body = mp_request(&mp.seal("7580", RsaPadding::OaepSha256), EXPIRY, None);
    assert_eq!(
        mp.set_pin("70001", Some(KEY_INDEX), &body)
            .unwrap()
            .http_status,
        204
    );
    let after_first = mp.snapshot();
    let e = mp.refuse(
        "70001",
        Some(KEY_INDEX),
        &body,
        Reason::ReplayedPinBlock,
        400,
        false,
    );
    assert_eq!(e.reason().code(), "PIN_BLOCK_REPLAYED");
    assert_eq!(mp.snapshot(), after_first);
    // A fresh cryptogram of the same PIN is an honest retry.
    let fresh = mp_request(&mp.seal("7580", RsaPadding::OaepSha256), EXPIRY, None);
    assert_eq!(
        mp.set_pin("70001", Some(KEY_INDEX), &fresh)
            .unwrap()
            .http_status,
        204
    );
}

#[test]
fn a_failed_set_pin_does_not_spend_the_cryptogram() {
    let mut mp = Mp::new();
    let body = mp_request(&mp.seal("7580", RsaPadding::OaepSha256), EXPIRY, None);
    mp.cms().fail_next_store();
    let e = mp.set_pin("70001", Some(KEY_INDEX), &body).unwrap_err();
    assert_eq!(e.reason(), Reason::IntegrationError);
    assert_eq!(
        mp.set_pin("70001", Some(KEY_INDEX), &body)
            .unwrap()
            .http_status,
        204
    );
}

#[test]
fn the_window_ends_and_can_be_turned_off() {
    let mut mp = Mp::new();
    let body = mp_request(&mp.seal("7580", RsaPadding::OaepSha256), EXPIRY, None);
    mp.set_pin("70001", Some(KEY_INDEX), &body).unwrap();
    mp.clock
        .advance(DEFAULT_REPLAY_WINDOW - Duration::from_millis(1));
    assert_eq!(
        mp.set_pin("70001", Some(KEY_INDEX), &body)
            .unwrap_err()
            .reason(),
        Reason::ReplayedPinBlock
    );
    mp.clock.advance(Duration::from_millis(1));
    // The ring's key lives on (no not-after), so only the window decides.
    assert_eq!(
        mp.set_pin("70001", Some(KEY_INDEX), &body)
            .unwrap()
            .http_status,
        204
    );

    let Mp {
        flow,
        audit,
        clock,
        device,
    } = Mp::new();
    let mut mp = Mp {
        flow: flow.with_replay_window(Duration::ZERO),
        audit,
        clock,
        device,
    };
    let body = mp_request(&mp.seal("7580", RsaPadding::OaepSha256), EXPIRY, None);
    mp.set_pin("70001", Some(KEY_INDEX), &body).unwrap();
    assert_eq!(
        mp.set_pin("70001", Some(KEY_INDEX), &body)
            .unwrap()
            .http_status,
        204
    );
}

#[test]
fn full_pan_blocks_are_deterministic_and_not_replay_checked() {
    let mut mp = MpConfig {
        shared_zpk: true,
        ..MpConfig::default()
    }
    .build();
    let body = mp_request(
        &mp.iso0_under_shared("7580", "5141576351968605"),
        EXPIRY,
        None,
    );
    mp.set_pin("70001", None, &body).unwrap();
    assert_eq!(mp.set_pin("70001", None, &body).unwrap().http_status, 204);
}
