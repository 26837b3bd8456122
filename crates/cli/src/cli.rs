//! The command line: clap definitions, and clap errors reduced to one safe line.
//!
//! The PIN, PAN, keys and block are taken as plain `String`s and checked in
//! [`crate::commands`], never by clap: clap's own messages quote the value
//! they refuse. Only `--format`, `--from`, `--to`, `--encoding`,
//! `--padding`, `--bits` and `--length` are checked here, key files are named by path
//! and read in [`crate::keys`], and [`usage_message`] renders every clap
//! error without the value the user typed.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use pinset_block::Format;
use pinset_envelope::RsaPadding;

/// `pinblock`: encode, decode and translate ISO 9564 PIN blocks.
#[derive(Parser)]
#[command(
    name = "pinblock",
    version,
    about = "Encode, decode and translate ISO 9564-1 PIN blocks (formats 0 to 4), seal them under RSA, \
             print key check values, Visa PVVs and IBM 3624 offsets and natural PINs, and wrap and \
             unwrap TR-31 key blocks.",
    long_about = None,
    after_help = "Exit status: 0 on success, 1 for bad data (PIN, PAN, hex, key length, a key file that \
                  cannot be read or is refused, a verification parameter or TR-31 header that is refused, \
                  or a PIN block or key block that cannot be decrypted or decoded), 2 for a bad command \
                  line."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand)]
pub enum Command {
    /// Encode a PIN into a PIN block, clear or enciphered.
    Encode(EncodeArgs),
    /// Decode a PIN block, clear or enciphered, and print the PIN.
    Decode(DecodeArgs),
    /// Translate an enciphered PIN block to another format and key.
    Translate(TranslateArgs),
    /// Print the key check value of a TDES or AES key.
    Kcv(KcvArgs),
    /// Generate an RSA key pair for sealing PIN blocks: DIR/private.pem, DIR/public.der, DIR/public.pem.
    RsaKeygen(RsaKeygenArgs),
    /// Print the Visa PIN verification value (PVV) of a PIN.
    Pvv(PvvArgs),
    /// Print the IBM 3624 offset of a PIN from the natural PIN.
    #[command(name = "ibm3624-offset")]
    Ibm3624Offset(Ibm3624OffsetArgs),
    /// Print the IBM 3624 natural PIN, or with --offset the customer PIN.
    #[command(name = "ibm3624-pin")]
    Ibm3624Pin(Ibm3624PinArgs),
    /// Wrap a key into, or unwrap it from, a TR-31 key block.
    #[command(subcommand)]
    Tr31(Tr31Command),
}

/// How blocks are written on the command line and on stdout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    /// Hex: printed uppercase, read in either case.
    #[default]
    Hex,
    /// Standard base64 with padding (RFC 4648 section 4).
    Base64,
}

/// The RSA encryption padding of `--padding`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Padding {
    /// RSAES-OAEP, SHA-256 and MGF1-SHA-256, empty label
    #[default]
    #[value(name = "oaep-sha256")]
    OaepSha256,
    /// RSAES-OAEP, SHA-1 and MGF1-SHA-1, empty label
    #[value(name = "oaep-sha1")]
    OaepSha1,
    /// RSAES-PKCS1-v1_5 (legacy)
    #[value(name = "pkcs1v15")]
    Pkcs1v15,
}

impl From<Padding> for RsaPadding {
    fn from(padding: Padding) -> Self {
        match padding {
            Padding::OaepSha256 => RsaPadding::OaepSha256,
            Padding::OaepSha1 => RsaPadding::OaepSha1,
            Padding::Pkcs1v15 => RsaPadding::Pkcs1v15,
        }
    }
}

/// Where keys live and PIN blocks are read: `--provider`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Provider {
    /// RustCrypto in this process (the default)
    #[default]
    Software,
    /// RSA-OAEP in aws-lc, the rest in RustCrypto
    #[value(name = "aws-lc")]
    AwsLc,
    /// A PKCS#11 token (--pkcs11-module, --pkcs11-token, --pkcs11-pin-env)
    Pkcs11,
}

/// The security module of `encode`, `decode` and `translate`.
#[derive(Args, Default)]
pub struct ProviderArgs {
    /// Security module: software (default), aws-lc or pkcs11
    #[arg(long, value_enum, default_value_t = Provider::Software)]
    pub provider: Provider,
    /// PKCS#11 library (such as /usr/lib/softhsm/libsofthsm2.so), with --provider pkcs11
    #[arg(long, value_name = "PATH")]
    pub pkcs11_module: Option<PathBuf>,
    /// Label of the PKCS#11 token, with --provider pkcs11
    #[arg(long, value_name = "LABEL")]
    pub pkcs11_token: Option<String>,
    /// Name of the environment variable that holds the token's user PIN (never the PIN itself)
    #[arg(long, value_name = "VAR")]
    pub pkcs11_pin_env: Option<String>,
}

impl ProviderArgs {
    /// Whether the command runs in this process as it always has.
    pub fn is_default(&self) -> bool {
        self.provider == Provider::Software
    }
}

/// The PIN key of `encode` and `decode`: none (a clear block), TDES or AES,
/// as hex or as the label of a key in a PKCS#11 token.
#[derive(Args, Default)]
#[group(multiple = false)]
pub struct PinKeyArgs {
    /// TDES PIN key, 16 or 24 bytes in hex: enciphers formats iso0 to iso3
    #[arg(long, value_name = "HEX")]
    pub tdes_key: Option<String>,
    /// AES PIN key, 16, 24 or 32 bytes in hex: required by, and only for, iso4
    #[arg(long, value_name = "HEX")]
    pub aes_key: Option<String>,
    /// Label of a TDES PIN key in the PKCS#11 token, instead of --tdes-key
    #[arg(long, value_name = "LABEL")]
    pub tdes_key_label: Option<String>,
    /// Label of an AES PIN key in the PKCS#11 token, instead of --aes-key
    #[arg(long, value_name = "LABEL")]
    pub aes_key_label: Option<String>,
}

impl PinKeyArgs {
    /// Whether a key is named by a token label.
    pub fn has_label(&self) -> bool {
        self.tdes_key_label.is_some() || self.aes_key_label.is_some()
    }
}

/// Arguments of `pinblock encode`.
#[derive(Args)]
pub struct EncodeArgs {
    /// PIN block format: iso0, iso1, iso2, iso3 or iso4
    #[arg(long, value_name = "F")]
    pub format: Format,
    /// The PIN, 4 to 12 digits, or `-` to read it from stdin (one trailing newline is dropped)
    #[arg(long, value_name = "PIN")]
    pub pin: String,
    /// Primary account number, 12 to 19 digits: required by iso0, iso3 and iso4
    #[arg(long, value_name = "PAN")]
    pub pan: Option<String>,
    /// The PIN key (none for a clear block).
    #[command(flatten)]
    pub key: PinKeyArgs,
    /// RSA public key file (PEM or DER, SPKI or PKCS#1, or hex or base64 of the DER):
    /// the clear iso0-iso3 block is encrypted under it
    #[arg(long, value_name = "FILE", conflicts_with_all = ["tdes_key", "aes_key"])]
    pub rsa_public_key: Option<PathBuf>,
    /// RSA padding, with --rsa-public-key
    #[arg(
        long,
        value_enum,
        default_value_t = Padding::OaepSha256,
        requires = "rsa_public_key",
        conflicts_with_all = ["tdes_key", "aes_key"]
    )]
    pub padding: Padding,
    /// How the block is printed
    #[arg(long, value_enum, default_value_t = Encoding::Hex)]
    pub encoding: Encoding,
    /// The security module.
    #[command(flatten)]
    pub provider: ProviderArgs,
}

/// Arguments of `pinblock decode`.
#[derive(Args)]
pub struct DecodeArgs {
    /// PIN block format: iso0, iso1, iso2, iso3 or iso4
    #[arg(long, value_name = "F")]
    pub format: Format,
    /// The PIN block, in the --encoding given
    #[arg(long, value_name = "DATA")]
    pub block: String,
    /// Primary account number, 12 to 19 digits: required by iso0, iso3 and iso4
    #[arg(long, value_name = "PAN")]
    pub pan: Option<String>,
    /// The PIN key (none for a clear block).
    #[command(flatten)]
    pub key: PinKeyArgs,
    /// RSA private key file (PEM or DER, PKCS#8 or PKCS#1, unencrypted): --block is an
    /// RSA cryptogram of a clear iso0-iso3 block
    #[arg(
        long,
        value_name = "FILE",
        group = "rsa_key",
        conflicts_with_all = ["tdes_key", "aes_key", "tdes_key_label", "aes_key_label"]
    )]
    pub rsa_private_key: Option<PathBuf>,
    /// Label of an RSA private key in the PKCS#11 token, instead of --rsa-private-key
    #[arg(
        long,
        value_name = "LABEL",
        group = "rsa_key",
        conflicts_with_all = ["tdes_key", "aes_key", "tdes_key_label", "aes_key_label"]
    )]
    pub rsa_private_key_label: Option<String>,
    /// RSA padding, with --rsa-private-key or --rsa-private-key-label
    #[arg(
        long,
        value_enum,
        default_value_t = Padding::OaepSha256,
        requires = "rsa_key",
        conflicts_with_all = ["tdes_key", "aes_key", "tdes_key_label", "aes_key_label"]
    )]
    pub padding: Padding,
    /// How --block is written
    #[arg(long, value_enum, default_value_t = Encoding::Hex)]
    pub encoding: Encoding,
    /// The security module.
    #[command(flatten)]
    pub provider: ProviderArgs,
}

/// Arguments of `pinblock translate`.
#[derive(Args)]
pub struct TranslateArgs {
    /// Format of the incoming block
    #[arg(long, value_name = "F")]
    pub from: Format,
    /// Format of the outgoing block
    #[arg(long, value_name = "F")]
    pub to: Format,
    /// The incoming PIN block, in the --encoding given
    #[arg(long, value_name = "DATA")]
    pub block: String,
    /// Primary account number: required when either format is iso0, iso3 or iso4
    #[arg(long, value_name = "PAN")]
    pub pan: Option<String>,
    /// TDES key the incoming block is enciphered under
    #[arg(long, value_name = "HEX", group = "from_key")]
    pub from_tdes_key: Option<String>,
    /// AES key the incoming block is enciphered under (iso4)
    #[arg(long, value_name = "HEX", group = "from_key")]
    pub from_aes_key: Option<String>,
    /// TDES key to encipher the outgoing block under
    #[arg(long, value_name = "HEX", group = "to_key")]
    pub to_tdes_key: Option<String>,
    /// AES key to encipher the outgoing block under (iso4)
    #[arg(long, value_name = "HEX", group = "to_key")]
    pub to_aes_key: Option<String>,
    /// Label of the PKCS#11 token's TDES key the incoming block is enciphered under
    #[arg(long, value_name = "LABEL", group = "from_key")]
    pub from_tdes_key_label: Option<String>,
    /// Label of the PKCS#11 token's AES key the incoming block is enciphered under
    #[arg(long, value_name = "LABEL", group = "from_key")]
    pub from_aes_key_label: Option<String>,
    /// Label of the PKCS#11 token's TDES key to encipher the outgoing block under
    #[arg(long, value_name = "LABEL", group = "to_key")]
    pub to_tdes_key_label: Option<String>,
    /// Label of the PKCS#11 token's AES key to encipher the outgoing block under
    #[arg(long, value_name = "LABEL", group = "to_key")]
    pub to_aes_key_label: Option<String>,
    /// How --block is read and the result printed
    #[arg(long, value_enum, default_value_t = Encoding::Hex)]
    pub encoding: Encoding,
    /// The security module.
    #[command(flatten)]
    pub provider: ProviderArgs,
}

/// Arguments of `pinblock kcv`: exactly one key.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct KcvArgs {
    /// TDES key, 16 or 24 bytes in hex (KCV: TDES-ECB of zeros)
    #[arg(long, value_name = "HEX")]
    pub tdes_key: Option<String>,
    /// AES key, 16, 24 or 32 bytes in hex (KCV: AES-CMAC of zeros, ANSI X9.24-1:2017)
    #[arg(long, value_name = "HEX")]
    pub aes_key: Option<String>,
}

/// Arguments of `pinblock rsa-keygen`.
#[derive(Args)]
pub struct RsaKeygenArgs {
    /// Modulus size in bits, 2048 to 4096
    #[arg(long, value_name = "N", default_value_t = 2048)]
    pub bits: usize,
    /// Directory to write private.pem, public.der and public.pem to (created if need be)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The PIN verification key of `pvv`, `ibm3624-offset` and `ibm3624-pin`.
#[derive(Args)]
pub struct PvkArgs {
    /// PIN verification key: TDES, 16 or 24 bytes in hex
    #[arg(long, value_name = "HEX")]
    pub pvk: String,
}

/// Arguments of `pinblock pvv`.
#[derive(Args)]
pub struct PvvArgs {
    /// The PIN verification key.
    #[command(flatten)]
    pub pvk: PvkArgs,
    /// PIN verification key index, one digit from 0 to 6
    #[arg(long, value_name = "N")]
    pub pvki: String,
    /// The PIN, 4 to 12 digits (its first 4 are used), or `-` to read it from stdin
    #[arg(long, value_name = "PIN")]
    pub pin: String,
    /// Primary account number, 12 to 19 digits
    #[arg(long, value_name = "PAN")]
    pub pan: String,
}

/// The IBM 3624 parameters that `ibm3624-offset` and `ibm3624-pin` share.
#[derive(Args)]
pub struct Ibm3624Args {
    /// The PIN verification key.
    #[command(flatten)]
    pub pvk: PvkArgs,
    /// Decimalisation table: 16 decimal digits, the nth for the hex digit n
    #[arg(long, value_name = "DIGITS")]
    pub decimalization_table: String,
    /// Validation data: 1 to 16 hex characters (usually PAN digits), padded on the right with --pad
    #[arg(long, value_name = "DATA")]
    pub validation_data: String,
    /// The hex character that pads the validation data to 16
    #[arg(long, value_name = "CHAR", default_value = "F")]
    pub pad: String,
}

/// Arguments of `pinblock ibm3624-offset`.
#[derive(Args)]
pub struct Ibm3624OffsetArgs {
    /// The IBM 3624 parameters.
    #[command(flatten)]
    pub ibm: Ibm3624Args,
    /// The PIN, 4 to 12 digits, or `-` to read it from stdin: the offset has one digit per PIN digit
    #[arg(long, value_name = "PIN")]
    pub pin: String,
}

/// Arguments of `pinblock ibm3624-pin`.
#[derive(Args)]
pub struct Ibm3624PinArgs {
    /// The IBM 3624 parameters.
    #[command(flatten)]
    pub ibm: Ibm3624Args,
    /// Length of the natural PIN, 4 to 12 (by default the length of --offset)
    #[arg(long, value_name = "N", required_unless_present = "offset")]
    pub length: Option<usize>,
    /// IBM 3624 offset, 4 to 12 digits: added digit by digit (mod 10) to the natural PIN
    #[arg(long, value_name = "DIGITS")]
    pub offset: Option<String>,
}

/// The subcommands of `pinblock tr31`.
#[derive(Subcommand)]
pub enum Tr31Command {
    /// Wrap a key into a TR-31 key block, version B (TDES KBPK) or D (AES KBPK).
    Wrap(Tr31WrapArgs),
    /// Unwrap a TR-31 key block of version A, B, C or D and print the key in hex.
    Unwrap(Tr31UnwrapArgs),
}

/// Arguments of `pinblock tr31 wrap`.
#[derive(Args)]
pub struct Tr31WrapArgs {
    /// Key block protection key in hex: TDES (16 or 24 bytes) for version B, AES (16, 24 or 32) for D
    #[arg(long, value_name = "HEX")]
    pub kbpk: String,
    /// The header, such as B0000P0TE00E0000: version, length (filled in), usage, algorithm,
    /// mode of use, key version, exportability, optional blocks (a padding block is added)
    #[arg(long, value_name = "HEADER")]
    pub header: String,
    /// The key to wrap, in hex
    #[arg(long, value_name = "HEX")]
    pub key: String,
}

/// Arguments of `pinblock tr31 unwrap`.
#[derive(Args)]
pub struct Tr31UnwrapArgs {
    /// Key block protection key in hex: TDES (16 or 24 bytes) for versions A, B and C, AES for D
    #[arg(long, value_name = "HEX")]
    pub kbpk: String,
    /// The key block
    #[arg(long, value_name = "BLOCK")]
    pub block: String,
}

/// Reduces a clap error to one line that quotes no value the user typed.
///
/// Argument names in the message come from the definitions above (such as
/// `--format <F>`); a token the user typed is quoted only when it is plainly
/// a flag name (`--lowercase-letters`, `-x`), so a PIN, PAN, key or block
/// typed in the wrong place is never echoed.
pub fn usage_message(err: &clap::Error) -> String {
    let string = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let strings = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    };
    let arg = string(ContextKind::InvalidArg).unwrap_or("an argument");
    let help = "see 'pinblock --help'";
    match err.kind() {
        ErrorKind::InvalidValue => {
            // clap reports a flag given without its value as an empty invalid value.
            let head = match string(ContextKind::InvalidValue) {
                Some("") => format!("a value is required for '{arg}'"),
                _ => format!("invalid value for '{arg}'"),
            };
            match strings(ContextKind::ValidValue).as_slice() {
                [] => head,
                valid => format!("{head}: expected {}", or_list(valid)),
            }
        }
        ErrorKind::ValueValidation => match std::error::Error::source(err) {
            Some(why) => format!("invalid value for '{arg}': {why}"),
            None => format!("invalid value for '{arg}'"),
        },
        ErrorKind::UnknownArgument => {
            let token = string(ContextKind::InvalidArg).and_then(flag_name);
            let suggestion = string(ContextKind::SuggestedArg)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            match token {
                Some(flag) => format!("unexpected argument '{flag}'{suggestion} ({help})"),
                None => format!("unexpected argument{suggestion} ({help})"),
            }
        }
        ErrorKind::MissingRequiredArgument => {
            let missing = strings(ContextKind::InvalidArg);
            format!("missing required argument: {} ({help})", missing.join(", "))
        }
        ErrorKind::ArgumentConflict => match strings(ContextKind::PriorArg).as_slice() {
            [prior] if prior == arg => {
                format!("the argument '{arg}' cannot be used more than once")
            }
            [] => format!("the argument '{arg}' cannot be used here ({help})"),
            prior => format!(
                "the argument '{arg}' cannot be used with '{}'",
                prior.join("', '")
            ),
        },
        ErrorKind::InvalidSubcommand
        | ErrorKind::MissingSubcommand
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let path = command_path(err);
            let help = if path.is_empty() {
                help.to_owned()
            } else {
                format!("see 'pinblock {} --help'", path.join(" "))
            };
            format!(
                "expected a subcommand: {} ({help})",
                or_list(&subcommands(&path))
            )
        }
        ErrorKind::InvalidUtf8 => "arguments must be valid UTF-8".to_owned(),
        other => format!(
            "{} ({help})",
            other.as_str().unwrap_or("invalid command line")
        ),
    }
}

/// The token itself when it is plainly a flag name: `--` and lowercase
/// letters and hyphens (anything after `=` dropped), or `-` and one letter.
fn flag_name(token: &str) -> Option<&str> {
    let name = token.split_once('=').map_or(token, |(name, _)| name);
    let long = name.strip_prefix("--").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
    });
    let short = name
        .strip_prefix('-')
        .is_some_and(|rest| rest.len() == 1 && rest.bytes().all(|b| b.is_ascii_alphabetic()));
    (long || short).then_some(name)
}

/// The subcommand (such as `["tr31"]`) whose own subcommand is missing or
/// unknown, read from the usage line clap gives (`Usage: pinblock tr31
/// <COMMAND>`); empty for the top level. The usage line comes from the
/// definitions, never from what the user typed.
fn command_path(err: &clap::Error) -> Vec<String> {
    let text = match err.get(ContextKind::Usage) {
        Some(ContextValue::StyledStr(usage)) => usage.to_string(),
        // A missing subcommand shows the command's help, usage line included.
        _ => err.render().to_string(),
    };
    let words = text
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("Usage: pinblock "))
        .unwrap_or_default();
    let mut command = Cli::command();
    let mut path = Vec::new();
    for word in words.split_whitespace() {
        let Some(sub) = command.find_subcommand(word).cloned() else {
            break;
        };
        path.push(word.to_owned());
        command = sub;
    }
    path
}

/// The names of the subcommands of the command at `path`, for messages.
fn subcommands(path: &[String]) -> Vec<String> {
    let mut command = Cli::command();
    for name in path {
        match command.find_subcommand(name) {
            Some(sub) => command = sub.clone(),
            None => break,
        }
    }
    command
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .filter(|name| name != "help")
        .collect()
}

/// `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(args: &[&str]) -> String {
        match Cli::try_parse_from(std::iter::once("pinblock").chain(args.iter().copied())) {
            Ok(_) => String::from("parsed"),
            Err(err) => usage_message(&err),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn unknown_format_names_the_flag_not_the_value() {
        let m = message(&["encode", "--format", "iso5", "--pin", "1234"]);
        assert_eq!(
            m,
            "invalid value for '--format <F>': unknown PIN block format: expected iso0, iso1, iso2, iso3 or iso4"
        );
    }

    #[test]
    fn bad_encoding_lists_the_choices() {
        let m = message(&[
            "encode",
            "--format",
            "iso2",
            "--pin",
            "1234",
            "--encoding",
            "base32",
        ]);
        assert_eq!(
            m,
            "invalid value for '--encoding <ENCODING>': expected hex or base64"
        );
    }

    #[test]
    fn a_flag_without_its_value() {
        let m = message(&["encode", "--format", "iso2", "--pin", "1234", "--pan"]);
        assert_eq!(m, "a value is required for '--pan <PAN>'");
        let m = message(&["encode", "--format", "iso2", "--pin", "1234", "--encoding"]);
        assert_eq!(
            m,
            "a value is required for '--encoding <ENCODING>': expected hex or base64"
        );
    }

    #[test]
    fn a_stray_pin_is_not_echoed() {
        let m = message(&["encode", "--format", "iso2", "--pin", "1234", "987654"]);
        assert!(!m.contains("987654"), "{m}");
        assert!(m.starts_with("unexpected argument"), "{m}");
    }

    #[test]
    fn a_misspelt_flag_is_named_without_its_value() {
        let m = message(&["kcv", "--tdes-kee=0123456789ABCDEF0123456789ABCDEF"]);
        assert!(!m.contains("0123"), "{m}");
        assert!(m.contains("'--tdes-kee'"), "{m}");
        assert!(m.contains("did you mean '--tdes-key'?"), "{m}");
    }

    #[test]
    fn conflicts_and_missing_arguments() {
        let m = message(&["kcv", "--tdes-key", "00", "--aes-key", "11"]);
        assert_eq!(
            m,
            "the argument '--tdes-key <HEX>' cannot be used with '--aes-key <HEX>'"
        );
        let m = message(&["kcv"]);
        assert!(m.starts_with("missing required argument: "), "{m}");
        let m = message(&[
            "encode", "--format", "iso2", "--pin", "1234", "--pin", "5678",
        ]);
        assert_eq!(
            m,
            "the argument '--pin <PIN>' cannot be used more than once"
        );
    }

    #[test]
    fn missing_or_unknown_subcommand() {
        let want = "expected a subcommand: encode, decode, translate, kcv, rsa-keygen, pvv, ibm3624-offset, ibm3624-pin or tr31 (see 'pinblock --help')";
        assert_eq!(message(&[]), want);
        assert_eq!(message(&["5141576351968605"]), want);
        let want = "expected a subcommand: wrap or unwrap (see 'pinblock tr31 --help')";
        assert_eq!(message(&["tr31"]), want);
        let m = message(&["tr31", "88E1AB2A2E3DD38C"]);
        assert_eq!(m, want);
    }

    #[test]
    fn secrets_of_the_new_commands_are_not_echoed() {
        let pvk = "0123456789ABCDEFFEDCBA9876543210";
        let pvv = ["pvv", "--pvk", pvk, "--pvki", "1", "--pin", "4524"];
        let ibm = [
            "ibm3624-pin",
            "--pvk",
            pvk,
            "--decimalization-table",
            "1234567890123456",
            "--validation-data",
            "1122334455667788",
        ];
        for args in [
            [&pvv[..], &["--pan"]].concat(),
            [
                &pvv[..],
                &["--pan", "1122334455667788", "--pan", "1122334455667788"],
            ]
            .concat(),
            [&pvv[..], &["1122334455667788"]].concat(),
            [&ibm[..], &["--length", "4524x"]].concat(),
            vec![
                "tr31",
                "unwrap",
                "--kbpk",
                pvk,
                "--blok",
                "B0080P0TE00E0000",
            ],
            vec![
                "tr31",
                "wrap",
                "--kbpk",
                pvk,
                "--header",
                "B0000P0TE00E0000",
                "--key=3F419E1CB7079442",
                "--key=3F419E1CB7079442",
            ],
        ] {
            let m = message(&args);
            for secret in [pvk, "4524", "1122334455667788", "3F419E1CB7079442", "B0080"] {
                assert!(!m.contains(secret), "{args:?}: {m}");
            }
        }
        assert_eq!(
            message(&ibm),
            "missing required argument: --length <N> (see 'pinblock --help')"
        );
    }

    #[test]
    fn flag_names() {
        assert_eq!(flag_name("--frobnicate"), Some("--frobnicate"));
        assert_eq!(flag_name("--pin-x=1234"), Some("--pin-x"));
        assert_eq!(flag_name("-x"), Some("-x"));
        assert_eq!(flag_name("-1"), None);
        assert_eq!(flag_name("--1234"), None);
        assert_eq!(flag_name("1234"), None);
        assert_eq!(flag_name("--"), None);
    }
}
