//! IBM 3624 natural PIN and PIN offset.
//!
//! The issuer's "natural PIN" is the validation data (usually PAN digits)
//! enciphered under the PVK and decimalised. A cardholder's chosen PIN is
//! stored as its digit-wise distance from the natural PIN, the offset, so
//! the CMS keeps no PIN and the host can verify one.

use core::fmt;

use pinset_block::{MAX_PIN_LEN, MIN_PIN_LEN, Pan, Pin};
use subtle::ConstantTimeEq;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::digits::{Digits, secret_digits};
use crate::{Error, PinVerificationKey};

/// Maps each hex digit of the enciphered validation data to a decimal
/// digit: 16 decimal digits, the nth for the nibble value n.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecimalizationTable([u8; 16]);

impl DecimalizationTable {
    /// The usual table, `0123456789012345`.
    pub const STANDARD: DecimalizationTable =
        DecimalizationTable([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5]);

    /// Parses 16 decimal digits.
    ///
    /// # Errors
    ///
    /// [`Error::DecimalizationTable`] for anything else.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bytes = text.as_bytes();
        let mut table = [0u8; 16];
        if bytes.len() != 16 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(Error::DecimalizationTable);
        }
        for (t, d) in table.iter_mut().zip(bytes) {
            *t = d - b'0';
        }
        Ok(DecimalizationTable(table))
    }

    /// Checks the table against the rule HSMs apply to tables a caller
    /// supplies (payShield's: at least 8 distinct digits, none more than 4
    /// times). A table such as `0000000000000000` makes every natural PIN
    /// `0000`, so the offset would be the PIN itself.
    ///
    /// This alone does not stop Bond and Zieliński's decimalisation table
    /// attack on verification; a security module also binds the table to
    /// the PVK.
    ///
    /// # Errors
    ///
    /// [`Error::WeakDecimalizationTable`].
    pub fn check_strength(&self) -> Result<(), Error> {
        let mut counts = [0u8; 10];
        for d in self.0 {
            if let Some(c) = counts.get_mut(usize::from(d)) {
                *c += 1;
            }
        }
        let distinct = counts.iter().filter(|c| **c > 0).count();
        if distinct < 8 || counts.iter().any(|c| *c > 4) {
            return Err(Error::WeakDecimalizationTable);
        }
        Ok(())
    }

    fn map(&self, nibble: u8) -> u8 {
        self.0.get(usize::from(nibble & 0x0F)).copied().unwrap_or(0)
    }
}

impl fmt::Debug for DecimalizationTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A table is a published parameter, not a secret.
        let text: String = self.0.iter().map(|d| char::from(b'0' + d)).collect();
        write!(f, "DecimalizationTable({text})")
    }
}

/// The 16 hex digits enciphered into the natural PIN: up to 16 hex
/// characters of validation data, padded on the right.
///
/// Usually PAN digits, so it is kept like them: `Debug` is redacted,
/// equality is constant-time, and it zeroizes on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ValidationData([u8; 8]);

impl PartialEq for ValidationData {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for ValidationData {}

impl ValidationData {
    /// `data` (1 to 16 hex characters, either case) padded on the right
    /// with the hex character `pad` (`F` by custom).
    ///
    /// # Errors
    ///
    /// [`Error::ValidationData`] for an empty or longer text, a non-hex
    /// character, or a non-hex pad.
    pub fn new(data: &str, pad: char) -> Result<Self, Error> {
        let pad = u8::try_from(pad)
            .ok()
            .and_then(hex_value)
            .ok_or(Error::ValidationData)?;
        let bytes = data.as_bytes();
        if bytes.is_empty() || bytes.len() > 16 {
            return Err(Error::ValidationData);
        }
        let mut nibbles = Zeroizing::new([pad; 16]);
        for (n, c) in nibbles.iter_mut().zip(bytes) {
            *n = hex_value(*c).ok_or(Error::ValidationData)?;
        }
        let mut data = ValidationData([0; 8]);
        for (b, pair) in data.0.iter_mut().zip(nibbles.chunks_exact(2)) {
            *b = (pair[0] << 4) | pair[1];
        }
        Ok(data)
    }

    /// `length` PAN digits from `start` (0 is the first digit), padded with `pad`.
    ///
    /// # Errors
    ///
    /// [`Error::ValidationDigits`] if they do not lie inside the PAN;
    /// [`Error::ValidationData`] for a length of 0 or over 16, or a non-hex pad.
    pub fn from_pan(pan: &Pan, start: usize, length: usize, pad: char) -> Result<Self, Error> {
        let digits = pan
            .expose_digits()
            .get(start..start.saturating_add(length))
            .ok_or(Error::ValidationDigits)?;
        // PAN digits are ASCII, so this is text.
        Self::new(
            core::str::from_utf8(digits).map_err(|_| Error::ValidationData)?,
            pad,
        )
    }
}

/// The value of one ASCII hex digit, either case.
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Debug for ValidationData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Usually PAN digits: never shown.
        f.write_str("ValidationData(<redacted>)")
    }
}

secret_digits!(
    /// An IBM 3624 PIN offset: 4 to 12 decimal digits, one per PIN digit.
    ///
    /// With the PVK it gives the PIN back, so it is kept like a secret:
    /// `Debug` is redacted, equality is constant-time, zeroized on drop.
    Ibm3624Offset
);

impl Ibm3624Offset {
    /// Parses 4 to 12 decimal digits, as a CMS stores them.
    ///
    /// # Errors
    ///
    /// [`Error::Offset`] for anything else.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Digits::parse(text, MIN_PIN_LEN, MAX_PIN_LEN)
            .map(Ibm3624Offset)
            .ok_or(Error::Offset)
    }

    /// The number of digits, which is the PIN length checked.
    #[allow(clippy::len_without_is_empty)] // an offset is never empty
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

/// The decimalised validation data: the first `length` digits make the
/// natural PIN.
fn intermediate(
    pvk: &PinVerificationKey,
    table: &DecimalizationTable,
    data: &ValidationData,
) -> Digits {
    let block = Zeroizing::new(pvk.encipher(data.0));
    Digits::from_values(
        block
            .iter()
            .flat_map(|b| [b >> 4, b & 0x0F])
            .map(|n| table.map(n))
            .take(MAX_PIN_LEN),
    )
}

/// The issuer's natural PIN of `length` digits (4 to 12) for `data`.
///
/// # Errors
///
/// [`Error::PinLength`] for a length outside 4 to 12.
pub fn ibm3624_natural_pin(
    pvk: &PinVerificationKey,
    table: &DecimalizationTable,
    data: &ValidationData,
    length: usize,
) -> Result<Pin, Error> {
    if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&length) {
        return Err(Error::PinLength);
    }
    let natural = intermediate(pvk, table, data);
    Pin::new(natural.as_str().get(..length).unwrap_or_default()).map_err(|_| Error::PinLength)
}

/// The offset that turns the natural PIN into `pin`: digit by digit,
/// `(pin - natural) mod 10`, one digit per PIN digit (IBM 3624).
///
/// ```
/// use pinset_block::Pin;
/// use pinset_verify::{DecimalizationTable, PinVerificationKey, ValidationData, ibm3624_offset};
///
/// // psec tests/test_pin.py
/// let pvk = PinVerificationKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210")?)?;
/// let table = DecimalizationTable::parse("1234567890123456")?;
/// let data = ValidationData::new("1122334455667788", 'F')?;
/// let offset = ibm3624_offset(&pvk, &table, &data, &Pin::new("1234")?);
/// assert_eq!(offset.expose_str(), "7710");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn ibm3624_offset(
    pvk: &PinVerificationKey,
    table: &DecimalizationTable,
    data: &ValidationData,
    pin: &Pin,
) -> Ibm3624Offset {
    let natural = intermediate(pvk, table, data);
    let pin_values = pin.expose_digits().iter().map(|d| d - b'0');
    Ibm3624Offset(Digits::from_values(
        pin_values
            .zip(natural.values())
            .map(|(p, n)| (p + 10 - n) % 10),
    ))
}

/// Whether `pin` matches `offset`: its first `offset.len()` digits are the
/// natural PIN plus the offset. Constant-time in the digits.
///
/// # Errors
///
/// [`Error::OffsetLongerThanPin`] if the offset has more digits than the PIN.
pub fn ibm3624_verify(
    pvk: &PinVerificationKey,
    table: &DecimalizationTable,
    data: &ValidationData,
    offset: &Ibm3624Offset,
    pin: &Pin,
) -> Result<bool, Error> {
    let checked = pin
        .expose_digits()
        .get(..offset.len())
        .ok_or(Error::OffsetLongerThanPin)?;
    let checked = Pin::from_ascii(checked).map_err(|_| Error::OffsetLongerThanPin)?;
    Ok(ibm3624_offset(pvk, table, data, &checked)
        .ct_eq(offset)
        .into())
}
