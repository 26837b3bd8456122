#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod cms;
mod memory;
mod types;

pub use cms::{CardManagement, CmsError, PinVerificationRecord, StorePin, StorePinOutcome};
pub use memory::{
    CmsSnapshot, ContractRecord, EmvCommand, EmvScript, MemoryCms, PlasticRecord, StoredPin,
};
pub use types::{
    CardContractId, CardPlastic, ContractState, ExpiryDate, ParseError, PlasticSequence,
    PlasticStatus, ProductionStatus, select_plastic,
};
