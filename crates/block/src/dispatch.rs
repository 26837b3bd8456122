//! Formats 0 to 3 chosen at run time, for callers that take the format as data.

use rand_core::CryptoRng;

use crate::{ClearBlock, Error, Format, Pan, Pin, iso0, iso1, iso2, iso3};

/// Encodes `pin` as a clear 8-byte block of `format` (0 to 3).
///
/// `pan` is required for formats 0 and 3 and ignored otherwise. Format 4 has
/// a 16-byte PIN field instead: see [`iso4`](crate::iso4).
///
/// ```
/// use pinset_block::{encode_clear, decode_clear, Format, Pan, Pin};
/// use rand_core::SeedableRng;
///
/// let pan = Pan::new("5432101234567891")?;
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
/// let block = encode_clear(Format::Iso3, &Pin::new("1234")?, Some(&pan), &mut rng)?;
/// assert_eq!(decode_clear(Format::Iso3, &block, Some(&pan))?.expose_digits(), b"1234");
/// assert!(encode_clear(Format::Iso0, &Pin::new("1234")?, None, &mut rng).is_err());
/// # Ok::<(), pinset_block::Error>(())
/// ```
pub fn encode_clear<R: CryptoRng + ?Sized>(
    format: Format,
    pin: &Pin,
    pan: Option<&Pan>,
    rng: &mut R,
) -> Result<ClearBlock, Error> {
    Ok(match (format, pan) {
        (Format::Iso0, Some(pan)) => iso0::encode(pin, pan),
        (Format::Iso1, _) => iso1::encode(pin, rng),
        (Format::Iso2, _) => iso2::encode(pin),
        (Format::Iso3, Some(pan)) => iso3::encode(pin, pan, rng),
        (Format::Iso4, _) => return Err(Error::NotAClearBlockFormat),
        (_, None) => return Err(Error::PanRequired(format)),
    })
}

/// Decodes a clear 8-byte block as `format` (0 to 3), checking every field.
pub fn decode_clear(format: Format, block: &ClearBlock, pan: Option<&Pan>) -> Result<Pin, Error> {
    match (format, pan) {
        (Format::Iso0, Some(pan)) => iso0::decode(block, pan),
        (Format::Iso1, _) => iso1::decode(block),
        (Format::Iso2, _) => iso2::decode(block),
        (Format::Iso3, Some(pan)) => iso3::decode(block, pan),
        (Format::Iso4, _) => Err(Error::NotAClearBlockFormat),
        (_, None) => Err(Error::PanRequired(format)),
    }
}
