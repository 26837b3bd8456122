//! The software module on the aws-lc RSA engine against the conformance
//! suite, and aws-lc against OpenSSL's cryptograms.
#![cfg(feature = "aws-lc")]

mod conformance;

use pinset_block::{Format, Pan};
use pinset_envelope::rsa::{RsaDecryptor, RsaPrivateKey};
use pinset_envelope::{Error, PinKey, RsaPadding, TdesKey};
use pinset_module::{
    AwsLcRsaKey, KeyAlgorithm, KeyPurpose, ModuleError, PinSource, SecurityModule, SoftwareModule,
    TranslatePin,
};

/// OpenSSL 3.0.19 cryptograms of the format 1 block `141234AAAAAAAAAA` under
/// `rsa2048_pkcs8.der`; see `crates/envelope/tests/data/README.md`.
const OPENSSL_OAEP_SHA256: &[u8] =
    include_bytes!("../../envelope/tests/data/iso1_pin1234_oaep_sha256.bin");
const OPENSSL_OAEP_SHA1: &[u8] =
    include_bytes!("../../envelope/tests/data/iso1_pin1234_oaep_sha1.bin");
const OPENSSL_PKCS1V15: &[u8] =
    include_bytes!("../../envelope/tests/data/iso1_pin1234_pkcs1v15.bin");
const CLEAR_BLOCK: &[u8] = include_bytes!("../../envelope/tests/data/iso1_pin1234.bin");
const RSA2048_PKCS1: &[u8] = include_bytes!("../../envelope/tests/data/rsa2048_pkcs1.der");
const RSA2048_E3: &str = include_str!("../../envelope/tests/data/rsa2048_e3.pem");
const RSA2047: &str = include_str!("../../envelope/tests/data/rsa2047.pem");

#[test]
fn aws_lc_module_conforms() {
    let module = SoftwareModule::aws_lc_with_rng_seed([7; 32]);
    assert_eq!(module.name(), "aws-lc");
    pollster::block_on(conformance::run(
        &module,
        conformance::Supports {
            rsa_paddings: &RsaPadding::ALL,
            rsa_generation: true,
            aes: true,
            tzpk_padding: RsaPadding::OaepSha256,
            export_wrapped: true,
            pin_verification: true,
            key_blocks: true,
        },
    ));
}

#[test]
fn an_openssl_cryptogram_translates_to_format_0() {
    let module = SoftwareModule::new_aws_lc().unwrap();
    assert!(format!("{module:?}").contains("AwsLc"), "{module:?}");
    let zpk_bytes = hex::decode(conformance::TDES3_ZPK).unwrap();
    let pan = Pan::new(conformance::PAN).unwrap();
    pollster::block_on(async {
        let rsa_key = module
            .import_rsa_private(KeyPurpose::PinEncryption, conformance::RSA2048_PKCS8)
            .await
            .unwrap();
        let zpk = module
            .import_symmetric(KeyAlgorithm::Tdes3, KeyPurpose::PinEncryption, &zpk_bytes)
            .await
            .unwrap();
        for (padding, cryptogram) in [
            (RsaPadding::OaepSha256, OPENSSL_OAEP_SHA256),
            (RsaPadding::OaepSha1, OPENSSL_OAEP_SHA1),
            (RsaPadding::Pkcs1v15, OPENSSL_PKCS1V15),
        ] {
            let iso0 = module
                .translate(&TranslatePin {
                    source: PinSource::Rsa {
                        key: &rsa_key,
                        padding,
                        cryptogram,
                        format: Format::Iso1,
                    },
                    destination: &zpk,
                    format: Format::Iso0,
                    pan: Some(&pan),
                    policy: None,
                })
                .await
                .unwrap();
            let back = PinKey::from(TdesKey::new(&zpk_bytes).unwrap())
                .open(Format::Iso0, iso0.as_bytes(), Some(&pan))
                .unwrap();
            assert_eq!(back.expose_digits(), b"1234", "{padding}");
        }
    });
}

#[test]
fn aws_lc_and_rust_crypto_read_the_same_key_alike() {
    let aws = AwsLcRsaKey::from_der(conformance::RSA2048_PKCS8).unwrap();
    let from_pkcs1 = AwsLcRsaKey::from_der(RSA2048_PKCS1).unwrap();
    let rust = RsaPrivateKey::from_der(conformance::RSA2048_PKCS8).unwrap();
    assert_eq!(aws.public_key(), rust.public_key());
    assert_eq!(from_pkcs1.public_key(), rust.public_key());
    assert_eq!(aws.bits(), 2048);
    // The OAEP paddings run in aws-lc; each reads OpenSSL's cryptogram.
    for (padding, cryptogram) in [
        (RsaPadding::OaepSha256, OPENSSL_OAEP_SHA256),
        (RsaPadding::OaepSha1, OPENSSL_OAEP_SHA1),
        (RsaPadding::Pkcs1v15, OPENSSL_PKCS1V15),
    ] {
        let clear = aws.decrypt(padding, cryptogram).unwrap();
        assert_eq!(clear.as_slice(), CLEAR_BLOCK, "{padding}");
    }
    // Debug names the key by size and fingerprint, nothing more.
    assert_eq!(
        format!("{aws:?}"),
        format!(
            "AwsLcRsaKey {{ bits: 2048, fingerprint: {:?} }}",
            rust.public_key().fingerprint()
        )
    );
}

#[test]
fn every_failure_is_the_one_decryption_error() {
    let aws = AwsLcRsaKey::from_der(conformance::RSA2048_PKCS8).unwrap();
    let mut tampered = OPENSSL_OAEP_SHA256.to_vec();
    tampered[10] ^= 1;
    let cases: [(RsaPadding, &[u8]); 5] = [
        (RsaPadding::OaepSha256, &tampered),
        (RsaPadding::OaepSha256, &OPENSSL_OAEP_SHA256[1..]),
        (RsaPadding::OaepSha256, &[]),
        // Right key, wrong padding.
        (RsaPadding::OaepSha256, OPENSSL_OAEP_SHA1),
        (RsaPadding::OaepSha1, OPENSSL_OAEP_SHA256),
    ];
    for (padding, cryptogram) in cases {
        assert!(matches!(
            aws.decrypt(padding, cryptogram),
            Err(Error::RsaDecryption)
        ));
    }
    // PKCS#1 v1.5 rejects implicitly: a wrong padding is no error, and the
    // PIN-block decode after it is the check.
    let implicit = aws
        .decrypt(RsaPadding::Pkcs1v15, OPENSSL_OAEP_SHA256)
        .unwrap();
    assert_ne!(implicit.as_slice(), CLEAR_BLOCK);
}

#[test]
fn keys_outside_the_rules_are_refused_before_aws_lc_sees_them() {
    let e3 = RsaPrivateKey::from_pem(RSA2048_E3).err();
    assert!(matches!(e3, Some(Error::RsaPublicExponent)), "{e3:?}");
    let der_e3 = pem_der(RSA2048_E3);
    assert!(matches!(
        AwsLcRsaKey::from_der(&der_e3),
        Err(Error::RsaPublicExponent)
    ));
    assert!(matches!(
        AwsLcRsaKey::from_der(&pem_der(RSA2047)),
        Err(Error::RsaKeySize { bits: 2047 })
    ));
    assert!(matches!(
        AwsLcRsaKey::from_der(b"not DER"),
        Err(Error::RsaKeyEncoding)
    ));
    // aws-lc generates 2048, 3072 and 4096 of pinset's range, and no 8192.
    assert!(matches!(
        AwsLcRsaKey::generate(1024),
        Err(Error::RsaKeySize { bits: 1024 })
    ));
    assert!(matches!(
        AwsLcRsaKey::generate(8192),
        Err(Error::RsaKeySize { bits: 8192 })
    ));
    assert!(matches!(
        AwsLcRsaKey::generate(2560),
        Err(Error::RsaKeyGeneration)
    ));
    let module = SoftwareModule::aws_lc_with_rng_seed([9; 32]);
    for bits in [1024, 2560, 8192] {
        let err = pollster::block_on(module.generate_rsa(bits, KeyPurpose::PinEncryption));
        assert!(matches!(err, Err(ModuleError::KeyMaterial(_))), "{bits}");
    }
}

#[test]
fn aws_lc_generates_3072_and_4096_bit_keys() {
    for bits in [3072, 4096] {
        let key = AwsLcRsaKey::generate(bits).unwrap();
        assert_eq!(key.bits(), bits);
        let public = key.public_key();
        let cryptogram = public
            .wrap_key(
                &TdesKey::new(&hex::decode(conformance::TDES2).unwrap()).unwrap(),
                RsaPadding::OaepSha256,
                &mut <chacha20::ChaCha20Rng as rand_core::SeedableRng>::seed_from_u64(1),
            )
            .unwrap();
        let clear = key.decrypt(RsaPadding::OaepSha256, &cryptogram).unwrap();
        assert_eq!(hex::encode_upper(clear.as_slice()), conformance::TDES2);
    }
}

/// The DER inside a PEM private key.
fn pem_der(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}
