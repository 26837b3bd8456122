//! Format 1 decoder: any 8 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_block::{ClearBlock, iso1};
use pinset_fuzz::{check_pin, rng_for};

fuzz_target!(|data: &[u8]| {
    let Some(head) = data.first_chunk::<8>() else {
        return;
    };
    let block = ClearBlock::from_bytes(*head);
    if let Ok(pin) = iso1::decode(&block) {
        check_pin(&pin);
        // The fill is free, so the block itself is a fill that re-encodes it exactly.
        let again = iso1::encode_with_fill(&pin, u64::from_be_bytes(*head));
        assert!(again == block, "iso1 re-encode with the same fill differs");
        // And a random fill still decodes to the same PIN.
        let fresh = iso1::encode(&pin, &mut rng_for(data));
        assert!(iso1::decode(&fresh).as_ref() == Ok(&pin));
    }
});
