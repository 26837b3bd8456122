//! ISO 9564-1 format 3: like format 0, with random A-F fill.
//!
//! ```
//! use chacha20::ChaCha20Rng;
//! use pinset_block::{iso3, Pan, Pin};
//! use rand_core::SeedableRng;
//!
//! let pan = Pan::new("12345678901234")?;
//! let block = iso3::encode(&Pin::new("1234")?, &pan, &mut ChaCha20Rng::seed_from_u64(1));
//! assert_eq!(block.expose_bytes()[0] >> 4, 3);
//! assert_eq!(iso3::decode(&block, &pan)?.expose_digits(), b"1234");
//! # Ok::<(), pinset_block::Error>(())
//! ```

use rand_core::CryptoRng;

use crate::field::{pan_field, pin_field, random_af_fill, read_pin_field};
use crate::{ClearBlock, Error, Format, Pan, Pin};

/// Encodes `pin` bound to `pan`, with fill drawn uniformly from A-F.
pub fn encode<R: CryptoRng + ?Sized>(pin: &Pin, pan: &Pan, rng: &mut R) -> ClearBlock {
    let fill = random_af_fill(rng, 14 - pin.len());
    ClearBlock::from_u64(pin_field(3, pin, fill) ^ pan_field(pan))
}

/// Decodes a clear format 3 block with the PAN it was bound to.
pub fn decode(block: &ClearBlock, pan: &Pan) -> Result<Pin, Error> {
    read_pin_field(block.to_u64() ^ pan_field(pan), Format::Iso3, |n| n >= 0xA)
}
