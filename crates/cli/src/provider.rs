//! `--provider`: `encode`, `decode` and `translate` through a security module.
//!
//! Every backend is driven through the `SecurityModule` seam alone, which
//! translates PIN blocks and never hands out a clear PIN. So the tool
//! reveals a PIN the way one does with a translate-only HSM: it imports a
//! fresh one-use key it knows, has the module translate the block under it,
//! and deciphers that copy itself (`decode`); and it seals the PIN under
//! such a key and has the module translate it into the named key
//! (`encode`). The one-use key is destroyed afterwards. Keys given in hex
//! are imported into the module; `--*-key-label` names a key already in a
//! PKCS#11 token.

use std::path::{Path, PathBuf};

use pinset_block::rand_core::CryptoRng;
use pinset_block::{Format, Pan, Pin};
use pinset_envelope::{AesKey, EncryptedPinBlock, PinKey, RsaPadding, TdesKey};
use pinset_module::{
    KeyAlgorithm, KeyPurpose, KeyRef, ModuleError, PinSource, Pkcs11Config, Pkcs11Module,
    SecurityModule, SoftwareModule, TranslatePin,
};
use zeroize::Zeroizing;

use crate::cli::{Provider, ProviderArgs};
use crate::codec::parse_hex;
use crate::error::CliError;
use crate::keys::read_key_file;

/// A key as the command line named it, for a module.
#[derive(Clone, Copy)]
pub enum ModuleKey<'a> {
    /// TDES key material in hex, imported for this run.
    TdesHex(&'static str, &'a str),
    /// AES key material in hex, imported for this run.
    AesHex(&'static str, &'a str),
    /// A TDES key already in the token, by label.
    TdesLabel(&'static str, &'a str),
    /// An AES key already in the token, by label.
    AesLabel(&'static str, &'a str),
    /// An RSA private key file, imported for this run.
    RsaFile(&'static str, &'a Path),
    /// An RSA private key already in the token, by label.
    RsaLabel(&'static str, &'a str),
}

impl ModuleKey<'_> {
    fn flag(&self) -> &'static str {
        match self {
            ModuleKey::TdesHex(flag, _)
            | ModuleKey::AesHex(flag, _)
            | ModuleKey::TdesLabel(flag, _)
            | ModuleKey::AesLabel(flag, _)
            | ModuleKey::RsaFile(flag, _)
            | ModuleKey::RsaLabel(flag, _) => flag,
        }
    }
}

/// The module the command runs on.
pub enum Module {
    /// RustCrypto, or aws-lc for RSA-OAEP: both are the software module.
    Software(SoftwareModule),
    /// A PKCS#11 token.
    Pkcs11(Pkcs11Module),
}

/// Calls the same method on whichever module it is.
macro_rules! on_module {
    ($module:expr, $m:ident => $call:expr) => {
        match $module {
            Module::Software($m) => $call,
            Module::Pkcs11($m) => $call,
        }
    };
}

impl Module {
    /// Opens the module `args` names.
    pub fn open(args: &ProviderArgs) -> Result<Self, CliError> {
        let module = match args.provider {
            Provider::Software => SoftwareModule::new().map(Module::Software),
            Provider::AwsLc => SoftwareModule::new_aws_lc().map(Module::Software),
            Provider::Pkcs11 => {
                let path: &PathBuf = args
                    .pkcs11_module
                    .as_ref()
                    .ok_or_else(|| missing("--pkcs11-module"))?;
                let token = args
                    .pkcs11_token
                    .as_deref()
                    .ok_or_else(|| missing("--pkcs11-token"))?;
                let var = args
                    .pkcs11_pin_env
                    .as_deref()
                    .ok_or_else(|| missing("--pkcs11-pin-env"))?;
                let pin = Zeroizing::new(std::env::var(var).map_err(|_| {
                    CliError::Usage(
                        "--pkcs11-pin-env: the environment variable named there is not set".into(),
                    )
                })?);
                Pkcs11Module::open(&Pkcs11Config::new(path.clone(), token, pin)).map(Module::Pkcs11)
            }
        };
        module.map_err(module_error)
    }

    /// The handle of `key`: imported, or found in the token.
    pub fn key(&self, key: ModuleKey<'_>) -> Result<KeyRef, CliError> {
        let flag = key.flag();
        match key {
            ModuleKey::TdesHex(_, hex) => self.import(flag, hex, false),
            ModuleKey::AesHex(_, hex) => self.import(flag, hex, true),
            ModuleKey::RsaFile(_, path) => {
                let file = read_key_file(flag, path)?;
                // PEM or DER: the envelope reads both and checks size and exponent.
                let key = pinset_envelope::RsaPrivateKey::parse(&file)
                    .map_err(|_| CliError::PrivateKeyEncoding { flag })?;
                let der = key
                    .to_pkcs8_der()
                    .map_err(|_| CliError::PrivateKeyEncoding { flag })?;
                on_module!(self, m => pollster::block_on(
                    m.import_rsa_private(KeyPurpose::PinEncryption, &der)
                ))
                .map_err(|e| key_error(flag, e))
            }
            ModuleKey::TdesLabel(_, label) => {
                self.find(flag, label, &[KeyAlgorithm::Tdes2, KeyAlgorithm::Tdes3])
            }
            ModuleKey::AesLabel(_, label) => self.find(
                flag,
                label,
                &[
                    KeyAlgorithm::Aes128,
                    KeyAlgorithm::Aes192,
                    KeyAlgorithm::Aes256,
                ],
            ),
            ModuleKey::RsaLabel(_, label) => self.find(
                flag,
                label,
                &[
                    KeyAlgorithm::Rsa { bits: 2048 },
                    KeyAlgorithm::Rsa { bits: 3072 },
                    KeyAlgorithm::Rsa { bits: 4096 },
                ],
            ),
        }
    }

    /// Imports TDES or AES key material given in hex.
    fn import(&self, flag: &'static str, hex: &str, aes: bool) -> Result<KeyRef, CliError> {
        let material = parse_hex(flag, hex)?;
        let algorithm = KeyAlgorithm::symmetric(material.len(), aes).ok_or(CliError::Key {
            flag,
            source: pinset_envelope::Error::KeyLength {
                algorithm: if aes { "AES" } else { "TDES" },
                expected: if aes { "16, 24 or 32" } else { "16 or 24" },
                found: material.len(),
            },
        })?;
        on_module!(self, m => pollster::block_on(
            m.import_symmetric(algorithm, KeyPurpose::PinEncryption, &material)
        ))
        .map_err(|e| key_error(flag, e))
    }

    /// A token key by label, of any of `algorithms` (the label alone does not say which).
    fn find(
        &self,
        flag: &'static str,
        label: &str,
        algorithms: &[KeyAlgorithm],
    ) -> Result<KeyRef, CliError> {
        let Module::Pkcs11(token) = self else {
            return Err(CliError::Usage(format!(
                "{flag} names a key in a PKCS#11 token: use --provider pkcs11"
            )));
        };
        let mut last = None;
        for &algorithm in algorithms {
            match pollster::block_on(token.find_key(label, algorithm, KeyPurpose::PinEncryption)) {
                Ok(key) => return Ok(key),
                Err(ModuleError::WrongAlgorithm { .. }) => {}
                Err(e) => return Err(key_error(flag, e)),
            }
            last = Some(algorithm);
        }
        Err(CliError::Usage(format!(
            "{flag}: the token's key with that label is not {}",
            match last {
                Some(KeyAlgorithm::Rsa { .. }) => "an RSA key of 2048, 3072 or 4096 bits",
                Some(a) if a.is_aes() => "an AES key",
                _ => "a TDES key",
            }
        )))
    }

    fn translate(&self, request: &TranslatePin<'_>) -> Result<EncryptedPinBlock, CliError> {
        on_module!(self, m => pollster::block_on(m.translate(request))).map_err(translate_error)
    }

    /// Destroys a one-use key; a failure leaves a session object that dies with the module.
    fn forget(&self, key: &KeyRef) {
        let _ = on_module!(self, m => pollster::block_on(m.destroy(key)));
    }

    /// `decode` through the module: the PIN under `key`, read as said above.
    pub fn reveal<R: CryptoRng + ?Sized>(
        &self,
        key: &KeyRef,
        padding: Option<RsaPadding>,
        format: Format,
        block: &[u8],
        pan: Option<&Pan>,
        rng: &mut R,
    ) -> Result<Pin, CliError> {
        let source = match padding {
            Some(padding) => PinSource::Rsa {
                key,
                padding,
                cryptogram: block,
                format,
            },
            None => PinSource::Symmetric { key, format, block },
        };
        // A PAN-bound block stays PAN-bound; format 1 stays format 1.
        let (one_use, clear) = self.one_use_key(format == Format::Iso4, rng)?;
        let copy = self.translate(&TranslatePin {
            source,
            destination: &one_use,
            format,
            pan,
            policy: None,
        });
        self.forget(&one_use);
        clear
            .open(format, copy?.as_bytes(), pan)
            .map_err(|e| CliError::Undecryptable(e.outward()))
    }

    /// `encode` through the module: `pin` as `format` under `key`.
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        key: &KeyRef,
        format: Format,
        pin: &Pin,
        pan: Option<&Pan>,
        rng: &mut R,
    ) -> Result<EncryptedPinBlock, CliError> {
        let (one_use, clear) = self.one_use_key(false, rng)?;
        let block = clear
            .seal(Format::Iso1, pin, None, rng)
            .map_err(CliError::Seal);
        let sealed = block.and_then(|block| {
            self.translate(&TranslatePin {
                source: PinSource::Symmetric {
                    key: &one_use,
                    format: Format::Iso1,
                    block: block.as_bytes(),
                },
                destination: key,
                format,
                pan,
                policy: None,
            })
        });
        self.forget(&one_use);
        sealed
    }

    /// `translate` through the module.
    pub fn translate_block(
        &self,
        from: (&KeyRef, Format),
        to: (&KeyRef, Format),
        block: &[u8],
        pan: Option<&Pan>,
    ) -> Result<EncryptedPinBlock, CliError> {
        self.translate(&TranslatePin {
            source: PinSource::Symmetric {
                key: from.0,
                format: from.1,
                block,
            },
            destination: to.0,
            format: to.1,
            pan,
            policy: None,
        })
    }

    /// A fresh key this run knows, imported into the module for one use.
    fn one_use_key<R: CryptoRng + ?Sized>(
        &self,
        aes: bool,
        rng: &mut R,
    ) -> Result<(KeyRef, PinKey), CliError> {
        let seal = |e| CliError::Seal(e);
        let (algorithm, material) = if aes {
            let mut bytes = Zeroizing::new(vec![0u8; 16]);
            rng.fill_bytes(&mut bytes);
            (KeyAlgorithm::Aes128, bytes)
        } else {
            let key = TdesKey::generate_double(rng).map_err(seal)?;
            (
                KeyAlgorithm::Tdes2,
                Zeroizing::new(key.expose_bytes().to_vec()),
            )
        };
        let clear = if aes {
            PinKey::from(AesKey::new(&material).map_err(seal)?)
        } else {
            PinKey::from(TdesKey::new(&material).map_err(seal)?)
        };
        let handle = on_module!(self, m => pollster::block_on(
            m.import_symmetric(algorithm, KeyPurpose::PinEncryption, &material)
        ))
        .map_err(module_error)?;
        Ok((handle, clear))
    }
}

fn missing(flag: &str) -> CliError {
    CliError::Usage(format!("--provider pkcs11 needs {flag}"))
}

/// A refused key names its flag; the module's message never holds key material.
fn key_error(flag: &'static str, e: ModuleError) -> CliError {
    match e {
        ModuleError::KeyMaterial(source) => CliError::Key { flag, source },
        e => CliError::Module {
            message: format!("{flag}: {e}"),
            usage: is_usage(&e),
        },
    }
}

fn translate_error(e: ModuleError) -> CliError {
    match e {
        ModuleError::Undecryptable(_) => CliError::Undecryptable(pinset_envelope::Undecryptable),
        ModuleError::TranslationNotAllowed { from, to } => CliError::Translation { from, to },
        ModuleError::PanRequired(format) => CliError::PanRequired(format),
        e => module_error(e),
    }
}

fn module_error(e: ModuleError) -> CliError {
    CliError::Module {
        message: e.to_string(),
        usage: is_usage(&e),
    }
}

/// Whether the command line asked for something no key could do (exit 2),
/// rather than a key being absent or the module failing (exit 1).
fn is_usage(e: &ModuleError) -> bool {
    matches!(
        e,
        ModuleError::WrongAlgorithm { .. } | ModuleError::WrongPurpose { .. }
    )
}
