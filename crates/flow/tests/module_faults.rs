//! A security module that fails (an HSM that answers `CKR_DEVICE_ERROR`, a
//! token that went away) is a back end that is unavailable: both flows
//! answer `INTEGRATION_ERROR` (500, recoverable), never an invalid PIN
//! block; nothing is stored, one audit event is written, and once the
//! module answers again the same service recovers, with nothing rebuilt.
//! Enfuce's single-use tzpks are destroyed in the module after `set_pin`.
//!
//! Vectors: Mastercard Processing sandbox card 70001 (PIN 7580, PAN
//! 5141576351968605), key index A1564386531162 and the ZPK (KCV F3BF3A) from
//! `shared/vectors/iso9564.json` (`mastercard_sandbox`); the Enfuce seed
//! block `141234AAAAAAAAAA` (PIN 1234) and `auditUser` `test` from
//! `shared/seeds/enfuce-set-pin-v3.md` ("Example flow"); RSA keys from
//! `crates/envelope/tests/data/`.

mod common;

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use pinset_envelope::{EncryptedPinBlock, RsaPadding, RsaPublicKey};
use pinset_flow::wire::MastercardErrorBody;
use pinset_flow::{Detail, FlowError, Operation, PinPolicy, Reason};
use pinset_keys::KeyRef;
use pinset_module::{
    KeyAlgorithm, KeyPurpose, ModuleError, SecurityModule, SoftwareModule, TranslatePin, Wrapping,
};

/// Card 70001's PAN (shared/vectors/iso9564.json).
const PAN_70001: &str = "5141576351968605";

// ---------------------------------------------------------------- the wrappers

/// Delegates to a real software module (the fixtures' seed), except that
/// `translate`, `generate_tzpk` and `destroy` answer `Unavailable` while
/// `fail` is set, as an HSM does when the device errs. It also keeps count
/// of what gets past the fault: the tzpk handles issued, and the destroys
/// that succeeded.
struct Module {
    inner: SoftwareModule,
    fail: AtomicBool,
    tzpks: Mutex<Vec<KeyRef>>,
    destroyed: AtomicUsize,
}

fn module() -> Module {
    Module {
        inner: software_module(),
        fail: AtomicBool::new(false),
        tzpks: Mutex::new(Vec::new()),
        destroyed: AtomicUsize::new(0),
    }
}

impl Module {
    fn set_failing(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), ModuleError> {
        if self.fail.load(Ordering::SeqCst) {
            Err(ModuleError::Unavailable {
                module: "faulty",
                reason: "CKR_DEVICE_ERROR".into(),
            })
        } else {
            Ok(())
        }
    }

    fn tzpks(&self) -> Vec<KeyRef> {
        self.tzpks.lock().unwrap().clone()
    }

    fn destroyed(&self) -> usize {
        self.destroyed.load(Ordering::SeqCst)
    }

    /// Whether the module still holds the symmetric key `key`, asked
    /// without touching it: a held symmetric key has no RSA public key
    /// (`WrongAlgorithm`), a destroyed one is unknown.
    fn holds(&self, key: &KeyRef) -> bool {
        match pollster::block_on(self.inner.rsa_public_key(key)) {
            Err(ModuleError::WrongAlgorithm { .. }) => true,
            Err(ModuleError::UnknownKey(_)) => false,
            other => panic!("unexpected answer for a tzpk: {other:?}"),
        }
    }
}

impl SecurityModule for Module {
    fn name(&self) -> &'static str {
        "faulty"
    }

    fn import_symmetric(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        material: &[u8],
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send {
        self.inner.import_symmetric(algorithm, purpose, material)
    }

    fn import_rsa_private(
        &self,
        purpose: KeyPurpose,
        der: &[u8],
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send {
        self.inner.import_rsa_private(purpose, der)
    }

    fn import_wrapped(
        &self,
        wrapping: Wrapping<'_>,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send {
        self.inner
            .import_wrapped(wrapping, algorithm, purpose, wrapped)
    }

    fn export_wrapped(
        &self,
        key: &KeyRef,
        kek: &KeyRef,
    ) -> impl Future<Output = Result<Vec<u8>, ModuleError>> + Send {
        self.inner.export_wrapped(key, kek)
    }

    fn generate_rsa(
        &self,
        bits: usize,
        purpose: KeyPurpose,
    ) -> impl Future<Output = Result<(KeyRef, RsaPublicKey), ModuleError>> + Send {
        self.inner.generate_rsa(bits, purpose)
    }

    fn rsa_public_key(
        &self,
        key: &KeyRef,
    ) -> impl Future<Output = Result<RsaPublicKey, ModuleError>> + Send {
        self.inner.rsa_public_key(key)
    }

    async fn generate_tzpk(
        &self,
        device_key: &RsaPublicKey,
        padding: RsaPadding,
    ) -> Result<(KeyRef, Vec<u8>), ModuleError> {
        self.check()?;
        let (key, wrapped) = self.inner.generate_tzpk(device_key, padding).await?;
        self.tzpks.lock().unwrap().push(key.clone());
        Ok((key, wrapped))
    }

    async fn translate(
        &self,
        request: &TranslatePin<'_>,
    ) -> Result<EncryptedPinBlock, ModuleError> {
        self.check()?;
        self.inner.translate(request).await
    }

    async fn generate_verification_value(
        &self,
        request: &pinset_module::GenerateVerificationValue<'_>,
    ) -> Result<pinset_module::verify::VerificationValue, ModuleError> {
        self.check()?;
        self.inner.generate_verification_value(request).await
    }

    async fn destroy(&self, key: &KeyRef) -> Result<(), ModuleError> {
        self.check()?;
        self.inner.destroy(key).await?;
        self.destroyed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

// ---------------------------------------------------------------- checks

/// The one outward answer to a failing module.
fn assert_module_unavailable(e: &FlowError) {
    assert_reason(e, Reason::IntegrationError, 500, true);
    assert_eq!(e.reason().code(), "INTEGRATION_ERROR");
    // The detail, for the issuer's log, names the module and its error.
    match e.detail() {
        Detail::Module(ModuleError::Unavailable { module, reason }) => {
            assert_eq!(*module, "faulty");
            assert_eq!(reason, "CKR_DEVICE_ERROR");
        }
        other => panic!("expected the module's Unavailable, got {other:?}"),
    }
}

/// Runs an Enfuce call that the failing module must refuse, and checks the
/// answer, the error body, that the CMS did not change and that exactly one
/// audit event of `operation` was written with the reason code.
fn enfuce_refusal<T: std::fmt::Debug>(
    enfuce: &Enfuce<Module>,
    operation: Operation,
    call: impl FnOnce() -> Result<T, FlowError>,
) -> FlowError {
    let before = enfuce.snapshot();
    let events = enfuce.audit.events().len();
    let e = refused(call());
    assert_module_unavailable(&e);
    let body = enfuce.flow.error_body(&e);
    assert_eq!(body.code, "500");
    assert_eq!(body.error_code, "INTEGRATION_ERROR");
    assert_eq!(body.error_type, "INTEGRATION_ERROR");
    assert_eq!(body.message, Reason::IntegrationError.description());
    assert_eq!(body.error_reason, Reason::IntegrationError.description());
    assert!(is_uuid(&body.id));
    assert_eq!(enfuce.snapshot(), before, "a failed module changed the CMS");
    let after = enfuce.audit.events();
    assert_eq!(after.len(), events + 1, "one audit event per attempt");
    assert_eq!(after[events].operation, operation);
    assert_eq!(after[events].outcome, "INTEGRATION_ERROR");
    e
}

// ---------------------------------------------------------------- Mastercard

#[test]
fn mastercard_module_failure_is_integration_error_and_recovers() {
    // Sandbox card 70001 under key index A1564386531162.
    let mut mp = MpConfig::default().build_on(module());
    let failed = mp_request(&mp.seal("7580", RsaPadding::OaepSha256), EXPIRY, None);

    mp.module().set_failing(true);
    let events = mp.audit.events().len();
    // `refuse` checks the reason, that the CMS snapshot is unchanged and
    // that exactly one audit event was written, with the reason code.
    let e = mp.refuse(
        "70001",
        Some(KEY_INDEX),
        &failed,
        Reason::IntegrationError,
        500,
        true,
    );
    assert_module_unavailable(&e);
    let body: MastercardErrorBody = serde_json::from_str(&mp_body(&e)).expect("JSON");
    let item = &body.errors.error[0];
    assert_eq!(item.reason_code, "INTEGRATION_ERROR");
    assert!(item.recoverable);
    assert_eq!(
        item.description,
        "A back-end system is unavailable; nothing was changed. Retry later."
    );
    let event = &mp.audit.events()[events];
    assert_eq!(event.operation, Operation::MastercardSetPin);
    assert_eq!(event.outcome, "INTEGRATION_ERROR");
    // The CMS was read before the module was asked.
    assert_eq!(
        event.masked_pan.map(|p| p.as_str().to_owned()).as_deref(),
        Some("514157******8605")
    );
    let snapshot = mp.snapshot();
    assert!(plastic_record(&snapshot, "70001", SEQ).pin.is_none());
    assert!(snapshot.emv_scripts.is_empty());

    // Still failing: a fresh cryptogram fails the same way.
    let during = mp_request(&mp.seal("7580", RsaPadding::OaepSha256), EXPIRY, None);
    let e = mp.refuse(
        "70001",
        Some(KEY_INDEX),
        &during,
        Reason::IntegrationError,
        500,
        true,
    );
    assert_module_unavailable(&e);

    // The module answers again: the same service, nothing rebuilt.
    mp.module().set_failing(false);
    let fresh = mp_request(&mp.seal("9051", RsaPadding::OaepSha256), EXPIRY, None);
    let done = mp
        .set_pin("70001", Some(KEY_INDEX), &fresh)
        .expect("fresh cryptogram after recovery");
    assert_eq!(done.http_status, 204);
    assert_stored_pin(&mp.snapshot(), "70001", SEQ, "9051", PAN_70001);

    // The module failed before the replay claim, so the failed cryptogram
    // was never spent: resent as it was, it sets its PIN.
    let done = mp
        .set_pin("70001", Some(KEY_INDEX), &failed)
        .expect("the failed cryptogram, resent");
    assert_eq!(done.http_status, 204);
    assert_stored_pin(&mp.snapshot(), "70001", SEQ, "7580", PAN_70001);
    // And now it is spent.
    mp.refuse(
        "70001",
        Some(KEY_INDEX),
        &failed,
        Reason::ReplayedPinBlock,
        400,
        false,
    );
    let outcomes: Vec<_> = mp
        .audit
        .events()
        .iter()
        .filter(|e| e.operation == Operation::MastercardSetPin)
        .map(|e| e.outcome)
        .collect();
    assert_eq!(
        outcomes,
        [
            "INTEGRATION_ERROR",
            "INTEGRATION_ERROR",
            "OK",
            "OK",
            "PIN_BLOCK_REPLAYED"
        ]
    );
}

// ---------------------------------------------------------------- Enfuce

#[test]
fn enfuce_set_pin_module_failure_is_integration_error_and_recovers() {
    // Seed example flow: block 141234AAAAAAAAAA, auditUser "test", card 70001.
    let enfuce = Enfuce::with_module(sandbox_cms(), PinPolicy::default(), module());
    let control = enfuce.control("70001", SEQ);
    let tzpk = enfuce.tzpk(&control).expect("tzpk");
    let block = encrypt_block(&tzpk, ENFUCE_SEED_BLOCK);
    assert_eq!(enfuce.flow.pending_tzpks().expect("pending"), 1);

    enfuce.module().set_failing(true);
    enfuce_refusal(&enfuce, Operation::EnfuceSetPin, || {
        enfuce.set_pin(control.as_str(), &block, ENFUCE_AUDIT_USER)
    });
    assert!(
        plastic_record(&enfuce.snapshot(), "70001", SEQ)
            .pin
            .is_none()
    );
    // The tzpk was taken, but the failing module could not destroy it yet:
    // it stays on the destroy list.
    let counting = enfuce.module();
    let first = counting.tzpks();
    assert_eq!(first.len(), 1);
    assert_eq!(enfuce.flow.pending_tzpks().expect("pending"), 0);
    assert_eq!(counting.destroyed(), 0);
    assert!(counting.holds(&first[0]));

    // The module answers again. The control was spent: the client starts
    // again from a new one, on the same service.
    enfuce.module().set_failing(false);
    let e = refused(enfuce.set_pin(control.as_str(), &block, ENFUCE_AUDIT_USER));
    assert_reason(&e, Reason::ControlNotFound, 404, false);
    let control = enfuce.control("70001", SEQ);
    let tzpk = enfuce.tzpk(&control).expect("tzpk after recovery");
    let done = enfuce
        .set_pin(
            control.as_str(),
            &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK),
            ENFUCE_AUDIT_USER,
        )
        .expect("200 after recovery");
    assert_eq!(serde_json::to_string(&done).expect("json"), "{}");
    assert_stored_pin(&enfuce.snapshot(), "70001", SEQ, ENFUCE_SEED_PIN, PAN_70001);
    // Both tzpks are gone from the module now, the one left over too.
    let all = counting.tzpks();
    assert_eq!(all.len(), 2);
    assert_eq!(counting.destroyed(), 2);
    assert!(all.iter().all(|k| !counting.holds(k)));
    assert_eq!(enfuce.flow.pending_tzpks().expect("pending"), 0);
}

#[test]
fn enfuce_get_tzpk_module_failure_is_integration_error_and_recovers() {
    let enfuce = Enfuce::with_module(sandbox_cms(), PinPolicy::default(), module());
    let control = enfuce.control("70001", SEQ);

    enfuce.module().set_failing(true);
    let e = enfuce_refusal(&enfuce, Operation::EnfuceGetTzpk, || enfuce.tzpk(&control));
    // Not a request error: the device key was good.
    assert_ne!(e.reason(), Reason::RequestValidation);
    assert_eq!(enfuce.flow.pending_tzpks().expect("pending"), 0);
    assert!(enfuce.module().tzpks().is_empty(), "no key was made");

    // The module answers again: a new control, its tzpk and the set PIN
    // succeed on the same service.
    enfuce.module().set_failing(false);
    let control = enfuce.control("70001", SEQ);
    let tzpk = enfuce.tzpk(&control).expect("tzpk after recovery");
    enfuce
        .set_pin(
            control.as_str(),
            &encrypt_block(&tzpk, ENFUCE_SEED_BLOCK),
            ENFUCE_AUDIT_USER,
        )
        .expect("200 after recovery");
    assert_stored_pin(&enfuce.snapshot(), "70001", SEQ, ENFUCE_SEED_PIN, PAN_70001);
    let outcomes: Vec<_> = enfuce
        .audit
        .events()
        .iter()
        .map(|e| (e.operation, e.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Operation::EnfuceIssueControl, "OK"),
            (Operation::EnfuceGetTzpk, "INTEGRATION_ERROR"),
            (Operation::EnfuceIssueControl, "OK"),
            (Operation::EnfuceGetTzpk, "OK"),
            (Operation::EnfuceSetPin, "OK"),
        ]
    );
}

#[test]
fn enfuce_tzpks_are_destroyed_after_every_set_pin() {
    // Success, an undecryptable block, a policy refusal and a CMS failure:
    // whatever the outcome, the tzpk is destroyed in the module.
    let enfuce = Enfuce::with_module(
        sandbox_cms(),
        PinPolicy::default().rejecting_weak_pins(true),
        module(),
    );
    let counting = enfuce.module();
    let cases: [(&str, Option<Reason>); 4] = [
        // Sandbox card 70001's PIN.
        ("147580AAAAAAAAAA", None),
        // Format 2: not format 1.
        ("241234FFFFFFFFFF", Some(Reason::InvalidPinBlock)),
        // The seed's own PIN 1234 is an ascending run.
        (ENFUCE_SEED_BLOCK, Some(Reason::PinPolicy)),
        ("147580AAAAAAAAAA", Some(Reason::IntegrationError)),
    ];
    for (n, (clear, refusal)) in cases.into_iter().enumerate() {
        let control = enfuce.control("70001", SEQ);
        let tzpk = enfuce.tzpk(&control).expect("tzpk");
        assert_eq!(enfuce.flow.pending_tzpks().expect("pending"), 1);
        let handle = counting.tzpks()[n].clone();
        assert!(counting.holds(&handle), "live while the control is");
        if refusal == Some(Reason::IntegrationError) {
            enfuce.cms().fail_next_store();
        }
        let result = enfuce.set_pin(
            control.as_str(),
            &encrypt_block(&tzpk, clear),
            ENFUCE_AUDIT_USER,
        );
        match refusal {
            None => {
                result.expect("200");
            }
            Some(reason) => assert_eq!(refused(result).reason(), reason),
        }
        assert_eq!(enfuce.flow.pending_tzpks().expect("pending"), 0);
        assert!(!counting.holds(&handle), "case {n}: the tzpk is destroyed");
        assert_eq!(counting.destroyed(), n + 1);
    }
    assert_stored_pin(&enfuce.snapshot(), "70001", SEQ, "7580", PAN_70001);
}
