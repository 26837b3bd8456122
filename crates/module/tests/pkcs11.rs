//! The PKCS#11 backend against the conformance suite, on a real SoftHSM2 token.
//!
//! `eval "$(bash tests/softhsm/setup.sh)"` makes a throwaway token and sets
//! PINSET_PKCS11_MODULE, PINSET_PKCS11_TOKEN and PINSET_PKCS11_PIN. Without
//! them each test prints a notice and passes, except when `CI` is set: then
//! a missing token fails.
#![cfg(feature = "pkcs11")]

mod conformance;

use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use conformance::{PAN, RSA2048_PKCS8, Supports, TDES2, TDES3_ZPK};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::session::Session;
use pinset_block::{Format, Pan, Pin};
use pinset_envelope::rsa::RsaPrivateKey;
use pinset_envelope::{PinKey, RsaPadding, TdesKey};
use pinset_module::{
    ErrorClass, KeyAlgorithm, KeyPurpose, KeyRef, ModuleError, PinSource, Pkcs11Config,
    Pkcs11Module, SecurityModule, TranslatePin,
};
use rand_core::SeedableRng;
use zeroize::Zeroizing;

/// One test at a time: the fault test logs the token out, and a logout
/// destroys every private session object of the process.
static TOKEN: Mutex<()> = Mutex::new(());

fn token() -> Option<(MutexGuard<'static, ()>, Pkcs11Config)> {
    let guard = TOKEN.lock().unwrap_or_else(|e| e.into_inner());
    match Pkcs11Config::from_env() {
        Some(config) => Some((guard, config)),
        None if std::env::var_os("CI").is_some() => panic!(
            "CI is set but {}, {} or {} is not: tests/softhsm/setup.sh makes a token",
            Pkcs11Config::MODULE_VAR,
            Pkcs11Config::TOKEN_VAR,
            Pkcs11Config::PIN_VAR,
        ),
        None => {
            eprintln!(
                "notice: no PKCS#11 token configured; run `eval \"$(bash tests/softhsm/setup.sh)\"` \
                 to test the PKCS#11 backend. Skipped."
            );
            None
        }
    }
}

fn config_like(config: &Pkcs11Config, label: &str, pin: &str) -> Pkcs11Config {
    Pkcs11Config::new(config.module_path(), label, Zeroizing::new(pin.to_owned()))
}

fn env_pin() -> Zeroizing<String> {
    Zeroizing::new(std::env::var(Pkcs11Config::PIN_VAR).unwrap())
}

/// A session of this test's own, beside the module's: same process, same token.
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

fn attributes_of(session: &Session, label: &str, wanted: &[AttributeType]) -> Vec<Attribute> {
    let objects = session
        .find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .unwrap();
    assert_eq!(objects.len(), 1, "{label}");
    session.get_attributes(objects[0], wanted).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn rng(seed: u64) -> chacha20::ChaCha20Rng {
    chacha20::ChaCha20Rng::seed_from_u64(seed)
}

fn tdes(hex_key: &str) -> PinKey {
    PinKey::from(TdesKey::new(&unhex(hex_key)).unwrap())
}

/// Format 1 under `source` to format 0 under `destination`, and the PIN back.
async fn tzpk_to_zpk(m: &Pkcs11Module, source: &KeyRef, destination: &KeyRef) -> Vec<u8> {
    let pan = Pan::new(PAN).unwrap();
    let block = tdes(TDES2)
        .seal(Format::Iso1, &Pin::new("4041").unwrap(), None, &mut rng(1))
        .unwrap();
    let out = m
        .translate(&TranslatePin {
            source: PinSource::Symmetric {
                key: source,
                format: Format::Iso1,
                block: block.as_bytes(),
            },
            destination,
            format: Format::Iso0,
            pan: Some(&pan),
            policy: None,
        })
        .await
        .unwrap();
    tdes(TDES3_ZPK)
        .open(Format::Iso0, out.as_bytes(), Some(&pan))
        .unwrap()
        .expose_digits()
        .to_vec()
}

#[test]
fn pkcs11_module_conforms() {
    let Some((_token, config)) = token() else {
        return;
    };
    let module = Pkcs11Module::open(&config).unwrap();
    assert_eq!(module.name(), "pkcs11");
    pollster::block_on(conformance::run(
        &module,
        Supports {
            rsa_paddings: &[RsaPadding::OaepSha1, RsaPadding::Pkcs1v15],
            rsa_generation: true,
            aes: true,
            tzpk_padding: RsaPadding::OaepSha1,
            export_wrapped: false,
            pin_verification: false,
            key_blocks: false,
        },
    ));
    let printed = format!("{module:?} {config:?}");
    assert!(!printed.contains(&*env_pin()), "{printed}");
}

#[test]
fn oaep_sha256_is_unsupported_never_undecryptable() {
    let Some((_token, config)) = token() else {
        return;
    };
    let m = Pkcs11Module::open(&config).unwrap();
    pollster::block_on(async {
        let rsa = m
            .import_rsa_private(KeyPurpose::PinEncryption, RSA2048_PKCS8)
            .await
            .unwrap();
        let zpk = m
            .import_symmetric(
                KeyAlgorithm::Tdes3,
                KeyPurpose::PinEncryption,
                &unhex(TDES3_ZPK),
            )
            .await
            .unwrap();
        let public = m.rsa_public_key(&rsa).await.unwrap();
        let pan = Pan::new(PAN).unwrap();
        let good = public
            .seal(
                Format::Iso1,
                &Pin::new("7580").unwrap(),
                None,
                RsaPadding::OaepSha256,
                &mut rng(2),
            )
            .unwrap();
        let mut tampered = good.clone();
        tampered[9] ^= 1;
        // SoftHSM 2.6 answers C_DecryptInit with CKR_ARGUMENTS_BAD before it
        // reads the cryptogram: a good and a bad one get the same answer.
        for cryptogram in [&good, &tampered] {
            let err = m
                .translate(&TranslatePin {
                    source: PinSource::Rsa {
                        key: &rsa,
                        padding: RsaPadding::OaepSha256,
                        cryptogram,
                        format: Format::Iso1,
                    },
                    destination: &zpk,
                    format: Format::Iso0,
                    pan: Some(&pan),
                    policy: None,
                })
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    ModuleError::Unsupported {
                        module: "pkcs11",
                        what: "decrypting RSA-OAEP with SHA-256"
                    }
                ),
                "{err:?}"
            );
            assert_eq!(err.class(), ErrorClass::Unsupported);
            assert!(!err.is_retryable());
        }
        // Wrapping a tzpk for the device with OAEP SHA-256 is refused the same way.
        let device = RsaPrivateKey::from_der(RSA2048_PKCS8).unwrap().public_key();
        let err = m
            .generate_tzpk(&device, RsaPadding::OaepSha256)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ModuleError::Unsupported {
                    what: "wrapping keys with RSA-OAEP SHA-256",
                    ..
                }
            ),
            "{err:?}"
        );
        // PKCS#1 v1.5 wraps too.
        let (tzpk, wrapped) = m
            .generate_tzpk(&device, RsaPadding::Pkcs1v15)
            .await
            .unwrap();
        let clear = pinset_envelope::rsa::unwrap_tdes_key(
            &RsaPrivateKey::from_der(RSA2048_PKCS8).unwrap(),
            RsaPadding::Pkcs1v15,
            &wrapped,
        )
        .unwrap();
        assert_eq!(tzpk.check(), pinset_module::KeyCheck::Kcv(clear.kcv()));
    });
}

#[test]
fn keys_in_the_token_are_sensitive_and_stay_there() {
    let Some((_token, config)) = token() else {
        return;
    };
    let m = Pkcs11Module::open(&config).unwrap();
    let raw = raw_session(&config);
    pollster::block_on(async {
        let zpk = m
            .import_symmetric(
                KeyAlgorithm::Tdes3,
                KeyPurpose::PinEncryption,
                &unhex(TDES3_ZPK),
            )
            .await
            .unwrap();
        let rsa = m
            .import_rsa_private(KeyPurpose::PinEncryption, RSA2048_PKCS8)
            .await
            .unwrap();
        let device = RsaPrivateKey::from_der(RSA2048_PKCS8).unwrap().public_key();
        let (tzpk, _) = m
            .generate_tzpk(&device, RsaPadding::OaepSha1)
            .await
            .unwrap();
        let wanted = [
            AttributeType::Sensitive,
            AttributeType::Extractable,
            AttributeType::Token,
            AttributeType::Id,
            AttributeType::Wrap,
            AttributeType::Value,
            AttributeType::PrivateExponent,
        ];
        for key in [&zpk, &rsa, &tzpk] {
            let attributes = attributes_of(&raw, key.id(), &wanted);
            for expected in [
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Token(false),
                Attribute::Id(vec![1]),
            ] {
                assert!(attributes.contains(&expected), "{key}: {attributes:?}");
            }
            // A PIN key never wraps, so it cannot wrap another key out to decrypt it.
            if !matches!(key.algorithm(), KeyAlgorithm::Rsa { .. }) {
                assert!(attributes.contains(&Attribute::Wrap(false)), "{key}");
            }
            // The token will not show the value of a sensitive key.
            assert!(
                !attributes
                    .iter()
                    .any(|a| matches!(a, Attribute::Value(_) | Attribute::PrivateExponent(_))),
                "{key}: {attributes:?}"
            );
        }
        // The device key used for the wrap is gone again.
        let left = raw
            .find_objects(&[Attribute::Label(b"pinset-device-key".to_vec())])
            .unwrap();
        assert!(left.is_empty());
    });
}

#[test]
fn a_logged_out_token_is_unavailable_and_the_retry_logs_in_again() {
    let Some((_token, config)) = token() else {
        return;
    };
    let m = Pkcs11Module::open(&config).unwrap();
    pollster::block_on(async {
        let material = unhex(TDES2);
        let import =
            || m.import_symmetric(KeyAlgorithm::Tdes2, KeyPurpose::PinEncryption, &material);
        let before = import().await.unwrap();
        // Another session of this application logs the token out, which
        // also destroys every private session object (PKCS#11 C_Logout).
        raw_session(&config).logout().unwrap();
        let err = import().await.unwrap_err();
        assert!(
            matches!(&err, ModuleError::Unavailable { module: "pkcs11", reason } if reason.contains("CKR_USER_NOT_LOGGED_IN")),
            "{err:?}"
        );
        assert!(err.is_retryable());
        assert_eq!(err.class(), ErrorClass::Unavailable);
        // The retry logs in again and works; the key from before the logout is gone.
        let after = import().await.unwrap();
        let zpk = m
            .import_symmetric(
                KeyAlgorithm::Tdes3,
                KeyPurpose::PinEncryption,
                &unhex(TDES3_ZPK),
            )
            .await
            .unwrap();
        assert_eq!(tzpk_to_zpk(&m, &after, &zpk).await, b"4041");
        let pan = Pan::new(PAN).unwrap();
        let err = m
            .translate(&TranslatePin {
                source: PinSource::Symmetric {
                    key: &before,
                    format: Format::Iso1,
                    block: &[0; 8],
                },
                destination: &zpk,
                format: Format::Iso0,
                pan: Some(&pan),
                policy: None,
            })
            .await
            .unwrap_err();
        assert!(matches!(err, ModuleError::UnknownKey(_)), "{err:?}");
    });
}

#[test]
fn a_missing_token_library_or_wrong_pin_is_unavailable() {
    let Some((_token, config)) = token() else {
        return;
    };
    let pin = env_pin();
    for (bad, needle) in [
        (
            config_like(&config, "no-such-token", &pin),
            "CKR_TOKEN_NOT_PRESENT",
        ),
        (
            Pkcs11Config::new(
                "/nonexistent/libpkcs11.so",
                config.token_label(),
                pin.clone(),
            ),
            "cannot load",
        ),
        // No module of this process is open, so the token is logged out and the PIN is checked.
        (
            config_like(&config, config.token_label(), "0000wrong"),
            "CKR_PIN_INCORRECT",
        ),
    ] {
        let err = Pkcs11Module::open(&bad).unwrap_err();
        assert!(
            matches!(&err, ModuleError::Unavailable { module: "pkcs11", reason } if reason.contains(needle)),
            "{needle}: {err:?}"
        );
        assert!(!format!("{err} {err:?}").contains(&*pin));
    }
}

#[test]
fn a_key_loaded_with_pkcs11_tool_is_found_by_label() {
    let Some((_token, config)) = token() else {
        return;
    };
    if Command::new("pkcs11-tool")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but pkcs11-tool (opensc) is missing"
        );
        eprintln!("notice: pkcs11-tool (opensc) is missing. Skipped.");
        return;
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let label = format!("zpk-ext-{}-{nanos}", std::process::id());
    let dir = std::env::temp_dir().join(&label);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("zpk.bin");
    std::fs::write(&file, unhex(TDES3_ZPK)).unwrap();
    // The standard tool, the PIN through its environment, never its command line.
    let out = Command::new("pkcs11-tool")
        .arg("--module")
        .arg(config.module_path())
        .args(["--token-label", config.token_label()])
        .args(["--login", "--pin", "env:PINSET_TEST_PIN", "--write-object"])
        .arg(&file)
        .args([
            "--type",
            "secrkey",
            "--key-type",
            "DES3:24",
            "--label",
            &label,
        ])
        .args(["--id", "01", "--sensitive", "--private"])
        .env("PINSET_TEST_PIN", &*env_pin())
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let m = Pkcs11Module::open(&config).unwrap();
    pollster::block_on(async {
        let zpk = m
            .find_key(&label, KeyAlgorithm::Tdes3, KeyPurpose::PinEncryption)
            .await
            .unwrap();
        assert_eq!(zpk.id(), label);
        assert_eq!(zpk.check().to_string(), "KCV F3BF3A");
        let tzpk = m
            .import_symmetric(
                KeyAlgorithm::Tdes2,
                KeyPurpose::PinEncryption,
                &unhex(TDES2),
            )
            .await
            .unwrap();
        assert_eq!(tzpk_to_zpk(&m, &tzpk, &zpk).await, b"4041");

        // The purpose is on the object: another purpose, size or label is refused.
        let err = m
            .find_key(&label, KeyAlgorithm::Tdes3, KeyPurpose::DataEncryption)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                ModuleError::WrongPurpose {
                    expected: KeyPurpose::DataEncryption,
                    found: KeyPurpose::PinEncryption,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = m
            .find_key(&label, KeyAlgorithm::Tdes2, KeyPurpose::PinEncryption)
            .await
            .unwrap_err();
        assert!(matches!(err, ModuleError::WrongAlgorithm { .. }), "{err:?}");
        let err = m
            .find_key(
                "no-such-label",
                KeyAlgorithm::Tdes3,
                KeyPurpose::PinEncryption,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, ModuleError::UnknownKey(_)), "{err:?}");
        let relabelled = KeyRef::new(
            zpk.id(),
            zpk.algorithm(),
            KeyPurpose::DataEncryption,
            zpk.check(),
        );
        assert!(matches!(
            m.destroy(&relabelled).await,
            Err(ModuleError::WrongPurpose { .. })
        ));

        // A token object outlives the module: a fresh one takes the stored handle.
        drop(m);
        let again = Pkcs11Module::open(&config).unwrap();
        let tzpk = again
            .import_symmetric(
                KeyAlgorithm::Tdes2,
                KeyPurpose::PinEncryption,
                &unhex(TDES2),
            )
            .await
            .unwrap();
        assert_eq!(tzpk_to_zpk(&again, &tzpk, &zpk).await, b"4041");
        again.destroy(&zpk).await.unwrap();
        assert!(matches!(
            again
                .find_key(&label, KeyAlgorithm::Tdes3, KeyPurpose::PinEncryption)
                .await,
            Err(ModuleError::UnknownKey(_))
        ));
    });
}

#[test]
fn token_objects_outlive_the_module_when_asked() {
    let Some((_token, config)) = token() else {
        return;
    };
    let persistent = config_like(&config, config.token_label(), &env_pin()).token_objects(true);
    let zpk = {
        let m = Pkcs11Module::open(&persistent).unwrap();
        pollster::block_on(m.import_symmetric(
            KeyAlgorithm::Tdes3,
            KeyPurpose::PinEncryption,
            &unhex(TDES3_ZPK),
        ))
        .unwrap()
    };
    let m = Pkcs11Module::open(&config).unwrap();
    pollster::block_on(async {
        let tzpk = m
            .import_symmetric(
                KeyAlgorithm::Tdes2,
                KeyPurpose::PinEncryption,
                &unhex(TDES2),
            )
            .await
            .unwrap();
        assert_eq!(tzpk_to_zpk(&m, &tzpk, &zpk).await, b"4041");
        m.destroy(&zpk).await.unwrap();
        // A session key of a dropped module is gone with its session.
        drop(m);
        let m = Pkcs11Module::open(&config).unwrap();
        assert!(matches!(
            m.destroy(&tzpk).await,
            Err(ModuleError::UnknownKey(_))
        ));
    });
}

#[test]
fn threads_share_one_module() {
    let Some((_token, config)) = token() else {
        return;
    };
    let m = Pkcs11Module::open(&config).unwrap();
    let (tzpk, zpk) = pollster::block_on(async {
        (
            m.import_symmetric(
                KeyAlgorithm::Tdes2,
                KeyPurpose::PinEncryption,
                &unhex(TDES2),
            )
            .await
            .unwrap(),
            m.import_symmetric(
                KeyAlgorithm::Tdes3,
                KeyPurpose::PinEncryption,
                &unhex(TDES3_ZPK),
            )
            .await
            .unwrap(),
        )
    });
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..25 {
                    assert_eq!(pollster::block_on(tzpk_to_zpk(&m, &tzpk, &zpk)), b"4041");
                }
            });
        }
    });
}
