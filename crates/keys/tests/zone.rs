//! Zone keys: purpose tags, KCV checks, lookups.

mod common;

use common::{TestResult, import_rsa, import_symmetric, module, rng, rsa2048};
use pinset_block::{Format, Pan, Pin};
use pinset_envelope::{AesKey, PinKey, TdesKey};
use pinset_keys::{KeyError, KeyPurpose, ZoneKeys, ZpkIndex};
use pinset_module::{
    KeyAlgorithm, KeyCheck, ModuleError, PinSource, SecurityModule, SoftwareModule, TranslatePin,
};
use pollster::block_on;

fn tdes(hex: &str) -> Result<TdesKey, Box<dyn std::error::Error>> {
    Ok(TdesKey::new(&hex::decode(hex)?)?)
}

/// The key a device sealed its format 1 blocks under, in these tests.
const DEVICE_KEY: &str = "E6F1081FEA4C402CC192B65DE367EC3E";

/// A device's format 1 block of `pin` under [`DEVICE_KEY`], and that key's
/// handle in `module`.
fn device_block(
    module: &SoftwareModule,
    pin: &str,
    seed: u64,
) -> Result<(pinset_keys::KeyRef, Vec<u8>), Box<dyn std::error::Error>> {
    let handle = import_symmetric(
        module,
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        &hex::decode(DEVICE_KEY)?,
    )?;
    let block = PinKey::from(tdes(DEVICE_KEY)?).seal(
        Format::Iso1,
        &Pin::new(pin)?,
        None,
        &mut rng(seed),
    )?;
    Ok((handle, block.as_bytes().to_vec()))
}

#[test]
fn a_pin_key_seals_and_opens_pin_blocks() -> TestResult {
    let module = module(1);
    let zone = ZoneKeys::new();
    let index = ZpkIndex::new("zpk-1")?;
    // jPOS JCESecurityModuleTest's format 0 clear block of 1234 under the
    // published KCV test key (08D7B4), enciphered by OpenSSL 3.0.19.
    let handle = import_symmetric(
        &module,
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        &hex::decode("0123456789ABCDEFFEDCBA9876543210")?,
    )?;
    assert_eq!(zone.insert(index.clone(), handle)?.to_string(), "08D7B4");
    let zpk = zone.pin_key(&index)?;
    // The module seals format 0 under the zone's handle: a device's format 1
    // block translated to it.
    let (device, block) = device_block(&module, "1234", 1)?;
    let pan = Pan::new("1234567890123456")?;
    let sealed = block_on(module.translate(&TranslatePin {
        source: PinSource::Symmetric {
            key: &device,
            format: Format::Iso1,
            block: &block,
        },
        destination: &zpk,
        format: Format::Iso0,
        pan: Some(&pan),
        policy: None,
    }))?;
    assert_eq!(hex::encode_upper(sealed.as_bytes()), "E5639CBC7EC0B4CA");
    assert_eq!(
        PinKey::from(tdes("0123456789ABCDEFFEDCBA9876543210")?)
            .open(Format::Iso0, sealed.as_bytes(), Some(&pan))?
            .expose_digits(),
        b"1234"
    );
    Ok(())
}

#[test]
fn keys_for_other_purposes_are_refused_as_pin_keys() -> TestResult {
    let module = module(2);
    let zone = ZoneKeys::new();
    for (name, purpose) in [
        ("dek", KeyPurpose::DataEncryption),
        ("zmk", KeyPurpose::KeyEncryption),
    ] {
        let index = ZpkIndex::new(name)?;
        let handle = import_symmetric(
            &module,
            KeyAlgorithm::Tdes3,
            purpose,
            b"5A pinset test key of 24",
        )?;
        zone.insert(index.clone(), handle.clone())?;
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
        // The module refuses it as a PIN key too, should a caller name the handle directly.
        let (device, block) = device_block(&module, "1234", 2)?;
        let refused = block_on(module.translate(&TranslatePin {
            source: PinSource::Symmetric {
                key: &device,
                format: Format::Iso1,
                block: &block,
            },
            destination: &handle,
            format: Format::Iso1,
            pan: None,
            policy: None,
        }));
        assert!(
            matches!(refused, Err(ModuleError::WrongPurpose { .. })),
            "{refused:?}"
        );
    }
    Ok(())
}

#[test]
fn unknown_and_duplicate_indexes() -> TestResult {
    let module = module(3);
    let zone = ZoneKeys::new();
    let index = ZpkIndex::new("zpk-1")?;
    assert!(matches!(
        zone.pin_key(&index),
        Err(KeyError::UnknownZpkIndex(_))
    ));
    let first = import_symmetric(
        &module,
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        b"11 pinset test k",
    )?;
    zone.insert(index.clone(), first.clone())?;
    let second = import_symmetric(
        &module,
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        b"22 pinset test k",
    )?;
    assert!(matches!(
        zone.insert(index.clone(), second),
        Err(KeyError::DuplicateZpkIndex(_))
    ));
    // The first key stayed.
    assert_eq!(
        zone.pin_key(&index)?.check(),
        KeyCheck::Kcv(TdesKey::new(b"11 pinset test k")?.kcv())
    );
    assert_eq!(zone.pin_key(&index)?, first);
    // Removing hands the handle back, for the caller to destroy in the module.
    assert_eq!(zone.remove(&index)?, Some(first.clone()));
    assert_eq!(zone.remove(&index)?, None);
    assert!(matches!(
        zone.info(&index),
        Err(KeyError::UnknownZpkIndex(_))
    ));
    block_on(module.destroy(&first))?;
    Ok(())
}

#[test]
fn insert_checked_verifies_the_delivered_kcv() -> TestResult {
    let module = module(4);
    let zone = ZoneKeys::new();
    let index = ZpkIndex::new("zpk-1")?;
    let key = import_symmetric(
        &module,
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        &hex::decode("0123456789ABCDEFFEDCBA9876543210")?,
    )?;
    assert_eq!(key.check().to_string(), "KCV 08D7B4");
    let wrong = TdesKey::new(b"11 pinset test k")?.kcv();
    assert!(matches!(
        zone.insert_checked(index.clone(), key.clone(), wrong),
        Err(KeyError::KcvMismatch { .. })
    ));
    assert!(
        zone.list()?.is_empty(),
        "a key with the wrong KCV was stored"
    );
    let kcv = tdes("0123456789ABCDEFFEDCBA9876543210")?.kcv();
    zone.insert_checked(index.clone(), key, kcv)?;
    assert_eq!(zone.info(&index)?.kcv.to_string(), "08D7B4");
    Ok(())
}

#[test]
fn aes_zone_keys_carry_format_4() -> TestResult {
    let module = module(5);
    let zone = ZoneKeys::new();
    let index = ZpkIndex::new("aes-zpk")?;
    let material = hex::decode("00112233445566778899AABBCCDDEEFF")?;
    let handle = import_symmetric(
        &module,
        KeyAlgorithm::Aes128,
        KeyPurpose::PinEncryption,
        &material,
    )?;
    zone.insert(index.clone(), handle)?;
    let info = zone.info(&index)?;
    assert_eq!(
        (info.algorithm, info.kcv.to_string().as_str()),
        (KeyAlgorithm::Aes128, "53E107")
    );
    let zpk = zone.pin_key(&index)?;
    let pan = Pan::new("432198765432109870")?;
    // A device's format 1 block becomes format 4 under the AES key, in the module.
    let (device, block) = device_block(&module, "1234", 2)?;
    let iso4 = block_on(module.translate(&TranslatePin {
        source: PinSource::Symmetric {
            key: &device,
            format: Format::Iso1,
            block: &block,
        },
        destination: &zpk,
        format: Format::Iso4,
        pan: Some(&pan),
        policy: None,
    }))?;
    assert_eq!(iso4.as_bytes().len(), 16);
    assert_eq!(
        PinKey::from(AesKey::new(&material)?)
            .open(Format::Iso4, iso4.as_bytes(), Some(&pan))?
            .expose_digits(),
        b"1234"
    );
    // A TDES key cannot carry format 4.
    let refused = block_on(module.translate(&TranslatePin {
        source: PinSource::Symmetric {
            key: &device,
            format: Format::Iso1,
            block: &block,
        },
        destination: &device,
        format: Format::Iso4,
        pan: Some(&pan),
        policy: None,
    }));
    assert!(
        matches!(refused, Err(ModuleError::WrongAlgorithm { .. })),
        "{refused:?}"
    );
    Ok(())
}

#[test]
fn rsa_handles_are_no_zone_keys() -> TestResult {
    let module = module(6);
    let zone = ZoneKeys::new();
    let index = ZpkIndex::new("rsa")?;
    let rsa = import_rsa(&module, KeyPurpose::PinEncryption, &rsa2048()?)?;
    let err = zone
        .insert(index.clone(), rsa.clone())
        .err()
        .ok_or("an RSA handle was filed as a zone key")?;
    assert!(
        matches!(
            err,
            KeyError::Module(ModuleError::WrongAlgorithm {
                algorithm: KeyAlgorithm::Rsa { bits: 2048 },
                ..
            })
        ),
        "{err:?}"
    );
    let kcv = TdesKey::new(b"11 pinset test k")?.kcv();
    assert!(matches!(
        zone.insert_checked(index.clone(), rsa, kcv),
        Err(KeyError::Module(ModuleError::WrongAlgorithm { .. }))
    ));
    assert!(zone.list()?.is_empty());
    Ok(())
}

#[test]
fn list_is_in_index_order_and_debug_shows_no_key() -> TestResult {
    let module = module(7);
    let zone = ZoneKeys::new();
    // One key under three indexes: another index may name the same key.
    let handle = import_symmetric(
        &module,
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        b"AB pinset test k",
    )?;
    for name in ["b", "a", "c"] {
        zone.insert(ZpkIndex::new(name)?, handle.clone())?;
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
    assert!(!debug.contains("pinset test"), "{debug}");
    assert!(debug.contains("kcv"));
    Ok(())
}
