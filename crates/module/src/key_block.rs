//! TR-31 key blocks at the seam: which header fits which key slot.
//!
//! A key block's header binds its key to one use. Importing one into a
//! slot (an algorithm and a [`KeyPurpose`]) must keep that binding, so the
//! mapping lives here, once, for every backend: a `P0` key becomes a PIN
//! encryption key and nothing else, a `V2` key computes PVVs only.

#[cfg(feature = "software")]
use pinset_tr31::Header;
use pinset_tr31::{Algorithm, Exportability, KeyUsage, ModeOfUse, Version};

#[cfg(feature = "software")]
use crate::ModuleError;
use crate::{KeyAlgorithm, KeyPurpose};

/// The key block header field that keeps a block out of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SlotField {
    /// The key usage says another purpose.
    KeyUsage,
    /// The mode of use allows what the purpose never does.
    ModeOfUse,
    /// The algorithm or key length is not the slot's.
    Algorithm,
    /// The key version marks a key component (`c1`, `c2`…).
    KeyVersion,
}

impl core::fmt::Display for SlotField {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SlotField::KeyUsage => "key usage",
            SlotField::ModeOfUse => "mode of use",
            SlotField::Algorithm => "algorithm",
            SlotField::KeyVersion => "key version (a key component)",
        })
    }
}

/// How [`SecurityModule::export_key_block`](crate::SecurityModule::export_key_block)
/// writes a key out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyBlockExport {
    /// `B` under a TDES KBPK or `D` under an AES one. A and C are never written.
    pub version: Version,
    /// Whether the receiver may export the key again. `N` by default.
    pub exportability: Exportability,
}

impl Default for KeyBlockExport {
    fn default() -> Self {
        KeyBlockExport {
            version: Version::D,
            exportability: Exportability::NON_EXPORTABLE,
        }
    }
}

/// The key usage, mode of use and algorithm of a key of `algorithm` and
/// `purpose`, as a key block header states them: what an imported block
/// must say to fill the slot, and what an exported block says.
///
/// The mode of use is the full one (`B` both ways for encryption keys,
/// `C` generate and verify for PIN verification keys). An imported block
/// may narrow it (`E`, `D`, `G`, `V`): the module keeps the narrower mode
/// and enforces it on every operation.
///
/// ```
/// use pinset_module::tr31::{Algorithm, KeyUsage, ModeOfUse};
/// use pinset_module::{KeyAlgorithm, KeyPurpose, slot_header};
///
/// assert_eq!(
///     slot_header(KeyPurpose::PinVerificationVisa, KeyAlgorithm::Tdes2),
///     Some((KeyUsage::PIN_VERIFICATION_VISA_PVV, ModeOfUse::GENERATE_VERIFY, Algorithm::TDES))
/// );
/// assert_eq!(slot_header(KeyPurpose::PinEncryption, KeyAlgorithm::Rsa { bits: 2048 }), None);
/// ```
pub fn slot_header(
    purpose: KeyPurpose,
    algorithm: KeyAlgorithm,
) -> Option<(KeyUsage, ModeOfUse, Algorithm)> {
    let (usage, mode) = match purpose {
        KeyPurpose::PinEncryption => (KeyUsage::PIN_ENCRYPTION, ModeOfUse::BOTH),
        KeyPurpose::KeyEncryption => (KeyUsage::KEY_ENCRYPTION, ModeOfUse::BOTH),
        KeyPurpose::KeyBlockProtection => (KeyUsage::KBPK, ModeOfUse::BOTH),
        KeyPurpose::DataEncryption => (KeyUsage::DATA_ENCRYPTION, ModeOfUse::BOTH),
        KeyPurpose::PinVerificationVisa => (
            KeyUsage::PIN_VERIFICATION_VISA_PVV,
            ModeOfUse::GENERATE_VERIFY,
        ),
        KeyPurpose::PinVerificationIbm3624 => (
            KeyUsage::PIN_VERIFICATION_IBM3624,
            ModeOfUse::GENERATE_VERIFY,
        ),
    };
    let header_algorithm = match algorithm {
        KeyAlgorithm::Tdes2 | KeyAlgorithm::Tdes3 => Algorithm::TDES,
        KeyAlgorithm::Aes128 | KeyAlgorithm::Aes192 | KeyAlgorithm::Aes256 => Algorithm::AES,
        _ => return None,
    };
    Some((usage, mode, header_algorithm))
}

#[cfg(feature = "software")] // the backends that read key blocks
/// Checks that an unwrapped block's header and key length fill the slot.
///
/// # Errors
///
/// [`ModuleError::KeyBlockSlot`] naming the first field that disagrees.
pub(crate) fn check_slot(
    header: &Header,
    key_len: usize,
    algorithm: KeyAlgorithm,
    purpose: KeyPurpose,
) -> Result<(), ModuleError> {
    let misfit = |field| ModuleError::KeyBlockSlot { field, purpose };
    let (usage, mode, header_algorithm) =
        slot_header(purpose, algorithm).ok_or(misfit(SlotField::Algorithm))?;
    if header.key_usage() != usage {
        return Err(misfit(SlotField::KeyUsage));
    }
    if !narrows(header.mode_of_use(), mode) {
        return Err(misfit(SlotField::ModeOfUse));
    }
    if header.algorithm() != header_algorithm || algorithm.key_len() != Some(key_len) {
        return Err(misfit(SlotField::Algorithm));
    }
    // `c1`, `c2`…: one component of a key, never a working key by itself.
    if header.key_version().starts_with('c') {
        return Err(misfit(SlotField::KeyVersion));
    }
    Ok(())
}

#[cfg(feature = "software")] // the backends that read key blocks
/// Whether `found` is `full` or a narrower mode of it.
fn narrows(found: ModeOfUse, full: ModeOfUse) -> bool {
    let narrower: &[ModeOfUse] = match full {
        ModeOfUse::BOTH => &[ModeOfUse::ENCRYPT, ModeOfUse::DECRYPT],
        ModeOfUse::GENERATE_VERIFY => &[ModeOfUse::GENERATE, ModeOfUse::VERIFY],
        _ => &[],
    };
    found == full || found == ModeOfUse::ANY || narrower.contains(&found)
}

#[cfg(feature = "software")] // the backends that read key blocks
/// The header an exported key's block carries: the mode it arrived with,
/// if it arrived in a block, else the full mode of its purpose.
pub(crate) fn export_header(
    algorithm: KeyAlgorithm,
    purpose: KeyPurpose,
    mode_of_use: Option<ModeOfUse>,
    export: &KeyBlockExport,
) -> Result<Header, ModuleError> {
    let (usage, full_mode, header_algorithm) =
        slot_header(purpose, algorithm).ok_or(ModuleError::WrongAlgorithm {
            algorithm,
            what: "travel in a TR-31 key block (symmetric keys only)",
        })?;
    Header::new(
        export.version,
        usage,
        header_algorithm,
        mode_of_use.unwrap_or(full_mode),
        "00",
        export.exportability,
    )
    .map_err(ModuleError::KeyBlock)
}
