//! The software module's RSA keys: which library runs the private-key
//! operation, and the one trait both libraries' keys answer to.

use std::sync::Arc;

use chacha20::ChaCha20Rng;
use pinset_envelope::rsa::{RsaDecryptor, RsaPrivateKey};
use rand_core::SeedableRng;
use zeroize::Zeroizing;

use super::{Material, NAME, SoftwareModule};
#[cfg(feature = "aws-lc")]
use crate::AwsLcRsaKey;
use crate::{KeyRef, ModuleError};

/// An RSA private key in process memory: it decrypts, and it can be
/// exported wrapped.
pub(super) trait SoftRsa: RsaDecryptor {
    fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, pinset_envelope::Error>;
}

impl SoftRsa for RsaPrivateKey {
    fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, pinset_envelope::Error> {
        self.to_pkcs8_der()
    }
}

#[cfg(feature = "aws-lc")]
impl SoftRsa for AwsLcRsaKey {
    fn pkcs8(&self) -> Result<Zeroizing<Vec<u8>>, pinset_envelope::Error> {
        self.to_pkcs8_der()
    }
}

/// Which library performs the RSA private-key operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RsaEngine {
    /// `rsa` 0.10: constant-time arithmetic, blinding, implicit rejection.
    RustCrypto,
    /// aws-lc for OAEP, `rsa` 0.10 for PKCS#1 v1.5: see [`AwsLcRsaKey`].
    #[cfg(feature = "aws-lc")]
    AwsLc,
}

impl RsaEngine {
    pub(super) fn name(self) -> &'static str {
        match self {
            RsaEngine::RustCrypto => NAME,
            #[cfg(feature = "aws-lc")]
            RsaEngine::AwsLc => "aws-lc",
        }
    }

    pub(super) fn load(self, der: &[u8]) -> Result<Arc<dyn SoftRsa>, ModuleError> {
        match self {
            RsaEngine::RustCrypto => Ok(Arc::new(
                RsaPrivateKey::from_der(der).map_err(ModuleError::KeyMaterial)?,
            )),
            #[cfg(feature = "aws-lc")]
            RsaEngine::AwsLc => Ok(Arc::new(
                AwsLcRsaKey::from_der(der).map_err(ModuleError::KeyMaterial)?,
            )),
        }
    }

    pub(super) fn generate(
        self,
        bits: usize,
        seed: [u8; 32],
    ) -> Result<Arc<dyn SoftRsa>, ModuleError> {
        match self {
            RsaEngine::RustCrypto => Ok(Arc::new(
                RsaPrivateKey::generate(bits, &mut ChaCha20Rng::from_seed(seed))
                    .map_err(ModuleError::KeyMaterial)?,
            )),
            // aws-lc draws primes from its own generator; the seed goes unused.
            #[cfg(feature = "aws-lc")]
            RsaEngine::AwsLc => Ok(Arc::new(
                AwsLcRsaKey::generate(bits).map_err(ModuleError::KeyMaterial)?,
            )),
        }
    }
}

impl SoftwareModule {
    pub(super) fn rsa_key(&self, handle: &KeyRef) -> Result<Arc<dyn SoftRsa>, ModuleError> {
        match self.material(handle)? {
            Material::Rsa(key) => Ok(key),
            Material::Pin(_) | Material::Verification(..) => Err(ModuleError::WrongAlgorithm {
                algorithm: handle.algorithm(),
                what: "decrypt an RSA cryptogram",
            }),
        }
    }
}
