//! RSA keys between DER and PKCS#11 attributes.

use cryptoki::object::Attribute;
use pinset_envelope::{Error, RsaPrivateKey, RsaPublicKey};
use pkcs1::der::{Decode, Encode};
use pkcs1::{RsaPrivateKeyRef, RsaPublicKeyRef, UintRef};

use super::template::Template;
use crate::ModuleError;

/// Reads PKCS#8 or PKCS#1 DER into the public key and the private-key
/// attributes (n, e, d, p, q, d mod p-1, d mod q-1, q⁻¹ mod p).
///
/// `pinset_envelope::RsaPrivateKey::from_der` checks the key first, so the
/// rules (2048 to 4096 bits, e odd and at least 65537, a consistent key)
/// are the software backend's.
pub(super) fn private_key(der: &[u8]) -> Result<(RsaPublicKey, Template), ModuleError> {
    let checked = RsaPrivateKey::from_der(der).map_err(ModuleError::KeyMaterial)?;
    let pkcs1_der = match pkcs8::PrivateKeyInfoRef::from_der(der) {
        Ok(info) => info.private_key.as_bytes(),
        Err(_) => der,
    };
    let key = RsaPrivateKeyRef::from_der(pkcs1_der)
        .map_err(|_| ModuleError::KeyMaterial(Error::RsaKeyEncoding))?;
    if key.other_prime_infos.is_some() {
        // Multi-prime keys have no PKCS#11 attributes for the extra primes.
        return Err(ModuleError::KeyMaterial(Error::RsaKeyEncoding));
    }
    let bytes = |v: UintRef<'_>| v.as_bytes().to_vec();
    let mut template = Template::new();
    template.push(Attribute::Modulus(bytes(key.modulus)));
    template.push(Attribute::PublicExponent(bytes(key.public_exponent)));
    template.push(Attribute::PrivateExponent(bytes(key.private_exponent)));
    template.push(Attribute::Prime1(bytes(key.prime1)));
    template.push(Attribute::Prime2(bytes(key.prime2)));
    template.push(Attribute::Exponent1(bytes(key.exponent1)));
    template.push(Attribute::Exponent2(bytes(key.exponent2)));
    template.push(Attribute::Coefficient(bytes(key.coefficient)));
    Ok((checked.public_key(), template))
}

/// The public key from a token's CKA_MODULUS and CKA_PUBLIC_EXPONENT,
/// checked like any other (2048 to 4096 bits, e odd and at least 65537).
pub(super) fn public_key(modulus: &[u8], exponent: &[u8]) -> Result<RsaPublicKey, Error> {
    let key = pkcs1::RsaPublicKey {
        modulus: UintRef::new(modulus).map_err(|_| Error::RsaKeyEncoding)?,
        public_exponent: UintRef::new(exponent).map_err(|_| Error::RsaKeyEncoding)?,
    };
    let der = key.to_der().map_err(|_| Error::RsaKeyEncoding)?;
    RsaPublicKey::from_der(&der)
}

/// A public key's modulus and exponent, for a CKO_PUBLIC_KEY object.
pub(super) fn modulus_and_exponent(key: &RsaPublicKey) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let spki_der = key.to_der();
    let info =
        pkcs8::SubjectPublicKeyInfoRef::from_der(&spki_der).map_err(|_| Error::RsaKeyEncoding)?;
    let bits = info
        .subject_public_key
        .as_bytes()
        .ok_or(Error::RsaKeyEncoding)?;
    let key = RsaPublicKeyRef::from_der(bits).map_err(|_| Error::RsaKeyEncoding)?;
    Ok((
        key.modulus.as_bytes().to_vec(),
        key.public_exponent.as_bytes().to_vec(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DER: &[u8] = include_bytes!("../../../envelope/tests/data/rsa2048_pkcs8.der");

    #[test]
    fn round_trips_through_attributes() {
        let (public, template) = private_key(DER).unwrap();
        assert_eq!(template.as_slice().len(), 8);
        let (n, e) = modulus_and_exponent(&public).unwrap();
        assert_eq!(n.len(), 256);
        assert_eq!(e, [1, 0, 1]);
        assert_eq!(public_key(&n, &e).unwrap(), public);
        assert!(matches!(
            private_key(b"not DER"),
            Err(ModuleError::KeyMaterial(_))
        ));
    }
}
