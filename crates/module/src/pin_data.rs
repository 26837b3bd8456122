//! PIN verification inside the module: the requests that turn an enciphered
//! PIN into a PVV or IBM 3624 offset, or check one against a stored value.
//!
//! Most card management systems store a verification value, not a PIN
//! block. These requests let a flow hand one to the CMS, and a host verify
//! an entered PIN, without the clear PIN ever crossing the seam. Modelled on
//! AWS Payment Cryptography's GeneratePinData and VerifyPinData.

use pinset_block::{Format, Pan};
use pinset_verify::{DecimalizationTable, ValidationSource, VerificationMethod, VerificationValue};

use crate::{KeyPurpose, KeyRef, ModuleError, PinSource};

/// The purpose a PIN verification key must carry for `method`: a Visa PVK
/// never computes IBM 3624 offsets, nor the reverse (TR-31 `V2` and `V1`).
pub fn verification_purpose(method: &VerificationMethod) -> KeyPurpose {
    match method {
        VerificationMethod::VisaPvv { .. } => KeyPurpose::PinVerificationVisa,
        VerificationMethod::Ibm3624 { .. } => KeyPurpose::PinVerificationIbm3624,
    }
}

/// The checks every backend makes first: a source format that may leave
/// the chip (not format 2), and a PVK tagged for `method`.
fn check(
    source: &PinSource<'_>,
    pvk: &KeyRef,
    method: &VerificationMethod,
) -> Result<(), ModuleError> {
    if source.format() == Format::Iso2 {
        return Err(ModuleError::ChipOnlyFormat);
    }
    pvk.require_purpose(verification_purpose(method))
}

/// Compute the verification value of the PIN in an enciphered block.
#[derive(Clone, Copy, Debug)]
pub struct GenerateVerificationValue<'a> {
    /// The enciphered PIN (any format but 2, under a PIN-encryption key).
    pub source: PinSource<'a>,
    /// The card's PAN: PAN-bound sources need it, and both methods read it.
    pub pan: &'a Pan,
    /// The PIN verification key, tagged for `method`.
    pub pvk: &'a KeyRef,
    /// PVV or IBM 3624, with its parameters.
    pub method: &'a VerificationMethod,
}

impl GenerateVerificationValue<'_> {
    /// The format and purpose checks every backend makes first.
    ///
    /// # Errors
    ///
    /// [`ModuleError::ChipOnlyFormat`] for a format 2 source,
    /// [`ModuleError::WrongPurpose`] for a PVK of the other method.
    pub fn check(&self) -> Result<(), ModuleError> {
        check(&self.source, self.pvk, self.method)
    }
}

/// Check the PIN in an enciphered block against a stored value.
#[derive(Clone, Copy, Debug)]
pub struct VerifyPin<'a> {
    /// The enciphered PIN the cardholder entered.
    pub source: PinSource<'a>,
    /// The card's PAN.
    pub pan: &'a Pan,
    /// The PIN verification key, tagged for `method`.
    pub pvk: &'a KeyRef,
    /// How `value` was computed (the PVKI, or the IBM 3624 parameters).
    pub method: &'a VerificationMethod,
    /// The value the CMS stored.
    pub value: &'a VerificationValue,
}

impl VerifyPin<'_> {
    /// As [`GenerateVerificationValue::check`].
    ///
    /// # Errors
    ///
    /// As [`GenerateVerificationValue::check`].
    pub fn check(&self) -> Result<(), ModuleError> {
        check(&self.source, self.pvk, self.method)
    }
}

/// Generate the IBM 3624 natural PIN for a card and return it enciphered as
/// a PIN block: how an issuer assigns a first PIN to mail to the
/// cardholder. The clear PIN never leaves the module.
#[derive(Clone, Copy, Debug)]
pub struct GenerateNaturalPin<'a> {
    /// The IBM 3624 PIN verification key.
    pub pvk: &'a KeyRef,
    /// The decimalisation table.
    pub table: &'a DecimalizationTable,
    /// The validation data.
    pub validation: &'a ValidationSource,
    /// The card's PAN.
    pub pan: &'a Pan,
    /// The PIN length, 4 to 12.
    pub length: usize,
    /// The PIN-encryption key the block goes out under.
    pub destination: &'a KeyRef,
    /// The block format (0, 3 or 4 bind the PAN; 1 does not).
    pub format: Format,
}

/// Whether a stored value matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PinVerified {
    /// The PIN matches the stored value.
    Match,
    /// It does not.
    Mismatch,
}

impl From<bool> for PinVerified {
    fn from(matched: bool) -> Self {
        if matched {
            PinVerified::Match
        } else {
            PinVerified::Mismatch
        }
    }
}
