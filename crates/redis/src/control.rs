//! Enfuce controls in Redis: one key per controlId, expiring by Redis's clock.

use std::fmt;
use std::time::Duration;

use pinset_envelope::Kcv;
use pinset_keys::{
    ControlBinding, ControlId, ControlOperation, ControlStore, KeyRef, PlasticRef, TzpkCustody,
    TzpkError,
};
use pinset_module::{KeyAlgorithm, KeyCheck, KeyPurpose};
use redis::{Script, Value};
use sha2::{Digest, Sha256};

use crate::{Conn, RedisStoreError, px};

/// The version byte every control record starts with.
pub const RECORD_VERSION: u8 = 1;

const NO_TZPK: u8 = 0;
const HANDLE: u8 = 1;
const WRAPPED: u8 = 2;

/// Files a tzpk with a control that has none, in one step.
///
/// KEYS[1] the control's key; ARGV[1] the custody bytes (tag and fields).
/// Returns the record as it was (success), 0 (no such live record), 1 (a
/// tzpk is filed already) or 2 (a record this version does not read).
/// `KEEPTTL` keeps the expiry `open` set.
const ATTACH: &str = r"
local rec = redis.call('GET', KEYS[1])
if not rec then return 0 end
if string.byte(rec, 1) ~= 1 or #rec < 4 then return 2 end
local n = string.byte(rec, 3)
if #rec < 4 + n then return 2 end
if #rec > 4 + n or string.byte(rec, 4 + n) ~= 0 then return 1 end
redis.call('SET', KEYS[1], string.sub(rec, 1, 3 + n) .. ARGV[1], 'KEEPTTL')
return rec
";

/// The [`ControlStore`] on Redis: one key per control, its value a small
/// binary record, its expiry Redis's own (`PX`).
///
/// - Key: `{prefix}ctl:{hex SHA-256 of the controlId}`. The controlId, a
///   bearer value while it lives, never appears in Redis.
/// - [`open`](ControlStore::open): `SET key record NX PX ttl`, so only a
///   new id opens.
/// - [`binding`](ControlStore::binding): `GET`.
/// - [`attach`](ControlStore::attach): a Lua script that files the tzpk
///   only if the record exists and has none, with `SET … KEEPTTL`.
/// - [`take`](ControlStore::take): `GETDEL`, atomic and single use across
///   any number of instances.
///
/// A spent or expired control is gone from Redis, so both answer
/// [`TzpkError::Unknown`] (the in-memory store keeps a tombstone and can
/// say `AlreadyUsed`); the flows answer 404 to all three. A tzpk kept as a
/// [`TzpkCustody::Handle`] whose control expires untaken is not reported
/// by [`take_expired`](ControlStore::take_expired) (Redis drops it
/// unseen): with software modules, give the flow a shared KEK
/// (`EnfuceSetPin::with_shared_tzpks`) so that records hold wrapped keys
/// and no module keeps one.
///
/// See the crate documentation for the record's layout.
#[derive(Clone)]
pub struct RedisControlStore {
    conn: Conn,
    ttl: Duration,
    attach: Script,
}

impl RedisControlStore {
    pub(crate) fn new(conn: Conn, ttl: Duration) -> Self {
        RedisControlStore {
            conn,
            ttl,
            attach: Script::new(ATTACH),
        }
    }

    /// The Redis key of a control: `{prefix}ctl:` and the hex SHA-256 of
    /// the id.
    pub fn key_for(&self, control_id: &ControlId) -> String {
        let digest = Sha256::digest(control_id.as_str().as_bytes());
        self.conn.key("ctl:", &hex::encode(digest))
    }
}

impl fmt::Debug for RedisControlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisControlStore")
            .field("prefix", &self.conn.prefix())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl ControlStore for RedisControlStore {
    fn ttl(&self) -> Duration {
        self.ttl
    }

    async fn open(&self, control_id: &ControlId, binding: ControlBinding) -> Result<(), TzpkError> {
        let record = encode_open(&binding)?;
        let reply: Value = self
            .conn
            .query(
                redis::cmd("SET")
                    .arg(self.key_for(control_id))
                    .arg(record)
                    .arg("NX")
                    .arg("PX")
                    .arg(px(self.ttl)),
            )
            .await?;
        match reply {
            Value::Okay => Ok(()),
            Value::Nil => Err(TzpkError::DuplicateControlId(control_id.clone())),
            _ => Err(RedisStoreError::Unexpected("a SET reply of the wrong shape").into()),
        }
    }

    async fn binding(&self, control_id: &ControlId) -> Result<ControlBinding, TzpkError> {
        let record: Option<Vec<u8>> = self
            .conn
            .query(redis::cmd("GET").arg(self.key_for(control_id)))
            .await?;
        let record = record.ok_or_else(|| TzpkError::Unknown(control_id.clone()))?;
        Ok(decode(&record)?.0)
    }

    async fn attach(
        &self,
        control_id: &ControlId,
        tzpk: TzpkCustody,
    ) -> Result<ControlBinding, TzpkError> {
        // A handle that is no tzpk is refused before anything is sent.
        tzpk.kcv()?;
        let custody = encode_custody(Some(&tzpk))?;
        let mut invocation = self.attach.key(self.key_for(control_id));
        invocation.arg(custody);
        let reply: Value = self.conn.invoke(&invocation).await?;
        match reply {
            Value::BulkString(before) => Ok(decode(&before)?.0),
            Value::Int(0) => Err(TzpkError::Unknown(control_id.clone())),
            Value::Int(1) => Err(TzpkError::DuplicateControlId(control_id.clone())),
            Value::Int(2) => {
                Err(RedisStoreError::Unexpected("a control record of another version").into())
            }
            _ => Err(RedisStoreError::Unexpected("a script reply of the wrong shape").into()),
        }
    }

    async fn take(
        &self,
        control_id: &ControlId,
    ) -> Result<(ControlBinding, Option<TzpkCustody>), TzpkError> {
        let record: Option<Vec<u8>> = self
            .conn
            .query(redis::cmd("GETDEL").arg(self.key_for(control_id)))
            .await?;
        let record = record.ok_or_else(|| TzpkError::Unknown(control_id.clone()))?;
        Ok(decode(&record)?)
    }
}

// ---- The record ----
//
// version 1 (1 byte) | operation code (1) | plastic length n (1) | plastic (n, ASCII)
// | custody tag (1): 0 none; 1 handle; 2 wrapped
// handle:  algorithm code (1) | purpose code (1) | KCV (3) | id length (2, BE) | id
// wrapped: KEK KCV (3) | tzpk KCV (3) | wrapped length (2, BE) | wrapped bytes

/// A fresh control's record: no tzpk yet.
pub(crate) fn encode_open(binding: &ControlBinding) -> Result<Vec<u8>, RedisStoreError> {
    let plastic = binding.plastic.expose_str().as_bytes();
    let n = u8::try_from(plastic.len())
        .map_err(|_| RedisStoreError::Unexpected("a plastic binding too long to store"))?;
    let mut record = Vec::with_capacity(4 + plastic.len());
    record.extend_from_slice(&[RECORD_VERSION, binding.operation.code(), n]);
    record.extend_from_slice(plastic);
    record.push(NO_TZPK);
    Ok(record)
}

/// The custody part: its tag and fields.
pub(crate) fn encode_custody(custody: Option<&TzpkCustody>) -> Result<Vec<u8>, TzpkError> {
    let too_long = || {
        TzpkError::from(RedisStoreError::Unexpected(
            "a tzpk field too long to store",
        ))
    };
    let mut out = Vec::new();
    match custody {
        None => out.push(NO_TZPK),
        Some(TzpkCustody::Handle(key)) => {
            let (Some(algorithm), KeyCheck::Kcv(kcv)) = (key.algorithm().code(), key.check())
            else {
                return Err(TzpkError::NotATzpk);
            };
            let id = key.id().as_bytes();
            let len = u16::try_from(id.len()).map_err(|_| too_long())?;
            out.extend_from_slice(&[HANDLE, algorithm, key.purpose().code()]);
            out.extend_from_slice(kcv.as_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(id);
        }
        Some(TzpkCustody::Wrapped { kek, kcv, wrapped }) => {
            let len = u16::try_from(wrapped.len()).map_err(|_| too_long())?;
            out.push(WRAPPED);
            out.extend_from_slice(kek.as_bytes());
            out.extend_from_slice(kcv.as_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(wrapped);
        }
    }
    Ok(out)
}

/// Reads a record, checking it whole.
pub(crate) fn decode(
    record: &[u8],
) -> Result<(ControlBinding, Option<TzpkCustody>), RedisStoreError> {
    let bad = || RedisStoreError::Unexpected("a malformed control record");
    let mut r = Reader(record);
    if r.byte()? != RECORD_VERSION {
        return Err(RedisStoreError::Unexpected(
            "a control record of another version",
        ));
    }
    let operation = ControlOperation::from_code(r.byte()?).ok_or_else(bad)?;
    let n = usize::from(r.byte()?);
    let plastic = std::str::from_utf8(r.take(n)?).map_err(|_| bad())?;
    let plastic = PlasticRef::new(plastic).map_err(|_| bad())?;
    let custody = match r.byte()? {
        NO_TZPK => None,
        HANDLE => {
            let algorithm = KeyAlgorithm::from_code(r.byte()?).ok_or_else(bad)?;
            let purpose = KeyPurpose::from_code(r.byte()?).ok_or_else(bad)?;
            let kcv = r.kcv()?;
            let len = usize::from(r.u16()?);
            let id = std::str::from_utf8(r.take(len)?).map_err(|_| bad())?;
            Some(TzpkCustody::Handle(KeyRef::new(
                id,
                algorithm,
                purpose,
                KeyCheck::Kcv(kcv),
            )))
        }
        WRAPPED => {
            let kek = r.kcv()?;
            let kcv = r.kcv()?;
            let len = usize::from(r.u16()?);
            let wrapped = r.take(len)?.to_vec();
            Some(TzpkCustody::Wrapped { kek, kcv, wrapped })
        }
        _ => return Err(bad()),
    };
    if !r.0.is_empty() {
        return Err(bad());
    }
    Ok((ControlBinding { plastic, operation }, custody))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RedisStoreError> {
        if self.0.len() < n {
            return Err(RedisStoreError::Unexpected("a truncated control record"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, RedisStoreError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, RedisStoreError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn kcv(&mut self) -> Result<Kcv, RedisStoreError> {
        let b = self.take(3)?;
        Ok(Kcv::from_bytes([b[0], b[1], b[2]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> ControlBinding {
        ControlBinding {
            plastic: PlasticRef::new("70001/1").unwrap(),
            operation: ControlOperation::SetPin,
        }
    }

    fn full(custody: &TzpkCustody) -> Vec<u8> {
        let mut record = encode_open(&binding()).unwrap();
        record.pop();
        record.extend(encode_custody(Some(custody)).unwrap());
        record
    }

    #[test]
    fn open_record_layout() {
        let record = encode_open(&binding()).unwrap();
        assert_eq!(record, b"\x01\x01\x0770001/1\x00");
        assert_eq!(decode(&record).unwrap(), (binding(), None));
    }

    #[test]
    fn handle_round_trip() {
        let key = KeyRef::new(
            "tzpk-17",
            KeyAlgorithm::Tdes2,
            KeyPurpose::PinEncryption,
            KeyCheck::Kcv(Kcv::from_bytes([0xAB, 0xCD, 0xEF])),
        );
        let custody = TzpkCustody::Handle(key);
        let record = full(&custody);
        assert_eq!(
            &record[10..],
            b"\x01\x01\x01\xAB\xCD\xEF\x00\x07tzpk-17".as_slice()
        );
        assert_eq!(decode(&record).unwrap(), (binding(), Some(custody)));
    }

    #[test]
    fn wrapped_round_trip() {
        let custody = TzpkCustody::Wrapped {
            kek: Kcv::from_bytes([1, 2, 3]),
            kcv: Kcv::from_bytes([4, 5, 6]),
            wrapped: vec![0x5A; 24],
        };
        let record = full(&custody);
        assert_eq!(&record[10..19], b"\x02\x01\x02\x03\x04\x05\x06\x00\x18");
        assert_eq!(decode(&record).unwrap(), (binding(), Some(custody)));
    }

    #[test]
    fn damaged_records_are_refused() {
        let custody = TzpkCustody::Wrapped {
            kek: Kcv::from_bytes([1, 2, 3]),
            kcv: Kcv::from_bytes([4, 5, 6]),
            wrapped: vec![0x5A; 24],
        };
        let record = full(&custody);
        for cut in 0..record.len() {
            assert!(decode(&record[..cut]).is_err(), "truncated at {cut}");
        }
        let mut longer = record.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut version = record.clone();
        version[0] = 2;
        assert!(decode(&version).is_err());
        let mut operation = record.clone();
        operation[1] = 9;
        assert!(decode(&operation).is_err());
        let mut tag = record;
        tag[10] = 7;
        assert!(decode(&tag).is_err());
    }

    #[test]
    fn rsa_handles_are_no_tzpk() {
        let key = KeyRef::new(
            "rsa-1",
            KeyAlgorithm::Rsa { bits: 2048 },
            KeyPurpose::PinEncryption,
            KeyCheck::Fingerprint([0; 8]),
        );
        assert_eq!(
            encode_custody(Some(&TzpkCustody::Handle(key))),
            Err(TzpkError::NotATzpk)
        );
    }
}
