//! Format 3 decoder: any 8 bytes, with the PAN from the rest of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_block::{ClearBlock, Format, iso3};
use pinset_fuzz::{check_pin, pan_or_fixed, rng_for};

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let block = ClearBlock::from_bytes(*head);
    let pan = pan_or_fixed(rest);
    if let Ok(pin) = iso3::decode(&block, &pan) {
        check_pin(&pin);
        // A fresh encoding (new random A-F fill) decodes to the same PIN,
        // keeps the control field and is bound to the same PAN.
        let fresh = iso3::encode(&pin, &pan, &mut rng_for(data));
        assert_eq!(fresh.control_format(), Some(Format::Iso3));
        assert!(iso3::decode(&fresh, &pan).as_ref() == Ok(&pin));
        // Control, length and PIN nibbles are the same in both blocks
        // (same PAN field under them); only the fill may differ.
        let full_bytes = (2 + pin.len()) / 2;
        assert_eq!(
            fresh.expose_bytes()[..full_bytes],
            block.expose_bytes()[..full_bytes]
        );
    }
});
