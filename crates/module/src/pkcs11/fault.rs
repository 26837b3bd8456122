//! What a PKCS#11 return code means for pinset: which `ModuleError` class.

use cryptoki::context::Function;
use cryptoki::error::{Error, RvError};

use crate::{KeyAlgorithm, ModuleError};

pub(super) const NAME: &str = "pkcs11";

/// How pinset reads a failed PKCS#11 call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fault {
    /// The token, the session or the login is gone, or the token failed: retry.
    Unavailable,
    /// The token refused the mechanism, its parameters or the template.
    Unsupported,
    /// The object handle is no longer valid.
    UnknownKey,
    /// The key's own attributes forbid the operation.
    KeyUse,
    /// Anything else: for a decryption, the input could not be read.
    Other,
}

pub(super) fn rv(e: &Error) -> Option<RvError> {
    match e {
        Error::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

pub(super) fn classify(e: &Error) -> Fault {
    let Error::Pkcs11(rv, function) = e else {
        // Library loading, a missing function: the module cannot be used now.
        return Fault::Unavailable;
    };
    match rv {
        RvError::DeviceError
        | RvError::DeviceMemory
        | RvError::DeviceRemoved
        | RvError::TokenNotPresent
        | RvError::TokenNotRecognized
        | RvError::SessionHandleInvalid
        | RvError::SessionClosed
        | RvError::SessionCount
        | RvError::GeneralError
        | RvError::FunctionFailed
        | RvError::HostMemory
        | RvError::CryptokiNotInitialized
        | RvError::UserNotLoggedIn
        | RvError::FunctionCanceled
        | RvError::Cancel
        | RvError::SlotIdInvalid
        | RvError::OperationActive
        | RvError::OperationNotInitialized
        | RvError::PinExpired
        | RvError::PinIncorrect
        | RvError::PinLocked => Fault::Unavailable,
        RvError::KeyHandleInvalid
        | RvError::ObjectHandleInvalid
        | RvError::WrappingKeyHandleInvalid => Fault::UnknownKey,
        RvError::KeyFunctionNotPermitted
        | RvError::KeyTypeInconsistent
        | RvError::WrappingKeyTypeInconsistent
        | RvError::KeyUnextractable
        | RvError::KeyNotWrappable => Fault::KeyUse,
        RvError::MechanismInvalid
        | RvError::MechanismParamInvalid
        | RvError::FunctionNotSupported
        | RvError::KeySizeRange
        | RvError::AttributeTypeInvalid
        | RvError::AttributeValueInvalid
        | RvError::TemplateIncomplete
        | RvError::TemplateInconsistent => Fault::Unsupported,
        // SoftHSM answers CKR_ARGUMENTS_BAD to OAEP parameters it lacks; it
        // is a mechanism refusal only where the mechanism is set up.
        RvError::ArgumentsBad if sets_up_mechanism(*function) => Fault::Unsupported,
        _ => Fault::Other,
    }
}

/// Whether a failed C_Decrypt of an RSA cryptogram is the cryptogram's
/// fault. SoftHSM (on OpenSSL) answers a bad OAEP or PKCS#1 v1.5 padding
/// with CKR_GENERAL_ERROR; other tokens use CKR_FUNCTION_FAILED. Reading
/// those as "unavailable" would tell a bad padding from a bad PIN block: a
/// padding oracle (Bleichenbacher, Manger). So in C_Decrypt they are the
/// block's, and only the codes that name the device or session are not.
pub(super) fn rsa_refused_input(e: &Error) -> bool {
    match e {
        Error::Pkcs11(RvError::GeneralError | RvError::FunctionFailed, Function::Decrypt) => true,
        _ => classify(e) == Fault::Other,
    }
}

/// Whether a failed C_UnwrapKey is the wrapped key's fault: SoftHSM (on
/// OpenSSL) answers a failed RFC 5649 integrity check with
/// CKR_GENERAL_ERROR, other tokens with CKR_WRAPPED_KEY_INVALID or
/// CKR_ENCRYPTED_DATA_INVALID.
pub(super) fn unwrap_refused_input(e: &Error) -> bool {
    match e {
        Error::Pkcs11(
            RvError::GeneralError
            | RvError::FunctionFailed
            | RvError::WrappedKeyInvalid
            | RvError::WrappedKeyLenRange
            | RvError::EncryptedDataInvalid
            | RvError::EncryptedDataLenRange,
            Function::UnwrapKey,
        ) => true,
        _ => classify(e) == Fault::Other,
    }
}

fn sets_up_mechanism(function: Function) -> bool {
    matches!(
        function,
        Function::DecryptInit
            | Function::EncryptInit
            | Function::WrapKey
            | Function::UnwrapKey
            | Function::GenerateKey
            | Function::GenerateKeyPair
    )
}

/// The token's code and the call that returned it, such as
/// `C_Decrypt: CKR_DEVICE_ERROR`. Never data.
pub(super) fn describe(e: &Error) -> String {
    match e {
        Error::Pkcs11(rv, function) => format!("C_{function:?}: {}", ckr(rv)),
        Error::LibraryLoading(e) => format!("cannot load the PKCS#11 module: {e}"),
        other => other.to_string(),
    }
}

/// `DeviceError` → `CKR_DEVICE_ERROR`.
fn ckr(rv: &RvError) -> String {
    let name = format!("{rv:?}");
    if name.contains('(') {
        return rv.to_string();
    }
    let mut out = String::from("CKR");
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

pub(super) fn unavailable(e: &Error) -> ModuleError {
    unavailable_because(describe(e))
}

pub(super) fn unavailable_because(reason: impl Into<String>) -> ModuleError {
    ModuleError::Unavailable {
        module: NAME,
        reason: reason.into(),
    }
}

pub(super) fn poisoned<T>(_: T) -> ModuleError {
    unavailable_because("a lock was poisoned by a panic in another thread")
}

/// Maps a failed call that is not a decryption: anything unexpected is the
/// module failing (retry), never the caller's input.
pub(super) fn operation(
    e: &Error,
    key: Option<(&str, KeyAlgorithm)>,
    unsupported: &'static str,
) -> ModuleError {
    match (classify(e), key) {
        (Fault::Unsupported, _) => ModuleError::Unsupported {
            module: NAME,
            what: unsupported,
        },
        (Fault::UnknownKey, Some((id, _))) => ModuleError::UnknownKey(id.to_owned()),
        (Fault::KeyUse, Some((_, algorithm))) => key_use(algorithm),
        _ => unavailable(e),
    }
}

/// A key whose PKCS#11 usage attributes forbid what pinset asked.
pub(super) fn key_use(algorithm: KeyAlgorithm) -> ModuleError {
    ModuleError::WrongAlgorithm {
        algorithm,
        what: "do this: its PKCS#11 usage attributes forbid it",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_the_standard_names() {
        let e = Error::Pkcs11(RvError::DeviceError, Function::Decrypt);
        assert_eq!(describe(&e), "C_Decrypt: CKR_DEVICE_ERROR");
        assert_eq!(classify(&e), Fault::Unavailable);
        let e = Error::Pkcs11(RvError::ArgumentsBad, Function::DecryptInit);
        assert_eq!(describe(&e), "C_DecryptInit: CKR_ARGUMENTS_BAD");
        assert_eq!(classify(&e), Fault::Unsupported);
        let e = Error::Pkcs11(RvError::ArgumentsBad, Function::Decrypt);
        assert_eq!(classify(&e), Fault::Other);
        let e = Error::Pkcs11(RvError::EncryptedDataLenRange, Function::Decrypt);
        assert_eq!(classify(&e), Fault::Other);
        assert!(rsa_refused_input(&e));
        // SoftHSM's answer to a bad padding is the input's; a device error is not.
        assert!(rsa_refused_input(&Error::Pkcs11(
            RvError::GeneralError,
            Function::Decrypt
        )));
        assert!(!rsa_refused_input(&Error::Pkcs11(
            RvError::GeneralError,
            Function::DecryptInit
        )));
        assert!(!rsa_refused_input(&Error::Pkcs11(
            RvError::DeviceError,
            Function::Decrypt
        )));
        for rv in [
            RvError::TokenNotPresent,
            RvError::SessionHandleInvalid,
            RvError::DeviceRemoved,
            RvError::GeneralError,
        ] {
            let e = Error::Pkcs11(rv, Function::Encrypt);
            assert!(operation(&e, None, "x").is_retryable(), "{rv:?}");
        }
    }
}
