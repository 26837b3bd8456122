//! Typed header fields: version, key usage, algorithm, mode of use and
//! exportability.
//!
//! A key block's header is what stops a PIN key from being used as a data
//! key: the receiving side decides what the key may do from these fields,
//! so they get types rather than loose characters. Codes this crate does not
//! name (a newer edition of ANSI X9.143, a proprietary usage) are still
//! accepted and kept as long as they are well formed (upper-case letters or
//! digits), so a key block round-trips unchanged.

use core::fmt;

/// `true` for the characters TR-31 allows in coded header fields.
pub(crate) const fn is_code_char(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// Key block version id (header byte 0): selects the key derivation, the
/// cipher and the MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// Version A: TDES key variant binding, 4-byte CBC-MAC.
    ///
    /// Deprecated by TR-31:2010 and later; for migrating old key stores
    /// only. [`unwrap`](crate::unwrap) reads it, [`wrap`](crate::wrap) refuses it.
    A,
    /// Version B: TDES key derivation binding (TDES-CMAC), 8-byte MAC.
    B,
    /// Version C: as A, with clarified header values.
    ///
    /// Deprecated; for migrating old key stores only. Unwrap only.
    C,
    /// Version D: AES key derivation binding (AES-CMAC), 16-byte MAC.
    D,
}

impl Version {
    /// The version for a header character, if it is `A`, `B`, `C` or `D`.
    #[must_use]
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'A' => Some(Self::A),
            b'B' => Some(Self::B),
            b'C' => Some(Self::C),
            b'D' => Some(Self::D),
            _ => None,
        }
    }

    /// The header character.
    #[must_use]
    pub const fn as_byte(self) -> u8 {
        match self {
            Self::A => b'A',
            Self::B => b'B',
            Self::C => b'C',
            Self::D => b'D',
        }
    }

    /// The cipher block size in bytes: 8 for the TDES versions, 16 for D.
    #[must_use]
    pub const fn block_size(self) -> usize {
        match self {
            Self::A | Self::B | Self::C => 8,
            Self::D => 16,
        }
    }

    /// The MAC length in bytes: 4 for A and C, 8 for B, 16 for D.
    #[must_use]
    pub const fn mac_len(self) -> usize {
        match self {
            Self::A | Self::C => 4,
            Self::B => 8,
            Self::D => 16,
        }
    }

    /// `true` for the deprecated variant-binding versions A and C.
    #[must_use]
    pub const fn is_deprecated(self) -> bool {
        matches!(self, Self::A | Self::C)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Write::write_char(f, char::from(self.as_byte()))
    }
}

/// Key usage (header bytes 5–6): what the wrapped key is for.
///
/// A newtype over the two characters. The named constants cover the usages
/// an issuer meets; any other pair of upper-case letters or digits is kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyUsage([u8; 2]);

impl KeyUsage {
    /// `B0`: base derivation key (BDK) for DUKPT.
    pub const BDK: Self = Self(*b"B0");
    /// `B1`: initial DUKPT key.
    pub const DUKPT_INITIAL: Self = Self(*b"B1");
    /// `C0`: card verification key (CVK).
    pub const CVK: Self = Self(*b"C0");
    /// `D0`: symmetric key for data encryption.
    pub const DATA_ENCRYPTION: Self = Self(*b"D0");
    /// `E0`: EMV/chip issuer master key, application cryptograms.
    pub const EMV_AC: Self = Self(*b"E0");
    /// `K0`: key encryption or wrapping key.
    pub const KEY_ENCRYPTION: Self = Self(*b"K0");
    /// `K1`: TR-31 key block protection key.
    pub const KBPK: Self = Self(*b"K1");
    /// `M0`: ISO 16609 MAC key (MAC algorithm 1 with TDES).
    pub const MAC_ISO16609: Self = Self(*b"M0");
    /// `M1`: ISO 9797-1 MAC algorithm 1.
    pub const MAC_ISO9797_1: Self = Self(*b"M1");
    /// `M3`: ISO 9797-1 MAC algorithm 3 (retail MAC).
    pub const MAC_ISO9797_3: Self = Self(*b"M3");
    /// `M6`: ISO 9797-1:2011 MAC algorithm 5 (CMAC).
    pub const MAC_CMAC: Self = Self(*b"M6");
    /// `P0`: PIN encryption key.
    pub const PIN_ENCRYPTION: Self = Self(*b"P0");
    /// `V0`: PIN verification key, other algorithm.
    pub const PIN_VERIFICATION_OTHER: Self = Self(*b"V0");
    /// `V1`: PIN verification key, IBM 3624.
    pub const PIN_VERIFICATION_IBM3624: Self = Self(*b"V1");
    /// `V2`: PIN verification key, Visa PVV.
    pub const PIN_VERIFICATION_VISA_PVV: Self = Self(*b"V2");

    /// The usage for two characters, if both are upper-case letters or digits.
    #[must_use]
    pub const fn from_bytes(b: [u8; 2]) -> Option<Self> {
        let [x, y] = b;
        if is_code_char(x) && is_code_char(y) {
            Some(Self(b))
        } else {
            None
        }
    }

    /// The usage for a two-character string such as `"P0"`.
    #[must_use]
    pub fn new(s: &str) -> Option<Self> {
        <[u8; 2]>::try_from(s.as_bytes())
            .ok()
            .and_then(Self::from_bytes)
    }

    /// The two header characters.
    #[must_use]
    pub const fn as_bytes(&self) -> [u8; 2] {
        self.0
    }

    /// The two header characters as a string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Always ASCII by construction.
        core::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Debug for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyUsage({})", self.as_str())
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Defines a one-character coded header field.
macro_rules! code_field {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$cmeta:meta])* $cname:ident = $byte:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(u8);

        impl $name {
            $( $(#[$cmeta])* pub const $cname: Self = Self($byte); )*

            /// The field for a header character, if it is an upper-case
            /// letter or a digit (named or not).
            #[must_use]
            pub const fn from_byte(b: u8) -> Option<Self> {
                if is_code_char(b) { Some(Self(b)) } else { None }
            }

            /// The header character.
            #[must_use]
            pub const fn as_byte(self) -> u8 {
                self.0
            }

            /// `true` if this crate names the code (it has a constant).
            #[must_use]
            pub const fn is_known(self) -> bool {
                matches!(self.0, $( $byte )|*)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), char::from(self.0))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Write::write_char(f, char::from(self.0))
            }
        }
    };
}

code_field! {
    /// Algorithm of the wrapped key (header byte 7). Independent of the
    /// version: a TDES key may travel in a version D (AES) block.
    Algorithm {
        /// `A`: AES.
        AES = b'A',
        /// `D`: single DES (legacy; pinset refuses to use single DES keys).
        DES = b'D',
        /// `E`: elliptic curve.
        EC = b'E',
        /// `H`: HMAC.
        HMAC = b'H',
        /// `R`: RSA.
        RSA = b'R',
        /// `S`: DSA.
        DSA = b'S',
        /// `T`: triple DES.
        TDES = b'T',
    }
}

code_field! {
    /// Mode of use of the wrapped key (header byte 8).
    ModeOfUse {
        /// `B`: both encrypt/wrap and decrypt/unwrap.
        BOTH = b'B',
        /// `C`: both generate and verify (MAC, PIN verification value).
        GENERATE_VERIFY = b'C',
        /// `D`: decrypt/unwrap only.
        DECRYPT = b'D',
        /// `E`: encrypt/wrap only.
        ENCRYPT = b'E',
        /// `G`: generate only.
        GENERATE = b'G',
        /// `N`: no special restrictions.
        ANY = b'N',
        /// `S`: signature only.
        SIGN = b'S',
        /// `T`: both sign and decrypt.
        SIGN_DECRYPT = b'T',
        /// `V`: verify only.
        VERIFY = b'V',
        /// `X`: key used to derive other keys.
        DERIVE = b'X',
        /// `Y`: key used to create key variants.
        VARIANT = b'Y',
    }
}

code_field! {
    /// Exportability of the wrapped key (header byte 11).
    Exportability {
        /// `E`: exportable under a KEK in a form meeting X9.24.
        EXPORTABLE = b'E',
        /// `N`: not exportable.
        NON_EXPORTABLE = b'N',
        /// `S`: sensitive; exportable only in forms not meeting X9.24.
        SENSITIVE = b'S',
    }
}

/// The modes of use a key usage allows, or `None` when this crate sets no rule.
pub(crate) fn allowed_modes(usage: KeyUsage) -> Option<&'static [ModeOfUse]> {
    const ENC: &[ModeOfUse] = &[ModeOfUse::BOTH, ModeOfUse::DECRYPT, ModeOfUse::ENCRYPT];
    const PIN_VERIFY: &[ModeOfUse] = &[
        ModeOfUse::GENERATE_VERIFY,
        ModeOfUse::GENERATE,
        ModeOfUse::VERIFY,
        ModeOfUse::ANY,
    ];
    const BDK: &[ModeOfUse] = &[ModeOfUse::DERIVE, ModeOfUse::ANY];
    match usage {
        KeyUsage::PIN_ENCRYPTION
        | KeyUsage::KEY_ENCRYPTION
        | KeyUsage::KBPK
        | KeyUsage::DATA_ENCRYPTION => Some(ENC),
        KeyUsage::PIN_VERIFICATION_IBM3624 | KeyUsage::PIN_VERIFICATION_VISA_PVV => {
            Some(PIN_VERIFY)
        }
        KeyUsage::BDK => Some(BDK),
        _ => None,
    }
}

/// The length wrap masks a key of this algorithm to: the algorithm's longest
/// key (TDES 24, AES 32), or `None` when the algorithm has no fixed maximum.
pub(crate) const fn longest_key(algorithm: Algorithm) -> Option<usize> {
    match algorithm.as_byte() {
        b'T' | b'D' => Some(24),
        b'A' => Some(32),
        _ => None,
    }
}
