//! RSA key rules, checked on the DER before the backend parses it: the
//! modulus has 2048 to 4096 bits, and the public exponent is odd and at
//! least 65537 (NIST SP 800-56B Rev. 2, 6.2.1). Device keys arrive from
//! outside in the Enfuce flow, so each refusal is typed. Fixtures are
//! OpenSSL 3.0.19 keys (`tests/data/README.md`); the out-of-range sizes and
//! even exponents no tool will generate are encoded here with the `pkcs1`
//! crate's DER writer.

use pinset_envelope::{Error, RsaPrivateKey, RsaPublicKey};
use pkcs1::der::Encode;

const RSA512: &str = include_str!("data/rsa512.pem");
const RSA512_PUB: &str = include_str!("data/rsa512_pub_spki.pem");
const RSA2048_E3: &str = include_str!("data/rsa2048_e3.pem");
const RSA2048_E3_PUB: &[u8] = include_bytes!("data/rsa2048_e3_pub_spki.der");
const RSA2048_PUB_PKCS1: &[u8] = include_bytes!("data/rsa2048_pub_pkcs1.der");

/// PKCS#1 `RSAPublicKey` DER with this modulus and exponent (big-endian).
fn pkcs1_public(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    pkcs1::RsaPublicKeyRef {
        modulus: pkcs1::UintRef::new(modulus).unwrap(),
        public_exponent: pkcs1::UintRef::new(exponent).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// The modulus of the committed 2048-bit OpenSSL key.
fn modulus_2048() -> Vec<u8> {
    use pkcs1::der::Decode;
    let key = pkcs1::RsaPublicKeyRef::from_der(RSA2048_PUB_PKCS1).unwrap();
    key.modulus.as_bytes().to_vec()
}

#[test]
fn small_and_huge_keys_get_the_size_error() {
    assert_eq!(
        RsaPublicKey::from_pem(RSA512_PUB),
        Err(Error::RsaKeySize { bits: 512 })
    );
    assert!(matches!(
        RsaPrivateKey::from_pem(RSA512),
        Err(Error::RsaKeySize { bits: 512 })
    ));
    // 16384 bits: the backend refuses it before pinset could say why.
    let mut huge = vec![0xC5; 2048];
    huge[2047] |= 1;
    let der = pkcs1_public(&huge, &[1, 0, 1]);
    assert_eq!(
        RsaPublicKey::from_der(&der),
        Err(Error::RsaKeySize { bits: 16384 })
    );
    // The same through every text form.
    assert_eq!(
        RsaPublicKey::from_hex(&hex::encode(&der)),
        Err(Error::RsaKeySize { bits: 16384 })
    );
    // 4097 bits is one too many; 4096 passes the size rule.
    let mut m4097 = vec![0xFF; 513];
    m4097[0] = 1;
    assert_eq!(
        RsaPublicKey::from_der(&pkcs1_public(&m4097, &[1, 0, 1])),
        Err(Error::RsaKeySize { bits: 4097 })
    );
}

#[test]
fn small_or_even_exponents_are_refused() {
    assert_eq!(
        RsaPublicKey::from_der(RSA2048_E3_PUB),
        Err(Error::RsaPublicExponent)
    );
    assert!(matches!(
        RsaPrivateKey::from_pem(RSA2048_E3),
        Err(Error::RsaPublicExponent)
    ));
    let n = modulus_2048();
    for exponent in [
        &[3][..],
        &[1, 0, 0][..],    // 65536: even
        &[1, 0, 0, 0][..], // 2^24: even
        &[0, 1][..],       // 1 (with a DER-invalid leading zero: refused either way)
        &[0xFF, 0xFF][..], // 65535
    ] {
        let refused = RsaPublicKey::from_der(&pkcs1_public(&n, exponent));
        assert!(
            matches!(
                refused,
                Err(Error::RsaPublicExponent) | Err(Error::RsaKeyEncoding)
            ),
            "{exponent:02X?}: {refused:?}"
        );
    }
    // 65537 and a larger odd exponent are fine.
    for exponent in [&[1, 0, 1][..], &[1, 0, 0, 1][..]] {
        let key = RsaPublicKey::from_der(&pkcs1_public(&n, exponent)).unwrap();
        assert_eq!(key.bits(), 2048);
    }
}

#[test]
fn an_even_exponent_is_named_as_such() {
    let err = RsaPublicKey::from_der(&pkcs1_public(&modulus_2048(), &[1, 0, 0])).unwrap_err();
    assert_eq!(err, Error::RsaPublicExponent);
    assert_eq!(
        err.to_string(),
        "RSA public exponent must be odd and at least 65537"
    );
}

#[test]
fn valid_keys_still_read_in_every_form() {
    // tests/rsa.rs covers every encoding; one of each kind here guards the pre-check.
    let key = RsaPublicKey::from_der(RSA2048_PUB_PKCS1).unwrap();
    assert_eq!(key.bits(), 2048);
    assert_eq!(RsaPublicKey::from_pem(&key.to_pem()).unwrap(), key);
    assert_eq!(RsaPublicKey::from_base64(&key.to_base64()).unwrap(), key);
    let private = RsaPrivateKey::from_pem(include_str!("data/rsa2048.pem")).unwrap();
    assert_eq!(private.public_key(), key);
    let der = private.to_pkcs8_der().unwrap();
    assert_eq!(RsaPrivateKey::from_der(&der).unwrap().public_key(), key);
}
