//! Errors of key block handling.
//!
//! A key block arrives from outside (a card management system, a processor,
//! a key store), so every refusal looks the same from outside: a MAC failure,
//! a bad length and a malformed header all display as [`KeyBlockError`]'s one
//! fixed text. The typed [`Reason`] is still there for the issuer's own logs,
//! through [`KeyBlockError::reason`] and [`std::error::Error::source`]. No
//! error ever carries key bytes or echoes input characters.

use core::fmt;

/// The one outward error of this crate's key block operations.
///
/// Its `Display` is always [`KeyBlockError::TEXT`], whatever the reason; ask
/// [`KeyBlockError::reason`] (or `source()`) for the detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyBlockError {
    reason: Reason,
}

impl KeyBlockError {
    /// The fixed text every refusal displays.
    pub const TEXT: &'static str = "key block refused";

    /// Wraps a reason.
    pub(crate) const fn new(reason: Reason) -> Self {
        Self { reason }
    }

    /// Shorthand for a malformed header field.
    pub(crate) const fn header(field: HeaderField) -> Self {
        Self::new(Reason::Header(field))
    }

    /// Why the key block was refused. For logs, not for remote callers.
    #[must_use]
    pub const fn reason(&self) -> Reason {
        self.reason
    }
}

impl fmt::Display for KeyBlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::TEXT)
    }
}

impl core::error::Error for KeyBlockError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.reason)
    }
}

impl From<Reason> for KeyBlockError {
    fn from(reason: Reason) -> Self {
        Self::new(reason)
    }
}

/// Why a key block (or a header) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reason {
    /// The length field does not match the input, the key block is too short
    /// or too long, or the encrypted part is not a whole number of blocks.
    #[error("key block length is wrong")]
    Length,
    /// A header field is malformed.
    #[error("malformed header field: {0}")]
    Header(HeaderField),
    /// The encrypted key data or the MAC is not upper-case hexadecimal.
    #[error("key data or MAC is not upper-case hex")]
    Hex,
    /// The KBPK is of the wrong family for the version: A, B and C take a
    /// TDES KBPK, D takes an AES KBPK.
    #[error("KBPK algorithm does not fit the key block version")]
    KbpkFamily,
    /// The operation does not take this version: wrap refuses the
    /// deprecated versions A and C.
    #[error("key block version not supported for this operation")]
    Version,
    /// The MAC does not verify.
    #[error("key block MAC does not verify")]
    Mac,
    /// The key length is zero, not a whole number of bytes, or larger than
    /// the key data.
    #[error("key length is invalid")]
    KeyLength,
    /// The padding after the key is longer than any key length masking explains.
    #[error("key padding is inconsistent")]
    Padding,
    /// The header's fields contradict each other.
    #[error("inconsistent header: {0}")]
    Inconsistent(Inconsistency),
}

/// The header field that failed to parse or validate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderField {
    /// Fewer than the 16 characters of the fixed header.
    Truncated,
    /// Byte 0: not one of `A`, `B`, `C`, `D`.
    Version,
    /// Bytes 1–4: not four decimal digits.
    Length,
    /// Bytes 5–6: not two upper-case letters or digits.
    KeyUsage,
    /// Byte 7: not an upper-case letter or digit.
    Algorithm,
    /// Byte 8: not an upper-case letter or digit.
    ModeOfUse,
    /// Bytes 9–10: not two ASCII letters or digits.
    KeyVersion,
    /// Byte 11: not an upper-case letter or digit.
    Exportability,
    /// Bytes 12–13: not two decimal digits, or more than 99 blocks.
    OptionalBlockCount,
    /// Bytes 14–15: not two upper-case letters or digits.
    Reserved,
    /// An optional block identifier is not two upper-case letters or digits.
    OptionalBlockId,
    /// An optional block length is malformed, too short or runs past the input.
    OptionalBlockLength,
    /// Optional block data is not printable ASCII.
    OptionalBlockData,
    /// A padding block (`PB`) is not the last optional block.
    PaddingBlock,
    /// The header with its optional blocks is not a whole number of cipher blocks.
    Alignment,
}

impl fmt::Display for HeaderField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Truncated => "truncated header",
            Self::Version => "version id",
            Self::Length => "key block length",
            Self::KeyUsage => "key usage",
            Self::Algorithm => "algorithm",
            Self::ModeOfUse => "mode of use",
            Self::KeyVersion => "key version number",
            Self::Exportability => "exportability",
            Self::OptionalBlockCount => "number of optional blocks",
            Self::Reserved => "key context / reserved",
            Self::OptionalBlockId => "optional block id",
            Self::OptionalBlockLength => "optional block length",
            Self::OptionalBlockData => "optional block data",
            Self::PaddingBlock => "padding block position",
            Self::Alignment => "header alignment",
        })
    }
}

/// Which header rule two fields break together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Inconsistency {
    /// The mode of use is not allowed for the key usage (for example a PIN
    /// encryption key `P0` with mode `G`).
    ModeOfUse,
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ModeOfUse => "mode of use not allowed for the key usage",
        })
    }
}

/// Why a KBPK was refused by [`Kbpk::tdes`](crate::Kbpk::tdes) or
/// [`Kbpk::aes`](crate::Kbpk::aes). Never carries key bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KbpkError {
    /// The key has a length its algorithm does not take (TDES: 16 or 24
    /// bytes; AES: 16, 24 or 32 bytes).
    #[error("KBPK length is wrong for its algorithm")]
    Length,
    /// A TDES key whose parts collapse to single DES (K1 = K2, or K2 = K3,
    /// ignoring parity bits).
    #[error("TDES KBPK is single DES in disguise")]
    SingleDes,
}
