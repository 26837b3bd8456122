//! Properties of the IBM 3624 offset and the Visa PVV.

use pinset_block::{Pan, Pin};
use pinset_verify::{
    DecimalizationTable, PinVerificationKey, Pvki, ValidationData, VerificationMethod,
    ibm3624_natural_pin, ibm3624_offset, ibm3624_verify,
};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = PinVerificationKey> {
    proptest::array::uniform16(any::<u8>())
        .prop_filter_map("weak key", |k| PinVerificationKey::new(&k).ok())
}

fn pin() -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, 4..=12)
        .prop_map(|d| d.iter().map(|v| char::from(b'0' + v)).collect())
}

fn table() -> impl Strategy<Value = DecimalizationTable> {
    proptest::collection::vec(0u8..10, 16).prop_map(|d| {
        let text: String = d.iter().map(|v| char::from(b'0' + v)).collect();
        DecimalizationTable::parse(&text).unwrap()
    })
}

proptest! {
    /// natural PIN + offset = PIN, digit-wise mod 10 (IBM 3624).
    #[test]
    fn offset_added_to_the_natural_pin_gives_the_pin(
        pvk in key(), table in table(), data in "[0-9A-F]{1,16}", pin in pin()
    ) {
        let data = ValidationData::new(&data, 'F').unwrap();
        let pin = Pin::new(&pin).unwrap();
        let offset = ibm3624_offset(&pvk, &table, &data, &pin);
        prop_assert_eq!(offset.len(), pin.len());
        let natural = ibm3624_natural_pin(&pvk, &table, &data, pin.len()).unwrap();
        let rebuilt: Vec<u8> = natural.expose_digits().iter().zip(offset.expose_str().bytes())
            .map(|(n, o)| b'0' + ((n - b'0') + (o - b'0')) % 10)
            .collect();
        prop_assert_eq!(rebuilt.as_slice(), pin.expose_digits());
        prop_assert!(ibm3624_verify(&pvk, &table, &data, &offset, &pin).unwrap());
    }

    /// Any change to a checked PIN digit fails IBM 3624 verification.
    #[test]
    fn a_changed_digit_fails_the_offset(
        pvk in key(), data in "[0-9A-F]{16}", pin in pin(), at in 0usize..12, by in 1u8..10
    ) {
        let data = ValidationData::new(&data, 'F').unwrap();
        let table = DecimalizationTable::STANDARD;
        let good = Pin::new(&pin).unwrap();
        let offset = ibm3624_offset(&pvk, &table, &data, &good);
        let mut digits = pin.into_bytes();
        let at = at % digits.len();
        digits[at] = b'0' + (digits[at] - b'0' + by) % 10;
        let bad = Pin::from_ascii(&digits).unwrap();
        prop_assert!(!ibm3624_verify(&pvk, &table, &data, &offset, &bad).unwrap());
    }

    /// A PVV is always 4 decimal digits, verifies its own PIN, and depends on
    /// only the PIN's first 4 digits.
    #[test]
    fn pvv_is_four_digits_and_verifies(
        pvk in key(), pan in "[0-9]{12,19}", pin in pin(), pvki in 0u8..=6
    ) {
        let method = VerificationMethod::VisaPvv { pvki: Pvki::new(pvki).unwrap() };
        let pan = Pan::new(&pan).unwrap();
        let pin = Pin::new(&pin).unwrap();
        let pvv = method.generate(&pvk, &pan, &pin).unwrap();
        prop_assert_eq!(pvv.expose_str().len(), 4);
        prop_assert!(pvv.expose_str().bytes().all(|b| b.is_ascii_digit()));
        prop_assert!(method.verify(&pvk, &pan, &pin, &pvv).unwrap());
        let first4 = Pin::from_ascii(&pin.expose_digits()[..4]).unwrap();
        prop_assert!(method.verify(&pvk, &pan, &first4, &pvv).unwrap());
    }
}
