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
    GenerateNaturalPin, GenerateVerificationValue, KeyRef, ModuleError, PinVerified, VerifyPin,
    verification_purpose,
};

impl SoftwareModule {
    /// The PIN verification key behind `handle`, if it is tagged for
    /// `method`, its mode of use allows `mode`, and (IBM 3624) `method` is
    /// the one bound to the key.
    fn pvk(
        &self,
        handle: &KeyRef,
        method: &VerificationMethod,
        mode: Mode,
    ) -> Result<Arc<PinVerificationKey>, ModuleError> {
        handle.require_purpose(verification_purpose(method))?;
        self.require_mode(handle, mode)?;
        let (pvk, name) = match self.material(handle)? {
            Material::Verification(_, pvk, name) => (pvk, name),
            Material::Pin(_) | Material::Rsa(_) => return Err(wrong_pvk_algorithm(handle)),
        };
        // A Visa PVK has no secret parameter to bind: any PVKI gives PVVs
        // no attacker can turn back into a PIN without the key.
        if matches!(method, VerificationMethod::VisaPvv { .. }) {
            return Ok(pvk);
        }
        let methods = self.methods.lock().map_err(|_| Self::poisoned())?;
        match methods.get(&name) {
            Some(bound) if bound == method => Ok(pvk),
            Some(_) => Err(binding(handle, "it is bound to another method")),
            None => Err(binding(handle, "no verification method is bound to it")),
        }
    }

    pub(super) fn bind_verification_method_now(
        &self,
        pvk: &KeyRef,
        method: &VerificationMethod,
    ) -> Result<(), ModuleError> {
        pvk.require_purpose(verification_purpose(method))?;
        if let VerificationMethod::Ibm3624 { table, .. } = method {
            table.check_strength().map_err(ModuleError::Verification)?;
        }
        let Material::Verification(_, _, name) = self.material(pvk)? else {
            return Err(wrong_pvk_algorithm(pvk));
        };
        if matches!(method, VerificationMethod::VisaPvv { .. }) {
            return Ok(());
        }
        // Filed by key, not handle, and kept when a handle is destroyed:
        // the same key imported again is bound as before.
        let mut methods = self.methods.lock().map_err(|_| Self::poisoned())?;
        match methods.get(&name) {
            Some(bound) if bound == method => Ok(()),
            Some(_) => Err(binding(pvk, "it is bound to another method")),
            None => {
                methods.insert(name, method.clone());
                Ok(())
            }
        }
    }

    pub(super) fn generate_verification_value_now(
        &self,
        request: &GenerateVerificationValue<'_>,
    ) -> Result<VerificationValue, ModuleError> {
        request.check()?;
        let pvk = self.pvk(request.pvk, request.method, Mode::Generate)?;
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
        let pvk = self.pvk(request.pvk, request.method, Mode::Verify)?;
        let pin = self.open(&request.source, Some(request.pan))?;
        match request
            .method
            .verify(&pvk, request.pan, &pin, request.value)
        {
            Ok(matched) => Ok(PinVerified::from(matched)),
            // A PIN shorter than the offset does not match; an error would
            // tell the caller the PIN's length.
            Err(pinset_verify::Error::OffsetLongerThanPin) => Ok(PinVerified::Mismatch),
            Err(e) => Err(ModuleError::Verification(e)),
        }
    }

    pub(super) fn generate_natural_pin_now(
        &self,
        request: &GenerateNaturalPin<'_>,
    ) -> Result<EncryptedPinBlock, ModuleError> {
        if request.format == Format::Iso2 {
            return Err(ModuleError::ChipOnlyFormat);
        }
        let method = VerificationMethod::Ibm3624 {
            table: *request.table,
            validation: request.validation.clone(),
        };
        let pvk = self.pvk(request.pvk, &method, Mode::Generate)?;
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

fn binding(handle: &KeyRef, problem: &'static str) -> ModuleError {
    ModuleError::VerificationBinding {
        key: handle.id().to_owned(),
        problem,
    }
}

fn wrong_pvk_algorithm(handle: &KeyRef) -> ModuleError {
    ModuleError::WrongAlgorithm {
        algorithm: handle.algorithm(),
        what: "verify PINs (PIN verification keys are TDES)",
    }
}
