//! Property tests: wrap/unwrap round trips over random keys, KBPKs and
//! headers (versions B and D of ANSI X9 TR-31:2018 / X9.143), and unwrap
//! never panicking on arbitrary or mutated input (this crate's own
//! robustness requirement).

mod common;

use chacha20::ChaCha20Rng;
use pinset_tr31::{
    Algorithm, Exportability, Header, Kbpk, KeyBlockError, KeyUsage, ModeOfUse, Version, unwrap,
    wrap, wrap_masked,
};
use proptest::prelude::*;
use rand_core::SeedableRng;

/// (usage, mode) pairs that pass the consistency rules, plus unnamed ones.
const USAGE_MODES: &[(&str, u8)] = &[
    ("P0", b'E'),
    ("P0", b'B'),
    ("K0", b'D'),
    ("K1", b'B'),
    ("D0", b'E'),
    ("V1", b'C'),
    ("V2", b'G'),
    ("B0", b'X'),
    ("M3", b'C'),
    ("Z9", b'Q'),
];

fn kbpk_for(version: Version, len_choice: usize, bytes: &[u8]) -> Option<Kbpk> {
    match version {
        Version::D => Kbpk::aes(&bytes[..[16, 24, 32][len_choice % 3]]).ok(),
        _ => Kbpk::tdes(&bytes[..[16, 24][len_choice % 2]]).ok(),
    }
}

fn opt_block() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(vec!["KS", "KC", "KP", "TS", "HM", "10", "99"]),
        "[ -~]{0,300}",
    )
        .prop_map(|(id, data)| (id.to_owned(), data))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// TR-31:2018 §5.3.2 (B and D): what wrap writes, unwrap reads back:
    /// the same key and the same header fields and optional blocks.
    #[test]
    fn wrap_unwrap_round_trip(
        is_d in any::<bool>(),
        len_choice in 0usize..3,
        kbpk_bytes in prop::collection::vec(any::<u8>(), 32),
        key in prop::collection::vec(any::<u8>(), 1..=64),
        usage_mode in prop::sample::select(USAGE_MODES),
        alg in prop::sample::select(vec![b'T', b'A', b'H', b'R']),
        exp in prop::sample::select(vec![b'E', b'N', b'S']),
        key_version in "[0-9A-Za-z]{2}",
        blocks in prop::collection::vec(opt_block(), 0..4),
        mask in prop::option::of(0usize..80),
        seed in any::<u64>(),
    ) {
        let version = if is_d { Version::D } else { Version::B };
        let Some(kbpk) = kbpk_for(version, len_choice, &kbpk_bytes) else {
            return Ok(()); // single DES in disguise: refused, as intended
        };
        let (usage, mode) = usage_mode;
        let mut header = Header::new(
            version,
            KeyUsage::new(usage).unwrap(),
            Algorithm::from_byte(alg).unwrap(),
            ModeOfUse::from_byte(mode).unwrap(),
            &key_version,
            Exportability::from_byte(exp).unwrap(),
        ).unwrap();
        for (id, data) in &blocks {
            header = header.with_optional_block(id, data).unwrap();
        }
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let block = match mask {
            None => wrap(&kbpk, &header, &key, &mut rng),
            Some(m) => wrap_masked(&kbpk, &header, &key, m, &mut rng),
        };
        let over_masked = mask.is_some_and(|m| m > 32.max(key.len())) && alg != b'H' && alg != b'R';
        if over_masked {
            prop_assert_eq!(block.unwrap_err().reason(), pinset_tr31::Reason::Padding);
            return Ok(());
        }
        let block = block.unwrap();
        prop_assert_eq!(block.len(), usize::from(Header::parse(&block).unwrap().key_block_length()));
        let (read, unwrapped) = unwrap(&kbpk, &block).unwrap();
        prop_assert_eq!(&unwrapped[..], &key[..]);
        prop_assert_eq!(read.version(), version);
        let read_usage = read.key_usage();
        prop_assert_eq!(read_usage.as_str(), usage);
        prop_assert_eq!(read.mode_of_use().as_byte(), mode);
        prop_assert_eq!(read.key_version(), key_version.as_str());
        let read_blocks: Vec<(String, String)> = read
            .optional_blocks()
            .iter()
            .filter(|b| !b.is_padding())
            .map(|b| (b.id().to_owned(), b.data().to_owned()))
            .collect();
        prop_assert_eq!(read_blocks, blocks);
        prop_assert_eq!(read.encoded_len() % version.block_size(), 0);
    }

    /// Arbitrary strings never panic unwrap or Header::parse, and every
    /// refusal shows the one fixed text.
    #[test]
    fn arbitrary_input_never_panics(s in any::<String>()) {
        for kbpk in [common::B.kbpk(), common::D.kbpk()] {
            if let Err(e) = unwrap(&kbpk, &s) {
                prop_assert_eq!(e.to_string(), KeyBlockError::TEXT);
            }
        }
        let _ = Header::parse(&s);
    }

    /// Strings shaped like key blocks (valid fixed header characters, hex
    /// body, sometimes optional blocks) reach the deeper checks without panics.
    #[test]
    fn block_shaped_input_never_panics(
        head in "[A-D][0-9]{4}[A-Z0-9]{2}[A-Z0-9]{2}[0-9a-z]{2}[A-Z0-9]0[0-3][0-9A-Z]{2}",
        body in "([A-Z0-9]{2}(00[0-9A-F]{2}|[0-9A-F]{2}))?[0-9A-F ]{0,300}",
    ) {
        let mut s = head + &body;
        // Half the time, make the length field agree with the input.
        if s.len() <= 9999 && body.len().is_multiple_of(2) {
            let len = format!("{:04}", s.len());
            s.replace_range(1..5, &len);
        }
        for kbpk in [common::A.kbpk(), common::B.kbpk(), common::D.kbpk()] {
            if let Err(e) = unwrap(&kbpk, &s) {
                prop_assert_eq!(e.to_string(), KeyBlockError::TEXT);
            }
        }
        let _ = Header::parse(&s);
    }

    /// Mutated published blocks (TR-31:2018 A.7.2.1, A.7.2.2, A.7.4):
    /// random overwrites, insertions and deletions are refused, never panic.
    #[test]
    fn mutated_blocks_are_refused(
        which in 0usize..3,
        edits in prop::collection::vec((0usize..200, 0u8..3, 0x20u8..0x7F), 1..4),
        fix_length in any::<bool>(),
    ) {
        let v = common::ALL[which];
        let mut s: Vec<u8> = v.block.as_bytes().to_vec();
        for (pos, op, c) in edits {
            let pos = pos % (s.len() + 1);
            match op {
                0 if pos < s.len() => s[pos] = c,
                1 => s.insert(pos, c),
                _ if pos < s.len() => { s.remove(pos); }
                _ => s.push(c),
            }
        }
        if fix_length && s.len() >= 5 && s.len() <= 9999 {
            let len = format!("{:04}", s.len());
            s.splice(1..5, len.bytes());
        }
        let s = String::from_utf8(s).unwrap();
        if s == v.block {
            return Ok(());
        }
        let err = unwrap(&v.kbpk(), &s).unwrap_err();
        prop_assert_eq!(err.to_string(), KeyBlockError::TEXT);
    }
}
