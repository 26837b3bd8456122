//! A live ring key, ready to decrypt one request's cryptogram.

use std::fmt;
use std::sync::Arc;

use pinset_block::{Format, Pan, Pin};
use pinset_envelope::rsa::{self, RsaDecryptor};
use pinset_envelope::{RsaPadding, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::{KeyError, KeyIndex, KeyPurpose};

/// A live ring key, ready to decrypt: the result of
/// [`RsaKeyRing::decryptor`](crate::RsaKeyRing::decryptor).
///
/// It implements [`RsaDecryptor`], so the envelope's functions take it, and
/// carries the key's padding and purpose. Take one per request: a handle
/// keeps decrypting after its key is retired.
#[derive(Clone)]
pub struct RingDecryptor {
    pub(super) key_index: KeyIndex,
    pub(super) padding: RsaPadding,
    pub(super) purpose: KeyPurpose,
    pub(super) key: Arc<RsaPrivateKey>,
}

impl RingDecryptor {
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

    /// Decrypts `cryptogram` with the key's padding and decodes the PIN block
    /// inside as `format`. Refused unless the key is for PIN encryption.
    pub fn open_pin_block(
        &self,
        format: Format,
        cryptogram: &[u8],
        pan: Option<&Pan>,
    ) -> Result<Pin, KeyError> {
        if self.purpose != KeyPurpose::PinEncryption {
            return Err(KeyError::WrongPurpose {
                key: self.key_index.to_string(),
                expected: KeyPurpose::PinEncryption,
                found: self.purpose,
            });
        }
        Ok(rsa::open(
            self.key.as_ref(),
            self.padding,
            format,
            cryptogram,
            pan,
        )?)
    }
}

impl RsaDecryptor for RingDecryptor {
    fn public_key(&self) -> RsaPublicKey {
        self.key.public_key()
    }

    fn decrypt(
        &self,
        padding: RsaPadding,
        cryptogram: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, pinset_envelope::Error> {
        RsaDecryptor::decrypt(self.key.as_ref(), padding, cryptogram)
    }
}

impl fmt::Debug for RingDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingDecryptor")
            .field("key_index", &self.key_index)
            .field("padding", &self.padding)
            .field("purpose", &self.purpose)
            .field("key", &self.key)
            .finish()
    }
}
