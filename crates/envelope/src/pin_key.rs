//! Sealing, opening and translating PIN blocks under either kind of key.

use core::fmt;

use pinset_block::{ClearBlock, Format, Pan, Pin, decode_clear, encode_clear, iso4};
use rand_core::CryptoRng;

use crate::{AesKey, Error, Kcv, TdesKey};

/// A PIN-encryption key: TDES for formats 0 to 3, AES for format 4.
///
/// Its only operations are on PIN blocks. It never prints its bytes.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // long-lived keys; a Box would cost an indirection per block
pub enum PinKey {
    /// A 2-key or 3-key TDES key.
    Tdes(TdesKey),
    /// An AES-128, AES-192 or AES-256 key.
    Aes(AesKey),
}

impl From<TdesKey> for PinKey {
    fn from(key: TdesKey) -> Self {
        PinKey::Tdes(key)
    }
}

impl From<AesKey> for PinKey {
    fn from(key: AesKey) -> Self {
        PinKey::Aes(key)
    }
}

/// An enciphered PIN block: 8 bytes (TDES) or 16 bytes (AES, format 4).
///
/// `Debug` shows its length only. Ciphertext is no secret by itself, but a
/// format 0 block under a fixed zone PIN key is deterministic: logged
/// blocks would show which cards share a PIN.
///
/// ```
/// # use pinset_block::{Format, Pan, Pin};
/// # use pinset_envelope::{PinKey, TdesKey};
/// # use rand_core::SeedableRng;
/// # let zpk = PinKey::from(TdesKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210")?)?);
/// # let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
/// let block = zpk.seal(Format::Iso0, &Pin::new("1234")?, Some(&Pan::new("1234567890123456")?), &mut rng)?;
/// assert_eq!(format!("{block:?}"), "EncryptedPinBlock { len: 8, .. }");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncryptedPinBlock {
    bytes: [u8; 16],
    len: u8,
}

impl EncryptedPinBlock {
    fn new(bytes: &[u8]) -> Self {
        let mut out = EncryptedPinBlock {
            bytes: [0; 16],
            len: bytes.len() as u8,
        };
        out.bytes[..bytes.len()].copy_from_slice(bytes);
        out
    }

    /// Wraps enciphered bytes that another backend produced (an HSM's
    /// output, say): 8 bytes of a TDES block or 16 of an AES block.
    ///
    /// # Errors
    ///
    /// [`Error::BlockLength`] for any other length.
    pub fn from_bytes(format: Format, bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != format.block_len() {
            return Err(Error::BlockLength {
                format,
                expected: format.block_len(),
                found: bytes.len(),
            });
        }
        Ok(Self::new(bytes))
    }

    /// The enciphered bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for EncryptedPinBlock {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for EncryptedPinBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedPinBlock")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl PinKey {
    /// The key check value.
    pub fn kcv(&self) -> Kcv {
        match self {
            PinKey::Tdes(k) => k.kcv(),
            PinKey::Aes(k) => k.kcv(),
        }
    }

    /// `TDES` or `AES`.
    pub fn algorithm(&self) -> &'static str {
        match self {
            PinKey::Tdes(_) => "TDES",
            PinKey::Aes(_) => "AES",
        }
    }

    /// Encodes `pin` in `format` and enciphers it.
    ///
    /// `pan` is required for formats 0, 3 and 4 and ignored otherwise.
    ///
    /// ```
    /// use pinset_block::{Format, Pan, Pin};
    /// use pinset_envelope::{PinKey, TdesKey};
    ///
    /// // jPOS JCESecurityModuleTest's format 0 block of 1234, under the published
    /// // KCV test key (08D7B4); enciphered independently with OpenSSL.
    /// let zpk = PinKey::from(TdesKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210")?)?);
    /// let pan = Pan::new("1234567890123456")?;
    /// let mut rng = chacha20::ChaCha20Rng::from_seed([0; 32]);
    /// # use rand_core::SeedableRng;
    /// let sealed = zpk.seal(Format::Iso0, &Pin::new("1234")?, Some(&pan), &mut rng)?;
    /// assert_eq!(hex::encode_upper(sealed.as_bytes()), "E5639CBC7EC0B4CA");
    /// assert_eq!(zpk.open(Format::Iso0, sealed.as_bytes(), Some(&pan))?.expose_digits(), b"1234");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        format: Format,
        pin: &Pin,
        pan: Option<&Pan>,
        rng: &mut R,
    ) -> Result<EncryptedPinBlock, Error> {
        let pan = require_pan(format, pan)?;
        match (self, format) {
            (PinKey::Aes(key), Format::Iso4) => {
                let pan = pan.ok_or(pinset_block::Error::PanRequired(format))?;
                let field = iso4::encode_pin_field(pin, rng);
                Ok(EncryptedPinBlock::new(
                    &key.encipher_iso4(&field, &iso4::pan_field(pan)),
                ))
            }
            (PinKey::Tdes(key), format) if format != Format::Iso4 => {
                let clear = encode_clear(format, pin, pan, rng)?;
                Ok(EncryptedPinBlock::new(&key.encrypt_block(&clear)))
            }
            _ => Err(self.mismatch(format)),
        }
    }

    /// Enciphers a clear block the caller built (such as a device replaying
    /// a fixed format 1 block), once it reads as a valid `format` block: a
    /// PIN key enciphers PIN blocks and nothing else.
    ///
    /// # Errors
    ///
    /// [`Error::KeyFormatMismatch`] for an AES key or format 4,
    /// [`Error::Block`] if the block is no valid `format` block (for `pan`).
    ///
    /// ```
    /// use pinset_block::{ClearBlock, Format};
    /// use pinset_envelope::{PinKey, TdesKey};
    ///
    /// let tzpk = PinKey::from(TdesKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210")?)?);
    /// // Enfuce's seed example: ISO format 1, PIN 1234, fill A.
    /// let clear = ClearBlock::try_from_slice(&hex::decode("141234AAAAAAAAAA")?)?;
    /// let block = tzpk.encipher_block(Format::Iso1, &clear, None)?;
    /// assert_eq!(tzpk.open(Format::Iso1, block.as_bytes(), None)?.expose_digits(), b"1234");
    /// // Eight bytes that are no PIN block are refused.
    /// let data = ClearBlock::try_from_slice(b"not PIN!")?;
    /// assert!(tzpk.encipher_block(Format::Iso1, &data, None).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encipher_block(
        &self,
        format: Format,
        clear: &ClearBlock,
        pan: Option<&Pan>,
    ) -> Result<EncryptedPinBlock, Error> {
        let PinKey::Tdes(key) = self else {
            return Err(self.mismatch(format));
        };
        if format == Format::Iso4 {
            return Err(self.mismatch(format));
        }
        decode_clear(format, clear, require_pan(format, pan)?)?;
        Ok(EncryptedPinBlock::new(&key.encrypt_block(clear)))
    }

    /// Deciphers `block` and decodes it as `format`, checking every field.
    ///
    /// Any failure here (wrong key, wrong length, bad format) is detail for
    /// the issuer's log; see [`Error::outward`].
    pub fn open(&self, format: Format, block: &[u8], pan: Option<&Pan>) -> Result<Pin, Error> {
        let pan = require_pan(format, pan)?;
        let wrong_len = || Error::BlockLength {
            format,
            expected: format.block_len(),
            found: block.len(),
        };
        match (self, format) {
            (PinKey::Aes(key), Format::Iso4) => {
                let pan = pan.ok_or(pinset_block::Error::PanRequired(format))?;
                let block: &[u8; 16] = block.try_into().map_err(|_| wrong_len())?;
                let field = key.decipher_iso4(block, &iso4::pan_field(pan));
                Ok(iso4::decode_pin_field(&field)?)
            }
            (PinKey::Tdes(key), format) if format != Format::Iso4 => {
                let block: &[u8; 8] = block.try_into().map_err(|_| wrong_len())?;
                Ok(decode_clear(format, &key.decrypt_block(block), pan)?)
            }
            _ => Err(self.mismatch(format)),
        }
    }

    fn mismatch(&self, format: Format) -> Error {
        Error::KeyFormatMismatch {
            format,
            key: self.algorithm(),
        }
    }
}

/// Translates an enciphered PIN block from one format and key to another.
///
/// The PCI rule is checked before anything is deciphered: format 1 may become
/// 0, 1, 3 or 4; formats 0, 3 and 4 never become 1. The clear PIN lives only
/// in zeroizing types between the two keys.
///
/// ```
/// use pinset_block::{Format, Pan, Pin};
/// use pinset_envelope::{translate, PinKey, TdesKey};
/// use rand_core::SeedableRng;
///
/// let tzpk = PinKey::from(TdesKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210")?)?);
/// let zpk = PinKey::from(TdesKey::new(&hex::decode("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")?)?);
/// let pan = Pan::new("5141576351968605")?;
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
/// let device = tzpk.seal(Format::Iso1, &Pin::new("7580")?, None, &mut rng)?;
/// let issuer = translate(device.as_bytes(), (Format::Iso1, &tzpk), (Format::Iso0, &zpk), Some(&pan), &mut rng)?;
/// assert_eq!(zpk.open(Format::Iso0, issuer.as_bytes(), Some(&pan))?.expose_digits(), b"7580");
/// // The way back is refused: it would strip the PAN binding.
/// assert!(translate(issuer.as_bytes(), (Format::Iso0, &zpk), (Format::Iso1, &tzpk), Some(&pan), &mut rng).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn translate<R: CryptoRng + ?Sized>(
    block: &[u8],
    from: (Format, &PinKey),
    to: (Format, &PinKey),
    pan: Option<&Pan>,
    rng: &mut R,
) -> Result<EncryptedPinBlock, Error> {
    from.0.check_translation(to.0)?;
    let pin = from.1.open(from.0, block, pan)?;
    to.1.seal(to.0, &pin, pan, rng)
}

fn require_pan(format: Format, pan: Option<&Pan>) -> Result<Option<&Pan>, Error> {
    match pan {
        None if format.is_pan_bound() => Err(pinset_block::Error::PanRequired(format).into()),
        _ => Ok(pan),
    }
}
