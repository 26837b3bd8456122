//! TR-31 key blocks imported into module slots, and exported.
//!
//! Vectors: ANSI TR-31:2018 annex A.7.2.1 (version A), A.7.2.2 (B) and
//! A.7.4 (D), `shared/vectors/pin-verification-and-tr31.json`.

use pinset_block::{Format, Pan};
use pinset_module::tr31::{Exportability, Version};
use pinset_module::{
    ErrorClass, GenerateVerificationValue, KeyAlgorithm, KeyBlockExport, KeyCheck, KeyPurpose,
    KeyRef, ModuleError, PinSource, SecurityModule, SlotField, TranslatePin, VerifyPin, tr31,
};

use pinset_envelope::{AesKey, PinKey};

use super::{PAN, clear_tdes, pin, rng, unhex};

pub const KBPK_A: &str = "89E88CF7931444F334BD7547FC3F380C";
pub const KEY_A: &str = "F039121BEC83D26B169BDCD5B22AAF8F";
pub const BLOCK_A: &str =
    "A0072P0TE00E0000F5161ED902807AF26F1D62263644BD24192FDB3193C730301CEE8701";
pub const KBPK_B: &str = "DD7515F2BFC17F85CE48F3CA25CB21F6";
pub const KBPK_D: &str = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6";
/// The key in the B and D vectors.
pub const KEY_BD: &str = "3F419E1CB7079442AA37474C2EFBF8B8";
pub const BLOCK_B: &str =
    "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E";
pub const BLOCK_D: &str = "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D207E2E417C07156A27E8E31DA05F7425509593D03A457DC34";

/// The clear key of `algorithm`, and the PIN block format it carries.
fn clear(algorithm: KeyAlgorithm, hex_key: &str) -> (PinKey, Format) {
    if algorithm == KeyAlgorithm::Aes128 {
        (
            PinKey::from(AesKey::new(&unhex(hex_key)).unwrap()),
            Format::Iso4,
        )
    } else {
        (clear_tdes(hex_key), Format::Iso0)
    }
}

async fn kbpk<M: SecurityModule>(m: &M, algorithm: KeyAlgorithm, hex_key: &str) -> KeyRef {
    m.import_symmetric(algorithm, KeyPurpose::KeyBlockProtection, &unhex(hex_key))
        .await
        .unwrap()
}

/// `key` enciphers a PIN block that the clear `hex_key` reads.
async fn works_as_pin_key<M: SecurityModule>(
    m: &M,
    key: &KeyRef,
    algorithm: KeyAlgorithm,
    hex_key: &str,
) {
    let (reader, format) = clear(algorithm, hex_key);
    let pan = Pan::new(PAN).unwrap();
    let zpk = m
        .import_symmetric(
            KeyAlgorithm::Tdes3,
            KeyPurpose::PinEncryption,
            &unhex(super::TDES3_ZPK),
        )
        .await
        .unwrap();
    let block = clear_tdes(super::TDES3_ZPK)
        .seal(Format::Iso0, &pin("7580"), Some(&pan), &mut rng(4))
        .unwrap();
    let out = m
        .translate(&TranslatePin {
            source: PinSource::Symmetric {
                key: &zpk,
                format: Format::Iso0,
                block: block.as_bytes(),
            },
            destination: key,
            format,
            pan: Some(&pan),
            policy: None,
        })
        .await
        .unwrap();
    let back = reader.open(format, out.as_bytes(), Some(&pan)).unwrap();
    assert_eq!(back.expose_digits(), b"7580");
}

async fn import_p0<M: SecurityModule>(
    m: &M,
    protection: &KeyRef,
    algorithm: KeyAlgorithm,
    block: &str,
) -> Result<KeyRef, ModuleError> {
    m.import_key_block(protection, algorithm, KeyPurpose::PinEncryption, block)
        .await
}

pub async fn key_blocks<M: SecurityModule>(m: &M) {
    let tdes_kbpk_b = kbpk(m, KeyAlgorithm::Tdes2, KBPK_B).await;
    let tdes_kbpk_a = kbpk(m, KeyAlgorithm::Tdes2, KBPK_A).await;
    let aes_kbpk = kbpk(m, KeyAlgorithm::Aes256, KBPK_D).await;

    // The published blocks import as P0 keys with the published key's KCV,
    // and the keys encipher PIN blocks. D's key is AES-128 (algorithm A).
    for (protection, block, algorithm, key) in [
        (&tdes_kbpk_b, BLOCK_B, KeyAlgorithm::Tdes2, KEY_BD),
        (&aes_kbpk, BLOCK_D, KeyAlgorithm::Aes128, KEY_BD),
        (&tdes_kbpk_a, BLOCK_A, KeyAlgorithm::Tdes2, KEY_A),
    ] {
        let handle = import_p0(m, protection, algorithm, block).await.unwrap();
        let kcv = clear(algorithm, key).0.kcv();
        assert_eq!(handle.check(), KeyCheck::Kcv(kcv), "{}", &block[..1]);
        assert_eq!(handle.purpose(), KeyPurpose::PinEncryption);
        works_as_pin_key(m, &handle, algorithm, key).await;
    }

    // The vectors' keys are mode E: they encipher PIN blocks and never
    // decipher one.
    let encrypt_only = import_p0(m, &tdes_kbpk_b, KeyAlgorithm::Tdes2, BLOCK_B)
        .await
        .unwrap();
    let pan = Pan::new(PAN).unwrap();
    let device = clear_tdes(KEY_BD)
        .seal(Format::Iso0, &pin("7580"), Some(&pan), &mut rng(5))
        .unwrap();
    let e = m
        .translate(&TranslatePin {
            source: PinSource::Symmetric {
                key: &encrypt_only,
                format: Format::Iso0,
                block: device.as_bytes(),
            },
            destination: &encrypt_only,
            format: Format::Iso0,
            pan: Some(&pan),
            policy: None,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ModuleError::ModeOfUse {
                operation: "decipher",
                ..
            }
        ),
        "{e:?}"
    );

    // A sound block refuses a slot it does not fit.
    for (algorithm, purpose, field) in [
        (
            KeyAlgorithm::Aes128,
            KeyPurpose::PinVerificationVisa,
            SlotField::KeyUsage,
        ),
        (
            KeyAlgorithm::Aes128,
            KeyPurpose::KeyEncryption,
            SlotField::KeyUsage,
        ),
        (
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinEncryption,
            SlotField::Algorithm,
        ),
        (
            KeyAlgorithm::Aes256,
            KeyPurpose::PinEncryption,
            SlotField::Algorithm,
        ),
    ] {
        let e = m
            .import_key_block(&aes_kbpk, algorithm, purpose, BLOCK_D)
            .await
            .unwrap_err();
        match e {
            ModuleError::KeyBlockSlot { field: f, .. } => assert_eq!(f, field, "{purpose}"),
            other => panic!("{purpose}: {other:?}"),
        }
    }

    // Any altered character, or the wrong KBPK, is one refusal.
    for at in 0..BLOCK_D.len() {
        let mut bytes = BLOCK_D.as_bytes().to_vec();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(bytes).unwrap();
        let e = import_p0(m, &aes_kbpk, KeyAlgorithm::Aes128, &altered)
            .await
            .unwrap_err();
        assert!(
            matches!(e, ModuleError::KeyBlock(_)),
            "position {at}: {e:?}"
        );
        assert_eq!(e.to_string(), "key block refused");
    }
    let e = import_p0(m, &tdes_kbpk_a, KeyAlgorithm::Tdes2, BLOCK_B)
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::KeyBlock(_)), "{e:?}");

    // Only a key-block protection key protects key blocks.
    let kek = m
        .import_symmetric(
            KeyAlgorithm::Aes256,
            KeyPurpose::KeyEncryption,
            &unhex(KBPK_D),
        )
        .await
        .unwrap();
    let e = import_p0(m, &kek, KeyAlgorithm::Aes128, BLOCK_D)
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::WrongPurpose { .. }), "{e:?}");

    // Export: the B vector's key is exportable (E); its block under either
    // KBPK imports again as the same key, with the mode it arrived with.
    let key = import_p0(m, &tdes_kbpk_b, KeyAlgorithm::Tdes2, BLOCK_B)
        .await
        .unwrap();
    for (protection, version) in [(&aes_kbpk, Version::D), (&tdes_kbpk_b, Version::B)] {
        let export = KeyBlockExport {
            version,
            exportability: Exportability::NON_EXPORTABLE,
        };
        let block = m.export_key_block(&key, protection, &export).await.unwrap();
        assert!(block.starts_with(&format!("{version:?}")), "{block}");
        assert_eq!(&block[5..9], "P0TE");
        let again = import_p0(m, protection, KeyAlgorithm::Tdes2, &block)
            .await
            .unwrap();
        assert_eq!(again.check(), key.check());
        // It came back marked non-exportable: it stays in the module.
        let e = m
            .export_key_block(&again, protection, &export)
            .await
            .unwrap_err();
        assert!(matches!(e, ModuleError::NotExportable(_)), "{e:?}");
        let e = m.export_wrapped(&again, &kek).await.unwrap_err();
        assert!(matches!(e, ModuleError::NotExportable(_)), "{e:?}");
    }
    // Even an exportable key that came in a key block never leaves by key
    // wrap, which would drop its usage and mode: re-imported that way it
    // could decipher, or become a PVK.
    let e = m.export_wrapped(&key, &kek).await.unwrap_err();
    assert!(matches!(e, ModuleError::NotExportable(_)), "{e:?}");

    // Deprecated versions are read, never written.
    let legacy = KeyBlockExport {
        version: Version::A,
        exportability: Exportability::NON_EXPORTABLE,
    };
    let e = m
        .export_key_block(&key, &tdes_kbpk_a, &legacy)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Unsupported, "{e:?}");
}

/// Wraps `key` under the clear `kbpk` with `header`: the sender's side,
/// on `pinset-tr31` with RustCrypto (cross-checked against psec).
fn sender_block(kbpk: &str, header: &str, key: &str) -> String {
    let kbpk = tr31::Kbpk::aes(&unhex(kbpk)).unwrap();
    let header = tr31::Header::parse(header).unwrap();
    tr31::wrap(&kbpk, &header, &unhex(key), &mut rng(6)).unwrap()
}

/// PIN verification keys arrive as V1 and V2 blocks; their mode of use
/// (G generate only, V verify only) and exportability (S) hold; a key
/// component never fills a slot.
pub async fn verification_key_blocks<M: SecurityModule>(m: &M) {
    use pinset_module::verify::{DecimalizationTable, Pvki, ValidationSource, VerificationMethod};

    let aes_kbpk = kbpk(m, KeyAlgorithm::Aes256, KBPK_D).await;
    // Not the pin_data PVK: a binding belongs to the key, and that one is
    // bound to another table in this module.
    let pvk = KEY_A;
    let visa = VerificationMethod::VisaPvv {
        pvki: Pvki::new(1).unwrap(),
    };
    let ibm = VerificationMethod::Ibm3624 {
        table: DecimalizationTable::STANDARD,
        validation: ValidationSource::Pan {
            start: 4,
            length: 11,
            pad: 'F',
        },
    };
    let zpk = m
        .import_symmetric(
            KeyAlgorithm::Tdes3,
            KeyPurpose::PinEncryption,
            &unhex(super::TDES3_ZPK),
        )
        .await
        .unwrap();
    let pan = Pan::new(PAN).unwrap();
    let block = clear_tdes(super::TDES3_ZPK)
        .seal(Format::Iso0, &pin("7580"), Some(&pan), &mut rng(7))
        .unwrap();
    let source = PinSource::Symmetric {
        key: &zpk,
        format: Format::Iso0,
        block: block.as_bytes(),
    };

    // V2 mode G: generates PVVs, never verifies; V1 mode V: the reverse.
    // Both S (sensitive): they never leave the module.
    let v2 = sender_block(KBPK_D, "D0000V2TG00S0000", pvk);
    let v1 = sender_block(KBPK_D, "D0000V1TV00S0000", pvk);
    let visa_pvk = m
        .import_key_block(
            &aes_kbpk,
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinVerificationVisa,
            &v2,
        )
        .await
        .unwrap();
    let ibm_pvk = m
        .import_key_block(
            &aes_kbpk,
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinVerificationIbm3624,
            &v1,
        )
        .await
        .unwrap();
    // Each fits only its own slot.
    let e = m
        .import_key_block(
            &aes_kbpk,
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinVerificationIbm3624,
            &v2,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ModuleError::KeyBlockSlot {
                field: SlotField::KeyUsage,
                ..
            }
        ),
        "{e:?}"
    );
    m.bind_verification_method(&visa_pvk, &visa).await.unwrap();
    m.bind_verification_method(&ibm_pvk, &ibm).await.unwrap();
    let pvv = m
        .generate_verification_value(&GenerateVerificationValue {
            source,
            pan: &pan,
            pvk: &visa_pvk,
            method: &visa,
        })
        .await
        .unwrap();
    let e = m
        .verify_pin(&VerifyPin {
            source,
            pan: &pan,
            pvk: &visa_pvk,
            method: &visa,
            value: &pvv,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ModuleError::ModeOfUse {
                operation: "verify",
                ..
            }
        ),
        "{e:?}"
    );
    let e = m
        .generate_verification_value(&GenerateVerificationValue {
            source,
            pan: &pan,
            pvk: &ibm_pvk,
            method: &ibm,
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ModuleError::ModeOfUse {
                operation: "generate",
                ..
            }
        ),
        "{e:?}"
    );
    let e = m
        .export_key_block(&visa_pvk, &aes_kbpk, &KeyBlockExport::default())
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::NotExportable(_)), "{e:?}");

    // A component (key version c1) is half a key: no slot takes it.
    let component = sender_block(KBPK_D, "D0000P0TBc1E0000", KEY_BD);
    let e = m
        .import_key_block(
            &aes_kbpk,
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinEncryption,
            &component,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ModuleError::KeyBlockSlot {
                field: SlotField::KeyVersion,
                ..
            }
        ),
        "{e:?}"
    );
}

/// A backend without key blocks says so.
pub async fn key_blocks_unsupported<M: SecurityModule>(m: &M) {
    let protection = kbpk(m, KeyAlgorithm::Aes256, KBPK_D).await;
    let e = import_p0(m, &protection, KeyAlgorithm::Aes128, BLOCK_D)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Unsupported, "{e:?}");
}
