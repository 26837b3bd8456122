//! pinset: compose ISO 9564 set-PIN flows from layered crates.
//!
//! This facade re-exports the layers, from the bottom up:
//!
//! | module | crate | job |
//! |---|---|---|
//! | [`block`] | `pinset-block` | ISO 9564-1 PIN blocks, formats 0 to 4, no cipher |
//! | [`envelope`] | `pinset-envelope` | TDES/AES PIN keys, KCVs, translation, RSA behind a provider trait |
//! | [`verify`] | `pinset-verify` | PIN verification values: Visa PVV, IBM 3624 offset and natural PIN |
//! | [`tr31`] | `pinset-tr31` | TR-31 / ANSI X9.143 key blocks: header, wrap and unwrap |
//! | [`module`] | `pinset-module` | the security-module seam: key handles, PIN translation inside a module |
//! | [`keys`] | `pinset-keys` | RSA key ring by key index, zone PIN keys, temporary keys, keys at rest |
//! | [`cms`] | `pinset-cms` | the card management system trait and a reference CMS |
//! | [`flow`] | `pinset-flow` | the Mastercard Processing and Enfuce set-PIN flows |
//!
//! Run `cargo run --release --example panless_set_pin` for the main flow.
#![forbid(unsafe_code)]

pub use pinset_block as block;
pub use pinset_cms as cms;
pub use pinset_envelope as envelope;
pub use pinset_flow as flow;
pub use pinset_keys as keys;
pub use pinset_module as module;
pub use pinset_tr31 as tr31;
pub use pinset_verify as verify;
