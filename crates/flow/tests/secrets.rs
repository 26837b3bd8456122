//! Nothing the flows print leaks a secret.
//!
//! Both flows run through success and many refusals; everything printable
//! (Debug and Display of every error and its whole source chain, both
//! seeds' error bodies, audit events, CMS snapshots, responses, key stores)
//! goes into one string, which must hold no PIN, clear PIN block, full PAN,
//! zone key, tzpk or RSA private key line.
//!
//! Vectors: Mastercard Processing sandbox cards, key index and ZPK from
//! `shared/vectors/iso9564.json` (`mastercard_sandbox`); the Enfuce seed
//! block `141234AAAAAAAAAA` from `shared/seeds/enfuce-set-pin-v3.md`; RSA
//! keys from `crates/envelope/tests/data/`.
//!
//! The sandbox PINs have 4 digits, which hex and timestamps can hold by
//! chance, so they are checked as standalone tokens only. The substring
//! checks use 10 to 12 digit PINs that cannot appear by chance, and the
//! clear blocks' hex.

mod common;

use std::error::Error as _;
use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::*;
use pinset_block::{Format, iso0, iso1};
use pinset_cms::{ContractState, ProductionStatus};
use pinset_envelope::{RsaPadding, TdesKey};
use pinset_flow::enfuce::{ControlOperation, TzpkRequest};
use pinset_flow::{FlowError, PinPolicy};
use pinset_keys::PublicKeyForm;

/// Distinctive PINs: long enough never to turn up by chance.
const LONG_PINS: [&str; 5] = [
    "739160528417",
    "604182735591",
    "8357209146",
    "526190738405",
    "930481726354",
];
/// For the policy refusal: the weak rules reject it.
const WEAK_LONG_PIN: &str = "345678901234";

#[derive(Default)]
struct Printed(String);

impl Printed {
    fn add(&mut self, label: &str, value: &dyn std::fmt::Debug) {
        let _ = writeln!(self.0, "{label}: {value:?}");
    }

    /// Everything a service could print about a refusal.
    fn error(&mut self, e: &FlowError) {
        let _ = writeln!(self.0, "{e}");
        let _ = writeln!(self.0, "{e:?}");
        let _ = writeln!(self.0, "{e:#?}");
        let _ = writeln!(self.0, "{:?} {}", e.reason(), e.reason().code());
        let _ = writeln!(self.0, "{} / {:?}", e.detail(), e.detail());
        let mut source: Option<&dyn std::error::Error> = e.source();
        while let Some(s) = source {
            let _ = writeln!(self.0, "source: {s} / {s:?}");
            source = s.source();
        }
        let body = pinset_flow::wire::MastercardErrorBody::new(e);
        let _ = writeln!(self.0, "{} {body:?}", body.to_json());
    }

    fn result<T: std::fmt::Debug>(&mut self, label: &str, r: Result<T, FlowError>) {
        match r {
            Ok(v) => self.add(label, &v),
            Err(e) => self.error(&e),
        }
    }
}

/// True if `needle` occurs in `haystack` with no ASCII letter or digit on either side.
fn has_token(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

fn iso1_clear(pin_digits: &str, fill: u64) -> [u8; 8] {
    *iso1::encode_with_fill(&pin(pin_digits), fill).expose_bytes()
}

#[test]
fn nothing_printable_holds_a_secret() {
    let mut out = Printed::default();
    // Secrets that must not be printed as substrings (upper and lower case).
    let mut secret_hex: Vec<String> = vec![
        ZPK_HEX.into(),
        SHARED_ZPK_HEX.into(),
        ENFUCE_SEED_BLOCK.into(),
    ];

    // ------------------------------------------------------------ Mastercard Processing
    let mut mp = MpConfig {
        shared_zpk: true,
        policy: PinPolicy::default().rejecting_weak_pins(true),
        ..MpConfig::default()
    }
    .build();
    out.add(
        "public key",
        &pollster::block_on(mp.flow.public_keys("PIN_BLOCK")),
    );

    // Success for each sandbox card with a distinctive PIN, then with its sandbox PIN.
    for (card, long_pin) in CARDS.iter().zip(LONG_PINS) {
        let clear = iso1_clear(long_pin, 0xA5A5_A5A5_A5A5);
        secret_hex.push(hex::encode_upper(clear));
        secret_hex.push(hex::encode_upper(
            iso0::encode(&pin(long_pin), &pan(card.pan)).expose_bytes(),
        ));
        let block = mp.seal_raw(&clear, RsaPadding::OaepSha256);
        out.result(
            "mp ok",
            mp.set_pin(
                card.contract,
                Some(KEY_INDEX),
                &mp_request(&block, EXPIRY, None),
            ),
        );
        secret_hex.push(hex::encode_upper(
            iso0::encode(&pin(card.pin), &pan(card.pan)).expose_bytes(),
        ));
        let block = mp.seal(card.pin, RsaPadding::OaepSha256);
        out.result(
            "mp ok",
            mp.set_pin(
                card.contract,
                Some(KEY_INDEX),
                &mp_request(&block, EXPIRY, Some(SEQ)),
            ),
        );
    }
    out.add("cms after successes", &mp.snapshot());

    // Refusals, each carrying a cryptogram of a secret PIN.
    let secret_block = mp.seal(LONG_PINS[0], RsaPadding::OaepSha256);
    let body = mp_request(&secret_block, EXPIRY, None);
    for contract_id in ["abc", "0", "99999"] {
        out.result("mp", mp.set_pin(contract_id, Some(KEY_INDEX), &body));
    }
    out.result("mp", mp.set_pin("70001", Some("B0000000000001"), &body));
    out.result("mp", mp.set_pin("70001", Some("bad index!"), &body));
    out.result(
        "mp",
        mp.set_pin(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&secret_block, "2813", None),
        ),
    );
    out.result(
        "mp",
        mp.set_pin(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&secret_block, EXPIRY, Some("1234")),
        ),
    );
    out.result(
        "mp",
        mp.set_pin(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&secret_block, "2612", None),
        ),
    );
    out.result(
        "mp",
        mp.set_pin(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&secret_block[2..], EXPIRY, None),
        ),
    );
    out.result(
        "mp",
        mp.set_pin("70001", Some(KEY_INDEX), &mp_request("ZZ", EXPIRY, None)),
    );
    let wrong_padding = mp.seal(LONG_PINS[1], RsaPadding::Pkcs1v15);
    out.result(
        "mp",
        mp.set_pin(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&wrong_padding, EXPIRY, None),
        ),
    );
    let format2 = mp.seal_format(Format::Iso2, LONG_PINS[2], None, RsaPadding::OaepSha256);
    out.result(
        "mp",
        mp.set_pin(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&format2, EXPIRY, None),
        ),
    );
    let format0 = mp.seal_format(
        Format::Iso0,
        LONG_PINS[3],
        Some(&pan(CARDS[0].pan)),
        RsaPadding::OaepSha256,
    );
    out.result(
        "mp",
        mp.set_pin(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&format0, EXPIRY, None),
        ),
    );
    let weak = mp.seal(WEAK_LONG_PIN, RsaPadding::OaepSha256);
    out.result(
        "mp policy",
        mp.set_pin("70001", Some(KEY_INDEX), &mp_request(&weak, EXPIRY, None)),
    );
    mp.cms().fail_next_store();
    out.result("mp cms down", mp.set_pin("70001", Some(KEY_INDEX), &body));
    mp.cms().set_contract_state(
        contract("70002"),
        ContractState {
            status_code: *b"00",
            production: ProductionStatus::Marked,
        },
    );
    out.result("mp marked", mp.set_pin("70002", Some(KEY_INDEX), &body));

    // Full PAN: success, wrong PAN, and the shared-ZPK path's own errors.
    let full_pan = mp.iso0_under_shared(LONG_PINS[4], CARDS[4].pan);
    out.result(
        "mp full PAN",
        mp.set_pin("70005", None, &mp_request(&full_pan, EXPIRY, None)),
    );
    let other_pan = mp.iso0_under_shared(LONG_PINS[4], CARDS[0].pan);
    out.result(
        "mp full PAN",
        mp.set_pin("70005", None, &mp_request(&other_pan, EXPIRY, None)),
    );

    // Rotation, grace, retirement.
    pollster::block_on(
        mp.flow
            .ring()
            .rotate(mp.new_key("K2", &rsa3072()), Duration::from_secs(60)),
    )
    .expect("rotate");
    mp.clock.advance(Duration::from_secs(61));
    out.result("mp retired", mp.set_pin("70001", Some(KEY_INDEX), &body));
    out.result(
        "public key K2",
        pollster::block_on(mp.flow.public_keys("PIN_BLOCK")),
    );
    out.result(
        "public key bad",
        pollster::block_on(mp.flow.public_keys("CVC")),
    );

    out.add("mp audit", &mp.audit.events());
    out.add("mp cms", &mp.snapshot());
    out.add("mp ring", mp.flow.ring());
    out.add("mp replay store", mp.flow.replay_store());
    out.add(
        "mp ring entries",
        &pollster::block_on(mp.flow.ring().entries()),
    );
    out.add("mp zone keys", mp.flow.issuer().zone_keys());
    out.add("mp module", mp.module());
    out.add(
        "mp live key",
        &pollster::block_on(mp.flow.ring().live_key("K2")),
    );

    let pem_form = MpConfig {
        form: PublicKeyForm::PemBody,
        ..MpConfig::default()
    }
    .build();
    out.add(
        "public key PEM body",
        &pollster::block_on(pem_form.flow.public_keys("PIN_BLOCK")),
    );

    // ------------------------------------------------------------ Enfuce
    let enfuce = Enfuce::with(
        sandbox_cms(),
        PinPolicy::default().with_length(4, 12).deny([pin("4444")]),
    );
    let mut tzpks: Vec<TdesKey> = Vec::new();
    let mut controls: Vec<String> = Vec::new();
    let mut step = |clear_hex: &str, audit_user: &str, out: &mut Printed| {
        let control = enfuce.control("70001", SEQ);
        out.add("control", &control);
        // A live controlId is a bearer value: only its prefix may be printed.
        controls.push(control.as_str().to_uppercase());
        let response = enfuce
            .get_tzpk(
                control.as_str(),
                &enfuce.device_key.public_key().to_base64(),
            )
            .expect("tzpk");
        out.add("tzpk response", &response);
        let tzpk = pinset_envelope::rsa::unwrap_tdes_key(
            &enfuce.device_key,
            RsaPadding::OaepSha256,
            &BASE64.decode(&response.tzpk).expect("base64"),
        )
        .expect("unwrap");
        out.add("device tzpk", &tzpk);
        let block = encrypt_block(&tzpk, clear_hex);
        let result = enfuce.set_pin(control.as_str(), &block, audit_user);
        if let Err(e) = &result {
            out.add("enfuce body", &enfuce.flow.error_body(e));
            let _ = writeln!(out.0, "{}", enfuce.flow.error_body(e).to_json());
        }
        out.result("enfuce", result);
        // Replay.
        let replay = enfuce.set_pin(control.as_str(), &block, audit_user);
        if let Err(e) = &replay {
            let _ = writeln!(out.0, "{}", enfuce.flow.error_body(e).to_json());
        }
        out.result("enfuce replay", replay);
        tzpks.push(tzpk);
    };
    let long_iso1 = format!("1C{}AA", LONG_PINS[0]);
    let long_iso2 = format!("2C{}FF", LONG_PINS[1]);
    secret_hex.push(long_iso1.clone());
    secret_hex.push(long_iso2.clone());
    secret_hex.push(hex::encode_upper(
        iso0::encode(&pin(LONG_PINS[0]), &pan(CARDS[0].pan)).expose_bytes(),
    ));
    secret_hex.push(hex::encode_upper(
        iso0::encode(&pin(ENFUCE_SEED_PIN), &pan(CARDS[0].pan)).expose_bytes(),
    ));
    step(ENFUCE_SEED_BLOCK, ENFUCE_AUDIT_USER, &mut out);
    step(&long_iso1, ENFUCE_AUDIT_USER, &mut out);
    step(&long_iso2, ENFUCE_AUDIT_USER, &mut out);
    step("144444AAAAAAAAAA", ENFUCE_AUDIT_USER, &mut out);
    step(&long_iso1, "bad user", &mut out);
    enfuce.cms().fail_next_store();
    step(&long_iso1, ENFUCE_AUDIT_USER, &mut out);

    // Without a tzpk, expired, bad base64, unknown control, bad device key.
    let control = enfuce.control("70001", SEQ);
    out.result(
        "enfuce no tzpk",
        enfuce.set_pin(control.as_str(), "tACuB41yyfU=", ENFUCE_AUDIT_USER),
    );
    let control = enfuce.control("70001", SEQ);
    let tzpk = enfuce.tzpk(&control).expect("tzpk");
    enfuce.clock.advance(Duration::from_secs(31));
    out.result(
        "enfuce expired",
        enfuce.set_pin(
            control.as_str(),
            &encrypt_block(&tzpk, &long_iso1),
            ENFUCE_AUDIT_USER,
        ),
    );
    tzpks.push(tzpk);
    out.result(
        "enfuce bad base64",
        enfuce.set_pin(control.as_str(), "%%%", ENFUCE_AUDIT_USER),
    );
    out.result(
        "enfuce unknown",
        enfuce.set_pin(
            "83fa5f55-3dd7-453a-8233-4242a6bad179",
            "tACuB41yyfU=",
            ENFUCE_AUDIT_USER,
        ),
    );
    let control = enfuce.control("70001", SEQ);
    out.result(
        "enfuce bad key",
        enfuce.get_tzpk(control.as_str(), "MIIBIjANBgkq"),
    );
    out.result(
        "enfuce unknown contract",
        pollster::block_on(enfuce.flow.issue_control(
            contract("99999"),
            seq("1"),
            ControlOperation::SetPin,
        )),
    );
    out.add("enfuce audit", &enfuce.audit.events());
    out.add("enfuce cms", &enfuce.snapshot());
    out.add("enfuce zone keys", enfuce.flow.issuer().zone_keys());
    out.add("enfuce module", enfuce.module());
    out.add("enfuce pending tzpks", &enfuce.flow.pending_tzpks());
    out.add("enfuce controls", enfuce.flow.controls());

    let printed = out.0;
    // Enciphered PIN blocks in the CMS: format 0 under one ZPK is
    // deterministic, so a logged block links cards with equal PINs.
    for snapshot in [mp.snapshot(), enfuce.snapshot()] {
        for contract in snapshot.contracts.values() {
            for pin in contract.plastics.iter().filter_map(|p| p.pin.as_ref()) {
                secret_hex.push(hex::encode_upper(pin.pin_block.as_bytes()));
            }
        }
    }

    // ------------------------------------------------------------ the checks
    // It did collect what it should have.
    for expected in [
        "INVALID_PIN_BLOCK",
        "CONTROL_ID_NOT_FOUND",
        "\"ReasonCode\":\"INTEGRATION_ERROR\"",
        "PIN_POLICY_VIOLATION",
        "KEY_INDEX_RETIRED",
        "514157******8605",
        "EncryptedPinBlock { len: 8",
        "Kcv(F3BF3A)",
        "errorType",
        "ReasonCode",
    ] {
        assert!(
            printed.contains(expected),
            "expected {expected} in the output"
        );
    }
    assert!(printed.len() > 20_000, "collected {} bytes", printed.len());

    let mut leaks = Vec::new();
    for pin_digits in LONG_PINS.iter().chain([&WEAK_LONG_PIN]) {
        if printed.contains(pin_digits) {
            leaks.push(format!("PIN {pin_digits}"));
        }
    }
    for short_pin in CARDS.iter().map(|c| c.pin).chain([ENFUCE_SEED_PIN, "4444"]) {
        if has_token(&printed, short_pin) {
            leaks.push(format!("PIN token {short_pin}"));
        }
    }
    for card in CARDS {
        if printed.contains(card.pan) {
            leaks.push(format!("PAN {}", card.pan));
        }
        // The 12 digits of the ISO 0 PAN field.
        let field = &card.pan[3..15];
        if printed.contains(field) {
            leaks.push(format!("PAN field {field}"));
        }
    }
    secret_hex.extend(tzpks.iter().map(|k| hex::encode_upper(k.expose_bytes())));
    secret_hex.extend(controls);
    for secret in &secret_hex {
        let lower = secret.to_ascii_lowercase();
        if printed.contains(secret.as_str()) || printed.contains(&lower) {
            leaks.push(format!("hex {secret}"));
        }
    }
    for pem in [RSA2048_PEM, RSA3072_PEM] {
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            if printed.contains(line) {
                leaks.push(format!("RSA private key line {line}"));
            }
        }
    }
    assert!(leaks.is_empty(), "leaked: {leaks:#?}");
}

#[test]
fn token_check_sees_a_pin_in_text() {
    assert!(has_token("pin: 7580,", "7580"));
    assert!(has_token("\"7580\"", "7580"));
    assert!(has_token("7580", "7580"));
    assert!(!has_token("A7580F", "7580"));
    assert!(!has_token("175801", "7580"));
}

#[test]
fn request_bodies_print_no_control_id_or_pin_block() {
    // Review finding: the request DTOs derived Debug and printed both.
    let control = "83fa5f55-3dd7-453a-8233-4242a6bad179";
    let block = "E5639CBC7EC0B4CA";
    let printed = format!(
        "{:?} {:?} {:?} {:?}",
        TzpkRequest {
            control_id: control.into(),
            public_key: "MIIB".into(),
        },
        pinset_flow::enfuce::SetPinRequest {
            control_id: control.into(),
            pin_block: BASE64.encode(hex::decode(block).unwrap()),
        },
        pinset_flow::enfuce::SetPinRequest {
            control_id: "not a control id but a secret".into(),
            pin_block: String::new(),
        },
        pinset_flow::mastercard::SetPinRequest {
            new_pin_block: block.into(),
            card_expiry_date: "2812".into(),
            card_sequence_number: None,
        },
    );
    assert!(printed.contains("83fa5f55…"), "{printed}");
    for secret in [control, &control[9..], block, "not a control id"] {
        assert!(!printed.contains(secret), "{printed} shows {secret}");
    }
    assert!(!printed.contains(&BASE64.encode(hex::decode(block).unwrap())));
}
