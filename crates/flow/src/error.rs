//! The one outward error of the flows, and the typed detail behind it.

use pinset_cms::{CmsError, ParseError};
use pinset_keys::{KeyError, StoreError, TzpkError};
use pinset_module::{ErrorClass, ModuleError};

/// Why a flow refused a request: a stable code, an HTTP status, and whether
/// the client can recover by itself.
///
/// Crypto and PIN-block format failures are one reason,
/// [`InvalidPinBlock`](Reason::InvalidPinBlock), whatever their cause: wrong
/// key, bad padding, wrong length and bad fill digit look the same from
/// outside, so the service is no padding or format oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The request is malformed: a field is missing, too long or not in its format. 400.
    RequestValidation,
    /// No such card contract. 404.
    CardContractDoesNotExist,
    /// The contract or plastic state forbids setting a PIN. 403.
    OperationDenied,
    /// The PIN block could not be decrypted or is not a valid PIN block. 400.
    InvalidPinBlock,
    /// The PIN breaks the issuer's PIN policy (length or weak-PIN rules). 400.
    PinPolicy,
    /// The key index was never issued. 400, recoverable: fetch the public key again.
    UnknownKeyIndex,
    /// The key index is retired. 400, recoverable: fetch the public key again.
    RetiredKeyIndex,
    /// No plastic of the contract has that expiry date and sequence number. 404.
    NoMatchingPlastic,
    /// The controlId is unknown, expired or already used. 404.
    ControlNotFound,
    /// This exact cryptogram already set a PIN: a replay. 400.
    ReplayedPinBlock,
    /// The CMS, the security module or a shared store failed or could not
    /// be reached; nothing was changed. 500, recoverable: retry later.
    IntegrationError,
    /// Something failed that the client cannot fix. 500.
    Unexpected,
    /// No bearer token, or one the service does not know. 401. A service
    /// answers it; the flows never do.
    Unauthenticated,
    /// The token is not allowed on this API family. 403. A service answers
    /// it; the flows never do.
    Forbidden,
    /// The request body is larger than the service accepts. 413.
    PayloadTooLarge,
    /// The service stopped waiting before the operation finished; it may
    /// still take effect. 500, recoverable: check the result, then retry.
    /// A service answers it; the flows never do.
    OutcomeUnknown,
}

impl Reason {
    /// The stable reason code, as it goes into an error body.
    pub const fn code(self) -> &'static str {
        match self {
            Reason::RequestValidation => "REQUEST_VALIDATION",
            Reason::CardContractDoesNotExist => "CARD_CONTRACT_DOES_NOT_EXIST",
            Reason::OperationDenied => "OPERATION_DENIED",
            Reason::InvalidPinBlock => "INVALID_PIN_BLOCK",
            Reason::PinPolicy => "PIN_POLICY_VIOLATION",
            Reason::UnknownKeyIndex => "UNKNOWN_KEY_INDEX",
            Reason::RetiredKeyIndex => "KEY_INDEX_RETIRED",
            Reason::NoMatchingPlastic => "CARD_PLASTIC_NOT_FOUND",
            Reason::ControlNotFound => "CONTROL_ID_NOT_FOUND",
            Reason::ReplayedPinBlock => "PIN_BLOCK_REPLAYED",
            Reason::IntegrationError => "INTEGRATION_ERROR",
            Reason::Unexpected => "UNEXPECTED_ERROR",
            Reason::Unauthenticated => "UNAUTHENTICATED",
            Reason::Forbidden => "FORBIDDEN",
            Reason::PayloadTooLarge => "REQUEST_TOO_LARGE",
            Reason::OutcomeUnknown => "OUTCOME_UNKNOWN",
        }
    }

    /// The HTTP status.
    pub const fn http_status(self) -> u16 {
        match self {
            Reason::RequestValidation
            | Reason::InvalidPinBlock
            | Reason::PinPolicy
            | Reason::UnknownKeyIndex
            | Reason::RetiredKeyIndex
            | Reason::ReplayedPinBlock => 400,
            Reason::OperationDenied => 403,
            Reason::CardContractDoesNotExist
            | Reason::NoMatchingPlastic
            | Reason::ControlNotFound => 404,
            Reason::IntegrationError | Reason::Unexpected | Reason::OutcomeUnknown => 500,
            Reason::Unauthenticated => 401,
            Reason::Forbidden => 403,
            Reason::PayloadTooLarge => 413,
        }
    }

    /// Whether the client can fix it by itself: fetch the key again, or retry later.
    pub const fn recoverable(self) -> bool {
        matches!(
            self,
            Reason::UnknownKeyIndex
                | Reason::RetiredKeyIndex
                | Reason::IntegrationError
                | Reason::OutcomeUnknown
        )
    }

    /// One sentence for the client. It never names a PIN, PAN, key or block.
    pub const fn description(self) -> &'static str {
        match self {
            Reason::RequestValidation => "The request is not valid.",
            Reason::CardContractDoesNotExist => "The card contract does not exist.",
            Reason::OperationDenied => "The card contract or plastic does not allow setting a PIN.",
            Reason::InvalidPinBlock => {
                "The PIN block could not be decrypted or is not a valid PIN block."
            }
            Reason::PinPolicy => "The PIN does not meet the issuer's PIN policy.",
            Reason::UnknownKeyIndex => "The key index is unknown: fetch the public key again.",
            Reason::RetiredKeyIndex => "The key index is retired: fetch the public key again.",
            Reason::NoMatchingPlastic => {
                "No card plastic matches the expiry date and sequence number."
            }
            Reason::ControlNotFound => "Control id does not exist or is expired.",
            Reason::ReplayedPinBlock => "This PIN block was already used: build a new one.",
            Reason::IntegrationError => {
                "A back-end system is unavailable; nothing was changed. Retry later."
            }
            Reason::Unexpected => "Unexpected error.",
            Reason::Unauthenticated => "A valid bearer token is required.",
            Reason::Forbidden => "This token may not use this API.",
            Reason::PayloadTooLarge => "The request body is too large.",
            Reason::OutcomeUnknown => {
                "The request took too long and may still take effect: check the result before retrying."
            }
        }
    }

    /// Enfuce's `errorType` for this reason.
    pub const fn enfuce_error_type(self) -> &'static str {
        match self {
            Reason::RequestValidation => "STATIC_VALIDATION_ERROR",
            Reason::InvalidPinBlock
            | Reason::PinPolicy
            | Reason::CardContractDoesNotExist
            | Reason::NoMatchingPlastic
            | Reason::ControlNotFound
            | Reason::ReplayedPinBlock
            | Reason::UnknownKeyIndex
            | Reason::RetiredKeyIndex => "DYNAMIC_VALIDATION_ERROR",
            Reason::OperationDenied | Reason::Unauthenticated | Reason::Forbidden => {
                "SECURITY_ERROR"
            }
            Reason::PayloadTooLarge => "STATIC_VALIDATION_ERROR",
            Reason::IntegrationError | Reason::OutcomeUnknown => "INTEGRATION_ERROR",
            Reason::Unexpected => "UNEXPECTED_ERROR",
        }
    }
}

/// The typed detail behind a [`FlowError`], for the issuer's own logs.
///
/// Never send it to the client: it tells a padding failure from a format
/// failure. It holds no PIN, PAN, key or block.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Detail {
    /// A request field was refused.
    #[error("request field {0} is not valid")]
    Request(&'static str),
    /// A domain value was refused.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Key lookup or RSA envelope failure.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Temporary key failure.
    #[error(transparent)]
    Tzpk(#[from] TzpkError),
    /// Symmetric envelope or PIN block failure.
    #[error(transparent)]
    Envelope(#[from] pinset_envelope::Error),
    /// The CMS refused or failed.
    #[error(transparent)]
    Cms(#[from] CmsError),
    /// The security module refused or failed.
    #[error(transparent)]
    Module(#[from] ModuleError),
    /// A shared store (keys, replay claims) failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The controlId is unknown, expired or used.
    #[error("control id {0}")]
    Control(&'static str),
    /// The cryptogram was seen within the replay window.
    #[error("cryptogram already used within the replay window")]
    Replay,
    /// A fault inside the flow itself, such as a lock poisoned by a panic
    /// in another thread: nothing the client sent or could fix.
    #[error("internal fault: {0}")]
    Internal(&'static str),
}

/// A refused request: the outward [`Reason`] and, behind
/// [`source`](std::error::Error::source), the typed [`Detail`].
///
/// `Display` shows only the reason's description.
#[derive(Debug, thiserror::Error)]
#[error("{}", reason.description())]
pub struct FlowError {
    reason: Reason,
    #[source]
    detail: Detail,
}

impl FlowError {
    pub(crate) fn new(reason: Reason, detail: impl Into<Detail>) -> Self {
        FlowError {
            reason,
            detail: detail.into(),
        }
    }

    pub(crate) fn request(field: &'static str) -> Self {
        FlowError::new(Reason::RequestValidation, Detail::Request(field))
    }

    /// The outward reason.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The internal detail, for logs only.
    pub fn detail(&self) -> &Detail {
        &self.detail
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        self.reason.http_status()
    }
}

/// Maps a CMS answer to its outward reason.
impl From<CmsError> for FlowError {
    fn from(e: CmsError) -> Self {
        let reason = match e {
            CmsError::ContractNotFound => Reason::CardContractDoesNotExist,
            CmsError::PlasticNotFound => Reason::NoMatchingPlastic,
            CmsError::OperationDenied(_) => Reason::OperationDenied,
            CmsError::Unavailable => Reason::IntegrationError,
            _ => Reason::Unexpected,
        };
        FlowError::new(reason, e)
    }
}

/// Maps a key-ring answer: unknown and retired indexes are their own
/// (recoverable) reasons; every crypto or format failure is `InvalidPinBlock`.
impl From<KeyError> for FlowError {
    fn from(e: KeyError) -> Self {
        let reason = match &e {
            KeyError::UnknownKeyIndex(_) | KeyError::InvalidId(_) => Reason::UnknownKeyIndex,
            KeyError::RetiredKeyIndex { .. } => Reason::RetiredKeyIndex,
            KeyError::Envelope(_) => Reason::InvalidPinBlock,
            KeyError::Module(m) if m.is_retryable() => Reason::IntegrationError,
            KeyError::Store(_) => Reason::IntegrationError,
            _ => Reason::Unexpected,
        };
        FlowError::new(reason, e)
    }
}

/// Maps a security-module answer by its class: an unreadable block is
/// `InvalidPinBlock` whatever the cause, a policy breach `PinPolicy`, and an
/// unreachable module the retryable `IntegrationError`. A refused or
/// unsupported request is the issuer's configuration, not the client's.
impl From<ModuleError> for FlowError {
    fn from(e: ModuleError) -> Self {
        let reason = match e.class() {
            ErrorClass::Undecryptable => Reason::InvalidPinBlock,
            ErrorClass::Policy => Reason::PinPolicy,
            ErrorClass::Unavailable => Reason::IntegrationError,
            _ => Reason::Unexpected,
        };
        FlowError::new(reason, e)
    }
}
