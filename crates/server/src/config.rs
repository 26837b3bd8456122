//! The service's flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Which security module holds the keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Provider {
    /// RustCrypto in process memory.
    #[default]
    Software,
    /// The software module with RSA-OAEP in aws-lc.
    AwsLc,
    /// A PKCS#11 token (SoftHSM2, an HSM).
    Pkcs11,
}

/// `pinset-server`: Mastercard Processing's and Enfuce's set-PIN APIs over
/// HTTP, on the pinset crates.
#[derive(Clone, Debug, Parser)]
#[command(name = "pinset-server", version, about)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one (the bound address is
    /// printed on stderr).
    #[arg(long, env = "PINSET_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Demo mode: loopback only, the five Mastercard sandbox cards in the
    /// reference CMS, sandbox keys, and `GET /demo/cms/cards`.
    #[arg(long)]
    pub demo: bool,
    /// Bearer tokens, one per line: `TOKEN FAMILY[,FAMILY]` with FAMILY
    /// `mastercard` or `enfuce`. Without it, demo mode makes one token for
    /// both and prints it once on stderr.
    #[arg(long, env = "PINSET_TOKEN_FILE", hide_env_values = true)]
    pub token_file: Option<PathBuf>,
    /// The security module.
    #[arg(long, value_enum, env = "PINSET_PROVIDER", default_value = "software")]
    pub provider: Provider,
    /// The PKCS#11 library (with `--provider pkcs11`).
    #[arg(long, env = "PINSET_PKCS11_MODULE")]
    pub pkcs11_module: Option<PathBuf>,
    /// The token's label (with `--provider pkcs11`).
    #[arg(long, env = "PINSET_PKCS11_TOKEN")]
    pub pkcs11_token: Option<String>,
    /// The environment variable that holds the token's user PIN.
    #[arg(long, default_value = "PINSET_PKCS11_PIN")]
    pub pkcs11_pin_env: String,
    /// Redis for shared state (controls, replay claims, the key ring);
    /// in memory without it. Needs `--kek-file`.
    #[arg(long, env = "PINSET_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// The key-encryption key for keys at rest and for tzpks shared between
    /// instances: a file holding 64 hex digits (AES-256).
    #[arg(long, env = "PINSET_KEK_FILE", hide_env_values = true)]
    pub kek_file: Option<PathBuf>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 16 * 1024)]
    pub max_body: usize,
    /// Per-request timeout, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Most requests served at once on the API routes (health, readiness
    /// and metrics are not limited).
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Log as JSON lines instead of text.
    #[arg(long)]
    pub json_logs: bool,
}

impl Config {
    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// A demo configuration on `listen`, for tests and examples.
    pub fn demo(listen: SocketAddr) -> Self {
        Config {
            listen,
            demo: true,
            token_file: None,
            provider: Provider::Software,
            pkcs11_module: None,
            pkcs11_token: None,
            pkcs11_pin_env: "PINSET_PKCS11_PIN".into(),
            redis_url: None,
            kek_file: None,
            max_body: 16 * 1024,
            timeout_ms: 10_000,
            concurrency: 256,
            json_logs: false,
        }
    }
}
