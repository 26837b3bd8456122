//! The two seed APIs' JSON error envelopes (feature `serde`).

use serde::{Deserialize, Deserializer, Serialize};

use pinset_keys::Timestamp;

use crate::FlowError;

/// `cardSequenceNumber` may arrive as a number or a string.
pub(crate) fn number_or_string<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrString {
        Number(u64),
        String(String),
    }
    Ok(Option::<NumberOrString>::deserialize(d)?.map(|v| match v {
        NumberOrString::Number(n) => n.to_string(),
        NumberOrString::String(s) => s,
    }))
}

/// Mastercard Processing's error body:
/// `{"Errors":{"Error":[{"Source","ReasonCode","Description","Recoverable"}]}}`.
///
/// ```
/// # use pinset_flow::wire::MastercardErrorBody;
/// # fn show(err: &pinset_flow::FlowError) {
/// let body = MastercardErrorBody::new(err);
/// println!("{} {}", err.http_status(), body.to_json());
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MastercardErrorBody {
    /// The wrapper.
    #[serde(rename = "Errors")]
    pub errors: MastercardErrors,
}

/// The `Errors` object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MastercardErrors {
    /// The list.
    #[serde(rename = "Error")]
    pub error: Vec<MastercardError>,
}

/// One Mastercard Processing error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "PascalCase")]
pub struct MastercardError {
    /// The service that refused.
    pub source: String,
    /// The stable reason code.
    pub reason_code: String,
    /// One sentence.
    pub description: String,
    /// Whether the client can recover by itself (fetch the key again, retry).
    pub recoverable: bool,
}

impl MastercardErrorBody {
    /// The body for `error`.
    pub fn new(error: &FlowError) -> Self {
        Self::for_reason(error.reason())
    }

    /// The body for a refusal the service makes itself (401, 403, 413).
    pub fn for_reason(reason: crate::Reason) -> Self {
        MastercardErrorBody {
            errors: MastercardErrors {
                error: vec![MastercardError {
                    source: "pinset".into(),
                    reason_code: reason.code().into(),
                    description: reason.description().into(),
                    recoverable: reason.recoverable(),
                }],
            },
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Enfuce's error body: `{code, message, id, errorCode, errorType, errorReason, timestamp}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EnfuceErrorBody {
    /// The HTTP status, as text.
    pub code: String,
    /// One sentence.
    pub message: String,
    /// A unique error id (UUID).
    pub id: String,
    /// The stable reason code.
    pub error_code: String,
    /// STATIC_VALIDATION_ERROR, DYNAMIC_VALIDATION_ERROR, INTEGRATION_ERROR, SECURITY_ERROR or UNEXPECTED_ERROR.
    pub error_type: String,
    /// Why, in words the client may see.
    pub error_reason: String,
    /// When, RFC 3339.
    pub timestamp: String,
}

impl EnfuceErrorBody {
    /// The body for `error`, with error id `id` at `at`.
    pub fn new(error: &FlowError, id: String, at: Timestamp) -> Self {
        Self::for_reason(error.reason(), id, at)
    }

    /// The body for a refusal the service makes itself (401, 403, 413),
    /// with error id `id` at `at`.
    pub fn for_reason(reason: crate::Reason, id: String, at: Timestamp) -> Self {
        EnfuceErrorBody {
            code: reason.http_status().to_string(),
            message: reason.description().into(),
            id,
            error_code: reason.code().into(),
            error_type: reason.enfuce_error_type().into(),
            error_reason: reason.description().into(),
            timestamp: at.to_string(),
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
