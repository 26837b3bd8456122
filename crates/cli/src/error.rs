//! The one error type of the `pinblock` commands, and its exit codes.

use pinset_block::Format;

/// Exit status for a command line that is malformed or inconsistent: what
/// clap rejects, and flag combinations that cannot work (a missing `--pan`
/// or key, a key of the wrong kind, iso4 under RSA, a refused translation).
pub const EXIT_USAGE: u8 = 2;

/// Exit status for bad values (PIN, PAN, hex, base64, key length, an RSA key
/// file that cannot be read or is refused), a block that cannot be decrypted
/// or decoded, and I/O or RNG failures.
pub const EXIT_DATA: u8 = 1;

/// Why a `pinblock` command failed.
///
/// Every message is one line and carries no PIN digit, PAN digit, key byte
/// or block byte: only flag names, format names and lengths.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// clap rejected the command line; the message is already reduced to one
    /// line with no user-supplied value in it.
    #[error("{0}")]
    Usage(String),

    /// A PAN-bound format (0, 3 or 4) was used without `--pan`.
    #[error("{0} binds the PAN: --pan is required")]
    PanRequired(Format),

    /// The format cannot be used without a key (format 4 needs an AES key).
    #[error("{format} needs an AES key: give {flag}")]
    KeyRequired {
        /// The format asked for.
        format: Format,
        /// The flag that would supply the key.
        flag: &'static str,
    },

    /// A key of the wrong kind for the format: TDES carries formats 0 to 3,
    /// AES carries format 4.
    #[error(
        "{flag} cannot carry an {format} PIN block: TDES keys carry iso0 to iso3, AES keys carry iso4"
    )]
    KeyFormatMismatch {
        /// The flag that gave the key.
        flag: &'static str,
        /// The format asked for.
        format: Format,
    },

    /// An RSA key was given for format 4: RSA carries the clear 8-byte block
    /// of formats 0 to 3 (the seed flows send format 1).
    #[error(
        "{flag} cannot carry an {format} PIN block: RSA keys carry the clear block of iso0 to iso3"
    )]
    RsaFormat {
        /// The flag that gave the key.
        flag: &'static str,
        /// The format asked for.
        format: Format,
    },

    /// `translate` was given a key on one side only.
    #[error(
        "translate needs a key on both sides (--from-*-key and --to-*-key) or on neither (clear blocks)"
    )]
    TranslateKeys,

    /// PCI PIN rules forbid this translation ([`Format::check_translation`]).
    #[error("translation from {from} to {to} is not allowed: {}", translation_reason(*.from, *.to))]
    Translation {
        /// Source format.
        from: Format,
        /// Target format.
        to: Format,
    },

    /// The PIN was refused (length or non-digit).
    #[error(transparent)]
    Pin(pinset_block::Error),

    /// The PAN was refused (length or non-digit).
    #[error(transparent)]
    Pan(pinset_block::Error),

    /// A hex argument is not even-length hex.
    #[error("{flag} is not valid hex: {problem}")]
    Hex {
        /// The flag whose value was refused.
        flag: &'static str,
        /// What is wrong, without echoing the value.
        problem: &'static str,
    },

    /// A base64 argument is not canonical standard base64 with padding.
    #[error("{flag} is not valid base64 (standard alphabet, with padding)")]
    Base64 {
        /// The flag whose value was refused.
        flag: &'static str,
    },

    /// A key was refused by the envelope layer (wrong length).
    #[error("{flag}: {source}")]
    Key {
        /// The flag that gave the key.
        flag: &'static str,
        /// The envelope error; it names lengths only.
        source: pinset_envelope::Error,
    },

    /// A key file could not be read (missing, unreadable, a directory, or
    /// larger than any key file). The message names the flag, not the path
    /// and never the contents.
    #[error("{flag}: cannot read the key file: {kind}")]
    KeyFile {
        /// The flag that named the file.
        flag: &'static str,
        /// What went wrong.
        kind: std::io::ErrorKind,
    },

    /// An RSA private key file is not an unencrypted PKCS#8 or PKCS#1 key
    /// in PEM or DER.
    #[error("{flag}: RSA private key is not an unencrypted PKCS#8 or PKCS#1 key in PEM or DER")]
    PrivateKeyEncoding {
        /// The flag that named the file.
        flag: &'static str,
    },

    /// RSA key generation or encoding failed after the size was checked.
    #[error("could not generate the RSA key: {0}")]
    Keygen(pinset_envelope::Error),

    /// `rsa-keygen` would overwrite a file.
    #[error("--out: {file} already exists: refusing to overwrite it")]
    OutExists {
        /// The file name inside `--out`.
        file: &'static str,
    },

    /// `rsa-keygen` could not create the `--out` directory.
    #[error("--out: cannot create the directory: {0}")]
    OutDir(std::io::ErrorKind),

    /// `rsa-keygen` could not write a file in `--out`.
    #[error("--out: cannot write {file}: {kind}")]
    Out {
        /// The file name inside `--out`.
        file: &'static str,
        /// What went wrong.
        kind: std::io::ErrorKind,
    },

    /// The block could not be decrypted or decoded. One message whatever the
    /// cause, so the tool is no format oracle.
    #[error(transparent)]
    Undecryptable(#[from] pinset_envelope::Undecryptable),

    /// Sealing failed after every input was checked (should not happen).
    #[error("could not seal the PIN block: {0}")]
    Seal(pinset_envelope::Error),

    /// The PIN could not be read from standard input.
    #[error("could not read the PIN from stdin: {0}")]
    Stdin(std::io::ErrorKind),

    /// The result could not be written to standard output.
    #[error("could not write to stdout: {0}")]
    Stdout(std::io::ErrorKind),

    /// The system random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(getrandom::Error),

    /// A PIN verification parameter (PVKI, decimalisation table, validation
    /// data, offset, length) or the PVK was refused by `pinset-verify`; its
    /// messages name the rule, never the value.
    #[error("{flag}: {source}")]
    Verify {
        /// The flag whose value was refused.
        flag: &'static str,
        /// What is wrong.
        source: pinset_verify::Error,
    },

    /// `--pad` is not one hex character.
    #[error("--pad must be one hex character (0-9, A-F)")]
    Pad,

    /// `ibm3624-pin` was given a `--length` that `--offset` contradicts.
    #[error("--offset has {offset} digits but --length is {length}: they must agree")]
    OffsetLength {
        /// Digits in `--offset`.
        offset: usize,
        /// The `--length` given.
        length: usize,
    },

    /// A KBPK of a length no key block version takes (or, for `tr31 wrap`,
    /// not the one the header's version takes).
    #[error("--kbpk: {expected}, got {found} bytes")]
    KbpkLength {
        /// The lengths allowed, as a phrase.
        expected: &'static str,
        /// The length received.
        found: usize,
    },

    /// The KBPK was refused by `pinset-tr31` (single DES in disguise).
    #[error("--kbpk: {0}")]
    Kbpk(pinset_tr31::KbpkError),

    /// `tr31 wrap` was asked for version A or C.
    #[error(
        "--header: TR-31 version {0} is deprecated and unwrap-only: wrap with version B (TDES KBPK) or D (AES KBPK)"
    )]
    WrapVersion(char),

    /// `tr31 wrap` refused its header or key; the reason names a field or
    /// a rule, never a value.
    #[error("{flag}: {reason}")]
    Wrap {
        /// `--header` or `--key`.
        flag: &'static str,
        /// Why.
        reason: pinset_tr31::Reason,
    },

    /// The key block could not be unwrapped. One message whatever the cause
    /// (wrong KBPK, altered header, key data or MAC, bad length or
    /// syntax), so the tool is no oracle.
    #[error("the key block could not be unwrapped: wrong KBPK, or not a valid TR-31 key block")]
    KeyBlock,

    /// The security module refused or failed. The message is the module's,
    /// which never holds key material or a PIN.
    #[error("{message}")]
    Module {
        /// What the module said.
        message: String,
        /// Whether the command line asked for something impossible (exit 2)
        /// rather than the data or the module failing (exit 1).
        usage: bool,
    },
}

impl CliError {
    /// The process exit status for this error: [`EXIT_USAGE`] or [`EXIT_DATA`].
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_)
            | CliError::PanRequired(_)
            | CliError::KeyRequired { .. }
            | CliError::KeyFormatMismatch { .. }
            | CliError::RsaFormat { .. }
            | CliError::TranslateKeys
            | CliError::Translation { .. }
            | CliError::OffsetLength { .. }
            | CliError::WrapVersion(_) => EXIT_USAGE,
            CliError::Module { usage: true, .. } => EXIT_USAGE,
            CliError::Module { usage: false, .. } => EXIT_DATA,
            CliError::Pin(_)
            | CliError::Pan(_)
            | CliError::Hex { .. }
            | CliError::Base64 { .. }
            | CliError::Key { .. }
            | CliError::KeyFile { .. }
            | CliError::PrivateKeyEncoding { .. }
            | CliError::Keygen(_)
            | CliError::OutExists { .. }
            | CliError::OutDir(_)
            | CliError::Out { .. }
            | CliError::Undecryptable(_)
            | CliError::Seal(_)
            | CliError::Stdin(_)
            | CliError::Stdout(_)
            | CliError::Random(_)
            | CliError::Verify { .. }
            | CliError::Pad
            | CliError::KbpkLength { .. }
            | CliError::Kbpk(_)
            | CliError::Wrap { .. }
            | CliError::KeyBlock => EXIT_DATA,
        }
    }
}

/// The exit status and message a command's result ends with: `(0, "")`
/// when it succeeded. For the unit tests' tables of refusals.
#[cfg(test)]
pub(crate) fn outcome<T>(r: Result<T, CliError>) -> (u8, String) {
    match r {
        Ok(_) => (0, String::new()),
        Err(e) => (e.exit_code(), e.to_string()),
    }
}

/// Why PCI PIN rules refuse a translation, for the one-line message.
fn translation_reason(from: Format, to: Format) -> &'static str {
    if from == Format::Iso2 || to == Format::Iso2 {
        "iso2 is for the ICC's offline PIN only"
    } else {
        "a PAN-bound block (iso0, iso3, iso4) never becomes iso1"
    }
}
