//! Verification methods and values as data, so they can cross a security
//! module's seam and sit in a CMS record.

use pinset_block::{Pan, Pin};
use subtle::ConstantTimeEq;

use crate::{
    DecimalizationTable, Error, Ibm3624Offset, PinVerificationKey, Pvki, Pvv, ValidationData,
    ibm3624_offset, ibm3624_verify, visa_pvv,
};

/// Where IBM 3624 validation data comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidationSource {
    /// The same data for every card (as given to the CLI).
    Data(ValidationData),
    /// Digits of the card's PAN, padded on the right: the common choice.
    Pan {
        /// The first digit taken, 0 for the PAN's first.
        start: u8,
        /// How many digits, 1 to 16.
        length: u8,
        /// The hex pad character, usually `F`.
        pad: char,
    },
}

impl ValidationSource {
    /// The validation data for the card with `pan`.
    ///
    /// # Errors
    ///
    /// As [`ValidationData::from_pan`].
    pub fn resolve(&self, pan: &Pan) -> Result<ValidationData, Error> {
        match *self {
            ValidationSource::Data(ref data) => Ok(data.clone()),
            ValidationSource::Pan { start, length, pad } => {
                ValidationData::from_pan(pan, start.into(), length.into(), pad)
            }
        }
    }
}

/// How an issuer derives the value its CMS keeps instead of a PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerificationMethod {
    /// Visa PVV under the PVK with this index.
    VisaPvv {
        /// The PVK index, stored beside the PVV.
        pvki: Pvki,
    },
    /// IBM 3624 offset from the natural PIN.
    Ibm3624 {
        /// The decimalisation table.
        table: DecimalizationTable,
        /// The validation data.
        validation: ValidationSource,
    },
}

/// What a [`VerificationMethod`] computes from a PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerificationValue {
    /// A Visa PVV.
    Pvv(Pvv),
    /// An IBM 3624 offset.
    Ibm3624Offset(Ibm3624Offset),
}

impl VerificationValue {
    /// The digits, for the CMS record.
    pub fn expose_str(&self) -> &str {
        match self {
            VerificationValue::Pvv(v) => v.expose_str(),
            VerificationValue::Ibm3624Offset(v) => v.expose_str(),
        }
    }
}

impl VerificationMethod {
    /// The value for `pin` on the card with `pan`.
    ///
    /// # Errors
    ///
    /// IBM 3624 only: as [`ValidationSource::resolve`].
    pub fn generate(
        &self,
        pvk: &PinVerificationKey,
        pan: &Pan,
        pin: &Pin,
    ) -> Result<VerificationValue, Error> {
        Ok(match self {
            VerificationMethod::VisaPvv { pvki } => {
                VerificationValue::Pvv(visa_pvv(pvk, *pvki, pan, pin))
            }
            VerificationMethod::Ibm3624 { table, validation } => VerificationValue::Ibm3624Offset(
                ibm3624_offset(pvk, table, &validation.resolve(pan)?, pin),
            ),
        })
    }

    /// Whether `pin` matches the stored `value`. Constant-time in the digits.
    ///
    /// # Errors
    ///
    /// [`Error::MethodMismatch`] for a value of the other method; for IBM
    /// 3624, as [`ValidationSource::resolve`] and [`ibm3624_verify`].
    pub fn verify(
        &self,
        pvk: &PinVerificationKey,
        pan: &Pan,
        pin: &Pin,
        value: &VerificationValue,
    ) -> Result<bool, Error> {
        match (self, value) {
            (VerificationMethod::VisaPvv { pvki }, VerificationValue::Pvv(stored)) => {
                Ok(visa_pvv(pvk, *pvki, pan, pin).ct_eq(stored).into())
            }
            (
                VerificationMethod::Ibm3624 { table, validation },
                VerificationValue::Ibm3624Offset(stored),
            ) => ibm3624_verify(pvk, table, &validation.resolve(pan)?, stored, pin),
            _ => Err(Error::MethodMismatch),
        }
    }
}
