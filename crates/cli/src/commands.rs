//! The PIN block, KCV and RSA commands, and the dispatch of every command
//! (the PIN verification values are in [`crate::verification`], the TR-31
//! key blocks in [`crate::key_block`]). Each returns the one line to print,
//! or a [`CliError`].
//!
//! Checks run in a fixed order: the translation rule and which keys are
//! given, `--pan` presence, then for each side the key kind against the
//! format and the key value (an RSA key file is read here), then the PAN,
//! the block text or the PIN, and last the cryptography.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::path::Path;

use chacha20::ChaCha20Rng;
use pinset_block::rand_core::{CryptoRng, SeedableRng};
use pinset_block::{Format, MAX_PIN_LEN, Pan, Pin};
use pinset_envelope::RsaPrivateKey;
use pinset_envelope::rsa::{MAX_RSA_BITS, MIN_RSA_BITS};
use zeroize::Zeroizing;

use crate::cli::{
    Command, DecodeArgs, EncodeArgs, KcvArgs, PinKeyArgs, ProviderArgs, RsaKeygenArgs, Tr31Command,
    TranslateArgs,
};
use crate::error::CliError;
use crate::keys::{Envelope, KeyFlags, KeySource};
use crate::provider::{Module, ModuleKey};
use crate::{key_block, verification};
use pinset_envelope::RsaPadding;

/// Runs `command`. `stdin` is read only by `--pin -` (`encode`, `pvv`,
/// `ibm3624-offset`).
pub fn run(command: &Command, stdin: &mut dyn Read) -> Result<String, CliError> {
    match command {
        Command::Encode(args) => encode(args, stdin, &mut system_rng()?),
        Command::Decode(args) => decode(args),
        Command::Translate(args) => translate(args, &mut system_rng()?),
        Command::Kcv(args) => kcv(args),
        Command::RsaKeygen(args) => rsa_keygen(args, &mut system_rng()?),
        Command::Pvv(args) => verification::pvv(args, stdin),
        Command::Ibm3624Offset(args) => verification::ibm3624_offset_command(args, stdin),
        Command::Ibm3624Pin(args) => verification::ibm3624_pin(args),
        Command::Tr31(Tr31Command::Wrap(args)) => key_block::wrap(args, &mut system_rng()?),
        Command::Tr31(Tr31Command::Unwrap(args)) => key_block::unwrap(args),
    }
}

/// A ChaCha20 generator seeded once from the operating system.
pub fn system_rng() -> Result<ChaCha20Rng, CliError> {
    ChaCha20Rng::try_from_rng(&mut getrandom::SysRng).map_err(CliError::Random)
}

/// The key (TDES, AES, RSA or none) and the PAN that `encode` and `decode`
/// share: flags are checked against each other and the format before any
/// key file is read or value parsed.
fn envelope_and_pan(
    format: Format,
    key: &PinKeyArgs,
    rsa: Option<KeySource<'_>>,
    pan: Option<&str>,
) -> Result<(Envelope, Option<Pan>), CliError> {
    let source = KeySource::from_flags(
        KeyFlags::PLAIN,
        key.tdes_key.as_deref(),
        key.aes_key.as_deref(),
    )?
    .or_rsa(KeyFlags::PLAIN, rsa)?;
    require_pan(pan, format.is_pan_bound().then_some(format))?;
    let envelope = Envelope::resolve(source, KeyFlags::PLAIN, format)?;
    Ok((envelope, read_pan(pan)?))
}

/// `pinblock encode`: the block, in `--encoding`.
pub fn encode<R: CryptoRng + ?Sized>(
    args: &EncodeArgs,
    stdin: &mut dyn Read,
    rng: &mut R,
) -> Result<String, CliError> {
    let format = args.format;
    if let Some(key) = module_pin_key(&args.provider, &args.key)? {
        require_pan(args.pan.as_deref(), format.is_pan_bound().then_some(format))?;
        let module = Module::open(&args.provider)?;
        let handle = module.key(key)?;
        let pan = read_pan(args.pan.as_deref())?;
        let pin = read_pin(&args.pin, stdin)?;
        let sealed = module.seal(&handle, format, &pin, pan.as_ref(), rng)?;
        return Ok(args.encoding.render(sealed.as_bytes()));
    }
    let rsa = args
        .rsa_public_key
        .as_deref()
        .map(|file| KeySource::RsaPublic(file, args.padding.into()));
    let (envelope, pan) = envelope_and_pan(format, &args.key, rsa, args.pan.as_deref())?;
    let pin = read_pin(&args.pin, stdin)?;
    let sealed = envelope.seal(format, &pin, pan.as_ref(), rng)?;
    Ok(args.encoding.render(sealed.as_bytes()))
}

/// `pinblock decode`: the PIN.
pub fn decode(args: &DecodeArgs) -> Result<String, CliError> {
    let format = args.format;
    let rsa_key = match (&args.rsa_private_key, &args.rsa_private_key_label) {
        (_, Some(label)) => Some(ModuleKey::RsaLabel("--rsa-private-key-label", label)),
        (Some(file), None) if !args.provider.is_default() => {
            Some(ModuleKey::RsaFile(KeyFlags::RSA_PRIVATE, file))
        }
        _ => None,
    };
    let module_key = match rsa_key {
        Some(key) => Some(key),
        None => module_pin_key(&args.provider, &args.key)?,
    };
    if let Some(key) = module_key {
        require_pan(args.pan.as_deref(), format.is_pan_bound().then_some(format))?;
        let module = Module::open(&args.provider)?;
        let handle = module.key(key)?;
        let pan = read_pan(args.pan.as_deref())?;
        let block = args.encoding.parse("--block", &args.block)?;
        let padding = rsa_key.map(|_| RsaPadding::from(args.padding));
        let pin = module.reveal(
            &handle,
            padding,
            format,
            &block,
            pan.as_ref(),
            &mut system_rng()?,
        )?;
        return Ok(digits(&pin));
    }
    let rsa = args
        .rsa_private_key
        .as_deref()
        .map(|file| KeySource::RsaPrivate(file, args.padding.into()));
    let (envelope, pan) = envelope_and_pan(format, &args.key, rsa, args.pan.as_deref())?;
    let block = args.encoding.parse("--block", &args.block)?;
    let pin = envelope.open(format, &block, pan.as_ref())?;
    Ok(digits(&pin))
}

/// The PIN's digits, to print.
fn digits(pin: &Pin) -> String {
    pin.expose_digits()
        .iter()
        .copied()
        .map(char::from)
        .collect()
}

/// The TDES or AES key of `encode` or `decode` for a security module, or
/// `None` when the command runs as it always has (software provider, keys in hex).
fn module_pin_key<'a>(
    provider: &ProviderArgs,
    key: &'a PinKeyArgs,
) -> Result<Option<ModuleKey<'a>>, CliError> {
    if provider.is_default() && !key.has_label() {
        return Ok(None);
    }
    Ok(
        match (
            key.tdes_key.as_deref(),
            key.aes_key.as_deref(),
            key.tdes_key_label.as_deref(),
            key.aes_key_label.as_deref(),
        ) {
            (Some(hex), ..) => Some(ModuleKey::TdesHex(KeyFlags::PLAIN.tdes, hex)),
            (_, Some(hex), ..) => Some(ModuleKey::AesHex(KeyFlags::PLAIN.aes, hex)),
            (_, _, Some(label), _) => Some(ModuleKey::TdesLabel("--tdes-key-label", label)),
            (_, _, _, Some(label)) => Some(ModuleKey::AesLabel("--aes-key-label", label)),
            // A clear block needs no module.
            _ => None,
        },
    )
}

/// `pinblock translate`: the new block, in `--encoding`.
///
/// Keys on both sides, or on neither (clear to clear, formats 0 to 3); a
/// key on one side only is refused. The PCI rule
/// ([`Format::check_translation`]) is checked before anything else.
pub fn translate<R: CryptoRng + ?Sized>(
    args: &TranslateArgs,
    rng: &mut R,
) -> Result<String, CliError> {
    let (from, to) = (args.from, args.to);
    from.check_translation(to)
        .map_err(|_| CliError::Translation { from, to })?;
    let labels = [
        &args.from_tdes_key_label,
        &args.from_aes_key_label,
        &args.to_tdes_key_label,
        &args.to_aes_key_label,
    ];
    if !args.provider.is_default() || labels.iter().any(|l| l.is_some()) {
        return translate_in_module(args);
    }
    let from_source = KeySource::from_flags(
        KeyFlags::FROM,
        args.from_tdes_key.as_deref(),
        args.from_aes_key.as_deref(),
    )?;
    let to_source = KeySource::from_flags(
        KeyFlags::TO,
        args.to_tdes_key.as_deref(),
        args.to_aes_key.as_deref(),
    )?;
    if from_source.is_clear() != to_source.is_clear() {
        return Err(CliError::TranslateKeys);
    }
    let pan_bound = [from, to].into_iter().find(|f| f.is_pan_bound());
    require_pan(args.pan.as_deref(), pan_bound)?;
    let from_envelope = Envelope::resolve(from_source, KeyFlags::FROM, from)?;
    let to_envelope = Envelope::resolve(to_source, KeyFlags::TO, to)?;
    let pan = read_pan(args.pan.as_deref())?;
    let block = args.encoding.parse("--block", &args.block)?;
    let pin = from_envelope.open(from, &block, pan.as_ref())?;
    let sealed = to_envelope.seal(to, &pin, pan.as_ref(), rng)?;
    Ok(args.encoding.render(sealed.as_bytes()))
}

/// One side's key of `translate` for a module: hex or token label.
fn module_side<'a>(
    flags: KeyFlags,
    hex: (&'a Option<String>, &'a Option<String>),
    labels: [(&'static str, &'a Option<String>); 2],
) -> Result<ModuleKey<'a>, CliError> {
    match (hex, labels) {
        ((Some(hex), _), _) => Ok(ModuleKey::TdesHex(flags.tdes, hex)),
        ((_, Some(hex)), _) => Ok(ModuleKey::AesHex(flags.aes, hex)),
        (_, [(flag, Some(label)), _]) => Ok(ModuleKey::TdesLabel(flag, label)),
        (_, [_, (flag, Some(label))]) => Ok(ModuleKey::AesLabel(flag, label)),
        _ => Err(CliError::TranslateKeys),
    }
}

/// `translate` through the security module `--provider` names.
fn translate_in_module(args: &TranslateArgs) -> Result<String, CliError> {
    let from_key = module_side(
        KeyFlags::FROM,
        (&args.from_tdes_key, &args.from_aes_key),
        [
            ("--from-tdes-key-label", &args.from_tdes_key_label),
            ("--from-aes-key-label", &args.from_aes_key_label),
        ],
    )?;
    let to_key = module_side(
        KeyFlags::TO,
        (&args.to_tdes_key, &args.to_aes_key),
        [
            ("--to-tdes-key-label", &args.to_tdes_key_label),
            ("--to-aes-key-label", &args.to_aes_key_label),
        ],
    )?;
    let pan_bound = [args.from, args.to].into_iter().find(|f| f.is_pan_bound());
    require_pan(args.pan.as_deref(), pan_bound)?;
    let module = Module::open(&args.provider)?;
    let from = module.key(from_key)?;
    let to = module.key(to_key)?;
    let pan = read_pan(args.pan.as_deref())?;
    let block = args.encoding.parse("--block", &args.block)?;
    let sealed =
        module.translate_block((&from, args.from), (&to, args.to), &block, pan.as_ref())?;
    Ok(args.encoding.render(sealed.as_bytes()))
}

/// `pinblock kcv`: 6 uppercase hex digits.
pub fn kcv(args: &KcvArgs) -> Result<String, CliError> {
    let source = KeySource::from_flags(
        KeyFlags::PLAIN,
        args.tdes_key.as_deref(),
        args.aes_key.as_deref(),
    )?;
    match source.parse(KeyFlags::PLAIN)? {
        Some(key) => Ok(key.kcv().to_string()),
        None => Err(CliError::Usage(format!(
            "kcv needs {} or {}",
            KeyFlags::PLAIN.tdes,
            KeyFlags::PLAIN.aes
        ))),
    }
}

/// The files `rsa-keygen` writes into `--out`, in the order written.
pub const KEYGEN_FILES: [&str; 3] = ["private.pem", "public.der", "public.pem"];

/// `pinblock rsa-keygen`: `RSA-<bits> key written to <DIR> (fingerprint <16 hex>)`.
///
/// Writes `private.pem` (PKCS#8 PEM; mode 0600 on Unix), `public.der` (DER
/// SubjectPublicKeyInfo) and `public.pem` (PEM SubjectPublicKeyInfo) into
/// `--out`, creating it (mode 0700 on Unix) if need be. None of the three
/// may exist already: nothing is overwritten, and the check runs before the
/// key is generated. The fingerprint is the first 8 bytes of SHA-256 over
/// `public.der`. If a write fails, the files written so far are removed.
pub fn rsa_keygen<R: CryptoRng + ?Sized>(
    args: &RsaKeygenArgs,
    rng: &mut R,
) -> Result<String, CliError> {
    let bits = args.bits;
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(CliError::Key {
            flag: "--bits",
            source: pinset_envelope::Error::RsaKeySize { bits },
        });
    }
    let dir = args.out.as_path();
    create_private_dir(dir).map_err(|e| CliError::OutDir(e.kind()))?;
    if let Some(file) = KEYGEN_FILES
        .into_iter()
        .find(|file| fs::symlink_metadata(dir.join(file)).is_ok())
    {
        return Err(CliError::OutExists { file });
    }

    let key = RsaPrivateKey::generate(bits, rng).map_err(CliError::Keygen)?;
    let private_pem = key.to_pkcs8_pem().map_err(CliError::Keygen)?;
    let public = key.public_key();
    let public_der = public.to_der();
    let public_pem = public.to_pem();
    let contents: [(&[u8], bool); 3] = [
        (private_pem.as_bytes(), true),
        (&public_der, false),
        (public_pem.as_bytes(), false),
    ];
    for (done, (file, (bytes, private))) in KEYGEN_FILES.into_iter().zip(contents).enumerate() {
        if let Err(e) = write_new(&dir.join(file), bytes, private) {
            // Only what this run created: a file that appeared meanwhile is not ours.
            if e.kind() != ErrorKind::AlreadyExists {
                let _ = fs::remove_file(dir.join(file));
            }
            for written in &KEYGEN_FILES[..done] {
                let _ = fs::remove_file(dir.join(written));
            }
            return Err(match e.kind() {
                ErrorKind::AlreadyExists => CliError::OutExists { file },
                kind => CliError::Out { file, kind },
            });
        }
    }
    Ok(format!(
        "RSA-{} key written to {} (fingerprint {})",
        key.bits(),
        dir.display(),
        public.fingerprint()
    ))
}

/// Creates `dir` and its missing parents; new directories get mode 0700 on Unix.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Writes `bytes` to a new file at `path`, failing if anything is there
/// already (a dangling symlink included). A private file gets mode 0600 on
/// Unix from the moment it exists, never wider.
fn write_new(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Refuses a missing `--pan` when `needed_by` names a PAN-bound format.
fn require_pan(text: Option<&str>, needed_by: Option<Format>) -> Result<(), CliError> {
    match (text, needed_by) {
        (None, Some(format)) => Err(CliError::PanRequired(format)),
        _ => Ok(()),
    }
}

/// Parses `--pan` when given: it is checked even when the format ignores it.
fn read_pan(text: Option<&str>) -> Result<Option<Pan>, CliError> {
    text.map(Pan::new).transpose().map_err(CliError::Pan)
}

/// The PIN from `--pin`, or from stdin when it is `-`.
///
/// From stdin, one trailing `\n` or `\r\n` is dropped and nothing else is
/// trimmed. At most a few bytes more than the longest PIN are read: more is
/// refused as too long without reading the rest.
pub(crate) fn read_pin(arg: &str, stdin: &mut dyn Read) -> Result<Pin, CliError> {
    if arg != "-" {
        return Pin::new(arg).map_err(CliError::Pin);
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_PIN_LEN + 3));
    stdin
        .take(MAX_PIN_LEN as u64 + 3)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::Stdin(e.kind()))?;
    let line = buf
        .strip_suffix(b"\r\n")
        .or_else(|| buf.strip_suffix(b"\n"))
        .unwrap_or(&buf);
    Pin::from_ascii(line).map_err(CliError::Pin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Encoding, Padding, PinKeyArgs};
    use crate::error::{EXIT_DATA, EXIT_USAGE, outcome};

    /// The published KCV test key (KCV 08D7B4, shared/vectors/iso9564.json).
    /// jPOS's own ZPK is single DES and refused, so its clear blocks
    /// (0412719876FEDCBA, 14123444B4B2B43F) were enciphered under this key by
    /// OpenSSL 3.0.19 (`openssl enc -des-ede-ecb -nopad`): E5639CBC7EC0B4CA
    /// and 0338CA145342C977.
    const TEST_KEY: &str = "0123456789ABCDEFFEDCBA9876543210";

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(9564)
    }

    fn key(tdes: Option<&str>, aes: Option<&str>) -> PinKeyArgs {
        PinKeyArgs {
            tdes_key: tdes.map(String::from),
            aes_key: aes.map(String::from),
            ..PinKeyArgs::default()
        }
    }

    fn enc(format: Format, pin: &str, pan: Option<&str>, key: PinKeyArgs) -> EncodeArgs {
        EncodeArgs {
            format,
            pin: pin.to_owned(),
            pan: pan.map(String::from),
            key,
            rsa_public_key: None,
            padding: Padding::default(),
            encoding: Encoding::Hex,
            provider: ProviderArgs::default(),
        }
    }

    fn dec(format: Format, block: &str, pan: Option<&str>, key: PinKeyArgs) -> DecodeArgs {
        DecodeArgs {
            format,
            block: block.to_owned(),
            pan: pan.map(String::from),
            key,
            rsa_private_key: None,
            rsa_private_key_label: None,
            padding: Padding::default(),
            encoding: Encoding::Hex,
            provider: ProviderArgs::default(),
        }
    }

    fn tr(from: Format, to: Format, block: &str, pan: Option<&str>) -> TranslateArgs {
        TranslateArgs {
            from,
            to,
            block: block.to_owned(),
            pan: pan.map(String::from),
            from_tdes_key: None,
            from_aes_key: None,
            to_tdes_key: None,
            to_aes_key: None,
            from_tdes_key_label: None,
            from_aes_key_label: None,
            to_tdes_key_label: None,
            to_aes_key_label: None,
            encoding: Encoding::Hex,
            provider: ProviderArgs::default(),
        }
    }

    fn encode_str(args: &EncodeArgs) -> Result<String, CliError> {
        encode(args, &mut std::io::empty(), &mut rng())
    }

    #[test]
    fn format0_clear_vector() {
        // moov-io/pinblock formats/iso0_test.go
        let args = enc(
            Format::Iso0,
            "1234",
            Some("5432101234567891"),
            key(None, None),
        );
        assert_eq!(encode_str(&args).ok().as_deref(), Some("041215FEDCBA9876"));
        let args = dec(
            Format::Iso0,
            "041215FEDCBA9876",
            Some("5432101234567891"),
            key(None, None),
        );
        assert_eq!(decode(&args).ok().as_deref(), Some("1234"));
    }

    #[test]
    fn format0_tdes_vector() {
        // jPOS JCESecurityModuleTest clear block under TEST_KEY (see the constant).
        let args = enc(
            Format::Iso0,
            "1234",
            Some("1234567890123456"),
            key(Some(TEST_KEY), None),
        );
        assert_eq!(encode_str(&args).ok().as_deref(), Some("E5639CBC7EC0B4CA"));
        let mut args = dec(
            Format::Iso0,
            "5WOcvH7AtMo=",
            Some("1234567890123456"),
            key(Some(TEST_KEY), None),
        );
        args.encoding = Encoding::Base64;
        assert_eq!(decode(&args).ok().as_deref(), Some("1234"));
    }

    #[test]
    fn format4_vector() {
        // psec tests/test_pinblock.py
        let args = dec(
            Format::Iso4,
            "28B41FDDD29B743E93124BD8E32D921E",
            Some("1234567890123456789"),
            key(None, Some("00112233445566778899AABBCCDDEEFF")),
        );
        assert_eq!(decode(&args).ok().as_deref(), Some("1234"));
    }

    #[test]
    fn pin_from_stdin_strips_one_newline() {
        let args = enc(Format::Iso2, "-", None, key(None, None));
        // psec tests/test_pinblock.py: format 2 of 1234 is 241234FFFFFFFFFF.
        for input in [&b"1234"[..], b"1234\n", b"1234\r\n"] {
            let got = encode(&args, &mut &input[..], &mut rng());
            assert_eq!(got.ok().as_deref(), Some("241234FFFFFFFFFF"), "{input:?}");
        }
        for input in [
            &b"1234\n\n"[..],
            b"1234\r",
            b" 1234",
            b"",
            b"\n",
            b"12345678901234567890",
        ] {
            let (code, m) = outcome(encode(&args, &mut &input[..], &mut rng()));
            assert_eq!(code, EXIT_DATA, "{input:?}");
            assert!(m.starts_with("PIN must"), "{input:?}: {m}");
        }
    }

    #[test]
    fn random_formats_round_trip_through_every_key_kind() {
        let pan = Some("5141576351968605");
        let tdes = key(
            Some("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861"),
            None,
        );
        let aes = key(
            None,
            Some("000102030405060708090A0B0C0D0E0F1011121314151617"),
        );
        for (format, k) in [
            (Format::Iso1, key(None, None)),
            (Format::Iso3, key(None, None)),
            (Format::Iso1, tdes),
            (Format::Iso4, aes),
        ] {
            let args = enc(format, "75801234", pan, k);
            let block = encode_str(&args);
            let block = block.as_deref().unwrap_or("");
            let back = dec(format, block, pan, args.key);
            assert_eq!(decode(&back).ok().as_deref(), Some("75801234"), "{format}");
        }
    }

    #[test]
    fn translate_iso1_to_iso0_and_refusals() {
        // jPOS JCESecurityModuleTest clear format 1 block of 1234, under TEST_KEY (see the constant).
        let zpk = "E6F1081FEA4C402CC192B65DE367EC3E";
        let mut args = tr(
            Format::Iso1,
            Format::Iso0,
            "0338CA145342C977",
            Some("5141576351968605"),
        );
        args.from_tdes_key = Some(TEST_KEY.into());
        args.to_tdes_key = Some(zpk.into());
        let out = translate(&args, &mut rng());
        let out = out.as_deref().unwrap_or("");
        let back = dec(
            Format::Iso0,
            out,
            Some("5141576351968605"),
            key(Some(zpk), None),
        );
        assert_eq!(decode(&back).ok().as_deref(), Some("1234"));

        // PCI: a PAN-bound block never becomes format 1, checked before any key.
        let refused = tr(Format::Iso0, Format::Iso1, "0338CA145342C977", None);
        assert_eq!(
            outcome(translate(&refused, &mut rng())),
            (
                EXIT_USAGE,
                "translation from iso0 to iso1 is not allowed: a PAN-bound block (iso0, iso3, iso4) never becomes iso1".into()
            )
        );

        // A key on one side only.
        let mut one_sided = tr(
            Format::Iso1,
            Format::Iso0,
            "0338CA145342C977",
            Some("5141576351968605"),
        );
        one_sided.from_tdes_key = Some(TEST_KEY.into());
        assert_eq!(outcome(translate(&one_sided, &mut rng())).0, EXIT_USAGE);

        // Clear to clear: jPOS's clear format 1 block 14123444B4B2B43F.
        let clear = tr(
            Format::Iso1,
            Format::Iso0,
            "14123444B4B2B43F",
            Some("5432101234567891"),
        );
        // moov-io/pinblock formats/iso0_test.go: format 0 of 1234 with this PAN.
        assert_eq!(
            translate(&clear, &mut rng()).ok().as_deref(),
            Some("041215FEDCBA9876")
        );
    }

    #[test]
    fn undecryptable_is_one_message() {
        let pan = Some("1234567890123456");
        let want = (
            EXIT_DATA,
            "the PIN block could not be decrypted or is not a valid PIN block".to_owned(),
        );
        // Flipped byte, wrong key, wrong length, wrong PAN, wrong format.
        for (format, block, k, pan) in [
            (Format::Iso0, "E5639CBC7EC0B4CB", TEST_KEY, pan),
            (
                Format::Iso0,
                "E5639CBC7EC0B4CA",
                "E6F1081FEA4C402CC192B65DE367EC3E",
                pan,
            ),
            (Format::Iso0, "E5639CBC7EC0B4", TEST_KEY, pan),
            (
                Format::Iso0,
                "E5639CBC7EC0B4CAE5639CBC7EC0B4CA",
                TEST_KEY,
                pan,
            ),
            (
                Format::Iso0,
                "E5639CBC7EC0B4CA",
                TEST_KEY,
                Some("1234567890123466"),
            ),
            (Format::Iso3, "E5639CBC7EC0B4CA", TEST_KEY, pan),
        ] {
            assert_eq!(
                outcome(decode(&dec(format, block, pan, key(Some(k), None)))),
                want,
                "{block}"
            );
        }
        // Clear blocks too: a control field of 2 read as format 0 (psec tests/test_pinblock.py).
        let args = dec(
            Format::Iso0,
            "241261AAAAEDCBA9",
            Some("5555555551234567"),
            key(None, None),
        );
        assert_eq!(outcome(decode(&args)), want);
    }

    #[test]
    fn usage_errors() {
        let cases: [(Result<String, CliError>, &str); 5] = [
            (
                encode_str(&enc(
                    Format::Iso4,
                    "1234",
                    Some("5141576351968605"),
                    key(None, None),
                )),
                "iso4 needs an AES key: give --aes-key",
            ),
            (
                encode_str(&enc(
                    Format::Iso4,
                    "1234",
                    Some("5141576351968605"),
                    key(Some(TEST_KEY), None),
                )),
                "--tdes-key cannot carry an iso4 PIN block: TDES keys carry iso0 to iso3, AES keys carry iso4",
            ),
            (
                encode_str(&enc(
                    Format::Iso0,
                    "1234",
                    Some("5141576351968605"),
                    key(None, Some(TEST_KEY)),
                )),
                "--aes-key cannot carry an iso0 PIN block: TDES keys carry iso0 to iso3, AES keys carry iso4",
            ),
            (
                encode_str(&enc(Format::Iso3, "1234", None, key(None, None))),
                "iso3 binds the PAN: --pan is required",
            ),
            (
                encode_str(&enc(
                    Format::Iso0,
                    "1234",
                    Some("5141576351968605"),
                    key(Some(TEST_KEY), Some(TEST_KEY)),
                )),
                "the argument '--tdes-key' cannot be used with '--aes-key'",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(outcome(got), (EXIT_USAGE, want.to_owned()));
        }
    }

    #[test]
    fn data_errors_name_flags_not_values() {
        let pan = Some("5141576351968605");
        let cases: [(Result<String, CliError>, &str); 5] = [
            (
                encode_str(&enc(Format::Iso0, "123", pan, key(None, None))),
                "PIN must have 4 to 12 digits",
            ),
            (
                encode_str(&enc(Format::Iso0, "12a4", pan, key(None, None))),
                "PIN must hold only the digits 0-9",
            ),
            (
                encode_str(&enc(
                    Format::Iso0,
                    "1234",
                    Some("51415763519686051234"),
                    key(None, None),
                )),
                "PAN must have 12 to 19 digits",
            ),
            (
                encode_str(&enc(
                    Format::Iso0,
                    "1234",
                    pan,
                    key(Some(&TEST_KEY[2..]), None),
                )),
                "--tdes-key: TDES key must be 16 or 24 bytes, got 15",
            ),
            (
                decode(&dec(Format::Iso0, "041215FEDCBA987G", pan, key(None, None))),
                "--block is not valid hex: only the digits 0-9 and A-F (either case) are allowed",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(outcome(got), (EXIT_DATA, want.to_owned()));
        }
    }

    /// OpenSSL 3.0.19 fixtures (crates/envelope/tests/data/README.md).
    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../envelope/tests/data")
            .join(name)
    }

    #[test]
    fn rsa_round_trip_and_refusals_without_clap() {
        let pan = Some("5432101234567891");
        let public = fixture("rsa2048_pub_spki.der");
        let private = fixture("rsa2048_pkcs1.pem");
        for padding in [Padding::OaepSha256, Padding::OaepSha1, Padding::Pkcs1v15] {
            let mut args = enc(Format::Iso0, "1234", pan, key(None, None));
            args.rsa_public_key = Some(public.clone());
            args.padding = padding;
            let block = encode_str(&args).unwrap_or_default();
            assert_eq!(block.len(), 512);
            let mut back = dec(Format::Iso0, &block, pan, key(None, None));
            back.rsa_private_key = Some(private.clone());
            back.padding = padding;
            assert_eq!(decode(&back).ok().as_deref(), Some("1234"), "{padding:?}");
        }

        // A symmetric key and an RSA key file at once, as clap would refuse.
        let mut both = enc(Format::Iso1, "1234", None, key(Some(TEST_KEY), None));
        both.rsa_public_key = Some(public.clone());
        assert_eq!(
            outcome(encode_str(&both)),
            (
                EXIT_USAGE,
                "the argument '--rsa-public-key' cannot be used with '--tdes-key'".into()
            )
        );
        // Format 4 is refused before the key file is read.
        let mut iso4 = dec(Format::Iso4, "00", pan, key(None, None));
        iso4.rsa_private_key = Some(fixture("no-such-file.pem"));
        assert_eq!(
            outcome(decode(&iso4)),
            (
                EXIT_USAGE,
                "--rsa-private-key cannot carry an iso4 PIN block: RSA keys carry the clear block of iso0 to iso3".into()
            )
        );
        // A TDES-enciphered format 0 block is no RSA cryptogram.
        let mut wrong = dec(Format::Iso0, "E5639CBC7EC0B4CA", pan, key(None, None));
        wrong.rsa_private_key = Some(private);
        assert_eq!(
            outcome(decode(&wrong)),
            (
                EXIT_DATA,
                "the PIN block could not be decrypted or is not a valid PIN block".into()
            )
        );
    }

    #[test]
    fn rsa_keygen_checks_bits_before_touching_the_disk() {
        let out = std::env::temp_dir().join(format!("pinblock-unit-keygen-{}", std::process::id()));
        for bits in [0, 1024, 2047, 4097, 8192] {
            let args = RsaKeygenArgs {
                bits,
                out: out.clone(),
            };
            let (code, m) = outcome(rsa_keygen(&args, &mut rng()));
            assert_eq!(code, EXIT_DATA);
            assert_eq!(
                m,
                format!("--bits: RSA key must be 2048 to 4096 bits, got {bits}")
            );
        }
        assert!(!out.exists());
    }

    #[test]
    fn kcv_vectors() {
        // ANSI X9.24-1:2017 (as in shared/vectors/iso9564.json) and the Mastercard sandbox ZPK.
        for (tdes, aes, want) in [
            (Some("0123456789ABCDEFFEDCBA9876543210"), None, "08D7B4"),
            (
                Some("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861"),
                None,
                "F3BF3A",
            ),
            (None, Some("00112233445566778899aabbccddeeff"), "53E107"),
        ] {
            let args = KcvArgs {
                tdes_key: tdes.map(String::from),
                aes_key: aes.map(String::from),
            };
            assert_eq!(kcv(&args).ok().as_deref(), Some(want));
        }
    }
}
