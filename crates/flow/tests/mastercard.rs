//! Mastercard Processing PAN-less (and full-PAN) set PIN, end to end: device
//! sealing under the published key, the flow, the reference CMS and the audit.
//!
//! Vectors: the Mastercard Processing sandbox key index, ZPK (KCV F3BF3A) and
//! cards 70001 to 70005 with their PINs and PANs, from
//! `shared/vectors/iso9564.json` (`mastercard_sandbox`). RSA keys from
//! `crates/envelope/tests/data/`. Seed behaviour from
//! `shared/seeds/mastercard-set-pin-panless.md` and `shared/README.md`.

mod common;

use std::time::Duration;

use common::*;
use pinset_block::{Format, Pin, iso0, iso1, iso3};
use pinset_cms::{ContractState, EmvCommand, PlasticStatus, ProductionStatus};
use pinset_envelope::{RsaPadding, RsaPublicKey};
use pinset_flow::mastercard::{PublicKeysResponse, SetPinRequest};
use pinset_flow::wire::MastercardErrorBody;
use pinset_flow::{Operation, PinPolicy, Reason};
use pinset_keys::PublicKeyForm;
use pinset_module::ErrorClass;

// ---------------------------------------------------------------- success

#[test]
fn each_sandbox_card_gets_its_pin() {
    // shared/vectors/iso9564.json mastercard_sandbox: cards 70001..70005.
    let mut mp = Mp::new();
    for (n, card) in CARDS.iter().enumerate() {
        let published = mp.public_key();
        assert_eq!(published.key_index, KEY_INDEX);
        let block = mp.seal(card.pin, RsaPadding::OaepSha256);
        let before = mp.snapshot();
        assert!(plastic_record(&before, card.contract, SEQ).pin.is_none());

        let done = mp
            .set_pin(
                card.contract,
                Some(&published.key_index),
                &mp_request(&block, EXPIRY, None),
            )
            .unwrap_or_else(|e| panic!("card {}: {e:?}", card.contract));
        assert_eq!(done.http_status, 204);
        assert!(done.cms.stored);
        assert!(done.cms.emv_script_queued);
        assert!(done.cms.plastic_activated, "the plastic was Locked");

        let after = mp.snapshot();
        assert_stored_pin(&after, card.contract, SEQ, card.pin, card.pan);
        // The EMV PIN-change script is queued for this plastic.
        assert_eq!(after.emv_scripts.len(), n + 1);
        let script = after.emv_scripts.last().expect("script");
        assert_eq!(script.contract, contract(card.contract));
        assert_eq!(script.plastic, seq(SEQ));
        assert_eq!(script.command, EmvCommand::PinChange);
        // A Locked plastic opens for e-commerce and tokens, and stays Locked.
        let plastic = plastic_record(&after, card.contract, SEQ).plastic;
        assert_eq!(plastic.status, PlasticStatus::Locked);
        assert!(plastic.ecommerce_enabled);
        // Nothing else changed: the other contracts are as they were.
        for other in CARDS.iter().filter(|c| c.contract != card.contract) {
            assert_eq!(
                after.contracts[&contract(other.contract)],
                before.contracts[&contract(other.contract)]
            );
        }
    }
}

#[test]
fn second_set_pin_replaces_the_first_and_does_not_reactivate() {
    // Sandbox card 70001 (shared/vectors/iso9564.json), then a second PIN.
    let mut mp = Mp::new();
    let first = mp.seal("7580", RsaPadding::OaepSha256);
    let done = mp
        .set_pin("70001", Some(KEY_INDEX), &mp_request(&first, EXPIRY, None))
        .expect("first");
    assert!(done.cms.plastic_activated);
    let second = mp.seal("9051", RsaPadding::OaepSha256);
    let done = mp
        .set_pin("70001", Some(KEY_INDEX), &mp_request(&second, EXPIRY, None))
        .expect("second");
    assert!(
        !done.cms.plastic_activated,
        "already enabled for e-commerce"
    );
    let snapshot = mp.snapshot();
    assert_stored_pin(&snapshot, "70001", SEQ, "9051", "5141576351968605");
    assert_eq!(snapshot.emv_scripts.len(), 2);
}

#[test]
fn each_padding_configured_on_the_ring_key() {
    // Sandbox card 70002 (shared/vectors/iso9564.json) under each padding.
    for padding in RsaPadding::ALL {
        let mut mp = MpConfig {
            padding,
            ..MpConfig::default()
        }
        .build();
        let block = mp.seal("5336", padding);
        let done = mp
            .set_pin("70002", Some(KEY_INDEX), &mp_request(&block, EXPIRY, None))
            .unwrap_or_else(|e| panic!("{padding}: {e:?}"));
        assert_eq!(done.http_status, 204);
        assert_stored_pin(&mp.snapshot(), "70002", SEQ, "5336", "5185410084016382");
    }
}

#[test]
fn an_active_plastic_stays_active() {
    // Sandbox PAN of 70003 on a test contract whose plastic is Active.
    let cms = sandbox_cms();
    cms.add_contract(
        contract("80003"),
        pan("5115795782050849"),
        ContractState::OPEN,
    );
    cms.add_plastic(
        contract("80003"),
        seq("1"),
        EXPIRY.parse().expect("expiry"),
        PlasticStatus::Active,
    );
    let mut mp = MpConfig {
        cms: Some(cms),
        ..MpConfig::default()
    }
    .build();
    let block = mp.seal("2360", RsaPadding::OaepSha256);
    let done = mp
        .set_pin("80003", Some(KEY_INDEX), &mp_request(&block, EXPIRY, None))
        .expect("set");
    assert!(!done.cms.plastic_activated);
    let plastic = plastic_record(&mp.snapshot(), "80003", "1").plastic;
    assert_eq!(plastic.status, PlasticStatus::Active);
    assert_stored_pin(&mp.snapshot(), "80003", "1", "2360", "5115795782050849");
}

/// A contract (sandbox PAN of 70004) with plastics 1 (2812, Active),
/// 2 (2812, Locked) and 3 (2612, Active).
fn multi_plastic_mp() -> Mp {
    let cms = sandbox_cms();
    let id = contract("80004");
    cms.add_contract(id, pan("5128839686355014"), ContractState::OPEN);
    cms.add_plastic(
        id,
        seq("1"),
        "2812".parse().expect("expiry"),
        PlasticStatus::Active,
    );
    cms.add_plastic(
        id,
        seq("2"),
        "2812".parse().expect("expiry"),
        PlasticStatus::Locked,
    );
    cms.add_plastic(
        id,
        seq("3"),
        "2612".parse().expect("expiry"),
        PlasticStatus::Active,
    );
    MpConfig {
        cms: Some(cms),
        ..MpConfig::default()
    }
    .build()
}

#[test]
fn without_sequence_number_the_newest_plastic_with_that_expiry() {
    let mut mp = multi_plastic_mp();
    let block = mp.seal("3011", RsaPadding::OaepSha256);
    mp.set_pin("80004", Some(KEY_INDEX), &mp_request(&block, "2812", None))
        .expect("set");
    let snapshot = mp.snapshot();
    assert_stored_pin(&snapshot, "80004", "2", "3011", "5128839686355014");
    assert!(plastic_record(&snapshot, "80004", "1").pin.is_none());
    // Plastic 3 has a higher sequence but another expiry: untouched.
    assert!(plastic_record(&snapshot, "80004", "3").pin.is_none());
}

#[test]
fn with_sequence_number_that_plastic() {
    let mut mp = multi_plastic_mp();
    let block = mp.seal("3011", RsaPadding::OaepSha256);
    mp.set_pin(
        "80004",
        Some(KEY_INDEX),
        &mp_request(&block, "2812", Some("1")),
    )
    .expect("set");
    let snapshot = mp.snapshot();
    assert_stored_pin(&snapshot, "80004", "1", "3011", "5128839686355014");
    assert!(plastic_record(&snapshot, "80004", "2").pin.is_none());

    // Sequence 3 with its own expiry.
    let block = mp.seal("4041", RsaPadding::OaepSha256);
    mp.set_pin(
        "80004",
        Some(KEY_INDEX),
        &mp_request(&block, "2612", Some("3")),
    )
    .expect("set");
    assert_stored_pin(&mp.snapshot(), "80004", "3", "4041", "5128839686355014");

    // Sequence 3 exists, but not with expiry 2812.
    let block = mp.seal("4041", RsaPadding::OaepSha256);
    mp.refuse(
        "80004",
        Some(KEY_INDEX),
        &mp_request(&block, "2812", Some("3")),
        Reason::NoMatchingPlastic,
        404,
        false,
    );
}

#[test]
fn pem_body_publish_form() {
    // shared/README.md: publicRsaKey is hex of DER SPKI (default) or the PEM body.
    let mut mp = MpConfig {
        form: PublicKeyForm::PemBody,
        ..MpConfig::default()
    }
    .build();
    let published = mp.public_key();
    let expected = rsa2048().public_key();
    assert_eq!(published.public_rsa_key, expected.to_base64());
    assert!(published.public_rsa_key.starts_with("MII"));
    assert!(!published.public_rsa_key.contains("-----"));
    assert!(!published.public_rsa_key.contains('\n'));
    assert_eq!(
        RsaPublicKey::from_base64(&published.public_rsa_key).expect("PEM body"),
        expected
    );
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    mp.set_pin("70001", Some(KEY_INDEX), &mp_request(&block, EXPIRY, None))
        .expect("set");
    assert_stored_pin(&mp.snapshot(), "70001", SEQ, "7580", "5141576351968605");
}

#[test]
fn default_publish_form_is_uppercase_der_hex() {
    let mp = Mp::new();
    let published = mp.public_key();
    assert_eq!(published.public_rsa_key, rsa2048().public_key().to_hex());
    assert!(published.public_rsa_key.starts_with("30820122"));
    assert!(
        published
            .public_rsa_key
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    );
}

// ---------------------------------------------------------------- full PAN

#[test]
fn full_pan_iso0_under_the_shared_zpk() {
    // Sandbox card 70005; the block is ISO 0 under the shared ZPK, stored under the CMS ZPK.
    let mut mp = MpConfig {
        shared_zpk: true,
        ..MpConfig::default()
    }
    .build();
    let block = mp.iso0_under_shared("4041", "5121876475234064");
    let done = mp
        .set_pin("70005", None, &mp_request(&block, EXPIRY, None))
        .expect("full-PAN set PIN");
    assert_eq!(done.http_status, 204);
    assert_stored_pin(&mp.snapshot(), "70005", SEQ, "4041", "5121876475234064");
    let event = mp.audit.events().pop().expect("event");
    assert_eq!(event.key_index, None);
    assert_eq!(event.outcome, "OK");
}

#[test]
fn full_pan_refusals() {
    let mut mp = MpConfig {
        shared_zpk: true,
        ..MpConfig::default()
    }
    .build();
    // Bound to another card's PAN.
    let other = mp.iso0_under_shared("4041", "5141576351968605");
    let e1 = mp.refuse(
        "70005",
        None,
        &mp_request(&other, EXPIRY, None),
        Reason::InvalidPinBlock,
        400,
        false,
    );
    // A format 1 block under the shared ZPK is not ISO 0.
    let iso1_block = {
        let clear = iso1::encode(&pin("4041"), &mut rng(3));
        hex::encode_upper(tdes_ecb(&shared_zpk(), *clear.expose_bytes(), true))
    };
    let e2 = mp.refuse(
        "70005",
        None,
        &mp_request(&iso1_block, EXPIRY, None),
        Reason::InvalidPinBlock,
        400,
        false,
    );
    // An RSA cryptogram sent without its Key-Index.
    let rsa_block = mp.seal("4041", RsaPadding::OaepSha256);
    let e3 = mp.refuse(
        "70005",
        None,
        &mp_request(&rsa_block, EXPIRY, None),
        Reason::InvalidPinBlock,
        400,
        false,
    );
    assert_eq!(mp_body(&e1), mp_body(&e2));
    assert_eq!(mp_body(&e1), mp_body(&e3));
}

#[test]
fn no_key_index_without_shared_zpk_is_400() {
    let mut mp = Mp::new();
    let block = mp.iso0_under_shared("7580", "5141576351968605");
    mp.refuse(
        "70001",
        None,
        &mp_request(&block, EXPIRY, None),
        Reason::RequestValidation,
        400,
        false,
    );
}

// ---------------------------------------------------------------- request errors

#[test]
fn public_keys_only_for_pin_block() {
    let mp = Mp::new();
    for bad in ["", "pin_block", "PIN", "CVC", "PIN_BLOCK ", " PIN_BLOCK"] {
        let e = refused(pollster::block_on(mp.flow.public_keys(bad)));
        assert_reason(&e, Reason::RequestValidation, 400, false);
    }
    let events = mp.audit.events();
    assert_eq!(events.len(), 6);
    assert!(events.iter().all(
        |e| e.operation == Operation::MastercardPublicKeys && e.outcome == "REQUEST_VALIDATION"
    ));
    mp.public_key();
    let ok = mp.audit.events().pop().expect("event");
    assert_eq!(ok.outcome, "OK");
    assert_eq!(ok.key_index.as_ref().map(|k| k.as_str()), Some(KEY_INDEX));
}

#[test]
fn contract_id_must_be_a_positive_number() {
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    let body = mp_request(&block, EXPIRY, None);
    for bad in [
        "",
        "0",
        "00",
        "abc",
        "7000a",
        "-70001",
        "+70001",
        " 70001",
        "70001 ",
        "7e4",
        "1000000000000000000",
        "99999999999999999999999",
        "７０００１",
    ] {
        let e = mp.refuse(
            bad,
            Some(KEY_INDEX),
            &body,
            Reason::RequestValidation,
            400,
            false,
        );
        assert!(
            mp_body(&e).contains("REQUEST_VALIDATION"),
            "{bad:?}: {}",
            mp_body(&e)
        );
    }
}

#[test]
fn unknown_contract_is_404() {
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    let e = mp.refuse(
        "99999",
        Some(KEY_INDEX),
        &mp_request(&block, EXPIRY, None),
        Reason::CardContractDoesNotExist,
        404,
        false,
    );
    assert!(mp_body(&e).contains("\"ReasonCode\":\"CARD_CONTRACT_DOES_NOT_EXIST\""));
}

#[test]
fn contract_state_must_allow_it() {
    // shared/README.md: only status 00 and production status not Marked.
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    let body = mp_request(&block, EXPIRY, None);
    for state in [
        ContractState {
            status_code: *b"05",
            production: ProductionStatus::Ready,
        },
        ContractState {
            status_code: *b"14",
            production: ProductionStatus::Ready,
        },
        ContractState {
            status_code: *b"00",
            production: ProductionStatus::Marked,
        },
    ] {
        assert!(mp.cms().set_contract_state(contract("70001"), state));
        let e = mp.refuse(
            "70001",
            Some(KEY_INDEX),
            &body,
            Reason::OperationDenied,
            403,
            false,
        );
        assert!(mp_body(&e).contains("\"ReasonCode\":\"OPERATION_DENIED\""));
    }
    // Back to 00: the same cryptogram now works.
    assert!(
        mp.cms()
            .set_contract_state(contract("70001"), ContractState::OPEN)
    );
    mp.set_pin("70001", Some(KEY_INDEX), &body)
        .expect("open again");
}

#[test]
fn blocked_or_expired_plastic_is_403() {
    let cms = sandbox_cms();
    let id = contract("80001");
    cms.add_contract(id, pan("5141576351968605"), ContractState::OPEN);
    cms.add_plastic(
        id,
        seq("1"),
        "2812".parse().expect("expiry"),
        PlasticStatus::Blocked,
    );
    cms.add_plastic(
        id,
        seq("2"),
        "2401".parse().expect("expiry"),
        PlasticStatus::Expired,
    );
    let mut mp = MpConfig {
        cms: Some(cms),
        ..MpConfig::default()
    }
    .build();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    mp.refuse(
        "80001",
        Some(KEY_INDEX),
        &mp_request(&block, "2812", None),
        Reason::OperationDenied,
        403,
        false,
    );
    mp.refuse(
        "80001",
        Some(KEY_INDEX),
        &mp_request(&block, "2401", Some("2")),
        Reason::OperationDenied,
        403,
        false,
    );
}

#[test]
fn no_matching_plastic_is_404() {
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    for (expiry, sequence) in [("2612", None), ("2812", Some("2")), ("2812", Some("0"))] {
        let e = mp.refuse(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&block, expiry, sequence),
            Reason::NoMatchingPlastic,
            404,
            false,
        );
        assert!(mp_body(&e).contains("CARD_PLASTIC_NOT_FOUND"));
    }
    // A contract with no plastic at all.
    mp.cms().add_contract(
        contract("80002"),
        pan("5185410084016382"),
        ContractState::OPEN,
    );
    mp.refuse(
        "80002",
        Some(KEY_INDEX),
        &mp_request(&block, EXPIRY, None),
        Reason::NoMatchingPlastic,
        404,
        false,
    );
}

#[test]
fn unknown_key_index_is_recoverable() {
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    let e = mp.refuse(
        "70001",
        Some("B0000000000001"),
        &mp_request(&block, EXPIRY, None),
        Reason::UnknownKeyIndex,
        400,
        true,
    );
    let body: MastercardErrorBody = serde_json::from_str(&mp_body(&e)).expect("JSON");
    assert!(body.errors.error[0].recoverable);
    assert_eq!(body.errors.error[0].reason_code, "UNKNOWN_KEY_INDEX");
}

#[test]
fn malformed_key_index_header_is_400() {
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    for bad in ["", "A1 B2", "A15643865311620000", "../etc", "Ä1"] {
        mp.refuse(
            "70001",
            Some(bad),
            &mp_request(&block, EXPIRY, None),
            Reason::RequestValidation,
            400,
            false,
        );
    }
}

#[test]
fn retired_key_index_after_rotation_and_grace() {
    // Sandbox key index A1564386531162 (rsa2048) rotated out for K2 (rsa3072).
    let mut mp = Mp::new();
    let old_first = mp.seal("7580", RsaPadding::OaepSha256);
    let old_second = mp.seal("7580", RsaPadding::OaepSha256);
    let rotation = pollster::block_on(
        mp.flow
            .ring()
            .rotate(mp.new_key("K2", &rsa3072()), Duration::from_secs(600)),
    )
    .expect("rotate");
    assert_eq!(
        rotation.previous.as_ref().map(|k| k.as_str()),
        Some(KEY_INDEX)
    );
    assert_eq!(mp.public_key().key_index, "K2");

    // During the grace period the old index still opens.
    mp.clock.advance(Duration::from_secs(599));
    mp.set_pin(
        "70001",
        Some(KEY_INDEX),
        &mp_request(&old_first, EXPIRY, None),
    )
    .expect("within grace");

    // Afterwards it is retired: recoverable, fetch the key again.
    mp.clock.advance(Duration::from_secs(1));
    let e = mp.refuse(
        "70001",
        Some(KEY_INDEX),
        &mp_request(&old_second, EXPIRY, None),
        Reason::RetiredKeyIndex,
        400,
        true,
    );
    assert!(mp_body(&e).contains("\"ReasonCode\":\"KEY_INDEX_RETIRED\""));
    assert!(mp_body(&e).contains("\"Recoverable\":true"));

    // The client refetches and succeeds under K2.
    let fresh = mp.seal("9051", RsaPadding::OaepSha256);
    mp.set_pin("70001", Some("K2"), &mp_request(&fresh, EXPIRY, None))
        .expect("new key");
    assert_stored_pin(&mp.snapshot(), "70001", SEQ, "9051", "5141576351968605");
}

#[test]
fn new_pin_block_must_be_hex_of_bounded_length() {
    let mp = Mp::new();
    let oversize = "AB".repeat(513); // 1026 hex digits: more than a 4096-bit cryptogram
    for bad in [
        "",
        "ZZ",
        "ABC",
        "0x00FF",
        "AB CD",
        "ÄÄ",
        "AB\n",
        oversize.as_str(),
    ] {
        mp.refuse(
            "70001",
            Some(KEY_INDEX),
            &mp_request(bad, EXPIRY, None),
            Reason::RequestValidation,
            400,
            false,
        );
    }
}

#[test]
fn expiry_must_be_yymm() {
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    for bad in ["2813", "2800", "28", "281200", "12/28", "abcd", "", " 2812"] {
        mp.refuse(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&block, bad, None),
            Reason::RequestValidation,
            400,
            false,
        );
    }
}

#[test]
fn sequence_must_be_one_to_three_digits() {
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    for bad in ["1234", "", "x", "-1", "1.0", " 1"] {
        mp.refuse(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&block, EXPIRY, Some(bad)),
            Reason::RequestValidation,
            400,
            false,
        );
    }
}

// ---------------------------------------------------------------- no padding or format oracle

#[test]
fn every_bad_cryptogram_is_one_invalid_pin_block() {
    // Sandbox card 70001 (shared/vectors/iso9564.json) and key index A1564386531162.
    let mut mp = Mp::new();
    let card_pan = pan("5141576351968605");
    let good = mp.seal("7580", RsaPadding::OaepSha256);
    let good_bytes = hex::decode(&good).expect("hex");

    let mut tampered = good_bytes.clone();
    tampered[100] ^= 0x01;
    let mut tampered_first = good_bytes.clone();
    tampered_first[0] ^= 0x80;
    let truncated = &good_bytes[..good_bytes.len() - 1];
    let extended = [good_bytes.as_slice(), &[0u8]].concat();
    let short = &good_bytes[..8];
    // Random 8 bytes that are not a format 1 block (control nibble 9).
    let random8 = [0x9F, 0x3C, 0x51, 0x07, 0xE2, 0x84, 0x6B, 0xD0];
    assert!(iso1::decode(&pinset_block::ClearBlock::from_bytes(random8)).is_err());
    // Format 1 with a bad length nibble and with a non-decimal PIN digit.
    let bad_len: [u8; 8] = hex::decode("1D1234AAAAAAAAAA")
        .expect("hex")
        .try_into()
        .expect("8");
    let bad_digit: [u8; 8] = hex::decode("1412A4AAAAAAAAAA")
        .expect("hex")
        .try_into()
        .expect("8");
    // A well-formed format 0 and format 3 block of the right PIN and PAN.
    let iso0_block = *iso0::encode(&pin("7580"), &card_pan).expose_bytes();
    let iso3_block = *iso3::encode(&pin("7580"), &card_pan, &mut rng(5)).expose_bytes();

    let cases: Vec<(&str, String)> = vec![
        ("tampered", hex::encode_upper(&tampered)),
        ("tampered first byte", hex::encode_upper(&tampered_first)),
        ("lowercase tampered", hex::encode(&tampered)),
        ("truncated", hex::encode_upper(truncated)),
        ("one byte more", hex::encode_upper(&extended)),
        ("8 bytes", hex::encode_upper(short)),
        ("all zero", "00".repeat(256)),
        ("all FF", "FF".repeat(256)),
        (
            "wrong padding OAEP-SHA-1",
            mp.seal("7580", RsaPadding::OaepSha1),
        ),
        (
            "wrong padding PKCS#1 v1.5",
            mp.seal("7580", RsaPadding::Pkcs1v15),
        ),
        (
            "format 2 block",
            mp.seal_format(Format::Iso2, "7580", None, RsaPadding::OaepSha256),
        ),
        (
            "format 3 block",
            mp.seal_raw(&iso3_block, RsaPadding::OaepSha256),
        ),
        (
            "format 0 block",
            mp.seal_raw(&iso0_block, RsaPadding::OaepSha256),
        ),
        (
            "random 8 bytes",
            mp.seal_raw(&random8, RsaPadding::OaepSha256),
        ),
        (
            "bad length nibble",
            mp.seal_raw(&bad_len, RsaPadding::OaepSha256),
        ),
        (
            "bad PIN digit",
            mp.seal_raw(&bad_digit, RsaPadding::OaepSha256),
        ),
        (
            "7 bytes",
            mp.seal_raw(&random8[..7], RsaPadding::OaepSha256),
        ),
        ("16 bytes", mp.seal_raw(&[0x14; 16], RsaPadding::OaepSha256)),
        ("empty plaintext", mp.seal_raw(&[], RsaPadding::OaepSha256)),
        (
            "under another RSA key",
            hex::encode_upper(
                rsa3072()
                    .public_key()
                    .seal(
                        Format::Iso1,
                        &pin("7580"),
                        None,
                        RsaPadding::OaepSha256,
                        &mut rng(9),
                    )
                    .expect("seal"),
            ),
        ),
    ];

    let mut bodies = Vec::new();
    for (name, block) in &cases {
        let before = mp.snapshot();
        let e = refused(mp.set_pin("70001", Some(KEY_INDEX), &mp_request(block, EXPIRY, None)));
        assert_eq!(e.reason(), Reason::InvalidPinBlock, "{name}: {e:?}");
        assert_reason(&e, Reason::InvalidPinBlock, 400, false);
        assert_eq!(mp.snapshot(), before, "{name} changed the CMS");
        // The security module read nothing: one class, whatever the cause.
        assert_eq!(
            module_class(&e),
            Some(ErrorClass::Undecryptable),
            "{name}: {e:?}"
        );
        // Display is the reason's sentence only.
        assert_eq!(e.to_string(), Reason::InvalidPinBlock.description());
        bodies.push((name, mp_body(&e)));
    }
    let (_, first) = &bodies[0];
    for (name, body) in &bodies {
        assert_eq!(body, first, "{name}: the outward body differs");
    }
    assert_eq!(
        first,
        "{\"Errors\":{\"Error\":[{\"Source\":\"pinset\",\"ReasonCode\":\"INVALID_PIN_BLOCK\",\
         \"Description\":\"The PIN block could not be decrypted or is not a valid PIN block.\",\
         \"Recoverable\":false}]}}"
    );
    // Every one of them was audited as INVALID_PIN_BLOCK.
    let events: Vec<_> = mp
        .audit
        .events()
        .into_iter()
        .filter(|e| e.operation == Operation::MastercardSetPin)
        .collect();
    assert_eq!(events.len(), cases.len());
    assert!(events.iter().all(|e| e.outcome == "INVALID_PIN_BLOCK"));

    // The good cryptogram still works afterwards.
    mp.set_pin("70001", Some(KEY_INDEX), &mp_request(&good, EXPIRY, None))
        .expect("good");
}

#[test]
fn wrong_padding_for_each_ring_setting_is_invalid_pin_block() {
    for ring_padding in RsaPadding::ALL {
        let mut mp = MpConfig {
            padding: ring_padding,
            ..MpConfig::default()
        }
        .build();
        let mut bodies = Vec::new();
        for device_padding in RsaPadding::ALL.into_iter().filter(|p| *p != ring_padding) {
            let block = mp.seal("7580", device_padding);
            let e = mp.refuse(
                "70001",
                Some(KEY_INDEX),
                &mp_request(&block, EXPIRY, None),
                Reason::InvalidPinBlock,
                400,
                false,
            );
            bodies.push(mp_body(&e));
        }
        assert_eq!(bodies[0], bodies[1]);
    }
}

// ---------------------------------------------------------------- policy and CMS failure

#[test]
fn pin_policy_violations() {
    let mut mp = MpConfig {
        policy: PinPolicy::default()
            .with_length(4, 6)
            .rejecting_weak_pins(true)
            .deny([Pin::new("1990").expect("pin")]),
        ..MpConfig::default()
    }
    .build();
    for weak in ["1111", "1234", "9876", "8901", "1234567", "1990"] {
        let block = mp.seal(weak, RsaPadding::OaepSha256);
        let e = mp.refuse(
            "70001",
            Some(KEY_INDEX),
            &mp_request(&block, EXPIRY, None),
            Reason::PinPolicy,
            400,
            false,
        );
        assert!(mp_body(&e).contains("\"ReasonCode\":\"PIN_POLICY_VIOLATION\""));
        // The policy is checked inside the security module, on the clear PIN.
        assert_eq!(module_class(&e), Some(ErrorClass::Policy), "{e:?}");
    }
    // The sandbox PIN passes.
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    mp.set_pin("70001", Some(KEY_INDEX), &mp_request(&block, EXPIRY, None))
        .expect("strong PIN");
}

#[test]
fn weak_pins_pass_the_default_policy() {
    // Both seeds set 1234: the weak-PIN rules are off by default.
    let mut mp = Mp::new();
    let block = mp.seal("1234", RsaPadding::OaepSha256);
    mp.set_pin("70001", Some(KEY_INDEX), &mp_request(&block, EXPIRY, None))
        .expect("default policy");
}

#[test]
fn cms_failure_is_500_recoverable_and_changes_nothing() {
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    mp.cms().fail_next_store();
    let e = mp.refuse(
        "70001",
        Some(KEY_INDEX),
        &mp_request(&block, EXPIRY, None),
        Reason::IntegrationError,
        500,
        true,
    );
    // The CMS is one of the back ends behind INTEGRATION_ERROR (was CMS_UNAVAILABLE).
    assert!(mp_body(&e).contains("\"ReasonCode\":\"INTEGRATION_ERROR\""));
    assert!(mp_body(&e).contains("\"Recoverable\":true"));
    let snapshot = mp.snapshot();
    assert!(plastic_record(&snapshot, "70001", SEQ).pin.is_none());
    assert!(snapshot.emv_scripts.is_empty());
    assert!(
        !plastic_record(&snapshot, "70001", SEQ)
            .plastic
            .ecommerce_enabled
    );

    // The client retries with a fresh cryptogram.
    let fresh = mp.seal("7580", RsaPadding::OaepSha256);
    mp.set_pin("70001", Some(KEY_INDEX), &mp_request(&fresh, EXPIRY, None))
        .expect("retry");
    assert_stored_pin(&mp.snapshot(), "70001", SEQ, "7580", "5141576351968605");
}

// ---------------------------------------------------------------- audit

#[test]
fn audit_one_event_per_attempt_with_context() {
    // Sandbox card 70001 (shared/vectors/iso9564.json).
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    mp.clock.advance(Duration::from_millis(1_234));
    mp.set_pin("70001", Some(KEY_INDEX), &mp_request(&block, EXPIRY, None))
        .expect("set");
    mp.clock.advance(Duration::from_secs(5));
    let bad = mp.seal("7580", RsaPadding::OaepSha1);
    let _ = mp.set_pin("70001", Some(KEY_INDEX), &mp_request(&bad, EXPIRY, None));
    let _ = mp.set_pin("abc", Some(KEY_INDEX), &mp_request(&bad, EXPIRY, None));
    let _ = mp.set_pin("99999", Some(KEY_INDEX), &mp_request(&bad, EXPIRY, None));

    let events = mp.audit.events();
    // public_keys runs once per seal in this fixture: keep only set-PIN events.
    let set: Vec<_> = events
        .iter()
        .filter(|e| e.operation == Operation::MastercardSetPin)
        .collect();
    assert_eq!(set.len(), 4);

    let ok = set[0];
    assert_eq!(
        ok.at,
        pinset_keys::Timestamp::from_unix_millis(T0.as_unix_millis() + 1_234)
    );
    assert_eq!(ok.outcome, "OK");
    assert_eq!(
        ok.masked_pan.map(|p| p.as_str().to_owned()).as_deref(),
        Some("514157******8605")
    );
    assert_eq!(ok.contract, Some(contract("70001")));
    assert_eq!(ok.plastic, Some(seq(SEQ)));
    assert_eq!(ok.key_index.as_ref().map(|k| k.as_str()), Some(KEY_INDEX));
    assert_eq!(ok.audit_user, None);

    let invalid = set[1];
    assert_eq!(invalid.outcome, "INVALID_PIN_BLOCK");
    assert_eq!(
        invalid.at,
        pinset_keys::Timestamp::from_unix_millis(T0.as_unix_millis() + 6_234)
    );
    assert_eq!(
        invalid.masked_pan.map(|p| p.as_str().to_owned()).as_deref(),
        Some("514157******8605")
    );
    assert_eq!(invalid.plastic, Some(seq(SEQ)));
    assert_eq!(
        invalid.key_index.as_ref().map(|k| k.as_str()),
        Some(KEY_INDEX)
    );

    let malformed = set[2];
    assert_eq!(malformed.outcome, "REQUEST_VALIDATION");
    assert_eq!(malformed.contract, None);
    assert_eq!(malformed.masked_pan, None);

    let unknown = set[3];
    assert_eq!(unknown.outcome, "CARD_CONTRACT_DOES_NOT_EXIST");
    assert_eq!(unknown.contract, Some(contract("99999")));
    assert_eq!(unknown.masked_pan, None);
    assert_eq!(unknown.plastic, None);
}

// ---------------------------------------------------------------- serde

#[test]
fn request_dto_reads_the_seed_field_names() {
    let number: SetPinRequest = serde_json::from_str(
        r#"{"newPinBlock":"A1B2","cardExpiryDate":"2812","cardSequenceNumber":1}"#,
    )
    .expect("number");
    assert_eq!(number, mp_request("A1B2", "2812", Some("1")));

    let string: SetPinRequest = serde_json::from_str(
        r#"{"newPinBlock":"A1B2","cardExpiryDate":"2812","cardSequenceNumber":"001"}"#,
    )
    .expect("string");
    assert_eq!(string, mp_request("A1B2", "2812", Some("001")));

    let absent: SetPinRequest =
        serde_json::from_str(r#"{"newPinBlock":"A1B2","cardExpiryDate":"2812"}"#).expect("absent");
    assert_eq!(absent, mp_request("A1B2", "2812", None));

    let null: SetPinRequest = serde_json::from_str(
        r#"{"newPinBlock":"A1B2","cardExpiryDate":"2812","cardSequenceNumber":null}"#,
    )
    .expect("null");
    assert_eq!(null, mp_request("A1B2", "2812", None));

    for bad in [
        r#"{"cardExpiryDate":"2812"}"#,
        r#"{"newPinBlock":"A1B2"}"#,
        r#"{"newPinBlock":"A1B2","cardExpiryDate":"2812","cardSequenceNumber":true}"#,
        r#"{"newPinBlock":"A1B2","cardExpiryDate":"2812","cardSequenceNumber":-1}"#,
        r#"{"newPinBlock":"A1B2","cardExpiryDate":"2812","cardSequenceNumber":1.5}"#,
        r#"{"new_pin_block":"A1B2","card_expiry_date":"2812"}"#,
    ] {
        assert!(
            serde_json::from_str::<SetPinRequest>(bad).is_err(),
            "{bad} parsed"
        );
    }

    // Written back with the seed's names; an absent sequence stays absent.
    assert_eq!(
        serde_json::to_string(&absent).expect("json"),
        r#"{"newPinBlock":"A1B2","cardExpiryDate":"2812"}"#
    );
    let keys: PublicKeysResponse =
        serde_json::from_str(r#"{"keyIndex":"A1564386531162","publicRsaKey":"3082"}"#)
            .expect("public keys");
    assert_eq!(keys.key_index, KEY_INDEX);
}

#[test]
fn a_numeric_sequence_number_selects_the_plastic_end_to_end() {
    let mut mp = multi_plastic_mp();
    let block = mp.seal("3011", RsaPadding::OaepSha256);
    let body: SetPinRequest = serde_json::from_str(&format!(
        r#"{{"newPinBlock":"{block}","cardExpiryDate":"2812","cardSequenceNumber":1}}"#
    ))
    .expect("body");
    mp.set_pin("80004", Some(KEY_INDEX), &body).expect("set");
    assert_stored_pin(&mp.snapshot(), "80004", "1", "3011", "5128839686355014");
}

#[test]
fn error_envelope_has_the_exact_mp_shape() {
    let mut mp = Mp::new();
    let block = mp.seal("7580", RsaPadding::OaepSha256);
    let errors = [
        mp.refuse(
            "abc",
            Some(KEY_INDEX),
            &mp_request(&block, EXPIRY, None),
            Reason::RequestValidation,
            400,
            false,
        ),
        mp.refuse(
            "99999",
            Some(KEY_INDEX),
            &mp_request(&block, EXPIRY, None),
            Reason::CardContractDoesNotExist,
            404,
            false,
        ),
        mp.refuse(
            "70001",
            Some("NOPE"),
            &mp_request(&block, EXPIRY, None),
            Reason::UnknownKeyIndex,
            400,
            true,
        ),
    ];
    for e in &errors {
        let json = mp_body(e);
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let top = value.as_object().expect("object");
        assert_eq!(top.keys().collect::<Vec<_>>(), ["Errors"]);
        let errors = top["Errors"].as_object().expect("Errors object");
        assert_eq!(errors.keys().collect::<Vec<_>>(), ["Error"]);
        let list = errors["Error"].as_array().expect("Error array");
        assert_eq!(list.len(), 1);
        let item = list[0].as_object().expect("item");
        let mut keys: Vec<_> = item.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["Description", "ReasonCode", "Recoverable", "Source"],
            "{json}"
        );
        assert!(item["Source"].is_string());
        assert_eq!(item["ReasonCode"], e.reason().code());
        assert_eq!(item["Description"], e.reason().description());
        assert_eq!(item["Recoverable"], e.reason().recoverable());
        // Round trip through the typed envelope.
        let typed: MastercardErrorBody = serde_json::from_str(&json).expect("typed");
        assert_eq!(typed, MastercardErrorBody::new(e));
    }
}
