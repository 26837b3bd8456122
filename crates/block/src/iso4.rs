//! ISO 9564-1:2017 format 4: the clear PIN and PAN fields of the AES PIN block.
//!
//! This module only lays out the fields. The encipherment (two AES calls
//! chained through the PAN field) lives in `pinset-envelope`.
//!
//! ```
//! use chacha20::ChaCha20Rng;
//! use pinset_block::{iso4, Pan, Pin};
//! use rand_core::SeedableRng;
//!
//! let field = iso4::encode_pin_field(&Pin::new("1234")?, &mut ChaCha20Rng::seed_from_u64(1));
//! assert_eq!(field.expose_bytes()[..8], [0x44, 0x12, 0x34, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA]);
//! let pan_field = iso4::pan_field(&Pan::new("4111111111111111")?);
//! assert_eq!(pan_field.expose_bytes()[..3], [0x44, 0x11, 0x11]);
//! # Ok::<(), pinset_block::Error>(())
//! ```

use rand_core::CryptoRng;
use zeroize::Zeroize;

use crate::field::{pin_field, read_pin_field};
use crate::{Error, Format, Pan, PanField, Pin, PinField};

/// Fill nibbles after the PIN in the first half of the PIN field.
const FILL_A: u64 = 0xAAAA_AAAA_AAAA_AAAA;

/// Lays out the PIN field: `4`, length, PIN, `A` fill, then 8 random bytes from `rng`.
pub fn encode_pin_field<R: CryptoRng + ?Sized>(pin: &Pin, rng: &mut R) -> PinField {
    let mut field = PinField::from_bytes([0; 16]);
    let bytes = field.expose_bytes_mut();
    bytes[..8].copy_from_slice(&pin_field(4, pin, FILL_A).to_be_bytes());
    rng.fill_bytes(&mut bytes[8..]);
    field
}

/// Reads the PIN from a clear PIN field, checking control, length, digits and `A` fill.
///
/// The 8 random bytes carry no rule, so they are not checked.
pub fn decode_pin_field(field: &PinField) -> Result<Pin, Error> {
    let mut head = [0u8; 8];
    head.copy_from_slice(&field.expose_bytes()[..8]);
    read_pin_field(u64::from_be_bytes(head), Format::Iso4, |n| n == 0xA)
}

/// Lays out the PAN field: M = length - 12, the PAN, then zero fill.
///
/// A [`Pan`] always has 12 or more digits, so the left-padding that the
/// standard gives shorter account numbers never applies here.
pub fn pan_field(pan: &Pan) -> PanField {
    let digits = pan.expose_digits();
    let mut nibbles = [0u8; 32];
    nibbles[0] = (digits.len() - 12) as u8;
    for (n, d) in nibbles[1..].iter_mut().zip(digits) {
        *n = d - b'0';
    }
    let mut field = PanField::from_bytes([0; 16]);
    for (byte, pair) in field
        .expose_bytes_mut()
        .iter_mut()
        .zip(nibbles.chunks_exact(2))
    {
        *byte = (pair[0] << 4) | pair[1];
    }
    nibbles.zeroize();
    field
}

/// Reads the PAN back from a PAN field, checking M, the digits and the zero fill.
pub fn decode_pan_field(field: &PanField) -> Result<Pan, Error> {
    let bytes = field.expose_bytes();
    let nibble = |i: usize| (bytes[i / 2] >> (4 * (1 - i % 2))) & 0xF;
    let m = usize::from(nibble(0));
    if m > 7 {
        return Err(Error::PanField);
    }
    let len = 12 + m;
    let mut digits = [0u8; 19];
    let mut ok = true;
    for (i, d) in digits[..len].iter_mut().enumerate() {
        let n = nibble(1 + i);
        ok &= n <= 9;
        *d = b'0' + n;
    }
    for i in 1 + len..32 {
        ok &= nibble(i) == 0;
    }
    let result = if ok {
        Pan::from_ascii(&digits[..len])
    } else {
        Err(Error::PanField)
    };
    digits.zeroize();
    result
}
