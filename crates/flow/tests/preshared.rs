//! Enfuce's pre-shared-key set PIN (`POST /pin/v2/{plasticId}`): a format 1
//! block under a ZPK the device shares with the issuer.
//!
//! Vectors: the Enfuce seed block `141234AAAAAAAAAA` (PIN 1234, ISO format 1,
//! `shared/seeds/enfuce-set-pin-v3.md`, "Example flow"); the Mastercard
//! Processing sandbox card 70001 and CMS ZPK (`shared/vectors/iso9564.json`,
//! `mastercard_sandbox`); the shared ZPK `5AFE406A9BEF03F979DC56FB8DA06BDF`
//! (`crates/envelope/tests/data/README.md`, `tdes_key.bin`).

mod common;

use std::sync::Arc;

use common::*;
use pinset_flow::enfuce::PresharedSetPinRequest;
use pinset_flow::{EnfuceSetPin, MemoryAudit, PinPolicy, Reason};
use pinset_keys::{KeyPurpose, ZoneKeys, ZpkIndex};
use pinset_module::{KeyAlgorithm, SecurityModule};

fn request(zpk_index: &str, block: &[u8]) -> PresharedSetPinRequest {
    PresharedSetPinRequest {
        zpk_index: zpk_index.to_owned(),
        pin_block: hex::encode_upper(block),
    }
}

#[test]
fn a_block_under_a_registered_device_key_sets_the_pin_and_the_cms_key_is_never_inbound() {
    let clock = pinset_keys::ManualClock::new(T0);
    let audit = Arc::new(MemoryAudit::new());
    let issuer = issuer(sandbox_cms(), PinPolicy::default(), &audit, &clock);
    // The device's key, registered apart from the CMS's zone keys.
    let device_keys = ZoneKeys::new();
    let handle = pollster::block_on(issuer.module().import_symmetric(
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        &hex::decode(SHARED_ZPK_HEX).unwrap(),
    ))
    .unwrap();
    device_keys
        .insert(ZpkIndex::new("ZPK-DEVICE").unwrap(), handle)
        .unwrap();
    let flow = EnfuceSetPin::new(issuer, clock).with_preshared_zpks(device_keys);
    let (contract_id, plastic) = (contract("70001"), seq(SEQ));
    let seed_block = hex::decode(ENFUCE_SEED_BLOCK).unwrap();
    let under = |key: &pinset_envelope::TdesKey| {
        tdes_ecb(key, seed_block.clone().try_into().unwrap(), true)
    };
    let set = |zpk_index: &str, block: &[u8]| {
        pollster::block_on(flow.set_pin_preshared(
            contract_id,
            plastic,
            &request(zpk_index, block),
            ENFUCE_AUDIT_USER,
        ))
    };

    // The CMS's own ZPK is refused as an inbound key, even with a block
    // enciphered under it, and so is an index never registered: one answer.
    let before = flow.issuer().cms().snapshot();
    for (index, block) in [
        (CMS_ZPK, under(&zpk())),
        ("ZPK-UNKNOWN", under(&shared_zpk())),
    ] {
        let e = refused(set(index, &block));
        assert_reason(&e, Reason::RequestValidation, 400, false);
    }
    assert_eq!(
        flow.issuer().cms().snapshot(),
        before,
        "a refusal changed the CMS"
    );

    // Under the registered device key: 200, stored as ISO 0 under the CMS ZPK.
    set("ZPK-DEVICE", &under(&shared_zpk())).expect("200");
    assert_stored_pin(
        &flow.issuer().cms().snapshot(),
        "70001",
        SEQ,
        ENFUCE_SEED_PIN,
        CARDS[0].pan,
    );
    // A block under another key is unreadable: the one invalid-PIN-block answer.
    let e = refused(set("ZPK-DEVICE", &under(&zpk())));
    assert_reason(&e, Reason::InvalidPinBlock, 400, false);
}
