//! Fixtures and invariant checks shared by the pinset fuzz targets.
//!
//! Every target must return normally for any input: a panic is either a
//! bug in the library or a broken invariant asserted here.

pub mod flows;

use std::sync::LazyLock;

use chacha20::ChaCha20Rng;
use pinset_block::rand_core::SeedableRng;
use pinset_block::{Format, MAX_PIN_LEN, MIN_PIN_LEN, Pan, Pin};
use pinset_envelope::{AesKey, PinKey, TdesKey};

/// The PAN used when the input does not supply a usable one.
pub const FIXED_PAN: &str = "5141576351968605";

fn tdes(key: &[u8]) -> PinKey {
    PinKey::from(TdesKey::new(key).expect("fixed TDES key is valid"))
}

fn aes(key: &[u8]) -> PinKey {
    PinKey::from(AesKey::new(key).expect("fixed AES key is valid"))
}

/// Fixed keys: 2-key TDES, 3-key TDES, AES-128, AES-192, AES-256.
pub static KEYS: LazyLock<[PinKey; 5]> = LazyLock::new(|| {
    [
        tdes(b"11 pinset test k"),
        tdes(&[
            0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54,
            0x32, 0x10, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45, 0x67,
        ]),
        aes(&[
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD,
            0xEE, 0xFF,
        ]),
        aes(&[0x5A; 24]),
        aes(&[0xA5; 32]),
    ]
});

/// The fixed TDES keys (indexes 0 and 1 of [`KEYS`]).
pub fn tdes_key(i: u8) -> &'static PinKey {
    &KEYS[usize::from(i % 2)]
}

/// The fixed AES keys (indexes 2 to 4 of [`KEYS`]).
pub fn aes_key(i: u8) -> &'static PinKey {
    &KEYS[2 + usize::from(i % 3)]
}

/// A format from any byte.
pub fn format(sel: u8) -> Format {
    Format::ALL[usize::from(sel % 5)]
}

/// The fixed PAN.
pub fn fixed_pan() -> Pan {
    Pan::new(FIXED_PAN).expect("fixed PAN is valid")
}

/// The input bytes as a PAN when they are one (this fuzzes `Pan::from_ascii`
/// too), else the fixed PAN.
pub fn pan_or_fixed(bytes: &[u8]) -> Pan {
    match Pan::from_ascii(bytes) {
        Ok(pan) => {
            check_pan(&pan);
            assert_eq!(pan.expose_digits(), bytes);
            pan
        }
        Err(_) => fixed_pan(),
    }
}

/// Takes a PAN from the front of `data`: one length byte (12 + n % 8
/// digits), then that many bytes, each read as a digit (byte % 10). Returns
/// the PAN and the rest, or `None` when `data` is too short.
pub fn take_pan(data: &[u8]) -> Option<(Pan, &[u8])> {
    let (&len, rest) = data.split_first()?;
    let len = 12 + usize::from(len % 8);
    if rest.len() < len {
        return None;
    }
    let (digits, rest) = rest.split_at(len);
    let mut ascii = [0u8; 19];
    for (a, d) in ascii.iter_mut().zip(digits) {
        *a = b'0' + d % 10;
    }
    let pan = Pan::from_ascii(&ascii[..len]).expect("12 to 19 digits make a PAN");
    check_pan(&pan);
    Some((pan, rest))
}

/// Takes a PIN from the front of `data` the same way: 4 + n % 9 digits.
pub fn take_pin(data: &[u8]) -> Option<(Pin, &[u8])> {
    let (&len, rest) = data.split_first()?;
    let len = MIN_PIN_LEN + usize::from(len % 9);
    if rest.len() < len {
        return None;
    }
    let (digits, rest) = rest.split_at(len);
    let mut ascii = [0u8; MAX_PIN_LEN];
    for (a, d) in ascii.iter_mut().zip(digits) {
        *a = b'0' + d % 10;
    }
    let pin = Pin::from_ascii(&ascii[..len]).expect("4 to 12 digits make a PIN");
    check_pin(&pin);
    Some((pin, rest))
}

/// A deterministic RNG for one input, so that a crash reproduces.
pub fn rng_for(data: &[u8]) -> ChaCha20Rng {
    // FNV-1a: any stable hash will do.
    let seed = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    ChaCha20Rng::seed_from_u64(seed)
}

/// A PIN that came out of any decoder: 4 to 12 ASCII digits, and it parses
/// back to itself.
pub fn check_pin(pin: &Pin) {
    let digits = pin.expose_digits();
    assert!(
        (MIN_PIN_LEN..=MAX_PIN_LEN).contains(&digits.len()),
        "PIN of {} digits",
        digits.len()
    );
    assert_eq!(digits.len(), pin.len());
    assert!(digits.iter().all(u8::is_ascii_digit), "non-digit in PIN");
    assert!(
        Pin::from_ascii(digits).as_ref() == Ok(pin),
        "PIN does not re-parse to itself"
    );
    assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
}

/// A PAN: 12 to 19 ASCII digits; masking keeps its length, shows at most
/// the first 6 and the last 4, and hides at least `MIN_HIDDEN_DIGITS`.
pub fn check_pan(pan: &Pan) {
    let digits = pan.expose_digits();
    assert!((12..=19).contains(&digits.len()));
    assert!(digits.iter().all(u8::is_ascii_digit));
    assert_eq!(pan.expose_str().as_bytes(), digits);
    let masked = pan.masked();
    let masked = masked.as_str().as_bytes();
    assert_eq!(masked.len(), digits.len());
    let lead = (digits.len() - pinset_block::MIN_HIDDEN_DIGITS - 4).min(6);
    assert_eq!(masked[..lead], digits[..lead]);
    assert_eq!(masked[digits.len() - 4..], digits[digits.len() - 4..]);
    assert!(masked[lead..digits.len() - 4].iter().all(|&c| c == b'*'));
    assert!(digits.len() - lead - 4 >= pinset_block::MIN_HIDDEN_DIGITS);
    let _ = pan.is_luhn_valid();
}

/// Whether `key` can carry `format` at all (TDES: 0 to 3, AES: 4).
pub fn key_fits(key: &PinKey, format: Format) -> bool {
    matches!(
        (key, format),
        (PinKey::Aes(_), Format::Iso4)
            | (
                PinKey::Tdes(_),
                Format::Iso0 | Format::Iso1 | Format::Iso2 | Format::Iso3
            )
    )
}

/// Every error must print and fold to the one outward error without panicking.
pub fn check_error(e: &pinset_envelope::Error) {
    let _ = format!("{e} {e:?}");
    let _ = e.outward().to_string();
}
