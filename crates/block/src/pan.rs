//! The primary account number.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// Fewest digits in a PAN (ISO/IEC 7812-1).
pub const MIN_PAN_LEN: usize = 12;
/// Most digits in a PAN (ISO/IEC 7812-1).
pub const MAX_PAN_LEN: usize = 19;
/// Fewest digits a [`MaskedPan`] hides.
pub const MIN_HIDDEN_DIGITS: usize = 6;

/// A primary account number of 12 to 19 digits.
///
/// Zeroized on drop. `Debug` and `Display` show it masked
/// ([`Pan::masked`]): at most the first 6 and last 4 digits, as PCI DSS
/// allows, and never fewer than 6 hidden. The Luhn check is available
/// ([`Pan::is_luhn_valid`]) but not forced: test cards and some private-label
/// ranges fail it.
///
/// ```
/// use pinset_block::Pan;
///
/// let pan = Pan::new("5141576351968605")?;
/// assert_eq!(pan.to_string(), "514157******8605");
/// assert_eq!(format!("{pan:?}"), "Pan(514157******8605)");
/// assert!(pan.is_luhn_valid());
/// # Ok::<(), pinset_block::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Pan {
    digits: [u8; MAX_PAN_LEN],
    len: u8,
}

impl Pan {
    /// Parses 12 to 19 ASCII digits. Nothing is trimmed.
    pub fn new(digits: &str) -> Result<Self, Error> {
        Self::from_ascii(digits.as_bytes())
    }

    /// Parses 12 to 19 ASCII digits from bytes.
    pub fn from_ascii(digits: &[u8]) -> Result<Self, Error> {
        if !(MIN_PAN_LEN..=MAX_PAN_LEN).contains(&digits.len()) {
            return Err(Error::PanLength);
        }
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(Error::PanNotNumeric);
        }
        let mut pan = Pan {
            digits: [0; MAX_PAN_LEN],
            len: digits.len() as u8,
        };
        pan.digits[..digits.len()].copy_from_slice(digits);
        Ok(pan)
    }

    /// Number of digits (12 to 19).
    #[allow(clippy::len_without_is_empty)] // a PAN is never empty
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// The ASCII digits. This is the full PAN: keep it out of logs.
    pub fn expose_digits(&self) -> &[u8] {
        &self.digits[..self.len()]
    }

    /// The full PAN as text. This is the full PAN: keep it out of logs.
    pub fn expose_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        core::str::from_utf8(self.expose_digits()).unwrap_or_default()
    }

    /// Whether the last digit is the Luhn (mod 10) check digit of the others.
    pub fn is_luhn_valid(&self) -> bool {
        let sum: u32 = self
            .expose_digits()
            .iter()
            .rev()
            .enumerate()
            .map(|(i, d)| {
                let v = u32::from(d - b'0');
                if i % 2 == 1 {
                    let v2 = v * 2;
                    if v2 > 9 { v2 - 9 } else { v2 }
                } else {
                    v
                }
            })
            .sum();
        sum.is_multiple_of(10)
    }

    /// The PAN masked for logs: the last 4 digits and at most the first 6
    /// (PCI DSS), with at least [`MIN_HIDDEN_DIGITS`] hidden. The leading
    /// part gives way first, so a 16- to 19-digit PAN shows 6 and 4, and a
    /// 12-digit PAN only its first 2 and last 4: with first 6 and last 4 it
    /// would hide 2 digits, about ten candidates once the Luhn digit is checked.
    ///
    /// ```
    /// use pinset_block::Pan;
    ///
    /// assert_eq!(Pan::new("5141576351968605")?.masked().as_str(), "514157******8605");
    /// assert_eq!(Pan::new("123456789012")?.masked().as_str(), "12******9012");
    /// # Ok::<(), pinset_block::Error>(())
    /// ```
    pub fn masked(&self) -> MaskedPan {
        let mut out = [b'*'; MAX_PAN_LEN];
        let len = self.len();
        let lead = len.saturating_sub(MIN_HIDDEN_DIGITS + 4).min(6);
        out[..lead].copy_from_slice(&self.digits[..lead]);
        out[len - 4..len].copy_from_slice(&self.digits[len - 4..len]);
        MaskedPan {
            text: out,
            len: self.len,
        }
    }
}

impl fmt::Debug for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pan({})", self.masked())
    }
}

impl fmt::Display for Pan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.masked(), f)
    }
}

/// A PAN masked as [`Pan::masked`] does, like `514157******8605`.
///
/// Holds no more than it shows, so it can be copied into logs and audit events.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaskedPan {
    text: [u8; MAX_PAN_LEN],
    len: u8,
}

impl MaskedPan {
    /// The masked PAN as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl fmt::Debug for MaskedPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskedPan({})", self.as_str())
    }
}
