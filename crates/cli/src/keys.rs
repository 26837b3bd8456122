//! Where one side's PIN key comes from, and what its blocks are sealed and opened with.
//!
//! The commands see only [`KeySource`] (what the command line named) and
//! [`Envelope`] (the key, checked against the format). A new kind of key,
//! such as issue 3's RSA public and private keys, is a new variant of each
//! plus its arms in [`Envelope::resolve`], [`Envelope::seal`] and
//! [`Envelope::open`]; the commands do not change.

use pinset_block::rand_core::CryptoRng;
use pinset_block::{ClearBlock, Format, Pan, Pin, decode_clear, encode_clear};
use pinset_envelope::{AesKey, EncryptedPinBlock, PinKey, TdesKey, Undecryptable};

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
}

/// One side's key as the command line named it, not yet parsed.
#[derive(Clone, Copy)]
pub enum KeySource<'a> {
    /// No key: the block is clear (formats 0 to 3 only).
    Clear,
    /// A TDES key in hex.
    Tdes(&'a str),
    /// An AES key in hex.
    Aes(&'a str),
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

    /// Whether no key was named.
    pub fn is_clear(&self) -> bool {
        matches!(self, KeySource::Clear)
    }

    /// Parses the key, whatever the format; `None` for [`KeySource::Clear`].
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
        })
    }
}

/// What one side's blocks are sealed and opened with, checked against its format.
pub enum Envelope {
    /// A clear 8-byte block of format 0 to 3.
    Clear,
    /// A TDES key (formats 0 to 3) or an AES key (format 4). Boxed: a
    /// prepared key schedule is about a kilobyte.
    Key(Box<PinKey>),
}

/// A block made by [`Envelope::seal`].
pub enum Sealed {
    /// A clear block (zeroized on drop).
    Clear(ClearBlock),
    /// An enciphered block.
    Enciphered(EncryptedPinBlock),
}

impl Sealed {
    /// The block bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Sealed::Clear(block) => block.expose_bytes(),
            Sealed::Enciphered(block) => block.as_bytes(),
        }
    }
}

impl Envelope {
    /// Checks that `source` can carry `format`, then parses the key.
    ///
    /// Format 4 needs an AES key; formats 0 to 3 take a TDES key or none.
    /// The kind is checked before the key text, so a misused flag is named
    /// even when its value is also wrong.
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
            _ => Ok(source
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
                Err(_) if format == Format::Iso4 => Err(CliError::KeyRequired {
                    format,
                    flag: KeyFlags::PLAIN.aes,
                }),
                Err(_) => Err(CliError::PanRequired(format)),
            },
            Envelope::Key(key) => key
                .seal(format, pin, pan, rng)
                .map(Sealed::Enciphered)
                .map_err(CliError::Seal),
        }
    }

    /// Deciphers (with a key) and decodes `block` as `format`.
    ///
    /// Every failure, whether wrong length, wrong key, wrong PAN or a broken
    /// field, is the one [`Undecryptable`], so the tool is no format oracle.
    /// The caller has checked that a PAN-bound format has its PAN.
    pub fn open(&self, format: Format, block: &[u8], pan: Option<&Pan>) -> Result<Pin, CliError> {
        let pin = match self {
            Envelope::Clear => ClearBlock::try_from_slice(block)
                .ok()
                .and_then(|block| decode_clear(format, &block, pan).ok()),
            Envelope::Key(key) => key.open(format, block, pan).ok(),
        };
        pin.ok_or(CliError::Undecryptable(Undecryptable))
    }
}
