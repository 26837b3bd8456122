//! Hex and base64 on the command line: strict parsing, messages that quote nothing.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::cli::Encoding;
use crate::error::CliError;

/// Parses even-length hex, either case, nothing trimmed.
///
/// The bytes go straight into a zeroizing buffer (they may be a key or a
/// clear block). The error names `flag` and the problem, never the value.
pub fn parse_hex(flag: &'static str, text: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    if !text.len().is_multiple_of(2) {
        return Err(CliError::Hex {
            flag,
            problem: "odd number of digits",
        });
    }
    let mut bytes = Zeroizing::new(vec![0u8; text.len() / 2]);
    hex::decode_to_slice(text, &mut bytes).map_err(|_| CliError::Hex {
        flag,
        problem: "only the digits 0-9 and A-F (either case) are allowed",
    })?;
    Ok(bytes)
}

impl Encoding {
    /// Renders block bytes: uppercase hex, or standard base64 with padding.
    pub fn render(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode_upper(bytes),
            Encoding::Base64 => STANDARD.encode(bytes),
        }
    }

    /// Parses block bytes given in this encoding. Base64 must be canonical
    /// standard base64 with padding; hex is as in [`parse_hex`].
    pub fn parse(self, flag: &'static str, text: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
        match self {
            Encoding::Hex => parse_hex(flag, text),
            Encoding::Base64 => STANDARD
                .decode(text)
                .map(Zeroizing::new)
                .map_err(|_| CliError::Base64 { flag }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_either_case_strict() {
        assert_eq!(
            parse_hex("--block", "abE38e29B58EA392")
                .ok()
                .as_deref()
                .map(Vec::as_slice),
            Some(&[0xAB, 0xE3, 0x8E, 0x29, 0xB5, 0x8E, 0xA3, 0x92][..])
        );
        assert_eq!(parse_hex("--block", "").ok().map(|b| b.len()), Some(0));
        for bad in ["ABC", "GG", "AB CD", " ABCD", "ABCD\n", "0x12"] {
            let err = parse_hex("--tdes-key", bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|m| m.starts_with("--tdes-key is not valid hex: ")),
                "{bad:?}: {err:?}"
            );
        }
    }

    #[test]
    fn base64_round_trip_and_strictness() {
        // jPOS JCESecurityModuleTest: the TDES format 0 block ABE38E29B58EA392.
        let block = [0xAB, 0xE3, 0x8E, 0x29, 0xB5, 0x8E, 0xA3, 0x92];
        assert_eq!(Encoding::Base64.render(&block), "q+OOKbWOo5I=");
        assert_eq!(Encoding::Hex.render(&block), "ABE38E29B58EA392");
        assert_eq!(
            Encoding::Base64
                .parse("--block", "q+OOKbWOo5I=")
                .ok()
                .as_deref()
                .map(Vec::as_slice),
            Some(&block[..])
        );
        // Missing padding, URL-safe alphabet, non-canonical trailing bits, junk.
        for bad in [
            "q+OOKbWOo5I",
            "q-OOKbWOo5I=",
            "q+OOKbWOo5J=",
            "!!notbase64!",
            " q+OOKbWOo5I=",
        ] {
            assert!(Encoding::Base64.parse("--block", bad).is_err(), "{bad:?}");
        }
    }
}
