//! Enfuce Card PIN API v3: set PIN with a temporary zone PIN key per controlId.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pinset_block::Format;
use pinset_cms::{CardContractId, CardManagement, PlasticSequence};
use std::sync::Mutex;

use pinset_envelope::{RsaPadding, RsaPublicKey};
pub use pinset_keys::ControlOperation;
use pinset_keys::{
    Clock, ControlBinding, ControlId, ControlStore, KeyRef, MemoryControlStore, MonotonicClock,
    PlasticRef, TemporaryKeys, TzpkCustody, TzpkError, ZoneKeys,
};
use pinset_module::{
    KeyAlgorithm, KeyCheck, KeyPurpose, PinSource, SecurityModule, SoftwareModule, Wrapping,
};

use crate::{AuditEvent, Detail, FlowError, Issuer, Operation, Reason};

/// Longest `auditUser` accepted.
const MAX_AUDIT_USER: usize = 64;

/// `POST /pin/v3/set/tzpk` request body. `Debug` shows the controlId's log
/// prefix only: the whole id is a bearer value while it lives.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct TzpkRequest {
    /// The controlId.
    pub control_id: String,
    /// Base64 of the device's DER SPKI RSA public key, without PEM markers.
    pub public_key: String,
}

/// `POST /pin/v3/set/tzpk` response body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TzpkResponse {
    /// Base64 of the 16-byte TDES tzpk, RSA-OAEP (SHA-256, MGF1-SHA-256) under the device's key.
    pub tzpk: String,
}

/// `POST /pin/v3/set?auditUser=…` request body. `Debug` shows the
/// controlId's log prefix and the block's length only.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = EnfuceSetPinRequest))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct SetPinRequest {
    /// The controlId.
    pub control_id: String,
    /// Base64 of the ISO format 1 block, TDES-ECB under the tzpk.
    pub pin_block: String,
}

/// The first characters of a controlId as the request carried it, for
/// `Debug`: never the whole bearer value, even when it is malformed.
fn control_prefix(text: &str) -> String {
    match ControlId::new(text) {
        Ok(id) => id.to_string(),
        Err(_) => format!("<{} chars>", text.len()),
    }
}

impl core::fmt::Debug for TzpkRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TzpkRequest")
            .field("control_id", &control_prefix(&self.control_id))
            .field("public_key_len", &self.public_key.len())
            .finish()
    }
}

impl core::fmt::Debug for SetPinRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SetPinRequest")
            .field("control_id", &control_prefix(&self.control_id))
            .field("pin_block_len", &self.pin_block.len())
            .finish()
    }
}

/// `POST /pin/v2/{plasticId}?auditUser=…` request body: a PIN block under a
/// zone PIN key issuer and device share (the pre-shared-key variant).
/// `Debug` shows the block's length only.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct PresharedSetPinRequest {
    /// The index of the pre-shared zone PIN key.
    pub zpk_index: String,
    /// Hex of the ISO format 1 block, TDES-ECB under that key.
    pub pin_block: String,
}

impl core::fmt::Debug for PresharedSetPinRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PresharedSetPinRequest")
            .field("zpk_index", &self.zpk_index)
            .field("pin_block_len", &self.pin_block.len())
            .finish()
    }
}

/// `POST /pin/v3/set` response body: `{}` with 200.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetPinResponse {}

/// What a controlId is bound to: the plastic whose PIN it sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Control {
    contract: CardContractId,
    plastic: PlasticSequence,
}

impl Control {
    /// The store's form: `contract/plastic`, for setting a PIN.
    fn binding(self) -> Result<ControlBinding, FlowError> {
        let plastic = PlasticRef::new(&format!("{}/{}", self.contract, self.plastic))
            .map_err(|_| FlowError::new(Reason::Unexpected, Detail::Internal("plastic binding")))?;
        Ok(ControlBinding {
            plastic,
            operation: ControlOperation::SetPin,
        })
    }

    /// Reads the store's form back; a record this flow did not write is refused.
    fn from_binding(binding: &ControlBinding) -> Result<Self, FlowError> {
        let bad = || {
            FlowError::new(
                Reason::Unexpected,
                Detail::Internal("a control record is not this flow's"),
            )
        };
        if binding.operation != ControlOperation::SetPin {
            return Err(bad());
        }
        let (contract, plastic) = binding
            .plastic
            .expose_str()
            .split_once('/')
            .ok_or_else(bad)?;
        Ok(Control {
            contract: contract.parse().map_err(|_| bad())?,
            plastic: plastic.parse().map_err(|_| bad())?,
        })
    }
}

/// The issuer side of Enfuce's set PIN v3.
///
/// 1. [`issue_control`](Self::issue_control): a controlId for one plastic,
///    valid 30 seconds, single use.
/// 2. [`get_tzpk`](Self::get_tzpk): a fresh 16-byte TDES key, generated in
///    the security module and wrapped there under the device's RSA key,
///    bound to the controlId.
/// 3. [`set_pin`](Self::set_pin): once the request is well-formed (auditUser,
///    controlId and base64 pinBlock), consumes the controlId whatever the
///    outcome; the module deciphers the ISO format 1 block under the tzpk,
///    checks the policy and re-enciphers it as ISO format 0 under the CMS's
///    zone PIN key, which the flow stores: 200 `{}`. The tzpk is destroyed.
///
/// A used or expired controlId answers 404. A failed set PIN changes no CMS
/// state; after a [`Reason::IntegrationError`] (the CMS or the module is
/// unavailable) the client starts again from a new controlId.
pub struct EnfuceSetPin<C, S: ControlStore = MemoryControlStore, M: SecurityModule = SoftwareModule>
{
    issuer: Issuer<C, M>,
    /// One record per controlId: its plastic, expiry and tzpk.
    controls: S,
    /// The key-encryption key tzpks travel under between instances, if set.
    tzpk_kek: Option<KeyRef>,
    /// The zone PIN keys devices may send `POST /pin/v2` blocks under.
    preshared: ZoneKeys,
    /// tzpks to destroy in the module: used, cancelled, or refused by the store.
    discarded: Mutex<Vec<KeyRef>>,
}

impl<C: CardManagement, K: Clock, M: SecurityModule> EnfuceSetPin<C, MemoryControlStore<K>, M> {
    /// The flow on `issuer`, with controlIds and tzpks living 30 s in this
    /// process on `clock` ([`with_store`](Self::with_store) shares them).
    ///
    /// `clock` measures time to live only: give it a
    /// [`MonotonicClock`] in production, so that a step of the wall clock
    /// neither expires every live control nor stretches one, and a
    /// [`ManualClock`](pinset_keys::ManualClock) in tests. Audit times and
    /// error bodies use the issuer's wall clock.
    pub fn new(issuer: Issuer<C, M>, clock: K) -> Self {
        EnfuceSetPin::with_store(issuer, TemporaryKeys::with_clock(clock))
    }

    /// Sets the controlId and tzpk lifetime.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.controls = self.controls.with_ttl(ttl);
        self
    }

    /// How many controls hold a tzpk not yet taken, and not expired.
    ///
    /// # Errors
    ///
    /// [`TzpkError::Poisoned`] if another thread panicked holding the table.
    pub fn pending_tzpks(&self) -> Result<usize, TzpkError> {
        self.controls.pending()
    }
}

impl<C: CardManagement, M: SecurityModule> EnfuceSetPin<C, MemoryControlStore, M> {
    /// The default: [`new`](EnfuceSetPin::new) on the [`MonotonicClock`].
    pub fn in_memory(issuer: Issuer<C, M>) -> Self {
        EnfuceSetPin::new(issuer, MonotonicClock)
    }
}

impl<C: CardManagement, S: ControlStore, M: SecurityModule> EnfuceSetPin<C, S, M> {
    /// The flow on `issuer`, with its controls in `store`: one several
    /// instances share (Redis), so that a controlId issued by one instance
    /// may be redeemed at another. With software modules, also set
    /// [`with_shared_tzpks`](Self::with_shared_tzpks).
    pub fn with_store(issuer: Issuer<C, M>, store: S) -> Self {
        EnfuceSetPin {
            issuer,
            controls: store,
            tzpk_kek: None,
            preshared: ZoneKeys::new(),
            discarded: Mutex::new(Vec::new()),
        }
    }

    /// Keeps each tzpk in the control store wrapped under `kek`, an AES
    /// key-encryption key every instance's module holds, instead of as a
    /// handle only the generating module knows: so that the tzpk fetched
    /// on one instance opens the PIN block on another. The generated key
    /// is exported wrapped and destroyed at once; the instance that takes
    /// the control imports it, uses it once, and destroys it.
    /// The zone PIN keys devices may send [`set_pin_preshared`](Self::set_pin_preshared)
    /// blocks under: a directory of their own, apart from the issuer's zone
    /// keys, so the CMS's storage key is never an inbound key. Empty unless
    /// set: every pre-shared request is then refused.
    pub fn with_preshared_zpks(mut self, keys: ZoneKeys) -> Self {
        self.preshared = keys;
        self
    }

    /// Keeps each tzpk in the control store wrapped under `kek`, an AES
    /// key-encryption key every instance's module holds, instead of as a
    /// handle only the generating module knows: so that the tzpk fetched
    /// on one instance opens the PIN block on another. The generated key
    /// is exported wrapped and destroyed at once; the instance that takes
    /// the control imports it, uses it once, and destroys it. Records that
    /// name a handle instead are refused then: a shared store's handle
    /// could name any key of this module.
    pub fn with_shared_tzpks(mut self, kek: KeyRef) -> Self {
        self.tzpk_kek = Some(kek);
        self
    }

    /// The issuer side (CMS, security module, zone keys, policy).
    pub fn issuer(&self) -> &Issuer<C, M> {
        &self.issuer
    }

    /// The control store.
    pub fn controls(&self) -> &S {
        &self.controls
    }

    /// Puts a tzpk nobody will use on the destroy list.
    fn discard(&self, key: KeyRef) {
        self.discarded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(key);
    }

    /// Destroys the tzpks on the destroy list, and those of controls that
    /// expired untaken. A key the module cannot destroy now stays on the
    /// list for the next call.
    async fn destroy_tzpks(&self) {
        let mut keys = std::mem::take(
            &mut *self
                .discarded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        keys.extend(self.controls.take_expired());
        for key in keys {
            if let Err(e) = self.issuer.module.destroy(&key).await
                && e.is_retryable()
            {
                self.discard(key);
            }
        }
    }

    /// How a fresh tzpk goes into the control store: its handle, or
    /// wrapped under the shared KEK (the local key then destroyed).
    async fn custody(&self, tzpk: KeyRef) -> Result<TzpkCustody, FlowError> {
        let Some(kek) = &self.tzpk_kek else {
            return Ok(TzpkCustody::Handle(tzpk));
        };
        let exported = self.issuer.module.export_wrapped(&tzpk, kek).await;
        self.discard(tzpk.clone());
        let wrapped = exported?;
        match (kek.check(), tzpk.check()) {
            (KeyCheck::Kcv(kek), KeyCheck::Kcv(kcv)) => {
                Ok(TzpkCustody::Wrapped { kek, kcv, wrapped })
            }
            _ => Err(FlowError::new(
                Reason::Unexpected,
                Detail::Internal("a tzpk or its KEK has no KCV"),
            )),
        }
    }

    /// The tzpk of a taken control, as a handle in this instance's module.
    async fn tzpk_handle(&self, custody: TzpkCustody) -> Result<KeyRef, FlowError> {
        let unexpected = |what| FlowError::new(Reason::Unexpected, Detail::Internal(what));
        // Only a 2-key TDES PIN key can be a tzpk, whatever the store says.
        custody
            .kcv()
            .map_err(|_| unexpected("a control record names no tzpk"))?;
        match custody {
            TzpkCustody::Handle(_) if self.tzpk_kek.is_some() => {
                Err(unexpected("a shared control record names a handle"))
            }
            TzpkCustody::Handle(key) => Ok(key),
            TzpkCustody::Wrapped { kek, kcv, wrapped } => {
                let ours = self
                    .tzpk_kek
                    .as_ref()
                    .filter(|k| k.check() == KeyCheck::Kcv(kek))
                    .ok_or_else(|| {
                        FlowError::new(
                            Reason::Unexpected,
                            Detail::Internal("a tzpk is wrapped under another KEK"),
                        )
                    })?;
                let key = self
                    .issuer
                    .module
                    .import_wrapped(
                        Wrapping::AesKeyWrap { kek: ours },
                        KeyAlgorithm::Tdes2,
                        KeyPurpose::PinEncryption,
                        &wrapped,
                    )
                    .await?;
                if key.check() != KeyCheck::Kcv(kcv) {
                    self.discard(key);
                    return Err(FlowError::new(
                        Reason::Unexpected,
                        Detail::Internal("a tzpk does not match its KCV"),
                    ));
                }
                Ok(key)
            }
        }
    }

    fn not_found(what: &'static str) -> FlowError {
        FlowError::new(Reason::ControlNotFound, Detail::Control(what))
    }

    /// Issues a controlId to set the PIN of one plastic, after checking that
    /// the contract and plastic allow it.
    pub async fn issue_control(
        &self,
        contract: CardContractId,
        plastic: PlasticSequence,
        operation: ControlOperation,
    ) -> Result<ControlId, FlowError> {
        // The only operation this flow serves; the store records it.
        if operation != ControlOperation::SetPin {
            return Err(FlowError::request("operation"));
        }
        let mut event = self.issuer.attempt(Operation::EnfuceIssueControl);
        let result = async {
            self.issuer
                .target(contract, None, Some(plastic), &mut event)
                .await?;
            let id = self.issuer.with_rng(ControlId::generate)?;
            self.controls
                .open(&id, Control { contract, plastic }.binding()?)
                .await
                .map_err(tzpk_error)?;
            event.control = Some(id.to_string());
            Ok(id)
        }
        .await;
        event.finish(result)
    }

    /// `POST /pin/v3/set/tzpk`: the security module generates a fresh tzpk
    /// and wraps it for the device's key (RSA-OAEP SHA-256); the control
    /// keeps its handle.
    ///
    /// # Errors
    ///
    /// [`Reason::RequestValidation`] for a malformed controlId or public
    /// key, [`Reason::ControlNotFound`] for a control that is not open, and
    /// [`Reason::IntegrationError`] if the module is unavailable.
    pub async fn get_tzpk(&self, request: &TzpkRequest) -> Result<TzpkResponse, FlowError> {
        let mut event = self.issuer.attempt(Operation::EnfuceGetTzpk);
        let result = async {
            let control_id =
                ControlId::new(&request.control_id).map_err(|_| FlowError::request("controlId"))?;
            event.control = Some(control_id.to_string());
            let device_key = RsaPublicKey::from_base64(&request.public_key)
                .map_err(|e| FlowError::new(Reason::RequestValidation, e))?;
            // An id that is not open costs no key generation.
            let control = self
                .controls
                .binding(&control_id)
                .await
                .map_err(tzpk_error)?;
            let control = Control::from_binding(&control)?;
            event.contract = Some(control.contract);
            event.plastic = Some(control.plastic);
            let (tzpk, for_device) = self
                .issuer
                .module
                .generate_tzpk(&device_key, RsaPadding::OaepSha256)
                .await?;
            let custody = self.custody(tzpk).await?;
            let handle = custody.handle().cloned();
            match self.controls.attach(&control_id, custody).await {
                Ok(_) => Ok(TzpkResponse {
                    tzpk: BASE64.encode(for_device),
                }),
                Err(e) => {
                    // Spent or expired meanwhile: the key is nobody's.
                    if let Some(handle) = handle {
                        self.discard(handle);
                    }
                    Err(tzpk_error(e))
                }
            }
        }
        .await;
        self.destroy_tzpks().await;
        event.finish(result)
    }

    /// `POST /pin/v3/set?auditUser=…`: sets the PIN. A malformed request is
    /// refused with 400 and leaves the controlId alone; any well-formed
    /// request consumes it, whatever its outcome, so a PIN block can be tried
    /// once per controlId.
    pub async fn set_pin(
        &self,
        request: &SetPinRequest,
        audit_user: &str,
    ) -> Result<SetPinResponse, FlowError> {
        let mut event = self.issuer.attempt(Operation::EnfuceSetPin);
        let result = self.run(request, audit_user, &mut event).await;
        event.finish(result)
    }

    /// `POST /pin/v2/{plasticId}?auditUser=…`: sets the PIN of `plastic` of
    /// `contract` from an ISO format 1 block under a pre-shared zone PIN key
    /// (`zpkIndex`, one of [`with_preshared_zpks`](Self::with_preshared_zpks),
    /// never the CMS's own). The
    /// module translates it to format 0 under the CMS's ZPK: 200 `{}`. No
    /// controlId: the pre-shared key is the device's credential, so it
    /// should be one per device or per session, never the CMS's own ZPK.
    ///
    /// # Errors
    ///
    /// [`Reason::RequestValidation`] for a malformed auditUser, zpkIndex or
    /// block, or an index that names no PIN key; the CMS's refusals;
    /// [`Reason::InvalidPinBlock`], [`Reason::PinPolicy`] and
    /// [`Reason::IntegrationError`] as for [`set_pin`](Self::set_pin).
    pub async fn set_pin_preshared(
        &self,
        contract: CardContractId,
        plastic: PlasticSequence,
        request: &PresharedSetPinRequest,
        audit_user: &str,
    ) -> Result<SetPinResponse, FlowError> {
        let mut event = self.issuer.attempt(Operation::EnfuceSetPinPreshared);
        let result = async {
            check_audit_user(audit_user)?;
            event.audit_user = Some(audit_user.to_owned());
            let index = pinset_keys::ZpkIndex::new(&request.zpk_index)
                .map_err(|_| FlowError::request("zpkIndex"))?;
            let block: [u8; 8] = (request.pin_block.len() == 16)
                .then(|| hex::decode(&request.pin_block).ok())
                .flatten()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| FlowError::request("pinBlock"))?;
            // Only a key registered for devices, never the CMS's own.
            if index == self.issuer.cms_zpk {
                return Err(FlowError::request("zpkIndex"));
            }
            let key = self
                .preshared
                .pin_key(&index)
                .map_err(|_| FlowError::request("zpkIndex"))?;
            let target = self
                .issuer
                .target(contract, None, Some(plastic), &mut event)
                .await?;
            let source = PinSource::Symmetric {
                key: &key,
                format: Format::Iso1,
                block: &block,
            };
            let (pin_block, zpk) = self.issuer.translate(&target, source).await?;
            self.issuer.store(&target, pin_block, &zpk).await?;
            Ok(SetPinResponse {})
        }
        .await;
        event.finish(result)
    }

    async fn run(
        &self,
        request: &SetPinRequest,
        audit_user: &str,
        event: &mut AuditEvent,
    ) -> Result<SetPinResponse, FlowError> {
        check_audit_user(audit_user)?;
        event.audit_user = Some(audit_user.to_owned());
        let control_id =
            ControlId::new(&request.control_id).map_err(|_| FlowError::request("controlId"))?;
        event.control = Some(control_id.to_string());
        if request.pin_block.len() > 64 {
            return Err(FlowError::request("pinBlock"));
        }
        let block = BASE64
            .decode(&request.pin_block)
            .map_err(|_| FlowError::request("pinBlock"))?;

        // Consume first: from here on, this controlId is spent.
        let (control, tzpk) = self.controls.take(&control_id).await.map_err(tzpk_error)?;
        let control = Control::from_binding(&control)?;
        event.contract = Some(control.contract);
        event.plastic = Some(control.plastic);
        let tzpk = tzpk.ok_or_else(|| Self::not_found("no tzpk was fetched for it"))?;
        let tzpk = self.tzpk_handle(tzpk).await?;
        // The key goes to the destroy list when this request ends, even if
        // it is cancelled midway.
        let guard = DiscardOnDrop {
            flow: self,
            key: tzpk.clone(),
        };
        let result = async {
            let target = self
                .issuer
                .target(control.contract, None, Some(control.plastic), event)
                .await?;
            let source = PinSource::Symmetric {
                key: &tzpk,
                format: Format::Iso1,
                block: &block,
            };
            let (pin_block, zpk) = self.issuer.translate(&target, source).await?;
            self.issuer.store(&target, pin_block, &zpk).await
        }
        .await;
        // Single use: the key goes whatever the outcome.
        drop(guard);
        self.destroy_tzpks().await;
        result.map(|_| SetPinResponse {})
    }

    /// The Enfuce error body for `error`, with a fresh error id and the
    /// current time on the issuer's (wall) clock.
    #[cfg(feature = "serde")]
    pub fn error_body(&self, error: &FlowError) -> crate::wire::EnfuceErrorBody {
        let id = self
            .issuer
            .with_rng(|rng| ControlId::generate(rng).as_str().to_owned())
            .unwrap_or_default();
        crate::wire::EnfuceErrorBody::new(error, id, self.issuer.clock.now())
    }
}

/// Enfuce's `auditUser`: 1 to 64 visible ASCII characters.
fn check_audit_user(audit_user: &str) -> Result<(), FlowError> {
    if audit_user.is_empty()
        || audit_user.len() > MAX_AUDIT_USER
        || !audit_user.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(FlowError::request("auditUser"));
    }
    Ok(())
}

fn tzpk_error(e: TzpkError) -> FlowError {
    let reason = match e {
        TzpkError::Unknown(_)
        | TzpkError::Expired { .. }
        | TzpkError::AlreadyUsed(_)
        | TzpkError::PlasticMismatch(_)
        | TzpkError::NotIssued(_)
        | TzpkError::DuplicateControlId(_) => Reason::ControlNotFound,
        TzpkError::Unavailable { .. } => Reason::IntegrationError,
        _ => Reason::Unexpected,
    };
    FlowError::new(reason, e)
}

/// Puts a taken tzpk on the destroy list when dropped: at the end of its
/// request, or when the request is cancelled midway.
struct DiscardOnDrop<'a, C, S: ControlStore, M: SecurityModule> {
    flow: &'a EnfuceSetPin<C, S, M>,
    key: KeyRef,
}

impl<C, S: ControlStore, M: SecurityModule> Drop for DiscardOnDrop<'_, C, S, M> {
    fn drop(&mut self) {
        self.flow
            .discarded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(self.key.clone());
    }
}
