//! The ring's records in a KEK-wrapped export.

use pinset_envelope::{RsaPadding, RsaPublicKey};
use pinset_module::KeyRef;

use crate::snapshot::{self, Kind, SecretWriter};
use crate::store::{Lifecycle, RingKey};
use crate::{ImportError, Kek, KeyError, KeyIndex, KeyPurpose, KeyState, RingEntry, Timestamp};

const ACTIVE: u8 = 1;
const DECRYPT_ONLY: u8 = 2;
const RETIRED: u8 = 3;

fn padding_code(padding: RsaPadding) -> u8 {
    match padding {
        RsaPadding::OaepSha256 => 1,
        RsaPadding::OaepSha1 => 2,
        RsaPadding::Pkcs1v15 => 3,
    }
}

fn padding_from_code(code: u8) -> Option<RsaPadding> {
    match code {
        1 => Some(RsaPadding::OaepSha256),
        2 => Some(RsaPadding::OaepSha1),
        3 => Some(RsaPadding::Pkcs1v15),
        _ => None,
    }
}

/// One record:
///
/// ```text
/// index_len u8, index, state u8 (1 active, 2 decrypt-only, 3 retired),
/// [until/since u64 ms for 2 and 3], created_at u64 ms, has_not_after u8, [not_after u64 ms],
/// padding u8 (1 OAEP-SHA-256, 2 OAEP-SHA-1, 3 PKCS#1 v1.5), purpose u8,
/// handle_len u8, the module's key id, der_len u32, DER SubjectPublicKeyInfo
/// (both empty when retired)
/// ```
///
/// The handle's algorithm and fingerprint are worked out again from the
/// public key on import, so they cannot disagree with it.
pub(super) fn encode_entry(w: &mut SecretWriter, entry: &RingEntry) {
    w.short(entry.key_index.as_str().as_bytes());
    match entry.state() {
        KeyState::Active => w.u8(ACTIVE),
        KeyState::DecryptOnly { until } => {
            w.u8(DECRYPT_ONLY);
            w.u64(until.as_unix_millis());
        }
        KeyState::Retired { since } => {
            w.u8(RETIRED);
            w.u64(since.as_unix_millis());
        }
    }
    w.u64(entry.created_at.as_unix_millis());
    match entry.not_after {
        Some(t) => {
            w.u8(1);
            w.u64(t.as_unix_millis());
        }
        None => w.u8(0),
    }
    w.u8(padding_code(entry.padding));
    w.u8(entry.purpose.code());
    match entry.live_key() {
        Some(key) => {
            w.short(key.handle.id().as_bytes());
            w.long(&key.public.to_der());
        }
        None => {
            w.short(&[]);
            w.long(&[]);
        }
    }
}

pub(super) fn decode_ring(export: &[u8], kek: &Kek) -> Result<Vec<RingEntry>, KeyError> {
    let body = snapshot::open(Kind::RsaRing, kek, export)?;
    let mut r = body.reader();
    let count = r.u32()?;
    let mut entries: Vec<RingEntry> = Vec::new();
    for _ in 0..count {
        let entry = decode_entry(&mut r)?;
        if entries.iter().any(|e| e.key_index == entry.key_index) {
            return Err(ImportError::Malformed("a key index appears twice").into());
        }
        entries.push(entry);
    }
    r.finish()?;
    if entries
        .iter()
        .filter(|e| e.state() == KeyState::Active)
        .count()
        > 1
    {
        return Err(ImportError::Malformed("more than one active key").into());
    }
    Ok(entries)
}

fn decode_entry(r: &mut snapshot::Reader<'_>) -> Result<RingEntry, ImportError> {
    let index = std::str::from_utf8(r.short()?)
        .ok()
        .and_then(|s| KeyIndex::new(s).ok())
        .ok_or(ImportError::Malformed("a key index is not valid"))?;
    let state = match r.u8()? {
        ACTIVE => KeyState::Active,
        DECRYPT_ONLY => KeyState::DecryptOnly {
            until: Timestamp::from_unix_millis(r.u64()?),
        },
        RETIRED => KeyState::Retired {
            since: Timestamp::from_unix_millis(r.u64()?),
        },
        _ => return Err(ImportError::Malformed("a key state is unknown")),
    };
    let created_at = Timestamp::from_unix_millis(r.u64()?);
    let not_after = match r.u8()? {
        0 => None,
        1 => Some(Timestamp::from_unix_millis(r.u64()?)),
        _ => return Err(ImportError::Malformed("a not-after flag is not 0 or 1")),
    };
    let padding =
        padding_from_code(r.u8()?).ok_or(ImportError::Malformed("a padding is unknown"))?;
    let purpose =
        KeyPurpose::from_code(r.u8()?).ok_or(ImportError::Malformed("a key purpose is unknown"))?;
    let id = std::str::from_utf8(r.short()?)
        .map_err(|_| ImportError::Malformed("a key handle is not UTF-8"))?;
    let der = r.long()?;
    let key = || {
        let public = RsaPublicKey::from_der(der).map_err(|_| {
            ImportError::Malformed("a public key is not DER of a 2048 to 4096 bit RSA key")
        })?;
        let bits = u16::try_from(public.bits())
            .map_err(|_| ImportError::Malformed("a public key is too large"))?;
        let handle = KeyRef::new(
            id,
            pinset_module::KeyAlgorithm::Rsa { bits },
            purpose,
            pinset_module::KeyCheck::Fingerprint(public.fingerprint_bytes()),
        );
        Ok::<_, ImportError>(RingKey { handle, public })
    };
    let lifecycle = match state {
        KeyState::Retired { since } if der.is_empty() && id.is_empty() => {
            Lifecycle::Retired { since }
        }
        KeyState::Retired { .. } => {
            return Err(ImportError::Malformed("a retired key still holds a key"));
        }
        _ if der.is_empty() || id.is_empty() => {
            return Err(ImportError::Malformed("a live key has no key handle"));
        }
        KeyState::Active => Lifecycle::Active(key()?),
        KeyState::DecryptOnly { until } => Lifecycle::DecryptOnly { until, key: key()? },
    };
    Ok(RingEntry {
        key_index: index,
        lifecycle,
        created_at,
        not_after,
        padding,
        purpose,
    })
}
