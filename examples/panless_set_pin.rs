//! Mastercard Processing: set a PIN for a PAN-less issuer, device and issuer
//! in one process, on the Mastercard Processing sandbox data.
//!
//! `cargo run --release --example panless_set_pin`
//!
//! The transcript shows HTTP-shaped requests and responses. PANs are masked;
//! PINs and key bytes never appear, keys are named by their KCV or fingerprint.

use std::error::Error;
use std::time::Duration;

use pinset::block::{Format, Pin};
use pinset::cms::{CardManagement, ContractState, MemoryCms, PlasticStatus};
use pinset::envelope::{RsaPadding, RsaPublicKey};
use pinset::flow::mastercard::SetPinRequest;
use pinset::flow::wire::MastercardErrorBody;
use pinset::flow::{Issuer, MastercardPanless, MemoryAudit};
use pinset::keys::{KeyIndex, KeyPurpose, NewKey, RsaKeyRing, ZoneKeys, ZpkIndex};
use pinset::module::{KeyAlgorithm, SecurityModule, SoftwareModule};
use rand_core::{SeedableRng, TryRng};

/// Mastercard Processing sandbox data (public developer docs; shared/vectors/iso9564.json).
const KEY_INDEX: &str = "A1564386531162";
const SANDBOX_ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
const CARDS: [(&str, &str, &str); 5] = [
    ("70001", "7580", "5141576351968605"),
    ("70002", "5336", "5185410084016382"),
    ("70003", "2360", "5115795782050849"),
    ("70004", "3011", "5128839686355014"),
    ("70005", "4041", "5121876475234064"),
];
const EXPIRY: &str = "2812";

fn main() -> Result<(), Box<dyn Error>> {
    let mut seed = [0u8; 32];
    getrandom::SysRng.try_fill_bytes(&mut seed)?;
    let mut rng = chacha20::ChaCha20Rng::from_seed(seed);

    println!("== Issuer set-up ==");
    let cms = MemoryCms::new();
    for (i, (contract, _, pan)) in CARDS.iter().enumerate() {
        let id = contract.parse()?;
        cms.add_contract(id, pinset::block::Pan::new(pan)?, ContractState::OPEN);
        // The first card also has an older plastic, to show the plastic selection.
        if i == 0 {
            cms.add_plastic(id, "1".parse()?, "2512".parse()?, PlasticStatus::Active);
        }
        cms.add_plastic(id, "2".parse()?, EXPIRY.parse()?, PlasticStatus::Locked);
    }
    // Every key lives in the security module; the zone directory, the ring
    // and the flow hold handles only.
    let module = SoftwareModule::new()?;
    let zone = ZoneKeys::new();
    let zpk_index = ZpkIndex::new("ZPK-CMS")?;
    let zpk = pollster::block_on(module.import_symmetric(
        KeyAlgorithm::Tdes3,
        KeyPurpose::PinEncryption,
        &hex::decode(SANDBOX_ZPK)?,
    ))?;
    let kcv = zone.insert(zpk_index.clone(), zpk)?;
    println!("zone PIN key {zpk_index}: 3-key TDES, KCV {kcv}");
    let ring = RsaKeyRing::new();
    let new_key = pollster::block_on(NewKey::generate(
        &module,
        KeyIndex::new(KEY_INDEX)?,
        2048,
        KeyPurpose::PinEncryption,
    ))?;
    pollster::block_on(ring.rotate(new_key, Duration::from_secs(24 * 3600)))?;
    println!("RSA-2048 key pair generated under key index {KEY_INDEX}");
    let audit = std::sync::Arc::new(MemoryAudit::new());
    let issuer = Issuer::new(cms, module, zone, zpk_index)?.with_audit(audit.clone());
    let mp = MastercardPanless::new(issuer, ring);

    println!("\n== Device: fetch the PIN-block key ==");
    println!("-> GET /public-keys?data_type_to_secure=PIN_BLOCK");
    let published = pollster::block_on(mp.public_keys("PIN_BLOCK"))?;
    let device_key = RsaPublicKey::from_hex(&published.public_rsa_key)?;
    println!(
        "<- 200 {{\"keyIndex\":\"{}\",\"publicRsaKey\":\"{}…\"}}  (DER SPKI hex, {} bytes, fingerprint {})",
        published.key_index,
        &published.public_rsa_key[..24],
        published.public_rsa_key.len() / 2,
        device_key.fingerprint()
    );

    let (contract, pin, _) = CARDS[0];
    println!("\n== Device: set the PIN of contract {contract} ==");
    println!(
        "cardholder types the new PIN; the app builds an ISO 9564 format 1 block (random fill)"
    );
    println!(
        "and seals it with RSA-OAEP SHA-256 under key index {}",
        published.key_index
    );
    let body = device_request(&device_key, pin, None, &mut rng)?;
    println!("-> PUT /cards/{contract}/pin");
    println!("   Key-Index: {}", published.key_index);
    println!(
        "   {{\"newPinBlock\":\"{}…({} hex digits)\",\"cardExpiryDate\":\"{}\"}}",
        &body.new_pin_block[..16],
        body.new_pin_block.len(),
        body.card_expiry_date
    );
    let done = pollster::block_on(mp.set_pin(contract, Some(&published.key_index), &body))?;
    println!("<- {} No Content", done.http_status);
    println!(
        "   CMS: stored={} emv_script_queued={} plastic_activated={}",
        done.cms.stored, done.cms.emv_script_queued, done.cms.plastic_activated
    );

    println!("\n== The same request sent again is a replay ==");
    let err = pollster::block_on(mp.set_pin(contract, Some(&published.key_index), &body))
        .err()
        .ok_or("replayed request was accepted")?;
    println!("-> PUT /cards/{contract}/pin  (the captured request, byte for byte)");
    println!(
        "<- {} {}",
        err.http_status(),
        MastercardErrorBody::new(&err).to_json()
    );

    println!("\n== A tampered request gets one uniform answer ==");
    let mut tampered = body.clone();
    tampered.new_pin_block.replace_range(40..42, "00");
    let err = pollster::block_on(mp.set_pin(contract, Some(&published.key_index), &tampered))
        .err()
        .ok_or("tampered block was accepted")?;
    println!("-> PUT /cards/{contract}/pin  (one cryptogram byte changed)");
    println!(
        "<- {} {}",
        err.http_status(),
        MastercardErrorBody::new(&err).to_json()
    );
    let err = pollster::block_on(mp.set_pin(contract, Some("B0000000000001"), &body))
        .err()
        .ok_or("unknown key index was accepted")?;
    println!("-> PUT /cards/{contract}/pin  (Key-Index B0000000000001, never issued)");
    println!(
        "<- {} {}",
        err.http_status(),
        MastercardErrorBody::new(&err).to_json()
    );

    println!("\n== The other sandbox cards ==");
    for (contract, pin, _) in &CARDS[1..] {
        let body = device_request(&device_key, pin, Some("2"), &mut rng)?;
        let done = pollster::block_on(mp.set_pin(contract, Some(&published.key_index), &body))?;
        println!("PUT /cards/{contract}/pin -> {}", done.http_status);
    }

    println!("\n== CMS state after ==");
    let cms = mp.issuer().cms();
    let snapshot = cms.snapshot();
    for (id, record) in &snapshot.contracts {
        println!("contract {id}  PAN {}", record.pan);
        for p in &record.plastics {
            let pin = match &p.pin {
                Some(stored) => format!(
                    "ISO 0 block {} under {} (KCV {})",
                    hex::encode_upper(stored.pin_block.as_bytes()),
                    stored.zpk_index,
                    stored.zpk_kcv
                ),
                None => "no PIN".into(),
            };
            println!(
                "  plastic {} exp {}  {:?}  e-commerce/token {}  {pin}",
                p.plastic.sequence,
                p.plastic.expiry,
                p.plastic.status,
                if p.plastic.ecommerce_enabled {
                    "enabled"
                } else {
                    "off"
                }
            );
        }
    }
    println!(
        "EMV scripts queued (sync the chip's offline PIN on the next contact online transaction):"
    );
    for s in &snapshot.emv_scripts {
        println!(
            "  {:?} for contract {} plastic {}",
            s.command, s.contract, s.plastic
        );
    }
    // The CMS trait is what the flow used; the same data is there for any caller.
    let plastics = pollster::block_on(cms.plastics(CARDS[0].0.parse()?))?;
    assert!(
        plastics
            .iter()
            .any(|p| p.ecommerce_enabled && p.status == PlasticStatus::Locked)
    );

    println!("\n== Audit trail ==");
    for e in audit.events() {
        println!(
            "{} {:?} contract={} plastic={} pan={} key_index={} -> {}",
            e.at,
            e.operation,
            e.contract
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            e.plastic
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            e.masked_pan
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            e.key_index.as_ref().map_or("-", |k| k.as_str()),
            e.outcome
        );
    }
    Ok(())
}

/// The device's side: the PIN as an ISO format 1 block, sealed with
/// RSA-OAEP SHA-256 under the published key, in the seed's request body.
fn device_request(
    key: &RsaPublicKey,
    pin: &str,
    card_sequence_number: Option<&str>,
    rng: &mut chacha20::ChaCha20Rng,
) -> Result<SetPinRequest, Box<dyn Error>> {
    let cryptogram = key.seal(
        Format::Iso1,
        &Pin::new(pin)?,
        None,
        RsaPadding::OaepSha256,
        rng,
    )?;
    Ok(SetPinRequest {
        new_pin_block: hex::encode_upper(cryptogram),
        card_expiry_date: EXPIRY.into(),
        card_sequence_number: card_sequence_number.map(Into::into),
    })
}
