//! Decipher any bytes under a fixed TDES key, then decode them as any format.
//!
//! Input: a selector byte (bit 0: 2-key or 3-key; bits 1-3: format, iso4
//! included to hit the key/format mismatch; bit 4: no PAN), then the block,
//! of any length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_block::Format;
use pinset_envelope::{Error, PinKey};
use pinset_fuzz::{check_error, check_pin, fixed_pan, format, rng_for, tdes_key};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, block)) = data.split_first() else {
        return;
    };
    let key = tdes_key(sel);
    assert!(matches!(key, PinKey::Tdes(_)), "tdes_key gives TDES keys");
    let format = format(sel >> 1);
    let pan = fixed_pan();
    let pan = (sel & 0x10 == 0).then_some(&pan);

    match key.open(format, block, pan) {
        Ok(pin) => {
            check_pin(&pin);
            assert_ne!(format, Format::Iso4, "TDES key opened a format 4 block");
            assert_eq!(block.len(), 8);
            assert!(pan.is_some() || !format.is_pan_bound());
            // Seal again and open again: same PIN. Formats 0 and 2 have no
            // randomness, so they must give back the very same ciphertext.
            let sealed = key
                .seal(format, &pin, pan, &mut rng_for(data))
                .expect("a PIN that opened must seal");
            assert!(key.open(format, sealed.as_bytes(), pan).as_ref() == Ok(&pin));
            if matches!(format, Format::Iso0 | Format::Iso2) {
                assert_eq!(sealed.as_bytes(), block);
            }
        }
        Err(e) => {
            check_error(&e);
            if format != Format::Iso4
                && (pan.is_some() || !format.is_pan_bound())
                && block.len() != 8
            {
                assert!(
                    matches!(e, Error::BlockLength { .. }),
                    "expected BlockLength, got {e:?}"
                );
            }
        }
    }
});
