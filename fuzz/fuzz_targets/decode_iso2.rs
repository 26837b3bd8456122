//! Format 2 decoder: any 8 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_block::{ClearBlock, iso2};
use pinset_fuzz::check_pin;

fuzz_target!(|data: &[u8]| {
    let Some(head) = data.first_chunk::<8>() else {
        return;
    };
    let block = ClearBlock::from_bytes(*head);
    if let Ok(pin) = iso2::decode(&block) {
        check_pin(&pin);
        // Format 2 is deterministic (F fill): it must re-encode bit for bit.
        assert!(iso2::encode(&pin) == block, "iso2 re-encode differs");
    }
});
