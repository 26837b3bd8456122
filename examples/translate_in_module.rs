//! The security-module seam on its own: the issuer's keys live in a module,
//! the calling code holds handles, and a device's RSA cryptogram becomes an
//! ISO format 0 block under the zone PIN key without the PIN or a key
//! crossing the seam. (Where the keys and the clear block live is the
//! module's: in process memory for the software module, in the token for
//! PKCS#11, whose generic mechanisms still pass the clear block through host
//! memory; see `pinset-module`.)
//!
//! The module is a PKCS#11 token when `PINSET_PKCS11_{MODULE,TOKEN,PIN}` name
//! one (`eval "$(bash tests/softhsm/setup.sh)"` makes a SoftHSM token), and
//! the software module with its aws-lc RSA engine otherwise.
//!
//! `cargo run --release --example translate_in_module`

use std::error::Error;

use pinset::block::{Format, Pan, Pin};
use pinset::envelope::{PinKey, RsaPadding, TdesKey};
use pinset::module::{
    ErrorClass, KeyAlgorithm, KeyPurpose, PinPolicy, PinSource, Pkcs11Config, Pkcs11Module,
    SecurityModule, SoftwareModule, TranslatePin,
};
use rand_core::{SeedableRng, TryRng};

/// The Mastercard Processing sandbox ZPK (shared/vectors/iso9564.json): the
/// CMS's zone PIN key, KCV F3BF3A.
const ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";

fn main() -> Result<(), Box<dyn Error>> {
    match Pkcs11Config::from_env() {
        Some(config) => {
            // SoftHSM 2.6 has no RSA-OAEP with SHA-256.
            run(&Pkcs11Module::open(&config)?, RsaPadding::OaepSha1)
        }
        None => run(&SoftwareModule::new_aws_lc()?, RsaPadding::OaepSha256),
    }
}

fn run<M: SecurityModule>(module: &M, padding: RsaPadding) -> Result<(), Box<dyn Error>> {
    pollster::block_on(async {
        println!(
            "== Issuer: keys in the {} security module ==",
            module.name()
        );
        let (rsa_key, public) = module.generate_rsa(2048, KeyPurpose::PinEncryption).await?;
        let zpk = module
            .import_symmetric(
                KeyAlgorithm::Tdes3,
                KeyPurpose::PinEncryption,
                &hex::decode(ZPK)?,
            )
            .await?;
        println!("RSA key: {rsa_key}");
        println!("zone PIN key: {zpk}");

        println!("\n== Device: seals ISO format 1 under the published key ({padding}) ==");
        let mut seed = [0u8; 32];
        getrandom::SysRng.try_fill_bytes(&mut seed)?;
        let mut rng = chacha20::ChaCha20Rng::from_seed(seed);
        let pan = Pan::new("5141576351968605")?;
        let seal = |digits: &str, rng: &mut chacha20::ChaCha20Rng| {
            public.seal(Format::Iso1, &Pin::new(digits)?, None, padding, rng)
        };
        let cryptogram = seal("7580", &mut rng)?;
        println!("{} bytes", cryptogram.len());

        println!("\n== Issuer: translate inside the module, PIN policy checked there ==");
        let policy = PinPolicy::default().rejecting_weak_pins(true);
        let translate = |cryptogram: Vec<u8>| {
            let request = (&rsa_key, &zpk, &pan, &policy);
            async move {
                let (rsa_key, zpk, pan, policy) = request;
                module
                    .translate(&TranslatePin {
                        source: PinSource::Rsa {
                            key: rsa_key,
                            padding,
                            cryptogram: &cryptogram,
                            format: Format::Iso1,
                        },
                        destination: zpk,
                        format: Format::Iso0,
                        pan: Some(pan),
                        policy: Some(policy),
                    })
                    .await
            }
        };
        let block = translate(cryptogram.clone()).await?;
        // Only this example knows the ZPK in the clear, to show the result.
        let check = PinKey::from(TdesKey::new(&hex::decode(ZPK)?)?);
        let opened = check
            .open(Format::Iso0, block.as_bytes(), Some(&pan))
            .is_ok();
        println!(
            "format 0 under the zone PIN key, {} bytes, for the CMS: opens under KCV {}: {opened}",
            block.as_bytes().len(),
            check.kcv()
        );

        let weak = translate(seal("1111", &mut rng)?).await.err();
        let mut tampered = cryptogram.clone();
        tampered[17] ^= 1;
        let bad = translate(tampered).await.err();
        for (what, err) in [("a weak PIN", weak), ("a tampered cryptogram", bad)] {
            let class = err.as_ref().map(|e| e.class());
            println!(
                "{what}: {:?} ({})",
                class,
                err.map(|e| e.to_string()).unwrap_or_default()
            );
            if !matches!(class, Some(ErrorClass::Policy | ErrorClass::Undecryptable)) {
                return Err(format!("{what} was not refused").into());
            }
        }
        module.destroy(&rsa_key).await?;
        module.destroy(&zpk).await?;
        println!("\nkeys destroyed; this code held handles only, never the PIN or a key");
        Ok(())
    })
}
