#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod audit;
pub mod enfuce;
mod error;
mod issuer;
pub mod mastercard;
mod policy;
#[cfg(feature = "serde")]
pub mod wire;

pub use audit::{AuditEvent, AuditSink, MemoryAudit, NoAudit, Operation};
pub use enfuce::EnfuceSetPin;
pub use error::{Detail, FlowError, Reason};
pub use issuer::{Issuer, RngUnavailable};
pub use mastercard::MastercardPanless;
pub use policy::{PinPolicy, PolicyViolation};

/// Test fixture for the crate-level example: a CMS with sandbox card 70001,
/// a zone PIN key and an RSA key ring. Not part of the API.
#[doc(hidden)]
pub fn doc_fixture() -> Result<
    (
        pinset_cms::MemoryCms,
        pinset_keys::ZoneKeys,
        pinset_keys::ZpkIndex,
        pinset_keys::RsaKeyRing,
    ),
    Box<dyn std::error::Error>,
> {
    use pinset_cms::{ContractState, MemoryCms, PlasticStatus};
    use pinset_keys::{KeyIndex, KeyPurpose, NewKey, RsaKeyRing, ZoneKeys, ZpkIndex};
    let cms = MemoryCms::new();
    let contract = "70001".parse()?;
    cms.add_contract(
        contract,
        pinset_block::Pan::new("5141576351968605")?,
        ContractState::OPEN,
    );
    cms.add_plastic(
        contract,
        "1".parse()?,
        "2812".parse()?,
        PlasticStatus::Locked,
    );
    let zone = ZoneKeys::new();
    let zpk = ZpkIndex::new("ZPK-CMS")?;
    zone.insert(
        zpk.clone(),
        pinset_envelope::TdesKey::new(&hex::decode(
            "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861",
        )?)?,
        KeyPurpose::PinEncryption,
    )?;
    let ring = RsaKeyRing::new();
    let key = pinset_envelope::RsaPrivateKey::from_pem(include_str!(
        "../../envelope/tests/data/rsa2048.pem"
    ))?;
    ring.rotate(
        NewKey::new(KeyIndex::new("A1564386531162")?, key),
        std::time::Duration::from_secs(3600),
    )?;
    Ok((cms, zone, zpk, ring))
}
