//! End-to-end tests of the `pinblock` binary: published vectors, the
//! one-line output contract and the error contract (non-zero exit, empty
//! stdout, exactly one stderr line, no PIN, PAN or key quoted).
//!
//! Every vector names its source; all are collected, recomputed
//! independently, in `shared/vectors/iso9564.json`.

mod common;

use common::*;

/// jPOS JCESecurityModuleTest's ZPK. K1 = K2, so it is single DES: refused.
const JPOS_SINGLE_DES_ZPK: &str = "12345678123456781234567812345678";
/// The published KCV test key (KCV 08D7B4, shared/vectors/iso9564.json "kcv").
const ZPK: &str = "0123456789ABCDEFFEDCBA9876543210";
/// jPOS JCESecurityModuleTest: PAN of its format 0 vector.
const JPOS_PAN: &str = "1234567890123456";
/// jPOS JCESecurityModuleTest's format 0 clear block of PIN 1234
/// (0412719876FEDCBA) under ZPK, enciphered independently by OpenSSL 3.0.19
/// (`openssl enc -des-ede-ecb -nopad`).
const ISO0: &str = "E5639CBC7EC0B4CA";
/// The same for jPOS's format 1 clear block 14123444B4B2B43F.
const ISO1: &str = "0338CA145342C977";

#[test]
fn format0_clear_moov() {
    // moov-io/pinblock formats/iso0_test.go
    let block = ok(&[
        "encode",
        "--format",
        "iso0",
        "--pin",
        "1234",
        "--pan",
        "5432101234567891",
    ]);
    assert_eq!(block, "041215FEDCBA9876");
    let args = [
        "decode",
        "--format",
        "iso0",
        "--block",
        "041215FEDCBA9876",
        "--pan",
        "5432101234567891",
    ];
    assert_eq!(ok(&args), "1234");
    let args = [
        "decode",
        "--format",
        "iso0",
        "--block",
        "041215fedcba9876",
        "--pan",
        "5432101234567891",
    ];
    assert_eq!(ok(&args), "1234");
}

#[test]
fn format0_tdes_jpos() {
    // jPOS JCESecurityModuleTest
    let enc = [
        "encode",
        "--format",
        "iso0",
        "--pin",
        "1234",
        "--pan",
        JPOS_PAN,
        "--tdes-key",
        ZPK,
    ];
    assert_eq!(ok(&enc), ISO0);
    let mut b64 = enc.to_vec();
    b64.extend(["--encoding", "base64"]);
    assert_eq!(ok(&b64), "5WOcvH7AtMo=");

    let dec = [
        "decode",
        "--format",
        "iso0",
        "--block",
        ISO0,
        "--pan",
        JPOS_PAN,
        "--tdes-key",
        ZPK,
    ];
    assert_eq!(ok(&dec), "1234");
    let lower_block = ISO0.to_lowercase();
    let lower_key = ZPK.to_lowercase();
    let lower = [
        "decode",
        "--format",
        "iso0",
        "--block",
        &lower_block,
        "--pan",
        JPOS_PAN,
        "--tdes-key",
        &lower_key,
    ];
    assert_eq!(ok(&lower), "1234");
    let base64 = [
        "decode",
        "--format",
        "iso0",
        "--block",
        "5WOcvH7AtMo=",
        "--pan",
        JPOS_PAN,
        "--tdes-key",
        ZPK,
        "--encoding",
        "base64",
    ];
    assert_eq!(ok(&base64), "1234");
}

#[test]
fn format1_tdes_jpos() {
    // jPOS JCESecurityModuleTest: clear 14123444B4B2B43F (enciphered under ZPK by OpenSSL)
    let args = [
        "decode",
        "--format",
        "iso1",
        "--block",
        ISO1,
        "--tdes-key",
        ZPK,
    ];
    assert_eq!(ok(&args), "1234");
    assert_eq!(
        ok(&["decode", "--format", "iso1", "--block", "14123444B4B2B43F"]),
        "1234"
    );
}

#[test]
fn format4_aes_psec() {
    // psec tests (ep2 specification example)
    let args = [
        "decode",
        "--format",
        "iso4",
        "--block",
        "CC17F65586BFD0953010226C4FC5B3CA",
        "--pan",
        "432198765432109870",
        "--aes-key",
        "C1D0F8FB4958670DBA40AB1F3752EF0D",
    ];
    assert_eq!(ok(&args), "1234");
    // psec tests/test_pinblock.py
    let args = [
        "decode",
        "--format",
        "iso4",
        "--block",
        "28B41FDDD29B743E93124BD8E32D921E",
        "--pan",
        "1234567890123456789",
        "--aes-key",
        "00112233445566778899AABBCCDDEEFF",
    ];
    assert_eq!(ok(&args), "1234");
}

#[test]
fn format4_round_trip_and_fresh_fill() {
    // Mastercard Processing sandbox card 70001 (PIN and PAN), with the psec AES key.
    let key = "00112233445566778899AABBCCDDEEFF";
    let enc = [
        "encode",
        "--format",
        "iso4",
        "--pin",
        "7580",
        "--pan",
        "5141576351968605",
        "--aes-key",
        key,
    ];
    let first = ok(&enc);
    let second = ok(&enc);
    assert_eq!(first.len(), 32);
    assert!(
        first
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "{first}"
    );
    assert_ne!(first, second, "random fill must differ between runs");
    for block in [&first, &second] {
        let dec = [
            "decode",
            "--format",
            "iso4",
            "--block",
            block,
            "--pan",
            "5141576351968605",
            "--aes-key",
            key,
        ];
        assert_eq!(ok(&dec), "7580");
    }
}

#[test]
fn kcvs() {
    // ANSI X9.24-1:2017 (TDES: first 3 bytes of TDES-ECB(K, 00*8); AES: of AES-CMAC(K, 00*16)).
    assert_eq!(
        ok(&["kcv", "--tdes-key", "0123456789ABCDEFFEDCBA9876543210"]),
        "08D7B4"
    );
    assert_eq!(
        ok(&["kcv", "--tdes-key", "E6F1081FEA4C402CC192B65DE367EC3E"]),
        "212CF9"
    );
    assert_eq!(
        ok(&["kcv", "--aes-key", "00112233445566778899AABBCCDDEEFF"]),
        "53E107"
    );
    assert_eq!(
        ok(&["kcv", "--aes-key", "00112233445566778899aabbccddeeff"]),
        "53E107"
    );
    // Mastercard Processing sandbox ZPK (3-key TDES).
    assert_eq!(
        ok(&[
            "kcv",
            "--tdes-key",
            "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861"
        ]),
        "F3BF3A"
    );
    // shared/vectors/iso9564.json "kcv"
    assert_eq!(ok(&["kcv", "--tdes-key", ZPK]), "08D7B4");
}

#[test]
fn pin_from_stdin() {
    // moov-io/pinblock formats/iso0_test.go
    let args = [
        "encode",
        "--format",
        "iso0",
        "--pin",
        "-",
        "--pan",
        "5432101234567891",
    ];
    for input in [&b"1234\n"[..], b"1234\r\n", b"1234"] {
        assert_eq!(ok_with_stdin(&args, input), "041215FEDCBA9876", "{input:?}");
    }
    // Only one newline is dropped, and nothing else is trimmed.
    for input in [
        &b"1234\n\n"[..],
        b" 1234\n",
        b"1234 \n",
        b"1234\r",
        b"",
        b"\n",
    ] {
        fails_with_stdin(&args, input, DATA, &["5432101234567891"]);
    }
    let msg = fails_with_stdin(&args, b"98765x\n", DATA, &["98765", "5432101234567891"]);
    assert_eq!(msg, "pinblock: error: PIN must hold only the digits 0-9");
}

#[test]
fn translate_iso1_tdes_to_iso0_then_decode() {
    // ISO1 is jPOS's format 1 block of 1234 under ZPK (see the constant).
    // The outgoing key is the second published KCV test key; the PAN is Mastercard sandbox card 70001.
    let zpk = "E6F1081FEA4C402CC192B65DE367EC3E";
    let pan = "5141576351968605";
    let args = [
        "translate",
        "--from",
        "iso1",
        "--to",
        "iso0",
        "--block",
        ISO1,
        "--pan",
        pan,
        "--from-tdes-key",
        ZPK,
        "--to-tdes-key",
        zpk,
    ];
    let block = ok(&args);
    assert_eq!(block.len(), 16);
    // Format 0 is deterministic: the same as encoding 1234 directly.
    let direct = ok(&[
        "encode",
        "--format",
        "iso0",
        "--pin",
        "1234",
        "--pan",
        pan,
        "--tdes-key",
        zpk,
    ]);
    assert_eq!(block, direct);
    let dec = [
        "decode",
        "--format",
        "iso0",
        "--block",
        &block,
        "--pan",
        pan,
        "--tdes-key",
        zpk,
    ];
    assert_eq!(ok(&dec), "1234");

    // The same in base64 both ways: ISO1 is AzjKFFNCyXc=.
    let args = [
        "translate",
        "--from",
        "iso1",
        "--to",
        "iso0",
        "--block",
        "AzjKFFNCyXc=",
        "--pan",
        pan,
        "--from-tdes-key",
        ZPK,
        "--to-tdes-key",
        zpk,
        "--encoding",
        "base64",
    ];
    let b64 = ok(&args);
    assert_eq!(b64.len(), 12);
    let dec = [
        "decode",
        "--format",
        "iso0",
        "--block",
        &b64,
        "--pan",
        pan,
        "--tdes-key",
        zpk,
        "--encoding",
        "base64",
    ];
    assert_eq!(ok(&dec), "1234");
}

#[test]
fn translate_jpos_format1_to_jpos_format0() {
    // jPOS JCESecurityModuleTest's format 1 and format 0 clear blocks both hold
    // PIN 1234; under the same ZPK format 0 is deterministic, so translating
    // one gives the other.
    let args = [
        "translate",
        "--from",
        "iso1",
        "--to",
        "iso0",
        "--block",
        ISO1,
        "--pan",
        JPOS_PAN,
        "--from-tdes-key",
        ZPK,
        "--to-tdes-key",
        ZPK,
    ];
    assert_eq!(ok(&args), ISO0);
}

#[test]
fn translate_clear_to_clear() {
    // jPOS JCESecurityModuleTest clear format 1 block -> moov-io/pinblock format 0 vector.
    let args = [
        "translate",
        "--from",
        "iso1",
        "--to",
        "iso0",
        "--block",
        "14123444B4B2B43F",
        "--pan",
        "5432101234567891",
    ];
    assert_eq!(ok(&args), "041215FEDCBA9876");
}

#[test]
fn translate_to_iso1_is_refused() {
    let pan = "5141576351968605";
    let aes = "00112233445566778899AABBCCDDEEFF";
    for (from, from_flag, from_key) in [
        ("iso0", "--from-tdes-key", ZPK),
        ("iso3", "--from-tdes-key", ZPK),
        ("iso4", "--from-aes-key", aes),
    ] {
        let args = [
            "translate",
            "--from",
            from,
            "--to",
            "iso1",
            "--block",
            ISO0,
            "--pan",
            pan,
            from_flag,
            from_key,
            "--to-tdes-key",
            ZPK,
        ];
        let msg = fails(&args, USAGE, &[pan, from_key, ZPK]);
        assert!(
            msg.contains(&format!("translation from {from} to iso1 is not allowed")),
            "{msg}"
        );
    }
}

#[test]
fn tampered_block_reads_like_a_wrong_key() {
    let dec = |block: &str, key: &str| {
        let args = [
            "decode",
            "--format",
            "iso0",
            "--block",
            block,
            "--pan",
            JPOS_PAN,
            "--tdes-key",
            key,
        ];
        fails(&args, DATA, &["1234", JPOS_PAN, key])
    };
    // ISO0 with its last byte flipped, under the right key...
    let tampered = dec("E5639CBC7EC0B46D", ZPK);
    // ...and the untouched block under another key (the second published KCV test key).
    let wrong_key = dec(ISO0, "E6F1081FEA4C402CC192B65DE367EC3E");
    assert_eq!(tampered, UNDECRYPTABLE);
    assert_eq!(wrong_key, UNDECRYPTABLE);
    // Wrong length and wrong format give the same line.
    assert_eq!(dec("E5639CBC7EC0B4", ZPK), UNDECRYPTABLE);
    let iso3 = [
        "decode",
        "--format",
        "iso3",
        "--block",
        ISO0,
        "--pan",
        JPOS_PAN,
        "--tdes-key",
        ZPK,
    ];
    assert_eq!(fails(&iso3, DATA, &[JPOS_PAN, ZPK]), UNDECRYPTABLE);
    // A clear block with a broken control field (psec tests/test_pinblock.py).
    let clear = [
        "decode",
        "--format",
        "iso0",
        "--block",
        "241261AAAAEDCBA9",
        "--pan",
        "5555555551234567",
    ];
    assert_eq!(fails(&clear, DATA, &["5555555551234567"]), UNDECRYPTABLE);
}

#[test]
fn degenerate_keys_are_refused_by_rule_without_echo() {
    // PCI PIN forbids single DES; NIST SP 800-67 Rev. 2 3.3.2 lists the weak
    // and semi-weak DES keys. Each refusal: exit 1, one stderr line, no key.
    let cases = [
        (
            JPOS_SINGLE_DES_ZPK,
            "tdes",
            "TDES key refused: two key parts are equal, so it is single DES",
        ),
        (
            "0123456789ABCDEF0123456789ABCDEFFEDCBA9876543210",
            "tdes",
            "TDES key refused: two key parts are equal, so it is single DES",
        ),
        (
            "FEDCBA98765432100123456789ABCDEF0123456789ABCDEF",
            "tdes",
            "TDES key refused: two key parts are equal, so it is single DES",
        ),
        (
            "0101010101010101FEDCBA9876543210",
            "tdes",
            "TDES key refused: a key part is a DES weak key",
        ),
        (
            "0123456789ABCDEF01FE01FE01FE01FE",
            "tdes",
            "TDES key refused: a key part is a DES semi-weak key",
        ),
        (
            "00000000000000000000000000000000",
            "aes",
            "AES key refused: every key byte is zero",
        ),
    ];
    for (key, algorithm, message) in cases {
        let flag = format!("--{algorithm}-key");
        let kcv = ["kcv", flag.as_str(), key];
        let expected = format!("pinblock: error: {flag}: {message}");
        assert_eq!(fails(&kcv, DATA, &[key]), expected);
        let format = if algorithm == "aes" { "iso4" } else { "iso0" };
        let encode = [
            "encode",
            "--format",
            format,
            "--pin",
            "1234",
            "--pan",
            JPOS_PAN,
            flag.as_str(),
            key,
        ];
        assert_eq!(fails(&encode, DATA, &[key, "1234", JPOS_PAN]), expected);
    }
}

#[test]
fn bad_inputs_follow_the_error_contract() {
    let pan = "5141576351968605";
    let key = ZPK;
    let misspelt = format!("--tdes-kee={key}");
    let cases: Vec<(Vec<&str>, i32, Vec<&str>)> = vec![
        // PIN
        (
            vec!["encode", "--format", "iso0", "--pin", "987", "--pan", pan],
            DATA,
            vec!["987", pan],
        ),
        (
            vec!["encode", "--format", "iso0", "--pin", "98x7", "--pan", pan],
            DATA,
            vec!["98x7", pan],
        ),
        (
            vec!["encode", "--format", "iso2", "--pin", "9876543210987"],
            DATA,
            vec!["9876543210987"],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso2",
                "--pin",
                "\u{ff19}\u{ff18}\u{ff17}\u{ff16}",
            ],
            DATA,
            vec!["\u{ff19}"],
        ),
        (
            vec!["encode", "--format", "iso2", "--pin", ""],
            DATA,
            vec![],
        ),
        // PAN
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pan",
                "51415763519686051234",
            ],
            DATA,
            vec!["9876", pan],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pan",
                "51415763519",
            ],
            DATA,
            vec!["9876", "51415763519"],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pan",
                "514157635196860A",
            ],
            DATA,
            vec!["9876", "514157635196860A"],
        ),
        (
            vec!["encode", "--format", "iso0", "--pin", "9876"],
            USAGE,
            vec!["9876"],
        ),
        (
            vec!["decode", "--format", "iso3", "--block", "041215FEDCBA9876"],
            USAGE,
            vec![],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso4",
                "--pin",
                "9876",
                "--aes-key",
                "00112233445566778899AABBCCDDEEFF",
            ],
            USAGE,
            vec!["9876", "00112233445566778899AABBCCDDEEFF"],
        ),
        // Hex and base64
        (
            vec![
                "decode",
                "--format",
                "iso0",
                "--block",
                "041215FEDCBA987G",
                "--pan",
                pan,
            ],
            DATA,
            vec![pan],
        ),
        (
            vec![
                "decode",
                "--format",
                "iso0",
                "--block",
                "041215FEDCBA987",
                "--pan",
                pan,
            ],
            DATA,
            vec![pan],
        ),
        (
            vec![
                "decode",
                "--format",
                "iso0",
                "--block",
                "041215FE DCBA9876",
                "--pan",
                pan,
            ],
            DATA,
            vec![pan],
        ),
        (
            vec![
                "decode",
                "--format",
                "iso0",
                "--block",
                "!!notbase64!",
                "--pan",
                pan,
                "--encoding",
                "base64",
            ],
            DATA,
            vec![pan],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pan",
                pan,
                "--tdes-key",
                "Z2345678123456781234567812345678",
            ],
            DATA,
            vec!["9876", pan, "Z2345678123456781234567812345678"],
        ),
        (
            vec!["kcv", "--tdes-key", "1234567812345678123456781234567"],
            DATA,
            vec!["1234567812345678123456781234567"],
        ),
        // Key lengths: 15 bytes TDES, 15 bytes AES.
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pan",
                pan,
                "--tdes-key",
                &key[2..],
            ],
            DATA,
            vec!["9876", pan, &key[2..]],
        ),
        (vec!["kcv", "--tdes-key", &key[2..]], DATA, vec![&key[2..]]),
        (vec!["kcv", "--aes-key", &key[2..]], DATA, vec![&key[2..]]),
        // Key kind against format, and both keys.
        (
            vec!["encode", "--format", "iso4", "--pin", "9876", "--pan", pan],
            USAGE,
            vec!["9876", pan],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso4",
                "--pin",
                "9876",
                "--pan",
                pan,
                "--tdes-key",
                key,
            ],
            USAGE,
            vec!["9876", pan, key],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pan",
                pan,
                "--aes-key",
                key,
            ],
            USAGE,
            vec!["9876", pan, key],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pan",
                pan,
                "--tdes-key",
                key,
                "--aes-key",
                key,
            ],
            USAGE,
            vec!["9876", pan, key],
        ),
        (
            vec![
                "translate",
                "--from",
                "iso0",
                "--to",
                "iso4",
                "--block",
                ISO0,
                "--pan",
                pan,
                "--from-tdes-key",
                key,
                "--to-tdes-key",
                key,
            ],
            USAGE,
            vec![pan, key],
        ),
        (
            vec![
                "translate",
                "--from",
                "iso1",
                "--to",
                "iso0",
                "--block",
                ISO0,
                "--pan",
                pan,
                "--from-tdes-key",
                key,
            ],
            USAGE,
            vec![pan, key],
        ),
        // Formats, encodings, flags, subcommands.
        (
            vec!["encode", "--format", "iso5", "--pin", "9876", "--pan", pan],
            USAGE,
            vec!["9876", pan],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pan",
                pan,
                "--encoding",
                "base32",
            ],
            USAGE,
            vec!["9876", pan],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pan",
                pan,
                "--frobnicate",
            ],
            USAGE,
            vec!["9876", pan],
        ),
        (
            vec!["encode", "--format", "iso0", "--pin", "9876", pan],
            USAGE,
            vec!["9876", pan],
        ),
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pan",
                pan,
                "--tdes-kee",
                key,
            ],
            USAGE,
            vec!["9876", pan, key],
        ),
        (
            vec![
                "encode", "--format", "iso0", "--pin", "9876", "--pan", pan, &misspelt,
            ],
            USAGE,
            vec!["9876", pan, key],
        ),
        (
            vec![
                "encode", "--format", "iso0", "--pin", "9876", "--pin", "5432", "--pan", pan,
            ],
            USAGE,
            vec!["9876", "5432", pan],
        ),
        (vec!["kcv"], USAGE, vec![]),
        (vec![], USAGE, vec![]),
        (vec!["decrypt"], USAGE, vec![]),
    ];
    for (args, code, secrets) in &cases {
        fails(args, *code, secrets);
    }
}

#[test]
fn specific_messages() {
    let pan = "5141576351968605";
    let cases = [
        (
            vec!["encode", "--format", "iso0", "--pin", "987", "--pan", pan],
            "PIN must have 4 to 12 digits",
        ),
        (
            vec!["encode", "--format", "iso0", "--pin", "9876"],
            "iso0 binds the PAN: --pan is required",
        ),
        (
            vec!["encode", "--format", "iso5", "--pin", "9876"],
            "invalid value for '--format <F>': unknown PIN block format: expected iso0, iso1, iso2, iso3 or iso4",
        ),
        (
            vec!["kcv", "--tdes-key", "345678123456781234567812345678"],
            "--tdes-key: TDES key must be 16 or 24 bytes, got 15",
        ),
        (
            vec!["kcv", "--aes-key", "0011"],
            "--aes-key: AES key must be 16, 24 or 32 bytes, got 2",
        ),
        (
            vec!["kcv", "--aes-key", "001"],
            "--aes-key is not valid hex: odd number of digits",
        ),
        (
            vec!["encode", "--format", "iso0", "--pin", "9876", "--quiet"],
            "unexpected argument '--quiet' (see 'pinblock --help')",
        ),
        (
            vec![
                "encode",
                "--format",
                "iso0",
                "--pin",
                "9876",
                "--pam",
                "5141576351968605",
            ],
            "unexpected argument '--pam'; did you mean '--pan'? (see 'pinblock --help')",
        ),
    ];
    for (args, want) in cases {
        let r = run(&args);
        assert_eq!(r.stderr, format!("pinblock: error: {want}\n"), "{args:?}");
    }
}

#[test]
fn help_and_version_go_to_stdout() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["encode", "--help"],
        &["help", "translate"],
    ] {
        let r = run(args);
        assert_eq!(r.code, Some(0), "{args:?}");
        assert!(!r.stdout.is_empty(), "{args:?}");
        assert_eq!(r.stderr, "", "{args:?}");
    }
    assert_eq!(
        ok(&["--version"]),
        format!("pinblock {}", env!("CARGO_PKG_VERSION"))
    );
}
