//! A set PIN configured for PIN verification values hands the CMS a Visa
//! PVV or an IBM 3624 offset beside the format 0 block, computed inside the
//! security module.
//!
//! Vectors:
//! - psec 1.3.0 `tests/test_pin.py` (MIT), in
//!   `shared/vectors/pin-verification-and-tr31.json`: PVK
//!   `0123456789ABCDEFFEDCBA9876543210` (KCV 08D7B4), PAN
//!   `1122334455667788`; Visa PVKI 1 and PIN 4524 give PVV 8523; IBM 3624
//!   with table `1234567890123456` and the PAN as validation data gives
//!   offset 7710 for PIN 1234.
//! - Mastercard Processing sandbox cards and key index:
//!   `shared/vectors/iso9564.json`, `mastercard_sandbox`.
//! - The randomised check recomputes each PVV here from the Visa PIN
//!   Verification Service steps, on the `des` crate directly: a second
//!   implementation that shares no code with `pinset-verify`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use pinset_cms::{ContractState, PinVerificationRecord, PlasticStatus};
use pinset_envelope::{RsaPadding, RsaPublicKey, TdesKey};
use pinset_flow::{MastercardPanless, MemoryAudit, PinPolicy, Reason};
use pinset_keys::{KeyRef, ManualClock, RsaKeyRing};
use pinset_module::verify::{
    DecimalizationTable, Pvki, ValidationSource, VerificationMethod, VerificationValue,
};
use pinset_module::{KeyAlgorithm, KeyPurpose, ModuleError, SecurityModule};
use rand_core::Rng;

const PVK: &str = "0123456789ABCDEFFEDCBA9876543210";
const PSEC_CONTRACT: &str = "70009";
const PSEC_PAN: &str = "1122334455667788";

fn visa(pvki: u8) -> VerificationMethod {
    VerificationMethod::VisaPvv {
        pvki: Pvki::new(pvki).unwrap(),
    }
}

fn ibm() -> VerificationMethod {
    VerificationMethod::Ibm3624 {
        table: DecimalizationTable::parse("1234567890123456").unwrap(),
        validation: ValidationSource::Pan {
            start: 0,
            length: 16,
            pad: 'F',
        },
    }
}

struct Pvv {
    flow: MpFlow,
    device: chacha20::ChaCha20Rng,
    pvk: KeyRef,
}

/// The sandbox CMS plus contract 70009 with the psec PAN; the PVK imported
/// for `method`'s purpose; the Mastercard flow delivering `method`.
fn pvv_flow(method: VerificationMethod) -> Pvv {
    let cms = sandbox_cms();
    let id = contract(PSEC_CONTRACT);
    cms.add_contract(id, pan(PSEC_PAN), ContractState::OPEN);
    assert!(cms.add_plastic(id, seq(SEQ), EXPIRY.parse().unwrap(), PlasticStatus::Locked));
    let module = software_module();
    let purpose = pinset_module::verification_purpose(&method);
    let pvk = pollster::block_on(module.import_symmetric(
        KeyAlgorithm::Tdes2,
        purpose,
        &hex::decode(PVK).unwrap(),
    ))
    .unwrap();
    let clock = ManualClock::new(T0);
    let audit = Arc::new(MemoryAudit::new());
    let issuer = pollster::block_on(
        issuer_on(cms, module, PinPolicy::default(), &audit, &clock)
            .with_verification(pvk.clone(), method),
    )
    .unwrap();
    let ring = RsaKeyRing::with_clock(clock.clone());
    pollster::block_on(ring.rotate(
        ring_key(issuer.module(), KEY_INDEX, &rsa2048()),
        Duration::from_secs(600),
    ))
    .unwrap();
    let flow = MastercardPanless::new(issuer, ring).with_replay_clock(clock);
    Pvv {
        flow,
        device: rng(11),
        pvk,
    }
}

impl Pvv {
    fn set_pin(&mut self, contract_id: &str, digits: &str) -> Result<(), pinset_flow::FlowError> {
        let published = pollster::block_on(self.flow.public_keys("PIN_BLOCK")).unwrap();
        let key = RsaPublicKey::from_hex(&published.public_rsa_key).unwrap();
        let cryptogram = key
            .seal(
                pinset_block::Format::Iso1,
                &pin(digits),
                None,
                RsaPadding::OaepSha256,
                &mut self.device,
            )
            .unwrap();
        let body = mp_request(&hex::encode_upper(cryptogram), EXPIRY, None);
        pollster::block_on(self.flow.set_pin(contract_id, Some(KEY_INDEX), &body)).map(|_| ())
    }

    fn stored(&self, contract_id: &str) -> PinVerificationRecord {
        let snapshot = self.flow.issuer().cms().snapshot();
        plastic_record(&snapshot, contract_id, SEQ)
            .pin
            .expect("a PIN was stored")
            .verification
            .expect("a verification value was stored")
    }
}

#[test]
fn visa_pvv_of_a_set_pin_is_psecs() {
    let mut f = pvv_flow(visa(1));
    f.set_pin(PSEC_CONTRACT, "4524").unwrap();
    let record = f.stored(PSEC_CONTRACT);
    assert_eq!(record.value.expose_str(), "8523");
    assert!(matches!(record.value, VerificationValue::Pvv(_)));
    assert_eq!(record.method, visa(1));
    assert_eq!(record.pvk_kcv.to_string(), "08D7B4");
    // Beside, not instead: the format 0 block is there too.
    let snapshot = f.flow.issuer().cms().snapshot();
    assert_stored_pin(&snapshot, PSEC_CONTRACT, SEQ, "4524", PSEC_PAN);
    // The record's Debug never shows the value.
    assert!(!format!("{record:?}").contains("8523"));
}

#[test]
fn ibm3624_offset_of_a_set_pin_is_psecs() {
    let mut f = pvv_flow(ibm());
    f.set_pin(PSEC_CONTRACT, "1234").unwrap();
    let record = f.stored(PSEC_CONTRACT);
    assert_eq!(record.value.expose_str(), "7710");
    assert!(matches!(record.value, VerificationValue::Ibm3624Offset(_)));
}

/// The Visa PVS steps, written out on raw TDES.
fn independent_pvv(pvk: &TdesKey, pvki: u8, pan: &str, pin: &str) -> String {
    let tsp = format!(
        "{}{}{}",
        &pan[pan.len() - 12..pan.len() - 1],
        pvki,
        &pin[..4]
    );
    let block: [u8; 8] = hex::decode(tsp).unwrap().try_into().unwrap();
    let out = hex::encode_upper(tdes_ecb(pvk, block, true));
    let decimal = out.chars().filter(char::is_ascii_digit);
    let letters = out
        .chars()
        .filter(|c| c.is_ascii_alphabetic())
        .map(|c| char::from(b'0' + (c as u8 - b'A')));
    decimal.chain(letters).take(4).collect()
}

#[test]
fn random_set_pins_store_the_pvv_an_independent_implementation_computes() {
    let pvk = TdesKey::new(&hex::decode(PVK).unwrap()).unwrap();
    for pvki in [0u8, 3, 6] {
        let mut f = pvv_flow(visa(pvki));
        let mut draw = rng(u64::from(pvki));
        for round in 0..8 {
            let card = CARDS[round % CARDS.len()];
            let len = 4 + (draw.next_u32() % 9) as usize;
            let digits: String = (0..len)
                .map(|_| char::from(b'0' + (draw.next_u32() % 10) as u8))
                .collect();
            f.set_pin(card.contract, &digits).unwrap();
            let stored = f.stored(card.contract);
            assert_eq!(
                stored.value.expose_str(),
                independent_pvv(&pvk, pvki, card.pan, &digits),
                "PVKI {pvki}, card {}",
                card.contract
            );
        }
    }
}

#[test]
fn a_failed_pvv_step_stores_nothing() {
    let mut f = pvv_flow(visa(1));
    // The PVK is gone from the module: the PVV step fails after the
    // translation, and the CMS must not see half a record.
    pollster::block_on(f.flow.issuer().module().destroy(&f.pvk)).unwrap();
    let before = f.flow.issuer().cms().snapshot();
    let e = f.set_pin(PSEC_CONTRACT, "4524").unwrap_err();
    assert_eq!(e.reason().http_status(), 500, "{e:?}");
    assert_ne!(e.reason(), Reason::InvalidPinBlock);
    assert_eq!(f.flow.issuer().cms().snapshot(), before);
}

#[test]
fn a_pvk_of_the_wrong_purpose_is_refused_at_configuration() {
    let module = software_module();
    let zpk = pollster::block_on(module.import_symmetric(
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        &hex::decode(PVK).unwrap(),
    ))
    .unwrap();
    let ibm_pvk = pollster::block_on(module.import_symmetric(
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinVerificationIbm3624,
        &hex::decode(PVK).unwrap(),
    ))
    .unwrap();
    let clock = ManualClock::new(T0);
    let audit = Arc::new(MemoryAudit::new());
    for key in [zpk, ibm_pvk] {
        let issuer = issuer_on(
            sandbox_cms(),
            software_module(),
            PinPolicy::default(),
            &audit,
            &clock,
        );
        let e = pollster::block_on(issuer.with_verification(key, visa(1)))
            .err()
            .unwrap();
        assert!(matches!(e, ModuleError::WrongPurpose { .. }), "{e:?}");
    }
}

#[test]
fn a_weak_decimalisation_table_is_refused_at_configuration() {
    // A table of zeros makes every natural PIN 0000: the offset would be
    // the PIN itself.
    let module = software_module();
    let pvk = pollster::block_on(module.import_symmetric(
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinVerificationIbm3624,
        &hex::decode(PVK).unwrap(),
    ))
    .unwrap();
    let clock = ManualClock::new(T0);
    let audit = Arc::new(MemoryAudit::new());
    let issuer = issuer_on(sandbox_cms(), module, PinPolicy::default(), &audit, &clock);
    let zeros = VerificationMethod::Ibm3624 {
        table: DecimalizationTable::parse("0000000000000000").unwrap(),
        validation: ValidationSource::Pan {
            start: 0,
            length: 16,
            pad: 'F',
        },
    };
    let e = pollster::block_on(issuer.with_verification(pvk, zeros))
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            ModuleError::Verification(pinset_module::verify::Error::WeakDecimalizationTable)
        ),
        "{e:?}"
    );
}
