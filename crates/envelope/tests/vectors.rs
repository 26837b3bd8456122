//! Published TDES, AES and KCV vectors. Each test names its source; all are
//! collected, recomputed independently, in `shared/vectors/iso9564.json`.

use chacha20::ChaCha20Rng;
use pinset_block::{Format, Pan, Pin, PinField, iso4};
use pinset_envelope::{AesKey, Error, PinKey, TdesKey, WeakKey, translate};
use rand_core::SeedableRng;

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(2026)
}

/// jPOS's ZPK `1234567812345678 1234567812345678` has K1 = K2: it is
/// single DES, which PCI PIN forbids, so pinset refuses it. Its published
/// ciphertexts still check pinset's clear blocks, deciphered here with
/// single DES (what that key really is) straight from the `des` crate.
fn jpos_single_des(encrypted: &str) -> pinset_block::ClearBlock {
    use cipher::{BlockCipherDecrypt, KeyInit};
    let des = des::Des::new_from_slice(&unhex("1234567812345678")).unwrap();
    let mut block: [u8; 8] = unhex(encrypted).try_into().unwrap();
    des.decrypt_block((&mut block).into());
    pinset_block::ClearBlock::from_bytes(block)
}

#[test]
fn jpos_single_des_zpk_is_refused() {
    // jPOS JCESecurityModuleTest ZPK, KCV 6FB1C8 (the single-DES KCV of 1234567812345678).
    assert_eq!(
        TdesKey::new(&unhex("12345678123456781234567812345678")).unwrap_err(),
        Error::WeakKey {
            algorithm: "TDES",
            rule: WeakKey::SingleDes
        }
    );
}

#[test]
fn tdes_format0_jpos() {
    // jPOS JCESecurityModuleTest: clear 0412719876FEDCBA, encrypted ABE38E29B58EA392
    let pan = Pan::new("1234567890123456").unwrap();
    let pin = Pin::new("1234").unwrap();
    let clear = pinset_block::iso0::encode(&pin, &pan);
    assert_eq!(hex::encode_upper(clear.expose_bytes()), "0412719876FEDCBA");
    let published = jpos_single_des("ABE38E29B58EA392");
    assert_eq!(published.expose_bytes(), clear.expose_bytes());
    assert_eq!(pinset_block::iso0::decode(&published, &pan).unwrap(), pin);
}

#[test]
fn tdes_format1_jpos() {
    // jPOS JCESecurityModuleTest: format 1, encrypted 07438C40F225BF7D, clear 14123444B4B2B43F
    let clear = jpos_single_des("07438C40F225BF7D");
    assert_eq!(hex::encode_upper(clear.expose_bytes()), "14123444B4B2B43F");
    let pin = pinset_block::iso1::decode(&clear).unwrap();
    assert_eq!(pin.expose_digits(), b"1234");
}

#[test]
fn kcv_tdes_published() {
    // shared/vectors/iso9564.json "kcv": first 3 bytes of TDES-ECB(K, 00*8)
    for (key, kcv) in [
        ("0123456789ABCDEFFEDCBA9876543210", "08D7B4"),
        ("E6F1081FEA4C402CC192B65DE367EC3E", "212CF9"),
    ] {
        assert_eq!(TdesKey::new(&unhex(key)).unwrap().kcv().to_string(), kcv);
    }
}

#[test]
fn kcv_mastercard_sandbox_zpk() {
    // Mastercard Processing sandbox ZPK (public developer docs), triple-length, KCV F3BF3A
    let zpk = TdesKey::new(&unhex("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")).unwrap();
    assert_eq!(zpk.len(), 24);
    assert_eq!(zpk.kcv().to_string(), "F3BF3A");
}

#[test]
fn kcv_aes_cmac_x9_24_2017() {
    // ANSI X9.24-1:2017 AES KCV: first 3 bytes of AES-CMAC(K, 00*16)
    let key = AesKey::new(&unhex("00112233445566778899AABBCCDDEEFF")).unwrap();
    assert_eq!(key.kcv().to_string(), "53E107");
}

#[test]
fn format4_psec_ep2_example() {
    // psec tests (ep2 specification example)
    let key = AesKey::new(&unhex("C1D0F8FB4958670DBA40AB1F3752EF0D")).unwrap();
    let pan = Pan::new("432198765432109870").unwrap();
    let field = PinField::from_bytes(
        unhex("441234AAAAAAAAAA146C6601F4A8035C")
            .try_into()
            .unwrap(),
    );
    let block = key.encipher_iso4(&field, &iso4::pan_field(&pan));
    assert_eq!(hex::encode_upper(block), "CC17F65586BFD0953010226C4FC5B3CA");
    let back = key.decipher_iso4(&block, &iso4::pan_field(&pan));
    assert_eq!(back, field);
    let pin = PinKey::from(key)
        .open(Format::Iso4, &block, Some(&pan))
        .unwrap();
    assert_eq!(pin.expose_digits(), b"1234");
}

#[test]
fn format4_psec_test_pinblock() {
    // psec tests/test_pinblock.py
    let key = PinKey::from(AesKey::new(&unhex("00112233445566778899AABBCCDDEEFF")).unwrap());
    let pan = Pan::new("1234567890123456789").unwrap();
    let pin = key
        .open(
            Format::Iso4,
            &unhex("28B41FDDD29B743E93124BD8E32D921E"),
            Some(&pan),
        )
        .unwrap();
    assert_eq!(pin.expose_digits(), b"1234");
}

#[test]
fn mastercard_sandbox_cards_translate_to_zpk() {
    // Mastercard Processing sandbox cards and ZPK (public developer docs)
    let zpk = PinKey::from(
        TdesKey::new(&unhex("F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861")).unwrap(),
    );
    let tzpk = PinKey::from(TdesKey::new(&unhex("0123456789ABCDEFFEDCBA9876543210")).unwrap());
    let cards = [
        ("7580", "5141576351968605"),
        ("5336", "5185410084016382"),
        ("2360", "5115795782050849"),
        ("3011", "5128839686355014"),
        ("4041", "5121876475234064"),
    ];
    let mut rng = rng();
    for (pin, pan) in cards {
        let (pin, pan) = (Pin::new(pin).unwrap(), Pan::new(pan).unwrap());
        let device = tzpk.seal(Format::Iso1, &pin, None, &mut rng).unwrap();
        let issuer = translate(
            device.as_bytes(),
            (Format::Iso1, &tzpk),
            (Format::Iso0, &zpk),
            Some(&pan),
            &mut rng,
        )
        .unwrap();
        assert_eq!(
            zpk.open(Format::Iso0, issuer.as_bytes(), Some(&pan))
                .unwrap(),
            pin
        );
    }
}

#[test]
fn refusals_are_typed() {
    let tdes = PinKey::from(TdesKey::new(b"07 pinset test k").unwrap());
    let aes = PinKey::from(AesKey::new(&[7; 16]).unwrap());
    let pan = Pan::new("5141576351968605").unwrap();
    let pin = Pin::new("1234").unwrap();
    let mut rng = rng();
    assert_eq!(
        TdesKey::new(&[0; 15]).unwrap_err(),
        Error::KeyLength {
            algorithm: "TDES",
            expected: "16 or 24",
            found: 15
        }
    );
    assert!(matches!(
        AesKey::new(&[0; 20]),
        Err(Error::KeyLength { found: 20, .. })
    ));
    assert_eq!(
        tdes.seal(Format::Iso0, &pin, None, &mut rng),
        Err(Error::Block(pinset_block::Error::PanRequired(Format::Iso0)))
    );
    assert!(matches!(
        tdes.seal(Format::Iso4, &pin, Some(&pan), &mut rng),
        Err(Error::KeyFormatMismatch { .. })
    ));
    assert!(matches!(
        aes.seal(Format::Iso0, &pin, Some(&pan), &mut rng),
        Err(Error::KeyFormatMismatch { .. })
    ));
    assert!(matches!(
        tdes.open(Format::Iso1, &[0; 9], None),
        Err(Error::BlockLength {
            expected: 8,
            found: 9,
            ..
        })
    ));
    let f0 = tdes.seal(Format::Iso0, &pin, Some(&pan), &mut rng).unwrap();
    assert_eq!(
        translate(
            f0.as_bytes(),
            (Format::Iso0, &tdes),
            (Format::Iso1, &tdes),
            Some(&pan),
            &mut rng
        ),
        Err(Error::Block(pinset_block::Error::Translation {
            from: Format::Iso0,
            to: Format::Iso1
        }))
    );
}

#[test]
fn wrong_key_and_bad_format_fold_to_one_outward_error() {
    let right = PinKey::from(TdesKey::new(b"07 pinset test k").unwrap());
    let wrong = PinKey::from(TdesKey::new(b"09 pinset test k").unwrap());
    let pan = Pan::new("5141576351968605").unwrap();
    let sealed = right
        .seal(
            Format::Iso0,
            &Pin::new("1234").unwrap(),
            Some(&pan),
            &mut rng(),
        )
        .unwrap();
    let e1 = wrong
        .open(Format::Iso0, sealed.as_bytes(), Some(&pan))
        .unwrap_err();
    let e2 = right
        .open(Format::Iso0, &sealed.as_bytes()[..7], Some(&pan))
        .unwrap_err();
    let e3 = right
        .open(Format::Iso1, sealed.as_bytes(), None)
        .unwrap_err();
    assert_ne!(e1, e2);
    assert_eq!(e1.outward(), e2.outward());
    assert_eq!(e2.outward(), e3.outward());
    assert_eq!(
        e1.outward().to_string(),
        "the PIN block could not be decrypted or is not a valid PIN block"
    );
}

#[test]
fn keys_never_print_their_bytes() {
    let hex_key = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
    let tdes = TdesKey::new(&unhex(hex_key)).unwrap();
    let aes = AesKey::new(&unhex("C1D0F8FB4958670DBA40AB1F3752EF0D")).unwrap();
    let printed = format!("{tdes:?} {aes:?} {:?}", PinKey::from(tdes.clone()));
    assert!(!printed.to_uppercase().contains(&hex_key[..16]));
    assert!(!printed.to_uppercase().contains("C1D0F8FB"));
    assert!(printed.contains("F3BF3A"));
}
