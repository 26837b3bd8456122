//! Every single-character change to a published key block (ANSI X9
//! TR-31:2018 annex A.7.2.1, A.7.2.2 and A.7.4) is refused, always with the
//! same outward text.

mod common;

use common::{ALL, Vector};
use pinset_tr31::{KeyBlockError, unwrap};

/// Characters a header field could plausibly be changed to.
const HEADER_CHARS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX: &[u8] = b"0123456789ABCDEF";

fn refused(v: &Vector, tampered: &[u8], what: &str) {
    let text = std::str::from_utf8(tampered).unwrap();
    match unwrap(&v.kbpk(), text) {
        Ok(_) => panic!("{}: accepted after {what}: {text}", v.name),
        Err(e) => assert_eq!(e.to_string(), KeyBlockError::TEXT, "{}", v.name),
    }
}

/// TR-31:2018 A.7.2.1 / A.7.2.2 / A.7.4: flip each of the seven low bits of
/// every character (the result stays ASCII, printable or not).
#[test]
fn every_bit_flip_is_refused() {
    let mut tried = 0;
    for v in ALL {
        let original = v.block.as_bytes();
        for i in 0..original.len() {
            for bit in 0..7 {
                let mut t = original.to_vec();
                t[i] ^= 1 << bit;
                refused(v, &t, &format!("flipping bit {bit} of char {i}"));
                tried += 1;
            }
        }
    }
    assert_eq!(tried, 7 * (72 + 80 + 112));
}

/// TR-31:2018 A.7.2.1 / A.7.2.2 / A.7.4: replace every hex character of the
/// key data and MAC by every other hex character, and every header
/// character by every other letter or digit.
#[test]
fn every_substitution_is_refused() {
    for v in ALL {
        let original = v.block.as_bytes();
        for i in 0..original.len() {
            let alphabet = if i < 16 { HEADER_CHARS } else { HEX };
            for &c in alphabet {
                if c == original[i] {
                    continue;
                }
                let mut t = original.to_vec();
                t[i] = c;
                refused(v, &t, &format!("setting char {i} to {}", c as char));
            }
        }
    }
}

/// TR-31:2018 A.7.2.2 / A.7.4: lower-casing a hex character is refused even
/// though it decodes to the same byte (the B and D MACs cover the bytes,
/// not their spelling).
#[test]
fn lower_case_hex_is_refused() {
    for v in ALL {
        let original = v.block.as_bytes();
        for i in 16..original.len() {
            if original[i].is_ascii_uppercase() {
                let mut t = original.to_vec();
                t[i] = original[i].to_ascii_lowercase();
                refused(v, &t, &format!("lower-casing char {i}"));
            }
        }
    }
}

/// TR-31:2018 A.7.2.1 / A.7.2.2 / A.7.4: truncation, extension and the
/// wrong KBPK are refused too.
#[test]
fn truncation_extension_and_wrong_key_are_refused() {
    for v in ALL {
        let original = v.block.as_bytes();
        for len in 0..original.len() {
            refused(v, &original[..len], "truncation");
        }
        let mut longer = original.to_vec();
        longer.extend_from_slice(b"00000000");
        refused(v, &longer, "extension");
        let mut kbpk = hex::decode(v.kbpk).unwrap();
        kbpk[3] ^= 0x10;
        let wrong = if v.block.starts_with('D') {
            pinset_tr31::Kbpk::aes(&kbpk).unwrap()
        } else {
            pinset_tr31::Kbpk::tdes(&kbpk).unwrap()
        };
        let err = unwrap(&wrong, v.block).unwrap_err();
        assert_eq!(err.reason(), pinset_tr31::Reason::Mac, "{}", v.name);
    }
}
