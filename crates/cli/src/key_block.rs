//! `tr31 wrap` and `tr31 unwrap`: TR-31 / ANSI X9.143 key blocks, made and
//! read by `pinset-tr31`. Each returns the one line to print.
//!
//! The KBPK's family follows the key block version: versions A, B and C
//! take a TDES KBPK, D an AES KBPK. The KBPK is also held to the rules the
//! other keys of this tool follow (not single DES in disguise, no DES weak
//! part, not all zero).
//!
//! `wrap` works on the operator's own header and key, so its refusals name
//! the field or rule at fault. `unwrap` reads a block from outside: once the
//! KBPK itself is acceptable, every refusal (wrong KBPK, altered header, key
//! data or MAC, bad length or syntax, a version whose family the KBPK does
//! not fit) is the one [`CliError::KeyBlock`], so the tool is no oracle.

use pinset_block::rand_core::CryptoRng;
use pinset_envelope::{AesKey, TdesKey};
use pinset_tr31::{Algorithm, Header, HeaderField, Kbpk, KbpkError, Reason, Version};
use zeroize::Zeroizing;

use crate::cli::{Tr31UnwrapArgs, Tr31WrapArgs};
use crate::codec::parse_hex;
use crate::error::CliError;

/// The flag of the KBPK.
const KBPK: &str = "--kbpk";

/// `pinblock tr31 wrap`: the key block.
///
/// The header is parsed first (versions A and C are refused: deprecated,
/// unwrap only), then the KBPK against the header's version, then the key
/// against the header's algorithm (`T`: 16 or 24 bytes, `A`: 16, 24 or 32;
/// other algorithms are not checked). The length field is filled in, and a
/// header whose optional blocks leave it unaligned gets a padding block.
pub fn wrap<R: CryptoRng + ?Sized>(args: &Tr31WrapArgs, rng: &mut R) -> Result<String, CliError> {
    let header = read_header(&args.header)?;
    let bytes = parse_hex(KBPK, &args.kbpk)?;
    let kbpk = read_kbpk(&bytes, header.version())?.ok_or(CliError::KbpkLength {
        expected: family_lengths(header.version()),
        found: bytes.len(),
    })?;
    let key = parse_hex("--key", &args.key)?;
    check_key_length(header.algorithm(), key.len())?;
    let block = pinset_tr31::wrap(&kbpk, &header, &key, rng).map_err(|e| {
        let reason = e.reason();
        let flag = match reason {
            Reason::Header(_) | Reason::Inconsistent(_) => "--header",
            _ => "--key",
        };
        CliError::Wrap { flag, reason }
    })?;
    Ok(block)
}

/// `pinblock tr31 unwrap`: the key, in uppercase hex.
pub fn unwrap(args: &Tr31UnwrapArgs) -> Result<String, CliError> {
    let bytes = parse_hex(KBPK, &args.kbpk)?;
    if ![16, 24, 32].contains(&bytes.len()) {
        return Err(CliError::KbpkLength {
            expected: "a KBPK is 16 or 24 bytes (TDES) or 16, 24 or 32 bytes (AES)",
            found: bytes.len(),
        });
    }
    let version = args
        .block
        .bytes()
        .next()
        .and_then(Version::from_byte)
        .ok_or(CliError::KeyBlock)?;
    // A KBPK that no key of this family can be: the block and the key disagree.
    let kbpk = read_kbpk(&bytes, version)?.ok_or(CliError::KeyBlock)?;
    let (_header, key) = pinset_tr31::unwrap(&kbpk, &args.block).map_err(|_| CliError::KeyBlock)?;
    Ok(hex::encode_upper(&*key))
}

/// The KBPK for `version`: `Ok(None)` when its length does not fit the
/// version's family; an error when it breaks a key rule.
fn read_kbpk(bytes: &Zeroizing<Vec<u8>>, version: Version) -> Result<Option<Kbpk>, CliError> {
    let tdes = version != Version::D;
    let fits = if tdes {
        [16, 24].contains(&bytes.len())
    } else {
        [16, 24, 32].contains(&bytes.len())
    };
    if !fits {
        return Ok(None);
    }
    // The rules of the tool's other keys (single DES, weak parts, all zero).
    let strength = if tdes {
        TdesKey::new(bytes).map(drop)
    } else {
        AesKey::new(bytes).map(drop)
    };
    strength.map_err(|source| CliError::Key { flag: KBPK, source })?;
    let kbpk = if tdes {
        Kbpk::tdes(bytes)
    } else {
        Kbpk::aes(bytes)
    };
    match kbpk {
        Ok(kbpk) => Ok(Some(kbpk)),
        Err(KbpkError::Length) => Ok(None),
        Err(e) => Err(CliError::Kbpk(e)),
    }
}

/// The KBPK lengths a version takes, for messages.
fn family_lengths(version: Version) -> &'static str {
    match version {
        Version::D => "version D takes an AES KBPK of 16, 24 or 32 bytes",
        _ => "version B takes a TDES KBPK of 16 or 24 bytes",
    }
}

/// Parses `--header`: a bare header (or a whole key block, whose key data
/// is ignored). The length field is ignored. Optional blocks need no
/// padding block: one is added when they leave the header unaligned.
fn read_header(text: &str) -> Result<Header, CliError> {
    let refused = |reason| CliError::Wrap {
        flag: "--header",
        reason,
    };
    if let Some(v @ (b'A' | b'C')) = text.bytes().next() {
        return Err(CliError::WrapVersion(char::from(v)));
    }
    let header = match Header::parse(text) {
        Ok(header) => header,
        Err(e) if e.reason() == Reason::Header(HeaderField::Alignment) => {
            with_padding_block(text).ok_or(refused(e.reason()))?
        }
        Err(e) => return Err(refused(e.reason())),
    };
    header
        .check_consistency()
        .map_err(|e| refused(e.reason()))?;
    Ok(header)
}

/// `text`, a bare header whose optional blocks end unaligned, with a
/// padding block (`PB`) appended and counted, parsed; `None` if that does
/// not give a header that is exactly the padded text.
fn with_padding_block(text: &str) -> Option<Header> {
    let block_size = Version::from_byte(*text.as_bytes().first()?)?.block_size();
    let count: u8 = text.get(12..14)?.parse().ok()?;
    let count = count.checked_add(1).filter(|&c| c <= 99)?;
    // Never an empty padding block: some parsers refuse them.
    let pad = block_size - (text.len() + 4) % block_size;
    let padded = format!(
        "{}{count:02}{}PB{:02X}{}",
        text.get(..12)?,
        text.get(14..)?,
        4 + pad,
        "0".repeat(pad)
    );
    Header::parse(&padded)
        .ok()
        .filter(|h| h.encoded_len() == padded.len())
}

/// Refuses a key whose length its header's algorithm does not take: TDES
/// (`T`) 16 or 24 bytes, AES (`A`) 16, 24 or 32. Other algorithms are only
/// refused empty, by the wrap itself.
fn check_key_length(algorithm: Algorithm, len: usize) -> Result<(), CliError> {
    let (name, expected, ok) = match algorithm {
        Algorithm::TDES => ("TDES", "16 or 24", [16, 24].contains(&len)),
        Algorithm::AES => ("AES", "16, 24 or 32", [16, 24, 32].contains(&len)),
        _ => return Ok(()),
    };
    if ok {
        Ok(())
    } else {
        Err(CliError::Key {
            flag: "--key",
            source: pinset_envelope::Error::KeyLength {
                algorithm: name,
                expected,
                found: len,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EXIT_DATA, EXIT_USAGE, outcome};
    use chacha20::ChaCha20Rng;
    use pinset_block::rand_core::SeedableRng;

    // ANSI TR-31:2018 annex A.7.2.1 (version A), A.7.2.2 (version B) and
    // A.7.4 (version D): KBPK, key, key block.
    const A: (&str, &str, &str) = (
        "89E88CF7931444F334BD7547FC3F380C",
        "F039121BEC83D26B169BDCD5B22AAF8F",
        "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701",
    );
    const B: (&str, &str, &str) = (
        "DD7515F2BFC17F85CE48F3CA25CB21F6",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E",
    );
    const D: (&str, &str, &str) = (
        "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6",
        "3F419E1CB7079442AA37474C2EFBF8B8",
        "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34",
    );

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(31)
    }

    fn un(kbpk: &str, block: &str) -> Result<String, CliError> {
        unwrap(&Tr31UnwrapArgs {
            kbpk: kbpk.into(),
            block: block.into(),
        })
    }

    fn wr(kbpk: &str, header: &str, key: &str) -> Result<String, CliError> {
        wrap(
            &Tr31WrapArgs {
                kbpk: kbpk.into(),
                header: header.into(),
                key: key.into(),
            },
            &mut rng(),
        )
    }

    const REFUSED: &str =
        "the key block could not be unwrapped: wrong KBPK, or not a valid TR-31 key block";

    #[test]
    fn unwraps_the_published_vectors() {
        for (kbpk, key, block) in [A, B, D] {
            assert_eq!(un(kbpk, block).ok().as_deref(), Some(key), "{block}");
            // The KBPK may be given in lower case.
            let lower = kbpk.to_lowercase();
            assert_eq!(un(&lower, block).ok().as_deref(), Some(key), "{block}");
        }
    }

    #[test]
    fn wraps_b_and_d_and_unwraps_them() {
        for (kbpk, key, header) in [
            (B.0, B.1, "B0000P0TE00E0000"),
            (D.0, D.1, "D0000P0AE00E0000"),
            // A TDES key in an AES block, and a 3-key TDES KBPK.
            (D.0, B.1, "D0000K0TB00N0000"),
            (
                "0123456789ABCDEFFEDCBA987654321089ABCDEF01234567",
                D.0,
                "B0000D0AD12S0000",
            ),
        ] {
            let block = wr(kbpk, header, key).unwrap_or_default();
            assert_eq!(&block[..1], &header[..1]);
            assert_eq!(&block[5..16], &header[5..16]);
            assert_eq!(block[1..5].parse::<usize>().ok(), Some(block.len()));
            assert_eq!(un(kbpk, &block).ok().as_deref(), Some(key), "{block}");
        }
    }

    #[test]
    fn optional_blocks_need_no_padding_block() {
        // A KS block of 24 characters: 16 + 24 is unaligned for D (a
        // padding block is added), aligned for B (none is).
        for (kbpk, header, blocks) in [
            (D.0, "D0000P0TE00E0100KS1800604B120F9292800000", 2),
            (B.0, "B0000P0TE00E0100KS1800604B120F9292800000", 1),
            (D.0, "D0000P0TE00E0200KS1800604B120F9292800000PB080000", 2),
            (B.0, "B0000P0TE00E0100KS0A0604B1", 2),
        ] {
            let block = wr(kbpk, header, B.1).unwrap_or_default();
            let read = Header::parse(&block).ok();
            let ks = read.as_ref().and_then(|h| h.optional_block("KS"));
            assert!(
                ks.is_some_and(
                    |b| b.data().starts_with("0604B1") || b.data().starts_with("00604B1")
                ),
                "{block}"
            );
            assert_eq!(
                read.map(|h| h.optional_blocks().len()),
                Some(blocks),
                "{block}"
            );
            assert_eq!(un(kbpk, &block).ok().as_deref(), Some(B.1));
        }
    }

    #[test]
    fn a_and_c_are_unwrap_only() {
        for header in ["A0000P0TE00E0000", "C0000P0TE00E0000"] {
            let (code, m) = outcome(wr(A.0, header, A.1));
            assert_eq!(code, EXIT_USAGE);
            assert_eq!(
                m,
                format!(
                    "--header: TR-31 version {} is deprecated and unwrap-only: wrap with version B (TDES KBPK) or D (AES KBPK)",
                    &header[..1]
                )
            );
        }
    }

    #[test]
    fn every_bad_block_is_one_message() {
        let mut cases: Vec<(&str, String)> = Vec::new();
        for (kbpk, _, block) in [A, B, D] {
            // Every single character altered: header, key data, MAC.
            for i in 0..block.len() {
                let mut b = block.as_bytes().to_vec();
                b[i] = if b[i] == b'0' { b'1' } else { b'0' };
                cases.push((kbpk, String::from_utf8(b).unwrap_or_default()));
            }
            cases.push((kbpk, block[..block.len() - 2].to_owned()));
            cases.push((kbpk, format!("{block}00")));
            cases.push((kbpk, block.to_lowercase()));
            cases.push((kbpk, String::new()));
        }
        // Wrong KBPK of the right family; the wrong family.
        cases.push((A.0, B.2.to_owned()));
        cases.push(("00112233445566778899AABBCCDDEEFF", D.2.to_owned()));
        cases.push((D.0, B.2.to_owned()));
        cases.push((D.0, A.2.to_owned()));
        for (kbpk, block) in &cases {
            let (code, m) = outcome(un(kbpk, block));
            assert_eq!((code, m.as_str()), (EXIT_DATA, REFUSED), "{block}");
        }
    }

    #[test]
    fn refusals_name_flags_not_values() {
        // Every one is bad data (exit 1).
        let cases: Vec<(Result<String, CliError>, &str)> = vec![
            (
                un(&B.0[2..], B.2),
                "--kbpk: a KBPK is 16 or 24 bytes (TDES) or 16, 24 or 32 bytes (AES), got 15 bytes",
            ),
            (
                un("DD7515F2BFC17F85CE48F3CA25CB21FX", B.2),
                "--kbpk is not valid hex: only the digits 0-9 and A-F (either case) are allowed",
            ),
            (
                un("12345678123456781234567812345678", B.2),
                "--kbpk: TDES key refused: two key parts are equal, so it is single DES",
            ),
            (
                wr(D.0, "B0000P0TE00E0000", B.1),
                "--kbpk: version B takes a TDES KBPK of 16 or 24 bytes, got 32 bytes",
            ),
            (
                wr(B.0, "B0000P0TE00E0000", D.0),
                "--key: TDES key must be 16 or 24 bytes, got 32",
            ),
            (
                wr(D.0, "D0000P0AE00E0000", &B.1[2..]),
                "--key: AES key must be 16, 24 or 32 bytes, got 15",
            ),
            (
                wr(B.0, "B0000P0TE00E0000", "3F419E1CB7079442AA37474C2EFBF8B"),
                "--key is not valid hex: odd number of digits",
            ),
            (
                wr(B.0, "B0000P0TG00E0000", B.1),
                "--header: inconsistent header: mode of use not allowed for the key usage",
            ),
            (
                wr(B.0, "B0000p0TE00E0000", B.1),
                "--header: malformed header field: key usage",
            ),
            (
                wr(B.0, "E0000P0TE00E0000", B.1),
                "--header: malformed header field: version id",
            ),
            (
                wr(B.0, "B0000P0HE00E0000", ""),
                "--key: key length is invalid",
            ),
        ];
        for (got, want) in cases {
            let (got_code, got) = outcome(got);
            assert_eq!((got_code, got.as_str()), (EXIT_DATA, want));
            for secret in [B.0, B.1, D.0, &B.2[16..], "3F419E1C", "DD7515F2"] {
                assert!(!got.to_uppercase().contains(secret), "{got}");
            }
        }
    }
}
