//! Where one side's PIN key comes from, and what its blocks are sealed and opened with.
//!
//! The commands see only [`KeySource`] (what the command line named) and
//! [`Envelope`] (the key, checked against the format). A new kind of key is
//! a new variant of each plus its arms in [`Envelope::resolve`],
//! [`Envelope::seal`] and [`Envelope::open`]; the commands do not change.
//! RSA public and private keys are such variants: files named on the
//! command line, read and parsed only once the format is known to suit them.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;

use pinset_block::rand_core::CryptoRng;
use pinset_block::{ClearBlock, Format, Pan, Pin, decode_clear, encode_clear};
use pinset_envelope::{
    AesKey, EncryptedPinBlock, Error as EnvelopeError, PinKey, RsaPadding, RsaPrivateKey,
    RsaPublicKey, TdesKey, Undecryptable,
};
use zeroize::Zeroizing;

use crate::codec::parse_hex;
use crate::error::CliError;

/// The flag names of one side's keys, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyFlags {
    /// The flag that takes a TDES key.
    pub tdes: &'static str,
    /// The flag that takes an AES key.
    pub aes: &'static str,
}

impl KeyFlags {
    /// `encode`, `decode` and `kcv`.
    pub const PLAIN: KeyFlags = KeyFlags {
        tdes: "--tdes-key",
        aes: "--aes-key",
    };
    /// The incoming side of `translate`.
    pub const FROM: KeyFlags = KeyFlags {
        tdes: "--from-tdes-key",
        aes: "--from-aes-key",
    };
    /// The outgoing side of `translate`.
    pub const TO: KeyFlags = KeyFlags {
        tdes: "--to-tdes-key",
        aes: "--to-aes-key",
    };
    /// The flag that names an RSA public key file (`encode`).
    pub const RSA_PUBLIC: &'static str = "--rsa-public-key";
    /// The flag that names an RSA private key file (`decode`).
    pub const RSA_PRIVATE: &'static str = "--rsa-private-key";
}

/// The largest key file read. A 4096-bit PKCS#8 PEM is about 3.3 KB; the
/// limit only stops a wrong path (a log, a device) from being read whole.
pub const MAX_KEY_FILE: u64 = 64 * 1024;

/// One side's key as the command line named it, not yet parsed.
#[derive(Clone, Copy)]
pub enum KeySource<'a> {
    /// No key: the block is clear (formats 0 to 3 only).
    Clear,
    /// A TDES key in hex.
    Tdes(&'a str),
    /// An AES key in hex.
    Aes(&'a str),
    /// An RSA public key file and the padding to encrypt with (`encode`).
    RsaPublic(&'a Path, RsaPadding),
    /// An RSA private key file and the padding to decrypt with (`decode`).
    RsaPrivate(&'a Path, RsaPadding),
}

impl<'a> KeySource<'a> {
    /// The source named by a pair of optional TDES and AES key flags.
    ///
    /// clap already refuses both at once; this refuses it again for callers
    /// that build arguments by hand.
    pub fn from_flags(
        flags: KeyFlags,
        tdes: Option<&'a str>,
        aes: Option<&'a str>,
    ) -> Result<Self, CliError> {
        match (tdes, aes) {
            (None, None) => Ok(KeySource::Clear),
            (Some(hex), None) => Ok(KeySource::Tdes(hex)),
            (None, Some(hex)) => Ok(KeySource::Aes(hex)),
            (Some(_), Some(_)) => Err(CliError::Usage(format!(
                "the argument '{}' cannot be used with '{}'",
                flags.tdes, flags.aes
            ))),
        }
    }

    /// Takes an RSA key file instead of [`KeySource::Clear`]; refuses one
    /// alongside a TDES or AES key.
    ///
    /// clap already refuses both at once; this refuses it again for callers
    /// that build arguments by hand.
    pub fn or_rsa(self, flags: KeyFlags, rsa: Option<KeySource<'a>>) -> Result<Self, CliError> {
        match (self, rsa) {
            (source, None) => Ok(source),
            (KeySource::Clear, Some(rsa)) => Ok(rsa),
            (source, Some(rsa)) => Err(CliError::Usage(format!(
                "the argument '{}' cannot be used with '{}'",
                rsa.flag(flags),
                source.flag(flags)
            ))),
        }
    }

    /// Whether no key was named.
    pub fn is_clear(&self) -> bool {
        matches!(self, KeySource::Clear)
    }

    /// The flag that named this key, for messages.
    fn flag(&self, flags: KeyFlags) -> &'static str {
        match self {
            KeySource::Clear => "no key",
            KeySource::Tdes(_) => flags.tdes,
            KeySource::Aes(_) => flags.aes,
            KeySource::RsaPublic(..) => KeyFlags::RSA_PUBLIC,
            KeySource::RsaPrivate(..) => KeyFlags::RSA_PRIVATE,
        }
    }

    /// Parses a TDES or AES key, whatever the format; `None` for
    /// [`KeySource::Clear`]. An RSA key file is refused: it is read by
    /// [`Envelope::resolve`] alone.
    pub fn parse(self, flags: KeyFlags) -> Result<Option<PinKey>, CliError> {
        Ok(match self {
            KeySource::Clear => None,
            KeySource::Tdes(hex) => Some(PinKey::Tdes(
                TdesKey::new(&parse_hex(flags.tdes, hex)?).map_err(|source| CliError::Key {
                    flag: flags.tdes,
                    source,
                })?,
            )),
            KeySource::Aes(hex) => Some(PinKey::Aes(
                AesKey::new(&parse_hex(flags.aes, hex)?).map_err(|source| CliError::Key {
                    flag: flags.aes,
                    source,
                })?,
            )),
            KeySource::RsaPublic(..) | KeySource::RsaPrivate(..) => {
                return Err(CliError::Usage(format!(
                    "{} names an RSA key, not a TDES or AES key",
                    self.flag(flags)
                )));
            }
        })
    }
}

/// Reads a key file whole, into zeroizing memory.
///
/// Errors name `flag` and the I/O error kind only: not the path, never the
/// contents. A file larger than [`MAX_KEY_FILE`] is refused unread.
pub fn read_key_file(flag: &'static str, path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let fail = |kind| CliError::KeyFile { flag, kind };
    let file = File::open(path).map_err(|e| fail(e.kind()))?;
    // Room for the whole file up front: no reallocation leaves key bytes behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE as usize + 1));
    file.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.kind()))?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(fail(ErrorKind::FileTooLarge));
    }
    Ok(bytes)
}

/// Reads an RSA public key file: PEM or DER, SPKI or PKCS#1, or hex or
/// base64 of the DER ([`RsaPublicKey::parse`] tells which).
pub fn read_rsa_public_key(path: &Path) -> Result<RsaPublicKey, CliError> {
    let flag = KeyFlags::RSA_PUBLIC;
    RsaPublicKey::parse(&read_key_file(flag, path)?)
        .map_err(|source| CliError::Key { flag, source })
}

/// Reads an RSA private key file: PKCS#8 or PKCS#1, PEM or DER
/// ([`RsaPrivateKey::parse`] tells which).
pub fn read_rsa_private_key(path: &Path) -> Result<RsaPrivateKey, CliError> {
    let flag = KeyFlags::RSA_PRIVATE;
    RsaPrivateKey::parse(&read_key_file(flag, path)?).map_err(|source| match source {
        EnvelopeError::RsaKeySize { .. } => CliError::Key { flag, source },
        _ => CliError::PrivateKeyEncoding { flag },
    })
}

/// What one side's blocks are sealed and opened with, checked against its format.
pub enum Envelope {
    /// A clear 8-byte block of format 0 to 3.
    Clear,
    /// A TDES key (formats 0 to 3) or an AES key (format 4). Boxed: a
    /// prepared key schedule is about a kilobyte.
    Key(Box<PinKey>),
    /// An RSA public key: seals the clear block of format 0 to 3.
    RsaPublic(Box<RsaPublicKey>, RsaPadding),
    /// An RSA private key: opens what its public key sealed.
    RsaPrivate(Box<RsaPrivateKey>, RsaPadding),
}

/// A block made by [`Envelope::seal`].
pub enum Sealed {
    /// A clear block (zeroized on drop).
    Clear(ClearBlock),
    /// An enciphered block.
    Enciphered(EncryptedPinBlock),
    /// An RSA cryptogram of the clear block, as long as the modulus.
    Rsa(Vec<u8>),
}

impl Sealed {
    /// The block bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Sealed::Clear(block) => block.expose_bytes(),
            Sealed::Enciphered(block) => block.as_bytes(),
            Sealed::Rsa(cryptogram) => cryptogram,
        }
    }
}

impl Envelope {
    /// Checks that `source` can carry `format`, then parses the key.
    ///
    /// Format 4 needs an AES key; formats 0 to 3 take a TDES key, an RSA
    /// key or none. The kind is checked before the key text (or key file),
    /// so a misused flag is named even when its value is also wrong.
    pub fn resolve(
        source: KeySource<'_>,
        flags: KeyFlags,
        format: Format,
    ) -> Result<Self, CliError> {
        let iso4 = format == Format::Iso4;
        match source {
            KeySource::Clear if iso4 => Err(CliError::KeyRequired {
                format,
                flag: flags.aes,
            }),
            KeySource::Tdes(_) if iso4 => Err(CliError::KeyFormatMismatch {
                flag: flags.tdes,
                format,
            }),
            KeySource::Aes(_) if !iso4 => Err(CliError::KeyFormatMismatch {
                flag: flags.aes,
                format,
            }),
            KeySource::RsaPublic(..) | KeySource::RsaPrivate(..) if iso4 => {
                Err(CliError::RsaFormat {
                    flag: source.flag(flags),
                    format,
                })
            }
            KeySource::RsaPublic(path, padding) => Ok(Envelope::RsaPublic(
                Box::new(read_rsa_public_key(path)?),
                padding,
            )),
            KeySource::RsaPrivate(path, padding) => Ok(Envelope::RsaPrivate(
                Box::new(read_rsa_private_key(path)?),
                padding,
            )),
            KeySource::Clear | KeySource::Tdes(_) | KeySource::Aes(_) => Ok(source
                .parse(flags)?
                .map_or(Envelope::Clear, |key| Envelope::Key(Box::new(key)))),
        }
    }

    /// Encodes `pin` as `format` and, with a key, enciphers it.
    ///
    /// The caller has checked that a PAN-bound format has its PAN.
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        format: Format,
        pin: &Pin,
        pan: Option<&Pan>,
        rng: &mut R,
    ) -> Result<Sealed, CliError> {
        match self {
            Envelope::Clear => match encode_clear(format, pin, pan, rng) {
                Ok(block) => Ok(Sealed::Clear(block)),
                Err(pinset_block::Error::NotAClearBlockFormat) => Err(CliError::KeyRequired {
                    format,
                    flag: KeyFlags::PLAIN.aes,
                }),
                Err(pinset_block::Error::PanRequired(format)) => Err(CliError::PanRequired(format)),
                Err(e) => Err(CliError::Seal(e.into())),
            },
            Envelope::Key(key) => key
                .seal(format, pin, pan, rng)
                .map(Sealed::Enciphered)
                .map_err(CliError::Seal),
            Envelope::RsaPublic(key, padding) => key
                .seal(format, pin, pan, *padding, rng)
                .map(Sealed::Rsa)
                .map_err(CliError::Seal),
            Envelope::RsaPrivate(key, padding) => key
                .public_key()
                .seal(format, pin, pan, *padding, rng)
                .map(Sealed::Rsa)
                .map_err(CliError::Seal),
        }
    }

    /// Deciphers (with a key) and decodes `block` as `format`.
    ///
    /// Every failure, whether wrong length, wrong key, wrong PAN, wrong RSA
    /// padding or a broken field, is the one [`Undecryptable`], so the tool
    /// is no format or padding oracle. The caller has checked that a
    /// PAN-bound format has its PAN.
    pub fn open(&self, format: Format, block: &[u8], pan: Option<&Pan>) -> Result<Pin, CliError> {
        let pin = match self {
            Envelope::Clear => ClearBlock::try_from_slice(block)
                .ok()
                .and_then(|block| decode_clear(format, &block, pan).ok()),
            Envelope::Key(key) => key.open(format, block, pan).ok(),
            Envelope::RsaPrivate(key, padding) => {
                pinset_envelope::rsa::open(key.as_ref(), *padding, format, block, pan).ok()
            }
            Envelope::RsaPublic(..) => {
                return Err(CliError::Usage(format!(
                    "an RSA public key cannot open a block: give {}",
                    KeyFlags::RSA_PRIVATE
                )));
            }
        };
        pin.ok_or(CliError::Undecryptable(Undecryptable))
    }
}
