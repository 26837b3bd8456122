//! The RSA key ring in Redis: one hash, sealed under the KEK, swapped by generation.

use std::fmt;

use pinset_keys::{Kek, KeyStore, RingEntry, RingSnapshot, StoreError};
use redis::Script;

use crate::{Conn, RedisStoreError};

/// Replaces the ring if it is still at the generation the writer read.
///
/// KEYS[1] the ring's hash; ARGV[1] the generation read, ARGV[2] the next
/// one, ARGV[3] the sealed entries. Generations are compared as the
/// decimal strings the store writes, so no Lua number rounds them. Returns
/// `{'ok', next}` or `{'conflict', found}`.
const COMPARE_AND_SWAP: &str = r"
local current = redis.call('HGET', KEYS[1], 'generation') or '0'
if current ~= ARGV[1] then
  return {'conflict', current}
end
redis.call('HSET', KEYS[1], 'generation', ARGV[2], 'sealed', ARGV[3])
return {'ok', ARGV[2]}
";

/// The [`KeyStore`] on Redis: the whole ring as one blob, so a rotation is
/// one atomic write and of two instances rotating at once exactly one
/// wins (the other's ring reads again and retries).
///
/// - Key: `{prefix}ring`, a hash with two fields: `generation` (decimal;
///   absent means 0 and an empty ring) and `sealed` (the entries in
///   [`RingEntry::seal`]'s format: AES key wrap with padding under the
///   store's [`Kek`]). Handles and public keys only; no private key is in
///   a ring, and the blob is wrapped all the same.
/// - [`snapshot`](KeyStore::snapshot): `HMGET generation sealed`, one
///   command, so the two fields always match.
/// - [`compare_and_swap`](KeyStore::compare_and_swap): a Lua script that
///   checks the generation and writes both fields.
///
/// Every instance sharing a ring needs the same KEK, and a security
/// module that understands the handles in it (one HSM they share, or
/// modules that import each key under the same id).
#[derive(Clone)]
pub struct RedisKeyStore {
    conn: Conn,
    kek: Kek,
    cas: Script,
}

impl RedisKeyStore {
    pub(crate) fn new(conn: Conn, kek: Kek) -> Self {
        RedisKeyStore {
            conn,
            kek,
            cas: Script::new(COMPARE_AND_SWAP),
        }
    }

    /// The ring's Redis key: `{prefix}ring`.
    pub fn key(&self) -> String {
        self.conn.key("ring", "")
    }
}

impl fmt::Debug for RedisKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisKeyStore")
            .field("prefix", &self.conn.prefix())
            .field("kek", &self.kek)
            .finish()
    }
}

fn generation(text: &str) -> Result<u64, RedisStoreError> {
    text.parse()
        .map_err(|_| RedisStoreError::Unexpected("a ring generation that is no number"))
}

impl KeyStore for RedisKeyStore {
    async fn snapshot(&self) -> Result<RingSnapshot, StoreError> {
        let (found, sealed): (Option<String>, Option<Vec<u8>>) = self
            .conn
            .query(
                redis::cmd("HMGET")
                    .arg(self.key())
                    .arg("generation")
                    .arg("sealed"),
            )
            .await?;
        match (found, sealed) {
            (None, None) => Ok(RingSnapshot::default()),
            (Some(found), Some(sealed)) => Ok(RingSnapshot {
                generation: generation(&found)?,
                entries: RingEntry::open(&sealed, &self.kek).map_err(RedisStoreError::Ring)?,
            }),
            _ => Err(RedisStoreError::Unexpected("a ring hash with one field missing").into()),
        }
    }

    async fn compare_and_swap(
        &self,
        generation_read: u64,
        entries: Vec<RingEntry>,
    ) -> Result<u64, StoreError> {
        let next = generation_read
            .checked_add(1)
            .ok_or(RedisStoreError::Unexpected("the ring generation overflows"))?;
        let sealed = RingEntry::seal(&entries, &self.kek).map_err(RedisStoreError::Ring)?;
        let mut invocation = self.cas.key(self.key());
        invocation
            .arg(generation_read.to_string())
            .arg(next.to_string())
            .arg(sealed);
        let (outcome, found): (String, String) = self.conn.invoke(&invocation).await?;
        match outcome.as_str() {
            "ok" => Ok(next),
            "conflict" => Err(StoreError::Conflict {
                expected: generation_read,
                found: generation(&found)?,
            }),
            _ => Err(RedisStoreError::Unexpected("a script reply of the wrong shape").into()),
        }
    }
}
