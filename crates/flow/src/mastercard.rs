//! Mastercard Processing: set a PIN for a PAN-less issuer (and the full-PAN variant).

use pinset_block::Format;
use pinset_cms::{CardContractId, CardManagement, ExpiryDate, PlasticSequence, StorePinOutcome};
use pinset_keys::{
    Clock, KeyError, KeyIndex, KeyStore, MemoryKeyStore, PublicKeyForm, RsaKeyRing, SystemClock,
    ZpkIndex,
};
use pinset_module::{PinSource, SecurityModule, SoftwareModule};

use crate::replay::ReplayGuard;
use crate::{AuditEvent, FlowError, Issuer, Operation, Reason};
use crate::{MemoryReplayStore, ReplayStore};

/// How long a used RSA cryptogram is remembered by default.
pub const DEFAULT_REPLAY_WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The only `data_type_to_secure` this flow publishes keys for.
pub const PIN_BLOCK: &str = "PIN_BLOCK";

/// Longest `newPinBlock` accepted: hex of a 4096-bit cryptogram.
const MAX_PIN_BLOCK_HEX: usize = 2 * 512;

/// `GET /public-keys?data_type_to_secure=PIN_BLOCK` response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct PublicKeysResponse {
    /// The key index the device sends back in the `Key-Index` header.
    pub key_index: String,
    /// The RSA public key: hex of DER SPKI (default) or the PEM body.
    pub public_rsa_key: String,
}

/// `PUT /cards/{card_contract_id}/pin` request body. `Debug` shows the
/// block's length only: a format 0 block under the shared ZPK is
/// deterministic, so logged blocks would link equal PINs.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = MastercardSetPinRequest))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct SetPinRequest {
    /// Uppercase hex of the RSA cryptogram of an ISO format 1 block (with
    /// `Key-Index`), or of an ISO format 0 block under the shared ZPK (without).
    pub new_pin_block: String,
    /// The plastic's expiry date, YYMM.
    pub card_expiry_date: String,
    /// The plastic's sequence number; absent means the newest plastic with that expiry.
    #[cfg_attr(
        feature = "serde",
        serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "crate::wire::number_or_string"
        )
    )]
    pub card_sequence_number: Option<String>,
}

impl core::fmt::Debug for SetPinRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SetPinRequest")
            .field("new_pin_block_len", &self.new_pin_block.len())
            .field("card_expiry_date", &self.card_expiry_date)
            .field("card_sequence_number", &self.card_sequence_number)
            .finish()
    }
}

/// What a successful set PIN did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetPinOutcome {
    /// The HTTP status to answer with: 204.
    pub http_status: u16,
    /// What the CMS did.
    pub cms: StorePinOutcome,
}

/// The issuer side of Mastercard Processing's set PIN.
///
/// - With a `Key-Index`: the device sealed an ISO format 1 block under the
///   RSA key it fetched from [`public_keys`](Self::public_keys). The
///   security module decrypts it with that index's private key, checks the
///   PIN policy and re-enciphers it as ISO format 0 with the PAN from the
///   CMS under the CMS's zone PIN key, all inside itself; the flow stores
///   the result: 204. The flow never sees the PIN.
/// - Without (full-PAN issuers, [`with_shared_zpk`](Self::with_shared_zpk)):
///   the block is ISO format 0 under the shared ZPK and is translated to the
///   CMS's ZPK.
///
/// A cryptogram that set a PIN is refused for [`DEFAULT_REPLAY_WINDOW`]
/// (see [`with_replay_window`](Self::with_replay_window)) with
/// [`Reason::ReplayedPinBlock`]: RSA cryptograms are randomised, so only a
/// replay repeats one. A failed set PIN does not count as a use.
///
/// The CMS is read (contract state, plastic, PAN) before the RSA private-key
/// operation, so malformed or misdirected requests cost no RSA work. A failed
/// set PIN changes nothing; if the CMS or the security module fails, the
/// answer is [`Reason::IntegrationError`] (500, recoverable) and the client
/// may retry with a fresh cryptogram.
pub struct MastercardPanless<
    C,
    S: KeyStore = MemoryKeyStore,
    K: Clock = SystemClock,
    M: SecurityModule = SoftwareModule,
    R: ReplayStore = MemoryReplayStore,
> {
    issuer: Issuer<C, M>,
    ring: RsaKeyRing<S, K>,
    shared_zpk: Option<ZpkIndex>,
    key_form: PublicKeyForm,
    replay: ReplayGuard<R>,
}

impl<C: CardManagement, S: KeyStore, K: Clock, M: SecurityModule>
    MastercardPanless<C, S, K, M, MemoryReplayStore>
{
    /// The flow on `issuer`, with the RSA keys of `ring` (handles into the
    /// issuer's security module) and used cryptograms remembered in this
    /// process ([`with_replay_store`](Self::with_replay_store) shares them).
    pub fn new(issuer: Issuer<C, M>, ring: RsaKeyRing<S, K>) -> Self {
        MastercardPanless {
            issuer,
            ring,
            shared_zpk: None,
            key_form: PublicKeyForm::DerHex,
            replay: ReplayGuard {
                store: MemoryReplayStore::new(),
                window: DEFAULT_REPLAY_WINDOW,
            },
        }
    }
}

impl<C: CardManagement, S: KeyStore, K: Clock, M: SecurityModule, R: ReplayStore>
    MastercardPanless<C, S, K, M, R>
{
    /// How long a used RSA cryptogram is refused; zero turns the check off.
    pub fn with_replay_window(mut self, window: std::time::Duration) -> Self {
        self.replay.window = window;
        self
    }

    /// Remembers used cryptograms in `store`: one several instances share
    /// (Redis), so a cryptogram used on one is refused on all.
    pub fn with_replay_store<R2: ReplayStore>(
        self,
        store: R2,
    ) -> MastercardPanless<C, S, K, M, R2> {
        MastercardPanless {
            issuer: self.issuer,
            ring: self.ring,
            shared_zpk: self.shared_zpk,
            key_form: self.key_form,
            replay: ReplayGuard {
                store,
                window: self.replay.window,
            },
        }
    }

    /// Remembers used cryptograms in this process on `clock`: a
    /// [`MonotonicClock`](pinset_keys::MonotonicClock) unless set, never the
    /// audit clock, so a step of the wall clock neither purges nor stretches
    /// the window. Set a [`ManualClock`](pinset_keys::ManualClock) in tests.
    pub fn with_replay_clock<K2: Clock>(
        self,
        clock: K2,
    ) -> MastercardPanless<C, S, K, M, MemoryReplayStore<K2>> {
        self.with_replay_store(MemoryReplayStore::with_clock(clock))
    }

    /// The replay store.
    pub fn replay_store(&self) -> &R {
        &self.replay.store
    }

    /// Accepts requests without `Key-Index`: ISO format 0 under this shared ZPK.
    pub fn with_shared_zpk(mut self, zpk: ZpkIndex) -> Self {
        self.shared_zpk = Some(zpk);
        self
    }

    /// Publishes keys as a PEM body instead of DER hex.
    pub fn with_public_key_form(mut self, form: PublicKeyForm) -> Self {
        self.key_form = form;
        self
    }

    /// The issuer side (CMS, security module, zone keys, policy).
    pub fn issuer(&self) -> &Issuer<C, M> {
        &self.issuer
    }

    /// The RSA key ring.
    pub fn ring(&self) -> &RsaKeyRing<S, K> {
        &self.ring
    }

    /// `GET /public-keys?data_type_to_secure=…`: the active `{keyIndex, publicRsaKey}`.
    ///
    /// # Errors
    ///
    /// [`Reason::RequestValidation`] for another `data_type_to_secure`;
    /// [`Reason::IntegrationError`] if the key store cannot be read;
    /// [`Reason::Unexpected`] if the ring has no live PIN key.
    pub async fn public_keys(
        &self,
        data_type_to_secure: &str,
    ) -> Result<PublicKeysResponse, FlowError> {
        let mut event = self.issuer.attempt(Operation::MastercardPublicKeys);
        let result = if data_type_to_secure != PIN_BLOCK {
            Err(FlowError::request("data_type_to_secure"))
        } else {
            self.ring
                .publish(self.key_form)
                .await
                .map(|p| {
                    event.key_index = Some(p.key_index.clone());
                    PublicKeysResponse {
                        key_index: p.key_index.as_str().to_owned(),
                        public_rsa_key: p.public_rsa_key,
                    }
                })
                .map_err(|e| match e {
                    KeyError::Store(_) => FlowError::from(e),
                    e => FlowError::new(Reason::Unexpected, e),
                })
        };
        event.finish(result)
    }

    /// `PUT /cards/{card_contract_id}/pin`, with the `Key-Index` header if sent.
    ///
    /// See the type's documentation for the steps. Every attempt is audited,
    /// a cancelled one too: if the future is dropped before it completes, the
    /// event is recorded with the outcome `CANCELLED`. The cryptogram's
    /// replay claim fails closed: once the CMS call has started it is kept
    /// even if the future is dropped, because the PIN may have been stored;
    /// the client retries with a fresh cryptogram, as RSA devices do.
    pub async fn set_pin(
        &self,
        card_contract_id: &str,
        key_index: Option<&str>,
        request: &SetPinRequest,
    ) -> Result<SetPinOutcome, FlowError> {
        let mut event = self.issuer.attempt(Operation::MastercardSetPin);
        let result = self
            .run(card_contract_id, key_index, request, &mut event)
            .await;
        event.finish(result)
    }

    async fn run(
        &self,
        card_contract_id: &str,
        key_index: Option<&str>,
        request: &SetPinRequest,
        event: &mut AuditEvent,
    ) -> Result<SetPinOutcome, FlowError> {
        let contract: CardContractId = card_contract_id
            .parse()
            .map_err(|e| FlowError::new(Reason::RequestValidation, e))?;
        event.contract = Some(contract);
        let key_index = key_index
            .map(|k| KeyIndex::new(k).map_err(|_| FlowError::request("Key-Index")))
            .transpose()?;
        event.key_index = key_index.clone();
        if key_index.is_none() && self.shared_zpk.is_none() {
            return Err(FlowError::request("Key-Index"));
        }
        let block = &request.new_pin_block;
        if block.is_empty() || block.len() > MAX_PIN_BLOCK_HEX {
            return Err(FlowError::request("newPinBlock"));
        }
        let cryptogram = hex::decode(block).map_err(|_| FlowError::request("newPinBlock"))?;
        let expiry: ExpiryDate = request
            .card_expiry_date
            .parse()
            .map_err(|e| FlowError::new(Reason::RequestValidation, e))?;
        let sequence: Option<PlasticSequence> = request
            .card_sequence_number
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| FlowError::new(Reason::RequestValidation, e))?;

        let target = self
            .issuer
            .target(contract, Some(expiry), sequence, event)
            .await?;
        let (pin_block, zpk, claim) = match &key_index {
            Some(index) => {
                let live = self.ring.live_key(index.as_str()).await?;
                let source = live.pin_source(&cryptogram, Format::Iso1)?;
                let (pin_block, zpk) = self.issuer.translate(&target, source).await?;
                (pin_block, zpk, Some(self.replay.claim(&cryptogram).await?))
            }
            // ISO format 0 under a ZPK is deterministic: the same PIN gives
            // the same block, so a repeat is no sign of a replay here.
            None => {
                let shared = self
                    .shared_zpk
                    .as_ref()
                    .ok_or(FlowError::request("Key-Index"))?;
                let key = self
                    .issuer
                    .zone
                    .pin_key(shared)
                    .map_err(|e| FlowError::new(Reason::Unexpected, e))?;
                let source = PinSource::Symmetric {
                    key: &key,
                    format: Format::Iso0,
                    block: &cryptogram,
                };
                let (pin_block, zpk) = self.issuer.translate(&target, source).await?;
                (pin_block, zpk, None)
            }
        };
        // Dropped from here on, the claim stays (the PIN may be stored);
        // an error the CMS returns gives it back.
        match self.issuer.store(&target, pin_block, &zpk).await {
            Ok(cms) => Ok(SetPinOutcome {
                http_status: 204,
                cms,
            }),
            Err(e) => {
                if let Some(claim) = claim {
                    self.replay.release(claim).await;
                }
                Err(e)
            }
        }
    }
}
