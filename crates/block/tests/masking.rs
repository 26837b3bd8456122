//! PAN masking for logs (PCI DSS 3.4: at most the first 6 and last 4 digits),
//! with at least 6 digits always hidden, for every PAN length from 12 to 19.

use pinset_block::{MIN_HIDDEN_DIGITS, Pan};
use proptest::prelude::*;

#[test]
fn every_length_from_12_to_19() {
    let digits = "1234567890123456789";
    let expected = [
        (12, "12******9012"),
        (13, "123******0123"),
        (14, "1234******1234"),
        (15, "12345******2345"),
        (16, "123456******3456"),
        (17, "123456*******4567"),
        (18, "123456********5678"),
        (19, "123456*********6789"),
    ];
    for (len, masked) in expected {
        let pan = Pan::new(&digits[..len]).unwrap();
        assert_eq!(pan.masked().as_str(), masked, "length {len}");
        assert_eq!(pan.to_string(), masked);
        assert_eq!(format!("{pan:?}"), format!("Pan({masked})"));
    }
}

proptest! {
    #[test]
    fn shows_at_most_6_and_4_and_hides_at_least_6(pan in "[0-9]{12,19}") {
        let masked = Pan::new(&pan).unwrap().masked();
        let shown = masked.as_str();
        prop_assert_eq!(shown.len(), pan.len());
        let lead = shown.find('*').unwrap();
        let hidden = shown.matches('*').count();
        prop_assert!(lead <= 6);
        prop_assert!(hidden >= MIN_HIDDEN_DIGITS);
        prop_assert_eq!(lead + hidden + 4, pan.len(), "one run of stars, then the last 4");
        prop_assert_eq!(&shown[..lead], &pan[..lead]);
        prop_assert_eq!(&shown[pan.len() - 4..], &pan[pan.len() - 4..]);
    }
}
