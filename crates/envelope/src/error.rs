//! Errors of the envelope layer.

use pinset_block::Format;

use crate::WeakKey;

/// Why an envelope operation was refused.
///
/// Detailed for the issuer's own logs; no variant carries key bytes, a PIN
/// or a clear block. Before answering a remote caller, fold it with
/// [`Error::outward`] so that a bad key, bad padding and a bad PIN block all
/// look the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key had a length its algorithm does not take.
    #[error("{algorithm} key must be {expected} bytes, got {found}")]
    KeyLength {
        /// The algorithm, such as `TDES`.
        algorithm: &'static str,
        /// The lengths allowed.
        expected: &'static str,
        /// The length received.
        found: usize,
    },
    /// The key cannot carry this format: TDES carries formats 0 to 3, AES carries format 4.
    #[error("{key} keys cannot carry {format} PIN blocks")]
    KeyFormatMismatch {
        /// The format asked for.
        format: Format,
        /// The kind of key given.
        key: &'static str,
    },
    /// A key of the right length broke a key-strength rule (single DES in
    /// disguise, a DES weak or semi-weak part, all zero). Names the rule, never the key.
    #[error("{algorithm} key refused: {rule}")]
    WeakKey {
        /// The algorithm, such as `TDES`.
        algorithm: &'static str,
        /// The rule it broke.
        rule: WeakKey,
    },
    /// The encrypted block has the wrong length for its format.
    #[error("encrypted {format} block must be {expected} bytes, got {found}")]
    BlockLength {
        /// The format asked for.
        format: Format,
        /// Bytes the format needs.
        expected: usize,
        /// Bytes received.
        found: usize,
    },
    /// An RSA key could not be read in any of the accepted encodings.
    #[error("RSA key is not valid DER or PEM (SPKI, PKCS#1 or PKCS#8), hex or base64 of DER")]
    RsaKeyEncoding,
    /// An RSA key is outside the 2048 to 4096 bit range pinset accepts.
    #[error("RSA key must be 2048 to 4096 bits, got {bits}")]
    RsaKeySize {
        /// The modulus size found.
        bits: usize,
    },
    /// An RSA key's public exponent is even or below 65537.
    #[error("RSA public exponent must be odd and at least 65537")]
    RsaPublicExponent,
    /// RSA key generation failed.
    #[error("RSA key generation failed")]
    RsaKeyGeneration,
    /// RSA decryption failed: wrong key, bad padding or wrong length. The
    /// `rsa` backend gives no finer reason, on purpose.
    #[error("RSA decryption failed")]
    RsaDecryption,
    /// RSA encryption failed (the message is too long for the key and padding).
    #[error("RSA encryption failed")]
    RsaEncryption,
    /// The padding name is not `oaep-sha256`, `oaep-sha1` or `pkcs1v15`.
    #[error("unknown RSA padding: expected oaep-sha256, oaep-sha1 or pkcs1v15")]
    UnknownPadding,
    /// An RSA-decrypted payload has the wrong length for what it should hold.
    #[error("RSA plaintext must be {expected} bytes, got {found}")]
    PlaintextLength {
        /// Bytes expected.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// The PIN block itself was refused (bad format after decryption, or a
    /// disallowed translation).
    #[error(transparent)]
    Block(#[from] pinset_block::Error),
}

/// The one error a remote caller sees when a PIN block cannot be used.
///
/// It says nothing of why: wrong key, wrong length, bad padding and bad PIN
/// block format are one answer, so the service is no padding or format
/// oracle (Marvin, Clulow). The detail stays in the [`Error`] it was folded from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, thiserror::Error)]
#[error("the PIN block could not be decrypted or is not a valid PIN block")]
pub struct Undecryptable;

impl Error {
    /// Folds any failure to read a PIN block into the one outward error.
    pub fn outward(&self) -> Undecryptable {
        Undecryptable
    }
}
