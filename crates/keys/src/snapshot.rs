//! The export format: a versioned binary body wrapped under a KEK.
//!
//! ```text
//! export    = header || AES-KWP-256(KEK, header || body || SHA-256(header || body))
//! header    = "PINSETKX" || version (1) || kind (1 = RSA ring, 2 = zone keys) || KCV(KEK) (3 bytes)
//! ```
//!
//! The clear header lets an import name a wrong KEK by its KCV before it
//! unwraps anything; the copy inside the wrap authenticates it. Integers are
//! big-endian; byte strings carry a 1- or 4-byte length prefix. The body's
//! layout belongs to each kind (see `ring.rs` and `zone.rs`). Every buffer
//! that holds clear key material is zeroizing, including the ones left
//! behind when a buffer grows.

use aes_kw::IV_LEN;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{ImportError, Kek, KeyError};

const MAGIC: &[u8; 8] = b"PINSETKX";
const VERSION: u8 = 1;
const HEADER_LEN: usize = MAGIC.len() + 2 + 3;
const DIGEST_LEN: usize = 32;

/// What an export holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    RsaRing,
    ZoneKeys,
}

impl Kind {
    const fn code(self) -> u8 {
        match self {
            Kind::RsaRing => 1,
            Kind::ZoneKeys => 2,
        }
    }

    const fn name_of(code: u8) -> &'static str {
        match code {
            1 => Kind::RsaRing.name(),
            2 => Kind::ZoneKeys.name(),
            _ => "an unknown kind of keys",
        }
    }

    const fn name(self) -> &'static str {
        match self {
            Kind::RsaRing => "an RSA key ring",
            Kind::ZoneKeys => "zone keys",
        }
    }
}

fn header(kind: Kind, kek: &Kek) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8] = VERSION;
    h[9] = kind.code();
    h[10..].copy_from_slice(kek.kcv().as_bytes());
    h
}

/// Writes a body into zeroizing memory. When it grows, the old buffer is
/// zeroized before it is freed (a plain `Vec` would leave copies behind).
pub(crate) struct SecretWriter {
    buf: Zeroizing<Vec<u8>>,
}

impl SecretWriter {
    pub(crate) fn new() -> Self {
        SecretWriter {
            buf: Zeroizing::new(Vec::with_capacity(4096)),
        }
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        let needed = self.buf.len() + bytes.len();
        if needed > self.buf.capacity() {
            let mut bigger =
                Zeroizing::new(Vec::with_capacity(needed.max(2 * self.buf.capacity())));
            bigger.extend_from_slice(&self.buf);
            // The old buffer is zeroized as it drops here.
            self.buf = bigger;
        }
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }

    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }

    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }

    /// A byte string of at most 255 bytes with a 1-byte length.
    pub(crate) fn short(&mut self, bytes: &[u8]) {
        // Callers pass identifiers and symmetric keys, all far below 256 bytes.
        self.u8(u8::try_from(bytes.len()).unwrap_or(u8::MAX));
        self.bytes(&bytes[..bytes.len().min(255)]);
    }

    /// A byte string with a 4-byte length.
    pub(crate) fn long(&mut self, bytes: &[u8]) {
        self.u32(u32::try_from(bytes.len()).unwrap_or(u32::MAX));
        self.bytes(bytes);
    }

    /// `count` as a 4-byte length.
    pub(crate) fn count(&mut self, count: usize) {
        self.u32(u32::try_from(count).unwrap_or(u32::MAX));
    }
}

/// Seals `body` as an export of `kind` under `kek`.
pub(crate) fn seal(kind: Kind, kek: &Kek, body: SecretWriter) -> Result<Vec<u8>, KeyError> {
    let header = header(kind, kek);
    let mut plain = SecretWriter::new();
    plain.bytes(&header);
    plain.bytes(&body.buf);
    drop(body);
    let digest = Sha256::digest(plain.buf.as_slice());
    plain.bytes(&digest);

    let wrapped_len = plain.buf.len().div_ceil(IV_LEN) * IV_LEN + IV_LEN;
    // Zeroed: KWP pads with whatever the buffer holds past the data.
    let mut out = vec![0u8; HEADER_LEN + wrapped_len];
    out[..HEADER_LEN].copy_from_slice(&header);
    // The buffer is exactly the size KWP asks for, so only a body of 4 GiB or more fails.
    kek.kwp()
        .wrap_key(&plain.buf, &mut out[HEADER_LEN..])
        .map_err(|_| KeyError::ExportTooLarge {
            len: plain.buf.len(),
        })?;
    Ok(out)
}

/// Checks and unwraps an export of `kind` under `kek`, returning the body
/// (after the inner header, before the digest) in zeroizing memory.
pub(crate) fn open(kind: Kind, kek: &Kek, export: &[u8]) -> Result<Body, ImportError> {
    let len = export.len();
    if len < MAGIC.len() || &export[..MAGIC.len()] != MAGIC {
        return Err(ImportError::NotAnExport);
    }
    if len < HEADER_LEN {
        return Err(ImportError::Truncated { len });
    }
    if export[8] != VERSION {
        return Err(ImportError::UnsupportedVersion(export[8]));
    }
    if export[9] != kind.code() {
        return Err(ImportError::WrongKind {
            expected: kind.name(),
            found: Kind::name_of(export[9]),
        });
    }
    let given = *kek.kcv().as_bytes();
    let named: [u8; 3] = [export[10], export[11], export[12]];
    if named != given {
        return Err(ImportError::WrongKek {
            export: named,
            given,
        });
    }
    let wrapped = &export[HEADER_LEN..];
    // Two semiblocks at least: KWP would accept one, without deciphering it.
    let min_wrapped = (HEADER_LEN + DIGEST_LEN).div_ceil(IV_LEN) * IV_LEN + IV_LEN;
    if wrapped.len() < min_wrapped || !wrapped.len().is_multiple_of(IV_LEN) {
        return Err(ImportError::Truncated { len });
    }

    let mut plain = Zeroizing::new(vec![0u8; wrapped.len() - IV_LEN]);
    let plain_len = kek
        .kwp()
        .unwrap_key(wrapped, &mut plain)
        .map_err(|_| ImportError::Integrity)?
        .len();
    plain.truncate(plain_len);

    if plain.len() < HEADER_LEN + DIGEST_LEN || plain[..HEADER_LEN] != export[..HEADER_LEN] {
        return Err(ImportError::Integrity);
    }
    let (content, digest) = plain.split_at(plain.len() - DIGEST_LEN);
    if Sha256::digest(content).as_slice() != digest {
        return Err(ImportError::Integrity);
    }
    Ok(Body {
        plain,
        start: HEADER_LEN,
        end: plain_len - DIGEST_LEN,
    })
}

/// A checked export body in zeroizing memory.
pub(crate) struct Body {
    plain: Zeroizing<Vec<u8>>,
    start: usize,
    end: usize,
}

impl Body {
    pub(crate) fn reader(&self) -> Reader<'_> {
        Reader {
            rest: &self.plain[self.start..self.end],
        }
    }
}

/// Reads a body, refusing anything short or out of range without panicking.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

const SHORT: ImportError = ImportError::Malformed("a record runs past the end");

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], ImportError> {
        if n > self.rest.len() {
            return Err(SHORT);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ImportError> {
        Ok(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ImportError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, ImportError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    pub(crate) fn short(&mut self) -> Result<&'a [u8], ImportError> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    pub(crate) fn long(&mut self) -> Result<&'a [u8], ImportError> {
        let n = self.u32()?;
        self.take(usize::try_from(n).map_err(|_| SHORT)?)
    }

    /// Fails unless every byte was read.
    pub(crate) fn finish(self) -> Result<(), ImportError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(ImportError::Malformed(
                "trailing bytes after the last record",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek() -> Kek {
        match Kek::new(&[7; 32]) {
            Ok(k) => k,
            Err(e) => unreachable!("{e}"),
        }
    }

    #[test]
    fn seal_open_round_trip() {
        for n in [0usize, 1, 7, 8, 9, 300, 5000] {
            let mut w = SecretWriter::new();
            w.bytes(&vec![0xA5; n]);
            let export = seal(Kind::ZoneKeys, &kek(), w).unwrap_or_default();
            let body = open(Kind::ZoneKeys, &kek(), &export);
            assert!(body.is_ok(), "length {n}");
            if let Ok(body) = body {
                let mut r = body.reader();
                assert_eq!(r.take(n).ok(), Some(&vec![0xA5; n][..]));
                assert!(r.finish().is_ok());
            }
        }
    }

    #[test]
    fn writer_growth_keeps_content() {
        let mut w = SecretWriter::new();
        for i in 0..10_000u32 {
            w.u32(i);
        }
        assert_eq!(w.buf.len(), 40_000);
        assert_eq!(&w.buf[39_996..], &9_999u32.to_be_bytes());
    }

    #[test]
    fn bare_aiv_is_refused_without_unwrapping() {
        // One semiblock "A65959A6 00000000" would pass KWP's own check as an
        // empty plaintext; the length floor refuses it first.
        let mut export = header(Kind::RsaRing, &kek()).to_vec();
        export.extend_from_slice(&[0xA6, 0x59, 0x59, 0xA6, 0, 0, 0, 0]);
        assert!(matches!(
            open(Kind::RsaRing, &kek(), &export),
            Err(ImportError::Truncated { .. })
        ));
    }

    proptest::proptest! {
        /// Whatever a body holds, the reader fails cleanly or reads it.
        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut r = Reader { rest: &bytes };
            while let Ok(tag) = r.u8() {
                let _ = match tag % 5 {
                    0 => r.short().map(|_| ()),
                    1 => r.long().map(|_| ()),
                    2 => r.u64().map(|_| ()),
                    3 => r.u32().map(|_| ()),
                    _ => r.take(usize::from(tag)).map(|_| ()),
                };
            }
        }
    }
}
