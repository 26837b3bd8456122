//! pinset: compose ISO 9564 set-PIN flows from layered crates.
#![forbid(unsafe_code)]

pub use pinset_block as block;
pub use pinset_envelope as envelope;
