//! Published PVV and IBM 3624 vectors.
//!
//! Source: psec 1.3.0, `tests/test_pin.py` (MIT), as collected in
//! `shared/vectors/pin-verification-and-tr31.json`.

use pinset_block::{Pan, Pin};
use pinset_verify::{
    DecimalizationTable, Error, PinVerificationKey, Pvki, Pvv, ValidationData, ValidationSource,
    VerificationMethod, VerificationValue, ibm3624_natural_pin, ibm3624_offset, visa_pvv,
};

const PVK: &str = "0123456789ABCDEFFEDCBA9876543210";

fn pvk() -> PinVerificationKey {
    PinVerificationKey::new(&hex::decode(PVK).unwrap()).unwrap()
}

#[test]
fn visa_pvv_psec_vectors() {
    // psec tests/test_pin.py: (pvki, pin, pan, pvv).
    for (pvki, pin, pan, pvv) in [
        (1, "4524", "1122334455667788", "8523"),
        (2, "1912", "1122334455667788", "3244"),
    ] {
        let got = visa_pvv(
            &pvk(),
            Pvki::new(pvki).unwrap(),
            &Pan::new(pan).unwrap(),
            &Pin::new(pin).unwrap(),
        );
        assert_eq!(got.expose_str(), pvv, "PVKI {pvki}");
        assert_eq!(got, Pvv::parse(pvv).unwrap());
    }
}

#[test]
fn visa_pvv_reads_only_the_first_four_pin_digits() {
    // Visa PVS: the TSP holds the PIN's leftmost 4 digits only.
    let pan = Pan::new("1122334455667788").unwrap();
    let four = visa_pvv(
        &pvk(),
        Pvki::new(1).unwrap(),
        &pan,
        &Pin::new("4524").unwrap(),
    );
    let six = visa_pvv(
        &pvk(),
        Pvki::new(1).unwrap(),
        &pan,
        &Pin::new("452499").unwrap(),
    );
    assert_eq!(four, six);
}

#[test]
fn ibm3624_psec_vectors() {
    // psec tests/test_pin.py: PAN 1122334455667788 as validation data
    // (offset 0, length 16), table 1234567890123456.
    let table = DecimalizationTable::parse("1234567890123456").unwrap();
    let data = ValidationData::new("1122334455667788", 'F').unwrap();
    for (pin, offset) in [("4524", "0000"), ("1234", "7710")] {
        let got = ibm3624_offset(&pvk(), &table, &data, &Pin::new(pin).unwrap());
        assert_eq!(got.expose_str(), offset, "PIN {pin}");
    }
    // An offset of 0000 means the PIN is the natural PIN.
    let natural = ibm3624_natural_pin(&pvk(), &table, &data, 4).unwrap();
    assert_eq!(natural.expose_digits(), b"4524");
}

#[test]
fn ibm3624_through_the_method_with_pan_digits() {
    // Same vector, with the validation data taken from the PAN.
    let method = VerificationMethod::Ibm3624 {
        table: DecimalizationTable::parse("1234567890123456").unwrap(),
        validation: ValidationSource::Pan {
            start: 0,
            length: 16,
            pad: 'F',
        },
    };
    let pan = Pan::new("1122334455667788").unwrap();
    let value = method
        .generate(&pvk(), &pan, &Pin::new("1234").unwrap())
        .unwrap();
    assert_eq!(value.expose_str(), "7710");
    assert!(
        method
            .verify(&pvk(), &pan, &Pin::new("1234").unwrap(), &value)
            .unwrap()
    );
    assert!(
        !method
            .verify(&pvk(), &pan, &Pin::new("1235").unwrap(), &value)
            .unwrap()
    );
    let visa = VerificationMethod::VisaPvv {
        pvki: Pvki::new(1).unwrap(),
    };
    assert_eq!(
        visa.verify(&pvk(), &pan, &Pin::new("1234").unwrap(), &value),
        Err(Error::MethodMismatch)
    );
    assert!(matches!(value, VerificationValue::Ibm3624Offset(_)));
}

#[test]
fn short_validation_data_is_padded_with_the_pad_character() {
    // "11223344" padded with F is the same block as the explicit 16 characters.
    assert_eq!(
        ValidationData::new("11223344", 'F').unwrap(),
        ValidationData::new("11223344FFFFFFFF", 'f').unwrap()
    );
    assert_ne!(
        ValidationData::new("11223344", 'F').unwrap(),
        ValidationData::new("11223344", '0').unwrap()
    );
}

#[test]
fn bad_parameters_are_typed_errors_that_echo_nothing() {
    assert_eq!(Pvki::new(7), Err(Error::Pvki));
    assert_eq!(Pvki::parse("07"), Err(Error::Pvki));
    assert_eq!(Pvv::parse("12a4").unwrap_err(), Error::Pvv);
    assert_eq!(
        DecimalizationTable::parse("123456789012345").unwrap_err(),
        Error::DecimalizationTable
    );
    assert_eq!(
        ValidationData::new("", 'F').unwrap_err(),
        Error::ValidationData
    );
    assert_eq!(
        ValidationData::new("11223344556677889", 'F').unwrap_err(),
        Error::ValidationData
    );
    assert_eq!(
        ValidationData::new("1122G", 'F').unwrap_err(),
        Error::ValidationData
    );
    assert_eq!(
        ValidationData::new("1122", 'X').unwrap_err(),
        Error::ValidationData
    );
    let pan = Pan::new("1122334455667788").unwrap();
    assert_eq!(
        ValidationData::from_pan(&pan, 10, 8, 'F').unwrap_err(),
        Error::ValidationDigits
    );
    let single = hex::decode("0123456789ABCDEF0123456789ABCDEF").unwrap();
    assert!(matches!(
        PinVerificationKey::new(&single),
        Err(Error::Key(_))
    ));
    let table = DecimalizationTable::STANDARD;
    let data = ValidationData::new("1122334455667788", 'F').unwrap();
    assert_eq!(
        ibm3624_natural_pin(&pvk(), &table, &data, 3).unwrap_err(),
        Error::PinLength
    );
    assert_eq!(
        ibm3624_natural_pin(&pvk(), &table, &data, 13).unwrap_err(),
        Error::PinLength
    );
    for e in [Error::Pvv, Error::Offset, Error::ValidationData] {
        assert!(!e.to_string().contains("12a4"));
    }
}

#[test]
fn values_are_redacted_in_debug() {
    let pvv = Pvv::parse("8523").unwrap();
    assert_eq!(format!("{pvv:?}"), "Pvv(<redacted>)");
    let data = ValidationData::new("1122334455667788", 'F').unwrap();
    assert!(!format!("{data:?}").contains("1122"));
}
