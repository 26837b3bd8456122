//! Round trips under every key size and format, and openers that never
//! panic on arbitrary bytes.

use chacha20::ChaCha20Rng;
use pinset_block::{Format, Pan, Pin};
use pinset_envelope::{AesKey, PinKey, TdesKey, translate};
use proptest::prelude::*;
use rand_core::SeedableRng;

fn tdes_key() -> impl Strategy<Value = PinKey> {
    prop_oneof![
        any::<[u8; 16]>().prop_map(|k| PinKey::from(TdesKey::new(&k).unwrap())),
        any::<[u8; 24]>().prop_map(|k| PinKey::from(TdesKey::new(&k).unwrap())),
    ]
}

fn aes_key() -> impl Strategy<Value = PinKey> {
    prop_oneof![
        any::<[u8; 16]>().prop_map(|k| PinKey::from(AesKey::new(&k).unwrap())),
        any::<[u8; 24]>().prop_map(|k| PinKey::from(AesKey::new(&k).unwrap())),
        any::<[u8; 32]>().prop_map(|k| PinKey::from(AesKey::new(&k).unwrap())),
    ]
}

proptest! {
    #[test]
    fn seal_open_round_trip(pin in "[0-9]{4,12}", pan in "[0-9]{12,19}", tdes in tdes_key(), aes in aes_key(), seed: u64) {
        let (pin, pan) = (Pin::new(&pin).unwrap(), Pan::new(&pan).unwrap());
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        for format in [Format::Iso0, Format::Iso1, Format::Iso2, Format::Iso3] {
            let sealed = tdes.seal(format, &pin, Some(&pan), &mut rng).unwrap();
            prop_assert_eq!(sealed.as_bytes().len(), 8);
            prop_assert_eq!(tdes.open(format, sealed.as_bytes(), Some(&pan)).unwrap(), pin.clone());
        }
        let sealed = aes.seal(Format::Iso4, &pin, Some(&pan), &mut rng).unwrap();
        prop_assert_eq!(sealed.as_bytes().len(), 16);
        prop_assert_eq!(aes.open(Format::Iso4, sealed.as_bytes(), Some(&pan)).unwrap(), pin);
    }

    #[test]
    fn translate_round_trip(pin in "[0-9]{4,12}", pan in "[0-9]{12,19}", a in tdes_key(), b in tdes_key(), c in aes_key(), seed: u64) {
        let (pin, pan) = (Pin::new(&pin).unwrap(), Pan::new(&pan).unwrap());
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let f1 = a.seal(Format::Iso1, &pin, None, &mut rng).unwrap();
        let f0 = translate(f1.as_bytes(), (Format::Iso1, &a), (Format::Iso0, &b), Some(&pan), &mut rng).unwrap();
        let f4 = translate(f0.as_bytes(), (Format::Iso0, &b), (Format::Iso4, &c), Some(&pan), &mut rng).unwrap();
        let f3 = translate(f4.as_bytes(), (Format::Iso4, &c), (Format::Iso3, &a), Some(&pan), &mut rng).unwrap();
        prop_assert_eq!(a.open(Format::Iso3, f3.as_bytes(), Some(&pan)).unwrap(), pin);
        prop_assert!(translate(f3.as_bytes(), (Format::Iso3, &a), (Format::Iso1, &b), Some(&pan), &mut rng).is_err());
    }

    #[test]
    fn open_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), pan in "[0-9]{12,19}", tdes in tdes_key(), aes in aes_key(), f in 0usize..5) {
        let pan = Pan::new(&pan).unwrap();
        let format = Format::ALL[f];
        let _ = tdes.open(format, &bytes, Some(&pan));
        let _ = aes.open(format, &bytes, Some(&pan));
        let _ = tdes.open(format, &bytes, None);
    }

    #[test]
    fn key_constructors_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = TdesKey::new(&bytes);
        let _ = AesKey::new(&bytes);
    }
}
