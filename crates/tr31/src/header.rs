//! The key block header: parsing, building and consistency rules.
//!
//! The header is the part of a key block an attacker most wants to change
//! (turn a PIN key into a data key, make a key exportable), which is why the
//! whole ASCII header is under the MAC and why this module parses it
//! strictly: every character is checked against its field's character set,
//! lengths must agree, and the header must end on a cipher block boundary.

use core::fmt;

use crate::error::{HeaderField, Inconsistency, KeyBlockError, Reason};
use crate::optional::{OptionalBlock, check_padding_last, parse_blocks};
use crate::usage::{
    Algorithm, Exportability, KeyUsage, ModeOfUse, Version, allowed_modes, is_code_char,
};

/// Length of the fixed part of the header.
pub(crate) const FIXED_LEN: usize = 16;

/// Largest key block the 4-digit length field can describe.
pub(crate) const MAX_BLOCK_LEN: usize = 9999;

/// Most optional blocks the 2-digit count can describe.
const MAX_BLOCKS: usize = 99;

/// A TR-31 / X9.143 key block header: the 16-character fixed part and the
/// optional blocks, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    version: Version,
    block_len: u16,
    usage: KeyUsage,
    algorithm: Algorithm,
    mode_of_use: ModeOfUse,
    key_version: [u8; 2],
    exportability: Exportability,
    reserved: [u8; 2],
    blocks: Vec<OptionalBlock>,
}

impl Header {
    /// A header without optional blocks, reserved field `"00"` and key
    /// block length 0 (filled by [`wrap`](crate::wrap)).
    ///
    /// `key_version` is the two-character key version number: `"00"` when
    /// unused, `"c1"`… for components.
    ///
    /// # Errors
    ///
    /// [`Reason::Header`] with [`HeaderField::KeyVersion`] when
    /// `key_version` is not two ASCII letters or digits.
    pub fn new(
        version: Version,
        usage: KeyUsage,
        algorithm: Algorithm,
        mode_of_use: ModeOfUse,
        key_version: &str,
        exportability: Exportability,
    ) -> Result<Self, KeyBlockError> {
        let key_version = <[u8; 2]>::try_from(key_version.as_bytes())
            .ok()
            .filter(|b| b.iter().all(u8::is_ascii_alphanumeric))
            .ok_or(KeyBlockError::header(HeaderField::KeyVersion))?;
        Ok(Self {
            version,
            block_len: 0,
            usage,
            algorithm,
            mode_of_use,
            key_version,
            exportability,
            reserved: *b"00",
            blocks: Vec::new(),
        })
    }

    /// Appends an optional block. Padding (`PB`) is not accepted here:
    /// [`wrap`](crate::wrap) adds it when the header needs aligning, and a
    /// trailing padding block (from a parsed header) is dropped first.
    ///
    /// # Errors
    ///
    /// [`Reason::Header`] when `id` or `data` is malformed (see
    /// [`OptionalBlock::new`]), when `id` is `PB`
    /// ([`HeaderField::PaddingBlock`]), or when the header already has 99
    /// blocks ([`HeaderField::OptionalBlockCount`]).
    pub fn with_optional_block(mut self, id: &str, data: &str) -> Result<Self, KeyBlockError> {
        let block = OptionalBlock::new(id, data)?;
        if block.is_padding() {
            return Err(KeyBlockError::header(HeaderField::PaddingBlock));
        }
        // A parsed header's padding block no longer pads: wrap re-adds one.
        if self.blocks.last().is_some_and(OptionalBlock::is_padding) {
            self.blocks.pop();
        }
        if self.blocks.len() >= MAX_BLOCKS {
            return Err(KeyBlockError::header(HeaderField::OptionalBlockCount));
        }
        self.blocks.push(block);
        Ok(self)
    }

    /// Sets header bytes 14–15 (reserved in TR-31; key context and reserved
    /// in X9.143), `"00"` by default.
    ///
    /// # Errors
    ///
    /// [`Reason::Header`] with [`HeaderField::Reserved`] when `field` is not
    /// two upper-case letters or digits.
    pub fn with_reserved(mut self, field: &str) -> Result<Self, KeyBlockError> {
        self.reserved = <[u8; 2]>::try_from(field.as_bytes())
            .ok()
            .filter(|b| b.iter().all(|&c| is_code_char(c)))
            .ok_or(KeyBlockError::header(HeaderField::Reserved))?;
        Ok(self)
    }

    /// Parses a header from a bare header or from a whole key block (the
    /// characters after the header are ignored, and the length field is not
    /// compared with the input's length).
    ///
    /// # Errors
    ///
    /// [`Reason::Header`] naming the first malformed field.
    ///
    /// # Examples
    ///
    /// ```
    /// use pinset_tr31::{Header, KeyUsage, ModeOfUse, Version};
    ///
    /// let header = Header::parse("B0080P0TE00E0000")?;
    /// assert_eq!(header.version(), Version::B);
    /// assert_eq!(header.key_usage(), KeyUsage::PIN_ENCRYPTION);
    /// assert_eq!(header.mode_of_use(), ModeOfUse::ENCRYPT);
    /// assert_eq!(header.key_block_length(), 80);
    /// assert!(header.check_consistency().is_ok());
    /// # Ok::<(), pinset_tr31::KeyBlockError>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self, KeyBlockError> {
        Self::parse_prefix(input.as_bytes()).map(|(header, _)| header)
    }

    /// Parses the header at the start of `input`; returns it with the number
    /// of characters it takes.
    pub(crate) fn parse_prefix(input: &[u8]) -> Result<(Self, usize), KeyBlockError> {
        let err = KeyBlockError::header;
        let fixed = input
            .first_chunk::<FIXED_LEN>()
            .ok_or(err(HeaderField::Truncated))?;
        let [
            v,
            l0,
            l1,
            l2,
            l3,
            u0,
            u1,
            alg,
            mode,
            kv0,
            kv1,
            exp,
            n0,
            n1,
            r0,
            r1,
        ] = *fixed;
        let version = Version::from_byte(v).ok_or(err(HeaderField::Version))?;
        let block_len = parse_decimal(&[l0, l1, l2, l3]).ok_or(err(HeaderField::Length))?;
        let usage = KeyUsage::from_bytes([u0, u1]).ok_or(err(HeaderField::KeyUsage))?;
        let algorithm = Algorithm::from_byte(alg).ok_or(err(HeaderField::Algorithm))?;
        let mode_of_use = ModeOfUse::from_byte(mode).ok_or(err(HeaderField::ModeOfUse))?;
        if !(kv0.is_ascii_alphanumeric() && kv1.is_ascii_alphanumeric()) {
            return Err(err(HeaderField::KeyVersion));
        }
        let exportability = Exportability::from_byte(exp).ok_or(err(HeaderField::Exportability))?;
        let count = parse_decimal(&[n0, n1]).ok_or(err(HeaderField::OptionalBlockCount))?;
        if !(is_code_char(r0) && is_code_char(r1)) {
            return Err(err(HeaderField::Reserved));
        }
        let rest = input.get(FIXED_LEN..).unwrap_or_default();
        let (blocks, blocks_len) = parse_blocks(rest, usize::from(count))?;
        let header_len = FIXED_LEN + blocks_len;
        if !header_len.is_multiple_of(version.block_size()) {
            return Err(err(HeaderField::Alignment));
        }
        let header = Self {
            version,
            block_len,
            usage,
            algorithm,
            mode_of_use,
            key_version: [kv0, kv1],
            exportability,
            reserved: [r0, r1],
            blocks,
        };
        Ok((header, header_len))
    }

    /// Checks the rules between fields that [`unwrap`](crate::unwrap) and
    /// [`wrap`](crate::wrap) enforce: `P0`, `K0`, `K1` and `D0` keys must
    /// have mode `B`, `D` or `E`; `V1` and `V2` must have `C`, `G`, `V` or
    /// `N`; a BDK (`B0`) must have `X` or `N`. Other usages are not checked.
    /// The key's algorithm need not match the KBPK's (a TDES key may travel in
    /// a version D block).
    ///
    /// # Errors
    ///
    /// [`Reason::Inconsistent`] with [`Inconsistency::ModeOfUse`] when the
    /// mode of use is not allowed for the key usage.
    pub fn check_consistency(&self) -> Result<(), KeyBlockError> {
        match allowed_modes(self.usage) {
            Some(modes) if !modes.contains(&self.mode_of_use) => Err(KeyBlockError::new(
                Reason::Inconsistent(Inconsistency::ModeOfUse),
            )),
            _ => Ok(()),
        }
    }

    /// Version id (byte 0).
    #[must_use]
    pub fn version(&self) -> Version {
        self.version
    }

    /// The key block length field (bytes 1–4): the length of the whole key
    /// block this header was read from, or 0 for a header built with
    /// [`Header::new`].
    #[must_use]
    pub fn key_block_length(&self) -> u16 {
        self.block_len
    }

    /// Key usage (bytes 5–6).
    #[must_use]
    pub fn key_usage(&self) -> KeyUsage {
        self.usage
    }

    /// Algorithm of the wrapped key (byte 7).
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Mode of use (byte 8).
    #[must_use]
    pub fn mode_of_use(&self) -> ModeOfUse {
        self.mode_of_use
    }

    /// Key version number (bytes 9–10), such as `"00"`.
    #[must_use]
    pub fn key_version(&self) -> &str {
        core::str::from_utf8(&self.key_version).unwrap_or("??")
    }

    /// Exportability (byte 11).
    #[must_use]
    pub fn exportability(&self) -> Exportability {
        self.exportability
    }

    /// Bytes 14–15 as found: reserved (`"00"`) in TR-31, key context and
    /// reserved in X9.143.
    #[must_use]
    pub fn reserved(&self) -> &str {
        core::str::from_utf8(&self.reserved).unwrap_or("??")
    }

    /// The optional blocks in header order, padding block included.
    #[must_use]
    pub fn optional_blocks(&self) -> &[OptionalBlock] {
        &self.blocks
    }

    /// The first optional block with identifier `id`.
    #[must_use]
    pub fn optional_block(&self, id: &str) -> Option<&OptionalBlock> {
        self.blocks.iter().find(|b| b.id() == id)
    }

    /// Characters the header takes: 16 plus its optional blocks.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        FIXED_LEN
            + self
                .blocks
                .iter()
                .map(OptionalBlock::encoded_len)
                .sum::<usize>()
    }

    /// This header ready for wrapping: a trailing padding block replaced by
    /// the one (if any) that aligns the header on the version's block size.
    pub(crate) fn aligned(&self) -> Result<Self, KeyBlockError> {
        let mut out = self.clone();
        if out.blocks.last().is_some_and(OptionalBlock::is_padding) {
            out.blocks.pop();
        }
        check_padding_last(&out.blocks)?;
        let bs = self.version.block_size();
        let rem = out.encoded_len() % bs;
        if rem != 0 {
            // Never an empty padding block: some parsers refuse them.
            let n = bs - (out.encoded_len() + 4) % bs;
            out.blocks.push(OptionalBlock::padding(n));
        }
        if out.blocks.len() > MAX_BLOCKS {
            return Err(KeyBlockError::header(HeaderField::OptionalBlockCount));
        }
        Ok(out)
    }

    /// Sets the key block length field.
    pub(crate) fn set_block_len(&mut self, len: u16) {
        self.block_len = len;
    }
}

impl fmt::Display for Header {
    /// The header as it appears in a key block, with its length field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut blocks = String::new();
        for block in &self.blocks {
            block.encode_into(&mut blocks);
        }
        write!(
            f,
            "{}{:04}{}{}{}{}{}{:02}{}{}",
            self.version,
            self.block_len,
            self.usage,
            self.algorithm,
            self.mode_of_use,
            self.key_version(),
            self.exportability,
            self.blocks.len(),
            self.reserved(),
            blocks,
        )
    }
}

/// Parses ASCII decimal digits (at most four).
fn parse_decimal(digits: &[u8]) -> Option<u16> {
    digits.iter().try_fold(0u16, |acc, &d| {
        d.is_ascii_digit()
            .then(|| acc.checked_mul(10)?.checked_add(u16::from(d - b'0')))
            .flatten()
    })
}

#[cfg(test)]
mod tests;
