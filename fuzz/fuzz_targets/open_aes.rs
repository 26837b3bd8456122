//! Decipher any bytes under a fixed AES key, then decode them as format 4.
//!
//! Input: a selector byte (low bits: AES-128, -192 or -256; bit 7 set: a
//! format other than 4, to hit the key/format mismatch), then the block
//! (16 bytes for the deep path, any length otherwise), then an optional PAN
//! as ASCII digits (else a fixed PAN).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_block::{Format, iso4};
use pinset_envelope::{Error, PinKey};
use pinset_fuzz::{aes_key, check_error, check_pin, format, pan_or_fixed, rng_for};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let key = aes_key(sel);
    let PinKey::Aes(aes) = key else {
        unreachable!("aes_key gives AES keys")
    };
    let format = if sel & 0x80 == 0 {
        Format::Iso4
    } else {
        format(sel >> 2)
    };

    let Some((block, pan_bytes)) = rest.split_first_chunk::<16>() else {
        // Short input: a length error (or a mismatch), never a panic.
        let pan = pan_or_fixed(b"");
        let e = key
            .open(format, rest, Some(&pan))
            .expect_err("short block opened");
        check_error(&e);
        if format == Format::Iso4 {
            assert!(
                matches!(e, Error::BlockLength { .. }),
                "expected BlockLength, got {e:?}"
            );
        }
        return;
    };
    let pan = pan_or_fixed(pan_bytes);
    let pan_field = iso4::pan_field(&pan);

    // Format 4 encipherment is a permutation of 16-byte blocks.
    let field = aes.decipher_iso4(block, &pan_field);
    assert_eq!(&aes.encipher_iso4(&field, &pan_field), block);

    let direct = iso4::decode_pin_field(&field);
    match key.open(format, block, Some(&pan)) {
        Ok(pin) => {
            check_pin(&pin);
            assert_eq!(format, Format::Iso4, "AES key opened a {format} block");
            // `open` is decipher then decode, nothing more.
            assert!(direct.as_ref() == Ok(&pin));
            let sealed = key
                .seal(format, &pin, Some(&pan), &mut rng_for(data))
                .expect("a PIN that opened must seal");
            assert_eq!(sealed.as_bytes().len(), 16);
            assert!(key.open(format, sealed.as_bytes(), Some(&pan)).as_ref() == Ok(&pin));
        }
        Err(e) => {
            check_error(&e);
            if format == Format::Iso4 {
                assert!(
                    direct.is_err(),
                    "decode_pin_field accepted what open refused"
                );
            }
        }
    }
    // No PAN for a PAN-bound format: refused up front.
    assert!(matches!(
        key.open(Format::Iso4, block, None),
        Err(Error::Block(pinset_block::Error::PanRequired(Format::Iso4)))
    ));
});
