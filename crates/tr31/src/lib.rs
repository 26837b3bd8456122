#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod block;
mod crypto;
mod error;
mod header;
mod kbpk;
mod legacy;
mod optional;
mod usage;

pub use block::{unwrap, wrap, wrap_masked};
pub use error::{HeaderField, Inconsistency, KbpkError, KeyBlockError, Reason};
pub use header::Header;
pub use kbpk::{Kbpk, KbpkAlgorithm};
pub use optional::OptionalBlock;
pub use usage::{Algorithm, Exportability, KeyUsage, ModeOfUse, Version};
pub use zeroize::Zeroizing;
