//! `--provider`: the same commands through the aws-lc and software security
//! modules, and the flags a PKCS#11 token needs. Tokens themselves are
//! exercised by `tests/softhsm/cli.sh` in `.ci/run`, against SoftHSM.
//!
//! Sources: OpenSSL 3.0.19 cryptograms of format 1 PIN 1234 under
//! `rsa2048.pem` (`crates/envelope/tests/data`, see its README); jPOS's clear
//! format 0 block under the published KCV key, enciphered by OpenSSL
//! (`E5639CBC7EC0B4CA`, as in `tests/cli.rs`).

mod common;

use common::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../envelope/tests/data");
const KEY: &str = "0123456789ABCDEFFEDCBA9876543210";
const ISO0: &str = "E5639CBC7EC0B4CA";
const PAN: &str = "1234567890123456";

fn cryptogram(file: &str) -> String {
    hex::encode_upper(std::fs::read(format!("{FIXTURES}/{file}")).unwrap())
}

#[test]
fn aws_lc_and_software_modules_read_openssl_cryptograms() {
    let private = format!("{FIXTURES}/rsa2048.pem");
    for provider in ["aws-lc", "software"] {
        for (padding, file) in [
            ("oaep-sha256", "iso1_pin1234_oaep_sha256.bin"),
            ("oaep-sha1", "iso1_pin1234_oaep_sha1.bin"),
            ("pkcs1v15", "iso1_pin1234_pkcs1v15.bin"),
        ] {
            let block = cryptogram(file);
            let args = [
                "decode",
                "--provider",
                provider,
                "--format",
                "iso1",
                "--block",
                &block,
                "--rsa-private-key",
                &private,
                "--padding",
                padding,
            ];
            assert_eq!(ok(&args), "1234", "{provider} {padding}");
        }
    }
}

#[test]
fn module_paths_agree_with_the_in_process_path() {
    // aws-lc runs symmetric keys through the module: import, translate, reveal.
    let dec = [
        "decode",
        "--provider",
        "aws-lc",
        "--format",
        "iso0",
        "--block",
        ISO0,
        "--pan",
        PAN,
        "--tdes-key",
        KEY,
    ];
    assert_eq!(ok(&dec), "1234");
    let enc = [
        "encode",
        "--provider",
        "aws-lc",
        "--format",
        "iso0",
        "--pin",
        "1234",
        "--pan",
        PAN,
        "--tdes-key",
        KEY,
    ];
    assert_eq!(ok(&enc), ISO0, "format 0 is deterministic");
    let other = "E6F1081FEA4C402CC192B65DE367EC3E";
    let in_module = ok(&[
        "translate",
        "--provider",
        "aws-lc",
        "--from",
        "iso0",
        "--to",
        "iso3",
        "--block",
        ISO0,
        "--pan",
        PAN,
        "--from-tdes-key",
        KEY,
        "--to-tdes-key",
        other,
    ]);
    let back = ok(&[
        "decode",
        "--format",
        "iso3",
        "--block",
        &in_module,
        "--pan",
        PAN,
        "--tdes-key",
        other,
    ]);
    assert_eq!(back, "1234");
}

#[test]
fn module_refusals_keep_the_error_contract() {
    // A tampered block: the one undecryptable line, through the module too.
    let args = [
        "decode",
        "--provider",
        "aws-lc",
        "--format",
        "iso0",
        "--block",
        "E5639CBC7EC0B4CB",
        "--pan",
        PAN,
        "--tdes-key",
        KEY,
    ];
    assert_eq!(fails(&args, DATA, &[KEY, PAN, "1234"]), UNDECRYPTABLE);
    // PCI: iso0 never becomes iso1, checked before any key is used.
    let args = [
        "translate",
        "--provider",
        "aws-lc",
        "--from",
        "iso0",
        "--to",
        "iso1",
        "--block",
        ISO0,
        "--pan",
        PAN,
        "--from-tdes-key",
        KEY,
        "--to-tdes-key",
        KEY,
    ];
    fails(&args, USAGE, &[KEY, PAN]);
    // A single-DES key is refused by the module with the rule named.
    let single = "12345678123456781234567812345678";
    let args = [
        "decode",
        "--provider",
        "aws-lc",
        "--format",
        "iso0",
        "--block",
        ISO0,
        "--pan",
        PAN,
        "--tdes-key",
        single,
    ];
    let msg = fails(&args, DATA, &[single]);
    assert!(msg.contains("single DES"), "{msg}");
}

#[test]
fn token_flags_are_checked_and_the_pin_never_travels_on_the_command_line() {
    // A label needs a PKCS#11 token.
    let args = [
        "decode",
        "--format",
        "iso0",
        "--block",
        ISO0,
        "--pan",
        PAN,
        "--tdes-key-label",
        "zpk",
    ];
    let msg = fails(&args, USAGE, &[PAN]);
    assert!(msg.contains("--provider pkcs11"), "{msg}");
    // pkcs11 needs its module, token and PIN variable.
    let args = [
        "decode",
        "--provider",
        "pkcs11",
        "--format",
        "iso0",
        "--block",
        ISO0,
        "--pan",
        PAN,
        "--tdes-key-label",
        "zpk",
    ];
    let msg = fails(&args, USAGE, &[PAN]);
    assert!(msg.contains("--pkcs11-module"), "{msg}");
    let args = [
        "decode",
        "--provider",
        "pkcs11",
        "--pkcs11-module",
        "/nonexistent/libpkcs11.so",
        "--pkcs11-token",
        "t",
        "--pkcs11-pin-env",
        "PINSET_TEST_UNSET_VARIABLE",
        "--format",
        "iso0",
        "--block",
        ISO0,
        "--pan",
        PAN,
        "--tdes-key-label",
        "zpk",
    ];
    let msg = fails(&args, USAGE, &[PAN]);
    assert!(msg.contains("--pkcs11-pin-env"), "{msg}");
    // A library that is not there: the module is unavailable, exit 1.
    let args = [
        "decode",
        "--provider",
        "pkcs11",
        "--pkcs11-module",
        "/nonexistent/libpkcs11.so",
        "--pkcs11-token",
        "t",
        "--pkcs11-pin-env",
        "HOME",
        "--format",
        "iso0",
        "--block",
        ISO0,
        "--pan",
        PAN,
        "--tdes-key-label",
        "zpk",
    ];
    let msg = fails(&args, DATA, &[PAN]);
    assert!(msg.contains("unavailable"), "{msg}");
    // There is no flag for the PIN itself.
    let args = ["decode", "--provider", "pkcs11", "--pkcs11-pin", "1234"];
    fails(&args, USAGE, &["1234"]);
}
