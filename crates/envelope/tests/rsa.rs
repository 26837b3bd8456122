//! RSA interop with an independent implementation, OpenSSL 3.0.
//!
//! Every fixture under `tests/data/` was made by the `openssl` commands listed
//! in `tests/data/README.md`; no test runs `openssl`. The other direction
//! (pinset encrypts, OpenSSL decrypts) is `tests/interop/rsa_openssl.sh`,
//! fed by the ignored test [`write_cryptograms_for_openssl`].

#![cfg(feature = "rsa")]
// Tests fail loudly on a bad fixture; that is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::LazyLock;

use ::rsa::pkcs8::DecodePrivateKey as _;
use ::rsa::traits::{PrivateKeyParts, PublicKeyParts};
use chacha20::ChaCha20Rng;
use pinset_block::{Format, Pin};
use pinset_envelope::rsa::{MIN_RSA_BITS, open, unwrap_aes_key, unwrap_tdes_key};
use pinset_envelope::{
    AesKey, Error, RsaDecryptor, RsaPadding, RsaPrivateKey, RsaPublicKey, TdesKey, Undecryptable,
};
use proptest::prelude::*;
use rand_core::{Rng, SeedableRng};

/// Where the fixtures come from; every test below names it.
const SOURCE: &str = "OpenSSL 3.0 pkeyutl, see tests/data/README.md";

// Keys: OpenSSL 3.0 pkey/rsa/pkcs8/genpkey, see tests/data/README.md.
const RSA2048_PKCS8_PEM: &str = include_str!("data/rsa2048.pem");
const RSA2048_PKCS8_DER: &[u8] = include_bytes!("data/rsa2048_pkcs8.der");
const RSA2048_PKCS1_PEM: &str = include_str!("data/rsa2048_pkcs1.pem");
const RSA2048_PKCS1_DER: &[u8] = include_bytes!("data/rsa2048_pkcs1.der");
const RSA2048_PUB_SPKI_PEM: &str = include_str!("data/rsa2048_pub_spki.pem");
const RSA2048_PUB_SPKI_DER: &[u8] = include_bytes!("data/rsa2048_pub_spki.der");
const RSA2048_PUB_PKCS1_PEM: &str = include_str!("data/rsa2048_pub_pkcs1.pem");
const RSA2048_PUB_PKCS1_DER: &[u8] = include_bytes!("data/rsa2048_pub_pkcs1.der");
const RSA2048_PUB_SPKI_HEX: &str = include_str!("data/rsa2048_pub_spki.hex");
const RSA2048_PUB_SPKI_B64: &str = include_str!("data/rsa2048_pub_spki.b64");
const RSA2048_OTHER_PEM: &str = include_str!("data/rsa2048_other.pem");
const RSA3072_PEM: &str = include_str!("data/rsa3072.pem");
const RSA2047_PEM: &str = include_str!("data/rsa2047.pem");
const RSA1024_PEM: &str = include_str!("data/rsa1024.pem");
const RSA1024_PUB_SPKI_PEM: &str = include_str!("data/rsa1024_pub_spki.pem");

// Cryptograms: OpenSSL 3.0 pkeyutl -encrypt, see tests/data/README.md.
const CLEAR_ISO1_PIN1234: &[u8] = include_bytes!("data/iso1_pin1234.bin");
const CT_OAEP_SHA256: &[u8] = include_bytes!("data/iso1_pin1234_oaep_sha256.bin");
const CT_OAEP_SHA1: &[u8] = include_bytes!("data/iso1_pin1234_oaep_sha1.bin");
const CT_PKCS1V15: &[u8] = include_bytes!("data/iso1_pin1234_pkcs1v15.bin");
const TDES_KEY: &[u8] = include_bytes!("data/tdes_key.bin");
const TDES_KEY_HEX: &str = "5AFE406A9BEF03F979DC56FB8DA06BDF";
const TDES_KEY_KCV: &str = "4A997A";
const TDES_WRAPPED_OAEP_SHA256: &[u8] = include_bytes!("data/tdes_key_oaep_sha256.bin");

static KEY: LazyLock<RsaPrivateKey> =
    LazyLock::new(|| RsaPrivateKey::from_pem(RSA2048_PKCS8_PEM).unwrap());

fn key() -> &'static RsaPrivateKey {
    &KEY
}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn pin1234() -> Pin {
    Pin::new("1234").unwrap()
}

/// The OpenSSL cryptogram of `141234AAAAAAAAAA` under each padding.
fn openssl_cryptograms() -> [(RsaPadding, &'static [u8]); 3] {
    [
        (RsaPadding::OaepSha256, CT_OAEP_SHA256),
        (RsaPadding::OaepSha1, CT_OAEP_SHA1),
        (RsaPadding::Pkcs1v15, CT_PKCS1V15),
    ]
}

/// The bare `rsa` crate's public key for the 2048 fixture, to encrypt
/// payloads pinset's API will not (8 arbitrary bytes).
fn bare_public() -> ::rsa::RsaPublicKey {
    ::rsa::RsaPrivateKey::from_pkcs8_pem(RSA2048_PKCS8_PEM)
        .unwrap()
        .to_public_key()
}

fn bare_encrypt(padding: RsaPadding, msg: &[u8], rng: &mut ChaCha20Rng) -> Vec<u8> {
    let public = bare_public();
    match padding {
        RsaPadding::OaepSha256 => public.encrypt(rng, ::rsa::Oaep::<sha2::Sha256>::new(), msg),
        RsaPadding::OaepSha1 => public.encrypt(rng, ::rsa::Oaep::<sha1::Sha1>::new(), msg),
        RsaPadding::Pkcs1v15 => public.encrypt(rng, ::rsa::Pkcs1v15Encrypt, msg),
    }
    .unwrap()
}

/// The same text with Windows line endings, as keys downloaded from a portal often come.
fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

#[test]
fn fixtures_are_what_the_readme_says() {
    // OpenSSL 3.0 pkeyutl, see tests/data/README.md
    assert_eq!(
        hex::encode_upper(CLEAR_ISO1_PIN1234),
        "141234AAAAAAAAAA",
        "{SOURCE}"
    );
    assert_eq!(hex::encode_upper(TDES_KEY), TDES_KEY_HEX, "{SOURCE}");
    for (padding, ct) in openssl_cryptograms() {
        assert_eq!(ct.len(), 256, "{padding}: {SOURCE}");
    }
    assert_eq!(TDES_WRAPPED_OAEP_SHA256.len(), 256, "{SOURCE}");
}

#[test]
fn every_key_encoding_parses_to_the_same_key() {
    // OpenSSL 3.0 pkey/rsa/pkcs8, see tests/data/README.md
    let reference = key().public_key();
    assert_eq!(reference.bits(), 2048);

    let privates = [
        ("PKCS#8 PEM", RsaPrivateKey::from_pem(RSA2048_PKCS8_PEM)),
        ("PKCS#8 DER", RsaPrivateKey::from_der(RSA2048_PKCS8_DER)),
        ("PKCS#1 PEM", RsaPrivateKey::from_pem(RSA2048_PKCS1_PEM)),
        ("PKCS#1 DER", RsaPrivateKey::from_der(RSA2048_PKCS1_DER)),
        (
            "PKCS#8 PEM, parse",
            RsaPrivateKey::parse(RSA2048_PKCS8_PEM.as_bytes()),
        ),
        ("PKCS#8 DER, parse", RsaPrivateKey::parse(RSA2048_PKCS8_DER)),
        (
            "PKCS#1 PEM, parse",
            RsaPrivateKey::parse(RSA2048_PKCS1_PEM.as_bytes()),
        ),
        ("PKCS#1 DER, parse", RsaPrivateKey::parse(RSA2048_PKCS1_DER)),
        (
            "PKCS#8 PEM, CRLF",
            RsaPrivateKey::from_pem(&crlf(RSA2048_PKCS8_PEM)),
        ),
        (
            "PKCS#1 PEM, CRLF",
            RsaPrivateKey::from_pem(&crlf(RSA2048_PKCS1_PEM)),
        ),
    ];
    let reference_pkcs8 = key().to_pkcs8_der().unwrap();
    for (name, parsed) in privates {
        let parsed = parsed.unwrap_or_else(|e| panic!("private {name}: {e} ({SOURCE})"));
        assert_eq!(parsed.public_key(), reference, "private {name}");
        assert_eq!(
            *parsed.to_pkcs8_der().unwrap(),
            *reference_pkcs8,
            "private {name}"
        );
    }
    // Our PKCS#8 DER is byte for byte OpenSSL's.
    assert_eq!(&**reference_pkcs8, RSA2048_PKCS8_DER);

    let spaced_b64 = RSA2048_PUB_SPKI_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("\n");
    let publics = [
        ("SPKI PEM", RsaPublicKey::from_pem(RSA2048_PUB_SPKI_PEM)),
        ("SPKI DER", RsaPublicKey::from_der(RSA2048_PUB_SPKI_DER)),
        ("PKCS#1 PEM", RsaPublicKey::from_pem(RSA2048_PUB_PKCS1_PEM)),
        ("PKCS#1 DER", RsaPublicKey::from_der(RSA2048_PUB_PKCS1_DER)),
        ("hex (MP)", RsaPublicKey::from_hex(RSA2048_PUB_SPKI_HEX)),
        (
            "hex, lowercase",
            RsaPublicKey::from_hex(&RSA2048_PUB_SPKI_HEX.to_lowercase()),
        ),
        (
            "base64 (Enfuce)",
            RsaPublicKey::from_base64(RSA2048_PUB_SPKI_B64),
        ),
        (
            "base64, PEM body with line breaks",
            RsaPublicKey::from_base64(&spaced_b64),
        ),
        (
            "SPKI PEM, parse",
            RsaPublicKey::parse(RSA2048_PUB_SPKI_PEM.as_bytes()),
        ),
        ("SPKI DER, parse", RsaPublicKey::parse(RSA2048_PUB_SPKI_DER)),
        (
            "PKCS#1 PEM, parse",
            RsaPublicKey::parse(RSA2048_PUB_PKCS1_PEM.as_bytes()),
        ),
        (
            "PKCS#1 DER, parse",
            RsaPublicKey::parse(RSA2048_PUB_PKCS1_DER),
        ),
        (
            "hex, parse",
            RsaPublicKey::parse(RSA2048_PUB_SPKI_HEX.as_bytes()),
        ),
        (
            "base64, parse",
            RsaPublicKey::parse(RSA2048_PUB_SPKI_B64.as_bytes()),
        ),
        (
            "SPKI PEM, CRLF",
            RsaPublicKey::from_pem(&crlf(RSA2048_PUB_SPKI_PEM)),
        ),
        (
            "PKCS#1 PEM, CRLF",
            RsaPublicKey::from_pem(&crlf(RSA2048_PUB_PKCS1_PEM)),
        ),
        (
            "base64, CRLF",
            RsaPublicKey::from_base64(&crlf(&spaced_b64)),
        ),
        (
            "hex, CRLF",
            RsaPublicKey::from_hex(&crlf(RSA2048_PUB_SPKI_HEX)),
        ),
    ];
    for (name, parsed) in publics {
        let parsed = parsed.unwrap_or_else(|e| panic!("public {name}: {e} ({SOURCE})"));
        assert_eq!(parsed, reference, "public {name}");
        assert_eq!(
            parsed.fingerprint(),
            reference.fingerprint(),
            "public {name}"
        );
    }

    // And our encodings are byte for byte OpenSSL's.
    assert_eq!(reference.to_der(), RSA2048_PUB_SPKI_DER);
    assert_eq!(reference.to_pem(), RSA2048_PUB_SPKI_PEM);
    assert_eq!(reference.to_hex(), RSA2048_PUB_SPKI_HEX.trim());
    assert_eq!(reference.to_base64(), RSA2048_PUB_SPKI_B64.trim());
}

#[test]
fn other_sizes_accepted_in_range() {
    // Existing fixture rsa3072.pem, see tests/data/README.md
    let k = RsaPrivateKey::from_pem(RSA3072_PEM).unwrap();
    assert_eq!(k.bits(), 3072);
    assert_eq!(k.public_key().bits(), 3072);
}

#[test]
fn key_of_1024_bits_is_refused_with_key_size() {
    // Existing fixture rsa1024.pem; its public key by OpenSSL 3.0 pkey, see tests/data/README.md
    let size = Error::RsaKeySize { bits: 1024 };
    assert_eq!(
        RsaPrivateKey::from_pem(RSA1024_PEM).unwrap_err(),
        size,
        "{SOURCE}"
    );
    assert_eq!(
        RsaPrivateKey::parse(RSA1024_PEM.as_bytes()).unwrap_err(),
        size
    );
    assert_eq!(
        RsaPublicKey::from_pem(RSA1024_PUB_SPKI_PEM).unwrap_err(),
        size
    );
    assert_eq!(
        RsaPublicKey::parse(RSA1024_PUB_SPKI_PEM.as_bytes()).unwrap_err(),
        size
    );
    let der = ::rsa::RsaPrivateKey::from_pkcs8_pem(RSA1024_PEM).unwrap();
    let spki = ::rsa::pkcs8::EncodePublicKey::to_public_key_der(&der.to_public_key()).unwrap();
    assert_eq!(RsaPublicKey::from_der(spki.as_bytes()).unwrap_err(), size);
    assert_eq!(
        RsaPublicKey::from_hex(&hex::encode_upper(spki.as_bytes())).unwrap_err(),
        size
    );
}

#[test]
fn key_of_2047_bits_is_refused_with_key_size() {
    // OpenSSL 3.0 genpkey rsa_keygen_bits:2047, see tests/data/README.md.
    // 256 bytes of modulus, but one bit short of 2048.
    let err = RsaPrivateKey::from_pem(RSA2047_PEM).unwrap_err();
    assert_eq!(err, Error::RsaKeySize { bits: 2047 }, "{SOURCE}");
    let bare = ::rsa::RsaPrivateKey::from_pkcs8_pem(RSA2047_PEM).unwrap();
    assert_eq!(bare.size(), 256);
    let spki = ::rsa::pkcs8::EncodePublicKey::to_public_key_der(&bare.to_public_key()).unwrap();
    assert_eq!(
        RsaPublicKey::from_der(spki.as_bytes()).unwrap_err(),
        Error::RsaKeySize { bits: 2047 }
    );
    assert_eq!(
        err,
        Error::RsaKeySize {
            bits: MIN_RSA_BITS - 1
        }
    );
}

#[test]
fn garbage_is_refused_with_key_encoding() {
    // Corruptions of OpenSSL 3.0 pkey output, see tests/data/README.md
    let mut truncated_der = RSA2048_PUB_SPKI_DER.to_vec();
    truncated_der.truncate(200);
    let mut bad_tag = RSA2048_PUB_SPKI_DER.to_vec();
    bad_tag[0] = 0x31;
    let corrupt_pem = RSA2048_PUB_SPKI_PEM.replacen("MIIB", "MIIC", 1);
    let garbage: [&[u8]; 12] = [
        b"",
        b"   \n",
        b"hello, world",
        b"-----BEGIN PUBLIC KEY-----\nnot base64!\n-----END PUBLIC KEY-----\n",
        corrupt_pem.as_bytes(),
        &truncated_der,
        &bad_tag,
        b"30820122300D",
        b"DEADBEEFZZ",
        b"MIIgarbage==",
        &[0x30, 0x82, 0xFF, 0xFF, 0x00],
        &[0xFF; 64],
    ];
    for (i, bytes) in garbage.iter().enumerate() {
        assert_eq!(
            RsaPublicKey::parse(bytes),
            Err(Error::RsaKeyEncoding),
            "public garbage #{i}"
        );
        assert_eq!(
            RsaPrivateKey::parse(bytes).unwrap_err(),
            Error::RsaKeyEncoding,
            "private garbage #{i}"
        );
        assert_eq!(
            RsaPublicKey::from_der(bytes),
            Err(Error::RsaKeyEncoding),
            "#{i}"
        );
        assert_eq!(
            RsaPrivateKey::from_der(bytes).unwrap_err(),
            Error::RsaKeyEncoding,
            "#{i}"
        );
    }
    for text in ["", "0x3082", "30 82 01", "G0", "MII!", "====", "MIIBIjAN"] {
        assert_eq!(
            RsaPublicKey::from_hex(text),
            Err(Error::RsaKeyEncoding),
            "hex {text:?}"
        );
        assert_eq!(
            RsaPublicKey::from_base64(text),
            Err(Error::RsaKeyEncoding),
            "b64 {text:?}"
        );
        assert_eq!(
            RsaPublicKey::from_pem(text),
            Err(Error::RsaKeyEncoding),
            "pem {text:?}"
        );
    }
    // A key of the wrong kind is garbage too: public where private is wanted and back.
    assert_eq!(
        RsaPrivateKey::from_pem(RSA2048_PUB_SPKI_PEM).unwrap_err(),
        Error::RsaKeyEncoding
    );
    assert_eq!(
        RsaPrivateKey::from_der(RSA2048_PUB_PKCS1_DER).unwrap_err(),
        Error::RsaKeyEncoding
    );
    assert_eq!(
        RsaPublicKey::from_pem(RSA2048_PKCS8_PEM),
        Err(Error::RsaKeyEncoding)
    );
    assert_eq!(
        RsaPublicKey::from_pem(RSA2048_PKCS1_PEM),
        Err(Error::RsaKeyEncoding)
    );
}

#[test]
fn openssl_cryptograms_open_for_every_padding() {
    // OpenSSL 3.0 pkeyutl, see tests/data/README.md
    for (padding, ct) in openssl_cryptograms() {
        let clear = key().decrypt(padding, ct).unwrap();
        assert_eq!(&clear[..], CLEAR_ISO1_PIN1234, "{padding}: {SOURCE}");
        let pin = open(key(), padding, Format::Iso1, ct, None)
            .unwrap_or_else(|e| panic!("{padding}: {e} ({SOURCE})"));
        assert_eq!(pin.expose_digits(), b"1234", "{padding}: {SOURCE}");
        assert_eq!(pin, pin1234());
        // Through the provider seam as a trait object, as an HSM backend would be.
        let dyn_key: &dyn RsaDecryptor = key();
        assert_eq!(
            open(dyn_key, padding, Format::Iso1, ct, None).unwrap(),
            pin1234()
        );
    }
}

#[test]
fn openssl_wrapped_tdes_key_unwraps() {
    // OpenSSL 3.0 pkeyutl (OAEP-SHA256/MGF1-SHA256) and enc -des-ede for the KCV, see tests/data/README.md
    let tdes = unwrap_tdes_key(key(), RsaPadding::OaepSha256, TDES_WRAPPED_OAEP_SHA256)
        .unwrap_or_else(|e| panic!("{e} ({SOURCE})"));
    assert_eq!(tdes.len(), 16);
    assert_eq!(
        hex::encode_upper(tdes.expose_bytes()),
        TDES_KEY_HEX,
        "{SOURCE}"
    );
    assert_eq!(tdes.kcv().to_string(), TDES_KEY_KCV, "{SOURCE}");
    // The same 16 bytes read as AES-128 are a different key with its own CMAC KCV.
    let aes = unwrap_aes_key(key(), RsaPadding::OaepSha256, TDES_WRAPPED_OAEP_SHA256).unwrap();
    assert_eq!(aes.expose_bytes(), TDES_KEY);
    // Under the wrong padding or key it does not unwrap.
    assert_eq!(
        unwrap_tdes_key(key(), RsaPadding::OaepSha1, TDES_WRAPPED_OAEP_SHA256).unwrap_err(),
        Error::RsaDecryption
    );
    let other = RsaPrivateKey::from_pem(RSA2048_OTHER_PEM).unwrap();
    assert_eq!(
        unwrap_tdes_key(&other, RsaPadding::OaepSha256, TDES_WRAPPED_OAEP_SHA256).unwrap_err(),
        Error::RsaDecryption
    );
}

#[test]
fn our_seal_round_trips_for_every_padding() {
    // Our own output; its independent check is tests/interop/rsa_openssl.sh (OpenSSL 3.0 pkeyutl)
    let mut rng = rng(1);
    let k3072 = RsaPrivateKey::from_pem(RSA3072_PEM).unwrap();
    for padding in RsaPadding::ALL {
        for (k, len) in [(key(), 256), (&k3072, 384)] {
            for digits in ["1234", "0000", "987654321012"] {
                let pin = Pin::new(digits).unwrap();
                let ct = k
                    .public_key()
                    .seal(Format::Iso1, &pin, None, padding, &mut rng)
                    .unwrap();
                assert_eq!(ct.len(), len);
                let clear = k.decrypt(padding, &ct).unwrap();
                assert_eq!(clear.len(), 8);
                assert_eq!(clear[0] >> 4, 1, "control field of format 1");
                assert_eq!(usize::from(clear[0] & 0x0F), digits.len());
                assert_eq!(open(k, padding, Format::Iso1, &ct, None).unwrap(), pin);
            }
        }
        // Randomised: the same PIN never gives the same cryptogram twice.
        let a = key()
            .public_key()
            .seal(Format::Iso1, &pin1234(), None, padding, &mut rng);
        let b = key()
            .public_key()
            .seal(Format::Iso1, &pin1234(), None, padding, &mut rng);
        assert_ne!(a.unwrap(), b.unwrap());
    }
}

#[test]
fn our_wrap_round_trips_for_every_padding() {
    // Our own output; its independent check is tests/interop/rsa_openssl.sh (OpenSSL 3.0 pkeyutl)
    let mut rng = rng(2);
    let public = key().public_key();
    for padding in RsaPadding::ALL {
        for len in [16, 24] {
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            let tdes = TdesKey::new(&bytes).unwrap();
            let wrapped = public.wrap_key(&tdes, padding, &mut rng).unwrap();
            assert_eq!(wrapped.len(), 256);
            let back = unwrap_tdes_key(key(), padding, &wrapped).unwrap();
            assert_eq!(
                back.expose_bytes(),
                tdes.expose_bytes(),
                "{padding}, TDES {len}"
            );
            assert_eq!(back.kcv(), tdes.kcv());
        }
        for len in [16, 24, 32] {
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            let aes = AesKey::new(&bytes).unwrap();
            let wrapped = public.wrap_key(&aes, padding, &mut rng).unwrap();
            let back = unwrap_aes_key(key(), padding, &wrapped).unwrap();
            assert_eq!(
                back.expose_bytes(),
                aes.expose_bytes(),
                "{padding}, AES {len}"
            );
            assert_eq!(back.kcv(), aes.kcv());
        }
        // The OpenSSL TDES key, wrapped by us, comes back with the KCV OpenSSL gave.
        let tdes = TdesKey::new(TDES_KEY).unwrap();
        let wrapped = public.wrap_key(&tdes, padding, &mut rng).unwrap();
        let back = unwrap_tdes_key(key(), padding, &wrapped).unwrap();
        assert_eq!(back.kcv().to_string(), TDES_KEY_KCV, "{padding}: {SOURCE}");
    }
}

/// Every way to hand the issuer a cryptogram it must not accept, each with
/// the padding to open it under and the key to open it with.
fn bad_cryptograms() -> Vec<(String, RsaPadding, &'static RsaPrivateKey, Vec<u8>)> {
    static OTHER: LazyLock<RsaPrivateKey> =
        LazyLock::new(|| RsaPrivateKey::from_pem(RSA2048_OTHER_PEM).unwrap());
    let mut rng = rng(3);
    let mut cases = Vec::new();
    for (padding, ct) in openssl_cryptograms() {
        for wrong in RsaPadding::ALL.into_iter().filter(|p| *p != padding) {
            cases.push((
                format!("{padding} opened as {wrong}"),
                wrong,
                key(),
                ct.to_vec(),
            ));
        }
        cases.push((
            format!("{padding}, wrong key"),
            padding,
            &*OTHER,
            ct.to_vec(),
        ));
        for at in [0, 1, 100, 254, 255] {
            let mut t = ct.to_vec();
            t[at] ^= 0x01;
            cases.push((
                format!("{padding}, bit flipped in byte {at}"),
                padding,
                key(),
                t,
            ));
        }
        for len in [0, 1, 8, 128, 255] {
            cases.push((
                format!("{padding}, truncated to {len}"),
                padding,
                key(),
                ct[..len].to_vec(),
            ));
        }
        let mut long = ct.to_vec();
        long.push(0);
        cases.push((
            format!("{padding}, one byte too long"),
            padding,
            key(),
            long,
        ));
        cases.push((format!("{padding}, all zero"), padding, key(), vec![0; 256]));
        cases.push((
            format!("{padding}, all FF"),
            padding,
            key(),
            vec![0xFF; 256],
        ));

        // Well-formed cryptograms of payloads that are not a format 1 PIN block.
        let mut random8 = [0u8; 8];
        rng.fill_bytes(&mut random8);
        random8[0] = (random8[0] & 0x0F) | 0xD0; // control nibble D: never a PIN block
        cases.push((
            format!("{padding}, 8 random bytes"),
            padding,
            key(),
            bare_encrypt(padding, &random8, &mut rng),
        ));
        // Format 0-shaped block (control 0) where format 1 is expected.
        cases.push((
            format!("{padding}, format 0 block"),
            padding,
            key(),
            bare_encrypt(padding, &hex::decode("041234FFFFFFFFFF").unwrap(), &mut rng),
        ));
        // Format 1 shape with a non-decimal PIN digit.
        cases.push((
            format!("{padding}, format 1 with a non-digit"),
            padding,
            key(),
            bare_encrypt(padding, &hex::decode("1412A4AAAAAAAAAA").unwrap(), &mut rng),
        ));
        cases.push((
            format!("{padding}, 7 bytes"),
            padding,
            key(),
            bare_encrypt(padding, &CLEAR_ISO1_PIN1234[..7], &mut rng),
        ));
        let tdes = TdesKey::new(TDES_KEY).unwrap();
        cases.push((
            format!("{padding}, 16-byte wrapped key"),
            padding,
            key(),
            key()
                .public_key()
                .wrap_key(&tdes, padding, &mut rng)
                .unwrap(),
        ));
    }
    cases.push((
        "OpenSSL-wrapped 16-byte TDES key opened as a PIN block".into(),
        RsaPadding::OaepSha256,
        key(),
        TDES_WRAPPED_OAEP_SHA256.to_vec(),
    ));
    // A cryptogram under the 3072 key, opened with the 2048 key.
    let k3072 = RsaPrivateKey::from_pem(RSA3072_PEM).unwrap();
    let ct3072 = k3072
        .public_key()
        .seal(
            Format::Iso1,
            &pin1234(),
            None,
            RsaPadding::OaepSha256,
            &mut rng,
        )
        .unwrap();
    cases.push((
        "3072-bit cryptogram, 2048 key".into(),
        RsaPadding::OaepSha256,
        key(),
        ct3072,
    ));
    cases
}

#[test]
fn every_bad_cryptogram_fails_with_the_same_outward_error() {
    // Variations on OpenSSL 3.0 pkeyutl cryptograms, see tests/data/README.md
    let cases = bad_cryptograms();
    assert!(cases.len() > 60);
    let mut kinds = BTreeSet::new();
    let mut outward = BTreeSet::new();
    for (name, padding, k, ct) in &cases {
        let err = match open(*k, *padding, Format::Iso1, ct, None) {
            Ok(_) => panic!("{name}: opened ({SOURCE})"),
            Err(e) => e,
        };
        // The detail is one of the three decrypt-and-decode failures, never anything else...
        match err {
            Error::RsaDecryption => kinds.insert("RsaDecryption"),
            Error::PlaintextLength { expected: 8, .. } => kinds.insert("PlaintextLength"),
            Error::Block(_) => kinds.insert("Block"),
            other => panic!("{name}: unexpected error {other:?}"),
        };
        // ...and all of them look the same from outside.
        assert_eq!(err.outward(), Undecryptable, "{name}");
        outward.insert(err.outward().to_string());
    }
    // The failures really come from different layers, yet fold into one answer.
    assert_eq!(
        kinds,
        BTreeSet::from(["Block", "PlaintextLength", "RsaDecryption"]),
        "{SOURCE}"
    );
    assert_eq!(outward.len(), 1, "{outward:?}");
}

#[test]
fn pkcs1v15_tampered_cryptogram_fails_at_the_pin_block_decode() {
    // OpenSSL 3.0 pkeyutl rsa_padding_mode:pkcs1, see tests/data/README.md.
    // Implicit rejection: a bad PKCS#1 v1.5 padding decrypts to a synthetic
    // plaintext, not an error, so the PIN-block decode must be what refuses it.
    for at in [0, 1, 17, 100, 200, 255] {
        let mut tampered = CT_PKCS1V15.to_vec();
        tampered[at] ^= 0x80;
        let synthetic = key()
            .decrypt(RsaPadding::Pkcs1v15, &tampered)
            .unwrap_or_else(|e| panic!("byte {at}: {e}: implicit rejection gives no error"));
        assert_ne!(&synthetic[..], CLEAR_ISO1_PIN1234, "byte {at}");
        // Deterministic: the same cryptogram, the same synthetic plaintext (blinding aside).
        assert_eq!(
            synthetic,
            key().decrypt(RsaPadding::Pkcs1v15, &tampered).unwrap()
        );
        let err = open(key(), RsaPadding::Pkcs1v15, Format::Iso1, &tampered, None).unwrap_err();
        assert!(
            matches!(err, Error::PlaintextLength { .. } | Error::Block(_)),
            "byte {at}: {err:?} ({SOURCE})"
        );
        assert_eq!(err.outward(), Undecryptable);
    }
    // An OAEP cryptogram under PKCS#1 v1.5 is implicitly rejected the same way.
    for ct in [CT_OAEP_SHA256, CT_OAEP_SHA1] {
        assert!(key().decrypt(RsaPadding::Pkcs1v15, ct).is_ok());
        let err = open(key(), RsaPadding::Pkcs1v15, Format::Iso1, ct, None).unwrap_err();
        assert!(
            matches!(err, Error::PlaintextLength { .. } | Error::Block(_)),
            "{err:?}"
        );
    }
}

#[test]
fn debug_of_keys_never_shows_key_material() {
    // Key material from OpenSSL 3.0's fixtures, read by the bare `rsa` crate, see tests/data/README.md
    let bare = ::rsa::RsaPrivateKey::from_pkcs8_pem(RSA2048_PKCS8_PEM).unwrap();
    let mut secrets: Vec<String> = Vec::new();
    let mut numbers = vec![bare.d().to_be_bytes_trimmed_vartime(), bare.n_bytes()];
    for p in bare.primes() {
        numbers.push(p.to_be_bytes_trimmed_vartime());
    }
    for n in &numbers {
        // Any 8-byte window of a secret number, in either hex case, and its first bytes.
        for chunk in n.chunks(8).filter(|c| c.len() == 8) {
            secrets.push(hex::encode_upper(chunk));
            secrets.push(hex::encode(chunk));
        }
    }
    // PEM bodies of every private and public encoding, line by line.
    for pem in [
        RSA2048_PKCS8_PEM,
        RSA2048_PKCS1_PEM,
        RSA2048_PUB_SPKI_PEM,
        RSA2048_PUB_PKCS1_PEM,
    ] {
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            secrets.push(line[..line.len().min(24)].to_string());
        }
    }
    for chunk in RSA2048_PUB_SPKI_HEX.trim().as_bytes().chunks(16) {
        secrets.push(String::from_utf8(chunk.to_vec()).unwrap());
    }

    let private = key();
    let public = private.public_key();
    let tdes = unwrap_tdes_key(private, RsaPadding::OaepSha256, TDES_WRAPPED_OAEP_SHA256).unwrap();
    let shown = [
        format!("{private:?}"),
        format!("{private:#?}"),
        format!("{public:?}"),
        format!("{public:#?}"),
        format!("{tdes:?}"),
        format!("{:?}", RsaPrivateKey::from_pem(RSA2048_PKCS1_PEM).unwrap()),
    ];
    for s in &shown {
        for secret in &secrets {
            assert!(!s.contains(secret.as_str()), "Debug {s:?} shows {secret:?}");
        }
        assert!(
            !s.contains(TDES_KEY_HEX) && !s.contains(&TDES_KEY_HEX.to_lowercase()),
            "{s}"
        );
    }
    // What it does show: the size and the public fingerprint.
    assert!(
        shown[0].starts_with("RsaPrivateKey { bits: 2048, fingerprint: "),
        "{}",
        shown[0]
    );
    assert!(shown[0].contains(&public.fingerprint()));
    assert_eq!(
        shown[2],
        format!(
            "RsaPublicKey {{ bits: 2048, fingerprint: {:?} }}",
            public.fingerprint()
        )
    );
    assert_eq!(
        shown[4],
        format!("TdesKey {{ len: 16, kcv: Kcv({TDES_KEY_KCV}) }}")
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn open_never_panics_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        padding in prop::sample::select(RsaPadding::ALL.to_vec()),
    ) {
        // Arbitrary input; the 256-byte case is the one that reaches the RSA operation.
        for ct in [&bytes[..], &bytes[..bytes.len().min(256)]] {
            if let Err(e) = open(key(), padding, Format::Iso1, ct, None) {
                prop_assert_eq!(e.outward(), Undecryptable);
            }
            let _ = unwrap_tdes_key(key(), padding, ct);
        }
        let mut full = bytes.clone();
        full.resize(256, 0x5A);
        let _ = open(key(), padding, Format::Iso1, &full, None);
    }

    #[test]
    fn key_parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = RsaPublicKey::parse(&bytes);
        let _ = RsaPrivateKey::parse(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = RsaPublicKey::from_hex(&text);
        let _ = RsaPublicKey::from_base64(&text);
        let _ = RsaPublicKey::from_pem(&text);
    }
}

/// Writes our cryptograms for `tests/interop/rsa_openssl.sh`, which decrypts
/// them with OpenSSL 3.0 `pkeyutl -decrypt`. Run by the script:
/// `PINSET_RSA_OUT=DIR cargo test -p pinset-envelope --test rsa -- --ignored write_cryptograms_for_openssl`.
#[test]
#[ignore = "writes files for tests/interop/rsa_openssl.sh; needs PINSET_RSA_OUT"]
fn write_cryptograms_for_openssl() {
    let Some(dir) = std::env::var_os("PINSET_RSA_OUT") else {
        eprintln!("PINSET_RSA_OUT is not set: nothing written");
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Seeded from the clock: each run gives OpenSSL fresh cryptograms.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = rng(seed);
    let public = key().public_key();
    let mut tdes_bytes = [0u8; 16];
    rng.fill_bytes(&mut tdes_bytes);
    let tdes = TdesKey::new(&tdes_bytes).unwrap();
    std::fs::write(
        dir.join("tdes_key.hex"),
        format!("{}\n", hex::encode_upper(tdes_bytes)),
    )
    .unwrap();
    std::fs::write(dir.join("tdes_key.kcv"), format!("{}\n", tdes.kcv())).unwrap();
    for padding in RsaPadding::ALL {
        let ct = public
            .seal(Format::Iso1, &pin1234(), None, padding, &mut rng)
            .unwrap();
        std::fs::write(dir.join(format!("iso1_pin1234_{padding}.bin")), ct).unwrap();
        let wrapped = public.wrap_key(&tdes, padding, &mut rng).unwrap();
        std::fs::write(dir.join(format!("tdes_key_{padding}.bin")), wrapped).unwrap();
    }
    eprintln!("wrote 6 cryptograms to {}", dir.display());
}
