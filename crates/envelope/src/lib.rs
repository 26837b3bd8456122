#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod aes;
mod error;
mod kcv;
mod pin_key;
mod tdes;

pub use crate::aes::AesKey;
pub use error::{Error, Undecryptable};
pub use kcv::Kcv;
pub use pin_key::{EncryptedPinBlock, PinKey, translate};
pub use tdes::TdesKey;
