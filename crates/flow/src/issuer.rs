//! What both flows share: the CMS, the security module, the zone PIN key
//! the CMS expects, the PIN policy, the audit sink, the clock and the RNG.

use std::sync::{Arc, Mutex};

use chacha20::ChaCha20Rng;
use pinset_block::{Format, Pan};
use pinset_cms::{
    CardContractId, CardManagement, CmsError, ExpiryDate, PinVerificationRecord, PlasticSequence,
    StorePin, StorePinOutcome, select_plastic,
};
use pinset_envelope::EncryptedPinBlock;
use pinset_keys::{Clock, KeyRef, SystemClock, ZoneKeys, ZpkIndex};
use pinset_module::verify::VerificationMethod;
use pinset_module::{
    GenerateVerificationValue, KeyAlgorithm, KeyCheck, PinSource, SecurityModule, SoftwareModule,
    TranslatePin, verification_purpose,
};
use rand_core::{SeedableRng, TryRng};

use crate::{AuditEvent, AuditSink, FlowError, NoAudit, Operation, PinPolicy, Reason};

/// The issuer side both flows run on: the CMS, and the security module
/// (`M`, [`SoftwareModule`] unless set) that holds every key and in which
/// every PIN block is translated. The flows hold key handles only.
///
/// ```
/// use pinset_cms::MemoryCms;
/// use pinset_flow::Issuer;
/// use pinset_keys::{KeyPurpose, ZoneKeys, ZpkIndex};
/// use pinset_module::{KeyAlgorithm, SecurityModule, SoftwareModule};
///
/// # pollster::block_on(async {
/// let module = SoftwareModule::new()?;
/// let handle = module.import_symmetric(KeyAlgorithm::Tdes3, KeyPurpose::PinEncryption, &hex::decode("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")?).await?;
/// let zone = ZoneKeys::new();
/// let zpk = ZpkIndex::new("ZPK-CMS")?;
/// zone.insert(zpk.clone(), handle)?;
/// let issuer = Issuer::new(MemoryCms::new(), module, zone, zpk)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Issuer<C, M = SoftwareModule> {
    pub(crate) cms: C,
    pub(crate) module: M,
    pub(crate) zone: ZoneKeys,
    pub(crate) cms_zpk: ZpkIndex,
    pub(crate) policy: PinPolicy,
    pub(crate) audit: Arc<dyn AuditSink>,
    pub(crate) clock: Arc<dyn Clock>,
    verification: Option<Verification>,
    rng: Mutex<ChaCha20Rng>,
}

/// The PIN verification value a flow hands the CMS beside the block.
struct Verification {
    pvk: KeyRef,
    method: VerificationMethod,
}

/// The OS random source could not seed the flow's generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random source failed")]
pub struct RngUnavailable;

impl<C: CardManagement, M: SecurityModule> Issuer<C, M> {
    /// An issuer on `cms` and `module`, storing PINs as ISO format 0 under
    /// the zone PIN key `cms_zpk` (a handle in `zone` to a key in
    /// `module`), with the default policy, no audit and the system clock.
    ///
    /// The generator (ChaCha20, for controlIds and error ids) is seeded once
    /// from the OS.
    ///
    /// # Errors
    ///
    /// [`RngUnavailable`] if the OS random source fails.
    pub fn new(
        cms: C,
        module: M,
        zone: ZoneKeys,
        cms_zpk: ZpkIndex,
    ) -> Result<Self, RngUnavailable> {
        let mut seed = [0u8; 32];
        getrandom::SysRng
            .try_fill_bytes(&mut seed)
            .map_err(|_| RngUnavailable)?;
        Ok(Self::with_rng_seed(cms, module, zone, cms_zpk, seed))
    }

    /// As [`new`](Self::new), with a fixed generator seed: for reproducible tests only.
    pub fn with_rng_seed(
        cms: C,
        module: M,
        zone: ZoneKeys,
        cms_zpk: ZpkIndex,
        seed: [u8; 32],
    ) -> Self {
        Issuer {
            cms,
            module,
            zone,
            cms_zpk,
            policy: PinPolicy::default(),
            audit: Arc::new(NoAudit),
            clock: Arc::new(SystemClock),
            verification: None,
            rng: Mutex::new(ChaCha20Rng::from_seed(seed)),
        }
    }

    /// Sets the PIN policy.
    pub fn with_policy(mut self, policy: PinPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the audit sink.
    pub fn with_audit(mut self, audit: impl AuditSink + 'static) -> Self {
        self.audit = Arc::new(audit);
        self
    }

    /// Sets the clock used for audit times (key TTLs use the key stores' own clocks).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Has every set PIN also deliver the PIN's verification value (a
    /// Visa PVV or an IBM 3624 offset) to the CMS, computed inside the
    /// security module from the stored block under the PVK `pvk`, in
    /// [`StorePin::verification`]. Binds `method` to `pvk` in the module
    /// ([`SecurityModule::bind_verification_method`]), so the key computes
    /// by this method only.
    ///
    /// # Errors
    ///
    /// [`ModuleError::WrongPurpose`](pinset_module::ModuleError::WrongPurpose)
    /// if `pvk` is not tagged for `method` (a Visa PVK never computes IBM
    /// 3624 offsets), [`ModuleError::WrongAlgorithm`](pinset_module::ModuleError::WrongAlgorithm)
    /// unless it is TDES, and what the module's binding refuses (a weak
    /// decimalisation table, another method already bound).
    pub async fn with_verification(
        mut self,
        pvk: KeyRef,
        method: VerificationMethod,
    ) -> Result<Self, pinset_module::ModuleError> {
        pvk.require_purpose(verification_purpose(&method))?;
        if !matches!(pvk.algorithm(), KeyAlgorithm::Tdes2 | KeyAlgorithm::Tdes3) {
            return Err(pinset_module::ModuleError::WrongAlgorithm {
                algorithm: pvk.algorithm(),
                what: "verify PINs (PIN verification keys are TDES)",
            });
        }
        self.module.bind_verification_method(&pvk, &method).await?;
        self.verification = Some(Verification { pvk, method });
        Ok(self)
    }

    /// The CMS, for inspection.
    pub fn cms(&self) -> &C {
        &self.cms
    }

    /// The security module.
    pub fn module(&self) -> &M {
        &self.module
    }

    /// The zone PIN keys.
    pub fn zone_keys(&self) -> &ZoneKeys {
        &self.zone
    }

    pub(crate) fn with_rng<T>(
        &self,
        f: impl FnOnce(&mut ChaCha20Rng) -> T,
    ) -> Result<T, FlowError> {
        let mut rng = self.rng.lock().map_err(|_| {
            FlowError::new(
                Reason::Unexpected,
                crate::Detail::Internal("RNG lock poisoned"),
            )
        })?;
        Ok(f(&mut rng))
    }

    /// Starts the audit record of one attempt. It is recorded exactly once:
    /// by [`Attempt::finish`] with the outcome, or on drop as `CANCELLED`.
    pub(crate) fn attempt(&self, operation: Operation) -> Attempt<'_> {
        Attempt {
            sink: self.audit.as_ref(),
            event: Some(AuditEvent::new(self.clock.now(), operation)),
        }
    }

    /// Finds the plastic to set: contract open, plastic matching, not blocked
    /// or expired. Only reads the CMS.
    pub(crate) async fn target(
        &self,
        contract: CardContractId,
        expiry: Option<ExpiryDate>,
        sequence: Option<PlasticSequence>,
        event: &mut AuditEvent,
    ) -> Result<Target, FlowError> {
        event.contract = Some(contract);
        self.cms.contract_state(contract).await?.check_set_pin()?;
        let plastics = self.cms.plastics(contract).await?;
        let plastic = match expiry {
            Some(expiry) => select_plastic(&plastics, expiry, sequence),
            None => plastics.iter().find(|p| Some(p.sequence) == sequence),
        }
        .ok_or(CmsError::PlasticNotFound)?;
        event.plastic = Some(plastic.sequence);
        let pan = self.cms.pan(contract).await?;
        event.masked_pan = Some(pan.masked());
        if !plastic.accepts_pin() {
            return Err(CmsError::OperationDenied("plastic is blocked or expired").into());
        }
        Ok(Target {
            contract,
            plastic: plastic.sequence,
            pan,
        })
    }

    /// Translates the PIN from `source` to ISO format 0 under the CMS's
    /// zone PIN key, bound to the target's PAN, with the PIN policy checked
    /// inside the security module. Returns the block and the key's handle.
    pub(crate) async fn translate(
        &self,
        target: &Target,
        source: PinSource<'_>,
    ) -> Result<(EncryptedPinBlock, KeyRef), FlowError> {
        let zpk = self
            .zone
            .pin_key(&self.cms_zpk)
            .map_err(|e| FlowError::new(Reason::Unexpected, e))?;
        let block = self
            .module
            .translate(&TranslatePin {
                source,
                destination: &zpk,
                format: Format::Iso0,
                pan: Some(&target.pan),
                policy: Some(&self.policy),
            })
            .await?;
        Ok((block, zpk))
    }

    /// Hands the CMS a PIN block the module enciphered under `zpk` (from
    /// [`translate`](Self::translate)).
    pub(crate) async fn store(
        &self,
        target: &Target,
        pin_block: EncryptedPinBlock,
        zpk: &KeyRef,
    ) -> Result<StorePinOutcome, FlowError> {
        let KeyCheck::Kcv(zpk_kcv) = zpk.check() else {
            return Err(FlowError::new(
                Reason::Unexpected,
                crate::Detail::Internal("the CMS zone PIN key has no KCV"),
            ));
        };
        let verification = match &self.verification {
            Some(v) => Some(self.verification_value(target, &pin_block, zpk, v).await?),
            None => None,
        };
        let request = StorePin {
            contract: target.contract,
            plastic: target.plastic,
            format: Format::Iso0,
            pin_block,
            zpk_index: self.cms_zpk.as_str().to_owned(),
            zpk_kcv,
            verification,
        };
        Ok(self.cms.store_pin(request).await?)
    }
}

impl<C: CardManagement, M: SecurityModule> Issuer<C, M> {
    /// The PVV or offset of the PIN in the format 0 block under `zpk`,
    /// computed inside the module.
    async fn verification_value(
        &self,
        target: &Target,
        pin_block: &EncryptedPinBlock,
        zpk: &KeyRef,
        verification: &Verification,
    ) -> Result<PinVerificationRecord, FlowError> {
        let KeyCheck::Kcv(pvk_kcv) = verification.pvk.check() else {
            return Err(FlowError::new(
                Reason::Unexpected,
                crate::Detail::Internal("the PIN verification key has no KCV"),
            ));
        };
        let value = self
            .module
            .generate_verification_value(&GenerateVerificationValue {
                source: PinSource::Symmetric {
                    key: zpk,
                    format: Format::Iso0,
                    block: pin_block.as_bytes(),
                },
                pan: &target.pan,
                pvk: &verification.pvk,
                method: &verification.method,
            })
            .await?;
        Ok(PinVerificationRecord {
            method: verification.method.clone(),
            value,
            pvk_kcv,
        })
    }
}

/// The audit event of one attempt in progress. Dropped unfinished (the
/// caller's future was cancelled mid-flight), it records itself with the
/// outcome [`AuditEvent::CANCELLED`]: a PIN may have been stored, and the audit trail
/// must say that an attempt was made.
pub(crate) struct Attempt<'a> {
    sink: &'a dyn AuditSink,
    event: Option<AuditEvent>,
}

impl Attempt<'_> {
    /// Records the event with the outcome of `result`, and passes `result` on.
    pub(crate) fn finish<T>(mut self, result: Result<T, FlowError>) -> Result<T, FlowError> {
        if let Some(mut event) = self.event.take() {
            if let Err(e) = &result {
                event.outcome = e.reason().code();
            }
            self.sink.record(event);
        }
        result
    }
}

/// Never read: `Attempt::event` is `None` only inside `finish` and `drop`,
/// after which no one can deref the attempt. It spares a panic path.
static UNREACHABLE: AuditEvent = AuditEvent::new(
    pinset_keys::Timestamp::UNIX_EPOCH,
    Operation::MastercardSetPin,
);

impl std::ops::Deref for Attempt<'_> {
    type Target = AuditEvent;

    fn deref(&self) -> &AuditEvent {
        self.event.as_ref().unwrap_or(&UNREACHABLE)
    }
}

impl std::ops::DerefMut for Attempt<'_> {
    fn deref_mut(&mut self) -> &mut AuditEvent {
        self.event.get_or_insert_with(|| UNREACHABLE.clone())
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if let Some(mut event) = self.event.take() {
            event.outcome = AuditEvent::CANCELLED;
            self.sink.record(event);
        }
    }
}

/// The plastic a set PIN is for.
pub(crate) struct Target {
    pub(crate) contract: CardContractId,
    pub(crate) plastic: PlasticSequence,
    pub(crate) pan: Pan,
}
