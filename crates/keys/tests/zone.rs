//! Zone keys: purpose tags, KCV checks, lookups.

mod common;

use common::{TestResult, rng};
use pinset_block::{Format, Pan, Pin};
use pinset_envelope::{AesKey, PinKey, TdesKey};
use pinset_keys::{KeyError, KeyPurpose, ZoneKeys, ZpkIndex};

fn tdes(hex: &str) -> Result<TdesKey, Box<dyn std::error::Error>> {
    Ok(TdesKey::new(&hex::decode(hex)?)?)
}

#[test]
fn a_pin_key_seals_and_opens_pin_blocks() -> TestResult {
    let zone = ZoneKeys::new();
    let index = ZpkIndex::new("zpk-1")?;
    // jPOS JCESecurityModuleTest's format 0 clear block of 1234 under the
    // published KCV test key (08D7B4), enciphered by OpenSSL 3.0.19.
    zone.insert(
        index.clone(),
        tdes("0123456789ABCDEFFEDCBA9876543210")?,
        KeyPurpose::PinEncryption,
    )?;
    let zpk = zone.pin_key(&index)?;
    let pan = Pan::new("1234567890123456")?;
    let sealed = zpk.seal(Format::Iso0, &Pin::new("1234")?, Some(&pan), &mut rng(1))?;
    assert_eq!(hex::encode_upper(sealed.as_bytes()), "E5639CBC7EC0B4CA");
    assert_eq!(
        zpk.open(Format::Iso0, sealed.as_bytes(), Some(&pan))?
            .expose_digits(),
        b"1234"
    );
    Ok(())
}

#[test]
fn keys_for_other_purposes_are_refused_as_pin_keys() -> TestResult {
    let zone = ZoneKeys::new();
    for (name, purpose) in [
        ("dek", KeyPurpose::DataEncryption),
        ("zmk", KeyPurpose::KeyEncryption),
    ] {
        let index = ZpkIndex::new(name)?;
        zone.insert(
            index.clone(),
            TdesKey::new(b"5A pinset test key of 24")?,
            purpose,
        )?;
        let err = zone
            .pin_key(&index)
            .err()
            .ok_or("a non-PIN key was handed out")?;
        assert!(
            matches!(&err, KeyError::WrongPurpose { key, expected: KeyPurpose::PinEncryption, found } if key == name && *found == purpose),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!("key {name} is for {purpose}, not PIN encryption")
        );
        // The key is still there, with its purpose on record.
        assert_eq!(zone.info(&index)?.purpose, purpose);
    }
    Ok(())
}

#[test]
fn unknown_and_duplicate_indexes() -> TestResult {
    let zone = ZoneKeys::new();
    let index = ZpkIndex::new("zpk-1")?;
    assert!(matches!(
        zone.pin_key(&index),
        Err(KeyError::UnknownZpkIndex(_))
    ));
    zone.insert(
        index.clone(),
        TdesKey::new(b"11 pinset test k")?,
        KeyPurpose::PinEncryption,
    )?;
    assert!(matches!(
        zone.insert(
            index.clone(),
            TdesKey::new(b"22 pinset test k")?,
            KeyPurpose::PinEncryption
        ),
        Err(KeyError::DuplicateZpkIndex(_))
    ));
    // The first key stayed.
    assert_eq!(
        zone.pin_key(&index)?.kcv(),
        TdesKey::new(b"11 pinset test k")?.kcv()
    );
    assert!(zone.remove(&index)?);
    assert!(!zone.remove(&index)?);
    assert!(matches!(
        zone.info(&index),
        Err(KeyError::UnknownZpkIndex(_))
    ));
    Ok(())
}

#[test]
fn insert_checked_verifies_the_delivered_kcv() -> TestResult {
    let zone = ZoneKeys::new();
    let index = ZpkIndex::new("zpk-1")?;
    let key = tdes("0123456789ABCDEFFEDCBA9876543210")?;
    assert_eq!(key.kcv().to_string(), "08D7B4");
    let wrong = TdesKey::new(b"11 pinset test k")?.kcv();
    assert!(matches!(
        zone.insert_checked(index.clone(), key.clone(), KeyPurpose::PinEncryption, wrong),
        Err(KeyError::KcvMismatch { .. })
    ));
    assert!(
        zone.list()?.is_empty(),
        "a key with the wrong KCV was stored"
    );
    let kcv = key.kcv();
    zone.insert_checked(index.clone(), key, KeyPurpose::PinEncryption, kcv)?;
    assert_eq!(zone.info(&index)?.kcv.to_string(), "08D7B4");
    Ok(())
}

#[test]
fn aes_zone_keys_carry_format_4() -> TestResult {
    let zone = ZoneKeys::new();
    let index = ZpkIndex::new("aes-zpk")?;
    zone.insert(
        index.clone(),
        AesKey::new(&hex::decode("00112233445566778899AABBCCDDEEFF")?)?,
        KeyPurpose::PinEncryption,
    )?;
    let info = zone.info(&index)?;
    assert_eq!(
        (info.algorithm, info.kcv.to_string().as_str()),
        ("AES", "53E107")
    );
    let zpk = zone.pin_key(&index)?;
    let pan = Pan::new("432198765432109870")?;
    let block = zpk.seal(Format::Iso4, &Pin::new("1234")?, Some(&pan), &mut rng(2))?;
    assert_eq!(
        zpk.open(Format::Iso4, block.as_bytes(), Some(&pan))?
            .expose_digits(),
        b"1234"
    );
    Ok(())
}

#[test]
fn list_is_in_index_order_and_debug_shows_no_key() -> TestResult {
    let zone = ZoneKeys::new();
    for name in ["b", "a", "c"] {
        zone.insert(
            ZpkIndex::new(name)?,
            PinKey::from(TdesKey::new(b"AB pinset test k")?),
            KeyPurpose::PinEncryption,
        )?;
    }
    let names: Vec<String> = zone
        .list()?
        .into_iter()
        .map(|(i, _)| i.to_string())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    let debug = format!("{zone:?}");
    assert!(!debug.to_ascii_uppercase().contains("ABABABAB"), "{debug}");
    assert!(!debug.contains("171, 171"), "{debug}");
    assert!(debug.contains("kcv"));
    Ok(())
}
