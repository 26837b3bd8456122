//! Format 4 PIN field decoder: any 16 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_block::{PinField, iso4};
use pinset_fuzz::{check_pin, rng_for};

fuzz_target!(|data: &[u8]| {
    let whole = PinField::try_from_slice(data);
    assert_eq!(whole.is_ok(), data.len() == PinField::LEN);
    let Some(head) = data.first_chunk::<16>() else {
        return;
    };
    let field = PinField::from_bytes(*head);
    if let Ok(pin) = iso4::decode_pin_field(&field) {
        check_pin(&pin);
        // The first 8 bytes are deterministic (control, length, PIN, A fill);
        // the last 8 are random and carry no rule.
        let fresh = iso4::encode_pin_field(&pin, &mut rng_for(data));
        assert_eq!(fresh.expose_bytes()[..8], field.expose_bytes()[..8]);
        assert!(iso4::decode_pin_field(&fresh).as_ref() == Ok(&pin));
    }
});
