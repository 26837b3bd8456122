//! The five ISO 9564-1 formats and the rules for moving between them.

use core::fmt;
use core::str::FromStr;

use crate::Error;

/// An ISO 9564-1 PIN block format, named by its control field.
///
/// Parses from `iso0` to `iso4` (ASCII case-insensitive) and prints back the same way.
///
/// ```
/// use pinset_block::Format;
///
/// let f: Format = "iso1".parse()?;
/// assert_eq!(f, Format::Iso1);
/// assert!(f.may_translate_to(Format::Iso0));
/// assert!(!Format::Iso0.may_translate_to(Format::Iso1));
/// # Ok::<(), pinset_block::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Format 0 (ANSI X9.8): PIN field XOR PAN field, F fill. PAN-bound.
    Iso0,
    /// Format 1: PIN and transaction-unique or random fill. Not PAN-bound.
    Iso1,
    /// Format 2: F fill, for the ICC's offline PIN only.
    Iso2,
    /// Format 3: like format 0 with random A-F fill. PAN-bound.
    Iso3,
    /// Format 4 (ISO 9564-1:2017): 16-byte AES block, PIN and PAN fields. PAN-bound.
    Iso4,
}

impl Format {
    /// All formats, in control-field order.
    pub const ALL: [Format; 5] = [
        Format::Iso0,
        Format::Iso1,
        Format::Iso2,
        Format::Iso3,
        Format::Iso4,
    ];

    /// The control field: the first nibble of the (PIN field of the) block.
    pub const fn control_field(self) -> u8 {
        match self {
            Format::Iso0 => 0,
            Format::Iso1 => 1,
            Format::Iso2 => 2,
            Format::Iso3 => 3,
            Format::Iso4 => 4,
        }
    }

    /// The format whose control field is `nibble`, if any.
    pub const fn from_control_field(nibble: u8) -> Option<Format> {
        match nibble {
            0 => Some(Format::Iso0),
            1 => Some(Format::Iso1),
            2 => Some(Format::Iso2),
            3 => Some(Format::Iso3),
            4 => Some(Format::Iso4),
            _ => None,
        }
    }

    /// Bytes in one enciphered block: 8 for formats 0 to 3 (TDES), 16 for format 4 (AES).
    pub const fn block_len(self) -> usize {
        match self {
            Format::Iso4 => 16,
            _ => 8,
        }
    }

    /// Whether the block binds the PAN (formats 0, 3 and 4), so a PAN is needed to code it.
    pub const fn is_pan_bound(self) -> bool {
        matches!(self, Format::Iso0 | Format::Iso3 | Format::Iso4)
    }

    /// Whether PCI PIN rules let a block of this format be translated to `to`.
    ///
    /// - Format 1 may become 0, 1, 3 or 4.
    /// - A PAN-bound block (0, 3, 4) may become 0, 3 or 4, and never 1: that
    ///   would strip the PAN binding.
    /// - Format 2 is for the ICC's offline PIN only: it is neither a source
    ///   nor a target of an online translation.
    pub const fn may_translate_to(self, to: Format) -> bool {
        match (self, to) {
            (Format::Iso2, _) | (_, Format::Iso2) => false,
            (Format::Iso1, _) => true,
            (_, Format::Iso1) => false,
            _ => true,
        }
    }

    /// [`may_translate_to`](Self::may_translate_to) as a `Result`.
    pub const fn check_translation(self, to: Format) -> Result<(), Error> {
        if self.may_translate_to(to) {
            Ok(())
        } else {
            Err(Error::Translation { from: self, to })
        }
    }

    /// The name this type parses from and prints: `iso0` to `iso4`.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Iso0 => "iso0",
            Format::Iso1 => "iso1",
            Format::Iso2 => "iso2",
            Format::Iso3 => "iso3",
            Format::Iso4 => "iso4",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or(Error::UnknownFormat)
    }
}
