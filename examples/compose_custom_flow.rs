//! A third issuer's set-PIN flow, composed from the public layer crates only
//! (block, envelope, module, keys, cms), without `pinset-flow`:
//!
//! the device draws an AES-256 session key, wraps it under the issuer's RSA
//! key (OAEP SHA-256), and sends an ISO 9564-1 format 4 block enciphered
//! under it. The issuer's security module unwraps the session key into
//! itself and translates format 4 to format 0 under the zone PIN key; the
//! issuer stores the block in the CMS. Every key stays in the module.
//!
//! `cargo run --release --example compose_custom_flow`

use std::error::Error;
use std::time::Duration;

use pinset::block::{Format, Pan, Pin, iso4};
use pinset::cms::{
    CardManagement, ContractState, MemoryCms, PlasticStatus, StorePin, select_plastic,
};
use pinset::envelope::{AesKey, RsaPadding, RsaPublicKey};
use pinset::keys::{KeyIndex, KeyPurpose, NewKey, PublicKeyForm, RsaKeyRing, ZoneKeys, ZpkIndex};
use pinset::module::{
    KeyAlgorithm, PinSource, SecurityModule, SoftwareModule, TranslatePin, Wrapping,
};
use rand_core::{Rng, SeedableRng, TryRng};

/// What this issuer's device sends: its own wire format, not a seed's.
struct SessionSetPin {
    key_index: String,
    wrapped_session_key: Vec<u8>,
    iso4_block: Vec<u8>,
    card_expiry_date: &'static str,
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut seed = [0u8; 32];
    getrandom::SysRng.try_fill_bytes(&mut seed)?;
    let mut rng = chacha20::ChaCha20Rng::from_seed(seed);

    println!("== Issuer set-up (pinset-module, pinset-keys, pinset-cms) ==");
    // The issuer's keys live in its security module; the ring and the zone
    // directory hold handles.
    let module = SoftwareModule::new()?;
    // The key-transport key, generated in the module and tagged for key
    // encryption: the issuer never sees its private half.
    let transport = pollster::block_on(NewKey::generate(
        &module,
        KeyIndex::new("SESSION-2026")?,
        2048,
        KeyPurpose::KeyEncryption,
    ))?;
    let ring = RsaKeyRing::new();
    pollster::block_on(ring.rotate(transport, Duration::from_secs(3600)))?;
    let zone = ZoneKeys::new();
    let zpk_index = ZpkIndex::new("ZPK-CMS")?;
    let mut zpk_bytes = [0u8; 24];
    rng.fill_bytes(&mut zpk_bytes);
    let zpk = pollster::block_on(module.import_symmetric(
        KeyAlgorithm::Tdes3,
        KeyPurpose::PinEncryption,
        &zpk_bytes,
    ))?;
    zpk_bytes.fill(0);
    let kcv = zone.insert(zpk_index.clone(), zpk)?;
    println!("RSA-2048 key-transport key SESSION-2026; zone PIN key {zpk_index} KCV {kcv}");
    let cms = MemoryCms::new();
    let contract = "880001".parse()?;
    cms.add_contract(contract, Pan::new("4761739001010010")?, ContractState::OPEN);
    cms.add_plastic(
        contract,
        "1".parse()?,
        "2911".parse()?,
        PlasticStatus::Locked,
    );

    println!("\n== Device (knows the PAN: a full-PAN issuer's app) ==");
    // A key-transport key: published as such, never as a PIN key.
    let published =
        pollster::block_on(ring.publish_for(KeyPurpose::KeyEncryption, PublicKeyForm::DerHex))?;
    let issuer_key = RsaPublicKey::from_hex(&published.public_rsa_key)?;
    let mut session_bytes = [0u8; 32];
    rng.fill_bytes(&mut session_bytes);
    let session = AesKey::new(&session_bytes)?;
    session_bytes.fill(0);
    let pan = Pan::new("4761739001010010")?;
    let pin_field = iso4::encode_pin_field(&Pin::new("482915")?, &mut rng);
    let request = SessionSetPin {
        key_index: published.key_index.as_str().into(),
        wrapped_session_key: issuer_key.wrap_key(&session, RsaPadding::OaepSha256, &mut rng)?,
        iso4_block: session
            .encipher_iso4(&pin_field, &iso4::pan_field(&pan))
            .to_vec(),
        card_expiry_date: "2911",
    };
    drop((pin_field, session));
    println!("AES-256 session key drawn (KCV shown on the issuer side only after unwrap)");
    println!(
        "-> POST /custom/cards/{contract}/pin  {{keyIndex: {}, wrappedSessionKey: {} bytes, iso4Block: {}}}",
        request.key_index,
        request.wrapped_session_key.len(),
        hex::encode_upper(&request.iso4_block)
    );

    println!("\n== Issuer (pinset-module translate, pinset-cms store) ==");
    // The ring names the live key by index; it must be the key-transport key.
    let live = pollster::block_on(ring.live_key(&request.key_index))?;
    if live.purpose() != KeyPurpose::KeyEncryption {
        return Err("the key index names no key-transport key".into());
    }
    // The module unwraps the session key into itself, tagged for PIN
    // encryption: the issuer holds a handle, never the key.
    let session = pollster::block_on(module.import_wrapped(
        Wrapping::Rsa {
            key: live.key(),
            padding: live.padding(),
        },
        KeyAlgorithm::Aes256,
        KeyPurpose::PinEncryption,
        &request.wrapped_session_key,
    ))?;
    // The handle's check is `KCV …`.
    println!("session key unwrapped: AES-256, {}", session.check());
    let pan = pollster::block_on(cms.pan(contract))?;
    let zpk = zone.pin_key(&zpk_index)?;
    let translate = |format| {
        pollster::block_on(module.translate(&TranslatePin {
            source: PinSource::Symmetric {
                key: &session,
                format: Format::Iso4,
                block: &request.iso4_block,
            },
            destination: &zpk,
            format,
            pan: Some(&pan),
            policy: None,
        }))
    };
    let iso0 = translate(Format::Iso0)?;
    println!(
        "format 4 under the session key -> format 0 under {zpk_index}: {}",
        hex::encode_upper(iso0.as_bytes())
    );
    let refused = translate(Format::Iso1);
    println!(
        "format 4 -> format 1 (would drop the PAN binding): {}",
        refused.err().map(|e| e.to_string()).unwrap_or_default()
    );
    // One request, one session key.
    pollster::block_on(module.destroy(&session))?;

    let plastics = pollster::block_on(cms.plastics(contract))?;
    let plastic =
        select_plastic(&plastics, request.card_expiry_date.parse()?, None).ok_or("no plastic")?;
    let outcome = pollster::block_on(cms.store_pin(StorePin {
        contract,
        plastic: plastic.sequence,
        format: Format::Iso0,
        pin_block: iso0,
        zpk_index: zpk_index.as_str().into(),
        zpk_kcv: kcv,
        verification: None,
    }))?;
    println!("<- 204  CMS: {outcome:?}");
    let snapshot = cms.snapshot();
    let record = &snapshot.contracts[&contract];
    println!(
        "CMS: contract {contract} PAN {} plastic {} {:?} e-commerce {}; EMV scripts queued {}",
        record.pan,
        record.plastics[0].plastic.sequence,
        record.plastics[0].plastic.status,
        record.plastics[0].plastic.ecommerce_enabled,
        snapshot.emv_scripts.len()
    );
    Ok(())
}
