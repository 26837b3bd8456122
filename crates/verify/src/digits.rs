//! Fixed-length decimal strings that hold verification values.

/// Up to 12 ASCII digits, compared in constant time, zeroized on drop.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub(crate) struct Digits {
    digits: [u8; 12],
    len: u8,
}

impl Digits {
    /// Parses `min..=max` ASCII digits.
    pub(crate) fn parse(text: &str, min: usize, max: usize) -> Option<Self> {
        let bytes = text.as_bytes();
        if !(min..=max).contains(&bytes.len()) || !bytes.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(Self::from_values(bytes.iter().map(|d| d - b'0')))
    }

    /// From digit values 0-9 (at most 12 are kept).
    pub(crate) fn from_values(values: impl IntoIterator<Item = u8>) -> Self {
        let mut this = Digits {
            digits: [0; 12],
            len: 0,
        };
        for (slot, v) in this.digits.iter_mut().zip(values) {
            *slot = b'0' + v % 10;
            this.len += 1;
        }
        this
    }

    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        core::str::from_utf8(&self.digits[..self.len()]).unwrap_or_default()
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = u8> + '_ {
        self.digits[..self.len()].iter().map(|d| d - b'0')
    }
}

impl subtle::ConstantTimeEq for Digits {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.digits.ct_eq(&other.digits) & self.len.ct_eq(&other.len)
    }
}

/// A verification value over [`Digits`]: `expose_str`, constant-time
/// equality and a redacted `Debug`, alike for every kind of value.
macro_rules! secret_digits {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(crate::digits::Digits);

        impl $name {
            /// The digits, for the CMS record. Handle with care.
            pub fn expose_str(&self) -> &str {
                self.0.as_str()
            }
        }

        impl subtle::ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> subtle::Choice {
                self.0.ct_eq(&other.0)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                subtle::ConstantTimeEq::ct_eq(self, other).into()
            }
        }

        impl Eq for $name {}

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

pub(crate) use secret_digits;
