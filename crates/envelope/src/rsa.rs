//! RSA envelopes: PIN blocks and key transport under RSA.
//!
//! The private-key operation sits behind [`RsaDecryptor`], so an HSM or a
//! faster backend can replace the software [`RsaPrivateKey`] without touching
//! the layers above.
//!
//! # Marvin (RUSTSEC-2023-0071)
//!
//! The software backend is `rsa` 0.10 (pinned release candidate): constant-time
//! `crypto-bigint` arithmetic, blinding on every decryption, and implicit
//! rejection for PKCS#1 v1.5. With implicit rejection a bad padding gives a
//! random plaintext instead of an error, so the PIN-block decode after it is
//! the real check, and every failure folds into one outward error.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pinset_block::{ClearBlock, Format, Pan, Pin, decode_clear, encode_clear};
use pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::CryptoRng;
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, Pkcs1v15Encrypt};
use sha2::{Digest, Sha256};
use spki::{DecodePublicKey, EncodePublicKey};
use zeroize::Zeroizing;

use crate::{AesKey, Error, TdesKey};

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits.
pub const MAX_RSA_BITS: usize = 4096;

/// The RSA encryption padding. A setting, per key or per call: Mastercard
/// Processing does not publish the one it uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RsaPadding {
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256, empty label. The default, and Enfuce's tzpk wrap.
    #[default]
    OaepSha256,
    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1, empty label.
    OaepSha1,
    /// RSAES-PKCS1-v1_5. Legacy: decryption uses implicit rejection.
    Pkcs1v15,
}

impl RsaPadding {
    /// All paddings.
    pub const ALL: [RsaPadding; 3] = [
        RsaPadding::OaepSha256,
        RsaPadding::OaepSha1,
        RsaPadding::Pkcs1v15,
    ];

    /// The name it parses from: `oaep-sha256`, `oaep-sha1` or `pkcs1v15`.
    pub const fn name(self) -> &'static str {
        match self {
            RsaPadding::OaepSha256 => "oaep-sha256",
            RsaPadding::OaepSha1 => "oaep-sha1",
            RsaPadding::Pkcs1v15 => "pkcs1v15",
        }
    }
}

impl fmt::Display for RsaPadding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RsaPadding {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        RsaPadding::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or(Error::UnknownPadding)
    }
}

/// An RSA public key of 2048 to 4096 bits.
///
/// Reads every form the seed APIs use: DER or PEM SubjectPublicKeyInfo,
/// PKCS#1 DER or PEM, hex of DER (Mastercard Processing's `publicRsaKey`)
/// and base64 of DER (Enfuce's `publicKey`, and MP's PEM body).
///
/// ```
/// use pinset_envelope::RsaPublicKey;
///
/// # let der = pinset_envelope::RsaPrivateKey::from_pem(include_str!("../tests/data/rsa2048.pem"))?.public_key().to_der();
/// let key = RsaPublicKey::from_der(&der)?;
/// assert_eq!(key.bits(), 2048);
/// assert_eq!(RsaPublicKey::from_hex(&key.to_hex())?, key);       // MP form
/// assert_eq!(RsaPublicKey::from_base64(&key.to_base64())?, key); // Enfuce form
/// assert_eq!(RsaPublicKey::from_pem(&key.to_pem())?, key);
/// # Ok::<(), pinset_envelope::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey(rsa::RsaPublicKey);

impl RsaPublicKey {
    /// Reads DER: SubjectPublicKeyInfo, or else a PKCS#1 `RSAPublicKey`.
    ///
    /// # Errors
    ///
    /// The size and the public exponent are read from the DER first, so a
    /// well-formed key outside the rules gets its own error:
    /// [`Error::RsaKeySize`] unless the modulus has 2048 to 4096 bits,
    /// [`Error::RsaPublicExponent`] unless the exponent is odd and at least
    /// 65537, and [`Error::RsaKeyEncoding`] for anything that is no RSA key.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        check_public_der(der)?;
        rsa::RsaPublicKey::from_public_key_der(der)
            .or_else(|_| rsa::RsaPublicKey::from_pkcs1_der(der))
            .map(RsaPublicKey)
            .map_err(|_| Error::RsaKeyEncoding)
    }

    /// Reads PEM: `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1).
    ///
    /// # Errors
    ///
    /// As [`from_der`](Self::from_der), and [`Error::RsaKeyEncoding`] for text that is no PEM.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let (label, der) = pkcs1::der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|_| Error::RsaKeyEncoding)?;
        match label {
            "PUBLIC KEY" | "RSA PUBLIC KEY" => Self::from_der(&der),
            _ => Err(Error::RsaKeyEncoding),
        }
    }

    /// Reads hex of DER, in either case: Mastercard Processing's default `publicRsaKey`.
    pub fn from_hex(hex_der: &str) -> Result<Self, Error> {
        let der = hex::decode(hex_der.trim()).map_err(|_| Error::RsaKeyEncoding)?;
        Self::from_der(&der)
    }

    /// Reads base64 of DER, ignoring line breaks: Enfuce's `publicKey`, and
    /// Mastercard Processing's PEM body without its BEGIN/END lines.
    pub fn from_base64(b64_der: &str) -> Result<Self, Error> {
        let compact: String = b64_der
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect();
        let der = BASE64.decode(compact).map_err(|_| Error::RsaKeyEncoding)?;
        Self::from_der(&der)
    }

    /// Reads any of the accepted forms, detecting which: PEM, DER, hex or base64.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        match detect(bytes) {
            Encoding::Pem(text) => Self::from_pem(text),
            Encoding::Der => Self::from_der(bytes),
            Encoding::Hex(text) => Self::from_hex(text),
            Encoding::Base64(text) => Self::from_base64(text),
        }
    }

    /// DER SubjectPublicKeyInfo.
    pub fn to_der(&self) -> Vec<u8> {
        // An in-range RSA key always encodes; an empty vector would fail every parse loudly.
        self.0
            .to_public_key_der()
            .map(|d| d.into_vec())
            .unwrap_or_default()
    }

    /// Uppercase hex of the DER SubjectPublicKeyInfo (Mastercard Processing's default).
    pub fn to_hex(&self) -> String {
        hex::encode_upper(self.to_der())
    }

    /// Base64 of the DER SubjectPublicKeyInfo (Enfuce's form; MP's PEM body).
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.to_der())
    }

    /// PEM `PUBLIC KEY` with LF line endings.
    pub fn to_pem(&self) -> String {
        self.0.to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        modulus_bits(&self.0)
    }

    /// The first 8 bytes of SHA-256 over the DER, as hex: names the key in logs.
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(self.fingerprint_bytes())
    }

    /// The first 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo.
    pub fn fingerprint_bytes(&self) -> [u8; 8] {
        let digest = Sha256::digest(self.to_der());
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        out
    }

    /// Encrypts `msg` under this key. Prefer [`seal`](Self::seal) and [`wrap_key`](Self::wrap_key).
    fn encrypt<R: CryptoRng + ?Sized>(
        &self,
        padding: RsaPadding,
        msg: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        match padding {
            RsaPadding::OaepSha256 => self.0.encrypt(rng, Oaep::<Sha256>::new(), msg),
            RsaPadding::OaepSha1 => self.0.encrypt(rng, Oaep::<sha1::Sha1>::new(), msg),
            RsaPadding::Pkcs1v15 => self.0.encrypt(rng, Pkcs1v15Encrypt, msg),
        }
        .map_err(|_| Error::RsaEncryption)
    }

    /// Device side: encodes `pin` as an 8-byte clear block of `format` (0 to
    /// 3; both seed flows use 1) and encrypts it under this key.
    pub fn seal<R: CryptoRng + ?Sized>(
        &self,
        format: Format,
        pin: &Pin,
        pan: Option<&Pan>,
        padding: RsaPadding,
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        let clear = encode_clear(format, pin, pan, rng)?;
        self.encrypt(padding, clear.expose_bytes(), rng)
    }

    /// Issuer side: wraps a symmetric key (such as Enfuce's tzpk) for the holder of the private key.
    pub fn wrap_key<R: CryptoRng + ?Sized>(
        &self,
        key: &impl WrappableKey,
        padding: RsaPadding,
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        self.encrypt(padding, key.key_bytes(), rng)
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.bits())
            .field("fingerprint", &self.fingerprint())
            .finish()
    }
}

/// A symmetric key that may travel wrapped under RSA.
pub trait WrappableKey {
    /// The bytes to wrap.
    fn key_bytes(&self) -> &[u8];
}

impl WrappableKey for TdesKey {
    fn key_bytes(&self) -> &[u8] {
        self.expose_bytes()
    }
}

impl WrappableKey for AesKey {
    fn key_bytes(&self) -> &[u8] {
        self.expose_bytes()
    }
}

/// The RSA private-key operation: the provider seam.
///
/// [`RsaPrivateKey`] is the software implementation. An HSM backend
/// implements this for a key handle; [`open`] and the unwrap functions work
/// on any implementation.
pub trait RsaDecryptor: Send + Sync {
    /// The matching public key.
    fn public_key(&self) -> RsaPublicKey;

    /// Decrypts `cryptogram` under `padding`, into zeroizing memory.
    ///
    /// Must fail with [`Error::RsaDecryption`] alone, whatever went wrong.
    fn decrypt(&self, padding: RsaPadding, cryptogram: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error>;
}

/// An RSA private key of 2048 to 4096 bits, zeroized on drop.
///
/// Reads PKCS#8 and PKCS#1, in PEM or DER. `Debug` shows the size and the
/// public fingerprint only.
#[derive(Clone)]
pub struct RsaPrivateKey(rsa::RsaPrivateKey);

impl RsaPrivateKey {
    /// Generates a key of `bits` (2048 to 4096) with e = 65537.
    ///
    /// # Errors
    ///
    /// [`Error::RsaKeySize`] for another size, [`Error::RsaKeyGeneration`]
    /// if the backend fails.
    pub fn generate<R: CryptoRng + ?Sized>(bits: usize, rng: &mut R) -> Result<Self, Error> {
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(Error::RsaKeySize { bits });
        }
        let key = rsa::RsaPrivateKey::new(rng, bits).map_err(|_| Error::RsaKeyGeneration)?;
        match modulus_bits(&key) {
            found if found == bits => Ok(RsaPrivateKey(key)),
            found => Err(Error::RsaKeySize { bits: found }),
        }
    }

    /// Reads DER: PKCS#8 `PrivateKeyInfo`, or else PKCS#1 `RSAPrivateKey`.
    ///
    /// # Errors
    ///
    /// As [`RsaPublicKey::from_der`]: size and public exponent are checked
    /// first, then the key is parsed and checked by the backend.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        check_private_der(der)?;
        rsa::RsaPrivateKey::from_pkcs8_der(der)
            .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_der(der))
            .map(RsaPrivateKey)
            .map_err(|_| Error::RsaKeyEncoding)
    }

    /// Reads PEM: `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY` (PKCS#1).
    ///
    /// # Errors
    ///
    /// As [`from_der`](Self::from_der), and [`Error::RsaKeyEncoding`] for text that is no PEM.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let (label, der) = pkcs1::der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|_| Error::RsaKeyEncoding)?;
        let der = Zeroizing::new(der);
        match label {
            "PRIVATE KEY" | "RSA PRIVATE KEY" => Self::from_der(&der),
            _ => Err(Error::RsaKeyEncoding),
        }
    }

    /// Reads PEM or DER, detecting which.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        match detect(bytes) {
            Encoding::Pem(text) => Self::from_pem(text),
            _ => Self::from_der(bytes),
        }
    }

    /// PKCS#8 DER, in zeroizing memory.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.0
            .to_pkcs8_der()
            .map(|doc| Zeroizing::new(doc.as_bytes().to_vec()))
            .map_err(|_| Error::RsaKeyEncoding)
    }

    /// PKCS#8 PEM (`PRIVATE KEY`), in zeroizing memory.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, Error> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| Zeroizing::new(String::from(pem.as_str())))
            .map_err(|_| Error::RsaKeyEncoding)
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        modulus_bits(&self.0)
    }

    /// The matching public key.
    pub fn public_key(&self) -> RsaPublicKey {
        RsaPublicKey(self.0.to_public_key())
    }
}

impl RsaDecryptor for RsaPrivateKey {
    fn public_key(&self) -> RsaPublicKey {
        RsaPrivateKey::public_key(self)
    }

    fn decrypt(&self, padding: RsaPadding, cryptogram: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        // `decrypt` blinds with the OS RNG; blinding never changes the result,
        // so callers' injected RNGs stay reproducible.
        match padding {
            RsaPadding::OaepSha256 => self.0.decrypt(Oaep::<Sha256>::new(), cryptogram),
            RsaPadding::OaepSha1 => self.0.decrypt(Oaep::<sha1::Sha1>::new(), cryptogram),
            RsaPadding::Pkcs1v15 => self.0.decrypt(Pkcs1v15Encrypt, cryptogram),
        }
        .map(Zeroizing::new)
        .map_err(|_| Error::RsaDecryption)
    }
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPrivateKey")
            .field("bits", &self.bits())
            .field("fingerprint", &self.public_key().fingerprint())
            .finish_non_exhaustive()
    }
}

/// Issuer side: decrypts an RSA cryptogram and decodes the 8-byte PIN block
/// inside as `format` (0 to 3; both seed flows send 1).
///
/// Every failure, from padding to fill digit, is an [`Error`] for the log;
/// send the caller only [`Error::outward`].
///
/// ```
/// use pinset_block::{Format, Pin};
/// use pinset_envelope::{rsa::{open, RsaDecryptor, RsaPadding}, RsaPrivateKey};
/// use rand_core::SeedableRng;
///
/// let issuer = RsaPrivateKey::from_pem(include_str!("../tests/data/rsa2048.pem"))?;
/// let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
/// let cryptogram = issuer.public_key().seal(Format::Iso1, &Pin::new("7580")?, None, RsaPadding::OaepSha256, &mut rng)?;
/// let pin = open(&issuer, RsaPadding::OaepSha256, Format::Iso1, &cryptogram, None)?;
/// assert_eq!(pin.expose_digits(), b"7580");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open(
    key: &(impl RsaDecryptor + ?Sized),
    padding: RsaPadding,
    format: Format,
    cryptogram: &[u8],
    pan: Option<&Pan>,
) -> Result<Pin, Error> {
    let plain = key.decrypt(padding, cryptogram)?;
    let block = ClearBlock::try_from_slice(&plain).map_err(|_| Error::PlaintextLength {
        expected: ClearBlock::LEN,
        found: plain.len(),
    })?;
    Ok(decode_clear(format, &block, pan)?)
}

/// Unwraps a TDES key (such as Enfuce's 16-byte tzpk) sent under RSA.
pub fn unwrap_tdes_key(
    key: &(impl RsaDecryptor + ?Sized),
    padding: RsaPadding,
    wrapped: &[u8],
) -> Result<TdesKey, Error> {
    TdesKey::new(&key.decrypt(padding, wrapped)?)
}

/// Unwraps an AES key sent under RSA.
pub fn unwrap_aes_key(
    key: &(impl RsaDecryptor + ?Sized),
    padding: RsaPadding,
    wrapped: &[u8],
) -> Result<AesKey, Error> {
    AesKey::new(&key.decrypt(padding, wrapped)?)
}

/// Checks the modulus size and public exponent of SPKI or PKCS#1 DER
/// before the backend parses it, so that a key outside the rules is named
/// as such rather than as bad encoding (the backend refuses some sizes itself).
fn check_public_der(der: &[u8]) -> Result<(), Error> {
    use pkcs1::der::Decode;
    let pkcs1_der = match spki::SubjectPublicKeyInfoRef::from_der(der) {
        Ok(info) => info
            .subject_public_key
            .as_bytes()
            .ok_or(Error::RsaKeyEncoding)?,
        Err(_) => der,
    };
    let key = pkcs1::RsaPublicKeyRef::from_der(pkcs1_der).map_err(|_| Error::RsaKeyEncoding)?;
    check_shape(key.modulus.as_bytes(), key.public_exponent.as_bytes())
}

/// [`check_public_der`] for PKCS#8 or PKCS#1 private-key DER.
fn check_private_der(der: &[u8]) -> Result<(), Error> {
    use pkcs1::der::Decode;
    let pkcs1_der = match pkcs8::PrivateKeyInfoRef::from_der(der) {
        Ok(info) => info.private_key.as_bytes(),
        Err(_) => der,
    };
    let key = pkcs1::RsaPrivateKeyRef::from_der(pkcs1_der).map_err(|_| Error::RsaKeyEncoding)?;
    check_shape(key.modulus.as_bytes(), key.public_exponent.as_bytes())
}

/// The modulus must have 2048 to 4096 bits; the public exponent must be odd
/// and at least 65537 (NIST SP 800-56B Rev. 2, 6.2.1: small exponents invite
/// broadcast and related-message attacks, even ones are no RSA exponent).
/// Both are big-endian unsigned integers without leading zeros.
fn check_shape(modulus: &[u8], exponent: &[u8]) -> Result<(), Error> {
    let bits = match modulus.first() {
        Some(&top) => modulus.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
        return Err(Error::RsaKeySize { bits });
    }
    let odd = exponent.last().is_some_and(|low| low & 1 == 1);
    let at_least_65537 = exponent.len() > 3 || (exponent.len() == 3 && exponent >= &[1, 0, 1][..]);
    if odd && at_least_65537 {
        Ok(())
    } else {
        Err(Error::RsaPublicExponent)
    }
}

/// The modulus length in bits. Not `size() * 8`: that rounds up to whole
/// bytes, so a 2041- to 2047-bit modulus would pass as 2048.
fn modulus_bits(key: &impl PublicKeyParts) -> usize {
    key.n().bits() as usize
}

enum Encoding<'a> {
    Pem(&'a str),
    Der,
    Hex(&'a str),
    Base64(&'a str),
}

/// Tells the four key encodings apart. DER starts with a SEQUENCE tag
/// (0x30), which is `0` in text, so text is tried first only when it is text.
fn detect(bytes: &[u8]) -> Encoding<'_> {
    match core::str::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN") => Encoding::Pem(text),
        Ok(text)
            if !text.trim().is_empty() && text.trim().bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Encoding::Hex(text)
        }
        Ok(text) if text.trim_start().starts_with("MII") => Encoding::Base64(text),
        _ => Encoding::Der,
    }
}
