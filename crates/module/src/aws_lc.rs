//! The aws-lc RSA engine: RSA-OAEP decryption in aws-lc's C and assembly.
//!
//! aws-lc's private-key operation is constant-time and blinded, and several
//! times faster than the pure-Rust `rsa` crate. It has no implicit rejection
//! for PKCS#1 v1.5, so that padding stays on RustCrypto (see [`AwsLcRsaKey`]).

use core::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey,
    PrivateDecryptingKey,
};
use pinset_envelope::rsa::{MAX_RSA_BITS, MIN_RSA_BITS, RsaDecryptor};
use pinset_envelope::{Error, RsaPadding, RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

/// An RSA private key whose OAEP decryptions run in aws-lc.
///
/// OAEP-SHA-256 and OAEP-SHA-1 go to aws-lc. PKCS#1 v1.5 goes to a
/// RustCrypto [`RsaPrivateKey`] of the same key, held alongside: aws-lc
/// has no implicit rejection, so it answers a bad v1.5 padding with an
/// error, the Bleichenbacher oracle that Marvin (RUSTSEC-2023-0071) finds by
/// timing. `rsa` 0.10 instead returns a deterministic random plaintext,
/// which the PIN-block decode then refuses like any other bad block.
///
/// Every key passes [`RsaPrivateKey::from_der`] first, so the size and
/// exponent rules are those of every other pinset RSA key. `Debug` shows the
/// size and the public fingerprint only.
pub struct AwsLcRsaKey {
    oaep: OaepPrivateDecryptingKey,
    /// The same key for PKCS#1 v1.5, and the public half.
    rust_crypto: RsaPrivateKey,
}

impl AwsLcRsaKey {
    /// Reads DER: PKCS#8 `PrivateKeyInfo`, or else PKCS#1 `RSAPrivateKey`.
    ///
    /// # Errors
    ///
    /// As [`RsaPrivateKey::from_der`] ([`Error::RsaKeySize`],
    /// [`Error::RsaPublicExponent`], [`Error::RsaKeyEncoding`]), and
    /// [`Error::RsaKeyEncoding`] if aws-lc refuses the key.
    pub fn from_der(der: &[u8]) -> Result<Self, Error> {
        Self::from_rust_crypto(RsaPrivateKey::from_der(der)?)
    }

    /// Generates a key of 2048, 3072 or 4096 bits (e = 65537) with aws-lc's
    /// own generator.
    ///
    /// # Errors
    ///
    /// [`Error::RsaKeySize`] outside 2048 to 4096 bits;
    /// [`Error::RsaKeyGeneration`] for another size in that range (aws-lc
    /// generates only these three) or if aws-lc fails.
    pub fn generate(bits: usize) -> Result<Self, Error> {
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            _ if (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) => {
                return Err(Error::RsaKeyGeneration);
            }
            _ => return Err(Error::RsaKeySize { bits }),
        };
        let generated =
            PrivateDecryptingKey::generate(size).map_err(|_| Error::RsaKeyGeneration)?;
        // aws-lc's DER buffer zeroizes itself on drop.
        let pkcs8 = generated.as_der().map_err(|_| Error::RsaKeyGeneration)?;
        let rust_crypto = RsaPrivateKey::from_der(pkcs8.as_ref())?;
        let oaep = OaepPrivateDecryptingKey::new(generated).map_err(|_| Error::RsaKeyGeneration)?;
        Ok(AwsLcRsaKey { oaep, rust_crypto })
    }

    fn from_rust_crypto(rust_crypto: RsaPrivateKey) -> Result<Self, Error> {
        let pkcs8 = rust_crypto.to_pkcs8_der()?;
        let oaep = PrivateDecryptingKey::from_pkcs8(&pkcs8)
            .ok()
            .and_then(|key| OaepPrivateDecryptingKey::new(key).ok())
            .ok_or(Error::RsaKeyEncoding)?;
        Ok(AwsLcRsaKey { oaep, rust_crypto })
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.rust_crypto.bits()
    }
}

impl AwsLcRsaKey {
    /// The key as PKCS#8 DER, in zeroizing memory.
    pub(crate) fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.rust_crypto.to_pkcs8_der()
    }
}

impl RsaDecryptor for AwsLcRsaKey {
    fn public_key(&self) -> RsaPublicKey {
        self.rust_crypto.public_key()
    }

    fn decrypt(&self, padding: RsaPadding, cryptogram: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let algorithm = match padding {
            RsaPadding::OaepSha256 => &OAEP_SHA256_MGF1SHA256,
            RsaPadding::OaepSha1 => &OAEP_SHA1_MGF1SHA1,
            // Implicit rejection, which aws-lc lacks; see the type's doc.
            RsaPadding::Pkcs1v15 => return self.rust_crypto.decrypt(padding, cryptogram),
        };
        let mut plaintext = Zeroizing::new(vec![0u8; self.oaep.min_output_size()]);
        let len = self
            .oaep
            .decrypt(algorithm, cryptogram, &mut plaintext, None)
            .map_err(|_| Error::RsaDecryption)?
            .len();
        // Truncating keeps the capacity, which `Zeroizing` wipes whole.
        plaintext.truncate(len);
        Ok(plaintext)
    }
}

impl fmt::Debug for AwsLcRsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsLcRsaKey")
            .field("bits", &self.bits())
            .field("fingerprint", &self.rust_crypto.public_key().fingerprint())
            .finish()
    }
}
