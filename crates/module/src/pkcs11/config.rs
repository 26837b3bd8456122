//! Where the token is and how to log in to it.

use core::fmt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// How to reach a PKCS#11 token: the module (the vendor's shared library),
/// the token's label and the user PIN.
///
/// The caller reads the PIN from the environment or a secret store, never
/// from a command line, where `ps` would show it. It zeroizes on drop and
/// `Debug` redacts it.
///
/// ```
/// use pinset_module::Pkcs11Config;
/// use zeroize::Zeroizing;
///
/// let config = Pkcs11Config::new(
///     "/usr/lib/softhsm/libsofthsm2.so",
///     "pinset",
///     Zeroizing::new(std::env::var("MY_PIN").unwrap_or_default()),
/// );
/// assert!(!format!("{config:?}").contains("MY_PIN"));
/// assert!(format!("{config:?}").contains("<redacted>"));
/// ```
pub struct Pkcs11Config {
    module_path: PathBuf,
    token_label: String,
    user_pin: Zeroizing<String>,
    token_objects: bool,
}

impl Pkcs11Config {
    /// The environment variable [`from_env`](Self::from_env) reads the module path from.
    pub const MODULE_VAR: &'static str = "PINSET_PKCS11_MODULE";
    /// The environment variable [`from_env`](Self::from_env) reads the token label from.
    pub const TOKEN_VAR: &'static str = "PINSET_PKCS11_TOKEN";
    /// The environment variable [`from_env`](Self::from_env) reads the user PIN from.
    pub const PIN_VAR: &'static str = "PINSET_PKCS11_PIN";

    /// A configuration whose keys are session objects (see [`token_objects`](Self::token_objects)).
    pub fn new(
        module_path: impl Into<PathBuf>,
        token_label: impl Into<String>,
        user_pin: Zeroizing<String>,
    ) -> Self {
        Pkcs11Config {
            module_path: module_path.into(),
            token_label: token_label.into(),
            user_pin,
            token_objects: false,
        }
    }

    /// Reads [`MODULE_VAR`](Self::MODULE_VAR), [`TOKEN_VAR`](Self::TOKEN_VAR)
    /// and [`PIN_VAR`](Self::PIN_VAR); `None` unless all three are set and
    /// not empty.
    pub fn from_env() -> Option<Self> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        let module_path = var(Self::MODULE_VAR)?;
        let token_label = var(Self::TOKEN_VAR)?;
        let user_pin = Zeroizing::new(var(Self::PIN_VAR)?);
        Some(Self::new(module_path, token_label, user_pin))
    }

    /// Whether keys that [`Pkcs11Module`](crate::Pkcs11Module) imports or
    /// generates (except tzpks) are token objects, which outlive the
    /// process, rather than session objects, which the token destroys when
    /// the module drops. Off by default.
    pub fn token_objects(mut self, on: bool) -> Self {
        self.token_objects = on;
        self
    }

    /// The PKCS#11 module's path.
    pub fn module_path(&self) -> &Path {
        &self.module_path
    }

    /// The token's label.
    pub fn token_label(&self) -> &str {
        &self.token_label
    }

    pub(super) fn user_pin(&self) -> &str {
        &self.user_pin
    }

    pub(super) fn wants_token_objects(&self) -> bool {
        self.token_objects
    }
}

impl fmt::Debug for Pkcs11Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11Config")
            .field("module_path", &self.module_path)
            .field("token_label", &self.token_label)
            .field("user_pin", &"<redacted>")
            .field("token_objects", &self.token_objects)
            .finish()
    }
}
