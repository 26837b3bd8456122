//! The PIN verification key (PVK).

use core::fmt;

use cipher::{Array, BlockCipherEncrypt, KeyInit};
use des::{TdesEde2, TdesEde3};
use pinset_envelope::{Kcv, TdesKey};

use crate::Error;

/// The key schedule, prepared once.
#[derive(Clone)]
enum Schedule {
    Ede2(TdesEde2),
    Ede3(TdesEde3),
}

/// A PIN verification key: a double- or triple-length TDES key that
/// computes Visa PVVs or IBM 3624 natural PINs and nothing else.
///
/// It has no method to encrypt arbitrary data, so it cannot stand in for a
/// PIN or data key. Its schedule zeroizes on drop (the `des` crate's
/// `zeroize` feature), and `Debug` shows the KCV, never the key.
///
/// ```
/// use pinset_verify::PinVerificationKey;
///
/// let pvk = PinVerificationKey::new(&hex::decode("0123456789ABCDEFFEDCBA9876543210")?)?;
/// assert_eq!(format!("{pvk:?}"), "PinVerificationKey { len: 16, kcv: Kcv(08D7B4) }");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PinVerificationKey {
    schedule: Schedule,
    len: usize,
    kcv: Kcv,
}

impl PinVerificationKey {
    /// Builds a key from 16 (K1 K2 K1) or 24 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] for another length, single DES in disguise or a weak
    /// part: the same rules as [`TdesKey::new`].
    pub fn new(key: &[u8]) -> Result<Self, Error> {
        // The strength rules and the KCV live in one place: TdesKey.
        let checked = TdesKey::new(key).map_err(Error::Key)?;
        let len_error = |_| {
            Error::Key(pinset_envelope::Error::KeyLength {
                algorithm: "TDES",
                expected: "16 or 24",
                found: key.len(),
            })
        };
        // new_from_slice: no stack copy of the key is left behind.
        let schedule = match key.len() {
            16 => Schedule::Ede2(TdesEde2::new_from_slice(key).map_err(len_error)?),
            _ => Schedule::Ede3(TdesEde3::new_from_slice(key).map_err(len_error)?),
        };
        Ok(PinVerificationKey {
            schedule,
            len: key.len(),
            kcv: checked.kcv(),
        })
    }

    /// The key check value.
    pub fn kcv(&self) -> Kcv {
        self.kcv
    }

    /// TDES-ECB of one block: the one cipher step of both algorithms.
    pub(crate) fn encipher(&self, block: [u8; 8]) -> [u8; 8] {
        let mut b = Array::from(block);
        match &self.schedule {
            Schedule::Ede2(c) => c.encrypt_block(&mut b),
            Schedule::Ede3(c) => c.encrypt_block(&mut b),
        }
        b.into()
    }
}

impl fmt::Debug for PinVerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinVerificationKey")
            .field("len", &self.len)
            .field("kcv", &self.kcv)
            .finish()
    }
}
