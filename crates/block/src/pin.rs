//! The cardholder PIN.

use core::fmt;

use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// Fewest digits in a PIN (ISO 9564-1).
pub const MIN_PIN_LEN: usize = 4;
/// Most digits in a PIN (ISO 9564-1).
pub const MAX_PIN_LEN: usize = 12;

/// A PIN of 4 to 12 ASCII digits.
///
/// Zeroized on drop. `Debug` is redacted and there is no `Display`: the only
/// way to the digits is [`Pin::expose_digits`], which reads as what it is.
/// Equality is constant-time ([`ConstantTimeEq`]).
///
/// ```
/// use pinset_block::Pin;
///
/// let pin = Pin::new("1234")?;
/// assert_eq!(pin.len(), 4);
/// assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
/// assert!(Pin::new("12a4").is_err());
/// # Ok::<(), pinset_block::Error>(())
/// ```
#[derive(Clone, Zeroize)]
pub struct Pin {
    // ASCII digits; bytes past `len` stay zero so equality can compare all 12.
    digits: [u8; MAX_PIN_LEN],
    len: u8,
}

impl Pin {
    /// Parses 4 to 12 ASCII digits. Nothing is trimmed.
    pub fn new(digits: &str) -> Result<Self, Error> {
        Self::from_ascii(digits.as_bytes())
    }

    /// Parses 4 to 12 ASCII digits from bytes.
    pub fn from_ascii(digits: &[u8]) -> Result<Self, Error> {
        if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&digits.len()) {
            return Err(Error::PinLength);
        }
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(Error::PinNotNumeric);
        }
        let mut pin = Pin {
            digits: [0; MAX_PIN_LEN],
            len: digits.len() as u8,
        };
        pin.digits[..digits.len()].copy_from_slice(digits);
        Ok(pin)
    }

    /// Builds a PIN from decimal digit values (0-9), as decoders read them.
    pub(crate) fn from_values(values: &[u8]) -> Self {
        let mut pin = Pin {
            digits: [0; MAX_PIN_LEN],
            len: values.len() as u8,
        };
        for (d, v) in pin.digits.iter_mut().zip(values) {
            *d = b'0' + v;
        }
        pin
    }

    /// Number of digits (4 to 12).
    #[allow(clippy::len_without_is_empty)] // a PIN is never empty
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// The ASCII digits. Handle with care: this is the clear PIN.
    pub fn expose_digits(&self) -> &[u8] {
        &self.digits[..self.len()]
    }

    /// Digit values 0-9, as they go into a PIN field.
    pub(crate) fn values(&self) -> impl Iterator<Item = u8> + '_ {
        self.expose_digits().iter().map(|d| d - b'0')
    }
}

/// Zeroizes with wide stores that the barrier keeps, instead of the
/// derive's byte-by-byte volatile writes.
impl Drop for Pin {
    #[inline]
    fn drop(&mut self) {
        self.digits = [0; MAX_PIN_LEN];
        self.len = 0;
        zeroize::optimization_barrier(self);
    }
}

impl ZeroizeOnDrop for Pin {}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

impl ConstantTimeEq for Pin {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.len.ct_eq(&other.len) & self.digits.ct_eq(&other.digits)
    }
}

impl PartialEq for Pin {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Pin {}
