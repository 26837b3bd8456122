//! Criterion benchmarks of the shared-state stores: both set-PIN flows with
//! their state in Redis (`pinset-redis`) against the in-memory stores, in
//! the same run.
//!
//! `cargo bench --bench stores`. The bench starts its own `redis-server`
//! (from `PATH`, or `PINSET_REDIS_SERVER`) on a free loopback port with no
//! persistence, and stops it at the end; without the binary it says so and
//! measures nothing. Groups:
//!
//! - `mastercard_set_pin_stores`: Mastercard set PIN with a `Key-Index` on
//!   the aws-lc engine (so the store's share is visible next to a fast RSA
//!   operation), a fresh cryptogram per request (sealed untimed) and the
//!   default 24-hour replay window: `memory` keeps the ring and the replay
//!   claims in process, `redis` reads the sealed ring from Redis (one
//!   `HMGET` and an AES key unwrap) and claims the fingerprint there (`SET
//!   NX PX`); `redis_ping` is one bare round trip to the same server, the
//!   floor under each store call.
//! - `enfuce_set_pin_stores`: the issuer side of one Enfuce set PIN (issue
//!   control, tzpk, set PIN; the device's unwrap and encipherment between
//!   them untimed) on the software module: `memory` keeps the control and
//!   the tzpk's handle in process; `redis` keeps the control in Redis (`SET
//!   NX PX`, `GET`, a Lua attach, `GETDEL`) with the tzpk wrapped under a
//!   shared KEK (`with_shared_tzpks`: an export and an import per request),
//!   as instances with software modules must.

// Bench set-up fails loudly on a bad constant; that is what we want here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20::ChaCha20Rng;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use pinset::block::{Format, Pan, Pin, iso1};
use pinset::cms::{ContractState, MemoryCms, PlasticStatus};
use pinset::envelope::rsa::unwrap_tdes_key;
use pinset::envelope::{PinKey, RsaPadding, RsaPrivateKey};
use pinset::flow::enfuce::{ControlOperation, SetPinRequest as EnfuceSetPinRequest, TzpkRequest};
use pinset::flow::mastercard::SetPinRequest;
use pinset::flow::{EnfuceSetPin, Issuer, MastercardPanless, ReplayStore};
use pinset::keys::{
    ControlStore, Kek, KeyIndex, KeyPurpose, KeyStore, MonotonicClock, NewKey, RsaKeyRing,
    SystemClock, ZoneKeys, ZpkIndex,
};
use pinset::module::{KeyAlgorithm, SecurityModule, SoftwareModule};
use pinset_redis::RedisStores;
use rand_core::SeedableRng;
use tokio::runtime::Runtime;

/// The 2048-bit fixture key (PKCS#8 PEM, OpenSSL-made).
const RSA2048_PEM: &str = include_str!("../crates/envelope/tests/data/rsa2048.pem");
/// Mastercard Processing sandbox key index, ZPK and card 70001
/// (shared/vectors/iso9564.json).
const KEY_INDEX: &str = "A1564386531162";
const ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
const CONTRACT: &str = "70001";
const PAN: &str = "5141576351968605";

/// A `redis-server` of this bench's own, killed on drop.
struct RedisServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl RedisServer {
    fn start() -> Option<Self> {
        let binary = std::env::var_os("PINSET_REDIS_SERVER")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::split_paths(&std::env::var_os("PATH")?)
                    .map(|dir| dir.join("redis-server"))
                    .find(|path| path.is_file())
            })?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!("pinset-bench-redis-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&dir)
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(RedisServer { child, port, dir })
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An issuer on `module`: card 70001 in a `MemoryCms`, the sandbox ZPK
/// imported into the module as the CMS's zone PIN key.
async fn issuer<M: SecurityModule>(module: M) -> Issuer<MemoryCms, M> {
    let cms = MemoryCms::new();
    let contract = CONTRACT.parse().unwrap();
    cms.add_contract(contract, Pan::new(PAN).unwrap(), ContractState::OPEN);
    cms.add_plastic(
        contract,
        "1".parse().unwrap(),
        "2812".parse().unwrap(),
        PlasticStatus::Locked,
    );
    let handle = module
        .import_symmetric(
            KeyAlgorithm::Tdes3,
            KeyPurpose::PinEncryption,
            &hex::decode(ZPK).unwrap(),
        )
        .await
        .unwrap();
    let zone = ZoneKeys::new();
    let zpk = ZpkIndex::new("ZPK-CMS").unwrap();
    zone.insert(zpk.clone(), handle).unwrap();
    Issuer::with_rng_seed(cms, module, zone, zpk, [7; 32])
}

/// The Mastercard flow on the aws-lc engine with its ring on `ring_store`
/// and its replay claims in `replay`.
async fn mastercard<S: KeyStore, R: ReplayStore>(
    ring_store: S,
    replay: R,
) -> MastercardPanless<MemoryCms, S, SystemClock, SoftwareModule, R> {
    let issuer = issuer(SoftwareModule::new_aws_lc().unwrap()).await;
    let der = RsaPrivateKey::from_pem(RSA2048_PEM)
        .unwrap()
        .to_pkcs8_der()
        .unwrap();
    let handle = issuer
        .module()
        .import_rsa_private(KeyPurpose::PinEncryption, &der)
        .await
        .unwrap();
    let new = NewKey::from_module(issuer.module(), KeyIndex::new(KEY_INDEX).unwrap(), handle)
        .await
        .unwrap();
    let ring = RsaKeyRing::with_store(ring_store, SystemClock);
    ring.rotate(new, Duration::ZERO).await.unwrap();
    MastercardPanless::new(issuer, ring).with_replay_store(replay)
}

fn mastercard_group(c: &mut Criterion, rt: &Runtime, stores: &RedisStores) {
    let memory = rt.block_on(mastercard(
        pinset::keys::MemoryKeyStore::new(),
        pinset::flow::MemoryReplayStore::new(),
    ));
    let redis = rt.block_on(mastercard(
        stores.key_ring(Kek::new(&[0x24; 32]).unwrap()),
        stores.replay(),
    ));
    let device = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap().public_key();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let pin = Pin::new("7580").unwrap();
    // A fresh cryptogram per request: the replay window is on.
    let mut seal = || SetPinRequest {
        new_pin_block: hex::encode_upper(
            device
                .seal(Format::Iso1, &pin, None, RsaPadding::OaepSha256, &mut rng)
                .unwrap(),
        ),
        card_expiry_date: "2812".into(),
        card_sequence_number: None,
    };
    // Both must do the whole job, or the ratio means nothing.
    let first = seal();
    for status in [
        rt.block_on(memory.set_pin(CONTRACT, Some(KEY_INDEX), &first)),
        rt.block_on(redis.set_pin(CONTRACT, Some(KEY_INDEX), &seal())),
    ] {
        assert_eq!(status.unwrap().http_status, 204);
    }
    assert!(
        rt.block_on(redis.set_pin(CONTRACT, Some(KEY_INDEX), &first))
            .is_ok(),
        "the two instances keep separate replay stores here"
    );

    let mut g = c.benchmark_group("mastercard_set_pin_stores");
    g.bench_function("memory", |b| {
        b.iter_batched(
            &mut seal,
            |body| {
                rt.block_on(memory.set_pin(CONTRACT, Some(KEY_INDEX), black_box(&body)))
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    memory.issuer().cms().take_emv_scripts();
    g.bench_function("redis", |b| {
        b.iter_batched(
            &mut seal,
            |body| {
                rt.block_on(redis.set_pin(CONTRACT, Some(KEY_INDEX), black_box(&body)))
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    redis.issuer().cms().take_emv_scripts();
    // The floor under every store call: one round trip to this Redis.
    let mut connection = stores.manager().clone();
    g.bench_function("redis_ping", |b| {
        b.iter(|| {
            rt.block_on(pinset_redis::redis::cmd("PING").query_async::<String>(&mut connection))
                .unwrap()
        })
    });
    g.finish();
}

/// Times the issuer side of one Enfuce set PIN per iteration.
fn enfuce_set_pins<S: ControlStore>(
    rt: &Runtime,
    api: &EnfuceSetPin<MemoryCms, S>,
    iters: u64,
) -> Duration {
    let device = RsaPrivateKey::from_pem(RSA2048_PEM).unwrap();
    let public_key = device.public_key().to_base64();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let pin = Pin::new("1234").unwrap();
    let (contract, plastic) = (CONTRACT.parse().unwrap(), "1".parse().unwrap());
    let mut issuer_time = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        let (control, tzpk) = rt.block_on(async {
            let control = api
                .issue_control(contract, plastic, ControlOperation::SetPin)
                .await
                .unwrap();
            let tzpk = api
                .get_tzpk(&TzpkRequest {
                    control_id: control.as_str().into(),
                    public_key: public_key.clone(),
                })
                .await
                .unwrap();
            (control, tzpk)
        });
        issuer_time += start.elapsed();
        // Device side, not timed.
        let key = unwrap_tdes_key(
            &device,
            RsaPadding::OaepSha256,
            &BASE64.decode(&tzpk.tzpk).unwrap(),
        )
        .unwrap();
        let request = EnfuceSetPinRequest {
            control_id: control.as_str().into(),
            pin_block: BASE64.encode(
                PinKey::from(key)
                    .encipher_block(Format::Iso1, &iso1::encode(&pin, &mut rng), None)
                    .unwrap(),
            ),
        };
        let start = Instant::now();
        black_box(rt.block_on(api.set_pin(&request, "bench")).unwrap());
        issuer_time += start.elapsed();
        api.issuer().cms().take_emv_scripts();
    }
    issuer_time
}

fn enfuce_group(c: &mut Criterion, rt: &Runtime, stores: &RedisStores) {
    let memory = EnfuceSetPin::new(
        rt.block_on(issuer(SoftwareModule::new().unwrap())),
        MonotonicClock,
    );
    let redis = rt.block_on(async {
        let issuer = issuer(SoftwareModule::new().unwrap()).await;
        let kek = issuer
            .module()
            .import_symmetric(KeyAlgorithm::Aes256, KeyPurpose::KeyEncryption, &[0x5C; 32])
            .await
            .unwrap();
        EnfuceSetPin::with_store(issuer, stores.controls()).with_shared_tzpks(kek)
    });
    let mut g = c.benchmark_group("enfuce_set_pin_stores");
    g.bench_function("memory", |b| {
        b.iter_custom(|iters| enfuce_set_pins(rt, &memory, iters))
    });
    g.bench_function("redis", |b| {
        b.iter_custom(|iters| enfuce_set_pins(rt, &redis, iters))
    });
    g.finish();
    assert_eq!(memory.pending_tzpks().unwrap(), 0);
}

fn stores(c: &mut Criterion) {
    let Some(server) = RedisServer::start() else {
        eprintln!("stores: redis-server not found (PATH, PINSET_REDIS_SERVER): skipped");
        return;
    };
    // One thread drives both the flow and the connection: no cross-thread
    // wake-up per round trip, as in a service handling one request per task.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stores = rt
        .block_on(RedisStores::connect(&server.url()))
        .unwrap()
        .with_prefix("pinset-bench:");
    mastercard_group(c, &rt, &stores);
    enfuce_group(c, &rt, &stores);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    targets = stores
}
criterion_main!(benches);
