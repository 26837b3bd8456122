//! Format 0 decoder: any 8 bytes, with the PAN from the rest of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_block::{ClearBlock, Format, iso0};
use pinset_fuzz::{check_pin, pan_or_fixed};

fuzz_target!(|data: &[u8]| {
    // Any length: the length check must refuse, never panic.
    let whole = ClearBlock::try_from_slice(data);
    assert_eq!(whole.is_ok(), data.len() == ClearBlock::LEN);
    let Some((head, rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let block = ClearBlock::from_bytes(*head);
    let pan = pan_or_fixed(rest);
    match iso0::decode(&block, &pan) {
        Ok(pin) => {
            check_pin(&pin);
            // Format 0 is deterministic: the PIN must re-encode bit for bit.
            assert!(iso0::encode(&pin, &pan) == block, "iso0 re-encode differs");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    let _ = block.control_format();
    let _ = format!("{block:?}");
    assert_eq!(Format::Iso0.block_len(), ClearBlock::LEN);
});
