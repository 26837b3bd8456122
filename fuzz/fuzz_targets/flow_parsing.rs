//! Both set-PIN flows on arbitrary requests, without the RSA private-key
//! operation: request parsing and validation (contract id, Key-Index, hex
//! and base64 blocks, expiry, sequence, controlId, auditUser), CMS checks,
//! the full-PAN ISO 0 path under the shared ZPK, and Enfuce controls. Fast enough to explore deep input shapes; `flow_requests`
//! keeps the whole path. Input layout and invariants: `pinset_fuzz::flows`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_fuzz::flows::{Rsa, run};

fuzz_target!(|data: &[u8]| run(data, Rsa::Excluded));
