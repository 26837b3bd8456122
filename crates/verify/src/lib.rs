#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod digits;
mod error;
mod ibm3624;
mod key;
mod method;
mod visa;

pub use error::Error;
pub use ibm3624::{
    DecimalizationTable, Ibm3624Offset, ValidationData, ibm3624_natural_pin, ibm3624_offset,
    ibm3624_verify,
};
pub use key::PinVerificationKey;
pub use method::{ValidationSource, VerificationMethod, VerificationValue};
pub use visa::{Pvki, Pvv, visa_pvv};
