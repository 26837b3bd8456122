#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod control;
mod error;
mod replay;
mod ring;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use control::{RECORD_VERSION, RedisControlStore};
pub use error::RedisStoreError;
use pinset_keys::{DEFAULT_TZPK_TTL, Kek};
pub use redis;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, ScriptInvocation};
pub use replay::RedisReplayStore;
pub use ring::RedisKeyStore;

/// The key prefix unless set: every key the stores write starts with it.
pub const DEFAULT_PREFIX: &str = "pinset:";

/// The connection to one Redis and the settings the stores share: the key
/// prefix, so several services (or tests) can share a server, and the
/// controls' time to live.
///
/// Cheap to clone: the [`ConnectionManager`] inside is one multiplexed
/// connection behind an `Arc`, which every store made from this value
/// shares and which reconnects by itself when Redis comes back. Build it
/// and call the stores inside a Tokio runtime: the connection's I/O runs
/// on the runtime it was created on.
#[derive(Clone)]
pub struct RedisStores {
    manager: ConnectionManager,
    prefix: Arc<str>,
    control_ttl: Duration,
}

impl RedisStores {
    /// The connection settings [`connect`](Self::connect) uses, so that a
    /// request answers its retryable 500 quickly when Redis is away:
    ///
    /// - connection timeout 1 s and response timeout 1 s: a Redis that
    ///   hangs fails a call within about a second;
    /// - one reconnection retry, after 25 to 100 ms: a Redis that is down
    ///   (connection refused) fails a call within about 100 ms.
    ///
    /// A failed call makes the manager start a fresh reconnection, which
    /// the next call waits for; a call whose connection was refused asks
    /// once more (the command was never sent), so the first call after
    /// Redis is back succeeds. Nothing needs rebuilding.
    pub fn fail_fast_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(25))
            .set_max_delay(Duration::from_millis(100))
    }

    /// Connects to the Redis at `url` (`redis://host:port/db`, with
    /// `user:password@` if needed) with [`fail_fast_config`](Self::fail_fast_config),
    /// the [`DEFAULT_PREFIX`] and the 30-second control TTL. Must run on a
    /// Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError::Config`] for a URL the client refuses;
    /// a connection error if Redis cannot be reached now
    /// ([`connect_lazy`](Self::connect_lazy) starts without it).
    pub async fn connect(url: &str) -> Result<Self, RedisStoreError> {
        Self::connect_with_config(url, Self::fail_fast_config()).await
    }

    /// [`connect`](Self::connect) with your own connection settings.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub async fn connect_with_config(
        url: &str,
        config: ConnectionManagerConfig,
    ) -> Result<Self, RedisStoreError> {
        let client = redis::Client::open(url)?;
        let manager = ConnectionManager::new_with_config(client, config).await?;
        Ok(Self::from_manager(manager))
    }

    /// Like [`connect`](Self::connect), but connects on the first call, so
    /// a service can start while Redis is down (its calls answer the
    /// retryable errors until Redis is up). Must be called inside a Tokio
    /// runtime.
    ///
    /// # Errors
    ///
    /// [`RedisStoreError::Config`] for a URL the client refuses.
    pub fn connect_lazy(url: &str) -> Result<Self, RedisStoreError> {
        let client = redis::Client::open(url)?;
        let manager = ConnectionManager::new_lazy_with_config(client, Self::fail_fast_config())?;
        Ok(Self::from_manager(manager))
    }

    /// The stores over a connection manager you built, with the
    /// [`DEFAULT_PREFIX`] and the 30-second control TTL.
    pub fn from_manager(manager: ConnectionManager) -> Self {
        RedisStores {
            manager,
            prefix: Arc::from(DEFAULT_PREFIX),
            control_ttl: DEFAULT_TZPK_TTL,
        }
    }

    /// Sets the key prefix (such as `pinset:prod:`). Every instance of one
    /// service must use the same prefix; different services or tests on
    /// one Redis use different ones.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Arc::from(prefix.into());
        self
    }

    /// Sets how long each control lives from its opening, as Redis
    /// measures it (30 s, Enfuce's controlId lifetime, unless set).
    pub fn with_control_ttl(mut self, ttl: Duration) -> Self {
        self.control_ttl = ttl;
        self
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The controls' time to live.
    pub fn control_ttl(&self) -> Duration {
        self.control_ttl
    }

    /// The connection manager, for commands of your own.
    pub fn manager(&self) -> &ConnectionManager {
        &self.manager
    }

    /// The Enfuce control store, for `EnfuceSetPin::with_store`.
    pub fn controls(&self) -> RedisControlStore {
        RedisControlStore::new(self.conn(), self.control_ttl)
    }

    /// The Mastercard replay store, for `MastercardPanless::with_replay_store`.
    pub fn replay(&self) -> RedisReplayStore {
        RedisReplayStore::new(self.conn())
    }

    /// The RSA key-ring store, sealing the ring under `kek`, for
    /// `RsaKeyRing::with_store`. Every instance sharing the ring needs the
    /// same KEK, and handles its security module understands.
    pub fn key_ring(&self, kek: Kek) -> RedisKeyStore {
        RedisKeyStore::new(self.conn(), kek)
    }

    fn conn(&self) -> Conn {
        Conn {
            manager: self.manager.clone(),
            prefix: Arc::clone(&self.prefix),
        }
    }
}

impl fmt::Debug for RedisStores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStores")
            .field("prefix", &self.prefix)
            .field("control_ttl", &self.control_ttl)
            .finish_non_exhaustive()
    }
}

/// What each store holds: the shared connection and the prefix.
#[derive(Clone)]
pub(crate) struct Conn {
    manager: ConnectionManager,
    prefix: Arc<str>,
}

impl Conn {
    /// `{prefix}{kind}{rest}`.
    pub(crate) fn key(&self, kind: &str, rest: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + kind.len() + rest.len());
        key.push_str(&self.prefix);
        key.push_str(kind);
        key.push_str(rest);
        key
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Runs `cmd`. If the connection could not be made (refused: the
    /// command was never sent), asks once more, which waits for the
    /// manager's fresh reconnection: so the first call after Redis comes
    /// back succeeds instead of reporting the last outage.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, RedisStoreError> {
        let mut manager = self.manager.clone();
        match cmd.query_async(&mut manager).await {
            Err(e) if e.is_connection_refusal() => Ok(cmd.query_async(&mut manager).await?),
            result => Ok(result?),
        }
    }

    /// Runs a script invocation, with the same single retry as [`query`](Self::query).
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        script: &ScriptInvocation<'_>,
    ) -> Result<T, RedisStoreError> {
        let mut manager = self.manager.clone();
        match script.invoke_async(&mut manager).await {
            Err(e) if e.is_connection_refusal() => Ok(script.invoke_async(&mut manager).await?),
            result => Ok(result?),
        }
    }
}

/// Milliseconds for `PX`: at least 1 (Redis refuses 0), at most `i64::MAX`.
pub(crate) fn px(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, i64::MAX as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn px_is_never_zero_and_never_overflows() {
        assert_eq!(px(Duration::ZERO), 1);
        assert_eq!(px(Duration::from_micros(300)), 1);
        assert_eq!(px(Duration::from_millis(300)), 300);
        assert_eq!(px(Duration::MAX), i64::MAX as u64);
    }
}
