//! TR-31 key block unwrap and header parsing on any input.
//!
//! Input: any bytes, read as a (lossy) UTF-8 string and unwrapped under
//! fixed KBPKs: the two-key TDES KBPK of TR-31:2018 A.7.2.2 (versions A, B
//! and C), a three-key TDES KBPK and the AES-256 KBPK of A.7.4 (version D),
//! so the published key blocks make good seeds. Every refusal must show the
//! one fixed text; anything accepted must re-wrap and unwrap to the same key.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use pinset_fuzz::rng_for;
use pinset_tr31::{Header, Kbpk, KeyBlockError, Version, unwrap, wrap_masked};

static KBPKS: LazyLock<[Kbpk; 3]> = LazyLock::new(|| {
    let tdes2 = hex::decode("DD7515F2BFC17F85CE48F3CA25CB21F6").expect("fixed hex");
    let tdes3 = hex::decode("0123456789ABCDEFFEDCBA987654321089ABCDEF01234567").expect("fixed hex");
    let aes = hex::decode("88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6")
        .expect("fixed hex");
    [
        Kbpk::tdes(&tdes2).expect("fixed TDES KBPK is valid"),
        Kbpk::tdes(&tdes3).expect("fixed TDES KBPK is valid"),
        Kbpk::aes(&aes).expect("fixed AES KBPK is valid"),
    ]
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    let parsed = Header::parse(&text);
    match &parsed {
        Ok(header) => {
            // The header re-encodes to the characters it was read from.
            let encoded = header.to_string();
            assert_eq!(encoded.len(), header.encoded_len());
            assert!(text.starts_with(&encoded), "header does not re-encode");
            assert!(Header::parse(&encoded).as_ref() == Ok(header));
        }
        Err(e) => assert_eq!(e.to_string(), KeyBlockError::TEXT),
    }

    for kbpk in KBPKS.iter() {
        match unwrap(kbpk, &text) {
            Ok((header, key)) => {
                assert!(parsed.as_ref() == Ok(&header), "unwrap and parse disagree");
                assert_eq!(usize::from(header.key_block_length()), text.len());
                assert!(!key.is_empty());
                assert!(header.check_consistency().is_ok());
                if !header.version().is_deprecated() {
                    // What unwrap accepts, wrap can write again (unmasked, so
                    // never longer than the block it came from).
                    let again = wrap_masked(kbpk, &header, &key, 0, &mut rng_for(data))
                        .expect("an unwrapped key re-wraps");
                    let (_, key2) = unwrap(kbpk, &again).expect("a re-wrapped key unwraps");
                    assert_eq!(&key2[..], &key[..]);
                } else {
                    assert!(matches!(header.version(), Version::A | Version::C));
                }
            }
            Err(e) => {
                assert_eq!(e.to_string(), KeyBlockError::TEXT);
                let _ = format!("{:?} {}", e.reason(), e.reason());
            }
        }
    }
});
