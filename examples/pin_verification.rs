//! PIN verification values: keys that arrive as TR-31 key blocks, a set
//! PIN that hands the CMS a Visa PVV beside the format 0 block, and an
//! authorisation host that verifies entered PINs against the stored PVV,
//! all inside the security module.
//!
//! `cargo run --release --example pin_verification`
//!
//! The transcript names keys by KCV and PANs masked; it shows no PIN, key,
//! PVV or clear block.

use std::error::Error;
use std::time::Duration;

use pinset::block::{Format, Pan, Pin};
use pinset::cms::{ContractState, MemoryCms, PlasticStatus};
use pinset::envelope::{PinKey, RsaPadding, RsaPublicKey, TdesKey};
use pinset::flow::mastercard::SetPinRequest;
use pinset::flow::{Issuer, MastercardPanless};
use pinset::keys::{KeyIndex, KeyPurpose, NewKey, RsaKeyRing, ZoneKeys, ZpkIndex};
use pinset::module::tr31::{
    self, Algorithm, Exportability, Header, Kbpk, KeyUsage, ModeOfUse, Version,
};
use pinset::module::verify::{Pvki, VerificationMethod};
use pinset::module::{
    KeyAlgorithm, PinSource, PinVerified, SecurityModule, SoftwareModule, VerifyPin,
};
use rand_core::{Rng, SeedableRng, TryRng};

/// The processor's key ceremony: a KBPK shared with the issuer, and the
/// keys it sends under it. Example values (the KBPK is ANSI TR-31:2018
/// annex A.7.4's; the PVK is psec's test PVK; the ZPK is the Mastercard
/// Processing sandbox ZPK from shared/vectors/iso9564.json).
const KBPK: &str = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6";
const ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
const PVK: &str = "0123456789ABCDEFFEDCBA9876543210";
const CONTRACT: &str = "70001";
const PAN: &str = "5141576351968605";
const EXPIRY: &str = "2812";

fn main() -> Result<(), Box<dyn Error>> {
    let mut seed = [0u8; 32];
    getrandom::SysRng.try_fill_bytes(&mut seed)?;
    let mut rng = chacha20::ChaCha20Rng::from_seed(seed);

    println!("== The processor sends keys as TR-31 key blocks ==");
    let processor_kbpk = Kbpk::aes(&hex::decode(KBPK)?)?;
    let zpk_block = tr31::wrap(
        &processor_kbpk,
        &Header::new(
            Version::D,
            KeyUsage::PIN_ENCRYPTION,
            Algorithm::TDES,
            ModeOfUse::BOTH,
            "00",
            Exportability::NON_EXPORTABLE,
        )?,
        &hex::decode(ZPK)?,
        &mut rng,
    )?;
    let pvk_block = tr31::wrap(
        &processor_kbpk,
        &Header::new(
            Version::D,
            KeyUsage::PIN_VERIFICATION_VISA_PVV,
            Algorithm::TDES,
            ModeOfUse::GENERATE_VERIFY,
            "01",
            Exportability::NON_EXPORTABLE,
        )?,
        &hex::decode(PVK)?,
        &mut rng,
    )?;
    println!(
        "ZPK block {}… ({} characters)",
        &zpk_block[..16],
        zpk_block.len()
    );
    println!(
        "PVK block {}… ({} characters)",
        &pvk_block[..16],
        pvk_block.len()
    );

    println!("\n== The issuer imports them into its security module ==");
    let module = SoftwareModule::new()?;
    // In production the KBPK itself arrives in components or wrapped; here it is clear.
    let kbpk = pollster::block_on(module.import_symmetric(
        KeyAlgorithm::Aes256,
        KeyPurpose::KeyBlockProtection,
        &hex::decode(KBPK)?,
    ))?;
    let zpk = pollster::block_on(module.import_key_block(
        &kbpk,
        KeyAlgorithm::Tdes3,
        KeyPurpose::PinEncryption,
        &zpk_block,
    ))?;
    let pvk = pollster::block_on(module.import_key_block(
        &kbpk,
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinVerificationVisa,
        &pvk_block,
    ))?;
    println!("P0 block -> zone PIN key, {}", zpk.check());
    println!("V2 block -> Visa PVK, {}", pvk.check());
    let misfit = pollster::block_on(module.import_key_block(
        &kbpk,
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinEncryption,
        &pvk_block,
    ))
    .err()
    .ok_or("a PVK was accepted as a PIN key")?;
    println!("V2 block into a PIN-encryption slot -> refused: {misfit}");
    let mut tampered = pvk_block.clone();
    tampered.replace_range(40..41, if &pvk_block[40..41] == "0" { "1" } else { "0" });
    let altered = pollster::block_on(module.import_key_block(
        &kbpk,
        KeyAlgorithm::Tdes2,
        KeyPurpose::PinVerificationVisa,
        &tampered,
    ))
    .err()
    .ok_or("a tampered block was accepted")?;
    println!("the V2 block with one character changed -> refused: {altered}");

    println!("\n== A set PIN hands the CMS a Visa PVV beside the block ==");
    let cms = MemoryCms::new();
    cms.add_contract(CONTRACT.parse()?, Pan::new(PAN)?, ContractState::OPEN);
    cms.add_plastic(
        CONTRACT.parse()?,
        "1".parse()?,
        EXPIRY.parse()?,
        PlasticStatus::Locked,
    );
    let zone = ZoneKeys::new();
    let zpk_index = ZpkIndex::new("ZPK-CMS")?;
    zone.insert(zpk_index.clone(), zpk.clone())?;
    let method = VerificationMethod::VisaPvv {
        pvki: Pvki::new(1)?,
    };
    let issuer = pollster::block_on(
        Issuer::new(cms, module, zone, zpk_index)?.with_verification(pvk.clone(), method),
    )?;
    let ring = RsaKeyRing::new();
    let key = pollster::block_on(NewKey::generate(
        issuer.module(),
        KeyIndex::new("A1564386531162")?,
        2048,
        KeyPurpose::PinEncryption,
    ))?;
    pollster::block_on(ring.rotate(key, Duration::from_secs(3600)))?;
    let mp = MastercardPanless::new(issuer, ring);
    let published = pollster::block_on(mp.public_keys("PIN_BLOCK"))?;
    let device_key = RsaPublicKey::from_hex(&published.public_rsa_key)?;
    let mut new_pin = String::new();
    for _ in 0..6 {
        new_pin.push(char::from(b'0' + (rng.next_u32() % 10) as u8));
    }
    let cryptogram = device_key.seal(
        Format::Iso1,
        &Pin::new(&new_pin)?,
        None,
        RsaPadding::OaepSha256,
        &mut rng,
    )?;
    let body = SetPinRequest {
        new_pin_block: hex::encode_upper(cryptogram),
        card_expiry_date: EXPIRY.into(),
        card_sequence_number: None,
    };
    let done = pollster::block_on(mp.set_pin(CONTRACT, Some(&published.key_index), &body))?;
    println!("PUT /cards/{CONTRACT}/pin -> {}", done.http_status);
    let snapshot = mp.issuer().cms().snapshot();
    let stored = snapshot.contracts[&CONTRACT.parse()?].plastics[0]
        .pin
        .clone()
        .ok_or("no PIN stored")?;
    let record = stored.verification.ok_or("no PVV stored")?;
    println!(
        "CMS keeps: format 0 block under {} (KCV {}), and a {}-digit PVV with {:?} under PVK KCV {}",
        stored.zpk_index,
        stored.zpk_kcv,
        record.value.expose_str().len(),
        record.method,
        record.pvk_kcv
    );

    println!("\n== The authorisation host verifies entered PINs against the PVV ==");
    let pan = Pan::new(PAN)?;
    // The acquirer's terminal enciphers what the cardholder types as format 0 under the ZPK.
    let terminal = PinKey::from(TdesKey::new(&hex::decode(ZPK)?)?);
    let mut wrong = new_pin.clone().into_bytes();
    wrong[0] = b'0' + (wrong[0] - b'0' + 1) % 10;
    for (what, digits) in [
        ("the new PIN", new_pin.clone()),
        ("another PIN", String::from_utf8(wrong)?),
    ] {
        let block = terminal.seal(Format::Iso0, &Pin::new(&digits)?, Some(&pan), &mut rng)?;
        let verdict = pollster::block_on(mp.issuer().module().verify_pin(&VerifyPin {
            source: PinSource::Symmetric {
                key: &zpk,
                format: Format::Iso0,
                block: block.as_bytes(),
            },
            pan: &pan,
            pvk: &pvk,
            method: &record.method,
            value: &record.value,
        }))?;
        println!("{what} ({}): {verdict:?}", pan.masked());
        let expected = if what == "the new PIN" {
            PinVerified::Match
        } else {
            PinVerified::Mismatch
        };
        if verdict != expected {
            return Err("verification gave the wrong answer".into());
        }
    }

    println!("\n== Keys marked non-exportable stay in the module ==");
    let export = pollster::block_on(mp.issuer().module().export_key_block(
        &pvk,
        &kbpk,
        &Default::default(),
    ))
    .err()
    .ok_or("a non-exportable PVK was exported")?;
    println!("export the PVK as a TR-31 block -> refused: {export}");
    Ok(())
}
