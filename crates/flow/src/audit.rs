//! One audit event per attempt.

use std::sync::Mutex;

use pinset_block::MaskedPan;
use pinset_cms::{CardContractId, PlasticSequence};
use pinset_keys::{KeyIndex, Timestamp};

/// Which flow an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Mastercard Processing `GET /public-keys`.
    MastercardPublicKeys,
    /// Mastercard Processing `PUT /cards/{card_contract_id}/pin`.
    MastercardSetPin,
    /// Enfuce: a controlId was issued.
    EnfuceIssueControl,
    /// Enfuce `POST /pin/v3/set/tzpk`.
    EnfuceGetTzpk,
    /// Enfuce `POST /pin/v3/set`.
    EnfuceSetPin,
    /// Enfuce `POST /pin/v2/{plasticId}`: a block under a pre-shared ZPK.
    EnfuceSetPinPreshared,
}

/// What happened in one attempt. It never holds a PIN, a PIN block or a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// When.
    pub at: Timestamp,
    /// Which operation.
    pub operation: Operation,
    /// Enfuce's `auditUser`, where given.
    pub audit_user: Option<String>,
    /// The PAN, masked to first 6 and last 4, once known.
    pub masked_pan: Option<MaskedPan>,
    /// The card contract, once known.
    pub contract: Option<CardContractId>,
    /// The plastic, once known.
    pub plastic: Option<PlasticSequence>,
    /// The RSA key index (Mastercard Processing), if well-formed.
    pub key_index: Option<KeyIndex>,
    /// The controlId (Enfuce), if well-formed, as its log prefix only
    /// (`83fa5f55…`): the whole id is a bearer value while it lives.
    pub control: Option<String>,
    /// [`AuditEvent::OK`], the outward reason code, or
    /// [`AuditEvent::CANCELLED`].
    pub outcome: &'static str,
}

impl AuditEvent {
    /// An event for `operation` at `at`, with nothing known yet and the outcome `OK`.
    pub(crate) const fn new(at: Timestamp, operation: Operation) -> Self {
        AuditEvent {
            at,
            operation,
            audit_user: None,
            masked_pan: None,
            contract: None,
            plastic: None,
            key_index: None,
            control: None,
            outcome: AuditEvent::OK,
        }
    }

    /// The outcome of an attempt that succeeded.
    pub const OK: &'static str = "OK";

    /// The outcome of an attempt whose caller dropped it before it finished
    /// (the client went away, a server timeout fired). A set PIN may or may
    /// not have been stored: the CMS is the record of that.
    pub const CANCELLED: &'static str = "CANCELLED";
}

/// Where audit events go: a log, a queue, a table.
pub trait AuditSink: Send + Sync {
    /// Records one event. Must not fail the request: buffer or drop on error.
    fn record(&self, event: AuditEvent);
}

/// Keeps events in memory, for tests and examples.
#[derive(Debug, Default)]
pub struct MemoryAudit(Mutex<Vec<AuditEvent>>);

impl MemoryAudit {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The events so far, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.0.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl AuditSink for MemoryAudit {
    fn record(&self, event: AuditEvent) {
        if let Ok(mut events) = self.0.lock() {
            events.push(event);
        }
    }
}

impl<T: AuditSink + ?Sized> AuditSink for std::sync::Arc<T> {
    fn record(&self, event: AuditEvent) {
        (**self).record(event)
    }
}

/// Drops every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAudit;

impl AuditSink for NoAudit {
    fn record(&self, _: AuditEvent) {}
}
