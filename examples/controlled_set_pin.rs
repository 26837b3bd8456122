//! Enfuce Card PIN API v3: set PIN with a controlId and a temporary zone PIN
//! key (tzpk), then a replay and an expired control.
//!
//! `cargo run --release --example controlled_set_pin`
//!
//! The device's block is the seed's own `141234AAAAAAAAAA` (PIN 1234 in ISO
//! format 1). The transcript never shows it, the tzpk or any key bytes.

use std::error::Error;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use pinset::block::{ClearBlock, Format, Pan};
use pinset::cms::{ContractState, MemoryCms, PlasticStatus};
use pinset::envelope::rsa::unwrap_tdes_key;
use pinset::envelope::{PinKey, RsaPadding, RsaPrivateKey};
use pinset::flow::enfuce::{ControlOperation, SetPinRequest, TzpkRequest};
use pinset::flow::{EnfuceSetPin, FlowError, Issuer};
use pinset::keys::{KeyPurpose, ManualClock, MemoryControlStore, Timestamp, ZoneKeys, ZpkIndex};
use pinset::module::{KeyAlgorithm, SecurityModule, SoftwareModule};
use rand_core::{SeedableRng, TryRng};

/// Enfuce seed example: PIN 1234 in ISO format 1.
const SEED_BLOCK: &str = "141234AAAAAAAAAA";
const ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";

fn main() -> Result<(), Box<dyn Error>> {
    let mut seed = [0u8; 32];
    getrandom::SysRng.try_fill_bytes(&mut seed)?;
    let mut rng = chacha20::ChaCha20Rng::from_seed(seed);
    // A manual clock, so the 30-second expiry can be shown without waiting.
    let clock = ManualClock::new(Timestamp::from_system_time(std::time::SystemTime::now()));

    println!("== Issuer set-up ==");
    let cms = MemoryCms::new();
    let contract = "70001".parse()?;
    cms.add_contract(contract, Pan::new("5141576351968605")?, ContractState::OPEN);
    cms.add_plastic(
        contract,
        "1".parse()?,
        "2812".parse()?,
        PlasticStatus::Locked,
    );
    // The issuer's keys live in the security module (the tzpks too, when
    // they are generated); the zone directory and the flow hold handles.
    let module = SoftwareModule::new()?;
    let zone = ZoneKeys::new();
    let zpk = ZpkIndex::new("ZPK-CMS")?;
    let handle = pollster::block_on(module.import_symmetric(
        KeyAlgorithm::Tdes3,
        KeyPurpose::PinEncryption,
        &hex::decode(ZPK)?,
    ))?;
    let kcv = zone.insert(zpk.clone(), handle)?;
    println!("zone PIN key {zpk}: KCV {kcv}");
    let issuer = Issuer::new(cms, module, zone, zpk)?.with_clock(clock.clone());
    let api = EnfuceSetPin::new(issuer, clock.clone());

    println!("\n== Card-holder device: its own RSA key pair ==");
    let device = RsaPrivateKey::generate(2048, &mut rng)?;
    println!(
        "RSA-2048 generated on the device (fingerprint {})",
        device.public_key().fingerprint()
    );

    let plastic = "1".parse()?;
    let control =
        pollster::block_on(api.issue_control(contract, plastic, ControlOperation::SetPin))?;
    println!("\n== PIN control API ==");
    println!(
        "controlId {control} issued for contract {contract} plastic {plastic} (valid 30 s, single use)"
    );

    println!("\n-> POST /pin/v3/set/tzpk");
    let request = TzpkRequest {
        control_id: control.as_str().into(),
        public_key: device.public_key().to_base64(),
    };
    println!(
        "   {{\"controlId\":\"{}\",\"publicKey\":\"{}…\"}}",
        request.control_id,
        &request.public_key[..24]
    );
    let response = pollster::block_on(api.get_tzpk(&request))?;
    println!(
        "<- 200 {{\"tzpk\":\"{}…\"}}  (RSA-OAEP SHA-256/MGF1-SHA-256, base64)",
        &response.tzpk[..24]
    );

    println!("\n== Device: encrypt the PIN block under the tzpk ==");
    let tzpk = unwrap_tdes_key(
        &device,
        RsaPadding::OaepSha256,
        &BASE64.decode(&response.tzpk)?,
    )?;
    println!(
        "tzpk unwrapped on the device: 2-key TDES, KCV {}",
        tzpk.kcv()
    );
    let clear = ClearBlock::try_from_slice(&hex::decode(SEED_BLOCK)?)?;
    let pin_block = BASE64.encode(PinKey::from(tzpk).encipher_block(Format::Iso1, &clear, None)?);
    println!("ISO format 1 block, TDES-ECB under the tzpk, base64: {pin_block}");

    println!("\n== Client back end ==");
    let set = SetPinRequest {
        control_id: control.as_str().into(),
        pin_block,
    };
    println!("-> POST /pin/v3/set?auditUser=test");
    println!("   {}", serde_json::to_string(&set)?);
    let ok = pollster::block_on(api.set_pin(&set, "test"))?;
    println!("<- 200 {}", serde_json::to_string(&ok)?);
    let snapshot = api.issuer().cms().snapshot();
    if let Some(stored) = snapshot.contracts[&contract].plastics[0].pin.as_ref() {
        println!(
            "   CMS: ISO 0 block {} under {} (KCV {}); EMV scripts queued: {}",
            hex::encode_upper(stored.pin_block.as_bytes()),
            stored.zpk_index,
            stored.zpk_kcv,
            snapshot.emv_scripts.len()
        );
    }

    println!("\n== Replay of the same request ==");
    println!("-> POST /pin/v3/set?auditUser=test  (same controlId)");
    show(&api, pollster::block_on(api.set_pin(&set, "test")));

    println!("\n== An expired control ==");
    let late = pollster::block_on(api.issue_control(contract, plastic, ControlOperation::SetPin))?;
    println!("controlId {late} issued; the device waits 31 s before asking for its tzpk");
    clock.advance(Duration::from_secs(31));
    println!("-> POST /pin/v3/set/tzpk");
    show(
        &api,
        pollster::block_on(api.get_tzpk(&TzpkRequest {
            control_id: late.as_str().into(),
            public_key: device.public_key().to_base64(),
        })),
    );
    println!("-> POST /pin/v3/set?auditUser=test");
    show(
        &api,
        pollster::block_on(api.set_pin(
            &SetPinRequest {
                control_id: late.as_str().into(),
                pin_block: set.pin_block.clone(),
            },
            "test",
        )),
    );
    let after = api.issuer().cms().snapshot();
    println!(
        "\nCMS unchanged by the refused requests: {}",
        after == snapshot
    );
    Ok(())
}

fn show<T: std::fmt::Debug>(
    api: &EnfuceSetPin<MemoryCms, MemoryControlStore<ManualClock>>,
    result: Result<T, FlowError>,
) {
    match result {
        Ok(v) => println!("<- 200 {v:?}"),
        Err(e) => println!("<- {} {}", e.http_status(), api.error_body(&e).to_json()),
    }
}
