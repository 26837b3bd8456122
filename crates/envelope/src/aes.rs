//! AES PIN keys for ISO 9564-1 format 4.

use core::fmt;

use aes::{Aes128, Aes192, Aes256};
use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use cmac::{Cmac, Mac};
use pinset_block::{PanField, PinField};
use zeroize::Zeroizing;

use crate::{Error, Kcv};

#[derive(Clone)]
enum Schedule {
    Aes128(Aes128),
    Aes192(Aes192),
    Aes256(Aes256),
}

macro_rules! with_cipher {
    ($schedule:expr, $c:ident => $body:expr) => {
        match $schedule {
            Schedule::Aes128($c) => $body,
            Schedule::Aes192($c) => $body,
            Schedule::Aes256($c) => $body,
        }
    };
}

/// An AES-128, AES-192 or AES-256 PIN-encryption key for format 4.
///
/// It enciphers and deciphers format 4 PIN blocks only. The key schedule is
/// built once and zeroized on drop with the key bytes; `Debug` shows the
/// length and KCV only.
///
/// ```
/// use pinset_envelope::AesKey;
///
/// let key = AesKey::new(&hex::decode("00112233445566778899AABBCCDDEEFF")?)?;
/// assert_eq!(key.kcv().to_string(), "53E107"); // ANSI X9.24-1:2017 CMAC KCV
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct AesKey {
    bytes: Zeroizing<[u8; 32]>,
    len: usize,
    schedule: Schedule,
    kcv: Kcv,
}

impl AesKey {
    /// Builds a key from 16, 24 or 32 bytes and prepares its schedule.
    ///
    /// # Errors
    ///
    /// [`Error::KeyLength`] for any other length, and [`Error::WeakKey`] for
    /// an all-zero key.
    pub fn new(key: &[u8]) -> Result<Self, Error> {
        let bad = || Error::KeyLength {
            algorithm: "AES",
            expected: "16, 24 or 32",
            found: key.len(),
        };
        if matches!(key.len(), 16 | 24 | 32) {
            crate::strength::check_aes(key).map_err(|rule| Error::WeakKey {
                algorithm: "AES",
                rule,
            })?;
        }
        let (schedule, kcv) = match key.len() {
            16 => (
                Schedule::Aes128(Aes128::new(&Array::try_from(key).map_err(|_| bad())?)),
                cmac_kcv::<Aes128>(key),
            ),
            24 => (
                Schedule::Aes192(Aes192::new(&Array::try_from(key).map_err(|_| bad())?)),
                cmac_kcv::<Aes192>(key),
            ),
            32 => (
                Schedule::Aes256(Aes256::new(&Array::try_from(key).map_err(|_| bad())?)),
                cmac_kcv::<Aes256>(key),
            ),
            _ => return Err(bad()),
        };
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes[..key.len()].copy_from_slice(key);
        Ok(AesKey {
            bytes,
            len: key.len(),
            schedule,
            kcv: kcv.ok_or_else(bad)?,
        })
    }

    /// Key length in bytes: 16, 24 or 32.
    #[allow(clippy::len_without_is_empty)] // a key is never empty
    pub fn len(&self) -> usize {
        self.len
    }

    /// The key check value: first 3 bytes of AES-CMAC(K, 00×16).
    pub fn kcv(&self) -> Kcv {
        self.kcv
    }

    /// The key bytes, for wrapping under a key-encryption key. Handle with care.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Enciphers a format 4 block: C1 = E(PIN field), C2 = E(C1 ⊕ PAN field).
    #[inline]
    pub fn encipher_iso4(&self, pin_field: &PinField, pan_field: &PanField) -> [u8; 16] {
        let mut block = *pin_field.expose_bytes();
        let buf: &mut Array<u8, _> = (&mut block).into();
        with_cipher!(&self.schedule, c => c.encrypt_block(buf));
        xor16(&mut block, pan_field.expose_bytes());
        let buf: &mut Array<u8, _> = (&mut block).into();
        with_cipher!(&self.schedule, c => c.encrypt_block(buf));
        block
    }

    /// Deciphers a format 4 block back to its clear PIN field:
    /// PIN field = D(D(C2) ⊕ PAN field). The field is unchecked until decoded.
    #[inline]
    pub fn decipher_iso4(&self, block: &[u8; 16], pan_field: &PanField) -> PinField {
        let mut field = PinField::from_bytes(*block);
        let bytes = field.expose_bytes_mut();
        with_cipher!(&self.schedule, c => c.decrypt_block(bytes.into()));
        xor16(bytes, pan_field.expose_bytes());
        with_cipher!(&self.schedule, c => c.decrypt_block(bytes.into()));
        field
    }
}

fn xor16(a: &mut [u8; 16], b: &[u8; 16]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

fn cmac_kcv<C>(key: &[u8]) -> Option<Kcv>
where
    C: cmac::block_api::CmacCipher,
    Cmac<C>: KeyInit,
{
    let mut mac = <Cmac<C> as KeyInit>::new_from_slice(key).ok()?;
    mac.update(&[0u8; 16]);
    let tag = mac.finalize().into_bytes();
    Some(Kcv([tag[0], tag[1], tag[2]]))
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AesKey")
            .field("len", &self.len)
            .field("kcv", &self.kcv)
            .finish()
    }
}
