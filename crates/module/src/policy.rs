//! The issuer's PIN policy.

use pinset_block::{MAX_PIN_LEN, MIN_PIN_LEN, Pin};

/// Why the PIN policy refused a PIN. Names the rule, never the PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// Fewer digits than the issuer allows.
    #[error("PIN is shorter than the issuer allows")]
    TooShort,
    /// More digits than the issuer allows.
    #[error("PIN is longer than the issuer allows")]
    TooLong,
    /// All digits are the same.
    #[error("PIN repeats one digit")]
    RepeatedDigit,
    /// The digits run up or down by one (1234, 9876, 8901).
    #[error("PIN is an ascending or descending run")]
    Sequential,
    /// The PIN is on the issuer's deny-list.
    #[error("PIN is on the issuer's deny-list")]
    DenyListed,
}

/// Length bounds (4 to 12 by default) and optional weak-PIN rules.
///
/// The weak-PIN rules are off by default, because both seeds' own examples
/// set 1234.
///
/// ```
/// use pinset_block::Pin;
/// use pinset_module::{PinPolicy, PolicyViolation};
///
/// let policy = PinPolicy::default().with_length(4, 6).rejecting_weak_pins(true);
/// assert_eq!(policy.check(&Pin::new("1234")?), Err(PolicyViolation::Sequential));
/// assert_eq!(policy.check(&Pin::new("7777")?), Err(PolicyViolation::RepeatedDigit));
/// assert_eq!(policy.check(&Pin::new("1234567")?), Err(PolicyViolation::TooLong));
/// assert_eq!(policy.check(&Pin::new("7580")?), Ok(()));
/// assert_eq!(PinPolicy::default().check(&Pin::new("1234")?), Ok(()));
/// # Ok::<(), pinset_block::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PinPolicy {
    min_len: usize,
    max_len: usize,
    reject_weak: bool,
    deny_list: Vec<Pin>,
}

impl Default for PinPolicy {
    fn default() -> Self {
        PinPolicy {
            min_len: MIN_PIN_LEN,
            max_len: MAX_PIN_LEN,
            reject_weak: false,
            deny_list: Vec::new(),
        }
    }
}

impl PinPolicy {
    /// Sets the length bounds, clamped to ISO 9564's 4 to 12.
    pub fn with_length(mut self, min: usize, max: usize) -> Self {
        self.min_len = min.clamp(MIN_PIN_LEN, MAX_PIN_LEN);
        self.max_len = max.clamp(self.min_len, MAX_PIN_LEN);
        self
    }

    /// Turns the repeated-digit and ascending/descending-run rules on or off.
    pub fn rejecting_weak_pins(mut self, on: bool) -> Self {
        self.reject_weak = on;
        self
    }

    /// Adds PINs the issuer refuses (for example, birth years it knows are popular).
    pub fn deny(mut self, pins: impl IntoIterator<Item = Pin>) -> Self {
        self.deny_list.extend(pins);
        self
    }

    /// Checks `pin` against every rule.
    pub fn check(&self, pin: &Pin) -> Result<(), PolicyViolation> {
        let digits = pin.expose_digits();
        if digits.len() < self.min_len {
            return Err(PolicyViolation::TooShort);
        }
        if digits.len() > self.max_len {
            return Err(PolicyViolation::TooLong);
        }
        if self.reject_weak {
            if digits.windows(2).all(|w| w[0] == w[1]) {
                return Err(PolicyViolation::RepeatedDigit);
            }
            let step = |w: &[u8], d: u8| (w[0] - b'0' + d) % 10 == w[1] - b'0';
            if digits.windows(2).all(|w| step(w, 1)) || digits.windows(2).all(|w| step(w, 9)) {
                return Err(PolicyViolation::Sequential);
            }
        }
        // Pin's PartialEq is constant-time; `fold` visits every entry.
        if self
            .deny_list
            .iter()
            .fold(false, |hit, denied| hit | (denied == pin))
        {
            return Err(PolicyViolation::DenyListed);
        }
        Ok(())
    }
}
