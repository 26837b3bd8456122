//! Both set-PIN flows set up once over the reference CMS, and the drivers
//! the `flow_requests` (whole path, RSA included) and `flow_parsing`
//! (request parsing and validation, no RSA private-key operation) targets
//! share.
//!
//! Input: two flag bytes, then fields separated by `|`: contract id,
//! Key-Index, newPinBlock, cardExpiryDate, cardSequenceNumber, Enfuce
//! controlId, Enfuce pinBlock, auditUser. Missing fields are empty.
//!
//! Invariants: no panic; a refusal has a 4xx/5xx status, prints and
//! serialises, changes no CMS state, and every undecryptable block gives
//! the one INVALID_PIN_BLOCK body; every attempt writes one audit event,
//! which holds no full PAN.
//!
//! Every key lives in a software security module, one per flow; the ring,
//! the zone directories and the flows hold handles.
//!
//! Vectors: Mastercard Processing sandbox card 70001, key index and ZPK
//! (shared/vectors/iso9564.json, `mastercard_sandbox`); RSA keys from
//! crates/envelope/tests/data/.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pinset_block::{Format, Pan, Pin};
use pinset_cms::{ContractState, MemoryCms, PlasticStatus};
use pinset_envelope::{PinKey, RsaPadding, RsaPrivateKey, TdesKey};
use pinset_flow::enfuce::{ControlOperation, SetPinRequest as EnfuceRequest, TzpkRequest};
use pinset_flow::mastercard::SetPinRequest;
use pinset_flow::wire::MastercardErrorBody;
use pinset_flow::{
    AuditEvent, AuditSink, EnfuceSetPin, FlowError, Issuer, MastercardPanless, Reason,
};
use pinset_keys::{
    KeyIndex, KeyPurpose, ManualClock, MemoryControlStore, MemoryKeyStore, NewKey, RsaKeyRing,
    Timestamp, ZoneKeys, ZpkIndex,
};
use pinset_module::{KeyAlgorithm, SecurityModule, SoftwareModule};

use crate::rng_for;

/// Mastercard Processing sandbox (shared/vectors/iso9564.json).
const KEY_INDEX: &str = "A1564386531162";
const ZPK: [u8; 24] = [
    0xF9, 0x4B, 0x8C, 0xD6, 0x2A, 0x20, 0xB8, 0x5A, 0xA9, 0xB8, 0xE0, 0x6D, 0xB6, 0xB0, 0xBA, 0x67,
    0x85, 0xEC, 0x02, 0x9C, 0xB6, 0x04, 0xE8, 0x61,
];
const CARD_PAN: &str = "5141576351968605";
/// Full-PAN shared ZPK: crates/envelope/tests/data/README.md, `tdes_key.bin`.
const SHARED_ZPK: [u8; 16] = [
    0x5A, 0xFE, 0x40, 0x6A, 0x9B, 0xEF, 0x03, 0xF9, 0x79, 0xDC, 0x56, 0xFB, 0x8D, 0xA0, 0x6B, 0xDF,
];

/// Counts events and checks each one holds no full PAN.
#[derive(Default)]
pub struct CountingAudit(AtomicUsize);

impl AuditSink for CountingAudit {
    fn record(&self, event: AuditEvent) {
        if let Some(masked) = event.masked_pan {
            assert!(masked.as_str().contains('*'), "audit holds an unmasked PAN");
        }
        assert!(!format!("{event:?}").contains(CARD_PAN));
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The flows and what the drivers need, built once per process.
pub struct Setup {
    mp: MastercardPanless<MemoryCms, MemoryKeyStore, ManualClock>,
    enfuce: EnfuceSetPin<MemoryCms, MemoryControlStore<ManualClock>>,
    mp_audit: Arc<CountingAudit>,
    enfuce_audit: Arc<CountingAudit>,
    clock: ManualClock,
    device: RsaPrivateKey,
    /// A valid cryptogram of PIN 7580 under the key index, to reach the CMS.
    good_block: String,
    /// A valid ISO format 0 block of PIN 7580 under the shared ZPK (no RSA).
    good_iso0: String,
    invalid_body: String,
}

fn cms() -> MemoryCms {
    let cms = MemoryCms::new();
    let pan = Pan::new(CARD_PAN).expect("PAN");
    for (id, state, status) in [
        ("70001", ContractState::OPEN, PlasticStatus::Locked),
        ("70002", ContractState::OPEN, PlasticStatus::Blocked),
        (
            "70003",
            ContractState {
                status_code: *b"05",
                production: pinset_cms::ProductionStatus::Ready,
            },
            PlasticStatus::Active,
        ),
    ] {
        let id = id.parse().expect("contract");
        cms.add_contract(id, pan.clone(), state);
        cms.add_plastic(
            id,
            "1".parse().expect("seq"),
            "2812".parse().expect("exp"),
            status,
        );
        cms.add_plastic(
            id,
            "2".parse().expect("seq"),
            "2812".parse().expect("exp"),
            status,
        );
    }
    cms
}

/// A PIN-encryption TDES key imported into `module`.
fn tdes_handle(module: &SoftwareModule, key: &[u8]) -> pinset_keys::KeyRef {
    let algorithm = KeyAlgorithm::symmetric(key.len(), false).expect("TDES length");
    pollster::block_on(module.import_symmetric(algorithm, KeyPurpose::PinEncryption, key))
        .expect("ZPK")
}

/// An issuer on `module`, whose zone holds the CMS ZPK and the shared ZPK.
fn issuer(
    module: SoftwareModule,
    audit: &Arc<CountingAudit>,
    clock: &ManualClock,
) -> Issuer<MemoryCms> {
    let zone = ZoneKeys::new();
    let cms_zpk = ZpkIndex::new("ZPK-CMS").expect("index");
    zone.insert(cms_zpk.clone(), tdes_handle(&module, &ZPK))
        .expect("insert");
    zone.insert(
        ZpkIndex::new("ZPK-SHARED").expect("index"),
        tdes_handle(&module, &SHARED_ZPK),
    )
    .expect("insert");
    Issuer::with_rng_seed(cms(), module, zone, cms_zpk, [0x42; 32])
        .with_audit(Arc::clone(audit))
        .with_clock(clock.clone())
}

/// The one setup of this process.
pub fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let clock = ManualClock::new(Timestamp::from_unix_secs(1_700_000_000));
        let mp_audit = Arc::new(CountingAudit::default());
        let enfuce_audit = Arc::new(CountingAudit::default());
        // Fixed module seeds: fill digits and tzpks reproduce with the input.
        let mp_module = SoftwareModule::with_rng_seed([0x4D; 32]);
        let ring = RsaKeyRing::with_clock(clock.clone());
        let key =
            RsaPrivateKey::from_pem(include_str!("../../crates/envelope/tests/data/rsa2048.pem"))
                .expect("rsa2048.pem");
        let public = key.public_key();
        let handle = pollster::block_on(mp_module.import_rsa_private(
            KeyPurpose::PinEncryption,
            &key.to_pkcs8_der().expect("PKCS#8"),
        ))
        .expect("import");
        drop(key);
        let new_key = NewKey::new(
            KeyIndex::new(KEY_INDEX).expect("index"),
            handle,
            public.clone(),
        )
        .expect("handle fits");
        pollster::block_on(ring.rotate(new_key, Duration::ZERO)).expect("ring");
        let mp = MastercardPanless::new(issuer(mp_module, &mp_audit, &clock), ring)
            .with_shared_zpk(ZpkIndex::new("ZPK-SHARED").expect("index"));
        let enfuce = EnfuceSetPin::new(
            issuer(
                SoftwareModule::with_rng_seed([0x45; 32]),
                &enfuce_audit,
                &clock,
            ),
            clock.clone(),
        );
        let device = RsaPrivateKey::from_pem(include_str!(
            "../../crates/envelope/tests/data/rsa2048_other.pem"
        ))
        .expect("rsa2048_other.pem");
        let good = public
            .seal(
                Format::Iso1,
                &Pin::new("7580").expect("PIN"),
                None,
                RsaPadding::OaepSha256,
                &mut rng_for(b"good block"),
            )
            .expect("seal");
        let invalid = refusal_for_invalid_block(&mp);
        let pan = Pan::new(CARD_PAN).expect("PAN");
        let good_iso0 = PinKey::from(TdesKey::new(&SHARED_ZPK).expect("ZPK"))
            .seal(
                Format::Iso0,
                &Pin::new("7580").expect("PIN"),
                Some(&pan),
                &mut rng_for(b"good iso0"),
            )
            .expect("seal");
        Setup {
            mp,
            enfuce,
            mp_audit,
            enfuce_audit,
            clock,
            device,
            good_block: hex::encode_upper(good),
            good_iso0: hex::encode_upper(good_iso0.as_bytes()),
            invalid_body: invalid,
        }
    })
}

/// The INVALID_PIN_BLOCK body, as the flow writes it for a 256-byte zero cryptogram.
fn refusal_for_invalid_block(
    mp: &MastercardPanless<MemoryCms, MemoryKeyStore, ManualClock>,
) -> String {
    let body = SetPinRequest {
        new_pin_block: "00".repeat(256),
        card_expiry_date: "2812".into(),
        card_sequence_number: None,
    };
    let e = pollster::block_on(mp.set_pin("70001", Some(KEY_INDEX), &body))
        .expect_err("zeros are no cryptogram");
    assert_eq!(e.reason(), Reason::InvalidPinBlock);
    MastercardErrorBody::new(&e).to_json()
}

fn check_refusal(e: &FlowError, invalid_body: &str) {
    assert!(matches!(e.http_status(), 400 | 403 | 404 | 500), "{e:?}");
    let _ = format!("{e} {e:?} {:?}", e.detail());
    let body = MastercardErrorBody::new(e).to_json();
    assert!(body.starts_with("{\"Errors\":{\"Error\":[{"));
    if e.reason() == Reason::InvalidPinBlock {
        assert_eq!(body, invalid_body, "INVALID_PIN_BLOCK bodies differ");
    }
}

fn text(field: Option<&[u8]>) -> String {
    String::from_utf8_lossy(field.unwrap_or_default()).into_owned()
}

/// TDES-ECB of any 8 bytes under `key`, from `des`: the device mode sends
/// clear blocks pinset would refuse to encipher, so that the flow's decoder
/// sees them.
fn raw_tdes_encrypt(key: &TdesKey, mut block: [u8; 8]) -> [u8; 8] {
    use cipher::{BlockCipherEncrypt, KeyInit};
    let bytes = key.expose_bytes();
    let buf = (&mut block).into();
    match bytes.len() {
        16 => des::TdesEde2::new_from_slice(bytes)
            .expect("2-key tzpk")
            .encrypt_block(buf),
        _ => des::TdesEde3::new_from_slice(bytes)
            .expect("3-key")
            .encrypt_block(buf),
    }
    block
}

/// Whether a run may reach the RSA private-key operation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Rsa {
    /// The whole path: device cryptograms are opened, tzpks unwrapped.
    Included,
    /// Parsing and validation only, no RSA at all: about 2 ms of RSA per
    /// input is what made the whole-path target run at 32 inputs a second.
    /// Enfuce controls are issued but get no tzpk, so a set stops at the
    /// tzpk lookup; the TDES decode and store path runs through the
    /// Mastercard full-PAN request instead.
    Excluded,
}

/// Runs one input through both flows and checks every invariant.
pub fn run(data: &[u8], rsa: Rsa) {
    let [f1, f2, rest @ ..] = data else {
        return;
    };
    let (f1, f2) = (*f1, *f2);
    let s = setup();
    let mut fields = rest.split(|b| *b == b'|');
    let contract = text(fields.next());
    let key_index = text(fields.next());
    let new_pin_block = fields.next().unwrap_or_default();
    let expiry = text(fields.next());
    let sequence = text(fields.next());
    let control_id = text(fields.next());
    let pin_block = fields.next().unwrap_or_default();
    let audit_user = text(fields.next());

    // ---- Mastercard Processing
    let mut request = SetPinRequest {
        new_pin_block: match f1 & 0b11 {
            0 => s.good_block.clone(),
            1 => hex::encode_upper(new_pin_block),
            _ => text(Some(new_pin_block)),
        },
        card_expiry_date: if f1 & 0b100 == 0 {
            "2812".into()
        } else {
            expiry
        },
        card_sequence_number: match (f1 >> 3) & 0b11 {
            0 => None,
            1 => Some("1".into()),
            _ => Some(sequence),
        },
    };
    let contract = if f1 & 0b10_0000 == 0 {
        "70001".into()
    } else {
        contract
    };
    let key_index = match f1 >> 6 {
        0 | 1 => Some(KEY_INDEX.to_owned()),
        2 => None,
        _ => Some(key_index),
    };
    if rsa == Rsa::Excluded {
        if key_index.is_none() && f1 & 0b11 == 0 {
            // The full-PAN path's own good block: ISO 0 under the shared ZPK.
            request.new_pin_block = s.good_iso0.clone();
        } else if key_index.is_some() {
            // A block of the modulus length would reach the private-key
            // operation: cut it by a byte, so parsing is all that runs.
            match hex::decode(&request.new_pin_block) {
                Ok(bytes) if bytes.len() == 256 => {
                    request.new_pin_block = hex::encode_upper(&bytes[1..]);
                }
                _ => {}
            }
        }
    }
    let before = s.mp.issuer().cms().snapshot();
    let events = s.mp_audit.0.load(Ordering::SeqCst);
    match pollster::block_on(s.mp.set_pin(&contract, key_index.as_deref(), &request)) {
        Ok(done) => {
            assert_eq!(done.http_status, 204);
            // Drained after each success, so snapshots stay small.
            assert_eq!(s.mp.issuer().cms().take_emv_scripts().len(), 1);
        }
        Err(e) => {
            check_refusal(&e, &s.invalid_body);
            assert!(
                s.mp.issuer().cms().snapshot() == before,
                "a refusal changed the CMS"
            );
        }
    }
    assert_eq!(s.mp_audit.0.load(Ordering::SeqCst), events + 1);

    // ---- Enfuce
    s.clock.advance(Duration::from_secs(1));
    let real = f2 & 0b11 != 0;
    let mut tzpk: Option<TdesKey> = None;
    let control_id = if real {
        let control = pollster::block_on(s.enfuce.issue_control(
            "70001".parse().expect("contract"),
            "1".parse().expect("seq"),
            ControlOperation::SetPin,
        ))
        .expect("control for an open plastic");
        // Wrapping a tzpk is an RSA operation too (public key, but the
        // bulk of the parsing target's time): only the whole path does it.
        if f2 & 0b10 != 0 && rsa == Rsa::Included {
            let response = pollster::block_on(s.enfuce.get_tzpk(&TzpkRequest {
                control_id: control.as_str().to_owned(),
                public_key: s.device.public_key().to_base64(),
            }))
            .expect("tzpk for a fresh control");
            // Unwrapping is the device's RSA private-key operation.
            if f2 & 0b1 != 0 && rsa == Rsa::Included {
                let wrapped = BASE64.decode(&response.tzpk).expect("base64");
                tzpk = Some(
                    pinset_envelope::rsa::unwrap_tdes_key(
                        &s.device,
                        RsaPadding::OaepSha256,
                        &wrapped,
                    )
                    .expect("device unwraps"),
                );
            }
        }
        control.as_str().to_owned()
    } else {
        control_id
    };
    let pin_block = match (tzpk, (f2 >> 2) & 0b11) {
        // Device mode: the input's first 8 bytes are the clear block.
        (Some(key), _) => {
            let mut clear = [0u8; 8];
            for (c, b) in clear.iter_mut().zip(pin_block) {
                *c = *b;
            }
            BASE64.encode(raw_tdes_encrypt(&key, clear))
        }
        (None, 0) => BASE64.encode(pin_block),
        (None, _) => text(Some(pin_block)),
    };
    let audit_user = if f2 & 0b1_0000 == 0 {
        "test".into()
    } else {
        audit_user
    };
    let before = s.enfuce.issuer().cms().snapshot();
    let events = s.enfuce_audit.0.load(Ordering::SeqCst);
    let request = EnfuceRequest {
        control_id,
        pin_block,
    };
    match pollster::block_on(s.enfuce.set_pin(&request, &audit_user)) {
        Ok(_) => {
            assert_eq!(s.enfuce.issuer().cms().take_emv_scripts().len(), 1);
            // Spent: a replay is refused.
            let replay = pollster::block_on(s.enfuce.set_pin(&request, &audit_user));
            assert_eq!(
                replay.expect_err("replay").reason(),
                Reason::ControlNotFound
            );
        }
        Err(e) => {
            check_refusal(&e, &s.invalid_body);
            let body = s.enfuce.error_body(&e).to_json();
            assert!(body.contains("\"errorType\":"));
            assert!(
                s.enfuce.issuer().cms().snapshot() == before,
                "a refusal changed the CMS"
            );
            assert_eq!(s.enfuce_audit.0.load(Ordering::SeqCst), events + 1);
        }
    }
}
