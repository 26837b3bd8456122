//! The conformance suite every `SecurityModule` backend passes.
//!
//! Each backend's test file builds its module and calls [`run`] with what
//! the backend supports. Vectors and their sources:
//! - KCVs `08D7B4` (`0123456789ABCDEFFEDCBA9876543210`), `F3BF3A` (the
//!   Mastercard Processing sandbox ZPK) and `53E107` (AES
//!   `00112233445566778899AABBCCDDEEFF`, ANSI X9.24-1:2017 CMAC KCV):
//!   `shared/vectors/iso9564.json`, "kcv" and "mastercard_sandbox".
//! - Format 4: the ep2 example in psec's tests, `shared/vectors/iso9564.json` "format4_aes".
//! - RSA: the OpenSSL 3.0.19 key `crates/envelope/tests/data/rsa2048_pkcs8.der`.
//! - The device side (sealing, unwrapping) is `pinset-envelope`, which is
//!   itself checked against OpenSSL, psec and pyca/cryptography.
//! - Wrapped keys are wrapped and unwrapped on the host side by RustCrypto's
//!   `aes-kw`, an implementation independent of every backend's (OpenSSL's
//!   in SoftHSM), tested by its authors against RFC 5649 §6.
#![allow(dead_code)] // each backend's test file uses what its backend supports

mod key_blocks;
mod pin_data;

use pinset_block::{Format, Pan, Pin};
use pinset_envelope::rsa::{self, RsaPrivateKey};
use pinset_envelope::{AesKey, PinKey, RsaPadding, TdesKey};
use pinset_module::{
    ErrorClass, KeyAlgorithm, KeyCheck, KeyPurpose, KeyRef, ModuleError, PinPolicy, PinSource,
    PolicyViolation, SecurityModule, TranslatePin, Wrapping,
};
use rand_core::SeedableRng;

pub const TDES2: &str = "0123456789ABCDEFFEDCBA9876543210";
pub const TDES3_ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
pub const AES128: &str = "00112233445566778899AABBCCDDEEFF";
/// ep2 example (psec tests): PIN 1234, PAN 432198765432109870, under this AES key.
pub const EP2_AES: &str = "C1D0F8FB4958670DBA40AB1F3752EF0D";
pub const EP2_BLOCK: &str = "CC17F65586BFD0953010226C4FC5B3CA";
pub const EP2_PAN: &str = "432198765432109870";
pub const PAN: &str = "5141576351968605";
pub const RSA2048_PKCS8: &[u8] = include_bytes!("../../../envelope/tests/data/rsa2048_pkcs8.der");

/// What a backend supports.
#[derive(Clone, Copy, Debug)]
pub struct Supports {
    /// RSA paddings it decrypts; the others must answer `Unsupported`.
    pub rsa_paddings: &'static [RsaPadding],
    /// Whether it generates RSA key pairs.
    pub rsa_generation: bool,
    /// Whether it does format 4 (AES).
    pub aes: bool,
    /// The padding it wraps tzpks with (Enfuce's is OAEP-SHA-256).
    pub tzpk_padding: RsaPadding,
    /// Whether its keys can leave it wrapped; if not, `export_wrapped`
    /// must answer `Unsupported`.
    pub export_wrapped: bool,
    /// Whether it computes and verifies PVVs and IBM 3624 offsets.
    pub pin_verification: bool,
    /// Whether it imports and exports TR-31 key blocks.
    pub key_blocks: bool,
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn rng(seed: u64) -> chacha20::ChaCha20Rng {
    chacha20::ChaCha20Rng::seed_from_u64(seed)
}

fn pin(digits: &str) -> Pin {
    Pin::new(digits).unwrap()
}

fn pan() -> Pan {
    Pan::new(PAN).unwrap()
}

fn clear_tdes(hex_key: &str) -> PinKey {
    PinKey::from(TdesKey::new(&unhex(hex_key)).unwrap())
}

async fn import<M: SecurityModule>(m: &M, alg: KeyAlgorithm, hex_key: &str) -> KeyRef {
    m.import_symmetric(alg, KeyPurpose::PinEncryption, &unhex(hex_key))
        .await
        .unwrap()
}

/// Runs every check against `m`.
pub async fn run<M: SecurityModule>(m: &M, supports: Supports) {
    handles_carry_check_values_not_material(m, supports).await;
    weak_and_misfit_keys_are_refused(m).await;
    symmetric_translation(m).await;
    if supports.aes {
        format4_translation(m).await;
    }
    rsa_translation(m, supports).await;
    tzpk_generation(m, supports).await;
    undecryptable_is_one_class(m).await;
    policy_is_checked_inside(m).await;
    refusals_come_before_deciphering(m).await;
    destroy_forgets(m).await;
    wrapped_keys(m, supports).await;
    if supports.rsa_generation {
        rsa_generation(m).await;
    }
    if supports.pin_verification {
        pin_data::pin_verification(m).await;
    } else {
        pin_data::pin_verification_unsupported(m).await;
    }
    if supports.key_blocks {
        key_blocks::key_blocks(m).await;
        key_blocks::verification_key_blocks(m).await;
    } else {
        key_blocks::key_blocks_unsupported(m).await;
    }
}

async fn handles_carry_check_values_not_material<M: SecurityModule>(m: &M, supports: Supports) {
    let tdes = import(m, KeyAlgorithm::Tdes2, TDES2).await;
    assert_eq!(tdes.check().to_string(), "KCV 08D7B4");
    assert_eq!(tdes.algorithm(), KeyAlgorithm::Tdes2);
    assert_eq!(tdes.purpose(), KeyPurpose::PinEncryption);
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    assert_eq!(zpk.check().to_string(), "KCV F3BF3A");
    if supports.aes {
        let aes = import(m, KeyAlgorithm::Aes128, AES128).await;
        assert_eq!(aes.check().to_string(), "KCV 53E107");
    }
    let rsa = m
        .import_rsa_private(KeyPurpose::PinEncryption, RSA2048_PKCS8)
        .await
        .unwrap();
    let expected = RsaPrivateKey::from_der(RSA2048_PKCS8).unwrap().public_key();
    assert_eq!(rsa.algorithm(), KeyAlgorithm::Rsa { bits: 2048 });
    assert_eq!(
        rsa.check(),
        KeyCheck::Fingerprint(expected.fingerprint_bytes())
    );
    assert_eq!(m.rsa_public_key(&rsa).await.unwrap(), expected);
    // Handles and errors print no key material.
    let printed = format!("{tdes} {tdes:?} {zpk:?} {rsa:?}");
    for secret in [TDES2, TDES3_ZPK, &TDES2.to_lowercase()] {
        assert!(!printed.contains(secret), "{printed}");
    }
}

async fn weak_and_misfit_keys_are_refused<M: SecurityModule>(m: &M) {
    for (alg, key) in [
        (KeyAlgorithm::Tdes2, "0123456789ABCDEF0123456789ABCDEF"),
        (KeyAlgorithm::Tdes2, "0101010101010101FEDCBA9876543210"),
        (KeyAlgorithm::Tdes2, TDES3_ZPK),
        (KeyAlgorithm::Tdes3, TDES2),
    ] {
        let err = m
            .import_symmetric(alg, KeyPurpose::PinEncryption, &unhex(key))
            .await
            .unwrap_err();
        assert!(matches!(err, ModuleError::KeyMaterial(_)), "{err:?}");
        assert_eq!(err.class(), ErrorClass::Refused);
        assert!(!format!("{err} {err:?}").contains(key));
    }
    let err = m
        .import_rsa_private(KeyPurpose::PinEncryption, b"not DER")
        .await
        .unwrap_err();
    assert!(matches!(err, ModuleError::KeyMaterial(_)));
}

async fn translate<M: SecurityModule>(
    m: &M,
    source: PinSource<'_>,
    destination: &KeyRef,
    format: Format,
    pan: Option<&Pan>,
    policy: Option<&PinPolicy>,
) -> Result<pinset_envelope::EncryptedPinBlock, ModuleError> {
    m.translate(&TranslatePin {
        source,
        destination,
        format,
        pan,
        policy,
    })
    .await
}

async fn symmetric_translation<M: SecurityModule>(m: &M) {
    let tzpk = import(m, KeyAlgorithm::Tdes2, TDES2).await;
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    let pan = pan();
    let device = clear_tdes(TDES2)
        .seal(Format::Iso1, &pin("7580"), None, &mut rng(1))
        .unwrap();
    for to in [Format::Iso0, Format::Iso3] {
        let out = translate(
            m,
            PinSource::Symmetric {
                key: &tzpk,
                format: Format::Iso1,
                block: device.as_bytes(),
            },
            &zpk,
            to,
            Some(&pan),
            None,
        )
        .await
        .unwrap();
        let back = clear_tdes(TDES3_ZPK)
            .open(to, out.as_bytes(), Some(&pan))
            .unwrap();
        assert_eq!(back.expose_digits(), b"7580", "{to}");
    }
    // Format 0 is deterministic: the module's block equals a direct seal.
    let out = translate(
        m,
        PinSource::Symmetric {
            key: &tzpk,
            format: Format::Iso1,
            block: device.as_bytes(),
        },
        &zpk,
        Format::Iso0,
        Some(&pan),
        None,
    )
    .await
    .unwrap();
    let direct = clear_tdes(TDES3_ZPK)
        .seal(Format::Iso0, &pin("7580"), Some(&pan), &mut rng(2))
        .unwrap();
    assert_eq!(out, direct);
}

async fn format4_translation<M: SecurityModule>(m: &M) {
    let aes = import(m, KeyAlgorithm::Aes128, EP2_AES).await;
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    let pan = Pan::new(EP2_PAN).unwrap();
    // ep2 example block (format 4, AES) to format 0 under the ZPK.
    let out = translate(
        m,
        PinSource::Symmetric {
            key: &aes,
            format: Format::Iso4,
            block: &unhex(EP2_BLOCK),
        },
        &zpk,
        Format::Iso0,
        Some(&pan),
        None,
    )
    .await
    .unwrap();
    let back = clear_tdes(TDES3_ZPK)
        .open(Format::Iso0, out.as_bytes(), Some(&pan))
        .unwrap();
    assert_eq!(back.expose_digits(), b"1234");
    // And back to format 4 under the AES key.
    let again = translate(
        m,
        PinSource::Symmetric {
            key: &zpk,
            format: Format::Iso0,
            block: out.as_bytes(),
        },
        &aes,
        Format::Iso4,
        Some(&pan),
        None,
    )
    .await
    .unwrap();
    let aes_clear = PinKey::from(AesKey::new(&unhex(EP2_AES)).unwrap());
    assert_eq!(
        aes_clear
            .open(Format::Iso4, again.as_bytes(), Some(&pan))
            .unwrap()
            .expose_digits(),
        b"1234"
    );
}

async fn rsa_translation<M: SecurityModule>(m: &M, supports: Supports) {
    let rsa_key = m
        .import_rsa_private(KeyPurpose::PinEncryption, RSA2048_PKCS8)
        .await
        .unwrap();
    let public = m.rsa_public_key(&rsa_key).await.unwrap();
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    let pan = pan();
    for (i, padding) in RsaPadding::ALL.into_iter().enumerate() {
        let cryptogram = public
            .seal(
                Format::Iso1,
                &pin("5336"),
                None,
                padding,
                &mut rng(10 + i as u64),
            )
            .unwrap();
        let result = translate(
            m,
            PinSource::Rsa {
                key: &rsa_key,
                padding,
                cryptogram: &cryptogram,
                format: Format::Iso1,
            },
            &zpk,
            Format::Iso0,
            Some(&pan),
            None,
        )
        .await;
        if supports.rsa_paddings.contains(&padding) {
            let out = result.unwrap();
            let back = clear_tdes(TDES3_ZPK)
                .open(Format::Iso0, out.as_bytes(), Some(&pan))
                .unwrap();
            assert_eq!(back.expose_digits(), b"5336", "{padding}");
        } else {
            let err = result.unwrap_err();
            assert_eq!(err.class(), ErrorClass::Unsupported, "{padding}: {err:?}");
        }
    }
}

async fn tzpk_generation<M: SecurityModule>(m: &M, supports: Supports) {
    let device = RsaPrivateKey::from_der(RSA2048_PKCS8).unwrap();
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    let padding = supports.tzpk_padding;
    let (tzpk, wrapped) = m
        .generate_tzpk(&device.public_key(), padding)
        .await
        .unwrap();
    let device_tzpk = rsa::unwrap_tdes_key(&device, padding, &wrapped).unwrap();
    assert_eq!(tzpk.check(), KeyCheck::Kcv(device_tzpk.kcv()));
    assert_eq!(tzpk.algorithm(), KeyAlgorithm::Tdes2);
    assert_eq!(tzpk.purpose(), KeyPurpose::PinEncryption);
    let bytes = device_tzpk.expose_bytes();
    assert_ne!(bytes[..8], bytes[8..]);
    assert!(bytes.iter().all(|b| b.count_ones() % 2 == 1), "odd parity");
    // The device enciphers format 1 under it; the module translates it.
    let block = PinKey::from(device_tzpk)
        .seal(Format::Iso1, &pin("2360"), None, &mut rng(3))
        .unwrap();
    let pan = pan();
    let out = translate(
        m,
        PinSource::Symmetric {
            key: &tzpk,
            format: Format::Iso1,
            block: block.as_bytes(),
        },
        &zpk,
        Format::Iso0,
        Some(&pan),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        clear_tdes(TDES3_ZPK)
            .open(Format::Iso0, out.as_bytes(), Some(&pan))
            .unwrap()
            .expose_digits(),
        b"2360"
    );
    // Two tzpks are two keys.
    let (other, _) = m
        .generate_tzpk(&device.public_key(), padding)
        .await
        .unwrap();
    assert_ne!(other.id(), tzpk.id());
    assert_ne!(other.check(), tzpk.check());
}

async fn undecryptable_is_one_class<M: SecurityModule>(m: &M) {
    let tzpk = import(m, KeyAlgorithm::Tdes2, TDES2).await;
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    let pan = pan();
    let good = clear_tdes(TDES2)
        .seal(Format::Iso1, &pin("7580"), None, &mut rng(4))
        .unwrap();
    let mut flipped = good.as_bytes().to_vec();
    flipped[7] ^= 1;
    let under_other_key = clear_tdes(TDES3_ZPK)
        .seal(Format::Iso1, &pin("7580"), None, &mut rng(5))
        .unwrap();
    let format0_as_format1 = clear_tdes(TDES2)
        .seal(Format::Iso0, &pin("7580"), Some(&pan), &mut rng(6))
        .unwrap();
    let mut messages = Vec::new();
    for block in [
        flipped.as_slice(),
        under_other_key.as_bytes(),
        format0_as_format1.as_bytes(),
        &good.as_bytes()[..7],
    ] {
        let err = translate(
            m,
            PinSource::Symmetric {
                key: &tzpk,
                format: Format::Iso1,
                block,
            },
            &zpk,
            Format::Iso0,
            Some(&pan),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Undecryptable, "{err:?}");
        messages.push(err.to_string());
    }
    // RSA: a truncated and a tampered cryptogram read the same.
    let rsa_key = m
        .import_rsa_private(KeyPurpose::PinEncryption, RSA2048_PKCS8)
        .await
        .unwrap();
    let public = m.rsa_public_key(&rsa_key).await.unwrap();
    let mut cryptogram = public
        .seal(
            Format::Iso1,
            &pin("7580"),
            None,
            RsaPadding::OaepSha1,
            &mut rng(7),
        )
        .unwrap();
    cryptogram[100] ^= 0x80;
    for c in [&cryptogram[..], &cryptogram[1..]] {
        let err = translate(
            m,
            PinSource::Rsa {
                key: &rsa_key,
                padding: RsaPadding::OaepSha1,
                cryptogram: c,
                format: Format::Iso1,
            },
            &zpk,
            Format::Iso0,
            Some(&pan),
            None,
        )
        .await
        .unwrap_err();
        assert_eq!(err.class(), ErrorClass::Undecryptable, "{err:?}");
        messages.push(err.to_string());
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "one outward message: {messages:?}");
}

async fn policy_is_checked_inside<M: SecurityModule>(m: &M) {
    let tzpk = import(m, KeyAlgorithm::Tdes2, TDES2).await;
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    let pan = pan();
    let policy = PinPolicy::default()
        .with_length(4, 6)
        .rejecting_weak_pins(true)
        .deny([pin("4444")]);
    for (digits, violation) in [
        ("1234", PolicyViolation::Sequential),
        ("7777", PolicyViolation::RepeatedDigit),
        ("1234567", PolicyViolation::TooLong),
    ] {
        let block = clear_tdes(TDES2)
            .seal(Format::Iso1, &pin(digits), None, &mut rng(8))
            .unwrap();
        let err = translate(
            m,
            PinSource::Symmetric {
                key: &tzpk,
                format: Format::Iso1,
                block: block.as_bytes(),
            },
            &zpk,
            Format::Iso0,
            Some(&pan),
            Some(&policy),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, ModuleError::Policy(v) if v == violation),
            "{digits}: {err:?}"
        );
        assert_eq!(err.class(), ErrorClass::Policy);
        assert!(!format!("{err} {err:?}").contains(digits));
    }
}

async fn refusals_come_before_deciphering<M: SecurityModule>(m: &M) {
    let tzpk = import(m, KeyAlgorithm::Tdes2, TDES2).await;
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    let data_key = m
        .import_symmetric(
            KeyAlgorithm::Tdes2,
            KeyPurpose::DataEncryption,
            &unhex("E6F1081FEA4C402CC192B65DE367EC3E"),
        )
        .await
        .unwrap();
    let pan = pan();
    let junk = [0u8; 8];
    let source = |key| PinSource::Symmetric {
        key,
        format: Format::Iso0,
        block: &junk,
    };
    // PCI: a PAN-bound block never becomes format 1, whatever the block holds.
    let err = translate(m, source(&zpk), &tzpk, Format::Iso1, Some(&pan), None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ModuleError::TranslationNotAllowed {
            from: Format::Iso0,
            to: Format::Iso1
        }
    ));
    // One purpose per key, on either side.
    for (from, to) in [(&data_key, &zpk), (&zpk, &data_key)] {
        let err = translate(m, source(from), to, Format::Iso0, Some(&pan), None)
            .await
            .unwrap_err();
        assert!(matches!(err, ModuleError::WrongPurpose { .. }), "{err:?}");
    }
    // A TDES key cannot carry format 4; a handle from elsewhere is unknown.
    let err = translate(m, source(&zpk), &tzpk, Format::Iso4, Some(&pan), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ModuleError::WrongAlgorithm { .. }), "{err:?}");
    let forged = KeyRef::new(
        "no-such-key",
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        tzpk.check(),
    );
    let err = translate(m, source(&forged), &zpk, Format::Iso0, Some(&pan), None)
        .await
        .unwrap_err();
    assert!(matches!(err, ModuleError::UnknownKey(_)), "{err:?}");
    // A real id with an edited purpose is not the module's handle either.
    let relabelled = KeyRef::new(
        data_key.id(),
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        data_key.check(),
    );
    let err = translate(m, source(&relabelled), &zpk, Format::Iso0, Some(&pan), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ModuleError::UnknownKey(_) | ModuleError::WrongPurpose { .. }
        ),
        "{err:?}"
    );
    // A PAN-bound format without the PAN.
    let err = translate(m, source(&zpk), &zpk, Format::Iso0, None, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ModuleError::PanRequired(Format::Iso0)));
    assert_eq!(err.class(), ErrorClass::Refused);
}

async fn destroy_forgets<M: SecurityModule>(m: &M) {
    let key = import(m, KeyAlgorithm::Tdes2, TDES2).await;
    m.destroy(&key).await.unwrap();
    assert!(matches!(
        m.destroy(&key).await,
        Err(ModuleError::UnknownKey(_))
    ));
    let zpk = import(m, KeyAlgorithm::Tdes3, TDES3_ZPK).await;
    let block = clear_tdes(TDES2)
        .seal(Format::Iso1, &pin("7580"), None, &mut rng(9))
        .unwrap();
    let err = translate(
        m,
        PinSource::Symmetric {
            key: &key,
            format: Format::Iso1,
            block: block.as_bytes(),
        },
        &zpk,
        Format::Iso0,
        Some(&pan()),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ModuleError::UnknownKey(_)));
}

async fn rsa_generation<M: SecurityModule>(m: &M) {
    let (key, public) = m
        .generate_rsa(2048, KeyPurpose::PinEncryption)
        .await
        .unwrap();
    assert_eq!(public.bits(), 2048);
    assert_eq!(
        key.check(),
        KeyCheck::Fingerprint(public.fingerprint_bytes())
    );
    assert_eq!(m.rsa_public_key(&key).await.unwrap(), public);
    assert!(matches!(
        m.generate_rsa(1024, KeyPurpose::PinEncryption).await,
        Err(ModuleError::KeyMaterial(_))
    ));
}

/// A KEK for the wrapped-key checks: this suite's own choice.
pub const KEK_AES256: &str = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F";

/// AES key wrap with padding (RFC 5649) on the host, by `aes-kw`.
fn host_kwp(kek: &[u8], input: &[u8], wrap: bool) -> Vec<u8> {
    use aes_kw::{KeyInit, KwpAes256};
    let kwp = KwpAes256::new_from_slice(kek).unwrap();
    let mut out = vec![0u8; input.len() + 16];
    let len = if wrap {
        kwp.wrap_key(input, &mut out).unwrap().len()
    } else {
        kwp.unwrap_key(input, &mut out).unwrap().len()
    };
    out.truncate(len);
    out
}

/// Keys arrive wrapped under a key-encryption key: imported, they carry the
/// check value of the key inside and work; altered, they are refused; a PIN
/// key cannot act as a KEK. Exports round-trip where the backend allows them.
async fn wrapped_keys<M: SecurityModule>(m: &M, supports: Supports) {
    let kek_bytes = unhex(KEK_AES256);
    let kek = m
        .import_symmetric(KeyAlgorithm::Aes256, KeyPurpose::KeyEncryption, &kek_bytes)
        .await
        .unwrap();

    // A 3-key ZPK wrapped on the host comes in with the sandbox KCV and translates.
    let wrapped_zpk = host_kwp(&kek_bytes, &unhex(TDES3_ZPK), true);
    let zpk = m
        .import_wrapped(
            Wrapping::AesKeyWrap { kek: &kek },
            KeyAlgorithm::Tdes3,
            KeyPurpose::PinEncryption,
            &wrapped_zpk,
        )
        .await
        .unwrap();
    assert_eq!(zpk.check().to_string(), "KCV F3BF3A");
    let tdes = import(m, KeyAlgorithm::Tdes2, TDES2).await;
    let block = clear_tdes(TDES2)
        .seal(Format::Iso1, &pin("7580"), None, &mut rng(11))
        .unwrap();
    let out = m
        .translate(&TranslatePin {
            source: PinSource::Symmetric {
                key: &tdes,
                format: Format::Iso1,
                block: block.as_bytes(),
            },
            destination: &zpk,
            format: Format::Iso0,
            pan: Some(&pan()),
            policy: None,
        })
        .await
        .unwrap();
    let opened = clear_tdes(TDES3_ZPK)
        .open(Format::Iso0, out.as_bytes(), Some(&pan()))
        .unwrap();
    assert_eq!(opened.expose_digits(), b"7580");

    // One flipped bit anywhere: the unwrap's integrity check refuses it.
    let mut altered = wrapped_zpk.clone();
    altered[5] ^= 0x01;
    let e = m
        .import_wrapped(
            Wrapping::AesKeyWrap { kek: &kek },
            KeyAlgorithm::Tdes3,
            KeyPurpose::PinEncryption,
            &altered,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::WrappedKeyIntegrity), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Refused);

    // A PIN key is no KEK, whatever its algorithm.
    let e = m
        .import_wrapped(
            Wrapping::AesKeyWrap { kek: &zpk },
            KeyAlgorithm::Tdes3,
            KeyPurpose::PinEncryption,
            &wrapped_zpk,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::WrongPurpose { .. }), "{e:?}");

    // An RSA private key wrapped as PKCS#8 comes in under its own fingerprint.
    let wrapped_rsa = host_kwp(&kek_bytes, RSA2048_PKCS8, true);
    let rsa_key = m
        .import_wrapped(
            Wrapping::AesKeyWrap { kek: &kek },
            KeyAlgorithm::Rsa { bits: 2048 },
            KeyPurpose::PinEncryption,
            &wrapped_rsa,
        )
        .await
        .unwrap();
    let public = RsaPrivateKey::from_der(RSA2048_PKCS8).unwrap().public_key();
    assert_eq!(
        rsa_key.check(),
        KeyCheck::Fingerprint(public.fingerprint_bytes())
    );
    assert_eq!(m.rsa_public_key(&rsa_key).await.unwrap(), public);
    let e = m
        .import_wrapped(
            Wrapping::AesKeyWrap { kek: &kek },
            KeyAlgorithm::Rsa { bits: 3072 },
            KeyPurpose::PinEncryption,
            &wrapped_rsa,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::KeyMaterial(_)), "{e:?}");

    // A session key a device drew and sent under the issuer's RSA
    // key-transport key comes in as a handle with its own KCV.
    let transport = m
        .import_rsa_private(KeyPurpose::KeyEncryption, RSA2048_PKCS8)
        .await
        .unwrap();
    let sent = public
        .wrap_key(
            &TdesKey::new(&unhex(TDES2)).unwrap(),
            supports.tzpk_padding,
            &mut rng(12),
        )
        .unwrap();
    let session = m
        .import_wrapped(
            Wrapping::Rsa {
                key: &transport,
                padding: supports.tzpk_padding,
            },
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinEncryption,
            &sent,
        )
        .await
        .unwrap();
    assert_eq!(session.check().to_string(), "KCV 08D7B4");
    // Altered, it is the one integrity error; a PIN key is no transport key.
    let mut altered = sent.clone();
    altered[17] ^= 0x80;
    let e = m
        .import_wrapped(
            Wrapping::Rsa {
                key: &transport,
                padding: supports.tzpk_padding,
            },
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinEncryption,
            &altered,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::WrappedKeyIntegrity), "{e:?}");
    let e = m
        .import_wrapped(
            Wrapping::Rsa {
                key: &rsa_key,
                padding: supports.tzpk_padding,
            },
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinEncryption,
            &sent,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ModuleError::WrongPurpose { .. }), "{e:?}");

    let exported = m.export_wrapped(&zpk, &kek).await;
    if supports.export_wrapped {
        // The host unwraps exactly the key, and the module reads its own export.
        let exported = exported.unwrap();
        assert_eq!(host_kwp(&kek_bytes, &exported, false), unhex(TDES3_ZPK));
        let again = m
            .import_wrapped(
                Wrapping::AesKeyWrap { kek: &kek },
                KeyAlgorithm::Tdes3,
                KeyPurpose::PinEncryption,
                &exported,
            )
            .await
            .unwrap();
        assert_eq!(again.check(), zpk.check());
        let rsa_export = m.export_wrapped(&rsa_key, &kek).await.unwrap();
        let der = host_kwp(&kek_bytes, &rsa_export, false);
        assert_eq!(
            RsaPrivateKey::from_der(&der).unwrap().public_key(),
            public,
            "the export is the same RSA key"
        );
    } else {
        assert_eq!(exported.unwrap_err().class(), ErrorClass::Unsupported);
    }
}
