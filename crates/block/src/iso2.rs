//! ISO 9564-1 format 2: F fill, for the ICC's offline PIN only.
//!
//! ```
//! use pinset_block::{iso2, Pin};
//!
//! // psec tests/test_pinblock.py
//! let block = iso2::encode(&Pin::new("1234")?);
//! assert_eq!(block.expose_bytes(), &[0x24, 0x12, 0x34, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
//! assert_eq!(iso2::decode(&block)?.expose_digits(), b"1234");
//! # Ok::<(), pinset_block::Error>(())
//! ```

use crate::field::{pin_field, read_pin_field};
use crate::{ClearBlock, Error, Format, Pin};

/// Encodes `pin` with F fill.
pub fn encode(pin: &Pin) -> ClearBlock {
    ClearBlock::from_u64(pin_field(2, pin, u64::MAX))
}

/// Decodes a clear format 2 block.
pub fn decode(block: &ClearBlock) -> Result<Pin, Error> {
    read_pin_field(block.to_u64(), Format::Iso2, |n| n == 0xF)
}
