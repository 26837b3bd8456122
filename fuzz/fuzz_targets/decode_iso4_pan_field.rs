//! Format 4 PAN field decoder: any 16 bytes; and the PAN field of any PAN.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_block::{Pan, PanField, iso4};
use pinset_fuzz::check_pan;

fuzz_target!(|data: &[u8]| {
    let whole = PanField::try_from_slice(data);
    assert_eq!(whole.is_ok(), data.len() == PanField::LEN);

    if let Some((head, rest)) = data.split_first_chunk::<16>() {
        let field = PanField::from_bytes(*head);
        if let Ok(pan) = iso4::decode_pan_field(&field) {
            check_pan(&pan);
            // The PAN field has no free bits: it must lay out bit for bit again.
            assert!(
                iso4::pan_field(&pan) == field,
                "PAN field re-encode differs"
            );
        }
        // The rest of the input, if it is a PAN, must survive the layout.
        if let Ok(pan) = Pan::from_ascii(rest) {
            check_pan(&pan);
            let field = iso4::pan_field(&pan);
            assert!(iso4::decode_pan_field(&field).as_ref() == Ok(&pan));
        }
    }
});
