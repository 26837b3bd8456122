//! A live ring key, named for one request's cryptogram.

use pinset_block::Format;
use pinset_envelope::RsaPadding;
use pinset_module::{KeyRef, PinSource};

use crate::{KeyError, KeyIndex, KeyPurpose};

/// A live ring key: the result of [`RsaKeyRing::live_key`](crate::RsaKeyRing::live_key).
///
/// It carries the index, the padding devices use, the purpose, and the
/// handle of the private key in the security module; never the key. Take
/// one per request: a retired key's handle may be destroyed at any time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveKey {
    pub(super) key_index: KeyIndex,
    pub(super) padding: RsaPadding,
    pub(super) purpose: KeyPurpose,
    pub(super) key: KeyRef,
}

impl LiveKey {
    /// The key's index.
    pub fn key_index(&self) -> &KeyIndex {
        &self.key_index
    }

    /// The padding devices use with this key.
    pub fn padding(&self) -> RsaPadding {
        self.padding
    }

    /// What the key may be used for.
    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    /// The private key's handle in the security module.
    pub fn key(&self) -> &KeyRef {
        &self.key
    }

    /// The source of a [`TranslatePin`](pinset_module::TranslatePin): a
    /// device's `cryptogram` of a clear block of `format` under this key,
    /// with its padding.
    ///
    /// # Errors
    ///
    /// [`KeyError::WrongPurpose`] unless the key is for PIN encryption (the
    /// module checks it again).
    pub fn pin_source<'a>(
        &'a self,
        cryptogram: &'a [u8],
        format: Format,
    ) -> Result<PinSource<'a>, KeyError> {
        if self.purpose != KeyPurpose::PinEncryption {
            return Err(KeyError::WrongPurpose {
                key: self.key_index.to_string(),
                expected: KeyPurpose::PinEncryption,
                found: self.purpose,
            });
        }
        Ok(PinSource::Rsa {
            key: &self.key,
            padding: self.padding,
            cryptogram,
            format,
        })
    }
}
