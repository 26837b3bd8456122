//! `pinblock`: encode, decode and translate ISO 9564-1 PIN blocks, print key
//! check values, Visa PVVs and IBM 3624 offsets and natural PINs, and wrap
//! and unwrap TR-31 key blocks, from the command line. See the crate README.
//!
//! Output is one line on stdout. An error is one line on stderr, with exit
//! status 2 for a bad command line and 1 for bad data; it never quotes the
//! PIN, the PAN, a key, a key block or a verification value.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod cli;
mod codec;
mod commands;
mod error;
mod key_block;
mod keys;
mod provider;
mod verification;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use zeroize::Zeroizing;

use crate::error::CliError;

fn main() -> ExitCode {
    let command = match cli::Cli::try_parse() {
        Ok(cli) => cli.command,
        // --help and --version: clap prints them to stdout.
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => return fail(&CliError::Usage(cli::usage_message(&err))),
    };
    match commands::run(&command, &mut io::stdin().lock()) {
        // The line may be a PIN: zeroize it once printed.
        Ok(line) => match writeln!(io::stdout().lock(), "{}", *Zeroizing::new(line)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&CliError::Stdout(e.kind())),
        },
        Err(err) => fail(&err),
    }
}

/// Prints `err` as the one stderr line and returns its exit status.
fn fail(err: &CliError) -> ExitCode {
    let _ = writeln!(io::stderr(), "pinblock: error: {err}");
    ExitCode::from(err.exit_code())
}
