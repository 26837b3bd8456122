//! Key handles: what the host holds instead of key material.

use core::fmt;

use pinset_block::Format;
use pinset_envelope::Kcv;

use crate::ModuleError;

/// What a key may be used for. Every key in a module carries one, and the
/// module checks it on every operation: a key tagged for one purpose is
/// never used for another (PCI PIN: one purpose per key).
///
/// ```
/// use pinset_module::KeyPurpose;
///
/// assert_eq!(KeyPurpose::PinEncryption.to_string(), "PIN encryption");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyPurpose {
    /// Encrypts PIN blocks and nothing else (a ZPK, a tzpk, or an RSA PIN key).
    PinEncryption,
    /// Encrypts other keys for transport (a ZMK or KEK).
    KeyEncryption,
    /// Encrypts general data.
    DataEncryption,
    /// Computes and checks Visa PVVs and nothing else (TR-31 usage `V2`).
    PinVerificationVisa,
    /// Computes IBM 3624 natural PINs and offsets and nothing else (TR-31
    /// usage `V1`).
    PinVerificationIbm3624,
    /// Protects TR-31 key blocks: derives their encryption and MAC keys
    /// (TR-31 usage `K1`). Kept apart from [`KeyPurpose::KeyEncryption`],
    /// as X9.143 keeps `K0` and `K1` apart.
    KeyBlockProtection,
}

impl KeyPurpose {
    /// The purpose in words, such as `PIN encryption`.
    pub const fn name(self) -> &'static str {
        match self {
            KeyPurpose::PinEncryption => "PIN encryption",
            KeyPurpose::KeyEncryption => "key encryption",
            KeyPurpose::DataEncryption => "data encryption",
            KeyPurpose::PinVerificationVisa => "Visa PVV",
            KeyPurpose::PinVerificationIbm3624 => "IBM 3624 PIN verification",
            KeyPurpose::KeyBlockProtection => "key block protection",
        }
    }

    /// The byte that stands for it in pinset's key exports. Stable.
    pub const fn code(self) -> u8 {
        match self {
            KeyPurpose::PinEncryption => 1,
            KeyPurpose::KeyEncryption => 2,
            KeyPurpose::DataEncryption => 3,
            KeyPurpose::PinVerificationVisa => 4,
            KeyPurpose::PinVerificationIbm3624 => 5,
            KeyPurpose::KeyBlockProtection => 6,
        }
    }

    /// The purpose an export byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(KeyPurpose::PinEncryption),
            2 => Some(KeyPurpose::KeyEncryption),
            3 => Some(KeyPurpose::DataEncryption),
            4 => Some(KeyPurpose::PinVerificationVisa),
            5 => Some(KeyPurpose::PinVerificationIbm3624),
            6 => Some(KeyPurpose::KeyBlockProtection),
            _ => None,
        }
    }
}

impl fmt::Display for KeyPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// The algorithm and size of a key in a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// Double-length TDES (16 bytes, K1 K2 K1).
    Tdes2,
    /// Triple-length TDES (24 bytes).
    Tdes3,
    /// AES-128.
    Aes128,
    /// AES-192.
    Aes192,
    /// AES-256.
    Aes256,
    /// An RSA key pair of this many modulus bits (2048 to 4096).
    Rsa {
        /// Modulus bits.
        bits: u16,
    },
}

impl KeyAlgorithm {
    /// The symmetric algorithm of a key of `len` bytes: TDES for 16 and 24
    /// unless `aes`, AES for 16, 24 and 32 if `aes`.
    pub const fn symmetric(len: usize, aes: bool) -> Option<Self> {
        match (len, aes) {
            (16, false) => Some(KeyAlgorithm::Tdes2),
            (24, false) => Some(KeyAlgorithm::Tdes3),
            (16, true) => Some(KeyAlgorithm::Aes128),
            (24, true) => Some(KeyAlgorithm::Aes192),
            (32, true) => Some(KeyAlgorithm::Aes256),
            _ => None,
        }
    }

    /// Whether it is TDES (either length).
    pub const fn is_tdes(self) -> bool {
        matches!(self, KeyAlgorithm::Tdes2 | KeyAlgorithm::Tdes3)
    }

    /// Whether it is AES (any length).
    pub const fn is_aes(self) -> bool {
        matches!(
            self,
            KeyAlgorithm::Aes128 | KeyAlgorithm::Aes192 | KeyAlgorithm::Aes256
        )
    }

    /// The byte that stands for a symmetric algorithm in pinset's key
    /// exports (1 TDES-2key, 2 TDES-3key, 3 to 5 AES-128 to AES-256);
    /// `None` for RSA, which exports name by its public key. Stable.
    pub const fn code(self) -> Option<u8> {
        match self {
            KeyAlgorithm::Tdes2 => Some(1),
            KeyAlgorithm::Tdes3 => Some(2),
            KeyAlgorithm::Aes128 => Some(3),
            KeyAlgorithm::Aes192 => Some(4),
            KeyAlgorithm::Aes256 => Some(5),
            KeyAlgorithm::Rsa { .. } => None,
        }
    }

    /// The symmetric algorithm an export byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(KeyAlgorithm::Tdes2),
            2 => Some(KeyAlgorithm::Tdes3),
            3 => Some(KeyAlgorithm::Aes128),
            4 => Some(KeyAlgorithm::Aes192),
            5 => Some(KeyAlgorithm::Aes256),
            _ => None,
        }
    }

    /// Modulus bits of an RSA key; `None` for a symmetric one.
    pub const fn rsa_bits(self) -> Option<usize> {
        match self {
            KeyAlgorithm::Rsa { bits } => Some(bits as usize),
            _ => None,
        }
    }

    /// Key length in bytes of a symmetric key; `None` for RSA.
    pub const fn key_len(self) -> Option<usize> {
        match self {
            KeyAlgorithm::Tdes2 | KeyAlgorithm::Aes128 => Some(16),
            KeyAlgorithm::Tdes3 | KeyAlgorithm::Aes192 => Some(24),
            KeyAlgorithm::Aes256 => Some(32),
            KeyAlgorithm::Rsa { .. } => None,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Tdes2 => f.write_str("TDES-2key"),
            KeyAlgorithm::Tdes3 => f.write_str("TDES-3key"),
            KeyAlgorithm::Aes128 => f.write_str("AES-128"),
            KeyAlgorithm::Aes192 => f.write_str("AES-192"),
            KeyAlgorithm::Aes256 => f.write_str("AES-256"),
            KeyAlgorithm::Rsa { bits } => write!(f, "RSA-{bits}"),
        }
    }
}

/// The algorithm and check value of an RSA key pair, from its public half.
#[cfg(any(feature = "software", feature = "pkcs11"))]
pub(crate) fn rsa_handle_parts(
    public: &pinset_envelope::RsaPublicKey,
) -> Result<(KeyAlgorithm, KeyCheck), ModuleError> {
    let bits = u16::try_from(public.bits()).map_err(|_| {
        ModuleError::KeyMaterial(pinset_envelope::Error::RsaKeySize {
            bits: public.bits(),
        })
    })?;
    Ok((
        KeyAlgorithm::Rsa { bits },
        KeyCheck::Fingerprint(public.fingerprint_bytes()),
    ))
}

/// What names a key without revealing it: the KCV of a symmetric key, or the
/// first 8 bytes of SHA-256 over an RSA key's DER SubjectPublicKeyInfo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyCheck {
    /// A symmetric key's check value.
    Kcv(Kcv),
    /// An RSA key's public fingerprint.
    Fingerprint([u8; 8]),
}

impl fmt::Display for KeyCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyCheck::Kcv(kcv) => write!(f, "KCV {kcv}"),
            KeyCheck::Fingerprint(bytes) => {
                f.write_str("fingerprint ")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02X}"))
            }
        }
    }
}

/// A handle to a key held by a [`SecurityModule`](crate::SecurityModule):
/// its module-assigned id, algorithm, purpose and check value, never its
/// material.
///
/// A handle is only meaningful to the module that issued it; another
/// module answers [`ModuleError::UnknownKey`](crate::ModuleError::UnknownKey).
/// Handles are plain data: store them, log them, compare them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyRef {
    id: String,
    algorithm: KeyAlgorithm,
    purpose: KeyPurpose,
    check: KeyCheck,
}

impl KeyRef {
    /// A handle. Backends build them; the host only passes them back.
    pub fn new(
        id: impl Into<String>,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        check: KeyCheck,
    ) -> Self {
        KeyRef {
            id: id.into(),
            algorithm,
            purpose,
            check,
        }
    }

    /// The module's id for the key (an object label, a counter): no secret.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The algorithm and size.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// What the key may be used for.
    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    /// Its KCV or fingerprint.
    pub fn check(&self) -> KeyCheck {
        self.check
    }

    /// Refuses the key unless it is tagged for `purpose`.
    ///
    /// # Errors
    ///
    /// [`ModuleError::WrongPurpose`].
    pub fn require_purpose(&self, purpose: KeyPurpose) -> Result<(), ModuleError> {
        if self.purpose == purpose {
            Ok(())
        } else {
            Err(ModuleError::WrongPurpose {
                key: self.id.clone(),
                expected: purpose,
                found: self.purpose,
            })
        }
    }

    /// Refuses the key unless it is a PIN-encryption key that can carry
    /// `format`: TDES for formats 0 to 3, AES for format 4.
    ///
    /// # Errors
    ///
    /// [`ModuleError::WrongPurpose`] or [`ModuleError::WrongAlgorithm`].
    pub fn require_pin_key_for(&self, format: Format) -> Result<(), ModuleError> {
        self.require_purpose(KeyPurpose::PinEncryption)?;
        let (fits, what) = match format {
            Format::Iso4 => (
                self.algorithm.is_aes(),
                "carry ISO format 4 PIN blocks (AES only)",
            ),
            _ => (
                self.algorithm.is_tdes(),
                "carry ISO formats 0 to 3 (TDES only)",
            ),
        };
        if fits {
            Ok(())
        } else {
            Err(ModuleError::WrongAlgorithm {
                algorithm: self.algorithm,
                what,
            })
        }
    }
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} for {} ({})",
            self.algorithm, self.id, self.purpose, self.check
        )
    }
}
