#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod app;
mod auth;
mod config;
mod gate;
mod metrics;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub use app::{App, InMemory, OnRedis, Stack};
pub use auth::{Family, Tokens, Verdict};
pub use config::{Config, Provider};
pub use metrics::Metrics;
use pinset_keys::{Kek, MasterKek};
use pinset_module::{Pkcs11Config, Pkcs11Module, SecurityModule, SoftwareModule};
use pinset_redis::RedisStores;
pub use routes::ApiDoc;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A flag or a file is wrong. The message names it, never a secret.
    #[error("configuration: {0}")]
    Config(String),
    /// The security module refused or failed at start-up.
    #[error("security module: {0}")]
    Module(String),
    /// A key store refused or failed at start-up.
    #[error(transparent)]
    Keys(#[from] pinset_keys::KeyError),
    /// An identifier broke its rule.
    #[error(transparent)]
    Id(#[from] pinset_keys::InvalidId),
    /// Redis could not be reached at start-up.
    #[error("redis: {0}")]
    Redis(String),
    /// The listener could not be bound, or the server failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// The bearer tokens from the configuration, or, in demo mode without a
/// token file, one fresh token for both families (returned to print once).
///
/// # Errors
///
/// [`ServerError::Config`] for an unreadable or malformed token file, or
/// no token file outside demo mode.
pub fn tokens(config: &Config) -> Result<(Tokens, Option<Zeroizing<String>>), ServerError> {
    if let Some(path) = &config.token_file {
        return Ok((Tokens::from_file(path)?, None));
    }
    if !config.demo {
        return Err(ServerError::Config(
            "--token-file is required outside --demo".into(),
        ));
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    rand_core::TryRng::try_fill_bytes(&mut getrandom::SysRng, bytes.as_mut_slice())
        .map_err(|_| ServerError::Config("the OS random source failed".into()))?;
    use base64::Engine;
    let token =
        Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_slice()));
    let mut tokens = Tokens::default();
    tokens.add(&token, &[Family::Mastercard, Family::Enfuce]);
    Ok((tokens, Some(token)))
}

/// Binds `config.listen` and serves until `shutdown` resolves, then lets
/// in-flight requests finish. Calls `ready` with the bound address once
/// the service accepts connections.
///
/// # Errors
///
/// [`ServerError`] if the configuration, the module, Redis or the
/// listener fails.
pub async fn serve(
    config: Config,
    tokens: Tokens,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    if config.demo && !config.listen.ip().is_loopback() {
        return Err(ServerError::Config(
            "--demo listens on loopback only".into(),
        ));
    }
    let kek = app::read_kek(&config)?;
    let redis = match &config.redis_url {
        Some(url) => {
            let kek = kek
                .as_ref()
                .ok_or_else(|| ServerError::Config("--redis-url needs --kek-file".into()))?;
            let stores = RedisStores::connect(url)
                .await
                .map_err(|e| ServerError::Redis(e.to_string()))?;
            Some((stores, kek.ring_sealing()?))
        }
        None => None,
    };
    match config.provider {
        Provider::Software => {
            let module = SoftwareModule::new().map_err(|e| ServerError::Module(e.to_string()))?;
            run_on(config, module, tokens, redis, kek, ready, shutdown).await
        }
        Provider::AwsLc => {
            let module =
                SoftwareModule::new_aws_lc().map_err(|e| ServerError::Module(e.to_string()))?;
            run_on(config, module, tokens, redis, kek, ready, shutdown).await
        }
        // A token's keys never leave it, so its tzpks cannot travel between
        // instances under the KEK: share one HSM instead of a Redis store.
        Provider::Pkcs11 if kek.is_some() => Err(ServerError::Config(
            "--provider pkcs11 keeps tzpks in the token: it cannot take --kek-file or --redis-url"
                .into(),
        )),
        Provider::Pkcs11 => {
            let pin = std::env::var(&config.pkcs11_pin_env).map_err(|_| {
                ServerError::Config(format!("{} is not set", config.pkcs11_pin_env))
            })?;
            let (Some(path), Some(label)) = (&config.pkcs11_module, &config.pkcs11_token) else {
                return Err(ServerError::Config(
                    "--provider pkcs11 needs --pkcs11-module and --pkcs11-token".into(),
                ));
            };
            let module = Pkcs11Module::open(&Pkcs11Config::new(path, label, Zeroizing::new(pin)))
                .map_err(|e| ServerError::Module(e.to_string()))?;
            run_on(config, module, tokens, redis, kek, ready, shutdown).await
        }
    }
}

async fn run_on<M: SecurityModule + 'static>(
    config: Config,
    module: M,
    tokens: Tokens,
    redis: Option<(RedisStores, Kek)>,
    kek: Option<MasterKek>,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    // The tzpk-wrapping key, derived from the KEK file apart from the
    // ring-sealing key: one purpose per key.
    let wrapping = kek.as_ref().map(MasterKek::tzpk_wrapping);
    let kek = wrapping.as_deref().map(<[u8; 32]>::as_slice);
    let router = match redis {
        Some((stores, ring_kek)) => {
            let app = App::<OnRedis<M>>::build(
                &config,
                module,
                app::Stores::on_redis(&stores, ring_kek),
                tokens,
                Some(stores),
                kek,
            )
            .await?;
            routes::router(Arc::new(app), config.max_body, config.concurrency)
        }
        None => {
            let app = App::<InMemory<M>>::build(
                &config,
                module,
                app::Stores::in_memory(),
                tokens,
                None,
                kek,
            )
            .await?;
            routes::router(Arc::new(app), config.max_body, config.concurrency)
        }
    };
    let listener = TcpListener::bind(config.listen).await?;
    ready(listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
