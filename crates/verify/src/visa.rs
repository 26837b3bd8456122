//! Visa PIN verification value (PVV).
//!
//! The CMS keeps a 4-digit PVV instead of the PIN; the authorisation host
//! recomputes it from the PIN a cardholder enters. The PVV binds the PIN's
//! first four digits to 11 PAN digits and a key index under the PVK.

use core::fmt;

use pinset_block::{Pan, Pin};
use zeroize::Zeroizing;

use crate::digits::{Digits, secret_digits};
use crate::{Error, PinVerificationKey};

/// The PIN verification key index: which of the issuer's PVKs (1 to 6; 0
/// when the issuer has one) made a PVV. One digit, stored beside the PVV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pvki(u8);

impl Pvki {
    /// The index `index`, 0 to 6.
    ///
    /// # Errors
    ///
    /// [`Error::Pvki`] above 6.
    pub fn new(index: u8) -> Result<Self, Error> {
        if index <= 6 {
            Ok(Pvki(index))
        } else {
            Err(Error::Pvki)
        }
    }

    /// Parses one digit, `0` to `6`.
    ///
    /// # Errors
    ///
    /// [`Error::Pvki`] for anything else.
    pub fn parse(text: &str) -> Result<Self, Error> {
        match text.as_bytes() {
            [d @ b'0'..=b'6'] => Ok(Pvki(d - b'0')),
            _ => Err(Error::Pvki),
        }
    }

    /// The index, 0 to 6.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Pvki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

secret_digits!(
    /// A Visa PVV: 4 decimal digits.
    ///
    /// With the PVK, a PVV narrows the PIN to a few candidates, so it is
    /// kept like a secret: `Debug` is redacted, equality is constant-time,
    /// and it zeroizes on drop. [`Pvv::expose_str`] gives the digits for
    /// the CMS.
    Pvv
);

impl Pvv {
    /// Parses 4 decimal digits, as a CMS stores them.
    ///
    /// # Errors
    ///
    /// [`Error::Pvv`] for anything else.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Digits::parse(text, 4, 4).map(Pvv).ok_or(Error::Pvv)
    }
}

/// Computes the Visa PVV of `pin` for `pan` under `pvk` with index `pvki`.
///
/// The transformed security parameter is the PAN's 11 rightmost digits
/// without the check digit, the PVKI and the PIN's first 4 digits. It is
/// enciphered under the PVK, and the PVV is the first 4 decimal digits of
/// the result read left to right, then, if fewer than 4, its hex digits
/// A to F less 10 (Visa PIN Verification Service).
///
/// ```
/// use pinset_block::{Pan, Pin};
/// use pinset_verify::{PinVerificationKey, Pvki, visa_pvv};
///
/// // psec tests/test_pin.py
/// let pvk = PinVerificationKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210")?)?;
/// let pan = Pan::new("1122334455667788")?;
/// let pvv = visa_pvv(&pvk, Pvki::new(1)?, &pan, &Pin::new("4524")?);
/// assert_eq!(pvv.expose_str(), "8523");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn visa_pvv(pvk: &PinVerificationKey, pvki: Pvki, pan: &Pan, pin: &Pin) -> Pvv {
    let pan = pan.expose_digits();
    // A PAN has 12 to 19 digits and a PIN 4 to 12, so these never run short.
    let account = pan.get(pan.len() - 12..pan.len() - 1).unwrap_or_default();
    // The TSP holds PIN digits: every buffer that sees them is wiped.
    let mut nibbles = Zeroizing::new([0u8; 16]);
    let digits = account
        .iter()
        .map(|d| d - b'0')
        .chain([pvki.0])
        .chain(pin.expose_digits().iter().take(4).map(|d| d - b'0'));
    for (n, d) in nibbles.iter_mut().zip(digits) {
        *n = d;
    }
    let mut tsp = Zeroizing::new([0u8; 8]);
    for (byte, pair) in tsp.iter_mut().zip(nibbles.chunks_exact(2)) {
        *byte = (pair[0] << 4) | pair[1];
    }
    let result = Zeroizing::new(pvk.encipher(*tsp));
    Pvv(decimalize(&result))
}

/// The first four decimal nibbles, then the A-F ones less 10.
fn decimalize(block: &[u8; 8]) -> Digits {
    let nibbles = || block.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    Digits::from_values(
        nibbles()
            .filter(|n| *n < 10)
            .chain(nibbles().filter(|n| *n >= 10).map(|n| n - 10))
            .take(4),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimalize_falls_back_to_letters() {
        // Only two decimal nibbles: the rest come from A-F, less 10.
        let d = decimalize(&[0xAB, 0xCD, 0xEF, 0xAB, 0xCD, 0xEF, 0x1A, 0x2B]);
        assert_eq!(d.as_str(), "1201");
    }
}
