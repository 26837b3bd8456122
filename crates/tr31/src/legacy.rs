//! Versions A and C: the deprecated key variant binding method.
//!
//! Why it is here at all: old key stores and some processors still hold
//! keys in version A or C blocks, and migrating them to version B or D means
//! reading them once. These versions bind the header to the key only through
//! a 4-byte CBC-MAC under a variant of the KBPK, which TR-31:2010 deprecated;
//! this crate therefore unwraps them but never wraps them.
//!
//! The method (TR-31:2018 §5.3.1, checked against annex A.7.2.1):
//! - KBEK = KBPK ⊕ `45…45`, KBMK = KBPK ⊕ `4D…4D`;
//! - the key data is TDES-CBC encrypted under the KBEK with the first eight
//!   header characters as IV;
//! - the MAC is ISO 9797-1 MAC algorithm 1 (TDES-CBC with a zero IV, last
//!   block) under the KBMK over the ASCII header followed by the binary
//!   encrypted key data, cut to its first four bytes.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto;
use crate::error::{KeyBlockError, Reason};
use crate::kbpk::Kbpk;

/// TDES block size.
const BLOCK: usize = 8;

/// Verifies the MAC of a version A or C key block, then decrypts its key
/// data. `header` is the ASCII header (a multiple of eight characters),
/// `data` the encrypted key data and `mac` the four MAC bytes.
pub(crate) fn open(
    kbpk: &Kbpk,
    header: &[u8],
    data: Vec<u8>,
    mac: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyBlockError> {
    let kind = kbpk.kind();
    let variant = |mask: u8| Zeroizing::new(kbpk.bytes().iter().map(|b| b ^ mask).collect());
    let kbek: Zeroizing<Vec<u8>> = variant(0x45);
    let kbmk: Zeroizing<Vec<u8>> = variant(0x4D);

    // CBC-MAC over header || ciphertext: encrypt a copy, keep the last block.
    let mut chain = Vec::with_capacity(header.len() + data.len());
    chain.extend_from_slice(header);
    chain.extend_from_slice(&data);
    crypto::cbc_encrypt(kind, &kbmk, &[0u8; BLOCK], &mut chain)
        .ok_or(KeyBlockError::new(Reason::Length))?;
    let last = chain
        .len()
        .checked_sub(BLOCK)
        .and_then(|start| chain.get(start..start + mac.len()))
        .ok_or(KeyBlockError::new(Reason::Length))?;
    if !bool::from(last.ct_eq(mac)) {
        return Err(KeyBlockError::new(Reason::Mac));
    }

    // Only now, with the MAC verified, decrypt.
    let iv = header
        .get(..BLOCK)
        .ok_or(KeyBlockError::new(Reason::Length))?;
    let mut clear = Zeroizing::new(data);
    crypto::cbc_decrypt(kind, &kbek, iv, &mut clear).ok_or(KeyBlockError::new(Reason::Length))?;
    Ok(clear)
}
