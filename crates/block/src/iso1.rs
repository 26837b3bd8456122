//! ISO 9564-1 format 1: PIN with random or transaction-unique fill, not PAN-bound.
//!
//! The format both seed flows send from the cardholder device, because the
//! device of a PAN-less issuer does not know the PAN.
//!
//! ```
//! use chacha20::ChaCha20Rng;
//! use pinset_block::{iso1, Pin};
//! use rand_core::SeedableRng;
//!
//! let mut rng = ChaCha20Rng::seed_from_u64(7); // inject any CryptoRng
//! let block = iso1::encode(&Pin::new("1234")?, &mut rng);
//! assert_eq!(block.expose_bytes()[..3], [0x14, 0x12, 0x34]);
//! assert_eq!(iso1::decode(&block)?.expose_digits(), b"1234");
//! # Ok::<(), pinset_block::Error>(())
//! ```

use rand_core::CryptoRng;

use crate::field::{pin_field, random_hex_fill, read_pin_field};
use crate::{ClearBlock, Error, Format, Pin};

/// Encodes `pin` with random hex fill (0-F) drawn from `rng`.
pub fn encode<R: CryptoRng + ?Sized>(pin: &Pin, rng: &mut R) -> ClearBlock {
    encode_with_fill(pin, random_hex_fill(rng))
}

/// Encodes `pin` with a transaction-unique fill the caller supplies, such as
/// a sequence number or timestamp.
///
/// The fill digits are the rightmost `14 - pin.len()` nibbles of `fill`.
/// The value must not repeat for the same key, or equal PINs give equal blocks.
pub fn encode_with_fill(pin: &Pin, fill: u64) -> ClearBlock {
    ClearBlock::from_u64(pin_field(1, pin, fill))
}

/// Decodes a clear format 1 block. Every hex digit is valid fill.
pub fn decode(block: &ClearBlock) -> Result<Pin, Error> {
    read_pin_field(block.to_u64(), Format::Iso1, |_| true)
}
