//! The one error type of this crate.

use crate::Format;

/// Why a PIN, PAN, format name or PIN block was refused.
///
/// No variant carries a PIN digit, a PAN digit or block bytes, so an
/// `Error` can be logged as it is. Decoding errors are detailed on purpose:
/// they are for the issuer's own logs. A service that answers a remote
/// caller must fold them into one outward error (see `pinset-envelope`), or
/// the detail becomes a format oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A PIN must have 4 to 12 digits.
    #[error("PIN must have 4 to 12 digits")]
    PinLength,
    /// A PIN may hold only the ASCII digits 0-9.
    #[error("PIN must hold only the digits 0-9")]
    PinNotNumeric,
    /// A PAN must have 12 to 19 digits (ISO/IEC 7812-1).
    #[error("PAN must have 12 to 19 digits")]
    PanLength,
    /// A PAN may hold only the ASCII digits 0-9.
    #[error("PAN must hold only the digits 0-9")]
    PanNotNumeric,
    /// The format name is not one of `iso0` to `iso4`.
    #[error("unknown PIN block format: expected iso0, iso1, iso2, iso3 or iso4")]
    UnknownFormat,
    /// The input has the wrong number of bytes for this block.
    #[error("PIN block must be {expected} bytes, got {found}")]
    BlockLength {
        /// Bytes the format needs.
        expected: usize,
        /// Bytes received.
        found: usize,
    },
    /// The control field (first nibble) does not name the expected format.
    #[error("control field is {found:X}, expected {expected} ({:X})", expected.control_field())]
    ControlField {
        /// The format the caller asked to decode.
        expected: Format,
        /// The nibble found in the block.
        found: u8,
    },
    /// The PIN length nibble is outside 4 to C (hex).
    #[error("PIN length field is outside 4 to 12")]
    LengthField,
    /// A nibble inside the PIN is not a decimal digit.
    #[error("PIN field holds a non-decimal digit")]
    PinDigit,
    /// A fill digit breaks its format's rule (F for 0 and 2, A-F for 3, A for 4).
    #[error("fill digit breaks the rule of {0}")]
    FillDigit(Format),
    /// The ISO 9564-1 format 4 PAN field is malformed.
    #[error("format 4 PAN field is malformed")]
    PanField,
    /// A PAN-bound format (0, 3 or 4) was used without a PAN.
    #[error("{0} binds the PAN: a PAN is required")]
    PanRequired(Format),
    /// Format 4 has a 16-byte PIN field, not an 8-byte clear block.
    #[error("iso4 has a 16-byte PIN field, not an 8-byte clear block")]
    NotAClearBlockFormat,
    /// PCI PIN rules forbid this translation.
    #[error("translation from {from} to {to} is not allowed")]
    Translation {
        /// Source format.
        from: Format,
        /// Target format.
        to: Format,
    },
}
