//! The requests the module seam carries: how a wrapped key was wrapped,
//! and where a PIN block to translate comes from and goes to.

use pinset_block::{Format, Pan};

use crate::{KeyRef, ModuleError, PinPolicy, RsaPadding};

/// How a key given to [`SecurityModule::import_wrapped`] was wrapped.
///
/// [`SecurityModule::import_wrapped`]: crate::SecurityModule::import_wrapped
#[derive(Clone, Copy, Debug)]
pub enum Wrapping<'a> {
    /// AES key wrap with padding (RFC 5649, PKCS#11 `CKM_AES_KEY_WRAP_PAD`)
    /// under an AES key-encryption key: of the key bytes for a symmetric
    /// key, of the PKCS#8 DER for an RSA key. How keys arrive from a key
    /// ceremony or another module.
    AesKeyWrap {
        /// The AES key-encryption key's handle.
        kek: &'a KeyRef,
    },
    /// RSA encryption of a symmetric key's bytes under the public half of
    /// an RSA key-encryption key the module holds: a session key a device
    /// drew and sent (the reverse of [`SecurityModule::generate_tzpk`]).
    ///
    /// [`SecurityModule::generate_tzpk`]: crate::SecurityModule::generate_tzpk
    Rsa {
        /// The RSA key-encryption key's handle.
        key: &'a KeyRef,
        /// The padding the sender used.
        padding: RsaPadding,
    },
}

impl Wrapping<'_> {
    /// The unwrapping key's handle.
    pub fn key(&self) -> &KeyRef {
        match self {
            Wrapping::AesKeyWrap { kek } => kek,
            Wrapping::Rsa { key, .. } => key,
        }
    }
}

/// Where a PIN block to translate comes from.
#[derive(Clone, Copy, Debug)]
pub enum PinSource<'a> {
    /// A device's RSA cryptogram of a clear PIN block (formats 0 to 3; both
    /// seed flows send format 1) under an RSA PIN key.
    Rsa {
        /// The RSA private key's handle.
        key: &'a KeyRef,
        /// The padding the device used.
        padding: RsaPadding,
        /// The cryptogram.
        cryptogram: &'a [u8],
        /// The clear block's format.
        format: Format,
    },
    /// A PIN block enciphered under a symmetric PIN key (a ZPK or tzpk).
    Symmetric {
        /// The key's handle.
        key: &'a KeyRef,
        /// The block's format.
        format: Format,
        /// The enciphered block: 8 bytes (TDES) or 16 (AES, format 4).
        block: &'a [u8],
    },
}

impl PinSource<'_> {
    /// The source block's format.
    pub fn format(&self) -> Format {
        match self {
            PinSource::Rsa { format, .. } | PinSource::Symmetric { format, .. } => *format,
        }
    }

    /// The source key's handle.
    pub fn key(&self) -> &KeyRef {
        match self {
            PinSource::Rsa { key, .. } | PinSource::Symmetric { key, .. } => key,
        }
    }
}

/// A PIN translation: read the source block, check the PCI rule and the
/// policy, and re-encipher under the destination key, all inside the module.
///
/// The clear block and the PIN never cross the seam.
#[derive(Clone, Copy, Debug)]
pub struct TranslatePin<'a> {
    /// Where the PIN comes from.
    pub source: PinSource<'a>,
    /// The destination key's handle.
    pub destination: &'a KeyRef,
    /// The destination format (0, 3 or 4 for a PAN-bound block).
    pub format: Format,
    /// The PAN, for PAN-bound formats on either side.
    pub pan: Option<&'a Pan>,
    /// Checked inside the module on the clear PIN, if given.
    pub policy: Option<&'a PinPolicy>,
}

impl TranslatePin<'_> {
    /// The checks on formats every backend makes first, before it touches a
    /// key: the PCI rule ([`Format::may_translate_to`]) and a PAN for every
    /// PAN-bound side.
    ///
    /// # Errors
    ///
    /// [`ModuleError::TranslationNotAllowed`] or [`ModuleError::PanRequired`].
    pub fn check_formats(&self) -> Result<(), ModuleError> {
        let from = self.source.format();
        if !from.may_translate_to(self.format) {
            return Err(ModuleError::TranslationNotAllowed {
                from,
                to: self.format,
            });
        }
        for format in [from, self.format] {
            if format.is_pan_bound() && self.pan.is_none() {
                return Err(ModuleError::PanRequired(format));
            }
        }
        Ok(())
    }
}
