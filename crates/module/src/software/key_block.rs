//! TR-31 key blocks in the software module: the KBPK and the key are
//! clear only inside these calls. A key that arrived in a block keeps what
//! the block said of it (mode of use, exportability), and every operation
//! checks it, as an HSM does.

use pinset_tr31::{Exportability, Kbpk, ModeOfUse, Version};

use super::SoftwareModule;
use crate::key_block::{check_slot, export_header};
use crate::{KeyAlgorithm, KeyBlockExport, KeyPurpose, KeyRef, ModuleError};

/// What a key block bound its key to.
#[derive(Clone, Copy, Debug)]
pub(super) struct Binding {
    mode: ModeOfUse,
    exportable: bool,
}

/// The operation a key is about to do, checked against its mode of use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// Encipher a PIN block or wrap a key (`B`, `E`).
    Encipher,
    /// Decipher a PIN block or unwrap a key (`B`, `D`).
    Decipher,
    /// Compute a PVV, offset or natural PIN (`C`, `G`).
    Generate,
    /// Check a PIN against a stored value (`C`, `V`).
    Verify,
}

impl Mode {
    fn allows(self, mode: ModeOfUse) -> bool {
        let allowed: &[ModeOfUse] = match self {
            Mode::Encipher => &[ModeOfUse::BOTH, ModeOfUse::ENCRYPT],
            Mode::Decipher => &[ModeOfUse::BOTH, ModeOfUse::DECRYPT],
            Mode::Generate => &[ModeOfUse::GENERATE_VERIFY, ModeOfUse::GENERATE],
            Mode::Verify => &[ModeOfUse::GENERATE_VERIFY, ModeOfUse::VERIFY],
        };
        mode == ModeOfUse::ANY || allowed.contains(&mode)
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Encipher => "encipher",
            Mode::Decipher => "decipher",
            Mode::Generate => "generate",
            Mode::Verify => "verify",
        }
    }
}

impl SoftwareModule {
    fn binding(&self, handle: &KeyRef) -> Result<Option<Binding>, ModuleError> {
        Ok(self
            .bindings
            .lock()
            .map_err(|_| Self::poisoned())?
            .get(handle.id())
            .copied())
    }

    /// Refuses an operation the key's mode of use does not allow. Keys
    /// that did not arrive in a key block carry no restriction but their
    /// purpose.
    pub(super) fn require_mode(&self, handle: &KeyRef, mode: Mode) -> Result<(), ModuleError> {
        match self.binding(handle)? {
            Some(binding) if !mode.allows(binding.mode) => Err(ModuleError::ModeOfUse {
                key: handle.id().to_owned(),
                operation: mode.name(),
            }),
            _ => Ok(()),
        }
    }

    /// Refuses a key that arrived in a key block.
    pub(super) fn require_unbound(&self, handle: &KeyRef) -> Result<(), ModuleError> {
        match self.binding(handle)? {
            Some(_) => Err(ModuleError::NotExportable(handle.id().to_owned())),
            None => Ok(()),
        }
    }

    /// Refuses a key that arrived marked non-exportable.
    pub(super) fn require_exportable(&self, handle: &KeyRef) -> Result<(), ModuleError> {
        match self.binding(handle)? {
            Some(binding) if !binding.exportable => {
                Err(ModuleError::NotExportable(handle.id().to_owned()))
            }
            _ => Ok(()),
        }
    }

    /// The key-block protection key behind `handle`, for `mode`.
    fn kbpk(&self, handle: &KeyRef, mode: Mode) -> Result<Kbpk, ModuleError> {
        handle.require_purpose(KeyPurpose::KeyBlockProtection)?;
        self.require_mode(handle, mode)?;
        let material = self.material(handle)?;
        let kbpk = match (handle.algorithm().is_aes(), material.symmetric_bytes()) {
            (false, Some(bytes)) => Kbpk::tdes(bytes),
            (true, Some(bytes)) => Kbpk::aes(bytes),
            (_, None) => {
                return Err(ModuleError::WrongAlgorithm {
                    algorithm: handle.algorithm(),
                    what: "protect key blocks (TDES or AES only)",
                });
            }
        };
        // The module checked the key's length and strength on import.
        kbpk.map_err(|_| ModuleError::WrongAlgorithm {
            algorithm: handle.algorithm(),
            what: "protect key blocks",
        })
    }

    pub(super) fn import_key_block_now(
        &self,
        kbpk: &KeyRef,
        algorithm: KeyAlgorithm,
        purpose: KeyPurpose,
        block: &str,
    ) -> Result<KeyRef, ModuleError> {
        let kbpk = self.kbpk(kbpk, Mode::Decipher)?;
        let (header, key) = pinset_tr31::unwrap(&kbpk, block).map_err(ModuleError::KeyBlock)?;
        check_slot(&header, key.len(), algorithm, purpose)?;
        let binding = Binding {
            mode: header.mode_of_use(),
            exportable: header.exportability() == Exportability::EXPORTABLE,
        };
        self.import_symmetric_bound(algorithm, purpose, &key, Some(binding))
    }

    pub(super) fn export_key_block_now(
        &self,
        key: &KeyRef,
        kbpk: &KeyRef,
        export: &KeyBlockExport,
    ) -> Result<String, ModuleError> {
        if matches!(export.version, Version::A | Version::C) {
            return Err(ModuleError::Unsupported {
                module: super::NAME,
                what: "writing deprecated TR-31 versions A and C",
            });
        }
        let mode = self.binding(key)?.map(|b| b.mode);
        let header = export_header(key.algorithm(), key.purpose(), mode, export)?;
        let protection = self.kbpk(kbpk, Mode::Encipher)?;
        self.require_exportable(key)?;
        let material = self.material(key)?;
        let bytes = material
            .symmetric_bytes()
            .ok_or(ModuleError::WrongAlgorithm {
                algorithm: key.algorithm(),
                what: "travel in a TR-31 key block (symmetric keys only)",
            })?;
        self.with_rng(|rng| pinset_tr31::wrap(&protection, &header, bytes, rng))?
            .map_err(ModuleError::KeyBlock)
    }
}
