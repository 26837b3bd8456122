//! `pvv`, `ibm3624-offset` and `ibm3624-pin`: PIN verification values,
//! computed by `pinset-verify`. Each returns the one line to print.
//!
//! Checks run in a fixed order: the PVK, the other parameters in the order
//! of the command line's help, then the PAN and last the PIN (which may be
//! read from stdin). Every refusal names the flag and the rule, never the
//! value: a PVK, a PIN, validation data (usually PAN digits) and an offset
//! are all secrets or close to one.

use std::io::Read;

use pinset_block::Pan;
use pinset_verify::{
    DecimalizationTable, Ibm3624Offset, PinVerificationKey, Pvki, ValidationData,
    ibm3624_natural_pin, ibm3624_offset, visa_pvv,
};

use crate::cli::{Ibm3624Args, Ibm3624OffsetArgs, Ibm3624PinArgs, PvkArgs, PvvArgs};
use crate::codec::parse_hex;
use crate::commands::read_pin;
use crate::error::CliError;

/// `pinblock pvv`: the 4-digit Visa PVV.
pub fn pvv(args: &PvvArgs, stdin: &mut dyn Read) -> Result<String, CliError> {
    let pvk = read_pvk(&args.pvk)?;
    let pvki = Pvki::parse(&args.pvki).map_err(|source| CliError::Verify {
        flag: "--pvki",
        source,
    })?;
    let pan = Pan::new(&args.pan).map_err(CliError::Pan)?;
    let pin = read_pin(&args.pin, stdin)?;
    Ok(visa_pvv(&pvk, pvki, &pan, &pin).expose_str().to_owned())
}

/// `pinblock ibm3624-offset`: the offset, one digit per PIN digit.
pub fn ibm3624_offset_command(
    args: &Ibm3624OffsetArgs,
    stdin: &mut dyn Read,
) -> Result<String, CliError> {
    let (pvk, table, data) = read_ibm3624(&args.ibm)?;
    let pin = read_pin(&args.pin, stdin)?;
    Ok(ibm3624_offset(&pvk, &table, &data, &pin)
        .expose_str()
        .to_owned())
}

/// `pinblock ibm3624-pin`: the natural PIN of `--length` digits or, with
/// `--offset`, the customer PIN: natural PIN plus offset, digit by digit,
/// mod 10. `--length` defaults to the offset's length and must agree with it.
pub fn ibm3624_pin(args: &Ibm3624PinArgs) -> Result<String, CliError> {
    let (pvk, table, data) = read_ibm3624(&args.ibm)?;
    let offset = args
        .offset
        .as_deref()
        .map(Ibm3624Offset::parse)
        .transpose()
        .map_err(|source| CliError::Verify {
            flag: "--offset",
            source,
        })?;
    let length = match (args.length, &offset) {
        (Some(length), Some(offset)) if length != offset.len() => {
            return Err(CliError::OffsetLength {
                offset: offset.len(),
                length,
            });
        }
        (Some(length), _) => length,
        (None, Some(offset)) => offset.len(),
        // clap requires one of them; this refuses it again for callers
        // that build arguments by hand.
        (None, None) => {
            return Err(CliError::Usage(
                "ibm3624-pin needs --length or --offset".to_owned(),
            ));
        }
    };
    let natural =
        ibm3624_natural_pin(&pvk, &table, &data, length).map_err(|source| CliError::Verify {
            flag: "--length",
            source,
        })?;
    let natural = natural.expose_digits().iter().map(|d| d - b'0');
    // The PIN is this command's output: the caller prints it, like `decode`.
    let mut line = String::with_capacity(length);
    match &offset {
        Some(offset) => {
            let offset = offset.expose_str().bytes().map(|d| d - b'0');
            line.extend(
                natural
                    .zip(offset)
                    .map(|(n, o)| char::from(b'0' + (n + o) % 10)),
            );
        }
        None => line.extend(natural.map(|n| char::from(b'0' + n))),
    }
    Ok(line)
}

/// Parses `--pvk`: hex, then the TDES key rules (16 or 24 bytes, not
/// single DES in disguise, no weak part), as `pinset-verify` applies them.
fn read_pvk(args: &PvkArgs) -> Result<PinVerificationKey, CliError> {
    let flag = "--pvk";
    let bytes = parse_hex(flag, &args.pvk)?;
    PinVerificationKey::new(&bytes).map_err(|source| match source {
        pinset_verify::Error::Key(source) => CliError::Key { flag, source },
        source => CliError::Verify { flag, source },
    })
}

/// The PVK, decimalisation table and validation data of the IBM 3624 commands.
fn read_ibm3624(
    args: &Ibm3624Args,
) -> Result<(PinVerificationKey, DecimalizationTable, ValidationData), CliError> {
    let pvk = read_pvk(&args.pvk)?;
    let table = DecimalizationTable::parse(&args.decimalization_table).map_err(|source| {
        CliError::Verify {
            flag: "--decimalization-table",
            source,
        }
    })?;
    let mut pad = args.pad.chars();
    let pad = match (pad.next(), pad.next()) {
        (Some(c), None) if c.is_ascii_hexdigit() => c,
        _ => return Err(CliError::Pad),
    };
    let data =
        ValidationData::new(&args.validation_data, pad).map_err(|source| CliError::Verify {
            flag: "--validation-data",
            source,
        })?;
    Ok((pvk, table, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{EXIT_DATA, EXIT_USAGE, outcome};

    // Published vectors: psec 1.3.0 tests/test_pin.py (and its docstrings).
    const PVK: &str = "0123456789ABCDEFFEDCBA9876543210";
    const PAN: &str = "1122334455667788";
    const TABLE: &str = "1234567890123456";
    const DATA: &str = "1122334455667788";

    fn pvv_args(pvki: &str, pin: &str, pan: &str) -> PvvArgs {
        PvvArgs {
            pvk: PvkArgs { pvk: PVK.into() },
            pvki: pvki.into(),
            pin: pin.into(),
            pan: pan.into(),
        }
    }

    fn ibm(pvk: &str, table: &str, data: &str, pad: &str) -> Ibm3624Args {
        Ibm3624Args {
            pvk: PvkArgs { pvk: pvk.into() },
            decimalization_table: table.into(),
            validation_data: data.into(),
            pad: pad.into(),
        }
    }

    fn offset_args(pin: &str) -> Ibm3624OffsetArgs {
        Ibm3624OffsetArgs {
            ibm: ibm(PVK, TABLE, DATA, "F"),
            pin: pin.into(),
        }
    }

    fn pin_args(length: Option<usize>, offset: Option<&str>) -> Ibm3624PinArgs {
        Ibm3624PinArgs {
            ibm: ibm(PVK, TABLE, DATA, "F"),
            length,
            offset: offset.map(String::from),
        }
    }

    #[test]
    fn pvv_psec_vectors() {
        // psec tests/test_pin.py: PVKI 1, PIN 4524 -> 8523; PVKI 2, PIN 1912 -> 3244;
        // and the generate_visa_pvv docstring: PVKI 3, PIN 4524 -> 4021.
        for (pvki, pin, want) in [
            ("1", "4524", "8523"),
            ("2", "1912", "3244"),
            ("3", "4524", "4021"),
        ] {
            let got = pvv(&pvv_args(pvki, pin, PAN), &mut std::io::empty());
            assert_eq!(got.ok().as_deref(), Some(want), "PVKI {pvki}");
        }
        // Only the first four PIN digits count.
        let got = pvv(&pvv_args("1", "452499", PAN), &mut std::io::empty());
        assert_eq!(got.ok().as_deref(), Some("8523"));
        // From stdin.
        let got = pvv(&pvv_args("1", "-", PAN), &mut &b"4524\n"[..]);
        assert_eq!(got.ok().as_deref(), Some("8523"));
    }

    #[test]
    fn ibm3624_psec_vectors() {
        // psec tests/test_pin.py: table 1234567890123456, validation data
        // 1122334455667788 padded with F: PIN 4524 -> offset 0000, PIN 1234
        // -> 7710, natural PIN of length 4 = 4524.
        let none = &mut std::io::empty();
        assert_eq!(
            ibm3624_offset_command(&offset_args("4524"), none)
                .ok()
                .as_deref(),
            Some("0000")
        );
        assert_eq!(
            ibm3624_offset_command(&offset_args("1234"), none)
                .ok()
                .as_deref(),
            Some("7710")
        );
        assert_eq!(
            ibm3624_pin(&pin_args(Some(4), None)).ok().as_deref(),
            Some("4524")
        );
        // The customer PIN: natural PIN plus offset, digit by digit.
        assert_eq!(
            ibm3624_pin(&pin_args(None, Some("7710"))).ok().as_deref(),
            Some("1234")
        );
        assert_eq!(
            ibm3624_pin(&pin_args(Some(4), Some("0000")))
                .ok()
                .as_deref(),
            Some("4524")
        );
        // Longer natural PINs extend the shorter one.
        let long = ibm3624_pin(&pin_args(Some(12), None)).unwrap_or_default();
        assert_eq!(long.len(), 12);
        assert!(long.starts_with("4524"), "{long}");
    }

    #[test]
    fn refusals_name_flags_not_values() {
        let none = &mut std::io::empty();
        let cases: Vec<(Result<String, CliError>, u8, &str)> = vec![
            (
                pvv(&pvv_args("7", "4524", PAN), none),
                EXIT_DATA,
                "--pvki: a PVKI is one digit from 0 to 6",
            ),
            (
                pvv(&pvv_args("1", "4524", "11223344556677889900"), none),
                EXIT_DATA,
                "PAN must have 12 to 19 digits",
            ),
            (
                pvv(&pvv_args("1", "452", PAN), none),
                EXIT_DATA,
                "PIN must have 4 to 12 digits",
            ),
            (
                pvv(
                    &PvvArgs {
                        pvk: PvkArgs {
                            pvk: "12345678123456781234567812345678".into(),
                        },
                        ..pvv_args("1", "4524", PAN)
                    },
                    none,
                ),
                EXIT_DATA,
                "--pvk: TDES key refused: two key parts are equal, so it is single DES",
            ),
            (
                pvv(
                    &PvvArgs {
                        pvk: PvkArgs {
                            pvk: PVK[2..].into(),
                        },
                        ..pvv_args("1", "4524", PAN)
                    },
                    none,
                ),
                EXIT_DATA,
                "--pvk: TDES key must be 16 or 24 bytes, got 15",
            ),
            (
                ibm3624_offset_command(
                    &Ibm3624OffsetArgs {
                        ibm: ibm(PVK, "123456789012345X", DATA, "F"),
                        pin: "1234".into(),
                    },
                    none,
                ),
                EXIT_DATA,
                "--decimalization-table: a decimalisation table is 16 decimal digits",
            ),
            (
                ibm3624_offset_command(
                    &Ibm3624OffsetArgs {
                        ibm: ibm(PVK, TABLE, "11223344556677889", "F"),
                        pin: "1234".into(),
                    },
                    none,
                ),
                EXIT_DATA,
                "--validation-data: validation data is 1 to 16 hex characters and one hex pad character",
            ),
            (
                ibm3624_offset_command(
                    &Ibm3624OffsetArgs {
                        ibm: ibm(PVK, TABLE, DATA, "FF"),
                        pin: "1234".into(),
                    },
                    none,
                ),
                EXIT_DATA,
                "--pad must be one hex character (0-9, A-F)",
            ),
            (
                ibm3624_pin(&pin_args(Some(13), None)),
                EXIT_DATA,
                "--length: a natural PIN is 4 to 12 digits",
            ),
            (
                ibm3624_pin(&pin_args(None, Some("77a0"))),
                EXIT_DATA,
                "--offset: an IBM 3624 offset is 4 to 12 decimal digits",
            ),
            (
                ibm3624_pin(&pin_args(Some(6), Some("7710"))),
                EXIT_USAGE,
                "--offset has 4 digits but --length is 6: they must agree",
            ),
        ];
        for (got, code, want) in cases {
            let (got_code, got) = outcome(got);
            assert_eq!((got_code, got.as_str()), (code, want));
            for secret in [PVK, "4524", "452", PAN, DATA, "77a0", "1234567812345678"] {
                assert!(!got.contains(secret), "{got}");
            }
        }
    }
}
