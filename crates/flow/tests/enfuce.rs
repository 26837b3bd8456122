//! Enfuce Card PIN API v3 set PIN, end to end: controlId, tzpk wrapped for
//! the device's RSA key, the device's TDES-encrypted format 1 block, the
//! reference CMS and the audit.
//!
//! Vectors: the seed's example block `141234AAAAAAAAAA` (PIN 1234, ISO
//! format 1) and `auditUser` `test`, from `shared/seeds/enfuce-set-pin-v3.md`
//! ("Example flow"); the 30-second controlId and the tzpk wrap (RSA-OAEP
//! SHA-256) from `shared/README.md`. The card is Mastercard Processing
//! sandbox card 70001 and the CMS ZPK the sandbox ZPK, from
//! `shared/vectors/iso9564.json` (`mastercard_sandbox`). The device key is
//! `crates/envelope/tests/data/rsa3072.pem`.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::*;
use pinset_cms::{ContractState, PlasticStatus, ProductionStatus};
use pinset_flow::enfuce::{ControlOperation, SetPinRequest, SetPinResponse, TzpkRequest};
use pinset_flow::wire::EnfuceErrorBody;
use pinset_flow::{FlowError, Operation, PinPolicy, Reason};
use pinset_keys::ControlId;
use pinset_module::ErrorClass;

/// Card 70001's PAN (shared/vectors/iso9564.json).
const PAN_70001: &str = "5141576351968605";

/// Runs the seed's flow up to the encrypted block: control, tzpk, block.
fn prepared(enfuce: &Enfuce, clear_hex: &str) -> (ControlId, String) {
    let control = enfuce.control("70001", SEQ);
    let tzpk = enfuce.tzpk(&control).expect("tzpk");
    (control, encrypt_block(&tzpk, clear_hex))
}

/// Checks a refusal and that the CMS did not change.
fn refuse(
    enfuce: &Enfuce,
    control: &str,
    pin_block: &str,
    audit_user: &str,
    reason: Reason,
    status: u16,
) -> FlowError {
    let before = enfuce.snapshot();
    let events = enfuce.audit.events().len();
    let e = refused(enfuce.set_pin(control, pin_block, audit_user));
    assert_reason(&e, reason, status, reason.recoverable());
    assert_eq!(
        enfuce.snapshot(),
        before,
        "a refused set PIN changed the CMS"
    );
    let after = enfuce.audit.events();
    assert_eq!(after.len(), events + 1, "one audit event per attempt");
    assert_eq!(after[events].operation, Operation::EnfuceSetPin);
    assert_eq!(after[events].outcome, reason.code());
    e
}

#[test]
fn seed_example_flow_stores_pin_1234() {
    // shared/seeds/enfuce-set-pin-v3.md: block 141234AAAAAAAAAA, auditUser "test".
    let enfuce = Enfuce::new();
    let control = enfuce.control("70001", SEQ);
    // The controlId is a UUID, as in the seed's example.
    assert!(is_uuid(control.as_str()), "{control:?}");

    let response = enfuce
        .get_tzpk(
            control.as_str(),
            &enfuce.device_key.public_key().to_base64(),
        )
        .expect("tzpk");
    // Device: unwrap the tzpk with its private key (RSA-OAEP SHA-256).
    let wrapped = BASE64.decode(&response.tzpk).expect("base64");
    assert_eq!(wrapped.len(), 384, "RSA-3072 cryptogram");
    let tzpk = pinset_envelope::rsa::unwrap_tdes_key(
        &enfuce.device_key,
        pinset_envelope::RsaPadding::OaepSha256,
        &wrapped,
    )
    .expect("unwrap");
    assert_eq!(tzpk.len(), 16, "2-key TDES");
    assert!(
        tzpk.expose_bytes().iter().all(|b| b.count_ones() % 2 == 1),
        "odd DES parity"
    );
    assert_ne!(tzpk.expose_bytes()[..8], tzpk.expose_bytes()[8..]);

    // Device: DESede/ECB/NoPadding of the seed's block, base64.
    let pin_block = encrypt_block(&tzpk, ENFUCE_SEED_BLOCK);
    assert_eq!(BASE64.decode(&pin_block).expect("base64").len(), 8);

    // The control holds the tzpk until set_pin takes it.
    assert_eq!(enfuce.flow.pending_tzpks().expect("pending"), 1);
    let before = enfuce.snapshot();
    let done = enfuce
        .set_pin(control.as_str(), &pin_block, ENFUCE_AUDIT_USER)
        .expect("200");
    assert_eq!(done, SetPinResponse {});
    assert_eq!(enfuce.flow.pending_tzpks().expect("pending"), 0);
    assert_eq!(serde_json::to_string(&done).expect("json"), "{}");

    let after = enfuce.snapshot();
    assert_ne!(after, before);
    assert_stored_pin(&after, "70001", SEQ, ENFUCE_SEED_PIN, PAN_70001);
    assert_eq!(after.emv_scripts.len(), 1);
    let plastic = plastic_record(&after, "70001", SEQ).plastic;
    assert_eq!(plastic.status, PlasticStatus::Locked);
    assert!(plastic.ecommerce_enabled);
}

#[test]
fn each_sandbox_card_through_enfuce() {
    // shared/vectors/iso9564.json cards, each PIN as an ISO 1 block with A fill.
    let enfuce = Enfuce::new();
    for card in CARDS {
        let control = enfuce.control(card.contract, SEQ);
        let tzpk = enfuce.tzpk(&control).expect("tzpk");
        let clear = format!("14{}AAAAAAAAAA", card.pin);
        enfuce
            .set_pin(
                control.as_str(),
                &encrypt_block(&tzpk, &clear),
                ENFUCE_AUDIT_USER,
            )
            .unwrap_or_else(|e| panic!("{}: {e:?}", card.contract));
        assert_stored_pin(&enfuce.snapshot(), card.contract, SEQ, card.pin, card.pan);
    }
}

#[test]
fn replay_is_404() {
    let enfuce = Enfuce::new();
    let (control, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    enfuce
        .set_pin(control.as_str(), &block, ENFUCE_AUDIT_USER)
        .expect("first");
    let e = refuse(
        &enfuce,
        control.as_str(),
        &block,
        ENFUCE_AUDIT_USER,
        Reason::ControlNotFound,
        404,
    );
    assert_eq!(e.reason().code(), "CONTROL_ID_NOT_FOUND");
    // And a tzpk for the spent control is refused too.
    assert_reason(
        &refused(enfuce.tzpk(&control)),
        Reason::ControlNotFound,
        404,
        false,
    );
}

#[test]
fn expired_control_is_404_for_tzpk_and_set_pin() {
    // shared/README.md: a controlId is valid for 30 seconds.
    let enfuce = Enfuce::new();

    // get_tzpk after 30 s.
    let control = enfuce.control("70001", SEQ);
    enfuce.clock.advance(Duration::from_secs(30));
    assert_reason(
        &refused(enfuce.tzpk(&control)),
        Reason::ControlNotFound,
        404,
        false,
    );

    // set_pin after 30 s, with a tzpk fetched in time.
    let (control, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    enfuce.clock.advance(Duration::from_secs(30));
    refuse(
        &enfuce,
        control.as_str(),
        &block,
        ENFUCE_AUDIT_USER,
        Reason::ControlNotFound,
        404,
    );
}

#[test]
fn control_is_good_until_the_last_millisecond() {
    let enfuce = Enfuce::new();
    let (control, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    enfuce.clock.advance(Duration::from_millis(29_999));
    enfuce
        .set_pin(control.as_str(), &block, ENFUCE_AUDIT_USER)
        .expect("still valid");
    assert_stored_pin(&enfuce.snapshot(), "70001", SEQ, ENFUCE_SEED_PIN, PAN_70001);
}

#[test]
fn set_pin_without_tzpk_is_404_and_spends_the_control() {
    let enfuce = Enfuce::new();
    let control = enfuce.control("70001", SEQ);
    // A block under some key the issuer never issued.
    let stray = encrypt_block(&shared_zpk(), ENFUCE_SEED_BLOCK);
    refuse(
        &enfuce,
        control.as_str(),
        &stray,
        ENFUCE_AUDIT_USER,
        Reason::ControlNotFound,
        404,
    );
    assert_reason(
        &refused(enfuce.tzpk(&control)),
        Reason::ControlNotFound,
        404,
        false,
    );
}

#[test]
fn failed_set_pin_spends_the_control() {
    let enfuce = Enfuce::new();
    let bad_blocks = [
        // Format 2 of PIN 1234 (F fill): not format 1.
        "241234FFFFFFFFFF",
        // Format 0 style control nibble.
        "041234FFFFFFFFFF",
        // Format 1 with a length nibble of 3.
        "13123AAAAAAAAAAA",
        // Format 1 with a non-decimal PIN digit.
        "14123AAAAAAAAAAA",
        // Random bytes with control nibble 9.
        "9F3C5107E2846BD0",
    ];
    let mut bodies = Vec::new();
    for clear in bad_blocks {
        let control = enfuce.control("70001", SEQ);
        let tzpk = enfuce.tzpk(&control).expect("tzpk");
        let e = refuse(
            &enfuce,
            control.as_str(),
            &encrypt_block(&tzpk, clear),
            ENFUCE_AUDIT_USER,
            Reason::InvalidPinBlock,
            400,
        );
        assert_eq!(e.reason().enfuce_error_type(), "DYNAMIC_VALIDATION_ERROR");
        assert_eq!(module_class(&e), Some(ErrorClass::Undecryptable), "{e:?}");
        let body = enfuce.flow.error_body(&e);
        bodies.push((body.code, body.error_code, body.error_type, body.message));
        // The retry with the right block finds the control spent.
        refuse(
            &enfuce,
            control.as_str(),
            &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK),
            ENFUCE_AUDIT_USER,
            Reason::ControlNotFound,
            404,
        );
    }
    // Same outward body (apart from id and timestamp) whatever the cause.
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));

    // Wrong block sizes: 7 and 16 bytes.
    for len in [7, 16] {
        let control = enfuce.control("70001", SEQ);
        enfuce.tzpk(&control).expect("tzpk");
        refuse(
            &enfuce,
            control.as_str(),
            &BASE64.encode(vec![0x5A; len]),
            ENFUCE_AUDIT_USER,
            Reason::InvalidPinBlock,
            400,
        );
    }
}

#[test]
fn bad_base64_is_400() {
    let enfuce = Enfuce::new();
    let (control, _) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    let long = "A".repeat(68);
    for bad in [
        "not base64!",
        "tACuB41yyfU",
        "tACuB41yyfU=!",
        "====",
        " tACuB41yyfU=",
        long.as_str(),
    ] {
        let e = refuse(
            &enfuce,
            control.as_str(),
            bad,
            ENFUCE_AUDIT_USER,
            Reason::RequestValidation,
            400,
        );
        assert_eq!(
            enfuce.flow.error_body(&e).error_type,
            "STATIC_VALIDATION_ERROR"
        );
    }
}

#[test]
fn bad_audit_user_is_400() {
    let enfuce = Enfuce::new();
    let (control, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    let long = "u".repeat(65);
    for bad in ["", " ", "a b", " test", "test\n", "tést", long.as_str()] {
        refuse(
            &enfuce,
            control.as_str(),
            &block,
            bad,
            Reason::RequestValidation,
            400,
        );
    }
}

#[test]
fn unknown_or_malformed_control_id() {
    let enfuce = Enfuce::new();
    let (_, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    // The seed's example controlId, never issued here.
    refuse(
        &enfuce,
        "83fa5f55-3dd7-453a-8233-4242a6bad179",
        &block,
        ENFUCE_AUDIT_USER,
        Reason::ControlNotFound,
        404,
    );
    let long = "c".repeat(65);
    for bad in ["", "83fa5f55_3dd7", "83fa5f55 3dd7", long.as_str()] {
        refuse(
            &enfuce,
            bad,
            &block,
            ENFUCE_AUDIT_USER,
            Reason::RequestValidation,
            400,
        );
    }
    let e = refused(pollster::block_on(enfuce.flow.get_tzpk(&TzpkRequest {
        control_id: "83fa5f55-3dd7-453a-8233-4242a6bad179".into(),
        public_key: enfuce.device_key.public_key().to_base64(),
    })));
    assert_reason(&e, Reason::ControlNotFound, 404, false);
}

#[test]
fn tzpk_needs_a_good_device_key() {
    let enfuce = Enfuce::new();
    let control = enfuce.control("70001", SEQ);
    // crates/envelope/tests/data/rsa1024_pub_spki.pem: too small.
    let small: String = include_str!("../../envelope/tests/data/rsa1024_pub_spki.pem")
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let pem = enfuce.device_key.public_key().to_pem();
    for bad in [
        "",
        "not a key",
        "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
        &small,
    ] {
        let e = refused(pollster::block_on(enfuce.flow.get_tzpk(&TzpkRequest {
            control_id: control.as_str().into(),
            public_key: bad.into(),
        })));
        assert_reason(&e, Reason::RequestValidation, 400, false);
    }
    // PEM markers are not the seed's form either.
    let e = refused(pollster::block_on(enfuce.flow.get_tzpk(&TzpkRequest {
        control_id: control.as_str().into(),
        public_key: pem,
    })));
    assert_reason(&e, Reason::RequestValidation, 400, false);
    // None of that spent the control.
    enfuce.tzpk(&control).expect("good key");
    // A second tzpk for the same control is refused.
    assert_reason(
        &refused(enfuce.tzpk(&control)),
        Reason::ControlNotFound,
        404,
        false,
    );
}

#[test]
fn issue_control_checks_the_card() {
    let cms = sandbox_cms();
    let id = contract("80001");
    cms.add_contract(id, pan(PAN_70001), ContractState::OPEN);
    cms.add_plastic(
        id,
        seq("1"),
        "2812".parse().expect("expiry"),
        PlasticStatus::Blocked,
    );
    let enfuce = Enfuce::with(cms, PinPolicy::default());
    let issue = |c: &str, s: &str| {
        pollster::block_on(
            enfuce
                .flow
                .issue_control(contract(c), seq(s), ControlOperation::SetPin),
        )
    };
    assert_reason(
        &refused(issue("99999", "1")),
        Reason::CardContractDoesNotExist,
        404,
        false,
    );
    assert_reason(
        &refused(issue("70001", "2")),
        Reason::NoMatchingPlastic,
        404,
        false,
    );
    assert_reason(
        &refused(issue("80001", "1")),
        Reason::OperationDenied,
        403,
        false,
    );
    enfuce.cms().set_contract_state(
        contract("70002"),
        ContractState {
            status_code: *b"00",
            production: ProductionStatus::Marked,
        },
    );
    let e = refused(issue("70002", "1"));
    assert_reason(&e, Reason::OperationDenied, 403, false);
    assert_eq!(enfuce.flow.error_body(&e).error_type, "SECURITY_ERROR");
    assert!(
        enfuce
            .audit
            .events()
            .iter()
            .all(|e| e.operation == Operation::EnfuceIssueControl && e.outcome != "OK")
    );
}

#[test]
fn card_blocked_after_control_is_403() {
    let enfuce = Enfuce::new();
    let (control, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    enfuce.cms().set_contract_state(
        contract("70001"),
        ContractState {
            status_code: *b"05",
            production: ProductionStatus::Ready,
        },
    );
    refuse(
        &enfuce,
        control.as_str(),
        &block,
        ENFUCE_AUDIT_USER,
        Reason::OperationDenied,
        403,
    );
    // The CMS is read before the module translates: on a blocked card even
    // an unreadable block is 403, and costs no PIN translation.
    let control = enfuce.control("70002", SEQ);
    let tzpk = enfuce.tzpk(&control).expect("tzpk");
    enfuce.cms().set_contract_state(
        contract("70002"),
        ContractState {
            status_code: *b"05",
            production: ProductionStatus::Ready,
        },
    );
    refuse(
        &enfuce,
        control.as_str(),
        &encrypt_block(&tzpk, "241234FFFFFFFFFF"),
        ENFUCE_AUDIT_USER,
        Reason::OperationDenied,
        403,
    );
    assert_eq!(enfuce.flow.pending_tzpks().expect("pending"), 0);
}

#[test]
fn pin_policy_applies() {
    let enfuce = Enfuce::with(
        sandbox_cms(),
        PinPolicy::default().rejecting_weak_pins(true),
    );
    // The seed's own PIN 1234 is an ascending run.
    let (control, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    let e = refuse(
        &enfuce,
        control.as_str(),
        &block,
        ENFUCE_AUDIT_USER,
        Reason::PinPolicy,
        400,
    );
    assert_eq!(
        enfuce.flow.error_body(&e).error_code,
        "PIN_POLICY_VIOLATION"
    );
    // Sandbox card 70001's PIN passes.
    let (control, block) = prepared(&enfuce, "147580AAAAAAAAAA");
    enfuce
        .set_pin(control.as_str(), &block, ENFUCE_AUDIT_USER)
        .expect("strong PIN");
    assert_stored_pin(&enfuce.snapshot(), "70001", SEQ, "7580", PAN_70001);
}

#[test]
fn cms_failure_is_500_integration_error() {
    let enfuce = Enfuce::new();
    let (control, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    enfuce.cms().fail_next_store();
    let e = refuse(
        &enfuce,
        control.as_str(),
        &block,
        ENFUCE_AUDIT_USER,
        Reason::IntegrationError,
        500,
    );
    assert!(e.reason().recoverable());
    let body = enfuce.flow.error_body(&e);
    assert_eq!(body.code, "500");
    assert_eq!(body.error_type, "INTEGRATION_ERROR");
    assert!(
        plastic_record(&enfuce.snapshot(), "70001", SEQ)
            .pin
            .is_none()
    );
    // The control was spent: the client starts again from a new one.
    refuse(
        &enfuce,
        control.as_str(),
        &block,
        ENFUCE_AUDIT_USER,
        Reason::ControlNotFound,
        404,
    );
    let (control, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    enfuce
        .set_pin(control.as_str(), &block, ENFUCE_AUDIT_USER)
        .expect("fresh control");
    assert_stored_pin(&enfuce.snapshot(), "70001", SEQ, ENFUCE_SEED_PIN, PAN_70001);
}

#[test]
fn error_body_has_exactly_the_seed_keys() {
    // shared/seeds/enfuce-set-pin-v3.md: errorResponse.
    const ALLOWED: [&str; 5] = [
        "STATIC_VALIDATION_ERROR",
        "DYNAMIC_VALIDATION_ERROR",
        "INTEGRATION_ERROR",
        "SECURITY_ERROR",
        "UNEXPECTED_ERROR",
    ];
    let enfuce = Enfuce::new();
    enfuce.clock.advance(Duration::from_millis(4_321));
    let (control, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
    let mut errors = vec![
        refused(enfuce.set_pin(control.as_str(), "%%%", ENFUCE_AUDIT_USER)),
        refused(enfuce.set_pin(control.as_str(), &block, "")),
        refused(enfuce.set_pin("83fa5f55-3dd7-453a-8233-4242a6bad179", &block, "test")),
    ];
    enfuce.cms().fail_next_store();
    errors.push(refused(enfuce.set_pin(
        control.as_str(),
        &block,
        ENFUCE_AUDIT_USER,
    )));
    let (control, block) = prepared(&enfuce, "241234FFFFFFFFFF");
    errors.push(refused(enfuce.set_pin(
        control.as_str(),
        &block,
        ENFUCE_AUDIT_USER,
    )));

    let mut ids = Vec::new();
    for e in &errors {
        let body = enfuce.flow.error_body(e);
        let json = body.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let object = value.as_object().expect("object");
        let mut keys: Vec<_> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "code",
                "errorCode",
                "errorReason",
                "errorType",
                "id",
                "message",
                "timestamp"
            ],
            "{json}"
        );
        assert!(object.values().all(serde_json::Value::is_string), "{json}");
        assert_eq!(object["code"], e.http_status().to_string());
        assert_eq!(object["errorCode"], e.reason().code());
        let error_type = object["errorType"].as_str().expect("string");
        assert!(ALLOWED.contains(&error_type), "{error_type}");
        let id = object["id"].as_str().expect("string");
        assert!(is_uuid(id), "{id}");
        ids.push(id.to_owned());
        assert_eq!(object["timestamp"], "2023-11-14T22:13:24.321Z");
        let typed: EnfuceErrorBody = serde_json::from_str(&json).expect("typed");
        assert_eq!(typed, body);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), errors.len(), "error ids are unique");
    let types: Vec<_> = errors
        .iter()
        .map(|e| e.reason().enfuce_error_type())
        .collect();
    assert_eq!(
        types,
        [
            "STATIC_VALIDATION_ERROR",
            "STATIC_VALIDATION_ERROR",
            "DYNAMIC_VALIDATION_ERROR",
            "INTEGRATION_ERROR",
            "DYNAMIC_VALIDATION_ERROR"
        ]
    );
}

#[test]
fn concurrent_set_pin_with_one_control_succeeds_once() {
    let enfuce = Enfuce::new();
    for _ in 0..8 {
        let (control, block) = prepared(&enfuce, ENFUCE_SEED_BLOCK);
        let scripts = enfuce.snapshot().emv_scripts.len();
        let request = SetPinRequest {
            control_id: control.as_str().to_owned(),
            pin_block: block,
        };
        let barrier = std::sync::Barrier::new(2);
        let results = std::thread::scope(|s| {
            let run = || {
                barrier.wait();
                pollster::block_on(enfuce.flow.set_pin(&request, ENFUCE_AUDIT_USER))
            };
            let a = s.spawn(run);
            let b = s.spawn(run);
            [a.join().expect("thread"), b.join().expect("thread")]
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        let e = results
            .into_iter()
            .find_map(Result::err)
            .expect("one refusal");
        assert_reason(&e, Reason::ControlNotFound, 404, false);
        assert_eq!(enfuce.snapshot().emv_scripts.len(), scripts + 1);
    }
}

#[test]
fn audit_events_for_each_step() {
    // Seed example flow, auditUser "test", sandbox card 70001.
    let enfuce = Enfuce::new();
    let control = enfuce.control("70001", SEQ);
    enfuce.clock.advance(Duration::from_secs(2));
    let tzpk = enfuce.tzpk(&control).expect("tzpk");
    enfuce.clock.advance(Duration::from_secs(3));
    enfuce
        .set_pin(
            control.as_str(),
            &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK),
            ENFUCE_AUDIT_USER,
        )
        .expect("set");
    let _ = enfuce.set_pin(
        control.as_str(),
        &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK),
        "ops-user",
    );
    let _ = enfuce.set_pin(control.as_str(), "AAAA", "bad user");

    let events = enfuce.audit.events();
    let operations: Vec<_> = events.iter().map(|e| e.operation).collect();
    assert_eq!(
        operations,
        [
            Operation::EnfuceIssueControl,
            Operation::EnfuceGetTzpk,
            Operation::EnfuceSetPin,
            Operation::EnfuceSetPin,
            Operation::EnfuceSetPin
        ]
    );
    let ms = |s: u64| pinset_keys::Timestamp::from_unix_millis(T0.as_unix_millis() + s * 1000);
    let masked = |e: &pinset_flow::AuditEvent| e.masked_pan.map(|p| p.as_str().to_owned());

    // The controlId is a bearer value for 30 s: events hold its first 8 characters only.
    let logged = format!("{}…", &control.as_str()[..8]);
    for event in &events[..4] {
        assert_eq!(event.control.as_deref(), Some(logged.as_str()));
        assert_eq!(event.key_index, None);
        assert!(!format!("{event:?}").contains(control.as_str()));
    }
    let issue = &events[0];
    assert_eq!(issue.at, ms(0));
    assert_eq!(issue.contract, Some(contract("70001")));
    assert_eq!(issue.plastic, Some(seq(SEQ)));
    assert_eq!(masked(issue).as_deref(), Some("514157******8605"));
    assert_eq!(issue.outcome, "OK");

    let tzpk_event = &events[1];
    assert_eq!(tzpk_event.at, ms(2));
    assert_eq!(tzpk_event.contract, Some(contract("70001")));
    assert_eq!(tzpk_event.plastic, Some(seq(SEQ)));
    assert_eq!(tzpk_event.outcome, "OK");

    let set = &events[2];
    assert_eq!(set.at, ms(5));
    assert_eq!(set.audit_user.as_deref(), Some("test"));
    assert_eq!(set.contract, Some(contract("70001")));
    assert_eq!(set.plastic, Some(seq(SEQ)));
    assert_eq!(masked(set).as_deref(), Some("514157******8605"));
    assert_eq!(set.outcome, "OK");

    let replay = &events[3];
    assert_eq!(replay.audit_user.as_deref(), Some("ops-user"));
    assert_eq!(replay.outcome, "CONTROL_ID_NOT_FOUND");

    let bad_user = &events[4];
    assert_eq!(
        bad_user.audit_user, None,
        "a refused auditUser is not recorded"
    );
    assert_eq!(bad_user.outcome, "REQUEST_VALIDATION");
}

#[test]
fn request_dtos_use_the_seed_field_names() {
    let request: SetPinRequest = serde_json::from_str(
        r#"{"controlId":"83fa5f55-3dd7-453a-8233-4242a6bad179","pinBlock":"tACuB41yyfU="}"#,
    )
    .expect("seed example body");
    assert_eq!(request.control_id, "83fa5f55-3dd7-453a-8233-4242a6bad179");
    assert_eq!(request.pin_block, "tACuB41yyfU=");
    let tzpk: TzpkRequest =
        serde_json::from_str(r#"{"controlId":"c-1","publicKey":"MIIB"}"#).expect("tzpk body");
    assert_eq!(tzpk.public_key, "MIIB");
    assert!(serde_json::from_str::<SetPinRequest>(r#"{"controlId":"c-1"}"#).is_err());
}
