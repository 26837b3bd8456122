//! The Mastercard Processing flow on a real SoftHSM2 token, and what a
//! token outage does to it.
//!
//! `eval "$(bash tests/softhsm/setup.sh)"` makes a throwaway token. Without
//! it the test prints a notice and passes, except when `CI` is set: then a
//! missing token fails.
//!
//! Vectors: the Mastercard Processing sandbox (ZPK, KCV `F3BF3A`, card 70001
//! with PIN 7580 and PAN 5141576351968605): `shared/vectors/iso9564.json`,
//! "mastercard_sandbox". RSA: the OpenSSL 3.0.19 key
//! `crates/envelope/tests/data/rsa2048_pkcs8.der`. SoftHSM 2.6.1 has no
//! OAEP-SHA-256, so the ring's key is registered for OAEP-SHA-1.

use std::sync::Arc;
use std::time::Duration;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::session::Session;
use pinset::block::{Format, Pan, Pin};
use pinset::cms::{ContractState, MemoryCms, PlasticStatus};
use pinset::envelope::{PinKey, RsaPadding, RsaPublicKey, TdesKey};
use pinset::flow::mastercard::SetPinRequest;
use pinset::flow::{Issuer, MastercardPanless, Reason};
use pinset::keys::{KeyIndex, KeyPurpose, NewKey, RsaKeyRing, ZoneKeys, ZpkIndex};
use pinset::module::{KeyAlgorithm, Pkcs11Config, Pkcs11Module, SecurityModule};
use rand_core::SeedableRng;

const ZPK_HEX: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
const RSA2048_PKCS8: &[u8] = include_bytes!("../crates/envelope/tests/data/rsa2048_pkcs8.der");
const CONTRACT: &str = "70001";
const PIN: &str = "7580";
const PAN: &str = "5141576351968605";

fn config() -> Option<Pkcs11Config> {
    match Pkcs11Config::from_env() {
        Some(config) => Some(config.token_objects(true)),
        None if std::env::var_os("CI").is_some() => {
            panic!("CI is set but no PKCS#11 token is: tests/softhsm/setup.sh makes one")
        }
        None => {
            eprintln!("notice: no PKCS#11 token configured (tests/softhsm/setup.sh). Skipped.");
            None
        }
    }
}

/// Another session of this application, as a second process would log out.
fn raw_session(config: &Pkcs11Config) -> Session {
    let ctx = Pkcs11::new(config.module_path()).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label() == config.token_label())
        .unwrap();
    ctx.open_rw_session(slot).unwrap()
}

#[test]
fn mastercard_set_pin_on_softhsm_survives_a_token_outage() {
    let Some(config) = config() else {
        return;
    };
    let module = Arc::new(Pkcs11Module::open(&config).unwrap());
    pollster::block_on(async {
        // Keys go into the token; the host keeps handles.
        let rsa_key = module
            .import_rsa_private(KeyPurpose::PinEncryption, RSA2048_PKCS8)
            .await
            .unwrap();
        let zpk = module
            .import_symmetric(
                KeyAlgorithm::Tdes3,
                KeyPurpose::PinEncryption,
                &hex::decode(ZPK_HEX).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(zpk.check().to_string(), "KCV F3BF3A");
        let zone = ZoneKeys::new();
        let cms_zpk = ZpkIndex::new("ZPK-CMS").unwrap();
        zone.insert(cms_zpk.clone(), zpk.clone()).unwrap();
        let ring = RsaKeyRing::new();
        let new_key = NewKey::from_module(
            &module,
            KeyIndex::new("A1564386531162").unwrap(),
            rsa_key.clone(),
        )
        .await
        .unwrap()
        .with_padding(RsaPadding::OaepSha1);
        ring.rotate(new_key, Duration::ZERO).await.unwrap();

        let cms = MemoryCms::new();
        let contract = CONTRACT.parse().unwrap();
        cms.add_contract(contract, Pan::new(PAN).unwrap(), ContractState::OPEN);
        assert!(cms.add_plastic(
            contract,
            "1".parse().unwrap(),
            "2812".parse().unwrap(),
            PlasticStatus::Locked
        ));
        let flow = MastercardPanless::new(
            Issuer::new(cms, Arc::clone(&module), zone, cms_zpk).unwrap(),
            ring,
        );

        // The device side: format 1 under the published key, OAEP-SHA-1.
        let published = flow.public_keys("PIN_BLOCK").await.unwrap();
        let device_key = RsaPublicKey::from_hex(&published.public_rsa_key).unwrap();
        let mut device = chacha20::ChaCha20Rng::seed_from_u64(5);
        let mut seal = || SetPinRequest {
            new_pin_block: hex::encode_upper(
                device_key
                    .seal(
                        Format::Iso1,
                        &Pin::new(PIN).unwrap(),
                        None,
                        RsaPadding::OaepSha1,
                        &mut device,
                    )
                    .unwrap(),
            ),
            card_expiry_date: "2812".into(),
            card_sequence_number: None,
        };

        // The token goes away under the flow: another session logs it out.
        let before = flow.issuer().cms().snapshot();
        raw_session(&config).logout().unwrap();
        let e = flow
            .set_pin(CONTRACT, Some(&published.key_index), &seal())
            .await
            .unwrap_err();
        assert_eq!(e.reason(), Reason::IntegrationError, "{:?}", e.detail());
        assert_eq!(e.http_status(), 500);
        assert!(e.reason().recoverable());
        assert_eq!(
            flow.issuer().cms().snapshot(),
            before,
            "an outage changed the CMS"
        );

        // Back: the module logs in again, the token objects are still there,
        // and the next set PIN goes through without rebuilding anything.
        let outcome = flow
            .set_pin(CONTRACT, Some(&published.key_index), &seal())
            .await
            .unwrap();
        assert_eq!(outcome.http_status, 204);
        let stored = flow.issuer().cms().snapshot().contracts[&contract].plastics[0]
            .pin
            .clone()
            .expect("a PIN was stored");
        assert_eq!(stored.zpk_kcv.to_string(), "F3BF3A");
        let clear_zpk = PinKey::from(TdesKey::new(&hex::decode(ZPK_HEX).unwrap()).unwrap());
        let pin = clear_zpk
            .open(
                Format::Iso0,
                stored.pin_block.as_bytes(),
                Some(&Pan::new(PAN).unwrap()),
            )
            .unwrap();
        assert_eq!(pin.expose_digits(), PIN.as_bytes());

        // The token objects outlive this test unless destroyed.
        module.destroy(&rsa_key).await.unwrap();
        module.destroy(&zpk).await.unwrap();
    });
}
