//! The Mastercard replay guard in Redis: one key per cryptogram fingerprint.

use std::fmt;
use std::time::Duration;

use pinset_flow::{ClaimToken, ReplayStore};
use pinset_keys::StoreError;
use rand_core::TryRng;
use redis::{Script, Value};

use crate::{Conn, RedisStoreError, px};

/// Deletes a claim only if it still carries the releasing request's token.
///
/// KEYS[1] the fingerprint's key; ARGV[1] the token. Returns 1 if deleted.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// The [`ReplayStore`] on Redis, shared by every instance so that a
/// cryptogram used on one is refused on all.
///
/// - Key: `{prefix}replay:{hex fingerprint}` (the SHA-256 of the
///   cryptogram the flow computes; the cryptogram itself is never sent).
/// - Value: the claim's token, a random 64-bit number drawn from the OS
///   for each claim, in decimal.
/// - [`claim`](ReplayStore::claim): `SET key token NX PX window`: once per
///   window, whichever instance asks; Redis expires the entry, so the
///   store is bounded by the claims of one window with no sweep.
/// - [`release`](ReplayStore::release): a Lua compare-and-delete, so a late
///   release never removes a newer claim.
#[derive(Clone)]
pub struct RedisReplayStore {
    conn: Conn,
    release: Script,
}

impl RedisReplayStore {
    pub(crate) fn new(conn: Conn) -> Self {
        RedisReplayStore {
            conn,
            release: Script::new(RELEASE),
        }
    }

    /// The Redis key of a fingerprint: `{prefix}replay:` and its hex.
    pub fn key_for(&self, fingerprint: &[u8; 32]) -> String {
        self.conn.key("replay:", &hex::encode(fingerprint))
    }
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("prefix", &self.conn.prefix())
            .finish()
    }
}

/// A fresh random token: two claims of one fingerprint, from any two
/// instances, differ but with probability 2^-64.
fn fresh_token() -> Result<ClaimToken, RedisStoreError> {
    let mut bytes = [0u8; 8];
    getrandom::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|_| RedisStoreError::Rng)?;
    Ok(ClaimToken(u64::from_le_bytes(bytes)))
}

impl ReplayStore for RedisReplayStore {
    async fn claim(
        &self,
        fingerprint: &[u8; 32],
        window: Duration,
    ) -> Result<Option<ClaimToken>, StoreError> {
        let token = fresh_token()?;
        let reply: Value = self
            .conn
            .query(
                redis::cmd("SET")
                    .arg(self.key_for(fingerprint))
                    .arg(token.0)
                    .arg("NX")
                    .arg("PX")
                    .arg(px(window)),
            )
            .await?;
        match reply {
            Value::Okay => Ok(Some(token)),
            Value::Nil => Ok(None),
            _ => Err(RedisStoreError::Unexpected("a SET reply of the wrong shape").into()),
        }
    }

    async fn release(&self, fingerprint: &[u8; 32], token: ClaimToken) -> Result<(), StoreError> {
        let mut invocation = self.release.key(self.key_for(fingerprint));
        invocation.arg(token.0);
        let _deleted: i64 = self.conn.invoke(&invocation).await?;
        Ok(())
    }
}
