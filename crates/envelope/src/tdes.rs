//! TDES PIN keys for formats 0 to 3.

use core::fmt;

use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::{TdesEde2, TdesEde3};
use pinset_block::ClearBlock;
use zeroize::Zeroizing;

use crate::{Error, Kcv};

/// The key schedule, prepared once.
#[derive(Clone)]
enum Schedule {
    Ede2(TdesEde2),
    Ede3(TdesEde3),
}

/// A double- or triple-length TDES PIN-encryption key (16 or 24 bytes).
///
/// It encrypts and decrypts 8-byte PIN blocks only: there is no method to
/// encrypt other data, so a PIN key cannot be misused as a data key. The key
/// schedule is built once, in [`TdesKey::new`], and zeroized on drop with the
/// key bytes. `Debug` shows the length and the KCV, never the key.
///
/// ```
/// use pinset_envelope::TdesKey;
///
/// let key = TdesKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210")?)?;
/// assert_eq!(key.kcv().to_string(), "08D7B4");
/// assert_eq!(format!("{key:?}"), "TdesKey { len: 16, kcv: Kcv(08D7B4) }");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TdesKey {
    bytes: Zeroizing<[u8; 24]>,
    len: usize,
    schedule: Schedule,
    kcv: Kcv,
}

impl TdesKey {
    /// Builds a key from 16 bytes (2-key, K1 K2 K1) or 24 bytes (3-key) and
    /// prepares its schedule.
    ///
    /// DES parity bits are ignored, as HSMs do on import, and odd parity is
    /// not required: the seeds' example keys do not have it.
    ///
    /// # Errors
    ///
    /// [`Error::KeyLength`] for any other length, and [`Error::WeakKey`] for
    /// a key that is all zero, single DES in disguise (K1 = K2, or K2 = K3),
    /// or has a DES weak or semi-weak part. Equal parts are compared without
    /// their parity bits, so `0123456789ABCDEF 0023456789ABCDEF` is refused too.
    ///
    /// ```
    /// use pinset_envelope::{Error, TdesKey, WeakKey};
    ///
    /// let single = hex::decode("0123456789ABCDEF0123456789ABCDEF")?;
    /// assert_eq!(
    ///     TdesKey::new(&single).unwrap_err(),
    ///     Error::WeakKey { algorithm: "TDES", rule: WeakKey::SingleDes }
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(key: &[u8]) -> Result<Self, Error> {
        if matches!(key.len(), 16 | 24) {
            crate::strength::check_tdes(key).map_err(|rule| Error::WeakKey {
                algorithm: "TDES",
                rule,
            })?;
        }
        let schedule = match key.len() {
            16 => Schedule::Ede2(TdesEde2::new(
                &Array::try_from(key).map_err(|_| len_error(key))?,
            )),
            24 => Schedule::Ede3(TdesEde3::new(
                &Array::try_from(key).map_err(|_| len_error(key))?,
            )),
            _ => return Err(len_error(key)),
        };
        let mut bytes = Zeroizing::new([0u8; 24]);
        bytes[..key.len()].copy_from_slice(key);
        let mut this = TdesKey {
            bytes,
            len: key.len(),
            schedule,
            kcv: Kcv([0; 3]),
        };
        let zeros = this.encrypt_raw([0; 8]);
        this.kcv = Kcv([zeros[0], zeros[1], zeros[2]]);
        Ok(this)
    }

    /// Key length in bytes: 16 or 24.
    #[allow(clippy::len_without_is_empty)] // a key is never empty
    pub fn len(&self) -> usize {
        self.len
    }

    /// The key check value: first 3 bytes of TDES-ECB(K, 00×8).
    pub fn kcv(&self) -> Kcv {
        self.kcv
    }

    /// The key bytes, for wrapping under a key-encryption key. Handle with care.
    pub fn expose_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Encrypts one clear PIN block (TDES-ECB).
    pub fn encrypt_block(&self, block: &ClearBlock) -> [u8; 8] {
        self.encrypt_raw(*block.expose_bytes())
    }

    /// Decrypts one PIN block (TDES-ECB). The result is unchecked until a
    /// format decoder reads it.
    pub fn decrypt_block(&self, block: &[u8; 8]) -> ClearBlock {
        let mut clear = ClearBlock::from_bytes(*block);
        let buf: &mut Array<u8, _> = clear.expose_bytes_mut().into();
        match &self.schedule {
            Schedule::Ede2(c) => c.decrypt_block(buf),
            Schedule::Ede3(c) => c.decrypt_block(buf),
        }
        clear
    }

    fn encrypt_raw(&self, mut block: [u8; 8]) -> [u8; 8] {
        let buf: &mut Array<u8, _> = (&mut block).into();
        match &self.schedule {
            Schedule::Ede2(c) => c.encrypt_block(buf),
            Schedule::Ede3(c) => c.encrypt_block(buf),
        }
        block
    }
}

fn len_error(key: &[u8]) -> Error {
    Error::KeyLength {
        algorithm: "TDES",
        expected: "16 or 24",
        found: key.len(),
    }
}

impl fmt::Debug for TdesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TdesKey")
            .field("len", &self.len)
            .field("kcv", &self.kcv)
            .finish()
    }
}
