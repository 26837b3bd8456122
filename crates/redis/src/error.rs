//! What a Redis store reports when it fails: words that name no key, id or value.

use pinset_keys::{KeyError, StoreError, TzpkError};

/// The name the control store gives in [`TzpkError::Unavailable`].
pub(crate) const STORE_NAME: &str = "redis";

/// Why a Redis store call failed.
///
/// Every variant is retryable from the flows' point of view: the flows
/// answer `INTEGRATION_ERROR` (500, recoverable) and nothing was changed
/// by the failed call. The message is built from the failure's class
/// only, never from the text Redis or the client library returned, so it
/// cannot carry a key (which holds a digest of a controlId or of a
/// cryptogram), a stored value or the connection URL with its password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// No connection could be made: the server refused it or is not
    /// listening.
    #[error("redis refused the connection")]
    Refused,
    /// Connecting or waiting for a reply took longer than the configured
    /// timeout.
    #[error("redis timed out")]
    TimedOut,
    /// The connection broke while a command was under way; the command may
    /// or may not have run.
    #[error("the connection to redis was lost")]
    ConnectionLost,
    /// Another I/O failure on the connection.
    #[error("redis I/O error")]
    Io,
    /// Redis answered with an error.
    #[error("redis answered an error ({category})")]
    Server {
        /// The error's class as the client library names it (such as
        /// `response error`, `read-only`, `busy loading`).
        category: &'static str,
    },
    /// The URL or the client configuration was refused.
    #[error("invalid redis client configuration")]
    Config,
    /// Redis answered something the store does not expect: a reply of the
    /// wrong shape, or a record it did not write.
    #[error("unexpected data in redis: {0}")]
    Unexpected(&'static str),
    /// The stored key ring does not open under the store's KEK (the wrong
    /// KEK, or a damaged or foreign blob), or a ring could not be sealed.
    #[error("the key ring could not be opened or sealed under this KEK")]
    Ring(#[source] KeyError),
    /// The operating system's random source failed to draw a claim token.
    #[error("the OS random source failed")]
    Rng,
}

impl RedisStoreError {
    /// Whether the failure was on the connection (refused, timed out,
    /// lost or other I/O) rather than an answer Redis gave.
    pub fn is_connection(&self) -> bool {
        matches!(
            self,
            RedisStoreError::Refused
                | RedisStoreError::TimedOut
                | RedisStoreError::ConnectionLost
                | RedisStoreError::Io
        )
    }
}

impl From<redis::RedisError> for RedisStoreError {
    fn from(e: redis::RedisError) -> Self {
        if e.is_connection_refusal() {
            RedisStoreError::Refused
        } else if e.is_timeout() {
            RedisStoreError::TimedOut
        } else if e.is_connection_dropped() {
            RedisStoreError::ConnectionLost
        } else if e.is_io_error() {
            RedisStoreError::Io
        } else {
            match e.kind() {
                redis::ErrorKind::InvalidClientConfig => RedisStoreError::Config,
                redis::ErrorKind::UnexpectedReturnType | redis::ErrorKind::Parse => {
                    RedisStoreError::Unexpected("a reply of the wrong type")
                }
                kind => RedisStoreError::Server {
                    category: category(kind),
                },
            }
        }
    }
}

/// A fixed name for a class of errors Redis answers.
fn category(kind: redis::ErrorKind) -> &'static str {
    use redis::{ErrorKind, ServerErrorKind};
    match kind {
        ErrorKind::Server(ServerErrorKind::ReadOnly) => "read-only",
        ErrorKind::Server(ServerErrorKind::BusyLoading) => "busy loading",
        ErrorKind::Server(ServerErrorKind::NoScript) => "no script",
        ErrorKind::Server(ServerErrorKind::ExecAbort) => "transaction aborted",
        ErrorKind::Server(ServerErrorKind::MasterDown) => "master down",
        ErrorKind::Server(ServerErrorKind::NoPerm) => "no permission",
        ErrorKind::Server(_) => "response error",
        ErrorKind::AuthenticationFailed => "authentication failed",
        ErrorKind::Client => "client error",
        _ => "other error",
    }
}

impl From<RedisStoreError> for StoreError {
    fn from(e: RedisStoreError) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

impl From<RedisStoreError> for TzpkError {
    fn from(e: RedisStoreError) -> Self {
        TzpkError::Unavailable {
            store: STORE_NAME,
            reason: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_class_only() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "pinset:ctl:0123 secret",
        );
        let e = RedisStoreError::from(redis::RedisError::from(io));
        assert!(matches!(e, RedisStoreError::Refused));
        assert!(e.is_connection());
        let text = e.to_string();
        assert!(
            !text.contains("pinset:") && !text.contains("secret"),
            "{text}"
        );

        let server = redis::RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::ResponseError),
            "pinset:replay:ab",
            "value 42".to_owned(),
        ));
        let e = RedisStoreError::from(server);
        assert_eq!(e.to_string(), "redis answered an error (response error)");
        assert!(!e.is_connection());

        let tzpk = TzpkError::from(RedisStoreError::TimedOut);
        assert_eq!(
            tzpk,
            TzpkError::Unavailable {
                store: "redis",
                reason: "redis timed out".to_owned()
            }
        );
        assert!(matches!(
            StoreError::from(RedisStoreError::ConnectionLost),
            StoreError::Backend(_)
        ));
    }
}
