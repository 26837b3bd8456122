//! What a security module answers when it refuses, in classes a caller can act on.

use pinset_block::Format;
use pinset_envelope::Undecryptable;

use crate::{KeyAlgorithm, KeyPurpose, PolicyViolation, SlotField};

/// What the caller should do about a [`ModuleError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The PIN block (or cryptogram) cannot be read. One kind, whatever the
    /// cause: answer the one outward "invalid PIN block" error.
    Undecryptable,
    /// The PIN breaks the policy that travelled with the request.
    Policy,
    /// The backend lacks a mechanism (a padding, an algorithm).
    Unsupported,
    /// The module or its token cannot be reached or failed: retry later.
    /// Nothing was changed.
    Unavailable,
    /// The request itself is wrong: unknown key, wrong purpose, a key that
    /// cannot carry the format, a translation the PCI rules forbid, key
    /// material that is refused. A configuration or programming error.
    Refused,
}

/// Why a security module refused an operation.
///
/// Detailed for the issuer's own logs; [`ModuleError::class`] says what to
/// do, and an undecryptable block is one class whatever its cause (wrong
/// key, padding, length, format), so a service built on it is no oracle.
/// No variant carries key material, a PIN or a PAN.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModuleError {
    /// The PIN block or cryptogram could not be decrypted or is no valid
    /// PIN block. The detail is kept for the log only.
    #[error("{}", Undecryptable)]
    Undecryptable(#[source] pinset_envelope::Error),
    /// The PIN breaks the policy sent with the request.
    #[error("PIN policy: {0}")]
    Policy(#[from] PolicyViolation),
    /// The backend lacks this mechanism.
    #[error("the {module} security module does not support {what}")]
    Unsupported {
        /// The backend's name.
        module: &'static str,
        /// The missing mechanism, such as `RSA-OAEP with SHA-256`.
        what: &'static str,
    },
    /// The module failed or cannot be reached; nothing was changed. Retry.
    #[error("the {module} security module is unavailable: {reason}")]
    Unavailable {
        /// The backend's name.
        module: &'static str,
        /// What failed, such as a PKCS#11 return code. Never key material.
        reason: String,
    },
    /// The module holds no key under this handle (never issued here, or destroyed).
    #[error("the security module holds no key {0}")]
    UnknownKey(String),
    /// The key is tagged for another purpose than the operation needs.
    #[error("key {key} is for {found}, not {expected}")]
    WrongPurpose {
        /// The key's id.
        key: String,
        /// The purpose the operation needs.
        expected: KeyPurpose,
        /// The key's purpose.
        found: KeyPurpose,
    },
    /// The key's algorithm cannot do what was asked (a TDES key for format
    /// 4, an AES key for an RSA cryptogram).
    #[error("a {algorithm} key cannot {what}")]
    WrongAlgorithm {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
        /// What was asked, such as `carry iso4 PIN blocks`.
        what: &'static str,
    },
    /// The PCI PIN rules forbid this translation (a PAN-bound block never
    /// becomes format 1; format 2 never leaves the chip).
    #[error("translation from {from} to {to} is not allowed")]
    TranslationNotAllowed {
        /// The source format.
        from: Format,
        /// The destination format.
        to: Format,
    },
    /// A PAN-bound format (0, 3 or 4) was asked for without the PAN.
    #[error("{0} PIN blocks need the PAN")]
    PanRequired(Format),
    /// Key material given to import was refused: wrong length, weak key,
    /// not an RSA key in range. Detail for the log (it never shows the key).
    #[error("key material refused: {0}")]
    KeyMaterial(#[source] pinset_envelope::Error),
    /// A wrapped key failed its integrity check: it was altered, or
    /// wrapped under another key-encryption key.
    #[error("the wrapped key failed its integrity check: altered, or wrapped under another KEK")]
    WrappedKeyIntegrity,
    /// A PIN verification parameter does not fit the card (IBM 3624
    /// validation digits outside the PAN, a stored value of the other
    /// method). Never shows the value.
    #[error("PIN verification: {0}")]
    Verification(#[source] pinset_verify::Error),
    /// A TR-31 key block was refused: altered, under another KBPK,
    /// malformed or inconsistent. One kind; the typed reason is behind
    /// `source()`, for the log only.
    #[error(transparent)]
    KeyBlock(pinset_tr31::KeyBlockError),
    /// A sound key block whose key does not fit the slot it is imported
    /// into: its usage, mode of use or algorithm says another purpose, or
    /// it holds a key component.
    #[error("the key block's {field} does not fit a {purpose} key")]
    KeyBlockSlot {
        /// The header field that disagrees.
        field: SlotField,
        /// The purpose the slot needs.
        purpose: KeyPurpose,
    },
    /// The key's mode of use, from the key block it arrived in, forbids
    /// the operation (an encrypt-only ZPK asked to decipher, a verify-only
    /// PVK asked to generate).
    #[error("key {key}'s mode of use forbids it to {operation}")]
    ModeOfUse {
        /// The key's id.
        key: String,
        /// What was asked: `encipher`, `decipher`, `generate` or `verify`.
        operation: &'static str,
    },
    /// A PIN verification key used without the method bound to it
    /// ([`SecurityModule::bind_verification_method`](crate::SecurityModule::bind_verification_method)),
    /// or bound again to another: a caller who picks the decimalisation
    /// table or validation data per request could read PINs back.
    #[error("key {key}: {problem}")]
    VerificationBinding {
        /// The PVK's id.
        key: String,
        /// `no verification method is bound to it`, or `it is bound to another method`.
        problem: &'static str,
    },
    /// ISO format 2 blocks never leave the chip: no verification reads one.
    #[error("iso2 PIN blocks never leave the chip")]
    ChipOnlyFormat,
    /// The key may not leave the module (it arrived marked non-exportable,
    /// or the backend never exports).
    #[error("key {0} is not exportable")]
    NotExportable(String),
    /// The module's own RNG failed.
    #[error("the security module's random source failed")]
    Rng,
}

impl ModuleError {
    /// What the caller should do.
    pub fn class(&self) -> ErrorClass {
        match self {
            ModuleError::Undecryptable(_) => ErrorClass::Undecryptable,
            ModuleError::Policy(_) => ErrorClass::Policy,
            ModuleError::Unsupported { .. } => ErrorClass::Unsupported,
            ModuleError::Unavailable { .. } | ModuleError::Rng => ErrorClass::Unavailable,
            ModuleError::UnknownKey(_)
            | ModuleError::WrongPurpose { .. }
            | ModuleError::WrongAlgorithm { .. }
            | ModuleError::TranslationNotAllowed { .. }
            | ModuleError::PanRequired(_)
            | ModuleError::KeyMaterial(_)
            | ModuleError::WrappedKeyIntegrity
            | ModuleError::Verification(_)
            | ModuleError::KeyBlock(_)
            | ModuleError::KeyBlockSlot { .. }
            | ModuleError::ModeOfUse { .. }
            | ModuleError::VerificationBinding { .. }
            | ModuleError::ChipOnlyFormat
            | ModuleError::NotExportable(_) => ErrorClass::Refused,
        }
    }

    /// Whether retrying later may succeed (the module was unavailable).
    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Unavailable
    }
}
