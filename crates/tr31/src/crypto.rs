//! The cipher calls behind key blocks: CBC, CMAC and key derivation.
//!
//! Why a module of its own: the version B and D paths differ only in the
//! block cipher, so everything cipher-specific is dispatched here once,
//! from a [`CipherKind`] that the KBPK's length and family fix. The ciphers,
//! CBC and CMAC are RustCrypto's (`des`, `aes`, `cbc`, `cmac`); nothing
//! cryptographic is written by hand.

use aes::{Aes128, Aes192, Aes256};
use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt};
use cipher::{KeyInit, KeyIvInit};
use cmac::{Cmac, Mac, block_api::CmacCipher};
use des::{TdesEde2, TdesEde3};
use zeroize::Zeroizing;

/// The block cipher and key length of a KBPK (and of the keys derived from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CipherKind {
    /// Two-key TDES, 16 bytes.
    Tdes2,
    /// Three-key TDES, 24 bytes.
    Tdes3,
    /// AES-128.
    Aes128,
    /// AES-192.
    Aes192,
    /// AES-256.
    Aes256,
}

/// Runs a generic function with the cipher type for a [`CipherKind`].
macro_rules! with_cipher {
    ($kind:expr, $f:ident ( $($arg:expr),* )) => {
        match $kind {
            CipherKind::Tdes2 => $f::<TdesEde2>($($arg),*),
            CipherKind::Tdes3 => $f::<TdesEde3>($($arg),*),
            CipherKind::Aes128 => $f::<Aes128>($($arg),*),
            CipherKind::Aes192 => $f::<Aes192>($($arg),*),
            CipherKind::Aes256 => $f::<Aes256>($($arg),*),
        }
    };
}

impl CipherKind {
    /// Key length in bytes.
    pub(crate) const fn key_len(self) -> usize {
        match self {
            Self::Tdes2 | Self::Aes128 => 16,
            Self::Tdes3 | Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }

    /// `true` for the TDES kinds.
    pub(crate) const fn is_tdes(self) -> bool {
        matches!(self, Self::Tdes2 | Self::Tdes3)
    }

    /// Algorithm indicator and key length in bits for the derivation data
    /// (TR-31:2018 §5.3.2.1 for TDES, §5.3.2.3 for AES).
    const fn derivation_ids(self) -> (u16, u16) {
        match self {
            Self::Tdes2 => (0x0000, 0x0080),
            Self::Tdes3 => (0x0001, 0x00C0),
            Self::Aes128 => (0x0002, 0x0080),
            Self::Aes192 => (0x0003, 0x00C0),
            Self::Aes256 => (0x0004, 0x0100),
        }
    }
}

/// CBC-encrypts `data` in place; `None` on a key, IV or data length the
/// cipher does not take.
pub(crate) fn cbc_encrypt(kind: CipherKind, key: &[u8], iv: &[u8], data: &mut [u8]) -> Option<()> {
    with_cipher!(kind, cbc_encrypt_with(key, iv, data))
}

/// CBC-decrypts `data` in place; `None` on a key, IV or data length the
/// cipher does not take.
pub(crate) fn cbc_decrypt(kind: CipherKind, key: &[u8], iv: &[u8], data: &mut [u8]) -> Option<()> {
    with_cipher!(kind, cbc_decrypt_with(key, iv, data))
}

/// CMAC of the concatenated `parts`, appended to `out`; `None` on a key
/// length the cipher does not take.
pub(crate) fn cmac(kind: CipherKind, key: &[u8], parts: &[&[u8]], out: &mut Vec<u8>) -> Option<()> {
    with_cipher!(kind, cmac_with(key, parts, out))
}

fn cbc_encrypt_with<C>(key: &[u8], iv: &[u8], data: &mut [u8]) -> Option<()>
where
    C: BlockCipherEncrypt + KeyInit,
{
    let mut mode = cbc::Encryptor::<C>::new_from_slices(key, iv).ok()?;
    let (blocks, rest) = Array::<u8, C::BlockSize>::slice_as_chunks_mut(data);
    if !rest.is_empty() {
        return None;
    }
    mode.encrypt_blocks(blocks);
    Some(())
}

fn cbc_decrypt_with<C>(key: &[u8], iv: &[u8], data: &mut [u8]) -> Option<()>
where
    C: BlockCipherDecrypt + KeyInit,
{
    let mut mode = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    let (blocks, rest) = Array::<u8, C::BlockSize>::slice_as_chunks_mut(data);
    if !rest.is_empty() {
        return None;
    }
    mode.decrypt_blocks(blocks);
    Some(())
}

fn cmac_with<C>(key: &[u8], parts: &[&[u8]], out: &mut Vec<u8>) -> Option<()>
where
    C: CmacCipher,
    Cmac<C>: KeyInit,
{
    let mut mac = <Cmac<C> as KeyInit>::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(part);
    }
    out.extend_from_slice(&mac.finalize().into_bytes());
    Some(())
}

/// Key block encryption key (KBEK) and MAC key (KBMK).
pub(crate) struct Derived {
    pub(crate) kbek: Zeroizing<Vec<u8>>,
    pub(crate) kbmk: Zeroizing<Vec<u8>>,
}

/// Derives the KBEK and KBMK from the KBPK with CMAC in counter mode
/// (NIST SP 800-108, as TR-31:2018 §5.3.2 specifies for versions B and D).
///
/// Derivation data, 8 bytes: counter (from 1) ‖ key usage indicator
/// (`0000` encryption, `0001` MAC) ‖ separator `00` ‖ algorithm indicator ‖
/// key length in bits. Each CMAC call gives one cipher block of key; the
/// result is cut to the KBPK's length.
pub(crate) fn derive(kind: CipherKind, kbpk: &[u8]) -> Option<Derived> {
    let (alg, bits) = kind.derivation_ids();
    let [a0, a1] = alg.to_be_bytes();
    let [b0, b1] = bits.to_be_bytes();
    let len = kind.key_len();
    let mut kbek = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut kbmk = Zeroizing::new(Vec::with_capacity(len + 16));
    let mut counter = 1u8;
    while kbek.len() < len {
        cmac(
            kind,
            kbpk,
            &[&[counter, 0, 0, 0, a0, a1, b0, b1]],
            &mut kbek,
        )?;
        cmac(
            kind,
            kbpk,
            &[&[counter, 0, 1, 0, a0, a1, b0, b1]],
            &mut kbmk,
        )?;
        counter = counter.checked_add(1)?;
    }
    kbek.truncate(len);
    kbmk.truncate(len);
    Some(Derived { kbek, kbmk })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NIST SP 800-38B / RFC 4493 AES-128 CMAC example 2 (16-byte message).
    #[test]
    fn cmac_matches_rfc4493() {
        let key = hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap();
        let msg = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let mut out = Vec::new();
        cmac(CipherKind::Aes128, &key, &[&msg[..7], &msg[7..]], &mut out).unwrap();
        assert_eq!(hex::encode(out), "070a16b46b4d4144f79bdd9dd04a287c");
    }

    /// NIST SP 800-38A F.2.1 CBC-AES128 first block, both directions.
    #[test]
    fn cbc_matches_sp800_38a() {
        let key = hex::decode("2b7e151628aed2a6abf7158809cf4f3c").unwrap();
        let iv = hex::decode("000102030405060708090a0b0c0d0e0f").unwrap();
        let mut data = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        cbc_encrypt(CipherKind::Aes128, &key, &iv, &mut data).unwrap();
        assert_eq!(hex::encode(&data), "7649abac8119b246cee98e9b12e9197d");
        cbc_decrypt(CipherKind::Aes128, &key, &iv, &mut data).unwrap();
        assert_eq!(hex::encode(&data), "6bc1bee22e409f96e93d7e117393172a");
        assert!(cbc_encrypt(CipherKind::Aes128, &key, &iv, &mut data[..15]).is_none());
    }
}
