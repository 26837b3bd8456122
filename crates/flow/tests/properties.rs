//! Arbitrary requests never panic, and a refused request changes no CMS state.
//!
//! Case counts are modest: a request that reaches the RSA private key costs
//! a millisecond or two.
//!
//! Vectors: Mastercard Processing sandbox cards, key index and ZPK from
//! `shared/vectors/iso9564.json` (`mastercard_sandbox`); RSA keys from
//! `crates/envelope/tests/data/`.

mod common;

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::*;
use pinset_block::{ClearBlock, iso1};
use pinset_envelope::{RsaDecryptor, RsaPadding};
use pinset_flow::enfuce::TzpkRequest;
use pinset_flow::{FlowError, Reason};
use proptest::prelude::*;

/// The one outward body of every undecryptable block.
static INVALID_BODY: &str = "{\"Errors\":{\"Error\":[{\"Source\":\"pinset\",\"ReasonCode\":\"INVALID_PIN_BLOCK\",\
     \"Description\":\"The PIN block could not be decrypted or is not a valid PIN block.\",\
     \"Recoverable\":false}]}}";

/// One MP fixture per padding, shared by the cases that only refuse.
static MP: LazyLock<[Mp; 3]> = LazyLock::new(|| {
    RsaPadding::ALL.map(|padding| {
        MpConfig {
            padding,
            ..MpConfig::default()
        }
        .build()
    })
});

/// A valid cryptogram of sandbox card 70001's PIN 7580 under the sandbox key index.
static GOOD_BLOCK: LazyLock<String> =
    LazyLock::new(|| Mp::new().seal("7580", RsaPadding::OaepSha256));

/// One Enfuce fixture per property (they run in parallel), shared by its
/// cases: each case takes fresh controls.
static ENFUCE_BYTES: LazyLock<Enfuce> = LazyLock::new(Enfuce::new);
static ENFUCE_STRINGS: LazyLock<Enfuce> = LazyLock::new(Enfuce::new);

/// Every reason a set PIN may give, with its status: the mapping never drifts.
fn check_error(e: &FlowError) {
    let expected = match e.reason() {
        Reason::RequestValidation
        | Reason::InvalidPinBlock
        | Reason::PinPolicy
        | Reason::UnknownKeyIndex
        | Reason::RetiredKeyIndex => 400,
        Reason::OperationDenied => 403,
        Reason::CardContractDoesNotExist | Reason::NoMatchingPlastic | Reason::ControlNotFound => {
            404
        }
        _ => 500,
    };
    assert_eq!(e.http_status(), expected);
    assert!(!mp_body(e).is_empty());
    let _ = format!("{e} {e:?}");
}

/// Strings that are often near a valid field and sometimes anything at all.
fn field(valid: &'static str, near: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        Just(valid.to_owned()),
        proptest::string::string_regex(near).expect("regex"),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mp_any_new_pin_block_string_is_refused(block in prop_oneof![
        any::<String>(),
        "[0-9A-Fa-f]{0,1100}",
        "[0-9A-F]{512}",
    ]) {
        let mp = &MP[0];
        let before = mp.snapshot();
        let result = mp.set_pin("70001", Some(KEY_INDEX), &mp_request(&block, EXPIRY, None));
        let e = result.expect_err("an arbitrary string is no cryptogram");
        check_error(&e);
        prop_assert!(matches!(e.reason(), Reason::RequestValidation | Reason::InvalidPinBlock), "{e:?}");
        prop_assert_eq!(mp.snapshot(), before);
    }

    #[test]
    fn mp_any_field_strings_never_panic(
        contract_id in field("70001", "[0-9]{0,20}|7000[0-9]"),
        expiry in field(EXPIRY, "[0-9]{0,6}"),
        sequence in proptest::option::of(field(SEQ, "[0-9]{0,4}")),
        key_index in proptest::option::of(field(KEY_INDEX, "[A-Za-z0-9_-]{0,18}")),
    ) {
        let mp = Mp::new();
        let before = mp.snapshot();
        let body = mp_request(&GOOD_BLOCK, &expiry, sequence.as_deref());
        match mp.set_pin(&contract_id, key_index.as_deref(), &body) {
            Ok(done) => {
                // Only the real fields can get here.
                prop_assert_eq!(done.http_status, 204);
                prop_assert_eq!(key_index.as_deref(), Some(KEY_INDEX));
                let card = CARDS
                    .iter()
                    .find(|c| contract_id.parse() == Ok(contract(c.contract)))
                    .expect("sandbox card");
                assert_stored_pin(&mp.snapshot(), card.contract, SEQ, "7580", card.pan);
            }
            Err(e) => {
                check_error(&e);
                prop_assert_eq!(mp.snapshot(), before);
            }
        }
        prop_assert_eq!(mp.audit.events().len(), 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn mp_any_cryptogram_bytes_are_invalid_pin_block(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 256),
            proptest::collection::vec(any::<u8>(), 0..600),
        ],
        padding in 0usize..3,
        upper in any::<bool>(),
    ) {
        let mp = &MP[padding];
        let before = mp.snapshot();
        let block = if upper { hex::encode_upper(&bytes) } else { hex::encode(&bytes) };
        let e = match mp.set_pin("70001", Some(KEY_INDEX), &mp_request(&block, EXPIRY, None)) {
            Err(e) => e,
            Ok(_) => {
                // Only PKCS#1 v1.5's implicit rejection can turn random bytes into a
                // plaintext (about 1 case in 10^5 to 10^6): then it must be a valid
                // format 1 block.
                prop_assert_eq!(RsaPadding::ALL[padding], RsaPadding::Pkcs1v15);
                let plain = RsaDecryptor::decrypt(&rsa2048(), RsaPadding::Pkcs1v15, &bytes)
                    .expect("decrypts");
                let clear = ClearBlock::try_from_slice(&plain).expect("8 bytes");
                prop_assert!(iso1::decode(&clear).is_ok());
                return Ok(());
            }
        };
        check_error(&e);
        if bytes.is_empty() || bytes.len() > 512 {
            prop_assert_eq!(e.reason(), Reason::RequestValidation);
        } else {
            prop_assert_eq!(e.reason(), Reason::InvalidPinBlock, "{:?}", e);
            prop_assert_eq!(mp_body(&e), INVALID_BODY);
        }
        prop_assert_eq!(mp.snapshot(), before);
    }

    #[test]
    fn enfuce_any_pin_block_bytes(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 8),
            proptest::collection::vec(any::<u8>(), 0..49),
        ],
    ) {
        let enfuce = &*ENFUCE_BYTES;
        let control = enfuce.control("70001", SEQ);
        let response = pollster::block_on(enfuce.flow.get_tzpk(&TzpkRequest {
            control_id: control.as_str().to_owned(),
            public_key: enfuce.device_key.public_key().to_base64(),
        })).expect("tzpk");
        let before = enfuce.snapshot();
        match enfuce.set_pin(control.as_str(), &BASE64.encode(&bytes), ENFUCE_AUDIT_USER) {
            Err(e) => {
                check_error(&e);
                prop_assert_eq!(e.reason(), Reason::InvalidPinBlock, "{:?}", e);
                prop_assert_eq!(enfuce.snapshot(), before);
            }
            Ok(_) => {
                // Only if the bytes deciphered to a valid format 1 block (about 1 in 640).
                let tzpk = pinset_envelope::rsa::unwrap_tdes_key(
                    &enfuce.device_key,
                    RsaPadding::OaepSha256,
                    &BASE64.decode(&response.tzpk).expect("base64"),
                ).expect("unwrap");
                let block: [u8; 8] = bytes.as_slice().try_into().expect("8 bytes");
                let clear = ClearBlock::from_bytes(tdes_ecb(&tzpk, block, false));
                let pin = iso1::decode(&clear).expect("a valid format 1 block");
                let digits = std::str::from_utf8(pin.expose_digits()).expect("digits");
                assert_stored_pin(&enfuce.snapshot(), "70001", SEQ, digits, "5141576351968605");
            }
        }
        // Spent either way.
        let replay = enfuce.set_pin(control.as_str(), &BASE64.encode(&bytes), ENFUCE_AUDIT_USER);
        prop_assert_eq!(replay.expect_err("spent").reason(), Reason::ControlNotFound);
    }

    #[test]
    fn enfuce_any_strings_never_panic(
        use_real_control in any::<bool>(),
        control_id in field("83fa5f55-3dd7-453a-8233-4242a6bad179", "[0-9a-f-]{0,70}"),
        pin_block in field("tACuB41yyfU=", "[A-Za-z0-9+/=]{0,70}"),
        audit_user in field(ENFUCE_AUDIT_USER, "[ -~]{0,70}"),
        public_key in prop_oneof![Just(None), any::<String>().prop_map(Some)],
    ) {
        let enfuce = &*ENFUCE_STRINGS;
        let control_id = if use_real_control {
            let control = enfuce.control("70001", SEQ);
            let key = public_key.clone().unwrap_or_else(|| enfuce.device_key.public_key().to_base64());
            let _ = pollster::block_on(enfuce.flow.get_tzpk(&TzpkRequest {
                control_id: control.as_str().to_owned(),
                public_key: key,
            })).map_err(|e| check_error(&e));
            control.as_str().to_owned()
        } else {
            control_id
        };
        let before = enfuce.snapshot();
        match enfuce.set_pin(&control_id, &pin_block, &audit_user) {
            Err(e) => {
                check_error(&e);
                prop_assert_eq!(enfuce.snapshot(), before);
                let body = enfuce.flow.error_body(&e);
                prop_assert!(is_uuid(&body.id));
            }
            // A random string that decodes to a valid block under a live tzpk: possible, rare.
            Ok(_) => prop_assert!(use_real_control),
        }
    }
}
