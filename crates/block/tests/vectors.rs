//! Published ISO 9564-1 vectors. Each test names where its vector was
//! published; all are collected, recomputed independently, in
//! `shared/vectors/iso9564.json`.

use chacha20::ChaCha20Rng;
use pinset_block::{ClearBlock, Error, Format, Pan, Pin, PinField, iso0, iso1, iso2, iso3, iso4};
use rand_core::SeedableRng;

fn block(hex_str: &str) -> ClearBlock {
    ClearBlock::try_from_slice(&hex::decode(hex_str).unwrap()).unwrap()
}

fn hex_of(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

#[test]
fn format0_moov_io() {
    // moov-io/pinblock formats/iso0_test.go
    let (pin, pan) = (
        Pin::new("1234").unwrap(),
        Pan::new("5432101234567891").unwrap(),
    );
    assert_eq!(
        hex_of(iso0::encode(&pin, &pan).expose_bytes()),
        "041215FEDCBA9876"
    );
    assert_eq!(iso0::decode(&block("041215FEDCBA9876"), &pan).unwrap(), pin);
}

#[test]
fn format0_psec() {
    // psec tests/test_pinblock.py
    let pan = Pan::new("5555555551234567").unwrap();
    for (pin, expected) in [
        ("1234", "041261AAAAEDCBA9"),
        ("123456789012", "0C1261032D8226A9"),
    ] {
        let pin = Pin::new(pin).unwrap();
        assert_eq!(hex_of(iso0::encode(&pin, &pan).expose_bytes()), expected);
        assert_eq!(iso0::decode(&block(expected), &pan).unwrap(), pin);
    }
}

#[test]
fn format0_ansi_x9_24_annex_a4() {
    // ANSI X9.24-1 annex A.4, as in openemv/pinblock test/pinblock_format0_test.c (13-digit PAN)
    let (pin, pan) = (
        Pin::new("1234").unwrap(),
        Pan::new("4012345678909").unwrap(),
    );
    assert_eq!(
        hex_of(iso0::encode(&pin, &pan).expose_bytes()),
        "041274EDCBA9876F"
    );
}

#[test]
fn format0_pynblock_five_digit_pin() {
    // pynblock tests.py
    let (pin, pan) = (
        Pin::new("92389").unwrap(),
        Pan::new("4000001234562").unwrap(),
    );
    assert_eq!(
        hex_of(iso0::encode(&pin, &pan).expose_bytes()),
        "0592789FFFEDCBA9"
    );
    assert_eq!(iso0::decode(&block("0592789FFFEDCBA9"), &pan).unwrap(), pin);
}

#[test]
fn format0_invalid_psec() {
    // psec tests/test_pinblock.py: control field 2, then PIN length 15
    let pan = Pan::new("5555555551234567").unwrap();
    assert_eq!(
        iso0::decode(&block("241261AAAAEDCBA9"), &pan),
        Err(Error::ControlField {
            expected: Format::Iso0,
            found: 2
        })
    );
    assert_eq!(
        iso0::decode(&block("0F1261AAAAEDCBA9"), &pan),
        Err(Error::LengthField)
    );
}

#[test]
fn format1_jpos_clear_block() {
    // jPOS JCESecurityModuleTest: clear format 1 block 14123444B4B2B43F carries PIN 1234
    let pin = iso1::decode(&block("14123444B4B2B43F")).unwrap();
    assert_eq!(pin.expose_digits(), b"1234");
}

#[test]
fn format1_enfuce_seed_block() {
    // Enfuce Card PIN API v3 seed: "141234AAAAAAAAAA" is PIN 1234 in ISO format 1
    assert_eq!(
        iso1::decode(&block("141234AAAAAAAAAA"))
            .unwrap()
            .expose_digits(),
        b"1234"
    );
    // The caller-supplied fill reproduces it.
    let pin = Pin::new("1234").unwrap();
    assert_eq!(
        hex_of(iso1::encode_with_fill(&pin, 0xAAAA_AAAA_AAAA).expose_bytes()),
        "141234AAAAAAAAAA"
    );
}

#[test]
fn format2_psec() {
    // psec tests/test_pinblock.py
    for (pin, expected) in [
        ("1234", "241234FFFFFFFFFF"),
        ("123456789012", "2C123456789012FF"),
    ] {
        let pin = Pin::new(pin).unwrap();
        assert_eq!(hex_of(iso2::encode(&pin).expose_bytes()), expected);
        assert_eq!(iso2::decode(&block(expected)).unwrap(), pin);
    }
}

#[test]
fn format3_paysec() {
    // paysec src/pin/iso_9564/tests/test_format_3.rs (published with F fill; we decode those)
    // F is inside A-F, so the published blocks must decode here.
    let cases = [
        ("1234", "12345678901234", "341217BA9876FEDC"),
        ("123456789012", "1234567890123456789", "3C124CC66AA44487"),
    ];
    for (pin, pan, expected) in cases {
        let pan = Pan::new(pan).unwrap();
        assert_eq!(
            iso3::decode(&block(expected), &pan)
                .unwrap()
                .expose_digits(),
            pin.as_bytes()
        );
    }
}

#[test]
fn format4_pan_field_published() {
    // shared/vectors/iso9564.json format4_pan_field (ISO 9564-1:2017 PAN field rule)
    let cases = [
        ("4111111111111111", "44111111111111111000000000000000"),
        ("411111111111111", "34111111111111110000000000000000"),
        ("123456789012", "01234567890120000000000000000000"),
        ("1234567890123456789", "71234567890123456789000000000000"),
    ];
    for (pan, expected) in cases {
        let pan = Pan::new(pan).unwrap();
        let field = iso4::pan_field(&pan);
        assert_eq!(hex_of(field.expose_bytes()), expected);
        assert_eq!(iso4::decode_pan_field(&field).unwrap(), pan);
    }
}

#[test]
fn format4_pin_field_psec_ep2() {
    // psec tests (ep2 specification example): clear PIN field 441234AAAAAAAAAA146C6601F4A8035C
    let bytes: [u8; 16] = hex::decode("441234AAAAAAAAAA146C6601F4A8035C")
        .unwrap()
        .try_into()
        .unwrap();
    let pin = iso4::decode_pin_field(&PinField::from_bytes(bytes)).unwrap();
    assert_eq!(pin.expose_digits(), b"1234");
    let made = iso4::encode_pin_field(&pin, &mut ChaCha20Rng::seed_from_u64(9));
    assert_eq!(hex_of(&made.expose_bytes()[..8]), "441234AAAAAAAAAA");
}

#[test]
fn format4_rejects_bad_fill_and_pan_field() {
    let bytes: [u8; 16] = hex::decode("441234AAAAAAAAAB146C6601F4A8035C")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        iso4::decode_pin_field(&PinField::from_bytes(bytes)),
        Err(Error::FillDigit(Format::Iso4))
    );
    let bad: [u8; 16] = hex::decode("84111111111111111000000000000000")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        iso4::decode_pan_field(&pinset_block::PanField::from_bytes(bad)),
        Err(Error::PanField)
    );
    let nonzero: [u8; 16] = hex::decode("44111111111111111000000000000001")
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        iso4::decode_pan_field(&pinset_block::PanField::from_bytes(nonzero)),
        Err(Error::PanField)
    );
}

#[test]
fn fill_rules_are_enforced() {
    let pan = Pan::new("5555555551234567").unwrap();
    // Format 2 with a non-F fill digit.
    assert_eq!(
        iso2::decode(&block("241234FFFFFFFFFE")),
        Err(Error::FillDigit(Format::Iso2))
    );
    // Format 3 with a fill digit below A: encode a valid block, then flip the last fill nibble to 9.
    let good = iso3::encode(
        &Pin::new("1234").unwrap(),
        &pan,
        &mut ChaCha20Rng::seed_from_u64(3),
    );
    let mut bytes = *good.expose_bytes();
    let pan_nibble = 0x7; // last nibble of the format 3 PAN field for this PAN
    bytes[7] = (bytes[7] & 0xF0) | (0x9 ^ pan_nibble);
    assert_eq!(
        iso3::decode(&ClearBlock::from_bytes(bytes), &pan),
        Err(Error::FillDigit(Format::Iso3))
    );
    // A non-decimal PIN digit.
    assert_eq!(
        iso1::decode(&block("14123A44B4B2B43F")),
        Err(Error::PinDigit)
    );
}

#[test]
fn pin_and_pan_inputs_are_strict() {
    assert_eq!(Pin::new("123").unwrap_err(), Error::PinLength);
    assert_eq!(Pin::new("1234567890123").unwrap_err(), Error::PinLength);
    assert_eq!(Pin::new("12 4").unwrap_err(), Error::PinNotNumeric);
    assert_eq!(Pin::new("١٢٣٤").unwrap_err(), Error::PinNotNumeric); // Arabic-Indic digits are not ASCII
    assert_eq!(Pan::new("12345678901").unwrap_err(), Error::PanLength);
    assert_eq!(
        Pan::new("12345678901234567890").unwrap_err(),
        Error::PanLength
    );
    assert_eq!(
        Pan::new("41111111111111x1").unwrap_err(),
        Error::PanNotNumeric
    );
    assert!(!Pan::new("4111111111111112").unwrap().is_luhn_valid());
    assert!(Pan::new("4111111111111111").unwrap().is_luhn_valid());
}

#[test]
fn secrets_never_print() {
    let pin = Pin::new("975310").unwrap();
    let pan = Pan::new("5185410084016382").unwrap();
    let blk = iso0::encode(&pin, &pan);
    let printed = format!("{pin:?} {pan:?} {pan} {blk:?} {:?}", pan.masked());
    assert!(!printed.contains("975310"));
    assert!(!printed.contains("5185410084016382"));
    assert!(printed.contains("518541******6382"));
    assert!(!printed.contains(&hex_of(blk.expose_bytes())));
}

#[test]
fn translation_rules_follow_pci() {
    use Format::*;
    for to in [Iso0, Iso1, Iso3, Iso4] {
        assert!(Iso1.may_translate_to(to), "1 -> {to}");
    }
    for from in [Iso0, Iso3, Iso4] {
        assert_eq!(
            from.check_translation(Iso1),
            Err(Error::Translation { from, to: Iso1 })
        );
        for to in [Iso0, Iso3, Iso4] {
            assert!(from.may_translate_to(to));
        }
    }
    for f in Format::ALL {
        assert!(!Iso2.may_translate_to(f) && !f.may_translate_to(Iso2));
    }
}

#[test]
fn format_names_parse() {
    for f in Format::ALL {
        assert_eq!(f.name().parse::<Format>().unwrap(), f);
        assert_eq!(f.name().to_uppercase().parse::<Format>().unwrap(), f);
    }
    assert_eq!("iso5".parse::<Format>(), Err(Error::UnknownFormat));
    assert_eq!("".parse::<Format>(), Err(Error::UnknownFormat));
}
