//! The reference CMS against the Mastercard Processing seed's behaviour.

use pinset_block::{Format, Pan, Pin};
use pinset_cms::{
    CardContractId, CardManagement, CmsError, ContractState, EmvCommand, MemoryCms, PlasticStatus,
    ProductionStatus, StorePin,
};
use pinset_envelope::{PinKey, TdesKey};
use pollster::block_on;

const ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861"; // MP sandbox ZPK

fn setup() -> (MemoryCms, CardContractId) {
    // Mastercard Processing sandbox card 70001
    let cms = MemoryCms::new();
    let id: CardContractId = "70001".parse().unwrap();
    cms.add_contract(
        id,
        Pan::new("5141576351968605").unwrap(),
        ContractState::OPEN,
    );
    cms.add_plastic(
        id,
        "1".parse().unwrap(),
        "2612".parse().unwrap(),
        PlasticStatus::Active,
    );
    cms.add_plastic(
        id,
        "2".parse().unwrap(),
        "2812".parse().unwrap(),
        PlasticStatus::Locked,
    );
    (cms, id)
}

fn request(id: CardContractId, seq: &str) -> StorePin {
    let zpk = TdesKey::new(&hex::decode(ZPK).unwrap()).unwrap();
    let pan = Pan::new("5141576351968605").unwrap();
    let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
    let pin_block = PinKey::from(zpk.clone())
        .seal(
            Format::Iso0,
            &Pin::new("7580").unwrap(),
            Some(&pan),
            &mut rng,
        )
        .unwrap();
    StorePin {
        contract: id,
        plastic: seq.parse().unwrap(),
        format: Format::Iso0,
        pin_block,
        zpk_index: "ZPK-1".into(),
        zpk_kcv: zpk.kcv(),
        verification: None,
    }
}

#[test]
fn store_activates_locked_plastic_and_queues_script() {
    let (cms, id) = setup();
    let outcome = block_on(cms.store_pin(request(id, "2"))).unwrap();
    assert!(outcome.stored && outcome.emv_script_queued && outcome.plastic_activated);
    let snap = cms.snapshot();
    let plastic = &snap.contracts[&id].plastics[1];
    assert_eq!(
        plastic.plastic.status,
        PlasticStatus::Locked,
        "stays locked for card-present use"
    );
    assert!(plastic.plastic.ecommerce_enabled);
    assert_eq!(plastic.pin.as_ref().unwrap().pin_block.as_bytes().len(), 8);
    assert_eq!(snap.emv_scripts.len(), 1);
    assert_eq!(snap.emv_scripts[0].command, EmvCommand::PinChange);
    // Setting it again on an already-enabled plastic activates nothing new.
    let again = block_on(cms.store_pin(request(id, "2"))).unwrap();
    assert!(!again.plastic_activated);
}

#[test]
fn refusals_change_nothing() {
    let (cms, id) = setup();
    let before = cms.snapshot();
    assert_eq!(
        block_on(cms.store_pin(request(id, "9"))),
        Err(CmsError::PlasticNotFound)
    );
    let other: CardContractId = "70002".parse().unwrap();
    assert_eq!(
        block_on(cms.store_pin(request(other, "1"))),
        Err(CmsError::ContractNotFound)
    );
    cms.fail_next_store();
    assert_eq!(
        block_on(cms.store_pin(request(id, "2"))),
        Err(CmsError::Unavailable)
    );
    assert_eq!(cms.snapshot(), before);
    // The failure was one-shot.
    assert!(block_on(cms.store_pin(request(id, "2"))).is_ok());
}

#[test]
fn contract_state_gates_set_pin() {
    let (cms, id) = setup();
    let before = cms.snapshot();
    cms.set_contract_state(
        id,
        ContractState {
            status_code: *b"14",
            production: ProductionStatus::Ready,
        },
    );
    assert!(matches!(
        block_on(cms.store_pin(request(id, "2"))),
        Err(CmsError::OperationDenied(_))
    ));
    cms.set_contract_state(
        id,
        ContractState {
            status_code: *b"00",
            production: ProductionStatus::Marked,
        },
    );
    assert!(matches!(
        block_on(cms.store_pin(request(id, "2"))),
        Err(CmsError::OperationDenied(_))
    ));
    assert_eq!(cms.snapshot().emv_scripts, before.emv_scripts);
}

#[test]
fn blocked_plastic_is_refused() {
    let (cms, id) = setup();
    cms.add_plastic(
        id,
        "3".parse().unwrap(),
        "2812".parse().unwrap(),
        PlasticStatus::Blocked,
    );
    assert!(matches!(
        block_on(cms.store_pin(request(id, "3"))),
        Err(CmsError::OperationDenied(_))
    ));
}

#[test]
fn the_script_host_takes_queued_scripts_once() {
    let (cms, id) = setup();
    block_on(cms.store_pin(request(id, "2"))).unwrap();
    block_on(cms.store_pin(request(id, "2"))).unwrap();
    let scripts = cms.take_emv_scripts();
    assert_eq!(scripts.len(), 2);
    assert!(scripts.iter().all(|s| s.command == EmvCommand::PinChange));
    assert!(cms.take_emv_scripts().is_empty());
    assert!(cms.snapshot().emv_scripts.is_empty());
    // The PIN itself stays stored.
    assert!(cms.snapshot().contracts[&id].plastics[1].pin.is_some());
}

#[test]
fn debug_masks_pan_and_redacts_enciphered_blocks() {
    let (cms, id) = setup();
    let store = request(id, "2");
    let block = hex::encode_upper(store.pin_block.as_bytes());
    // A format 0 block under a fixed ZPK is deterministic: logged, it would link equal PINs.
    assert!(!format!("{store:?}").to_uppercase().contains(&block));
    block_on(cms.store_pin(store)).unwrap();
    let snapshot = cms.snapshot();
    let printed = format!("{snapshot:?}");
    assert!(!printed.contains("5141576351968605"));
    assert!(printed.contains("514157******8605"));
    assert!(!printed.contains(ZPK));
    assert!(!printed.to_uppercase().contains(&block), "{printed}");
    let stored = snapshot.contracts[&id].plastics[1].pin.as_ref().unwrap();
    assert_eq!(hex::encode_upper(stored.pin_block.as_bytes()), block);
    assert!(!format!("{stored:?}").to_uppercase().contains(&block));
}

#[test]
fn domain_types_validate() {
    assert!("0".parse::<CardContractId>().is_err());
    assert!("1000000000000000000".parse::<CardContractId>().is_err());
    assert!("999999999999999999".parse::<CardContractId>().is_ok());
    assert!("+5".parse::<CardContractId>().is_err());
    assert!("2800".parse::<pinset_cms::ExpiryDate>().is_err());
    assert!("281".parse::<pinset_cms::ExpiryDate>().is_err());
    assert!("1234".parse::<pinset_cms::PlasticSequence>().is_err());
    assert!("".parse::<pinset_cms::PlasticSequence>().is_err());
    assert_eq!(
        "007".parse::<pinset_cms::PlasticSequence>().unwrap().get(),
        7
    );
}
