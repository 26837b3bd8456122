//! Errors of the key stores.

use pinset_envelope::Undecryptable;

use crate::{ControlId, InvalidId, KeyIndex, KeyPurpose, Timestamp, ZpkIndex};

/// Why a key-ring, zone-key, KEK or import operation was refused.
///
/// No variant carries key bytes, a PIN or a PAN. Crypto failures keep the
/// envelope's detail for the issuer's own logs; before answering a remote
/// caller, check [`KeyError::is_refetch`] and otherwise answer only
/// [`KeyError::outward`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An identifier broke its syntax rule.
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    /// No key in the ring has this index. It was never issued here: a client
    /// bug or a probe, not a stale key.
    #[error("no RSA key has index {0}")]
    UnknownKeyIndex(KeyIndex),
    /// The key under this index is retired (its grace period ended, or it
    /// passed its not-after date). The client must fetch the current public
    /// key and encrypt again; see [`KeyError::is_refetch`].
    #[error(
        "RSA key {key_index} was retired at {since}: fetch the current public key and encrypt again"
    )]
    RetiredKeyIndex {
        /// The index the client sent.
        key_index: KeyIndex,
        /// When the key stopped decrypting.
        since: Timestamp,
    },
    /// The ring has no active key to publish: none was ever installed.
    #[error("the RSA key ring has no active key: rotate one in")]
    NoActiveKey,
    /// The active key passed its not-after date and nothing replaced it.
    #[error("the active RSA key {key_index} expired at {since}: rotate in a new key")]
    ActiveKeyExpired {
        /// The expired key.
        key_index: KeyIndex,
        /// Its not-after date.
        since: Timestamp,
    },
    /// A key to rotate in is already past its not-after date: it would leave
    /// the ring with no active key. Refused before anything changes.
    #[error("RSA key {key_index} expired at {not_after}: it cannot become the active key")]
    NewKeyExpired {
        /// The new key's index.
        key_index: KeyIndex,
        /// Its not-after date.
        not_after: Timestamp,
    },
    /// A new RSA key asked for an index the ring already holds, even retired:
    /// clients cache indexes, so an index is never reused.
    #[error("RSA key index {0} is already in the ring: every key needs a new index")]
    DuplicateKeyIndex(KeyIndex),
    /// No zone key has this index.
    #[error("no zone key has index {0}")]
    UnknownZpkIndex(ZpkIndex),
    /// A zone key with this index is already stored.
    #[error("zone key index {0} is already in use")]
    DuplicateZpkIndex(ZpkIndex),
    /// The key is tagged for another purpose than the operation needs.
    #[error("key {key} is for {found}, not {expected}")]
    WrongPurpose {
        /// The key's index.
        key: String,
        /// The purpose the operation needs.
        expected: KeyPurpose,
        /// The purpose the key is tagged with.
        found: KeyPurpose,
    },
    /// A key's check value is not the one it was delivered with.
    #[error("key check value is {found}, expected {expected}: wrong key or damaged in transit")]
    KcvMismatch {
        /// The KCV the key was delivered with.
        expected: pinset_envelope::Kcv,
        /// The KCV of the key received.
        found: pinset_envelope::Kcv,
    },
    /// A key-encryption key must be 32 bytes (AES-256).
    #[error("a KEK must be 32 bytes (AES-256), got {found}")]
    KekLength {
        /// The length received.
        found: usize,
    },
    /// The export would be too large for AES key wrap with padding (4 GiB).
    #[error("the export body is {len} bytes; AES key wrap takes less than 4 GiB")]
    ExportTooLarge {
        /// The body length.
        len: usize,
    },
    /// An export could not be imported; nothing was changed.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// `import_into` was given a store that already holds keys.
    #[error("the key store already holds keys: import builds a fresh ring")]
    StoreNotEmpty,
    /// The key store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A lock was poisoned by a panic in another thread.
    #[error(
        "the {0} lock was poisoned by a panic in another thread: rebuild it from a known state"
    )]
    Poisoned(&'static str),
    /// A key handle does not name the key it was given with: not an RSA
    /// key, or its fingerprint is not the public key's.
    #[error("key handle {0} does not match the key given with it")]
    KeyMismatch(String),
    /// The security module refused or failed.
    #[error(transparent)]
    Module(#[from] pinset_module::ModuleError),
    /// An envelope operation failed: RSA decryption, PIN-block decoding, or a
    /// key's encoding. Detail for the issuer's log only.
    #[error("PIN block or key operation failed: {0}")]
    Envelope(#[from] pinset_envelope::Error),
}

impl KeyError {
    /// Whether the client should fetch the current public key and encrypt
    /// again: true for [`KeyError::RetiredKeyIndex`] only.
    ///
    /// Telling a client its public index is stale reveals nothing secret, so
    /// a service may answer this one plainly.
    pub fn is_refetch(&self) -> bool {
        matches!(self, KeyError::RetiredKeyIndex { .. })
    }

    /// Folds any failure into the one outward error, so the service is no
    /// padding or format oracle. The detail stays in `self` for the log.
    pub fn outward(&self) -> Undecryptable {
        Undecryptable
    }
}

/// Why an export could not be imported. Nothing is half-imported: on any of
/// these the target is left as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The bytes do not start with the export magic.
    #[error("not a pinset key export")]
    NotAnExport,
    /// The export was written by a newer format version.
    #[error("key export format version {0} is not supported (this build reads version 1)")]
    UnsupportedVersion(u8),
    /// The export holds another kind of keys (an RSA ring given to zone keys, or back).
    #[error("this export holds {found}, not {expected}")]
    WrongKind {
        /// What the import reads.
        expected: &'static str,
        /// What the export says it holds.
        found: &'static str,
    },
    /// The export is too short, or its length is not a whole number of wrap blocks.
    #[error("key export is truncated or padded ({len} bytes)")]
    Truncated {
        /// Its length.
        len: usize,
    },
    /// The export names a different KEK (by KCV) than the one given.
    #[error(
        "key export was wrapped under the KEK with KCV {}, but the KEK given has KCV {}",
        hex3(.export),
        hex3(.given)
    )]
    WrongKek {
        /// KCV of the KEK the export names.
        export: [u8; 3],
        /// KCV of the KEK given.
        given: [u8; 3],
    },
    /// The AES key unwrap or the checksum failed: the export was altered, or
    /// the KEK is wrong.
    #[error("key export failed its integrity check: it was altered, or the KEK is wrong")]
    Integrity,
    /// The export unwrapped cleanly but its content is inconsistent.
    #[error("key export content is malformed: {0}")]
    Malformed(&'static str),
}

fn hex3(bytes: &[u8; 3]) -> String {
    format!("{:02X}{:02X}{:02X}", bytes[0], bytes[1], bytes[2])
}

/// Why a [`KeyStore`](crate::KeyStore) operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store moved on since it was read (another writer won); reload and retry.
    #[error("the key store changed (generation {found}, expected {expected}): reload and retry")]
    Conflict {
        /// The generation the writer read.
        expected: u64,
        /// The generation the store is at.
        found: u64,
    },
    /// The store's lock was poisoned by a panic in another thread.
    #[error("the key store's lock was poisoned by a panic in another thread")]
    Poisoned,
    /// A backend-specific failure (database, HSM, network).
    #[error("key store backend failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// Why a temporary key (Enfuce tzpk) could not be issued or taken.
///
/// No variant carries key bytes or the plastic binding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TzpkError {
    /// An identifier broke its syntax rule.
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    /// No temporary key has this control id (never issued, or forgotten after expiry).
    #[error("no temporary key has control id {0}")]
    Unknown(ControlId),
    /// The key's time to live ran out before it was taken.
    #[error(
        "the temporary key for control id {control_id} expired at {expired_at}: request a new one"
    )]
    Expired {
        /// The control id.
        control_id: ControlId,
        /// When it expired.
        expired_at: Timestamp,
    },
    /// The key was already taken: each temporary key opens one request.
    #[error(
        "the temporary key for control id {0} was already used: a replay, or a retry that needs a new key"
    )]
    AlreadyUsed(ControlId),
    /// The control id was issued for another plastic. The key stays available to its own plastic.
    #[error("control id {0} was issued for another plastic")]
    PlasticMismatch(ControlId),
    /// The control is open, but no temporary key was issued for it: the
    /// device must fetch its tzpk first.
    #[error("control id {0} has no temporary key yet")]
    NotIssued(ControlId),
    /// The control id is already pending or recently used.
    #[error("control id {0} is already in use: each temporary key needs a fresh control id")]
    DuplicateControlId(ControlId),
    /// The handle given as a tzpk is not a 2-key TDES PIN-encryption key.
    #[error("a temporary key must be a 2-key TDES PIN-encryption key")]
    NotATzpk,
    /// The table's lock was poisoned by a panic in another thread.
    #[error("the temporary key table's lock was poisoned by a panic in another thread")]
    Poisoned,
    /// The control store failed or cannot be reached; nothing changed. Retry.
    #[error("the {store} control store is unavailable: {reason}")]
    Unavailable {
        /// The store's name, such as `redis`.
        store: &'static str,
        /// What failed. Never a controlId, key or binding.
        reason: String,
    },
}
