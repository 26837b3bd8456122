//! The steps of the trait's operations: reading and sealing PIN blocks,
//! wrapping for a device, creating and discarding objects.

use cryptoki::error::Error as P11Error;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use pinset_block::{ClearBlock, Format, Pan, Pin, decode_clear, encode_clear, iso4};
use pinset_envelope::{EncryptedPinBlock, Error, RsaPadding, RsaPublicKey};

use super::{Entry, Pkcs11Module, cipher, fault, malformed, rsa_der, template};
use crate::{KeyPurpose, KeyRef, ModuleError, PinSource};

impl Pkcs11Module {
    /// Maps a failed call on `key`; an object the token no longer has is forgotten.
    pub(super) fn failed(
        &self,
        e: &P11Error,
        key: &KeyRef,
        unsupported: &'static str,
    ) -> ModuleError {
        let err = fault::operation(e, Some((key.id(), key.algorithm())), unsupported);
        if matches!(err, ModuleError::UnknownKey(_)) {
            self.forget(key.id());
        }
        err
    }

    /// Destroys an object left over by a failed operation. Best effort: a
    /// session object goes with its session anyway.
    pub(super) fn discard(&self, object: ObjectHandle) {
        let _ = self.pool.with_keeper(|s| s.destroy_object(object));
    }

    /// Creates `template` in the keeper session, and says which generation it is of.
    pub(super) fn create(
        &self,
        template: &template::Template,
        unsupported: &'static str,
    ) -> Result<(ObjectHandle, u64), ModuleError> {
        self.pool
            .with_keeper(|s| {
                s.create_object(template.as_slice())
                    .map(|object| (object, self.pool.generation()))
            })?
            .map_err(|e| fault::operation(&e, None, unsupported))
    }

    /// Reads the source PIN. Each way an RSA cryptogram or a PIN block can
    /// be unreadable is [`ModuleError::Undecryptable`].
    pub(super) fn open_pin(
        &self,
        source: &PinSource<'_>,
        pan: Option<&Pan>,
    ) -> Result<Pin, ModuleError> {
        match *source {
            PinSource::Rsa {
                key,
                padding,
                cryptogram,
                format,
            } => {
                key.require_purpose(KeyPurpose::PinEncryption)?;
                let entry = self.entry(key)?;
                if entry.public.is_none() {
                    return Err(ModuleError::WrongAlgorithm {
                        algorithm: key.algorithm(),
                        what: "decrypt an RSA cryptogram",
                    });
                }
                let mechanism = cipher::rsa(padding);
                let plain = self
                    .pool
                    .with_session(|s| cipher::decrypt(s, &mechanism, entry.object, cryptogram))?
                    .map_err(|e| {
                        // A refused padding or length reads as any bad block.
                        if fault::rsa_refused_input(&e) {
                            ModuleError::Undecryptable(Error::RsaDecryption)
                        } else {
                            self.failed(&e, key, decrypt_unsupported(padding))
                        }
                    })?;
                let block = ClearBlock::try_from_slice(&plain).map_err(|_| {
                    ModuleError::Undecryptable(Error::PlaintextLength {
                        expected: ClearBlock::LEN,
                        found: plain.len(),
                    })
                })?;
                decode_clear(format, &block, pan).map_err(|e| ModuleError::Undecryptable(e.into()))
            }
            PinSource::Symmetric { key, format, block } => {
                key.require_pin_key_for(format)?;
                let entry = self.entry(key)?;
                let wrong_len = || {
                    ModuleError::Undecryptable(Error::BlockLength {
                        format,
                        expected: format.block_len(),
                        found: block.len(),
                    })
                };
                // ECB takes any whole block, so past the length check a
                // failure is the token's (Unavailable), never the block's.
                let failed = |e: P11Error| self.failed(&e, key, "this block cipher");
                if format == Format::Iso4 {
                    let pan = pan.ok_or(ModuleError::PanRequired(format))?;
                    let block: &[u8; 16] = block.try_into().map_err(|_| wrong_len())?;
                    let pan_field = iso4::pan_field(pan);
                    let field = self
                        .pool
                        .with_session(|s| {
                            cipher::aes_decipher_iso4(s, entry.object, block, &pan_field)
                        })?
                        .map_err(failed)?;
                    iso4::decode_pin_field(&field).map_err(|e| ModuleError::Undecryptable(e.into()))
                } else {
                    let block: &[u8; 8] = block.try_into().map_err(|_| wrong_len())?;
                    let clear = self
                        .pool
                        .with_session(|s| cipher::tdes_decipher(s, entry.object, block))?
                        .map_err(failed)?;
                    decode_clear(format, &clear, pan)
                        .map_err(|e| ModuleError::Undecryptable(e.into()))
                }
            }
        }
    }

    /// Encodes `pin` in `format` and enciphers it under the destination key.
    pub(super) fn seal_pin(
        &self,
        key: &KeyRef,
        entry: &Entry,
        format: Format,
        pin: &Pin,
        pan: Option<&Pan>,
    ) -> Result<EncryptedPinBlock, ModuleError> {
        let failed = |e: P11Error| self.failed(&e, key, "this block cipher");
        let out = if format == Format::Iso4 {
            let pan = pan.ok_or(ModuleError::PanRequired(format))?;
            let field = self.with_rng(|rng| iso4::encode_pin_field(pin, rng))?;
            let pan_field = iso4::pan_field(pan);
            self.pool
                .with_session(|s| cipher::aes_encipher_iso4(s, entry.object, &field, &pan_field))?
                .map_err(failed)?
                .to_vec()
        } else {
            let clear = self
                .with_rng(|rng| encode_clear(format, pin, pan, rng))?
                .map_err(|e| ModuleError::KeyMaterial(e.into()))?;
            self.pool
                .with_session(|s| {
                    cipher::encrypt(s, &Mechanism::Des3Ecb, entry.object, clear.expose_bytes())
                })?
                .map_err(failed)?
                .to_vec()
        };
        EncryptedPinBlock::from_bytes(format, &out).map_err(|_| malformed("PIN block"))
    }

    /// Creates the device's public key, wraps `tzpk` under it and destroys it again.
    pub(super) fn wrap_for_device(
        &self,
        tzpk: ObjectHandle,
        device_key: &RsaPublicKey,
        padding: RsaPadding,
    ) -> Result<Vec<u8>, ModuleError> {
        let (modulus, exponent) =
            rsa_der::modulus_and_exponent(device_key).map_err(ModuleError::KeyMaterial)?;
        let device = [
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::Modulus(modulus),
            Attribute::PublicExponent(exponent),
            Attribute::Wrap(true),
            Attribute::Encrypt(false),
            Attribute::Verify(false),
            Attribute::Label(b"pinset-device-key".to_vec()),
        ];
        let mechanism = cipher::rsa(padding);
        self.pool
            .with_keeper(|s| {
                let device = s.create_object(&device)?;
                let wrapped = s.wrap_key(&mechanism, device, tzpk);
                let _ = s.destroy_object(device);
                wrapped
            })?
            .map_err(|e| fault::operation(&e, None, wrap_unsupported(padding)))
    }
}

/// What the token lacks when it refuses to decrypt with an RSA padding.
pub(super) fn decrypt_unsupported(padding: RsaPadding) -> &'static str {
    match padding {
        RsaPadding::OaepSha256 => "decrypting RSA-OAEP with SHA-256",
        RsaPadding::OaepSha1 => "decrypting RSA-OAEP with SHA-1",
        RsaPadding::Pkcs1v15 => "decrypting RSA PKCS#1 v1.5",
    }
}

/// What the token lacks when it refuses to wrap with an RSA padding.
pub(super) fn wrap_unsupported(padding: RsaPadding) -> &'static str {
    match padding {
        RsaPadding::OaepSha256 => "wrapping keys with RSA-OAEP SHA-256",
        RsaPadding::OaepSha1 => "wrapping keys with RSA-OAEP SHA-1",
        RsaPadding::Pkcs1v15 => "wrapping keys with RSA PKCS#1 v1.5",
    }
}
