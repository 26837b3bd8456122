//! Translate any block between any formats and keys.
//!
//! Input:
//! - byte 0: formats, `from = b % 5`, `to = (b / 5) % 5`;
//! - byte 1: bits 0-1 the source key, bits 2-3 the target key (2-key TDES,
//!   3-key TDES, AES-128, AES-256), bit 4 no PAN, bit 5 seal a PIN from the
//!   input first (so the deep path is reached, not only decoding errors);
//! - then a PAN: a length byte and 12 to 19 digit bytes;
//! - then either a PIN (length byte and digits) when sealing first, or the
//!   block itself, of any length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_envelope::{Error, PinKey, translate};
use pinset_fuzz::{KEYS, check_error, check_pin, format, key_fits, rng_for, take_pan, take_pin};

fn key(i: u8) -> &'static PinKey {
    // 2-key TDES, 3-key TDES, AES-128, AES-256.
    &KEYS[[0, 1, 2, 4][usize::from(i & 3)]]
}

fuzz_target!(|data: &[u8]| {
    let Some((&[formats, keys], rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let (from, to) = (format(formats), format(formats / 5));
    let (from_key, to_key) = (key(keys), key(keys >> 2));
    let Some((pan, rest)) = take_pan(rest) else {
        return;
    };
    let pan = (keys & 0x10 == 0).then_some(&pan);
    let seal_first = keys & 0x20 != 0;
    let mut rng = rng_for(data);

    let sealed;
    let (block, pin_in) = if seal_first {
        let Some((pin, _)) = take_pin(rest) else {
            return;
        };
        match from_key.seal(from, &pin, pan, &mut rng) {
            Ok(s) => {
                sealed = s;
                (sealed.as_bytes(), Some(pin))
            }
            Err(e) => {
                check_error(&e);
                return;
            }
        }
    } else {
        (rest, None)
    };

    let allowed = from.may_translate_to(to);
    let fits = key_fits(from_key, from) && key_fits(to_key, to);
    let pan_ok = pan.is_some() || !(from.is_pan_bound() || to.is_pan_bound());

    match translate(block, (from, from_key), (to, to_key), pan, &mut rng) {
        Ok(out) => {
            assert!(allowed, "{from} -> {to} translated but is not allowed");
            assert!(fits && pan_ok, "translated with a wrong key or no PAN");
            assert_eq!(out.as_bytes().len(), to.block_len());
            let pin = from_key
                .open(from, block, pan)
                .expect("translate opened the source");
            check_pin(&pin);
            if let Some(pin_in) = &pin_in {
                assert!(&pin == pin_in, "source does not open to the sealed PIN");
            }
            let pin_out = to_key
                .open(to, out.as_bytes(), pan)
                .expect("output must re-open");
            assert!(pin_out == pin, "translated PIN differs");
        }
        Err(e) => {
            check_error(&e);
            if !allowed {
                // Refused before anything is deciphered.
                assert!(
                    matches!(e, Error::Block(pinset_block::Error::Translation { .. })),
                    "{from} -> {to}: expected a Translation error, got {e:?}"
                );
            } else if pin_in.is_some() && fits && pan_ok {
                panic!("{from} -> {to} with fitting keys and a sealed PIN failed: {e:?}");
            }
        }
    }
});
