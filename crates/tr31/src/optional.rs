//! Optional header blocks: parsing and encoding.
//!
//! Optional blocks carry what the fixed header has no room for (a key set
//! identifier, a KCV, a time stamp) and are covered by the key block MAC,
//! so they must be kept byte for byte and in order. Each block is
//! `id(2) length(2 hex) data`, the length counting the whole block; a length
//! of `00` announces the extended form `id 00 NN L…` where `NN` (hex) gives
//! the number of bytes of the length `L…` (2·NN hex characters).

use crate::error::{HeaderField, KeyBlockError};
use crate::usage::is_code_char;

/// The identifier of the padding block that aligns the header.
pub(crate) const PADDING_ID: [u8; 2] = *b"PB";

/// Largest block the short (2 hex digit) length form can describe.
const SHORT_MAX: usize = 0xFF;

/// One optional header block, as found in (or to be written into) a header.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OptionalBlock {
    id: [u8; 2],
    data: String,
    /// 0 for the short length form, else the number of bytes (`NN`) of the
    /// extended length.
    len_len: u8,
}

impl OptionalBlock {
    /// A block with identifier `id` (two upper-case letters or digits) and
    /// printable ASCII `data`. The length form is chosen on encoding: short
    /// up to 255 characters in all, extended (`0002` + 4 hex digits) above.
    ///
    /// # Errors
    ///
    /// [`Reason::Header`](crate::Reason::Header) with
    /// [`HeaderField::OptionalBlockId`] or [`HeaderField::OptionalBlockData`]
    /// when a character is not allowed, or [`HeaderField::OptionalBlockLength`]
    /// when the block exceeds 65 535 characters.
    pub fn new(id: &str, data: &str) -> Result<Self, KeyBlockError> {
        let id = <[u8; 2]>::try_from(id.as_bytes())
            .ok()
            .filter(|b| b.iter().all(|&c| is_code_char(c)))
            .ok_or(KeyBlockError::header(HeaderField::OptionalBlockId))?;
        if !data.bytes().all(is_printable) {
            return Err(KeyBlockError::header(HeaderField::OptionalBlockData));
        }
        let len_len = if data.len() + 4 <= SHORT_MAX { 0 } else { 2 };
        let block = Self {
            id,
            data: data.to_owned(),
            len_len,
        };
        if len_len == 2 && block.encoded_len() > 0xFFFF {
            return Err(KeyBlockError::header(HeaderField::OptionalBlockLength));
        }
        Ok(block)
    }

    /// A padding block of `n` `'0'` characters.
    pub(crate) fn padding(n: usize) -> Self {
        Self {
            id: PADDING_ID,
            data: "0".repeat(n),
            len_len: 0,
        }
    }

    /// The two-character identifier, such as `"KS"`.
    #[must_use]
    pub fn id(&self) -> &str {
        // Always ASCII by construction.
        core::str::from_utf8(&self.id).unwrap_or("??")
    }

    /// The block's data, without identifier and length.
    #[must_use]
    pub fn data(&self) -> &str {
        &self.data
    }

    /// `true` for the padding block `PB`.
    #[must_use]
    pub fn is_padding(&self) -> bool {
        self.id == PADDING_ID
    }

    /// Characters the block takes in the header.
    pub(crate) fn encoded_len(&self) -> usize {
        match self.len_len {
            0 => 4 + self.data.len(),
            n => 6 + 2 * usize::from(n) + self.data.len(),
        }
    }

    /// Appends the encoded block to `out`.
    pub(crate) fn encode_into(&self, out: &mut String) {
        out.push_str(self.id());
        let total = self.encoded_len();
        if self.len_len == 0 {
            out.push_str(&format!("{total:02X}"));
        } else {
            let digits = 2 * usize::from(self.len_len);
            out.push_str(&format!("00{:02X}{total:0digits$X}", self.len_len));
        }
        out.push_str(&self.data);
    }
}

/// Printable ASCII, the character set of optional block data.
const fn is_printable(b: u8) -> bool {
    matches!(b, 0x20..=0x7E)
}

/// Parses upper-case hex digits as a number, refusing overflow and anything
/// else (including an empty slice).
pub(crate) fn parse_hex(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'A'..=b'F' => d - b'A' + 10,
            _ => return None,
        };
        acc.checked_mul(16)?.checked_add(usize::from(v))
    })
}

/// Parses `count` optional blocks at the start of `input`; returns them and
/// the number of characters they take.
pub(crate) fn parse_blocks(
    input: &[u8],
    count: usize,
) -> Result<(Vec<OptionalBlock>, usize), KeyBlockError> {
    let bad_len = KeyBlockError::header(HeaderField::OptionalBlockLength);
    let mut blocks = Vec::with_capacity(count);
    let mut pos = 0usize;
    for _ in 0..count {
        let rest = input.get(pos..).ok_or(bad_len)?;
        let id = rest
            .first_chunk::<2>()
            .copied()
            .filter(|b| b.iter().all(|&c| is_code_char(c)))
            .ok_or(KeyBlockError::header(HeaderField::OptionalBlockId))?;
        let short = rest.get(2..4).and_then(parse_hex).ok_or(bad_len)?;
        let (total, prefix, len_len) = if short == 0 {
            let n = rest.get(4..6).and_then(parse_hex).ok_or(bad_len)?;
            let len_len = u8::try_from(n).ok().filter(|&n| n > 0).ok_or(bad_len)?;
            let end = 6 + 2 * n;
            let total = rest.get(6..end).and_then(parse_hex).ok_or(bad_len)?;
            (total, end, len_len)
        } else {
            (short, 4, 0)
        };
        if total < prefix {
            return Err(bad_len);
        }
        let data = rest.get(prefix..total).ok_or(bad_len)?;
        if !data.iter().all(|&b| is_printable(b)) {
            return Err(KeyBlockError::header(HeaderField::OptionalBlockData));
        }
        let data = core::str::from_utf8(data)
            .map_err(|_| KeyBlockError::header(HeaderField::OptionalBlockData))?;
        blocks.push(OptionalBlock {
            id,
            data: data.to_owned(),
            len_len,
        });
        pos = pos.checked_add(total).ok_or(bad_len)?;
    }
    check_padding_last(&blocks)?;
    Ok((blocks, pos))
}

/// A padding block, if any, must be the last block.
pub(crate) fn check_padding_last(blocks: &[OptionalBlock]) -> Result<(), KeyBlockError> {
    let before_last = blocks.len().saturating_sub(1);
    if blocks
        .iter()
        .take(before_last)
        .any(OptionalBlock::is_padding)
    {
        return Err(KeyBlockError::header(HeaderField::PaddingBlock));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_extended_forms_round_trip() {
        let input = b"KS18FFFF3D01000000000000KC0002000EABCDPB0600";
        let (blocks, used) = parse_blocks(input, 3).unwrap();
        assert_eq!(used, input.len());
        assert_eq!(blocks[0].id(), "KS");
        assert_eq!(blocks[0].data(), "FFFF3D01000000000000");
        assert_eq!(blocks[1].id(), "KC");
        assert_eq!(blocks[1].data(), "ABCD");
        assert!(blocks[2].is_padding());
        let mut out = String::new();
        for b in &blocks {
            b.encode_into(&mut out);
        }
        assert_eq!(out.as_bytes(), input);
    }

    #[test]
    fn long_block_uses_extended_form() {
        let data = "A".repeat(300);
        let b = OptionalBlock::new("HM", &data).unwrap();
        let mut out = String::new();
        b.encode_into(&mut out);
        assert!(out.starts_with("HM00020136"));
        let (parsed, used) = parse_blocks(out.as_bytes(), 1).unwrap();
        assert_eq!(used, out.len());
        assert_eq!(parsed[0], b);
    }

    #[test]
    fn refuses_bad_blocks() {
        for (input, count) in [
            (&b"KS03"[..], 1),
            (b"KS060", 1),
            (b"KS0G00", 1),
            (b"ks0400", 1),
            (b"KS0000", 1),
            (b"KS00FF", 1),
            (b"PB04KS04", 2),
            (b"KS05\x01", 1),
            (b"", 1),
        ] {
            assert!(parse_blocks(input, count).is_err(), "{input:?}");
        }
    }
}
