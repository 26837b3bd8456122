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
        },
    ));
}

#[test]
fn a_module_from_the_os_generator_works_too() {
    let module = SoftwareModule::new().unwrap();
    assert_eq!(pinset_module::SecurityModule::name(&module), "software");
    assert!(format!("{module:?}").starts_with("SoftwareModule { keys: 0"));
}
