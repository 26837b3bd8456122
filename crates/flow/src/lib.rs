#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod audit;
pub mod enfuce;
mod error;
mod issuer;
pub mod mastercard;
mod replay;
#[cfg(feature = "serde")]
pub mod wire;

pub use audit::{AuditEvent, AuditSink, MemoryAudit, NoAudit, Operation};
pub use enfuce::EnfuceSetPin;
pub use error::{Detail, FlowError, Reason};
pub use issuer::{Issuer, RngUnavailable};
pub use mastercard::MastercardPanless;
pub use pinset_module::{PinPolicy, PolicyViolation};
pub use replay::{ClaimToken, MemoryReplayStore, ReplayStore};
