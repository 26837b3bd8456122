//! AES key wrap with padding (RFC 5649) in the software module: how keys
//! arrive wrapped and leave for backup.

use std::sync::Arc;

use aes_kw::{KeyInit, KwpAes128, KwpAes192, KwpAes256};
use pinset_envelope::PinKey;
use zeroize::Zeroizing;

use super::{Mode, SoftwareModule};
use crate::{KeyPurpose, KeyRef, ModuleError};

/// AES key wrap with padding (RFC 5649) under `kek` (16, 24 or 32 bytes):
/// wraps if `wrap`, else unwraps. Every output is zeroizing.
fn aes_kwp(kek: &[u8], input: &[u8], wrap: bool) -> Result<Zeroizing<Vec<u8>>, ModuleError> {
    const SEMIBLOCK: usize = 8;
    let mut out = Zeroizing::new(vec![
        0u8;
        if wrap {
            input.len().div_ceil(SEMIBLOCK) * SEMIBLOCK + SEMIBLOCK
        } else {
            input.len().saturating_sub(SEMIBLOCK)
        }
    ]);
    macro_rules! run {
        ($kwp:ty) => {{
            let kwp = <$kwp>::new_from_slice(kek).map_err(|_| ModuleError::WrappedKeyIntegrity)?;
            let result = if wrap {
                kwp.wrap_key(input, &mut out)
            } else {
                kwp.unwrap_key(input, &mut out)
            };
            result
                .map(<[u8]>::len)
                .map_err(|_| ModuleError::WrappedKeyIntegrity)?
        }};
    }
    let len = match kek.len() {
        16 => run!(KwpAes128),
        24 => run!(KwpAes192),
        _ => run!(KwpAes256),
    };
    out.truncate(len);
    Ok(out)
}

impl SoftwareModule {
    /// AES key wrap with padding under the key-encryption key `kek`.
    pub(super) fn kwp(
        &self,
        kek: &KeyRef,
        input: &[u8],
        wrap: bool,
    ) -> Result<Zeroizing<Vec<u8>>, ModuleError> {
        kek.require_purpose(KeyPurpose::KeyEncryption)?;
        self.require_mode(kek, if wrap { Mode::Encipher } else { Mode::Decipher })?;
        match self.material(kek)?.as_pin_key().map(Arc::as_ref) {
            Some(PinKey::Aes(key)) => aes_kwp(key.expose_bytes(), input, wrap),
            _ => Err(ModuleError::WrongAlgorithm {
                algorithm: kek.algorithm(),
                what: "wrap keys (AES key-encryption keys only)",
            }),
        }
    }
}
