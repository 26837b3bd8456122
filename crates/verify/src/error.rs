//! Why a verification value could not be computed or read.

/// A parameter or value that pinset refuses. Never echoes the input: a
/// rejected PVV, offset or validation data may be sensitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The PIN verification key is not a 16- or 24-byte TDES key, or is weak.
    #[error("PIN verification key: {0}")]
    Key(pinset_envelope::Error),
    /// A PVKI is one digit, 0 to 6.
    #[error("a PVKI is one digit from 0 to 6")]
    Pvki,
    /// A PVV is four decimal digits.
    #[error("a PVV is 4 decimal digits")]
    Pvv,
    /// A decimalisation table is 16 decimal digits.
    #[error("a decimalisation table is 16 decimal digits")]
    DecimalizationTable,
    /// A decimalisation table with fewer than 8 distinct digits, or a digit
    /// more than 4 times: it would give natural PINs away.
    #[error("a decimalisation table needs 8 distinct digits, none more than 4 times")]
    WeakDecimalizationTable,
    /// Validation data is 1 to 16 hexadecimal characters, and the pad one.
    #[error("validation data is 1 to 16 hex characters and one hex pad character")]
    ValidationData,
    /// The PAN digits asked for as validation data are not all in the PAN.
    #[error("the validation data's PAN digits lie outside the PAN")]
    ValidationDigits,
    /// An IBM 3624 offset is 4 to 12 decimal digits.
    #[error("an IBM 3624 offset is 4 to 12 decimal digits")]
    Offset,
    /// The offset is longer than the PIN it is checked against.
    #[error("the offset has more digits than the PIN")]
    OffsetLongerThanPin,
    /// A stored value of one method was checked with the other.
    #[error("the stored value belongs to another verification method")]
    MethodMismatch,
    /// A natural PIN is 4 to 12 digits.
    #[error("a natural PIN is 4 to 12 digits")]
    PinLength,
}
