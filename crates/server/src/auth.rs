//! Bearer tokens, each allowed on some API families, compared in constant time.

use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::ServerError;

/// An API family a token may be allowed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// Mastercard Processing's routes.
    Mastercard,
    /// Enfuce's routes.
    Enfuce,
}

impl Family {
    fn parse(word: &str) -> Option<Self> {
        match word {
            "mastercard" => Some(Family::Mastercard),
            "enfuce" => Some(Family::Enfuce),
            _ => None,
        }
    }
}

/// What a presented token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Known and allowed on the family.
    Allowed,
    /// Known, but not for this family: 403.
    OtherFamily,
    /// Missing or unknown: 401.
    Unknown,
}

/// The tokens the service accepts. Only their SHA-256 digests are kept;
/// a presented token is hashed and compared with every digest in constant
/// time, so neither its bytes nor its length time the answer.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<([u8; 32], Vec<Family>)>,
}

impl Tokens {
    /// Reads a token file: `TOKEN FAMILY[,FAMILY]` per line; `#` comments
    /// and blank lines are skipped.
    ///
    /// # Errors
    ///
    /// [`ServerError::Config`] naming the line (never its token) for a
    /// line without a known family or a token shorter than 16 characters.
    pub fn from_file(path: &Path) -> Result<Self, ServerError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            ServerError::Config(format!("token file {}: {}", path.display(), e.kind()))
        })?);
        Self::parse(&text)
    }

    /// As [`from_file`](Self::from_file), from text.
    ///
    /// # Errors
    ///
    /// As [`from_file`](Self::from_file).
    pub fn parse(text: &str) -> Result<Self, ServerError> {
        let mut tokens = Tokens::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = || {
                ServerError::Config(format!(
                    "token file line {}: expected `TOKEN mastercard,enfuce`",
                    n + 1
                ))
            };
            let (token, families) = line.split_once(char::is_whitespace).ok_or_else(bad)?;
            let families = families
                .trim()
                .split(',')
                .map(|f| Family::parse(f.trim()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(bad)?;
            if token.len() < 16 || families.is_empty() {
                return Err(bad());
            }
            tokens.add(token, &families);
        }
        Ok(tokens)
    }

    /// Accepts `token` on `families`.
    pub fn add(&mut self, token: &str, families: &[Family]) {
        self.entries
            .push((Sha256::digest(token.as_bytes()).into(), families.to_vec()));
    }

    /// How many tokens are known.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no token is known (every API call then answers 401).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Judges an `Authorization` header value for `family`.
    pub fn check(&self, authorization: Option<&str>, family: Family) -> Verdict {
        let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Verdict::Unknown;
        };
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        // Every entry is compared, whichever matches.
        let mut verdict = Verdict::Unknown;
        for (known, families) in &self.entries {
            if bool::from(known.ct_eq(&digest)) {
                verdict = if families.contains(&family) {
                    Verdict::Allowed
                } else {
                    Verdict::OtherFamily
                };
            }
        }
        verdict
    }
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("count", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_unknown_tokens() {
        let tokens = Tokens::parse(
            "# ops\nmc-token-0123456789 mastercard\nboth-0123456789abcdef mastercard,enfuce\n",
        )
        .unwrap();
        assert_eq!(tokens.len(), 2);
        assert_eq!(
            tokens.check(Some("Bearer mc-token-0123456789"), Family::Mastercard),
            Verdict::Allowed
        );
        assert_eq!(
            tokens.check(Some("Bearer mc-token-0123456789"), Family::Enfuce),
            Verdict::OtherFamily
        );
        assert_eq!(
            tokens.check(Some("Bearer both-0123456789abcdef"), Family::Enfuce),
            Verdict::Allowed
        );
        assert_eq!(
            tokens.check(Some("Bearer nope-0123456789"), Family::Enfuce),
            Verdict::Unknown
        );
        assert_eq!(
            tokens.check(Some("mc-token-0123456789"), Family::Mastercard),
            Verdict::Unknown
        );
        assert_eq!(tokens.check(None, Family::Mastercard), Verdict::Unknown);
    }

    #[test]
    fn a_bad_line_is_named_but_not_echoed() {
        let err = Tokens::parse("secret-token-0123456789 visa\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"));
        assert!(!err.contains("secret-token"));
        assert!(Tokens::parse("short mastercard\n").is_err());
    }
}
