//! The in-memory reference CMS.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use pinset_block::{Format, Pan};
use pinset_envelope::{EncryptedPinBlock, Kcv};

use crate::{
    CardContractId, CardManagement, CardPlastic, CmsError, ContractState, PlasticSequence,
    PlasticStatus, StorePin, StorePinOutcome,
};

/// A PIN as the CMS keeps it: the enciphered block, never the PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPin {
    /// The ISO format 0 block.
    pub pin_block: EncryptedPinBlock,
    /// The zone PIN key index it is under.
    pub zpk_index: String,
    /// That key's check value.
    pub zpk_kcv: Kcv,
    /// The PVV or IBM 3624 offset, when the flow delivered one.
    pub verification: Option<crate::PinVerificationRecord>,
}

/// A queued EMV issuer script: a PIN change to sync the chip's offline PIN
/// on the plastic's next contact online transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmvScript {
    /// The card contract.
    pub contract: CardContractId,
    /// The plastic.
    pub plastic: PlasticSequence,
    /// What the script does.
    pub command: EmvCommand,
}

/// The EMV script commands the reference CMS queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmvCommand {
    /// PIN CHANGE/UNBLOCK with the new PIN.
    PinChange,
}

/// One plastic with what the CMS stores for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlasticRecord {
    /// The plastic.
    pub plastic: CardPlastic,
    /// Its PIN, if one was set.
    pub pin: Option<StoredPin>,
}

/// One contract as the reference CMS keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractRecord {
    /// The PAN (prints masked).
    pub pan: Pan,
    /// The contract state.
    pub state: ContractState,
    /// The plastics.
    pub plastics: Vec<PlasticRecord>,
}

/// Everything the reference CMS holds, for tests and examples to inspect.
///
/// `Debug` shows PANs masked and enciphered PIN blocks by length only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CmsSnapshot {
    /// Contracts by id.
    pub contracts: BTreeMap<CardContractId, ContractRecord>,
    /// Queued EMV scripts, oldest first.
    pub emv_scripts: Vec<EmvScript>,
}

/// An in-memory CMS that behaves as the Mastercard Processing seed says.
///
/// - It stores the enciphered ISO format 0 block, never the PIN.
/// - It queues an EMV PIN-change script for the plastic.
/// - On a `Locked` plastic it enables e-commerce/token use and leaves it
///   locked for card-present use.
/// - It refuses a contract whose state forbids setting a PIN.
/// - [`MemoryCms::fail_next_store`] makes the next store fail, to test that a
///   failed set PIN changes nothing.
///
/// ```
/// use pinset_block::Pan;
/// use pinset_cms::{CardManagement, ContractState, MemoryCms};
///
/// let cms = MemoryCms::new();
/// let id = "70001".parse()?;
/// cms.add_contract(id, Pan::new("5141576351968605")?, ContractState::OPEN);
/// cms.add_plastic(id, "1".parse()?, "2812".parse()?, pinset_cms::PlasticStatus::Locked);
/// let pan = pollster::block_on(cms.pan(id))?;
/// assert_eq!(pan.to_string(), "514157******8605");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryCms {
    state: Mutex<CmsSnapshot>,
    fail_next_store: Mutex<bool>,
}

impl MemoryCms {
    /// An empty CMS.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, CmsSnapshot>, CmsError> {
        // A poisoned lock means a panic mid-update elsewhere: report, don't guess.
        self.state.lock().map_err(|_| CmsError::Unavailable)
    }

    /// Adds (or replaces) a contract with no plastics.
    pub fn add_contract(&self, id: CardContractId, pan: Pan, state: ContractState) {
        if let Ok(mut s) = self.lock() {
            s.contracts.insert(
                id,
                ContractRecord {
                    pan,
                    state,
                    plastics: Vec::new(),
                },
            );
        }
    }

    /// Adds a plastic to a contract; `false` if the contract does not exist.
    pub fn add_plastic(
        &self,
        id: CardContractId,
        sequence: PlasticSequence,
        expiry: crate::ExpiryDate,
        status: PlasticStatus,
    ) -> bool {
        let Ok(mut s) = self.lock() else { return false };
        let Some(contract) = s.contracts.get_mut(&id) else {
            return false;
        };
        contract.plastics.push(PlasticRecord {
            plastic: CardPlastic {
                sequence,
                expiry,
                status,
                ecommerce_enabled: status == PlasticStatus::Active,
            },
            pin: None,
        });
        true
    }

    /// Sets a contract's state; `false` if the contract does not exist.
    pub fn set_contract_state(&self, id: CardContractId, state: ContractState) -> bool {
        let Ok(mut s) = self.lock() else { return false };
        s.contracts.get_mut(&id).map(|c| c.state = state).is_some()
    }

    /// Makes the next `store_pin` fail with [`CmsError::Unavailable`] and change nothing.
    pub fn fail_next_store(&self) {
        if let Ok(mut f) = self.fail_next_store.lock() {
            *f = true;
        }
    }

    /// Hands the queued EMV scripts, oldest first, to the script host and
    /// empties the queue, as a CMS's issuer-script delivery does. Without
    /// it the queue grows with every PIN set.
    ///
    /// ```
    /// use pinset_cms::MemoryCms;
    ///
    /// let cms = MemoryCms::new();
    /// assert!(cms.take_emv_scripts().is_empty());
    /// ```
    pub fn take_emv_scripts(&self) -> Vec<EmvScript> {
        self.lock()
            .map(|mut s| std::mem::take(&mut s.emv_scripts))
            .unwrap_or_default()
    }

    /// A copy of everything the CMS holds.
    pub fn snapshot(&self) -> CmsSnapshot {
        self.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn contract<T>(
        &self,
        id: CardContractId,
        f: impl FnOnce(&ContractRecord) -> T,
    ) -> Result<T, CmsError> {
        self.lock()?
            .contracts
            .get(&id)
            .map(f)
            .ok_or(CmsError::ContractNotFound)
    }

    fn store(&self, req: StorePin) -> Result<StorePinOutcome, CmsError> {
        if let Ok(mut f) = self.fail_next_store.lock()
            && std::mem::take(&mut *f)
        {
            return Err(CmsError::Unavailable);
        }
        if req.format != Format::Iso0 || req.pin_block.as_bytes().len() != 8 {
            return Err(CmsError::PinBlockRefused(
                "expected an 8-byte ISO format 0 block",
            ));
        }
        let mut s = self.lock()?;
        // Validate everything first, then write: a refusal changes nothing.
        let contract = s
            .contracts
            .get_mut(&req.contract)
            .ok_or(CmsError::ContractNotFound)?;
        contract.state.check_set_pin()?;
        let record = contract
            .plastics
            .iter_mut()
            .find(|p| p.plastic.sequence == req.plastic)
            .ok_or(CmsError::PlasticNotFound)?;
        if !record.plastic.accepts_pin() {
            return Err(CmsError::OperationDenied("plastic is blocked or expired"));
        }
        record.pin = Some(StoredPin {
            pin_block: req.pin_block,
            zpk_index: req.zpk_index,
            zpk_kcv: req.zpk_kcv,
            verification: req.verification,
        });
        let activated =
            record.plastic.status == PlasticStatus::Locked && !record.plastic.ecommerce_enabled;
        if record.plastic.status == PlasticStatus::Locked {
            // The seed: a Locked plastic opens for e-commerce and tokens only;
            // card-present use waits for a contact transaction.
            record.plastic.ecommerce_enabled = true;
        }
        s.emv_scripts.push(EmvScript {
            contract: req.contract,
            plastic: req.plastic,
            command: EmvCommand::PinChange,
        });
        Ok(StorePinOutcome {
            stored: true,
            emv_script_queued: true,
            plastic_activated: activated,
        })
    }
}

impl CardManagement for MemoryCms {
    async fn pan(&self, contract: CardContractId) -> Result<Pan, CmsError> {
        self.contract(contract, |c| c.pan.clone())
    }

    async fn contract_state(&self, contract: CardContractId) -> Result<ContractState, CmsError> {
        self.contract(contract, |c| c.state)
    }

    async fn plastics(&self, contract: CardContractId) -> Result<Vec<CardPlastic>, CmsError> {
        self.contract(contract, |c| {
            c.plastics.iter().map(|p| p.plastic.clone()).collect()
        })
    }

    async fn store_pin(&self, request: StorePin) -> Result<StorePinOutcome, CmsError> {
        self.store(request)
    }
}
