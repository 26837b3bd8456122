//! PIN verification values inside the module: Visa PVV, IBM 3624 offset
//! and natural PIN, and verification.
//!
//! Vectors: psec 1.3.0 `tests/test_pin.py` (PVK 0123456789ABCDEFFEDCBA9876543210,
//! PAN 1122334455667788), `shared/vectors/pin-verification-and-tr31.json`.

use pinset_block::{Format, Pan};
use pinset_module::verify::{
    DecimalizationTable, Pvki, ValidationSource, VerificationMethod, VerificationValue,
};
use pinset_module::{
    ErrorClass, GenerateNaturalPin, GenerateVerificationValue, KeyAlgorithm, KeyPurpose, KeyRef,
    ModuleError, PinSource, PinVerified, SecurityModule, VerifyPin,
};

use super::{TDES2, TDES3_ZPK, clear_tdes, import, pin, rng, unhex};

const PVK: &str = "0123456789ABCDEFFEDCBA9876543210";
const PSEC_PAN: &str = "1122334455667788";

fn visa(pvki: u8) -> VerificationMethod {
    VerificationMethod::VisaPvv {
        pvki: Pvki::new(pvki).unwrap(),
    }
}

fn ibm() -> VerificationMethod {
    ibm_with("1234567890123456")
}

/// IBM 3624 with the PAN as validation data and `table`.
fn ibm_with(table: &str) -> VerificationMethod {
    VerificationMethod::Ibm3624 {
        table: DecimalizationTable::parse(table).unwrap(),
        validation: ValidationSource::Pan {
            start: 0,
            length: 16,
            pad: 'F',
        },
    }
}

async fn generate<M: SecurityModule>(
    m: &M,
    zpk: &KeyRef,
    block: &[u8],
    pvk: &KeyRef,
    method: &VerificationMethod,
) -> Result<VerificationValue, ModuleError> {
    let pan = Pan::new(PSEC_PAN).unwrap();
    m.generate_verification_value(&GenerateVerificationValue {
        source: PinSource::Symmetric {
            key: zpk,
            format: Format::Iso0,
            block,
        },
        pan: &pan,
        pvk,
        method,
    })
    .await
}

async fn verify<M: SecurityModule>(
    m: &M,
    zpk: &KeyRef,
    block: &[u8],
    pvk: &KeyRef,
    method: &VerificationMethod,
    value: &VerificationValue,
) -> Result<PinVerified, ModuleError> {
    let pan = Pan::new(PSEC_PAN).unwrap();
    m.verify_pin(&VerifyPin {
        source: PinSource::Symmetric {
            key: zpk,
            format: Format::Iso0,
            block,
        },
        pan: &pan,
        pvk,
        method,
        value,
    })
    .await
}

/// The PIN as format 0 under the ZPK, sealed on the host by RustCrypto.
fn iso0(digits: &str) -> Vec<u8> {
    let pan = Pan::new(PSEC_PAN).unwrap();
    clear_tdes(TDES3_ZPK)
        .seal(Format::Iso0, &pin(digits), Some(&pan), &mut rng(3))
        .unwrap()
        .as_bytes()
        .to_vec()
}

pub async fn pin_verification<M: SecurityModule>(m: &M) {
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    let visa_pvk = m
        .import_symmetric(
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinVerificationVisa,
            &unhex(PVK),
        )
        .await
        .unwrap();
    let ibm_pvk = m
        .import_symmetric(
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinVerificationIbm3624,
            &unhex(PVK),
        )
        .await
        .unwrap();

    // An IBM 3624 PVK computes nothing until a method is bound to it.
    let e = generate(m, &zpk, &iso0("1234"), &ibm_pvk, &ibm())
        .await
        .unwrap_err();
    assert!(
        matches!(e, ModuleError::VerificationBinding { .. }),
        "{e:?}"
    );
    m.bind_verification_method(&visa_pvk, &visa(1))
        .await
        .unwrap();
    m.bind_verification_method(&ibm_pvk, &ibm()).await.unwrap();
    // Binding the same method again is a no-op; another is refused.
    m.bind_verification_method(&ibm_pvk, &ibm()).await.unwrap();
    let other_table = ibm_with("9876543210987654");
    let e = m
        .bind_verification_method(&ibm_pvk, &other_table)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ModuleError::VerificationBinding { .. }),
        "{e:?}"
    );
    // A table of zeros makes the natural PIN 0000 and the offset the PIN:
    // refused at binding (a fresh key, so nothing is bound yet).
    let fresh = m
        .import_symmetric(
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinVerificationIbm3624,
            &unhex(PVK),
        )
        .await
        .unwrap();
    let zeros = ibm_with("0000000000000000");
    let e = m
        .bind_verification_method(&fresh, &zeros)
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::Verification(_)), "{e:?}");
    // A request that names another table than the bound one is refused,
    // so a caller cannot run the decimalisation table attack.
    let e = generate(m, &zpk, &iso0("1234"), &ibm_pvk, &other_table)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ModuleError::VerificationBinding { .. }),
        "{e:?}"
    );
    // The binding belongs to the key, not the handle: the same PVK
    // imported again, or exported and imported back, cannot be bound to
    // another table, and keeps the method it has.
    let again = m
        .import_symmetric(
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinVerificationIbm3624,
            &unhex(PVK),
        )
        .await
        .unwrap();
    assert_ne!(again.id(), ibm_pvk.id());
    let e = m
        .bind_verification_method(&again, &other_table)
        .await
        .unwrap_err();
    assert!(
        matches!(e, ModuleError::VerificationBinding { .. }),
        "{e:?}"
    );
    let kek = m
        .import_symmetric(KeyAlgorithm::Aes256, KeyPurpose::KeyEncryption, &[0x5A; 32])
        .await
        .unwrap();
    if let Ok(wrapped) = m.export_wrapped(&ibm_pvk, &kek).await {
        let back = m
            .import_wrapped(
                pinset_module::Wrapping::AesKeyWrap { kek: &kek },
                KeyAlgorithm::Tdes2,
                KeyPurpose::PinVerificationIbm3624,
                &wrapped,
            )
            .await
            .unwrap();
        let e = m
            .bind_verification_method(&back, &other_table)
            .await
            .unwrap_err();
        assert!(
            matches!(e, ModuleError::VerificationBinding { .. }),
            "{e:?}"
        );
        let offset = generate(m, &zpk, &iso0("1234"), &back, &ibm())
            .await
            .unwrap();
        assert_eq!(offset.expose_str(), "7710");
    }

    // psec: PVKI 1, PIN 4524 -> 8523; PVKI 2, PIN 1912 -> 3244. One PVK
    // per PVKI, as issuers keep them.
    let pvk_2 = m
        .import_symmetric(
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinVerificationVisa,
            &unhex(PVK),
        )
        .await
        .unwrap();
    m.bind_verification_method(&pvk_2, &visa(2)).await.unwrap();
    for (pvk, pvki, digits, pvv) in [(&visa_pvk, 1, "4524", "8523"), (&pvk_2, 2, "1912", "3244")] {
        let value = generate(m, &zpk, &iso0(digits), pvk, &visa(pvki))
            .await
            .unwrap();
        assert_eq!(value.expose_str(), pvv, "PVKI {pvki}");
        let same = verify(m, &zpk, &iso0(digits), pvk, &visa(pvki), &value).await;
        assert_eq!(same.unwrap(), PinVerified::Match);
        let other = verify(m, &zpk, &iso0("0000"), pvk, &visa(pvki), &value).await;
        assert_eq!(other.unwrap(), PinVerified::Mismatch);
    }

    // psec: table 1234567890123456, the PAN as validation data: 1234 -> 7710.
    let offset = generate(m, &zpk, &iso0("1234"), &ibm_pvk, &ibm())
        .await
        .unwrap();
    assert_eq!(offset.expose_str(), "7710");
    assert_eq!(
        verify(m, &zpk, &iso0("1234"), &ibm_pvk, &ibm(), &offset)
            .await
            .unwrap(),
        PinVerified::Match
    );
    assert_eq!(
        verify(m, &zpk, &iso0("1244"), &ibm_pvk, &ibm(), &offset)
            .await
            .unwrap(),
        PinVerified::Mismatch
    );

    // One purpose per key: a Visa PVK computes no offsets, a PIN key no
    // PVVs, and a PVK enciphers no PIN blocks.
    for (pvk, method) in [(&visa_pvk, ibm()), (&ibm_pvk, visa(1)), (&zpk, visa(1))] {
        let e = generate(m, &zpk, &iso0("1234"), pvk, &method)
            .await
            .unwrap_err();
        assert!(matches!(e, ModuleError::WrongPurpose { .. }), "{e:?}");
    }
    let pan = Pan::new(PSEC_PAN).unwrap();
    let e = m
        .translate(&pinset_module::TranslatePin {
            source: PinSource::Symmetric {
                key: &zpk,
                format: Format::Iso0,
                block: &iso0("1234"),
            },
            destination: &visa_pvk,
            format: Format::Iso0,
            pan: Some(&pan),
            policy: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::WrongPurpose { .. }), "{e:?}");

    // A block under another key is the one undecryptable class; format 2
    // never leaves the chip.
    let tzpk = import(m, KeyAlgorithm::Tdes2, TDES2).await;
    let e = generate(m, &tzpk, &iso0("1234"), &visa_pvk, &visa(1))
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Undecryptable, "{e:?}");
    let e = m
        .generate_verification_value(&GenerateVerificationValue {
            source: PinSource::Symmetric {
                key: &zpk,
                format: Format::Iso2,
                block: &iso0("1234"),
            },
            pan: &pan,
            pvk: &visa_pvk,
            method: &visa(1),
        })
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::ChipOnlyFormat), "{e:?}");
    // A PIN shorter than the stored offset is a mismatch like any other:
    // an error would tell the caller the PIN's length.
    let six = generate(m, &zpk, &iso0("123456"), &ibm_pvk, &ibm())
        .await
        .unwrap();
    assert_eq!(six.expose_str().len(), 6);
    assert_eq!(
        verify(m, &zpk, &iso0("1234"), &ibm_pvk, &ibm(), &six)
            .await
            .unwrap(),
        PinVerified::Mismatch
    );
    // A stored value of the other method is refused, not a mismatch.
    let e = verify(m, &zpk, &iso0("1234"), &visa_pvk, &visa(1), &offset)
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::Verification(_)), "{e:?}");

    // The natural PIN for the psec vector is 4524 (its offset is 0000),
    // delivered as format 0 under the ZPK.
    let natural = m
        .generate_natural_pin(&GenerateNaturalPin {
            pvk: &ibm_pvk,
            table: &DecimalizationTable::parse("1234567890123456").unwrap(),
            validation: &ValidationSource::Pan {
                start: 0,
                length: 16,
                pad: 'F',
            },
            pan: &pan,
            length: 4,
            destination: &zpk,
            format: Format::Iso0,
        })
        .await
        .unwrap();
    let back = clear_tdes(TDES3_ZPK)
        .open(Format::Iso0, natural.as_bytes(), Some(&pan))
        .unwrap();
    assert_eq!(back.expose_digits(), b"4524");
}

/// A backend without PIN verification says so.
pub async fn pin_verification_unsupported<M: SecurityModule>(m: &M) {
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    let e = generate(m, &zpk, &iso0("1234"), &zpk, &visa(1))
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Unsupported, "{e:?}");
}
