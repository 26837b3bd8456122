//! The service's state: both flows on one security module, the reference
//! CMS, the stores (in memory, or on Redis), tokens and metrics.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use pinset_cms::{CardContractId, ContractState, MemoryCms, PlasticSequence, PlasticStatus};
use pinset_flow::{
    AuditEvent, AuditSink, EnfuceSetPin, Issuer, MastercardPanless, MemoryReplayStore, ReplayStore,
};
use pinset_keys::{
    ControlStore, Kek, KeyIndex, KeyPurpose, KeyRef, KeyStore, MasterKek, MemoryControlStore,
    MemoryKeyStore, MonotonicClock, NewKey, RsaKeyRing, SystemClock, TemporaryKeys, ZoneKeys,
    ZpkIndex,
};
use pinset_module::{KeyAlgorithm, SecurityModule};
use pinset_redis::{RedisControlStore, RedisKeyStore, RedisReplayStore, RedisStores};

use crate::auth::Tokens;
use crate::metrics::{Counted, Metrics};
use crate::{Config, ServerError};

/// The Mastercard Processing sandbox (shared/vectors/iso9564.json,
/// `mastercard_sandbox`): contract, PAN.
pub const SANDBOX_CARDS: [(&str, &str); 5] = [
    ("70001", "5141576351968605"),
    ("70002", "5185410084016382"),
    ("70003", "5115795782050849"),
    ("70004", "5128839686355014"),
    ("70005", "5121876475234064"),
];
/// The sandbox key index.
pub const SANDBOX_KEY_INDEX: &str = "A1564386531162";
/// The CMS's zone PIN key index, and the sandbox ZPK (KCV F3BF3A).
pub const CMS_ZPK_INDEX: &str = "ZPK-CMS";
const SANDBOX_ZPK: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
/// The pre-shared ZPK of `POST /pin/v2` in demo mode (KCV 4A997A).
pub const SHARED_ZPK_INDEX: &str = "ZPK-SHARED";
const SHARED_ZPK: &str = "5AFE406A9BEF03F979DC56FB8DA06BDF";
/// The demo's RSA-2048 key: the OpenSSL-made test fixture, public in this
/// repository. Demo mode only.
const DEMO_RSA_PKCS8: &[u8] = include_bytes!("../../envelope/tests/data/rsa2048_pkcs8.der");

/// The types a service runs on: a security module and three stores.
pub trait Stack: Send + Sync + 'static {
    /// The security module.
    type Module: SecurityModule + 'static;
    /// Where the RSA key ring lives.
    type Keys: KeyStore + 'static;
    /// Where used cryptograms are remembered.
    type Replay: ReplayStore + 'static;
    /// Where Enfuce controls live.
    type Controls: ControlStore + 'static;
}

/// Every store in process memory: one instance.
pub struct InMemory<M>(PhantomData<M>);

impl<M: SecurityModule + 'static> Stack for InMemory<M> {
    type Module = M;
    type Keys = MemoryKeyStore;
    type Replay = MemoryReplayStore;
    type Controls = MemoryControlStore;
}

/// Every store on Redis: several instances.
pub struct OnRedis<M>(PhantomData<M>);

impl<M: SecurityModule + 'static> Stack for OnRedis<M> {
    type Module = M;
    type Keys = RedisKeyStore;
    type Replay = RedisReplayStore;
    type Controls = RedisControlStore;
}

/// The security module as the flows see it: counted for the metrics, shared.
pub type Module<S> = Arc<Counted<<S as Stack>::Module>>;

/// The running service's state.
pub struct App<S: Stack> {
    pub(crate) mp: MastercardPanless<Arc<MemoryCms>, S::Keys, SystemClock, Module<S>, S::Replay>,
    pub(crate) enfuce: EnfuceSetPin<Arc<MemoryCms>, S::Controls, Module<S>>,
    pub(crate) cms: Arc<MemoryCms>,
    pub(crate) module: Module<S>,
    /// Enfuce plastic ids: the card contract and plastic each names.
    pub(crate) plastics: BTreeMap<String, (CardContractId, PlasticSequence)>,
    pub(crate) tokens: Tokens,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) redis: Option<RedisStores>,
    pub(crate) demo: bool,
    pub(crate) timeout: Duration,
}

/// Audit events as log lines: masked PAN, contract, plastic, key index or
/// the controlId's first characters, outcome. Never a PIN, block or key.
struct TracingAudit;

impl AuditSink for TracingAudit {
    fn record(&self, event: AuditEvent) {
        tracing::info!(
            target: "pinset::audit",
            operation = ?event.operation,
            outcome = event.outcome,
            contract = event.contract.map(|c| c.to_string()),
            plastic = event.plastic.map(|p| p.to_string()),
            masked_pan = event.masked_pan.map(|p| p.to_string()),
            key_index = event.key_index.map(|k| k.to_string()),
            control = event.control,
            audit_user = event.audit_user,
            "audit"
        );
    }
}

/// A service's three stores.
pub(crate) struct Stores<S: Stack> {
    keys: S::Keys,
    replay: S::Replay,
    controls: S::Controls,
}

impl<M: SecurityModule + 'static> Stores<InMemory<M>> {
    pub(crate) fn in_memory() -> Self {
        Stores {
            keys: MemoryKeyStore::new(),
            replay: MemoryReplayStore::new(),
            controls: TemporaryKeys::with_clock(MonotonicClock),
        }
    }
}

impl<M: SecurityModule + 'static> Stores<OnRedis<M>> {
    pub(crate) fn on_redis(redis: &RedisStores, kek: Kek) -> Self {
        Stores {
            keys: redis.key_ring(kek),
            replay: redis.replay(),
            controls: redis.controls(),
        }
    }
}

/// Reads a KEK file (64 hex digits): the master from which the
/// ring-sealing and tzpk-wrapping keys are derived.
pub(crate) fn read_kek(config: &Config) -> Result<Option<MasterKek>, ServerError> {
    let Some(path) = &config.kek_file else {
        return Ok(None);
    };
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            ServerError::Config(format!("KEK file {}: {}", path.display(), e.kind()))
        })?);
    let bytes = zeroize::Zeroizing::new(
        hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| ServerError::Config("the KEK file must hold 64 hex digits".into()))?,
    );
    Ok(Some(MasterKek::new(&bytes)?))
}

fn cms_error(e: impl std::fmt::Display) -> ServerError {
    ServerError::Config(format!("demo data: {e}"))
}

impl<S: Stack> App<S> {
    /// Builds the service on `module` and `stores`: in demo mode, the
    /// sandbox cards and keys.
    pub(crate) async fn build(
        config: &Config,
        module: S::Module,
        stores: Stores<S>,
        tokens: Tokens,
        redis: Option<RedisStores>,
        kek: Option<&[u8]>,
    ) -> Result<Self, ServerError> {
        let metrics = Arc::new(Metrics::default());
        let module = Arc::new(Counted::new(module, Arc::clone(&metrics)));
        let Stores {
            keys,
            replay,
            controls,
        } = stores;

        // The reference CMS, seeded in demo mode.
        let cms = Arc::new(MemoryCms::new());
        let mut plastics = BTreeMap::new();
        if config.demo {
            for (contract, pan) in SANDBOX_CARDS {
                let id: CardContractId = contract.parse().map_err(cms_error)?;
                let sequence: PlasticSequence = "1".parse().map_err(cms_error)?;
                cms.add_contract(
                    id,
                    pinset_block::Pan::new(pan).map_err(cms_error)?,
                    ContractState::OPEN,
                );
                cms.add_plastic(
                    id,
                    sequence,
                    "2812".parse().map_err(cms_error)?,
                    PlasticStatus::Locked,
                );
                plastics.insert(format!("P{contract}"), (id, sequence));
            }
        }

        // Keys go into the module; the flows hold handles.
        let (cms_zpk, shared_zpk, rsa_key) = if config.demo {
            let zpk = import_hex(&*module, KeyAlgorithm::Tdes3, SANDBOX_ZPK).await?;
            let shared = import_hex(&*module, KeyAlgorithm::Tdes2, SHARED_ZPK).await?;
            let rsa = module
                .import_rsa_private(KeyPurpose::PinEncryption, DEMO_RSA_PKCS8)
                .await
                .map_err(|e| ServerError::Module(e.to_string()))?;
            (zpk, Some(shared), rsa)
        } else {
            return Err(ServerError::Config(
                "this reference service runs with --demo: its CMS is the in-memory reference CMS; \
                 compose pinset-flow with your own CardManagement for production"
                    .into(),
            ));
        };
        let zone = || -> Result<ZoneKeys, ServerError> {
            let zone = ZoneKeys::new();
            zone.insert(index(CMS_ZPK_INDEX)?, cms_zpk.clone())?;
            Ok(zone)
        };
        // Devices' pre-shared keys live apart from the CMS's key.
        let preshared = ZoneKeys::new();
        if let Some(shared) = shared_zpk {
            preshared.insert(index(SHARED_ZPK_INDEX)?, shared)?;
        }

        let ring = RsaKeyRing::with_store(keys, SystemClock);
        // Another instance on the same store may have installed it already.
        if ring.live_key(SANDBOX_KEY_INDEX).await.is_err() {
            let key_index = KeyIndex::new(SANDBOX_KEY_INDEX)?;
            let new = NewKey::from_module(&*module, key_index, rsa_key).await?;
            match ring.rotate(new, Duration::from_secs(24 * 3600)).await {
                Ok(_) => {}
                // Another instance starting at the same time installed it.
                Err(pinset_keys::KeyError::DuplicateKeyIndex(_))
                    if ring.live_key(SANDBOX_KEY_INDEX).await.is_ok() => {}
                Err(e) => return Err(e.into()),
            }
        }

        let issuer = |seed: u8| -> Result<Issuer<Arc<MemoryCms>, Module<S>>, ServerError> {
            let mut rng_seed = [0u8; 32];
            rand_core::TryRng::try_fill_bytes(&mut getrandom::SysRng, &mut rng_seed)
                .map_err(|_| ServerError::Config("the OS random source failed".into()))?;
            rng_seed[0] ^= seed;
            Ok(Issuer::with_rng_seed(
                Arc::clone(&cms),
                Arc::clone(&module),
                zone()?,
                index(CMS_ZPK_INDEX)?,
                rng_seed,
            )
            .with_audit(TracingAudit))
        };
        let mp = MastercardPanless::new(issuer(1)?, ring).with_replay_store(replay);
        let mut enfuce =
            EnfuceSetPin::with_store(issuer(2)?, controls).with_preshared_zpks(preshared);
        if let Some(kek) = kek {
            let handle = module
                .import_symmetric(KeyAlgorithm::Aes256, KeyPurpose::KeyEncryption, kek)
                .await
                .map_err(|e| ServerError::Module(e.to_string()))?;
            enfuce = enfuce.with_shared_tzpks(handle);
        }
        Ok(App {
            mp,
            enfuce,
            cms,
            module,
            plastics,
            tokens,
            metrics,
            redis,
            demo: config.demo,
            timeout: config.timeout(),
        })
    }

    /// The tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// The live RSA key's handle, for readiness.
    pub(crate) async fn ready(&self) -> Result<(), String> {
        let live = self
            .mp
            .ring()
            .live_key(SANDBOX_KEY_INDEX)
            .await
            .map_err(|e| format!("key ring: {e}"))?;
        self.module
            .rsa_public_key(live.key())
            .await
            .map_err(|e| format!("security module: {e}"))?;
        if let Some(redis) = &self.redis {
            let mut connection = redis.manager().clone();
            pinset_redis::redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
                .map_err(|e| format!("redis: {:?}", e.kind()))?;
        }
        Ok(())
    }
}

fn index(name: &str) -> Result<ZpkIndex, ServerError> {
    Ok(ZpkIndex::new(name)?)
}

async fn import_hex<M: SecurityModule>(
    module: &M,
    algorithm: KeyAlgorithm,
    hex_key: &str,
) -> Result<KeyRef, ServerError> {
    let bytes = zeroize::Zeroizing::new(
        hex::decode(hex_key).map_err(|_| ServerError::Config("a demo key is not hex".into()))?,
    );
    module
        .import_symmetric(algorithm, KeyPurpose::PinEncryption, &bytes)
        .await
        .map_err(|e| ServerError::Module(e.to_string()))
}
