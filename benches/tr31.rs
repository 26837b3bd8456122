//! Criterion benchmarks for pinset-tr31: unwrap of the published version B
//! and D key blocks (ANSI X9 TR-31:2018 annex A.7.2.2 and A.7.4) and wrap of
//! a version D block.
//!
//! Run with `cargo bench --bench tr31`.
//!
//! Group and bench names:
//!
//! - `tr31/unwrap_b_tdes2`: A.7.2.2, two-key TDES KBPK (derivation, CBC, CMAC).
//! - `tr31/unwrap_d_aes256`: A.7.4, AES-256 KBPK.
//! - `tr31/wrap_d_aes256`: the A.7.4 header and key, wrapped with the
//!   default key length masking (32 bytes of key data).
//! - `tr31/parse_header`: `Header::parse` of the A.7.4 block alone.

// Bench set-up fails loudly on a bad constant; that is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use chacha20::ChaCha20Rng;
use criterion::{Criterion, criterion_group, criterion_main};
use pinset_tr31::{Header, Kbpk, unwrap, wrap};
use rand_core::SeedableRng;

const B_KBPK: &str = "DD7515F2BFC17F85CE48F3CA25CB21F6";
const B_BLOCK: &str =
    "B0080P0TE00E000094B420079CC80BA3461F86FE26EFC4A3B8E4FA4C5F5341176EED7B727B8A248E";
const D_KBPK: &str = "88E1AB2A2E3DD38C1FA039A536500CC8A87AB9D62DC92C01058FA79F44657DE6";
const D_BLOCK: &str = "D0112P0AE00E0000B82679114F470F540165EDFBF7E250FCEA43F810D215F8D2\
                       07E2E417C07156A27E8E31DA05F7425509593D03A457DC34";
const KEY: &str = "3F419E1CB7079442AA37474C2EFBF8B8";

fn tr31(c: &mut Criterion) {
    let b_kbpk = Kbpk::tdes(&hex::decode(B_KBPK).unwrap()).unwrap();
    let d_kbpk = Kbpk::aes(&hex::decode(D_KBPK).unwrap()).unwrap();
    let key = hex::decode(KEY).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(0x31);
    let mut g = c.benchmark_group("tr31");

    g.bench_function("unwrap_b_tdes2", |b| {
        b.iter(|| unwrap(black_box(&b_kbpk), black_box(B_BLOCK)).unwrap())
    });
    g.bench_function("unwrap_d_aes256", |b| {
        b.iter(|| unwrap(black_box(&d_kbpk), black_box(D_BLOCK)).unwrap())
    });
    let header = Header::parse(D_BLOCK).unwrap();
    g.bench_function("wrap_d_aes256", |b| {
        b.iter(|| {
            wrap(
                black_box(&d_kbpk),
                black_box(&header),
                black_box(&key),
                &mut rng,
            )
            .unwrap()
        })
    });
    g.bench_function("parse_header", |b| {
        b.iter(|| Header::parse(black_box(D_BLOCK)).unwrap())
    });

    g.finish();
}

/// Short runs, like the other pinset benches.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(800))
        .measurement_time(Duration::from_secs(3))
        .sample_size(60)
}

criterion_group! {
    name = benches;
    config = config();
    targets = tr31
}
criterion_main!(benches);
