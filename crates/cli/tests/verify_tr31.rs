//! End-to-end tests of `pvv`, `ibm3624-offset`, `ibm3624-pin` and `tr31`:
//! published vectors, the one-line output contract and the error contract
//! (non-zero exit, empty stdout, exactly one stderr line, no PIN, PAN, key
//! or block quoted).

mod common;

use common::*;

/// psec 1.3.0 tests/test_pin.py: the PVK, PAN, table and validation data.
const PVK: &str = "0123456789ABCDEFFEDCBA9876543210";
const PAN: &str = "1122334455667788";
const TABLE: &str = "1234567890123456";

/// ANSI TR-31:2018 annex A.7.2.2 (version B): KBPK, key, block.
const B_KBPK: &str = "DD7515F2BFC17F85CE48F3CA25CB21F6";
const KEY: &str = "3F419E1CB7079442AA37474C2EFBF8B8";
const B_BLOCK: &str =
    "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E";
/// ANSI TR-31:2018 annex A.7.4 (version D), the same key.
const D_KBPK: &str = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6";
const D_BLOCK: &str = "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34";
/// ANSI TR-31:2018 annex A.7.2.1 (version A).
const A_KBPK: &str = "89E88CF7931444F334BD7547FC3F380C";
const A_KEY: &str = "F039121BEC83D26B169BDCD5B22AAF8F";
const A_BLOCK: &str = "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701";

const REFUSED: &str = "pinblock: error: the key block could not be unwrapped: wrong KBPK, or not a valid TR-31 key block";

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn ibm(command: &str, rest: &[&str]) -> Vec<String> {
    let mut args = owned(&[
        command,
        "--pvk",
        PVK,
        "--decimalization-table",
        TABLE,
        "--validation-data",
        PAN,
    ]);
    args.extend(owned(rest));
    args
}

fn wrap<'a>(kbpk: &'a str, header: &'a str, key: &'a str) -> [&'a str; 8] {
    [
        "tr31", "wrap", "--kbpk", kbpk, "--header", header, "--key", key,
    ]
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn pvv_psec_vectors() {
    // psec tests/test_pin.py
    for (pvki, pin, want) in [("1", "4524", "8523"), ("2", "1912", "3244")] {
        let args = [
            "pvv", "--pvk", PVK, "--pvki", pvki, "--pin", pin, "--pan", PAN,
        ];
        assert_eq!(ok(&args), want);
    }
    let args = [
        "pvv", "--pvk", PVK, "--pvki", "1", "--pin", "-", "--pan", PAN,
    ];
    assert_eq!(ok_with_stdin(&args, b"4524\n"), "8523");
}

#[test]
fn ibm3624_psec_vectors() {
    // psec tests/test_pin.py
    assert_eq!(
        ok(&refs(&ibm("ibm3624-offset", &["--pin", "4524"]))),
        "0000"
    );
    assert_eq!(
        ok(&refs(&ibm(
            "ibm3624-offset",
            &["--pad", "F", "--pin", "1234"]
        ))),
        "7710"
    );
    assert_eq!(ok(&refs(&ibm("ibm3624-pin", &["--length", "4"]))), "4524");
    assert_eq!(
        ok(&refs(&ibm("ibm3624-pin", &["--offset", "7710"]))),
        "1234"
    );
}

#[test]
fn tr31_vectors_and_round_trips() {
    for (kbpk, key, block) in [
        (A_KBPK, A_KEY, A_BLOCK),
        (B_KBPK, KEY, B_BLOCK),
        (D_KBPK, KEY, D_BLOCK),
    ] {
        let got = ok(&["tr31", "unwrap", "--kbpk", kbpk, "--block", block]);
        assert_eq!(got, key);
    }
    for (kbpk, header) in [
        (B_KBPK, "B0000P0TE00E0000"),
        (D_KBPK, "D0000P0TE00N0100KS1800604B120F9292800000"),
    ] {
        let block = ok(&wrap(kbpk, header, KEY));
        assert_eq!(&block[5..12], &header[5..12]);
        let got = ok(&["tr31", "unwrap", "--kbpk", kbpk, "--block", &block]);
        assert_eq!(got, KEY);
    }
}

#[test]
fn tr31_refusals_are_one_line_and_quote_nothing() {
    // Tampered anywhere, wrong KBPK, wrong family: the same line.
    let mut blocks: Vec<(String, &str)> = Vec::new();
    for i in [0, 3, 6, 12, 20, 40, 70, 79] {
        let mut b = B_BLOCK.as_bytes().to_vec();
        b[i] = if b[i] == b'9' { b'8' } else { b'9' };
        blocks.push((String::from_utf8(b).unwrap_or_default(), B_KBPK));
    }
    blocks.push((B_BLOCK.to_owned(), "00112233445566778899AABBCCDDEEFF"));
    blocks.push((D_BLOCK.to_owned(), B_KBPK));
    blocks.push((B_BLOCK.to_owned(), D_KBPK));
    for (block, kbpk) in &blocks {
        let args = ["tr31", "unwrap", "--kbpk", kbpk, "--block", block];
        let err = fails(&args, DATA, &[kbpk, KEY, block, &B_BLOCK[16..]]);
        assert_eq!(err, REFUSED, "{block}");
    }
    // Wrap refuses the deprecated versions (exit 2) and names fields, not values.
    let err = fails(
        &wrap(A_KBPK, "A0000P0TE00E0000", A_KEY),
        USAGE,
        &[A_KBPK, A_KEY],
    );
    assert!(err.contains("deprecated and unwrap-only"), "{err}");
    for (kbpk, header, key) in [
        (B_KBPK, "B0000P0TG00E0000", KEY),
        (D_KBPK, "B0000P0TE00E0000", KEY),
        (B_KBPK, "B0000P0TE00E0000", D_KBPK),
        (B_KBPK, "B0000P0TE00E0000", "3F4"),
    ] {
        let args = wrap(kbpk, header, key);
        fails(&args, DATA, &[B_KBPK, D_KBPK, KEY, "3F4"]);
    }
    let single = "12345678123456781234567812345678";
    fails(
        &["tr31", "unwrap", "--kbpk", single, "--block", B_BLOCK],
        DATA,
        &[single, B_BLOCK],
    );
    fails(&["tr31"], USAGE, &[]);
    fails(&["tr31", "unwrap", "--kbpk", B_KBPK], USAGE, &[B_KBPK]);
}

#[test]
fn verification_refusals_are_one_line_and_quote_nothing() {
    let single = "12345678123456781234567812345678";
    let cases: Vec<(Vec<String>, i32, Vec<&str>)> = vec![
        (
            owned(&[
                "pvv", "--pvk", single, "--pvki", "1", "--pin", "4524", "--pan", PAN,
            ]),
            DATA,
            vec![single, "4524", PAN],
        ),
        (
            owned(&[
                "pvv", "--pvk", PVK, "--pvki", "9", "--pin", "4524", "--pan", PAN,
            ]),
            DATA,
            vec![PVK, "4524", PAN],
        ),
        (
            owned(&[
                "pvv", "--pvk", PVK, "--pvki", "1", "--pin", "45245", "--pan", "1122",
            ]),
            DATA,
            vec![PVK, "45245", "1122"],
        ),
        (
            owned(&["pvv", "--pvk", PVK, "--pvki", "1", "--pin", "4524"]),
            USAGE,
            vec![PVK, "4524"],
        ),
        (
            ibm("ibm3624-offset", &["--pin", "45x4"]),
            DATA,
            vec![PVK, "45x4", PAN],
        ),
        (
            ibm("ibm3624-offset", &["--pad", "Z", "--pin", "4524"]),
            DATA,
            vec![PVK, "4524", PAN],
        ),
        (
            ibm("ibm3624-pin", &["--offset", "771"]),
            DATA,
            vec![PVK, "771", PAN],
        ),
        (
            ibm("ibm3624-pin", &["--offset", "7710", "--length", "5"]),
            USAGE,
            vec![PVK, "7710", PAN],
        ),
        (ibm("ibm3624-pin", &[]), USAGE, vec![PVK, PAN]),
    ];
    for (args, code, secrets) in &cases {
        fails(&refs(args), *code, secrets);
    }
}
