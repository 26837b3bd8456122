//! Clear block types and the nibble layout shared by all formats.
//!
//! Formats 0 to 3, and the first half of the format 4 PIN field, share one
//! 64-bit layout: control nibble, length nibble, then 14 nibbles of PIN
//! digits followed by fill. Working on a `u64` keeps encode and decode
//! branch-light and allocation-free.

use core::fmt;

use rand_core::CryptoRng;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, Format, MAX_PIN_LEN, MIN_PIN_LEN, Pan, Pin};

/// Nibbles after the control and length fields.
const BODY_NIBBLES: usize = 14;

macro_rules! secret_bytes {
    ($(#[$doc:meta])* $name:ident, $len:literal) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize)]
        pub struct $name([u8; $len]);

        /// Zeroizes with one wide store that the barrier keeps, instead of
        /// the derive's byte-by-byte volatile writes.
        impl Drop for $name {
            #[inline]
            fn drop(&mut self) {
                self.0 = [0; $len];
                zeroize::optimization_barrier(&self.0);
            }
        }

        impl ZeroizeOnDrop for $name {}

        impl $name {
            /// Bytes in this block.
            pub const LEN: usize = $len;

            /// Wraps raw bytes. Nothing is checked until a decoder reads them.
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// Wraps a slice of exactly [`Self::LEN`] bytes.
            pub fn try_from_slice(bytes: &[u8]) -> Result<Self, Error> {
                <[u8; $len]>::try_from(bytes)
                    .map(Self)
                    .map_err(|_| Error::BlockLength { expected: $len, found: bytes.len() })
            }

            /// The bytes. Handle with care: they hold a clear PIN or PAN.
            pub fn expose_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Mutable bytes, so a cipher can work in place without a copy.
            pub fn expose_bytes_mut(&mut self) -> &mut [u8; $len] {
                &mut self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> Choice {
                self.0.ct_eq(&other.0)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.ct_eq(other).into()
            }
        }

        impl Eq for $name {}
    };
}

secret_bytes!(
    /// A clear 8-byte PIN block of format 0, 1, 2 or 3. Zeroized on drop, redacted in `Debug`.
    ClearBlock,
    8
);

secret_bytes!(
    /// The clear 16-byte PIN field of format 4. Zeroized on drop, redacted in `Debug`.
    PinField,
    16
);

secret_bytes!(
    /// The 16-byte PAN field of format 4. It holds the full PAN: zeroized on drop, redacted in `Debug`.
    PanField,
    16
);

impl ClearBlock {
    pub(crate) fn from_u64(v: u64) -> Self {
        Self(v.to_be_bytes())
    }

    pub(crate) fn to_u64(&self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// The format named by the control field, if it names one.
    ///
    /// Meaningful only for formats 1 to 3; a format 0 block reads as format
    /// 0 too, because its PAN field starts with four zero nibbles.
    pub fn control_format(&self) -> Option<Format> {
        Format::from_control_field(self.0[0] >> 4)
    }
}

/// Packs control, length, PIN digits and fill into one 64-bit PIN field.
///
/// `fill` supplies the fill nibbles from its low end; nibbles the PIN covers are ignored.
pub(crate) fn pin_field(control: u8, pin: &Pin, fill: u64) -> u64 {
    let len = pin.len();
    let digits = pin.values().fold(0u64, |acc, v| (acc << 4) | u64::from(v));
    let fill_bits = 4 * (BODY_NIBBLES - len);
    let fill_mask = (1u64 << fill_bits) - 1;
    (u64::from(control) << 60) | ((len as u64) << 56) | (digits << fill_bits) | (fill & fill_mask)
}

/// The format 0/3 PAN field: `0000` then the 12 rightmost PAN digits
/// excluding the check digit, left-padded with zeros when fewer.
pub(crate) fn pan_field(pan: &Pan) -> u64 {
    let digits = pan.expose_digits();
    let body = &digits[..digits.len() - 1];
    body[body.len().saturating_sub(12)..]
        .iter()
        .fold(0u64, |acc, d| (acc << 4) | u64::from(d - b'0'))
}

/// Reads a PIN out of a 64-bit PIN field, checking control, length, digits
/// and fill. Every nibble is read whatever fails first, so the time taken
/// does not point at the failing nibble.
pub(crate) fn read_pin_field(
    field: u64,
    format: Format,
    fill_ok: impl Fn(u8) -> bool,
) -> Result<Pin, Error> {
    let control = (field >> 60) as u8;
    let len = ((field >> 56) & 0xF) as usize;
    let mut values = [0u8; MAX_PIN_LEN];
    let mut digits_ok = true;
    let mut fill_good = true;
    for i in 0..BODY_NIBBLES {
        let nibble = ((field >> (52 - 4 * i)) & 0xF) as u8;
        if i < len {
            digits_ok &= nibble <= 9;
            if let Some(v) = values.get_mut(i) {
                *v = nibble;
            }
        } else {
            fill_good &= fill_ok(nibble);
        }
    }
    let result = if control != format.control_field() {
        Err(Error::ControlField {
            expected: format,
            found: control,
        })
    } else if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&len) {
        Err(Error::LengthField)
    } else if !digits_ok {
        Err(Error::PinDigit)
    } else if !fill_good {
        Err(Error::FillDigit(format))
    } else {
        Ok(Pin::from_values(&values[..len]))
    };
    values = [0; MAX_PIN_LEN];
    zeroize::optimization_barrier(&values);
    result
}

/// Random fill nibbles 0-F: every bit of a `u64` is uniform already.
pub(crate) fn random_hex_fill<R: CryptoRng + ?Sized>(rng: &mut R) -> u64 {
    rng.next_u64()
}

/// `count` random fill nibbles A-F, packed at the low end of a `u64`.
///
/// Unbiased: each nibble takes a 3-bit draw and rejects 6 and 7, rather
/// than reducing modulo 6.
///
/// The accept/reject step is arithmetic, not a branch: a branch on each
/// draw mispredicts about one draw in four, which cost more than the rest
/// of a format 3 encode, and let the timing follow the fill. The only
/// data-dependent branch left is the loop exit once `count` are made.
pub(crate) fn random_af_fill<R: CryptoRng + ?Sized>(rng: &mut R, count: usize) -> u64 {
    let mut fill = 0u64;
    let mut made = 0;
    while made < count {
        let mut word = rng.next_u64();
        // 21 three-bit draws per word.
        for _ in 0..21 {
            if made == count {
                break;
            }
            let draw = word & 0b111;
            word >>= 3;
            let take = u64::from(draw < 6);
            fill = (fill << (4 * take)) | ((0xA + draw) & take.wrapping_neg());
            made += take as usize;
        }
    }
    fill
}

#[cfg(test)]
mod random_af_fill_matches_branchy_loop {
    use super::*;
    use rand_core::{Rng, SeedableRng};

    fn old<R: CryptoRng + ?Sized>(rng: &mut R, count: usize) -> u64 {
        let mut fill = 0u64;
        let mut made = 0;
        while made < count {
            let mut word = rng.next_u64();
            for _ in 0..21 {
                let draw = (word & 0b111) as u8;
                word >>= 3;
                if draw < 6 {
                    fill = (fill << 4) | u64::from(0xA + draw);
                    made += 1;
                    if made == count {
                        break;
                    }
                }
            }
        }
        fill
    }

    #[test]
    fn same_output_and_rng_use() {
        for seed in 0..2_000u64 {
            for count in 0..=14 {
                let mut a = chacha20::ChaCha20Rng::seed_from_u64(seed);
                let mut b = chacha20::ChaCha20Rng::seed_from_u64(seed);
                assert_eq!(
                    old(&mut a, count),
                    random_af_fill(&mut b, count),
                    "seed {seed} count {count}"
                );
                assert_eq!(a.next_u64(), b.next_u64(), "rng consumption differs");
            }
        }
    }
}
