#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod error;
mod key;
mod key_block;
mod pin_data;
#[cfg(feature = "pkcs11")]
mod pkcs11;
mod policy;
mod shared;
#[cfg(feature = "software")]
mod software;
mod translate;

use core::future::Future;

#[cfg(feature = "aws-lc")]
pub use aws_lc::AwsLcRsaKey;
pub use error::{ErrorClass, ModuleError};
pub use key::{KeyAlgorithm, KeyCheck, KeyPurpose, KeyRef};
pub use key_block::{KeyBlockExport, SlotField, slot_header};
pub use pin_data::{
    GenerateNaturalPin, GenerateVerificationValue, PinVerified, VerifyPin, verification_purpose,
};
pub use pinset_envelope::{EncryptedPinBlock, RsaPadding, RsaPublicKey};
pub use pinset_tr31 as tr31;
pub use pinset_verify as verify;
use pinset_verify::{VerificationMethod, VerificationValue};
#[cfg(feature = "pkcs11")]
pub use pkcs11::{Pkcs11Config, Pkcs11Module};
pub use policy::{PinPolicy, PolicyViolation};
#[cfg(feature = "software")]
pub use software::SoftwareModule;
pub use translate::{PinSource, TranslatePin, Wrapping};

/// A PIN security module: keys stay inside it, and PIN blocks are
/// translated inside it. The host holds [`KeyRef`] handles only.
///
/// This is pinset's provider seam, in the manner of rustls's
/// `CryptoProvider`: choose one module value at construction and hand it to
/// the key stores and flows. [`SoftwareModule`] (feature `software`, on by
/// default) keeps keys in process memory; HSM backends keep them in the
/// device. Modelled on AWS Payment Cryptography's TranslatePinData and
/// payShield's PIN-translate host commands.
///
/// Every operation is async, so an HSM round trip never blocks an executor,
/// and every failure has an [`ErrorClass`]: an unreachable module is
/// [`ErrorClass::Unavailable`] (retry; nothing changed), never an invalid
/// PIN block.
pub trait SecurityModule: Send + Sync {
    /// The backend's name, such as `software`.
    fn name(&self) -> &'static str;

    /// Imports a symmetric key in the clear (tests and migration only; in
    /// production keys arrive wrapped).
    ///
    /// # Errors
    ///
    /// [`ModuleError::KeyMaterial`] for a length `algorithm` does not take
    /// or a weak key (single DES in disguise, DES weak parts, all zero).
    fn import_symmetric(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        material: &[u8],
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send;

    /// Imports an RSA private key from PKCS#8 or PKCS#1 DER.
    ///
    /// # Errors
    ///
    /// [`ModuleError::KeyMaterial`] for anything but a 2048- to 4096-bit RSA
    /// key with an odd public exponent of at least 65537.
    fn import_rsa_private(
        &self,
        purpose: KeyPurpose,
        der: &[u8],
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send;

    /// Imports a key of `algorithm` for `purpose`, wrapped as `wrapping`
    /// says under a key-encryption key the module holds (for an RSA key,
    /// `algorithm` names the expected size). This is how keys arrive in
    /// production: the clear key never exists in the host.
    ///
    /// # Errors
    ///
    /// [`ModuleError::WrongPurpose`] unless the unwrapping key is tagged
    /// [`KeyPurpose::KeyEncryption`]; [`ModuleError::WrongAlgorithm`]
    /// unless it is AES for [`Wrapping::AesKeyWrap`] or RSA for
    /// [`Wrapping::Rsa`] (which carries symmetric keys only);
    /// [`ModuleError::WrappedKeyIntegrity`] for anything that does not
    /// unwrap to a key of the length `algorithm` takes (altered, wrapped
    /// under another key, a bad RSA padding: one kind, so the module is no
    /// padding oracle); [`ModuleError::KeyMaterial`] for a weak key or an
    /// RSA key of another size.
    fn import_wrapped(
        &self,
        wrapping: Wrapping<'_>,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send;

    /// Exports `key` wrapped under the AES key-encryption key `kek`, in the
    /// form [`Wrapping::AesKeyWrap`] reads: to back up a software module's
    /// keys, or move them to another module.
    ///
    /// # Errors
    ///
    /// As `import_wrapped` for `kek`; [`ModuleError::Unsupported`] from a
    /// backend whose keys never leave it (the PKCS#11 backend creates every
    /// key non-extractable).
    fn export_wrapped(
        &self,
        key: &KeyRef,
        kek: &KeyRef,
    ) -> impl Future<Output = Result<Vec<u8>, ModuleError>> + Send;

    /// Generates an RSA key pair of `bits` inside the module.
    ///
    /// # Errors
    ///
    /// [`ModuleError::KeyMaterial`] for a size outside 2048 to 4096.
    fn generate_rsa(
        &self,
        bits: usize,
        purpose: KeyPurpose,
    ) -> impl Future<Output = Result<(KeyRef, RsaPublicKey), ModuleError>> + Send;

    /// The public half of an RSA key pair.
    ///
    /// # Errors
    ///
    /// [`ModuleError::UnknownKey`], or [`ModuleError::WrongAlgorithm`] for a symmetric key.
    fn rsa_public_key(
        &self,
        key: &KeyRef,
    ) -> impl Future<Output = Result<RsaPublicKey, ModuleError>> + Send;

    /// Generates a temporary zone PIN key (Enfuce's tzpk: 16-byte TDES, odd
    /// parity, no weak half) and returns its handle with the key wrapped
    /// under the device's RSA key with `padding`.
    ///
    /// # Errors
    ///
    /// [`ModuleError::Unsupported`] for a padding the backend cannot wrap
    /// with; [`ModuleError::Rng`] if no strong key could be drawn.
    fn generate_tzpk(
        &self,
        device_key: &RsaPublicKey,
        padding: RsaPadding,
    ) -> impl Future<Output = Result<(KeyRef, Vec<u8>), ModuleError>> + Send;

    /// Translates a PIN block; see [`TranslatePin`].
    ///
    /// # Errors
    ///
    /// In this order: [`ModuleError::TranslationNotAllowed`] (checked before
    /// anything is deciphered), [`ModuleError::UnknownKey`],
    /// [`ModuleError::WrongPurpose`] and [`ModuleError::WrongAlgorithm`] for
    /// either key, [`ModuleError::Undecryptable`] for a source that cannot
    /// be read, [`ModuleError::Policy`], and [`ModuleError::Unavailable`]
    /// or [`ModuleError::Unsupported`] from the backend.
    fn translate(
        &self,
        request: &TranslatePin<'_>,
    ) -> impl Future<Output = Result<EncryptedPinBlock, ModuleError>> + Send;

    /// Binds `method` to the PIN verification key `pvk`: from now on the
    /// module computes and verifies IBM 3624 offsets with this key by this
    /// decimalisation table and validation data only. A caller who could
    /// choose the table per request could read PINs back (a table of zeros
    /// makes the offset the PIN) or run Bond and Zieliński's decimalisation
    /// table attack; HSMs bind or encrypt the table for the same reason.
    /// The binding belongs to the key, not the handle: the same key
    /// imported again, or exported and imported back, keeps it. Binding the
    /// same method again is a no-op. A Visa PVK needs no binding (the PVKI
    /// is no secret parameter); binding one is accepted and changes nothing.
    ///
    /// # Errors
    ///
    /// [`ModuleError::WrongPurpose`] for a key not tagged for `method`;
    /// [`ModuleError::Verification`] for a weak decimalisation table
    /// ([`DecimalizationTable::check_strength`](pinset_verify::DecimalizationTable::check_strength));
    /// [`ModuleError::VerificationBinding`] if another method is bound;
    /// [`ModuleError::Unsupported`] (the default).
    fn bind_verification_method(
        &self,
        pvk: &KeyRef,
        method: &VerificationMethod,
    ) -> impl Future<Output = Result<(), ModuleError>> + Send {
        let _ = (pvk, method);
        let module = self.name();
        async move { Err(unsupported(module, "PIN verification values")) }
    }

    /// Computes the PVV or IBM 3624 offset of the PIN in an enciphered
    /// block, for the CMS to store; see [`GenerateVerificationValue`].
    ///
    /// # Errors
    ///
    /// In this order: [`ModuleError::ChipOnlyFormat`] for a format 2
    /// source, [`ModuleError::UnknownKey`], [`ModuleError::WrongPurpose`]
    /// and [`ModuleError::WrongAlgorithm`] for either key,
    /// [`ModuleError::ModeOfUse`] for a PVK whose key block forbids it,
    /// [`ModuleError::VerificationBinding`] unless an IBM 3624 `method` is
    /// the one bound to the PVK (all of these before the source key is
    /// touched),
    /// [`ModuleError::Undecryptable`] for a source that cannot be read,
    /// [`ModuleError::Verification`] for validation data outside the PAN,
    /// and [`ModuleError::Unsupported`] from a backend without PIN
    /// verification (the default).
    fn generate_verification_value(
        &self,
        request: &GenerateVerificationValue<'_>,
    ) -> impl Future<Output = Result<VerificationValue, ModuleError>> + Send {
        let _ = request;
        let module = self.name();
        async move { Err(unsupported(module, "PIN verification values")) }
    }

    /// Checks the PIN in an enciphered block against a stored PVV or
    /// offset; see [`VerifyPin`]. A PIN that does not match is
    /// [`PinVerified::Mismatch`], not an error, and so is a PIN shorter
    /// than the stored offset (an error would tell the PIN's length). A
    /// block that cannot be read is [`ModuleError::Undecryptable`], as HSMs
    /// tell a PIN-block error from a verification failure.
    ///
    /// # Errors
    ///
    /// As [`generate_verification_value`](Self::generate_verification_value),
    /// and [`ModuleError::Verification`] for a stored value of the other method.
    fn verify_pin(
        &self,
        request: &VerifyPin<'_>,
    ) -> impl Future<Output = Result<PinVerified, ModuleError>> + Send {
        let _ = request;
        let module = self.name();
        async move { Err(unsupported(module, "PIN verification")) }
    }

    /// Generates the IBM 3624 natural PIN and returns it enciphered; see
    /// [`GenerateNaturalPin`].
    ///
    /// # Errors
    ///
    /// [`ModuleError::UnknownKey`], [`ModuleError::WrongPurpose`] or
    /// [`ModuleError::WrongAlgorithm`] for either key,
    /// [`ModuleError::ChipOnlyFormat`] for format 2,
    /// [`ModuleError::VerificationBinding`] unless the table and validation
    /// data are the ones bound to the PVK,
    /// [`ModuleError::Verification`] for a bad length or validation data;
    /// [`ModuleError::Unsupported`] (the default).
    fn generate_natural_pin(
        &self,
        request: &GenerateNaturalPin<'_>,
    ) -> impl Future<Output = Result<EncryptedPinBlock, ModuleError>> + Send {
        let _ = request;
        let module = self.name();
        async move { Err(unsupported(module, "IBM 3624 natural PINs")) }
    }

    /// Imports a TR-31 / ANSI X9.143 key block protected by `kbpk` into a
    /// slot for a key of `algorithm` and `purpose`. The block's key usage,
    /// mode of use and algorithm must fit the slot ([`slot_header`] says
    /// what fits), so a `P0` key only ever enciphers PIN blocks and a `V2`
    /// key only computes PVVs. Versions B and D; A and C (deprecated) for
    /// migrating old key stores.
    ///
    /// # Errors
    ///
    /// [`ModuleError::WrongPurpose`] unless `kbpk` is tagged
    /// [`KeyPurpose::KeyBlockProtection`]; [`ModuleError::KeyBlock`] for a
    /// block that fails its MAC or any check (one kind, the reason behind
    /// `source()`); [`ModuleError::KeyBlockSlot`] for a sound block whose
    /// key does not fit the slot; [`ModuleError::KeyMaterial`] for a weak
    /// key; [`ModuleError::Unsupported`] (the default).
    fn import_key_block(
        &self,
        kbpk: &KeyRef,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        block: &str,
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send {
        let _ = (kbpk, algorithm, purpose, block);
        let module = self.name();
        async move { Err(unsupported(module, "TR-31 key blocks")) }
    }

    /// Exports `key` as a TR-31 key block under `kbpk`, with the header
    /// [`slot_header`] gives its purpose and algorithm.
    ///
    /// # Errors
    ///
    /// [`ModuleError::NotExportable`] for a key that arrived marked
    /// non-exportable; [`ModuleError::WrongPurpose`] for a `kbpk` not
    /// tagged [`KeyPurpose::KeyBlockProtection`];
    /// [`ModuleError::WrongAlgorithm`] for an RSA key or a KBPK that does
    /// not fit the version; [`ModuleError::Unsupported`] (the default).
    fn export_key_block(
        &self,
        key: &KeyRef,
        kbpk: &KeyRef,
        export: &KeyBlockExport,
    ) -> impl Future<Output = Result<String, ModuleError>> + Send {
        let _ = (key, kbpk, export);
        let module = self.name();
        async move { Err(unsupported(module, "TR-31 key blocks")) }
    }

    /// Destroys a key. Its handle answers [`ModuleError::UnknownKey`] afterwards.
    ///
    /// # Errors
    ///
    /// [`ModuleError::UnknownKey`] if it was not there.
    fn destroy(&self, key: &KeyRef) -> impl Future<Output = Result<(), ModuleError>> + Send;
}

/// The answer of a backend that lacks an operation.
fn unsupported(module: &'static str, what: &'static str) -> ModuleError {
    ModuleError::Unsupported { module, what }
}
