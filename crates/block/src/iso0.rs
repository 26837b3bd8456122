//! ISO 9564-1 format 0 (ANSI X9.8): PIN field XOR PAN field, F fill.
//!
//! ```
//! use pinset_block::{iso0, Pan, Pin};
//!
//! // moov-io/pinblock formats/iso0_test.go
//! let pan = Pan::new("5432101234567891")?;
//! let block = iso0::encode(&Pin::new("1234")?, &pan);
//! assert_eq!(block.expose_bytes(), &[0x04, 0x12, 0x15, 0xFE, 0xDC, 0xBA, 0x98, 0x76]);
//! assert_eq!(iso0::decode(&block, &pan)?.expose_digits(), b"1234");
//! # Ok::<(), pinset_block::Error>(())
//! ```

use crate::field::{pan_field, pin_field, read_pin_field};
use crate::{ClearBlock, Error, Format, Pan, Pin};

const FILL: u64 = u64::MAX;

/// Encodes `pin` bound to `pan`.
pub fn encode(pin: &Pin, pan: &Pan) -> ClearBlock {
    ClearBlock::from_u64(pin_field(0, pin, FILL) ^ pan_field(pan))
}

/// Decodes a clear format 0 block with the PAN it was bound to.
///
/// A wrong PAN shows as a fill or digit error: the block itself cannot tell.
pub fn decode(block: &ClearBlock, pan: &Pan) -> Result<Pin, Error> {
    read_pin_field(block.to_u64() ^ pan_field(pan), Format::Iso0, |n| n == 0xF)
}
