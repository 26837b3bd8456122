#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod dispatch;
mod error;
mod field;
mod format;
mod pan;
mod pin;

pub mod iso0;
pub mod iso1;
pub mod iso2;
pub mod iso3;
pub mod iso4;

pub use dispatch::{decode_clear, encode_clear};
pub use error::Error;
pub use field::{ClearBlock, PanField, PinField};
pub use format::Format;
pub use pan::{MAX_PAN_LEN, MIN_HIDDEN_DIGITS, MIN_PAN_LEN, MaskedPan, Pan};
pub use pin::{MAX_PIN_LEN, MIN_PIN_LEN, Pin};

/// Re-exported so callers can name the RNG bound without another dependency.
pub use rand_core;
