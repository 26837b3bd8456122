//! The software backend against the conformance suite.

mod conformance;

use pinset_envelope::RsaPadding;
use pinset_module::SoftwareModule;

#[test]
fn software_module_conforms() {
    let module = SoftwareModule::with_rng_seed([7; 32]);
    pollster::block_on(conformance::run(
        &module,
        conformance::Supports {
            rsa_paddings: &RsaPadding::ALL,
            rsa_generation: true,
            aes: true,
            tzpk_padding: RsaPadding::OaepSha256,
            export_wrapped: true,
            pin_verification: true,
            key_blocks: true,
        },
    ));
}

#[test]
fn a_module_from_the_os_generator_works_too() {
    let module = SoftwareModule::new().unwrap();
    assert_eq!(pinset_module::SecurityModule::name(&module), "software");
    assert!(format!("{module:?}").starts_with("SoftwareModule { keys: 0"));
}

/// Two instances that import the same key pair (from one wrapped backup, say)
/// name it alike, so a key ring in a shared store works on both; importing
/// it again is idempotent. Key: crates/envelope/tests/data/rsa2048_pkcs8.der.
#[test]
fn the_same_key_pair_has_the_same_handle_in_every_software_module() {
    use pinset_module::{KeyPurpose, SecurityModule};
    const DER: &[u8] = include_bytes!("../../envelope/tests/data/rsa2048_pkcs8.der");
    let (a, b) = (
        SoftwareModule::with_rng_seed([1; 32]),
        SoftwareModule::with_rng_seed([2; 32]),
    );
    pollster::block_on(async {
        let in_a = a
            .import_rsa_private(KeyPurpose::PinEncryption, DER)
            .await
            .unwrap();
        let in_b = b
            .import_rsa_private(KeyPurpose::PinEncryption, DER)
            .await
            .unwrap();
        assert_eq!(in_a, in_b);
        assert!(in_a.id().starts_with("sw-rsa-"));
        assert_eq!(
            a.import_rsa_private(KeyPurpose::PinEncryption, DER)
                .await
                .unwrap(),
            in_a
        );
        // Another purpose is another key in the module (one purpose per key).
        let kek = a
            .import_rsa_private(KeyPurpose::KeyEncryption, DER)
            .await
            .unwrap();
        assert_ne!(kek.id(), in_a.id());
        assert_eq!(
            a.rsa_public_key(&in_a).await.unwrap(),
            b.rsa_public_key(&in_b).await.unwrap()
        );
    });
}
