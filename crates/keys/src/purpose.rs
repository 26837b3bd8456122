//! What a key may be used for.

use std::fmt;

/// What a key may be used for. Every stored key carries one, and the
/// accessors check it: a key tagged for one purpose is never handed out for
/// another.
///
/// ```
/// use pinset_keys::KeyPurpose;
///
/// assert_eq!(KeyPurpose::PinEncryption.to_string(), "PIN encryption");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyPurpose {
    /// Encrypts PIN blocks and nothing else (a ZPK, or an RSA PIN key).
    PinEncryption,
    /// Encrypts other keys for transport (a ZMK or KEK).
    KeyEncryption,
    /// Encrypts general data.
    DataEncryption,
}

impl KeyPurpose {
    /// The purpose in words, such as `PIN encryption`.
    pub const fn name(self) -> &'static str {
        match self {
            KeyPurpose::PinEncryption => "PIN encryption",
            KeyPurpose::KeyEncryption => "key encryption",
            KeyPurpose::DataEncryption => "data encryption",
        }
    }

    /// The byte that stands for it in an export.
    pub(crate) const fn code(self) -> u8 {
        match self {
            KeyPurpose::PinEncryption => 1,
            KeyPurpose::KeyEncryption => 2,
            KeyPurpose::DataEncryption => 3,
        }
    }

    /// The purpose an export byte stands for.
    pub(crate) const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(KeyPurpose::PinEncryption),
            2 => Some(KeyPurpose::KeyEncryption),
            3 => Some(KeyPurpose::DataEncryption),
            _ => None,
        }
    }
}

impl fmt::Display for KeyPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}
