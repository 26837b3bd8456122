//! Domain types: card contract, expiry date, plastic and contract state.

use core::fmt;
use core::str::FromStr;

use crate::CmsError;

/// Why a domain value was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// A card contract id is a number from 1 to 999999999999999999.
    #[error("card contract id must be a number from 1 to 999999999999999999")]
    CardContractId,
    /// An expiry date is four digits, YYMM, with a month from 01 to 12.
    #[error("card expiry date must be YYMM with a month from 01 to 12")]
    ExpiryDate,
    /// A plastic sequence number is 1 to 3 digits.
    #[error("card sequence number must be 1 to 3 digits")]
    PlasticSequence,
}

/// A card contract: the account-level card record a PAN-less issuer knows
/// instead of the PAN. 1 to 999999999999999999.
///
/// ```
/// use pinset_cms::CardContractId;
/// let id: CardContractId = "70001".parse()?;
/// assert_eq!(id.get(), 70001);
/// assert!("0".parse::<CardContractId>().is_err());
/// # Ok::<(), pinset_cms::ParseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardContractId(u64);

impl CardContractId {
    /// Largest contract id.
    pub const MAX: u64 = 999_999_999_999_999_999;

    /// Checks the range.
    pub const fn new(id: u64) -> Result<Self, ParseError> {
        if id >= 1 && id <= Self::MAX {
            Ok(CardContractId(id))
        } else {
            Err(ParseError::CardContractId)
        }
    }

    /// The number.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl FromStr for CardContractId {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::CardContractId);
        }
        s.parse::<u64>()
            .map_err(|_| ParseError::CardContractId)
            .and_then(Self::new)
    }
}

impl fmt::Display for CardContractId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A card expiry date, `YYMM`, month checked.
///
/// ```
/// use pinset_cms::ExpiryDate;
/// let exp: ExpiryDate = "2812".parse()?;
/// assert_eq!((exp.year(), exp.month()), (28, 12));
/// assert!("2813".parse::<ExpiryDate>().is_err());
/// # Ok::<(), pinset_cms::ParseError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExpiryDate {
    year: u8,
    month: u8,
}

impl ExpiryDate {
    /// Two-digit year and month 1 to 12.
    pub const fn new(year: u8, month: u8) -> Result<Self, ParseError> {
        if year <= 99 && month >= 1 && month <= 12 {
            Ok(ExpiryDate { year, month })
        } else {
            Err(ParseError::ExpiryDate)
        }
    }

    /// Two-digit year.
    pub const fn year(self) -> u8 {
        self.year
    }

    /// Month, 1 to 12.
    pub const fn month(self) -> u8 {
        self.month
    }
}

impl FromStr for ExpiryDate {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let b = s.as_bytes();
        if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::ExpiryDate);
        }
        Self::new(
            (b[0] - b'0') * 10 + (b[1] - b'0'),
            (b[2] - b'0') * 10 + (b[3] - b'0'),
        )
    }
}

impl fmt::Display for ExpiryDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}{:02}", self.year, self.month)
    }
}

/// A plastic's sequence number within its contract: 1 to 3 digits (0 to 999).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlasticSequence(u16);

impl PlasticSequence {
    /// 0 to 999.
    pub const fn new(n: u16) -> Result<Self, ParseError> {
        if n <= 999 {
            Ok(PlasticSequence(n))
        } else {
            Err(ParseError::PlasticSequence)
        }
    }

    /// The number.
    pub const fn get(self) -> u16 {
        self.0
    }
}

impl FromStr for PlasticSequence {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        if !(1..=3).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::PlasticSequence);
        }
        s.parse::<u16>()
            .map_err(|_| ParseError::PlasticSequence)
            .and_then(Self::new)
    }
}

impl fmt::Display for PlasticSequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The status of one plastic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PlasticStatus {
    /// Issued, not yet activated for card-present use.
    Locked,
    /// Active.
    Active,
    /// Blocked (lost, stolen, fraud).
    Blocked,
    /// Past its expiry date.
    Expired,
}

/// One physical (or virtual) card of a contract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardPlastic {
    /// Sequence number within the contract.
    pub sequence: PlasticSequence,
    /// Expiry date.
    pub expiry: ExpiryDate,
    /// Status.
    pub status: PlasticStatus,
    /// Whether e-commerce and token transactions are enabled.
    pub ecommerce_enabled: bool,
}

impl CardPlastic {
    /// Whether a PIN may be set on this plastic: not blocked, not expired.
    pub fn accepts_pin(&self) -> bool {
        matches!(self.status, PlasticStatus::Locked | PlasticStatus::Active)
    }
}

/// Picks the plastic a set-PIN request means: the one with this expiry and
/// sequence number or, with no sequence number, the newest (highest
/// sequence) with this expiry.
///
/// ```
/// use pinset_cms::{select_plastic, CardPlastic, PlasticStatus};
/// let p = |seq: &str, exp: &str| CardPlastic {
///     sequence: seq.parse().unwrap(), expiry: exp.parse().unwrap(),
///     status: PlasticStatus::Active, ecommerce_enabled: true,
/// };
/// let plastics = [p("1", "2612"), p("2", "2812"), p("3", "2812")];
/// assert_eq!(select_plastic(&plastics, "2812".parse()?, None).unwrap().sequence.get(), 3);
/// assert_eq!(select_plastic(&plastics, "2812".parse()?, Some("2".parse()?)).unwrap().sequence.get(), 2);
/// assert!(select_plastic(&plastics, "2612".parse()?, Some("3".parse()?)).is_none());
/// # Ok::<(), pinset_cms::ParseError>(())
/// ```
pub fn select_plastic(
    plastics: &[CardPlastic],
    expiry: ExpiryDate,
    sequence: Option<PlasticSequence>,
) -> Option<&CardPlastic> {
    let with_expiry = plastics.iter().filter(|p| p.expiry == expiry);
    match sequence {
        Some(seq) => with_expiry.into_iter().find(|p| p.sequence == seq),
        None => with_expiry.max_by_key(|p| p.sequence),
    }
}

/// Production status of a contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProductionStatus {
    /// Ready or produced: nothing pending.
    Ready,
    /// Marked for (re)production: the plastic is about to change, so no PIN may be set.
    Marked,
}

/// The state of a card contract, as far as setting a PIN goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContractState {
    /// Two-character contract status code; `00` is the normal, open state.
    pub status_code: [u8; 2],
    /// Production status.
    pub production: ProductionStatus,
}

impl ContractState {
    /// An open contract (`00`) that is not marked for production.
    pub const OPEN: ContractState = ContractState {
        status_code: *b"00",
        production: ProductionStatus::Ready,
    };

    /// Refuses unless the status code is `00` and the production status is not `Marked`.
    pub fn check_set_pin(&self) -> Result<(), CmsError> {
        if &self.status_code != b"00" {
            Err(CmsError::OperationDenied("contract status code is not 00"))
        } else if self.production == ProductionStatus::Marked {
            Err(CmsError::OperationDenied(
                "contract production status is Marked",
            ))
        } else {
            Ok(())
        }
    }
}
