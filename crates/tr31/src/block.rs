//! Wrap and unwrap: versions B and D, and the unwrap entry point for all
//! versions.
//!
//! Why the order of checks matters: a key block comes from outside, so
//! nothing decrypted is trusted (not even the length of the key inside)
//! until the MAC over the header and the key data has verified, and every
//! refusal returns the same outward error so the checks do not become an
//! oracle. Versions B and D use the key derivation binding method of
//! TR-31:2018 §5.3.2: a KBEK and a KBMK derived from the KBPK with CMAC,
//! the MAC computed over the ASCII header and the *clear* key data, and
//! that MAC used as the CBC IV.

use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::crypto::{self, CipherKind};
use crate::error::{HeaderField, KeyBlockError, Reason};
use crate::header::{Header, MAX_BLOCK_LEN};
use crate::kbpk::Kbpk;
use crate::legacy;
use crate::usage::{Version, longest_key};

/// The longest key length masking accepted on unwrap (and written by
/// [`wrap_masked`]) for TDES, DES and AES keys: the 32 bytes of AES-256,
/// which some HSMs pad every key to. Keys of other algorithms (HMAC, RSA…)
/// have no padding bound.
const MAX_MASK: usize = 32;

/// Unwraps a key block of version A, B, C or D; returns its header and the
/// key, which is zeroized on drop.
///
/// Checks, in order: the length field against the input's length; the
/// header; the hex of the key data and MAC; the KBPK's family against the
/// version (TDES for A, B and C, AES for D); the MAC, in constant time,
/// before anything decrypted is used; the key length and padding; and
/// finally [`Header::check_consistency`].
///
/// Versions A and C are deprecated and read here for migrating old key
/// stores only.
///
/// # Errors
///
/// [`KeyBlockError`], whose `Display` is the same for every failure; the
/// [`Reason`] tells which check refused the block.
///
/// # Examples
///
/// ```
/// use pinset_tr31::{Kbpk, KeyUsage, unwrap};
///
/// // ANSI TR-31:2018 annex A.7.2.2.
/// let kbpk = Kbpk::tdes(&hex::decode("DD7515F2BFC17F85CE48F3CA25CB21F6").unwrap())?;
/// let block = "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3\
///              B8E4FA4C5F5341176EED7B727B8A248E";
/// let (header, key) = unwrap(&kbpk, block)?;
/// assert_eq!(header.key_usage(), KeyUsage::PIN_ENCRYPTION);
/// assert_eq!(hex::encode_upper(&*key), "3F419E1CB7079442AA37474C2EFBF8B8");
///
/// let err = unwrap(&kbpk, &block.replace("P0TE", "P0TD")).unwrap_err();
/// assert_eq!(err.to_string(), "key block refused");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn unwrap(kbpk: &Kbpk, block: &str) -> Result<(Header, Zeroizing<Vec<u8>>), KeyBlockError> {
    let input = block.as_bytes();
    let declared = input
        .get(1..5)
        .filter(|d| d.iter().all(u8::is_ascii_digit))
        .ok_or(KeyBlockError::header(HeaderField::Length))?
        .iter()
        .fold(0usize, |acc, d| acc * 10 + usize::from(d - b'0'));
    if declared != input.len() {
        return Err(KeyBlockError::new(Reason::Length));
    }

    let (header, header_len) = Header::parse_prefix(input)?;
    let version = header.version();
    let length = KeyBlockError::new(Reason::Length);
    let (header_text, body) = input.split_at_checked(header_len).ok_or(length)?;
    let data_hex_len = body
        .len()
        .checked_sub(2 * version.mac_len())
        .filter(|&n| n > 0 && n.is_multiple_of(2 * version.block_size()))
        .ok_or(length)?;
    let (data_hex, mac_hex) = body.split_at_checked(data_hex_len).ok_or(length)?;
    let data = decode_hex(data_hex)?;
    let mac = decode_hex(mac_hex)?;

    let family_fits = match version {
        Version::A | Version::B | Version::C => kbpk.kind().is_tdes(),
        Version::D => !kbpk.kind().is_tdes(),
    };
    if !family_fits {
        return Err(KeyBlockError::new(Reason::KbpkFamily));
    }

    let clear = match version {
        Version::A | Version::C => legacy::open(kbpk, header_text, data, &mac)?,
        Version::B | Version::D => open_derived(kbpk, header_text, data, &mac)?,
    };
    let key = extract_key(&header, &clear, version.block_size())?;
    header.check_consistency()?;
    Ok((header, key))
}

/// Wraps `key` under `kbpk` as a version B or D key block, masking the
/// key's length by padding it to its algorithm's longest key (TDES 24
/// bytes, AES 32; other algorithms are not masked), as common HSMs do.
///
/// The header's length field is filled in, and a padding block (`PB`)
/// appended when the optional blocks leave the header unaligned (a trailing
/// `PB` already in `header` is replaced). The padding after the key comes
/// from `rng`.
///
/// # Errors
///
/// [`Reason::Version`] for versions A and C (deprecated, unwrap only);
/// [`Reason::KbpkFamily`] when the KBPK does not fit the version (B takes
/// TDES, D takes AES); [`Reason::KeyLength`] for an empty key or one longer
/// than 8191 bytes; [`Reason::Inconsistent`] from
/// [`Header::check_consistency`]; [`Reason::Header`] when the optional
/// blocks cannot be aligned within 99 blocks; [`Reason::Length`] when the
/// key block would exceed 9999 characters.
///
/// # Examples
///
/// ```
/// use pinset_tr31::{Algorithm, Exportability, Header, Kbpk, KeyUsage, ModeOfUse, Version};
/// use pinset_tr31::{unwrap, wrap};
/// # use rand_core::SeedableRng;
/// # let mut rng = chacha20::ChaCha20Rng::seed_from_u64(31);
///
/// let kbpk = Kbpk::aes(&[0x5A; 32])?;
/// let header = Header::new(Version::D, KeyUsage::PIN_ENCRYPTION, Algorithm::TDES,
///                          ModeOfUse::ENCRYPT, "00", Exportability::EXPORTABLE)?
///     .with_optional_block("KS", "00604B120F9292800000")?;
/// let key = [0x3Fu8; 16];
/// let block = wrap(&kbpk, &header, &key, &mut rng)?;
/// assert!(block.starts_with("D0144P0TE00E0200KS1800604B120F9292800000PB080000"));
///
/// let (read, unwrapped) = unwrap(&kbpk, &block)?;
/// assert_eq!(read.optional_block("KS").map(|b| b.data()), Some("00604B120F9292800000"));
/// assert_eq!(&unwrapped[..], &key[..]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn wrap<R: CryptoRng + ?Sized>(
    kbpk: &Kbpk,
    header: &Header,
    key: &[u8],
    rng: &mut R,
) -> Result<String, KeyBlockError> {
    let masked = longest_key(header.algorithm()).unwrap_or(0);
    wrap_masked(kbpk, header, key, masked, rng)
}

/// As [`wrap`], with the key length masked to `masked_len` bytes instead of
/// the algorithm's longest key. A `masked_len` at most the key's length
/// means no masking: the key data is only padded to the cipher block size,
/// as in the published TR-31 examples.
///
/// # Errors
///
/// As [`wrap`]; also [`Reason::Padding`] when `masked_len` exceeds 32
/// bytes for a key of algorithm `T`, `D` or `A` (unwrap refuses such
/// padding), and [`Reason::Length`] when `masked_len` makes the key block
/// exceed 9999 characters.
pub fn wrap_masked<R: CryptoRng + ?Sized>(
    kbpk: &Kbpk,
    header: &Header,
    key: &[u8],
    masked_len: usize,
    rng: &mut R,
) -> Result<String, KeyBlockError> {
    let version = header.version();
    let family_fits = match version {
        Version::A | Version::C => return Err(KeyBlockError::new(Reason::Version)),
        Version::B => kbpk.kind().is_tdes(),
        Version::D => !kbpk.kind().is_tdes(),
    };
    if !family_fits {
        return Err(KeyBlockError::new(Reason::KbpkFamily));
    }
    let bits = key
        .len()
        .checked_mul(8)
        .and_then(|b| u16::try_from(b).ok())
        .filter(|&b| b > 0)
        .ok_or(KeyBlockError::new(Reason::KeyLength))?;
    header.check_consistency()?;
    // Never write what unwrap would refuse as over-padded.
    if longest_key(header.algorithm()).is_some() && masked_len > MAX_MASK.max(key.len()) {
        return Err(KeyBlockError::new(Reason::Padding));
    }

    let mut header = header.aligned()?;
    let bs = version.block_size();
    let too_long = KeyBlockError::new(Reason::Length);
    let data_len = masked_len
        .max(key.len())
        .checked_add(2 + bs - 1)
        .map(|n| n / bs * bs)
        .filter(|&n| n <= MAX_BLOCK_LEN)
        .ok_or(too_long)?;
    let total = header.encoded_len() + 2 * data_len + 2 * version.mac_len();
    let total = u16::try_from(total)
        .ok()
        .filter(|&t| usize::from(t) <= MAX_BLOCK_LEN)
        .ok_or(too_long)?;
    header.set_block_len(total);
    let header_text = header.to_string();

    let mut data = Zeroizing::new(Vec::with_capacity(data_len));
    data.extend_from_slice(&bits.to_be_bytes());
    data.extend_from_slice(key);
    data.resize(data_len, 0);
    rng.fill_bytes(data.get_mut(2 + key.len()..).unwrap_or_default());

    let kind = kbpk.kind();
    let keys = derive(kind, kbpk)?;
    let mut mac = Vec::with_capacity(version.mac_len());
    crypto::cmac(kind, &keys.kbmk, &[header_text.as_bytes(), &data], &mut mac).ok_or(too_long)?;
    crypto::cbc_encrypt(kind, &keys.kbek, &mac, &mut data).ok_or(too_long)?;

    let mut out = header_text;
    out.push_str(&hex::encode_upper(&*data));
    out.push_str(&hex::encode_upper(&mac));
    Ok(out)
}

/// Derives the KBEK and KBMK for versions B and D.
fn derive(kind: CipherKind, kbpk: &Kbpk) -> Result<crypto::Derived, KeyBlockError> {
    crypto::derive(kind, kbpk.bytes()).ok_or(KeyBlockError::new(Reason::KbpkFamily))
}

/// Decrypts the key data of a version B or D block (the MAC is the IV) and
/// verifies the MAC over header and clear key data.
fn open_derived(
    kbpk: &Kbpk,
    header: &[u8],
    data: Vec<u8>,
    mac: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyBlockError> {
    let kind = kbpk.kind();
    let keys = derive(kind, kbpk)?;
    let mut clear = Zeroizing::new(data);
    crypto::cbc_decrypt(kind, &keys.kbek, mac, &mut clear)
        .ok_or(KeyBlockError::new(Reason::Length))?;
    let mut expected = Vec::with_capacity(mac.len());
    crypto::cmac(kind, &keys.kbmk, &[header, &clear], &mut expected)
        .ok_or(KeyBlockError::new(Reason::KbpkFamily))?;
    if !bool::from(expected.ct_eq(mac)) {
        return Err(KeyBlockError::new(Reason::Mac));
    }
    Ok(clear)
}

/// Reads the key out of verified clear key data: a 2-byte length in bits,
/// the key, then padding.
fn extract_key(
    header: &Header,
    clear: &[u8],
    block_size: usize,
) -> Result<Zeroizing<Vec<u8>>, KeyBlockError> {
    let bad_len = KeyBlockError::new(Reason::KeyLength);
    let bits = clear
        .first_chunk::<2>()
        .map(|b| usize::from(u16::from_be_bytes(*b)))
        .filter(|&b| b > 0 && b.is_multiple_of(8))
        .ok_or(bad_len)?;
    let len = bits / 8;
    let key = clear.get(2..2 + len).ok_or(bad_len)?;
    if longest_key(header.algorithm()).is_some() {
        let longest = (2 + len.max(MAX_MASK)).div_ceil(block_size) * block_size;
        if clear.len() > longest {
            return Err(KeyBlockError::new(Reason::Padding));
        }
    }
    Ok(Zeroizing::new(key.to_vec()))
}

/// Decodes upper-case hex; anything else (lower case included, since the
/// B and D MACs do not cover the hex spelling) is refused.
fn decode_hex(text: &[u8]) -> Result<Vec<u8>, KeyBlockError> {
    let hex_err = KeyBlockError::new(Reason::Hex);
    if !text.iter().all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F')) {
        return Err(hex_err);
    }
    hex::decode(text).map_err(|_| hex_err)
}
