//! `SecurityModule` for `Pkcs11Module`.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::types::Ulong;
use pinset_envelope::rsa::{MAX_RSA_BITS, MIN_RSA_BITS};
use pinset_envelope::{AesKey, EncryptedPinBlock, Error, RsaPadding, RsaPublicKey, TdesKey};

use super::fault::{self, Fault, NAME, unavailable, unavailable_because};
use super::{Entry, Pkcs11Module, cipher, malformed, rsa_der, template};
use crate::key::rsa_handle_parts;
use crate::{
    KeyAlgorithm, KeyCheck, KeyPurpose, KeyRef, ModuleError, SecurityModule, TranslatePin, Wrapping,
};

impl Pkcs11Module {
    /// The RSA public key of an object that carries CKA_MODULUS and
    /// CKA_PUBLIC_EXPONENT (a public key, or a private key, where those
    /// stay readable however sensitive it is).
    fn read_public(
        &self,
        object: cryptoki::object::ObjectHandle,
    ) -> Result<RsaPublicKey, ModuleError> {
        let attributes = self
            .pool
            .with_session(|s| {
                s.get_attributes(
                    object,
                    &[AttributeType::Modulus, AttributeType::PublicExponent],
                )
            })?
            .map_err(|e| unavailable(&e))?;
        let (mut modulus, mut exponent) = (Vec::new(), Vec::new());
        for attribute in attributes {
            match attribute {
                Attribute::Modulus(n) => modulus = n,
                Attribute::PublicExponent(e) => exponent = e,
                _ => {}
            }
        }
        rsa_der::public_key(&modulus, &exponent).map_err(|_| malformed("RSA public key"))
    }
}

impl SecurityModule for Pkcs11Module {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Creates the key as a sensitive, non-extractable object, after the
    /// software backend's checks on the material; the token's KCV must
    /// then match the material's.
    async fn import_symmetric(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        material: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        if algorithm.key_len() != Some(material.len()) {
            return Err(ModuleError::KeyMaterial(Error::KeyLength {
                algorithm: if algorithm.is_aes() { "AES" } else { "TDES" },
                expected: "the length of the algorithm named",
                found: material.len(),
            }));
        }
        let kcv = if algorithm.is_aes() {
            AesKey::new(material)
                .map_err(ModuleError::KeyMaterial)?
                .kcv()
        } else {
            TdesKey::new(material)
                .map_err(ModuleError::KeyMaterial)?
                .kcv()
        };
        let label = self.new_label()?;
        let mut template = template::secret_key(algorithm, purpose, &label, self.token_objects);
        template.push(Attribute::Value(material.to_vec()));
        let (object, generation) = self.create(&template, "importing keys of this algorithm")?;
        drop(template);
        // A key-encryption key may not encrypt, so its KCV cannot be checked here.
        if purpose != KeyPurpose::KeyEncryption {
            let in_token = self
                .pool
                .with_session(|s| cipher::kcv(s, object, algorithm))
                .and_then(|r| r.map_err(|e| unavailable(&e)));
            if in_token.as_ref().ok() != Some(&kcv) {
                self.discard(object);
                return Err(in_token.err().unwrap_or_else(|| {
                    unavailable_because("the token's KCV differs from the imported key's")
                }));
            }
        }
        self.remember(Entry {
            handle: KeyRef::new(label, algorithm, purpose, KeyCheck::Kcv(kcv)),
            object,
            generation: (!self.token_objects).then_some(generation),
            seen: generation,
            public: None,
        })
    }

    /// Creates a sensitive, non-extractable CKO_PRIVATE_KEY from the CRT
    /// components, after the software backend's checks on the DER.
    async fn import_rsa_private(
        &self,
        purpose: KeyPurpose,
        der: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        let (public, material) = rsa_der::private_key(der)?;
        let (algorithm, check) = rsa_handle_parts(&public)?;
        let label = self.new_label()?;
        let mut template = template::secret_key(algorithm, purpose, &label, self.token_objects);
        template.append(material);
        let (object, generation) = self.create(&template, "importing RSA private keys")?;
        self.remember(Entry {
            handle: KeyRef::new(label, algorithm, purpose, check),
            object,
            generation: (!self.token_objects).then_some(generation),
            seen: generation,
            public: Some(public),
        })
    }

    /// C_UnwrapKey into a sensitive, non-extractable object: with
    /// `CKM_AES_KEY_WRAP_PAD` under an AES key-encryption key, or with the
    /// RSA mechanism of the padding under an RSA one. The clear key never
    /// exists in the host. A symmetric key's KCV is then computed in the
    /// token; an RSA key's public half is read from the private object.
    async fn import_wrapped(
        &self,
        wrapping: Wrapping<'_>,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> Result<KeyRef, ModuleError> {
        let kek = wrapping.key();
        kek.require_purpose(KeyPurpose::KeyEncryption)?;
        let (mechanism, fits, what) = match wrapping {
            Wrapping::AesKeyWrap { kek } => (
                Mechanism::AesKeyWrapPad,
                kek.algorithm().is_aes(),
                "wrap keys with AES key wrap (AES key-encryption keys only)",
            ),
            Wrapping::Rsa { key, padding } => (
                cipher::rsa(padding),
                matches!(key.algorithm(), KeyAlgorithm::Rsa { .. })
                    && algorithm.key_len().is_some(),
                "carry symmetric keys under RSA",
            ),
        };
        if !fits {
            return Err(ModuleError::WrongAlgorithm {
                algorithm: kek.algorithm(),
                what,
            });
        }
        let unwrapping = self.entry(kek)?;
        let label = self.new_label()?;
        let template = template::secret_key(algorithm, purpose, &label, self.token_objects);
        let (object, generation) = self
            .pool
            .with_keeper(|s| {
                s.unwrap_key(&mechanism, unwrapping.object, wrapped, template.as_slice())
                    .map(|object| (object, self.pool.generation()))
            })?
            .map_err(|e| {
                if fault::unwrap_refused_input(&e) {
                    ModuleError::WrappedKeyIntegrity
                } else {
                    self.failed(&e, kek, "unwrapping keys with this mechanism")
                }
            })?;
        let check = match algorithm {
            KeyAlgorithm::Rsa { .. } => self.read_public(object).and_then(|public| {
                if Some(public.bits()) == algorithm.rsa_bits() {
                    rsa_handle_parts(&public).map(|(_, check)| (check, Some(public)))
                } else {
                    Err(ModuleError::KeyMaterial(Error::RsaKeySize {
                        bits: public.bits(),
                    }))
                }
            }),
            _ if purpose == KeyPurpose::KeyEncryption => Err(ModuleError::Unsupported {
                module: NAME,
                what: "checking an unwrapped key-encryption key (it may not encrypt a KCV)",
            }),
            _ => self
                .pool
                .with_session(|s| cipher::kcv(s, object, algorithm))
                .and_then(|r| r.map_err(|e| unavailable(&e)))
                .map(|kcv| (KeyCheck::Kcv(kcv), None)),
        };
        let (check, public) = check.inspect_err(|_| self.discard(object))?;
        self.remember(Entry {
            handle: KeyRef::new(label, algorithm, purpose, check),
            object,
            generation: (!self.token_objects).then_some(generation),
            seen: generation,
            public,
        })
    }

    /// Refused: this backend creates every key sensitive and
    /// non-extractable, so no key leaves the token, wrapped or not.
    async fn export_wrapped(&self, key: &KeyRef, kek: &KeyRef) -> Result<Vec<u8>, ModuleError> {
        self.entry(key)?;
        self.entry(kek)?;
        Err(ModuleError::Unsupported {
            module: NAME,
            what: "exporting keys (every key it creates is non-extractable)",
        })
    }

    /// C_GenerateKeyPair with e = 65537; the public object is read and
    /// destroyed at once, the private one stays.
    async fn generate_rsa(
        &self,
        bits: usize,
        purpose: KeyPurpose,
    ) -> Result<(KeyRef, RsaPublicKey), ModuleError> {
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(ModuleError::KeyMaterial(Error::RsaKeySize { bits }));
        }
        let modulus_bits = Ulong::try_from(bits).map_err(|e| unavailable(&e))?;
        let label = self.new_label()?;
        let algorithm = KeyAlgorithm::Rsa {
            bits: u16::try_from(bits)
                .map_err(|_| ModuleError::KeyMaterial(Error::RsaKeySize { bits }))?,
        };
        let private = template::secret_key(algorithm, purpose, &label, self.token_objects);
        let public_template = [
            Attribute::Token(false),
            Attribute::Private(false),
            Attribute::ModulusBits(modulus_bits),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::Encrypt(false),
            Attribute::Verify(false),
            Attribute::Wrap(false),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let (public_object, object, generation) = self
            .pool
            .with_keeper(|s| {
                s.generate_key_pair(
                    &Mechanism::RsaPkcsKeyPairGen,
                    &public_template,
                    private.as_slice(),
                )
                .map(|(public, private)| (public, private, self.pool.generation()))
            })?
            .map_err(|e| fault::operation(&e, None, "generating RSA key pairs of this size"))?;
        let read = self.read_public(public_object);
        self.discard(public_object);
        let public = match read {
            Ok(public) if public.bits() == bits => public,
            Ok(_) => {
                self.discard(object);
                return Err(malformed("RSA public key"));
            }
            Err(e) => {
                self.discard(object);
                return Err(e);
            }
        };
        let (algorithm, check) = rsa_handle_parts(&public)?;
        let handle = self.remember(Entry {
            handle: KeyRef::new(label, algorithm, purpose, check),
            object,
            generation: (!self.token_objects).then_some(generation),
            seen: generation,
            public: Some(public.clone()),
        })?;
        Ok((handle, public))
    }

    async fn rsa_public_key(&self, key: &KeyRef) -> Result<RsaPublicKey, ModuleError> {
        self.entry(key)?.public.ok_or(ModuleError::WrongAlgorithm {
            algorithm: key.algorithm(),
            what: "have an RSA public key",
        })
    }

    /// CKM_DES2_KEY_GEN in the token (odd parity), C_WrapKey under the
    /// device's key imported as a session object, then CKA_EXTRACTABLE
    /// cleared and read back (a token that keeps it set loses the key and
    /// answers [`ModuleError::Unsupported`]), and the KCV computed in the token. A random 2-key TDES key
    /// with a weak half (K1 = K2, or a DES weak key) has odds below 2^-50,
    /// and the token cannot show the key to check, so it is not checked.
    ///
    /// SoftHSM 2.6 wraps with RSA-OAEP SHA-1 and PKCS#1 v1.5 only: OAEP
    /// SHA-256 (Enfuce's) is [`ModuleError::Unsupported`] there.
    async fn generate_tzpk(
        &self,
        device_key: &RsaPublicKey,
        padding: RsaPadding,
    ) -> Result<(KeyRef, Vec<u8>), ModuleError> {
        let label = self.new_label()?;
        let template = template::secret_key(
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinEncryption,
            &label,
            false,
        )
        .extractable();
        let (tzpk, generation) = self
            .pool
            .with_keeper(|s| {
                s.generate_key(&Mechanism::Des2KeyGen, template.as_slice())
                    .map(|object| (object, self.pool.generation()))
            })?
            .map_err(|e| fault::operation(&e, None, "generating TDES keys"))?;
        let finish = || -> Result<(Vec<u8>, pinset_envelope::Kcv), ModuleError> {
            let wrapped = self.wrap_for_device(tzpk, device_key, padding)?;
            // Once wrapped, never again: a tzpk the token keeps extractable
            // is discarded, not handed out.
            let cleared = self.pool.with_keeper(|s| {
                s.update_attributes(tzpk, &[Attribute::Extractable(false)])?;
                s.get_attributes(tzpk, &[AttributeType::Extractable])
            })?;
            match cleared {
                Ok(attributes)
                    if attributes
                        .iter()
                        .any(|a| matches!(a, Attribute::Extractable(false))) => {}
                Ok(_) => {
                    return Err(ModuleError::Unsupported {
                        module: NAME,
                        what: "clearing CKA_EXTRACTABLE on a tzpk after its wrap",
                    });
                }
                Err(e) if fault::classify(&e) == Fault::Unavailable => {
                    return Err(unavailable(&e));
                }
                Err(_) => {
                    return Err(ModuleError::Unsupported {
                        module: NAME,
                        what: "clearing CKA_EXTRACTABLE on a tzpk after its wrap",
                    });
                }
            }
            let kcv = self
                .pool
                .with_session(|s| cipher::kcv(s, tzpk, KeyAlgorithm::Tdes2))?
                .map_err(|e| unavailable(&e))?;
            Ok((wrapped, kcv))
        };
        let (wrapped, kcv) = finish().inspect_err(|_| self.discard(tzpk))?;
        let handle = self.remember(Entry {
            handle: KeyRef::new(
                label,
                KeyAlgorithm::Tdes2,
                KeyPurpose::PinEncryption,
                KeyCheck::Kcv(kcv),
            ),
            object: tzpk,
            generation: Some(generation),
            seen: generation,
            public: None,
        })?;
        Ok((handle, wrapped))
    }

    /// Deciphers in the token, decodes and checks the clear block in host
    /// memory (zeroizing types only), and enciphers in the token: see
    /// [`Pkcs11Module`]'s note on the limit of a generic token.
    async fn translate(
        &self,
        request: &TranslatePin<'_>,
    ) -> Result<EncryptedPinBlock, ModuleError> {
        request.check_formats()?;
        // Both keys are checked before anything is deciphered.
        request.destination.require_pin_key_for(request.format)?;
        let destination = self.entry(request.destination)?;
        let pin = self.open_pin(&request.source, request.pan)?;
        if let Some(policy) = request.policy {
            policy.check(&pin)?;
        }
        self.seal_pin(
            request.destination,
            &destination,
            request.format,
            &pin,
            request.pan,
        )
    }

    async fn destroy(&self, key: &KeyRef) -> Result<(), ModuleError> {
        let entry = self.entry(key)?;
        self.pool
            .with_keeper(|s| s.destroy_object(entry.object))?
            .map_err(|e| self.failed(&e, key, "destroying objects"))?;
        self.forget(key.id());
        Ok(())
    }
}
