//! Key check values.

use core::fmt;

/// A key check value: 3 bytes that name a key without revealing it.
///
/// TDES: the first 3 bytes of TDES-ECB(K, 00×8). AES: the first 3 bytes of
/// AES-CMAC(K, 00×16), as in ANSI X9.24-1:2017. Prints as 6 uppercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kcv(pub(crate) [u8; 3]);

impl Kcv {
    /// Wraps 3 bytes, such as a KCV read from a key file or a peer's message.
    pub const fn from_bytes(bytes: [u8; 3]) -> Self {
        Kcv(bytes)
    }

    /// The 3 bytes.
    pub const fn as_bytes(&self) -> &[u8; 3] {
        &self.0
    }
}

impl fmt::Display for Kcv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}{:02X}{:02X}", self.0[0], self.0[1], self.0[2])
    }
}

impl fmt::Debug for Kcv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kcv({self})")
    }
}
