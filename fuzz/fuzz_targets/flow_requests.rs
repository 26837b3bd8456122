//! Both set-PIN flows on arbitrary requests, the whole path: Mastercard
//! Processing `PUT /cards/{id}/pin` (with and without `Key-Index`, device
//! cryptograms opened with the RSA private key) and Enfuce `POST
//! /pin/v3/set` (tzpk unwrapped by the device). Slow, about 2 ms of RSA per
//! input; `flow_parsing` fuzzes the same requests without RSA, fast. Input
//! layout and invariants: `pinset_fuzz::flows`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pinset_fuzz::flows::{Rsa, run};

fuzz_target!(|data: &[u8]| run(data, Rsa::Included));
