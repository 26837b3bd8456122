//! What the end-to-end tests share: running the binary and asserting the
//! output and error contracts.

// Each test crate uses its own part of this module.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

/// What one run of the binary gave.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn run_with_stdin(args: &[&str], stdin: &[u8]) -> Run {
    let spawned = Command::new(env!("CARGO_BIN_EXE_pinblock"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let output = spawned.and_then(|mut child| {
        if let Some(mut pipe) = child.stdin.take() {
            // The binary may exit without reading stdin: a broken pipe is fine.
            let _ = pipe.write_all(stdin);
        }
        child.wait_with_output()
    });
    match output {
        Ok(out) => Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        // Reported through the callers' assertions on `code`.
        Err(e) => Run {
            code: None,
            stdout: String::new(),
            stderr: format!("could not run pinblock: {e}"),
        },
    }
}

pub fn run(args: &[&str]) -> Run {
    run_with_stdin(args, b"")
}

/// Asserts success with exactly one stdout line and a quiet stderr; returns the line.
pub fn ok_with_stdin(args: &[&str], stdin: &[u8]) -> String {
    let r = run_with_stdin(args, stdin);
    assert_eq!(r.code, Some(0), "{args:?}: stderr {:?}", r.stderr);
    assert_eq!(r.stderr, "", "{args:?}");
    assert!(
        r.stdout.ends_with('\n') && r.stdout.matches('\n').count() == 1,
        "{args:?}: stdout is not one line: {:?}",
        r.stdout
    );
    r.stdout.trim_end_matches('\n').to_owned()
}

pub fn ok(args: &[&str]) -> String {
    ok_with_stdin(args, b"")
}

/// Asserts the error contract and that no secret is quoted; returns the stderr line.
pub fn fails_with_stdin(args: &[&str], stdin: &[u8], code: i32, secrets: &[&str]) -> String {
    let r = run_with_stdin(args, stdin);
    assert_eq!(r.code, Some(code), "{args:?}: stderr {:?}", r.stderr);
    assert_eq!(r.stdout, "", "{args:?}");
    assert!(
        r.stderr.ends_with('\n') && r.stderr.matches('\n').count() == 1,
        "{args:?}: stderr is not one line: {:?}",
        r.stderr
    );
    assert!(r.stderr.starts_with("pinblock: error: "), "{:?}", r.stderr);
    let upper = r.stderr.to_uppercase();
    for secret in secrets {
        assert!(
            !upper.contains(&secret.to_uppercase()),
            "{args:?}: stderr quotes {secret:?}: {:?}",
            r.stderr
        );
    }
    r.stderr.trim_end_matches('\n').to_owned()
}

pub fn fails(args: &[&str], code: i32, secrets: &[&str]) -> String {
    fails_with_stdin(args, b"", code, secrets)
}

pub const DATA: i32 = 1;
pub const USAGE: i32 = 2;
pub const UNDECRYPTABLE: &str =
    "pinblock: error: the PIN block could not be decrypted or is not a valid PIN block";
