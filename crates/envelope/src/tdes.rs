//! TDES PIN keys for formats 0 to 3.

use core::fmt;

use cipher::{Array, BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use des::{TdesEde2, TdesEde3};
use pinset_block::ClearBlock;
use rand_core::CryptoRng;
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
/// It enciphers and deciphers PIN blocks only, through
/// [`PinKey`](crate::PinKey): there is no public method to encrypt other
/// data, so a PIN key cannot be misused as a data key. The key
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

    /// A fresh double-length key from `rng`, with odd DES parity, as an HSM
    /// generates one: a draw that breaks a strength rule (K1 = K2, a weak or
    /// semi-weak half, about 2^-51 for a sound generator) is drawn again.
    /// Enfuce's tzpk is such a key.
    ///
    /// # Errors
    ///
    /// [`Error::WeakKey`] if eight draws in a row were weak: the generator is broken.
    ///
    /// ```
    /// use pinset_envelope::TdesKey;
    /// use rand_core::SeedableRng;
    ///
    /// let key = TdesKey::generate_double(&mut chacha20::ChaCha20Rng::seed_from_u64(1))?;
    /// assert_eq!(key.len(), 16);
    /// assert!(key.expose_bytes().iter().all(|b| b.count_ones() % 2 == 1));
    /// # Ok::<(), pinset_envelope::Error>(())
    /// ```
    pub fn generate_double<R: CryptoRng + ?Sized>(rng: &mut R) -> Result<Self, Error> {
        let mut last = Error::WeakKey {
            algorithm: "TDES",
            rule: crate::WeakKey::SingleDes,
        };
        for _ in 0..8 {
            let mut bytes = Zeroizing::new([0u8; 16]);
            rng.fill_bytes(bytes.as_mut_slice());
            for b in bytes.iter_mut() {
                *b = odd_parity(*b);
            }
            match TdesKey::new(bytes.as_slice()) {
                Err(e @ Error::WeakKey { .. }) => last = e,
                key => return key,
            }
        }
        Err(last)
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

    /// Encrypts one clear block (TDES-ECB). Crate-private: outside, a PIN key
    /// enciphers only what [`PinKey`](crate::PinKey) checked is a PIN block.
    pub(crate) fn encrypt_block(&self, block: &ClearBlock) -> [u8; 8] {
        self.encrypt_raw(*block.expose_bytes())
    }

    /// Decrypts one PIN block (TDES-ECB). The result is unchecked until a
    /// format decoder reads it; crate-private for the same reason.
    pub(crate) fn decrypt_block(&self, block: &[u8; 8]) -> ClearBlock {
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

/// `b` with its low bit set so that it has an odd number of ones.
fn odd_parity(b: u8) -> u8 {
    let high = b & 0xFE;
    if high.count_ones().is_multiple_of(2) {
        high | 1
    } else {
        high
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

#[cfg(test)]
mod tests {
    use super::*;
    use core::convert::Infallible;

    /// A generator that repeats one byte: every draw is single DES.
    struct Stuck;

    impl rand_core::TryRng for Stuck {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(0x0101_0101)
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(0x0101_0101_0101_0101)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            dst.fill(0x01);
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Stuck {}

    /// Gives K1 = K2 (up to parity) on its first draw, then distinct bytes.
    struct FirstDegenerate(u8);

    impl rand_core::TryRng for FirstDegenerate {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(0)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            for (i, d) in dst.iter_mut().enumerate() {
                *d = if self.0 == 0 {
                    0x10 | u8::from(i >= 8)
                } else {
                    self.0.wrapping_mul(31).wrapping_add(i as u8 * 2)
                };
            }
            self.0 += 1;
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for FirstDegenerate {}

    #[test]
    fn parity_is_odd() {
        for b in 0..=255u8 {
            assert_eq!(odd_parity(b).count_ones() % 2, 1);
            assert_eq!(odd_parity(b) & 0xFE, b & 0xFE);
        }
    }

    #[test]
    fn a_weak_draw_is_drawn_again() {
        let mut rng = FirstDegenerate(0);
        let key = TdesKey::generate_double(&mut rng).unwrap();
        assert_eq!(rng.0, 2, "the first draw must be thrown away");
        let bytes = key.expose_bytes();
        assert_ne!(bytes[..8], bytes[8..]);
        assert!(bytes.iter().all(|b| b.count_ones() % 2 == 1));
    }

    #[test]
    fn a_stuck_generator_is_refused() {
        assert!(matches!(
            TdesKey::generate_double(&mut Stuck),
            Err(Error::WeakKey { .. })
        ));
    }
}
