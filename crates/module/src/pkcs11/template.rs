//! Object templates. Key material in a template is zeroized when it drops.

use cryptoki::object::{Attribute, KeyType, ObjectClass};
use zeroize::Zeroize;

use crate::{KeyAlgorithm, KeyPurpose};

/// A template that may hold key material: every byte value is zeroized on
/// drop, whether the token took it or not.
pub(super) struct Template(Vec<Attribute>);

impl Template {
    pub(super) fn new() -> Self {
        Template(Vec::new())
    }

    /// Moves `other`'s attributes to the end of this template.
    pub(super) fn append(&mut self, mut other: Template) {
        self.0.append(&mut other.0);
    }

    pub(super) fn as_slice(&self) -> &[Attribute] {
        &self.0
    }

    pub(super) fn push(&mut self, attribute: Attribute) {
        self.0.push(attribute);
    }

    /// Lets the key leave the token wrapped (a tzpk, once).
    pub(super) fn extractable(mut self) -> Self {
        for attribute in &mut self.0 {
            if let Attribute::Extractable(on) = attribute {
                *on = true;
            }
        }
        self
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        for attribute in &mut self.0 {
            match attribute {
                Attribute::Value(bytes)
                | Attribute::PrivateExponent(bytes)
                | Attribute::Prime1(bytes)
                | Attribute::Prime2(bytes)
                | Attribute::Exponent1(bytes)
                | Attribute::Exponent2(bytes)
                | Attribute::Coefficient(bytes) => bytes.zeroize(),
                _ => {}
            }
        }
    }
}

/// The CKA_ID pinset gives a key: one byte, its purpose ([`KeyPurpose::code`]).
pub(super) fn purpose_id(purpose: KeyPurpose) -> Vec<u8> {
    vec![purpose.code()]
}

/// The purpose a CKA_ID records, if it is pinset's one-byte form.
pub(super) fn purpose_of(id: &[u8]) -> Option<KeyPurpose> {
    match id {
        [code] => KeyPurpose::from_code(*code),
        _ => None,
    }
}

/// The PKCS#11 key type of a symmetric algorithm.
pub(super) fn key_type(algorithm: KeyAlgorithm) -> KeyType {
    match algorithm {
        KeyAlgorithm::Tdes2 => KeyType::DES2,
        KeyAlgorithm::Tdes3 => KeyType::DES3,
        KeyAlgorithm::Rsa { .. } => KeyType::RSA,
        _ => KeyType::AES,
    }
}

/// Usage and protection common to every key pinset creates: sensitive,
/// never extractable (tzpks alone say otherwise), private, one purpose.
///
/// A key-encryption key wraps and unwraps and does nothing else; the others
/// encrypt and decrypt (symmetric) or decrypt (RSA) and never wrap, so that
/// no key can both wrap a key out and decrypt it in the clear.
pub(super) fn secret_key(
    algorithm: KeyAlgorithm,
    purpose: KeyPurpose,
    label: &str,
    token: bool,
) -> Template {
    let kek = purpose == KeyPurpose::KeyEncryption;
    let class = match algorithm {
        KeyAlgorithm::Rsa { .. } => ObjectClass::PRIVATE_KEY,
        _ => ObjectClass::SECRET_KEY,
    };
    let mut attributes = vec![
        Attribute::Class(class),
        Attribute::KeyType(key_type(algorithm)),
        Attribute::Token(token),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Decrypt(!kek),
        Attribute::Unwrap(kek),
        Attribute::Sign(false),
        Attribute::Derive(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(purpose_id(purpose)),
    ];
    if class == ObjectClass::SECRET_KEY {
        attributes.extend([
            Attribute::Encrypt(!kek),
            Attribute::Wrap(kek),
            Attribute::Verify(false),
        ]);
    }
    Template(attributes)
}
