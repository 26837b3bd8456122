//! Round trips for every format, PIN length and PAN length, and decoders
//! that never panic on arbitrary input.

use chacha20::ChaCha20Rng;
use pinset_block::{
    ClearBlock, Format, Pan, PanField, Pin, PinField, iso0, iso1, iso2, iso3, iso4,
};
use proptest::prelude::*;
use rand_core::SeedableRng;

fn pin() -> impl Strategy<Value = String> {
    "[0-9]{4,12}"
}

fn pan() -> impl Strategy<Value = String> {
    "[0-9]{12,19}"
}

fn nibbles(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    bytes.iter().flat_map(|b| [b >> 4, b & 0xF])
}

proptest! {
    #[test]
    fn round_trip_every_format(pin in pin(), pan in pan(), seed: u64) {
        let (p, a) = (Pin::new(&pin).unwrap(), Pan::new(&pan).unwrap());
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        prop_assert_eq!(iso0::decode(&iso0::encode(&p, &a), &a).unwrap(), p.clone());
        prop_assert_eq!(iso1::decode(&iso1::encode(&p, &mut rng)).unwrap(), p.clone());
        prop_assert_eq!(iso1::decode(&iso1::encode_with_fill(&p, seed)).unwrap(), p.clone());
        prop_assert_eq!(iso2::decode(&iso2::encode(&p)).unwrap(), p.clone());
        prop_assert_eq!(iso3::decode(&iso3::encode(&p, &a, &mut rng), &a).unwrap(), p.clone());
        prop_assert_eq!(iso4::decode_pin_field(&iso4::encode_pin_field(&p, &mut rng)).unwrap(), p.clone());
        prop_assert_eq!(iso4::decode_pan_field(&iso4::pan_field(&a)).unwrap(), a);
    }

    #[test]
    fn format3_fill_is_a_to_f(pin in pin(), seed: u64) {
        let (p, a) = (Pin::new(&pin).unwrap(), Pan::new("000000000000000").unwrap());
        // With an all-zero PAN field the clear block is the PIN field itself.
        let blk = iso3::encode(&p, &a, &mut ChaCha20Rng::seed_from_u64(seed));
        let fill: Vec<u8> = nibbles(blk.expose_bytes()).skip(2 + pin.len()).collect();
        prop_assert!(fill.iter().all(|n| (0xA..=0xF).contains(n)));
    }

    #[test]
    fn decoders_never_panic(bytes: [u8; 8], wide: [u8; 16], pan in pan()) {
        let a = Pan::new(&pan).unwrap();
        let blk = ClearBlock::from_bytes(bytes);
        let _ = iso0::decode(&blk, &a);
        let _ = iso1::decode(&blk);
        let _ = iso2::decode(&blk);
        let _ = iso3::decode(&blk, &a);
        let _ = iso4::decode_pin_field(&PinField::from_bytes(wide));
        let _ = iso4::decode_pan_field(&PanField::from_bytes(wide));
        let _ = blk.control_format();
    }

    #[test]
    fn parsers_never_panic(s in "\\PC{0,24}", raw: Vec<u8>) {
        let _ = Pin::new(&s);
        let _ = Pan::new(&s);
        let _ = s.parse::<Format>();
        let _ = Pin::from_ascii(&raw);
        let _ = Pan::from_ascii(&raw);
        let _ = ClearBlock::try_from_slice(&raw);
    }
}

/// Each of the six fill values A-F must be drawn about equally often.
/// A modulo-6 reduction of 4-bit draws would put A and B at twice the weight of the others.
#[test]
fn format3_fill_is_unbiased() {
    let a = Pan::new("000000000000000").unwrap();
    let p = Pin::new("1234").unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    let mut counts = [0u32; 6];
    for _ in 0..6000 {
        let blk = iso3::encode(&p, &a, &mut rng);
        for n in nibbles(blk.expose_bytes()).skip(6) {
            counts[usize::from(n - 0xA)] += 1;
        }
    }
    // 60,000 draws, 10,000 expected each; 5 sigma is about 456.
    for c in counts {
        assert!((9_500..=10_500).contains(&c), "counts {counts:?}");
    }
}
