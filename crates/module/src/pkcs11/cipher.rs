//! The cryptographic calls on a token, one session each.
//!
//! A generic token has no PIN-translate mechanism, so PIN blocks are
//! deciphered with the raw block cipher and decoded in host memory; every
//! clear value here lives in a zeroizing type.

use cryptoki::error::{Error, Result};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use pinset_block::{ClearBlock, PanField, PinField};
use pinset_envelope::{Kcv, RsaPadding};
use zeroize::{Zeroize, Zeroizing};

use crate::KeyAlgorithm;

/// C_Decrypt under an RSA key with `padding`.
pub(super) fn rsa(padding: RsaPadding) -> Mechanism<'static> {
    let oaep =
        |hash, mgf| Mechanism::RsaPkcsOaep(PkcsOaepParams::new(hash, mgf, PkcsOaepSource::empty()));
    match padding {
        RsaPadding::OaepSha256 => oaep(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256),
        RsaPadding::OaepSha1 => oaep(MechanismType::SHA1, PkcsMgfType::MGF1_SHA1),
        RsaPadding::Pkcs1v15 => Mechanism::RsaPkcs,
    }
}

/// Encrypts one block. The token's answer is zeroized after the copy.
pub(super) fn encrypt<const N: usize>(
    session: &Session,
    mechanism: &Mechanism<'_>,
    key: ObjectHandle,
    block: &[u8; N],
) -> Result<[u8; N]> {
    let out = Zeroizing::new(session.encrypt(mechanism, key, block)?);
    <[u8; N]>::try_from(out.as_slice()).map_err(|_| Error::InvalidValue)
}

/// Decrypts into zeroizing memory.
pub(super) fn decrypt(
    session: &Session,
    mechanism: &Mechanism<'_>,
    key: ObjectHandle,
    input: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    session.decrypt(mechanism, key, input).map(Zeroizing::new)
}

/// The key check value, computed in the token. TDES: the first 3 bytes of
/// TDES-ECB(K, 00×8). AES: pinset's AES KCV is AES-CMAC(K, 00×16) (ANSI
/// X9.24-1:2017), which for one whole block is E(K1) with K1 = dbl(E(00×16))
/// (NIST SP 800-38B), so two ECB calls give it without CKA_SIGN.
pub(super) fn kcv(session: &Session, key: ObjectHandle, algorithm: KeyAlgorithm) -> Result<Kcv> {
    if algorithm.is_aes() {
        let mut l = encrypt(session, &Mechanism::AesEcb, key, &[0u8; 16])?;
        let mut k1 = dbl(&l);
        l.zeroize();
        let tag = encrypt(session, &Mechanism::AesEcb, key, &k1);
        k1.zeroize();
        let mut tag = tag?;
        let kcv = Kcv::from_bytes([tag[0], tag[1], tag[2]]);
        tag.zeroize();
        Ok(kcv)
    } else {
        // Only 3 bytes name the key; the rest of E(K, 0) is wiped.
        let mut c = encrypt(session, &Mechanism::Des3Ecb, key, &[0u8; 8])?;
        let kcv = Kcv::from_bytes([c[0], c[1], c[2]]);
        c.zeroize();
        Ok(kcv)
    }
}

/// Doubling in GF(2^128), as CMAC derives its subkeys.
fn dbl(l: &[u8; 16]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for i in 0..16 {
        let next = if i < 15 { l[i + 1] >> 7 } else { 0 };
        out[i] = (l[i] << 1) | next;
    }
    // Constant time: no branch on the secret top bit.
    out[15] ^= 0x87 & 0u8.wrapping_sub(l[0] >> 7);
    out
}

fn xor16(a: &mut [u8; 16], b: &[u8; 16]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

/// Deciphers an 8-byte TDES PIN block into its clear block.
pub(super) fn tdes_decipher(
    session: &Session,
    key: ObjectHandle,
    block: &[u8; 8],
) -> Result<ClearBlock> {
    let clear = decrypt(session, &Mechanism::Des3Ecb, key, block)?;
    ClearBlock::try_from_slice(&clear).map_err(|_| Error::InvalidValue)
}

/// Format 4: PIN field = D(D(C2) ⊕ PAN field), as `pinset_envelope::AesKey::decipher_iso4`.
pub(super) fn aes_decipher_iso4(
    session: &Session,
    key: ObjectHandle,
    block: &[u8; 16],
    pan_field: &PanField,
) -> Result<PinField> {
    let inner = decrypt(session, &Mechanism::AesEcb, key, block)?;
    let mut field = PinField::try_from_slice(&inner).map_err(|_| Error::InvalidValue)?;
    xor16(field.expose_bytes_mut(), pan_field.expose_bytes());
    let clear = decrypt(session, &Mechanism::AesEcb, key, field.expose_bytes())?;
    PinField::try_from_slice(&clear).map_err(|_| Error::InvalidValue)
}

/// Format 4: C1 = E(PIN field), C2 = E(C1 ⊕ PAN field), as `pinset_envelope::AesKey::encipher_iso4`.
pub(super) fn aes_encipher_iso4(
    session: &Session,
    key: ObjectHandle,
    pin_field: &PinField,
    pan_field: &PanField,
) -> Result<[u8; 16]> {
    let mut chained = encrypt(session, &Mechanism::AesEcb, key, pin_field.expose_bytes())?;
    xor16(&mut chained, pan_field.expose_bytes());
    let out = encrypt(session, &Mechanism::AesEcb, key, &chained);
    chained.zeroize();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dbl_matches_sp800_38b() {
        // SP 800-38B D.1: AES-128 key 2b7e1516..., L = 7df76b0c..., K1 = fbeed618...
        let l = hex::decode("7df76b0c1ab899b33e42f047b91b546f").unwrap();
        let k1 = dbl(&l.try_into().unwrap());
        assert_eq!(hex::encode(k1), "fbeed618357133667c85e08f7236a8de");
        let l = hex::decode("fbeed618357133667c85e08f7236a8de").unwrap();
        assert_eq!(
            hex::encode(dbl(&l.try_into().unwrap())),
            "f7ddac306ae266ccf90bc11ee46d513b"
        );
    }
}
