#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

#[cfg(feature = "rsa")]
extern crate alloc;

mod aes;
mod error;
mod kcv;
mod pin_key;
mod strength;
mod tdes;

#[cfg(feature = "rsa")]
pub mod rsa;

pub use crate::aes::AesKey;
#[cfg(feature = "rsa")]
pub use crate::rsa::{RsaDecryptor, RsaPadding, RsaPrivateKey, RsaPublicKey};
pub use error::{Error, Undecryptable};
pub use kcv::Kcv;
pub use pin_key::{EncryptedPinBlock, PinKey, translate};
pub use strength::WeakKey;
pub use tdes::TdesKey;
