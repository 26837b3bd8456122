//! Validated identifiers: key indexes, zone key indexes, control ids and plastic bindings.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use rand_core::CryptoRng;

/// Why an identifier was refused.
///
/// It names the rule, never the input: identifiers arrive in request headers
/// and bodies, and an echo would let a caller write into the issuer's logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be {rule}")]
pub struct InvalidId {
    kind: &'static str,
    rule: &'static str,
}

impl InvalidId {
    /// What was being parsed, such as `key index`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The rule it broke, in words.
    pub fn rule(&self) -> &'static str {
        self.rule
    }
}

/// Defines a validated, printable string identifier.
macro_rules! id_type {
    (
        $(#[$meta:meta])*
        $name:ident, kind = $kind:literal, rule = $rule:literal, max = $max:literal, allowed = $allowed:expr
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("Most characters in a ", $kind, ".")]
            pub const MAX_LEN: usize = $max;

            #[doc = concat!("Checks `id` and wraps it. A ", $kind, " must be ", $rule, "; nothing is trimmed.")]
            pub fn new(id: &str) -> Result<Self, InvalidId> {
                let allowed: fn(u8) -> bool = $allowed;
                if (1..=$max).contains(&id.len()) && id.bytes().all(allowed) {
                    Ok($name(id.to_owned()))
                } else {
                    Err(InvalidId { kind: $kind, rule: $rule })
                }
            }

            #[doc = concat!("The ", $kind, " as text.")]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, InvalidId> {
                $name::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidId;

            fn try_from(s: &str) -> Result<Self, InvalidId> {
                $name::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

/// `Display` and `Debug` in full: for names that are no secret.
macro_rules! printed_in_full {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    )*};
}

printed_in_full!(KeyIndex, ZpkIndex);

fn index_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

id_type! {
    /// The name of an RSA key in an [`RsaKeyRing`](crate::RsaKeyRing): 1 to 16
    /// characters of `A-Z a-z 0-9 _ -`.
    ///
    /// Mastercard Processing publishes it as `keyIndex` beside the public key,
    /// and the device sends it back in the `Key-Index` header.
    ///
    /// ```
    /// use pinset_keys::KeyIndex;
    ///
    /// let index = KeyIndex::new("A1564386531162")?; // Mastercard Processing's example
    /// assert_eq!(index.as_str(), "A1564386531162");
    /// assert!(KeyIndex::new("").is_err());
    /// assert!(KeyIndex::new("A15643865311620000").is_err()); // 18 characters
    /// assert!(KeyIndex::new("A1 B2").is_err());
    /// # Ok::<(), pinset_keys::InvalidId>(())
    /// ```
    KeyIndex, kind = "key index", rule = "1 to 16 characters of A-Z, a-z, 0-9, _ and -", max = 16, allowed = index_char
}

id_type! {
    /// The name of a symmetric key in [`ZoneKeys`](crate::ZoneKeys): 1 to 32
    /// characters of `A-Z a-z 0-9 _ -`.
    ///
    /// ```
    /// use pinset_keys::ZpkIndex;
    ///
    /// let index = ZpkIndex::new("zpk-acquirer-01")?;
    /// assert_eq!(index.to_string(), "zpk-acquirer-01");
    /// assert!(ZpkIndex::new("zpk/01").is_err());
    /// # Ok::<(), pinset_keys::InvalidId>(())
    /// ```
    ZpkIndex, kind = "zone key index", rule = "1 to 32 characters of A-Z, a-z, 0-9, _ and -", max = 32, allowed = index_char
}

id_type! {
    /// The id that binds a temporary key to the one request that will use it:
    /// 1 to 64 characters of `A-Z a-z 0-9 -`.
    ///
    /// Enfuce uses UUIDs such as `83fa5f55-3dd7-453a-8233-4242a6bad179`;
    /// [`ControlId::generate`] makes one.
    ///
    /// A control id is a bearer value while it lives: whoever holds it can
    /// fetch the tzpk and set the PIN. So `Display` and `Debug`, and with
    /// them every error and audit event, show only its first
    /// [`ControlId::SHOWN`] characters (32 of a UUID's 122 random bits), and
    /// at most half of a shorter id;
    /// [`as_str`](ControlId::as_str) gives the whole id for the wire.
    ///
    /// ```
    /// use pinset_keys::ControlId;
    ///
    /// let id = ControlId::new("83fa5f55-3dd7-453a-8233-4242a6bad179")?;
    /// assert_eq!(id.as_str().len(), 36);
    /// assert_eq!(id.to_string(), "83fa5f55…");
    /// assert_eq!(format!("{id:?}"), "ControlId(83fa5f55…)");
    /// assert!(ControlId::new("83fa5f55_3dd7").is_err());
    /// # Ok::<(), pinset_keys::InvalidId>(())
    /// ```
    ControlId, kind = "control id", rule = "1 to 64 characters of A-Z, a-z, 0-9 and -", max = 64,
    allowed = |b| b.is_ascii_alphanumeric() || b == b'-'
}

impl ControlId {
    /// Most leading characters `Display` and `Debug` show.
    pub const SHOWN: usize = 8;

    /// The first [`SHOWN`](Self::SHOWN) characters, and never more than
    /// half of a short id: safe to log.
    pub fn log_prefix(&self) -> &str {
        let shown = Self::SHOWN.min(self.0.len() / 2);
        // Ids are ASCII, so any byte offset is a character boundary.
        self.0.get(..shown).unwrap_or_default()
    }

    /// A fresh random id in version 4 UUID form (lowercase, 8-4-4-4-12), from `rng`.
    ///
    /// ```
    /// use pinset_keys::ControlId;
    /// use rand_core::SeedableRng;
    ///
    /// let id = ControlId::generate(&mut chacha20::ChaCha20Rng::seed_from_u64(7));
    /// let text = id.as_str();
    /// assert_eq!((text.len(), &text[14..15]), (36, "4")); // version 4
    /// assert!(matches!(&text[19..20], "8" | "9" | "a" | "b")); // RFC 4122 variant
    /// ```
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        bytes[6] = (bytes[6] & 0x0F) | 0x40;
        bytes[8] = (bytes[8] & 0x3F) | 0x80;
        let mut text = String::with_capacity(36);
        for (i, byte) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                text.push('-');
            }
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
        ControlId(text)
    }
}

impl fmt::Display for ControlId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.log_prefix())
    }
}

impl fmt::Debug for ControlId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ControlId({self})")
    }
}

/// What a temporary key is bound to: the card contract and plastic it was
/// issued for, as one opaque string of 1 to 128 visible ASCII characters.
///
/// Build it the same way when issuing and when taking, for example
/// `format!("{contract_id}/{plastic_seq}")`. Bind to a card or plastic id,
/// never to the PAN. Even so, `Debug` shows only the length, and there is no
/// `Display`: the binding may come from card data.
///
/// ```
/// use pinset_keys::PlasticRef;
///
/// let plastic = PlasticRef::new("contract-1029/plastic-2")?;
/// assert_eq!(format!("{plastic:?}"), "PlasticRef(<23 chars>)");
/// assert!(PlasticRef::new("has space").is_err());
/// # Ok::<(), pinset_keys::InvalidId>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PlasticRef(String);

impl PlasticRef {
    /// Most characters in a plastic binding.
    pub const MAX_LEN: usize = 128;

    /// Checks `binding` (1 to 128 characters from `!` to `~`) and wraps it.
    pub fn new(binding: &str) -> Result<Self, InvalidId> {
        if (1..=Self::MAX_LEN).contains(&binding.len())
            && binding.bytes().all(|b| b.is_ascii_graphic())
        {
            Ok(PlasticRef(binding.to_owned()))
        } else {
            Err(InvalidId {
                kind: "plastic binding",
                rule: "1 to 128 visible ASCII characters",
            })
        }
    }

    /// The binding as text. It may derive from card data: keep it out of logs.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlasticRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlasticRef(<{} chars>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_at_the_edges() {
        assert!(KeyIndex::new(&"A".repeat(16)).is_ok());
        assert!(KeyIndex::new(&"A".repeat(17)).is_err());
        assert!(ZpkIndex::new(&"z".repeat(32)).is_ok());
        assert!(ZpkIndex::new(&"z".repeat(33)).is_err());
        assert!(ControlId::new(&"c".repeat(64)).is_ok());
        assert!(ControlId::new(&"c".repeat(65)).is_err());
        assert!(PlasticRef::new(&"p".repeat(128)).is_ok());
        assert!(PlasticRef::new(&"p".repeat(129)).is_err());
        assert!(PlasticRef::new("").is_err());
    }

    #[test]
    fn non_ascii_is_refused() {
        assert!(KeyIndex::new("Ä1").is_err());
        assert!(ControlId::new("abc\n").is_err());
        assert!(PlasticRef::new("naïve").is_err());
    }

    #[test]
    fn error_does_not_echo_input() {
        let err = KeyIndex::new("<script>").err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(!text.contains("script"));
        assert!(text.starts_with("key index must be"));
    }

    #[test]
    fn generated_control_ids_are_valid_and_distinct() {
        use rand_core::SeedableRng;
        let mut rng = chacha20::ChaCha20Rng::seed_from_u64(1);
        let a = ControlId::generate(&mut rng);
        let b = ControlId::generate(&mut rng);
        assert_ne!(a, b);
        assert_eq!(ControlId::new(a.as_str()), Ok(a));
    }
}
