//! Unit tests of header parsing, building and consistency rules.

use super::*;

#[test]
fn builds_and_aligns() {
    let h = Header::new(
        Version::D,
        KeyUsage::PIN_ENCRYPTION,
        Algorithm::AES,
        ModeOfUse::ENCRYPT,
        "00",
        Exportability::EXPORTABLE,
    )
    .unwrap()
    .with_optional_block("KS", "00604B120F9292800000")
    .unwrap();
    let aligned = h.aligned().unwrap();
    assert_eq!(aligned.encoded_len() % 16, 0);
    assert!(aligned.optional_blocks()[1].is_padding());
    let text = aligned.to_string();
    assert_eq!(text.len(), aligned.encoded_len());
    assert_eq!(Header::parse(&text).unwrap(), aligned);
    // Re-aligning is stable.
    assert_eq!(aligned.aligned().unwrap(), aligned);
}

#[test]
fn refuses_each_fixed_field() {
    let cases = [
        ("E0080P0TE00E0000", HeaderField::Version),
        ("B00X0P0TE00E0000", HeaderField::Length),
        ("B0080p0TE00E0000", HeaderField::KeyUsage),
        ("B0080P0tE00E0000", HeaderField::Algorithm),
        ("B0080P0T-00E0000", HeaderField::ModeOfUse),
        ("B0080P0TE0 E0000", HeaderField::KeyVersion),
        ("B0080P0TE00e0000", HeaderField::Exportability),
        ("B0080P0TE00EA000", HeaderField::OptionalBlockCount),
        ("B0080P0TE00E00x0", HeaderField::Reserved),
        ("B0080P0TE00E", HeaderField::Truncated),
        ("B0080P0TE00E0100KS0500", HeaderField::Alignment),
    ];
    for (input, field) in cases {
        assert_eq!(
            Header::parse(input).unwrap_err().reason(),
            Reason::Header(field),
            "{input}"
        );
    }
}

#[test]
fn consistency_rules() {
    let h = Header::parse("B0000P0TG00E0000").unwrap();
    assert_eq!(
        h.check_consistency().unwrap_err().reason(),
        Reason::Inconsistent(Inconsistency::ModeOfUse)
    );
    assert!(
        Header::parse("B0000V2TG00E0000")
            .unwrap()
            .check_consistency()
            .is_ok()
    );
    assert!(
        Header::parse("B0000V1TE00E0000")
            .unwrap()
            .check_consistency()
            .is_err()
    );
    assert!(
        Header::parse("B0000ZZTQ00E0000")
            .unwrap()
            .check_consistency()
            .is_ok()
    );
}

#[test]
fn adding_a_block_drops_old_padding() {
    let h = Header::parse("B0000P0TE00E0100PB080000").unwrap();
    assert_eq!(h.optional_blocks().len(), 1);
    let h = h.with_optional_block("KS", "AB").unwrap();
    let ids: Vec<&str> = h.optional_blocks().iter().map(|b| b.id()).collect();
    assert_eq!(ids, ["KS"]);
    assert!(h.clone().with_optional_block("PB", "00").is_err());
}
