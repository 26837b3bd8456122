//! The card management system trait.

use core::future::Future;

use pinset_block::{Format, Pan};
use pinset_envelope::{EncryptedPinBlock, Kcv};
use pinset_verify::{VerificationMethod, VerificationValue};

use crate::{CardContractId, CardPlastic, ContractState, PlasticSequence};

/// What a CMS may answer instead of doing what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// No such card contract.
    #[error("card contract does not exist")]
    ContractNotFound,
    /// The contract has no such plastic.
    #[error("no matching card plastic")]
    PlasticNotFound,
    /// The contract or plastic state forbids the operation.
    #[error("operation denied: {0}")]
    OperationDenied(&'static str),
    /// The PIN block was not ISO format 0 under a ZPK the CMS knows.
    #[error("PIN block refused by the CMS: {0}")]
    PinBlockRefused(&'static str),
    /// The CMS could not be reached or failed. Nothing was changed; the
    /// request may be retried.
    #[error("card management system unavailable")]
    Unavailable,
}

/// A request to store a new PIN for one plastic.
///
/// It carries the PIN only as an ISO format 0 block enciphered under a named
/// zone PIN key: the CMS never sees a clear PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorePin {
    /// The card contract.
    pub contract: CardContractId,
    /// The plastic within it.
    pub plastic: PlasticSequence,
    /// The block's format: always [`Format::Iso0`] from pinset's flows.
    pub format: Format,
    /// The enciphered PIN block.
    pub pin_block: EncryptedPinBlock,
    /// The index of the zone PIN key it is enciphered under.
    pub zpk_index: String,
    /// That key's check value, so the CMS can confirm it holds the same key.
    pub zpk_kcv: Kcv,
    /// The PIN's verification value (a Visa PVV or an IBM 3624 offset), if
    /// the flow is configured to deliver one: what most card management
    /// systems keep, and what the authorisation host verifies against. A
    /// CMS that keeps only this may discard `pin_block`.
    pub verification: Option<PinVerificationRecord>,
}

/// A PIN verification value with what the authorisation host needs to
/// check a PIN against it: the method (with the PVKI, or the IBM 3624
/// table and validation data) and the PVK's check value.
///
/// `Debug` redacts the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinVerificationRecord {
    /// How the value was computed.
    pub method: VerificationMethod,
    /// The PVV or offset.
    pub value: VerificationValue,
    /// The PIN verification key's check value.
    pub pvk_kcv: Kcv,
}

/// What the CMS did with a stored PIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorePinOutcome {
    /// The PIN was stored.
    pub stored: bool,
    /// An EMV PIN-change script was queued to sync the chip's offline PIN on
    /// the next contact online transaction.
    pub emv_script_queued: bool,
    /// A `Locked` plastic was enabled for e-commerce and token use.
    pub plastic_activated: bool,
}

/// A card management system, as the set-PIN flows need it.
///
/// Runtime-agnostic: the methods return futures (implement them with
/// `async fn`), and no executor is assumed. The futures are `Send` so a
/// multi-threaded server can hold them across awaits.
///
/// `store_pin` is all or nothing: on error, nothing was changed.
pub trait CardManagement: Send + Sync {
    /// The PAN of a contract.
    fn pan(&self, contract: CardContractId) -> impl Future<Output = Result<Pan, CmsError>> + Send;

    /// The state of a contract.
    fn contract_state(
        &self,
        contract: CardContractId,
    ) -> impl Future<Output = Result<ContractState, CmsError>> + Send;

    /// The plastics of a contract.
    fn plastics(
        &self,
        contract: CardContractId,
    ) -> impl Future<Output = Result<Vec<CardPlastic>, CmsError>> + Send;

    /// Stores a PIN for one plastic, queues the EMV script and activates a
    /// `Locked` plastic for e-commerce/token use.
    fn store_pin(
        &self,
        request: StorePin,
    ) -> impl Future<Output = Result<StorePinOutcome, CmsError>> + Send;
}

/// A shared CMS is a CMS: hand one `Arc` to several flows or instances.
impl<C: CardManagement + ?Sized> CardManagement for std::sync::Arc<C> {
    fn pan(&self, contract: CardContractId) -> impl Future<Output = Result<Pan, CmsError>> + Send {
        (**self).pan(contract)
    }

    fn contract_state(
        &self,
        contract: CardContractId,
    ) -> impl Future<Output = Result<ContractState, CmsError>> + Send {
        (**self).contract_state(contract)
    }

    fn plastics(
        &self,
        contract: CardContractId,
    ) -> impl Future<Output = Result<Vec<CardPlastic>, CmsError>> + Send {
        (**self).plastics(contract)
    }

    fn store_pin(
        &self,
        request: StorePin,
    ) -> impl Future<Output = Result<StorePinOutcome, CmsError>> + Send {
        (**self).store_pin(request)
    }
}
