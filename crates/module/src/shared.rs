//! A shared module is a module: [`SecurityModule`] for `Arc<M>`, each
//! call forwarded to the module inside.

use core::future::Future;

use pinset_verify::{VerificationMethod, VerificationValue};

use crate::{
    EncryptedPinBlock, GenerateNaturalPin, GenerateVerificationValue, KeyAlgorithm, KeyBlockExport,
    KeyPurpose, KeyRef, ModuleError, PinVerified, RsaPadding, RsaPublicKey, SecurityModule,
    TranslatePin, VerifyPin, Wrapping,
};

/// A shared module is a module: hand one `Arc` to several flows.
impl<M: SecurityModule> SecurityModule for std::sync::Arc<M> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn import_symmetric(
        &self,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        material: &[u8],
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send {
        (**self).import_symmetric(algorithm, purpose, material)
    }

    fn import_rsa_private(
        &self,
        purpose: KeyPurpose,
        der: &[u8],
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send {
        (**self).import_rsa_private(purpose, der)
    }

    fn import_wrapped(
        &self,
        wrapping: Wrapping<'_>,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send {
        (**self).import_wrapped(wrapping, algorithm, purpose, wrapped)
    }

    fn export_wrapped(
        &self,
        key: &KeyRef,
        kek: &KeyRef,
    ) -> impl Future<Output = Result<Vec<u8>, ModuleError>> + Send {
        (**self).export_wrapped(key, kek)
    }

    fn generate_rsa(
        &self,
        bits: usize,
        purpose: KeyPurpose,
    ) -> impl Future<Output = Result<(KeyRef, RsaPublicKey), ModuleError>> + Send {
        (**self).generate_rsa(bits, purpose)
    }

    fn rsa_public_key(
        &self,
        key: &KeyRef,
    ) -> impl Future<Output = Result<RsaPublicKey, ModuleError>> + Send {
        (**self).rsa_public_key(key)
    }

    fn generate_tzpk(
        &self,
        device_key: &RsaPublicKey,
        padding: RsaPadding,
    ) -> impl Future<Output = Result<(KeyRef, Vec<u8>), ModuleError>> + Send {
        (**self).generate_tzpk(device_key, padding)
    }

    fn translate(
        &self,
        request: &TranslatePin<'_>,
    ) -> impl Future<Output = Result<EncryptedPinBlock, ModuleError>> + Send {
        (**self).translate(request)
    }

    fn bind_verification_method(
        &self,
        pvk: &KeyRef,
        method: &VerificationMethod,
    ) -> impl Future<Output = Result<(), ModuleError>> + Send {
        (**self).bind_verification_method(pvk, method)
    }

    fn generate_verification_value(
        &self,
        request: &GenerateVerificationValue<'_>,
    ) -> impl Future<Output = Result<VerificationValue, ModuleError>> + Send {
        (**self).generate_verification_value(request)
    }

    fn verify_pin(
        &self,
        request: &VerifyPin<'_>,
    ) -> impl Future<Output = Result<PinVerified, ModuleError>> + Send {
        (**self).verify_pin(request)
    }

    fn generate_natural_pin(
        &self,
        request: &GenerateNaturalPin<'_>,
    ) -> impl Future<Output = Result<EncryptedPinBlock, ModuleError>> + Send {
        (**self).generate_natural_pin(request)
    }

    fn import_key_block(
        &self,
        kbpk: &KeyRef,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        block: &str,
    ) -> impl Future<Output = Result<KeyRef, ModuleError>> + Send {
        (**self).import_key_block(kbpk, algorithm, purpose, block)
    }

    fn export_key_block(
        &self,
        key: &KeyRef,
        kbpk: &KeyRef,
        export: &KeyBlockExport,
    ) -> impl Future<Output = Result<String, ModuleError>> + Send {
        (**self).export_key_block(key, kbpk, export)
    }

    fn destroy(&self, key: &KeyRef) -> impl Future<Output = Result<(), ModuleError>> + Send {
        (**self).destroy(key)
    }
}
