//! PIN verification values in the software module: the clear PIN exists
//! only in zeroizing types inside these calls.

use pinset_block::Format;
use std::sync::Arc;

use pinset_envelope::EncryptedPinBlock;
use pinset_verify::{
    PinVerificationKey, VerificationMethod, VerificationValue, ibm3624_natural_pin,
};

use super::{Material, Mode, SoftwareModule};
use crate::{
    GenerateNaturalPin, GenerateVerificationValue, KeyPurpose, KeyRef, ModuleError, PinVerified,
    VerifyPin, verification_purpose,
};

impl SoftwareModule {
    /// The PIN verification key behind `handle`, checked for `purpose`.
    fn pvk(
        &self,
        handle: &KeyRef,
        purpose: KeyPurpose,
        mode: Mode,
    ) -> Result<Arc<PinVerificationKey>, ModuleError> {
        handle.require_purpose(purpose)?;
        self.require_mode(handle, mode)?;
        match self.material(handle)? {
            Material::Verification(_, pvk) => Ok(pvk),
            Material::Pin(_) | Material::Rsa(_) => Err(wrong_pvk_algorithm(handle)),
        }
    }

    pub(super) fn generate_verification_value_now(
        &self,
        request: &GenerateVerificationValue<'_>,
    ) -> Result<VerificationValue, ModuleError> {
        request.check()?;
        let pvk = self.pvk(
            request.pvk,
            verification_purpose(request.method),
            Mode::Generate,
        )?;
        let pin = self.open(&request.source, Some(request.pan))?;
        request
            .method
            .generate(&pvk, request.pan, &pin)
            .map_err(ModuleError::Verification)
    }

    pub(super) fn verify_pin_now(
        &self,
        request: &VerifyPin<'_>,
    ) -> Result<PinVerified, ModuleError> {
        request.check()?;
        let pvk = self.pvk(
            request.pvk,
            verification_purpose(request.method),
            Mode::Verify,
        )?;
        let pin = self.open(&request.source, Some(request.pan))?;
        request
            .method
            .verify(&pvk, request.pan, &pin, request.value)
            .map(PinVerified::from)
            .map_err(ModuleError::Verification)
    }

    pub(super) fn generate_natural_pin_now(
        &self,
        request: &GenerateNaturalPin<'_>,
    ) -> Result<EncryptedPinBlock, ModuleError> {
        if request.format == Format::Iso2 {
            return Err(ModuleError::TranslationNotAllowed {
                from: Format::Iso2,
                to: Format::Iso2,
            });
        }
        let method = VerificationMethod::Ibm3624 {
            table: *request.table,
            validation: *request.validation,
        };
        let pvk = self.pvk(request.pvk, verification_purpose(&method), Mode::Generate)?;
        let destination = self.pin_key_for(request.destination, request.format, Mode::Encipher)?;
        let data = request
            .validation
            .resolve(request.pan)
            .map_err(ModuleError::Verification)?;
        let pin = ibm3624_natural_pin(&pvk, request.table, &data, request.length)
            .map_err(ModuleError::Verification)?;
        self.with_rng(|rng| destination.seal(request.format, &pin, Some(request.pan), rng))?
            .map_err(ModuleError::KeyMaterial)
    }
}

fn wrong_pvk_algorithm(handle: &KeyRef) -> ModuleError {
    ModuleError::WrongAlgorithm {
        algorithm: handle.algorithm(),
        what: "verify PINs (PIN verification keys are TDES)",
    }
}
