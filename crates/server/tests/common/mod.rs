//! The harness of the end-to-end tests: an in-process server on a real
//! loopback socket, a `reqwest` client, the device side of both flows
//! (built with pinset-envelope, as a device would), the demo CMS view, and
//! captured logs with a check that no secret reached them.

#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20::ChaCha20Rng;
use pinset_block::{ClearBlock, Format, Pan, Pin, iso1, iso2};
use pinset_envelope::rsa::unwrap_tdes_key;
use pinset_envelope::{PinKey, RsaDecryptor, RsaPadding, RsaPrivateKey, RsaPublicKey, TdesKey};
use pinset_server::{Config, Family, ServerError, Tokens};
use rand_core::{Rng, SeedableRng};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Generous bound for anything the tests wait on: a loaded 2-core machine
/// is slow, never wrong.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// The sandbox cards: contract, PAN.
pub const CARDS: [(&str, &str); 5] = [
    ("70001", "5141576351968605"),
    ("70002", "5185410084016382"),
    ("70003", "5115795782050849"),
    ("70004", "5128839686355014"),
    ("70005", "5121876475234064"),
];
pub const KEY_INDEX: &str = "A1564386531162";
pub const CMS_ZPK_HEX: &str = "F94B8CD62A20B85AA9B8E06DB6B0BA6785EC029CB604E861";
pub const CMS_ZPK_KCV: &str = "F3BF3A";
pub const SHARED_ZPK_HEX: &str = "5AFE406A9BEF03F979DC56FB8DA06BDF";
/// The demo's RSA key: a public fixture of this repository, which the
/// server publishes under `KEY_INDEX`.
pub const DEMO_RSA_PKCS8: &[u8] = include_bytes!("../../../envelope/tests/data/rsa2048_pkcs8.der");
/// The device's own RSA key for Enfuce's tzpk.
pub const DEVICE_RSA_PEM: &str = include_str!("../../../envelope/tests/data/rsa3072.pem");
/// Another RSA-2048 key: cryptograms under it are no PIN blocks to the server.
pub const OTHER_RSA_PEM: &str = include_str!("../../../envelope/tests/data/rsa2048_other.pem");

pub fn pan_of(contract: &str) -> &'static str {
    CARDS
        .iter()
        .find(|(c, _)| *c == contract)
        .map(|(_, p)| *p)
        .expect("a sandbox contract")
}

// ------------------------------------------------------------ logs

/// Every log line of this test binary, from every server and thread.
fn log_buffer() -> &'static Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER.get_or_init(|| Arc::new(Mutex::new(Vec::new())))
}

struct BufferWriter(Arc<Mutex<Vec<u8>>>);

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once per process, a subscriber writing every event of every
/// level but the client's own (reqwest, hyper's client side) to the buffer.
pub fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let buffer = Arc::clone(log_buffer());
        let filter = tracing_subscriber::EnvFilter::new(
            "trace,reqwest=off,hyper_util::client=off,hyper::client=off",
        );
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_target(true)
            .with_writer(move || BufferWriter(Arc::clone(&buffer)))
            .try_init()
            .expect("no other global subscriber in this test binary");
    });
}

/// The captured logs so far.
pub fn logs() -> String {
    let buffer = log_buffer()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    String::from_utf8_lossy(&buffer).into_owned()
}

/// Values that must never reach a log line, collected while a test runs.
#[derive(Default)]
pub struct Secrets(Mutex<Vec<(String, String)>>);

impl Secrets {
    /// Every test's fixed secrets: the PANs and both ZPKs.
    pub fn new() -> Self {
        let secrets = Secrets::default();
        for (contract, pan) in CARDS {
            secrets.add(&format!("PAN of {contract}"), pan);
        }
        secrets.add("CMS ZPK", CMS_ZPK_HEX);
        secrets.add("shared ZPK", SHARED_ZPK_HEX);
        secrets
    }

    pub fn add(&self, what: &str, value: &str) {
        assert!(!value.is_empty(), "an empty secret ({what})");
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((what.to_owned(), value.to_owned()));
    }

    /// A long value, and its first 24 characters (a truncated log of it).
    pub fn add_long(&self, what: &str, value: &str) {
        self.add(what, value);
        if value.len() > 24 {
            self.add(&format!("{what} (first 24 chars)"), &value[..24]);
        }
    }

    /// A controlId: only its first 8 characters may be logged.
    pub fn add_control_id(&self, id: &str) {
        self.add("controlId", id);
        self.add("controlId's first 9 chars", &id[..9]);
        self.add("controlId after its first 8 chars", &id[8..]);
    }

    /// Asserts that no secret appears in the captured logs, in either case.
    pub fn assert_not_logged(&self) {
        let logs = logs();
        assert!(
            logs.contains("pinset::http"),
            "the log capture saw no request line: the check would be vacuous"
        );
        let lower = logs.to_lowercase();
        let secrets = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut leaked = Vec::new();
        for (what, value) in secrets.iter() {
            if logs.contains(value.as_str()) || lower.contains(&value.to_lowercase()) {
                let line = logs
                    .lines()
                    .chain(lower.lines())
                    .find(|l| l.contains(value.as_str()) || l.contains(&value.to_lowercase()))
                    .unwrap_or_default()
                    .to_owned();
                leaked.push(format!("{what}: in `{line}`"));
            }
        }
        assert!(
            leaked.is_empty(),
            "secrets in the logs:\n{}",
            leaked.join("\n")
        );
    }
}

// ------------------------------------------------------------ the server

/// A token: 32 random bytes, base64url (43 characters), as the demo makes.
pub fn fresh_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A running in-process server with one token per family and one for both.
pub struct Server {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    /// Allowed on Mastercard's routes only.
    pub mc: String,
    /// Allowed on Enfuce's routes only.
    pub enfuce: String,
    /// Allowed on both.
    pub both: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl Server {
    /// A demo server on `127.0.0.1:0`.
    pub async fn start(secrets: &Secrets) -> Server {
        Server::start_with(secrets, |_| {}).await
    }

    /// A demo server on `127.0.0.1:0`, its config changed by `adjust`.
    pub async fn start_with(secrets: &Secrets, adjust: impl FnOnce(&mut Config)) -> Server {
        capture_logs();
        let mut config = Config::demo("127.0.0.1:0".parse().expect("an address"));
        // The per-request timeout must not fire on a loaded machine.
        config.timeout_ms = 120_000;
        adjust(&mut config);
        let (mc, enfuce, both) = (fresh_token(), fresh_token(), fresh_token());
        for (what, token) in [
            ("mc token", &mc),
            ("enfuce token", &enfuce),
            ("token", &both),
        ] {
            secrets.add(what, token);
        }
        let mut tokens = Tokens::default();
        tokens.add(&mc, &[Family::Mastercard]);
        tokens.add(&enfuce, &[Family::Enfuce]);
        tokens.add(&both, &[Family::Mastercard, Family::Enfuce]);
        let (ready_tx, ready_rx) = oneshot::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(pinset_server::serve(
            config,
            tokens,
            move |addr| {
                let _ = ready_tx.send(addr);
            },
            async move {
                let _ = shutdown_rx.await;
            },
        ));
        let addr = match tokio::time::timeout(PATIENCE, ready_rx).await {
            Ok(Ok(addr)) => addr,
            Ok(Err(_)) => panic!("the server stopped before it was ready: {:?}", task.await),
            Err(_) => panic!("the server was not ready within {PATIENCE:?}"),
        };
        assert!(addr.ip().is_loopback() && addr.port() != 0, "bound {addr}");
        Server {
            addr,
            base: format!("http://{addr}"),
            client: client(),
            mc,
            enfuce,
            both,
            shutdown: Some(shutdown_tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Triggers the graceful shutdown.
    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Whether the server task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Triggers the shutdown and waits for the server to end.
    pub async fn stop(mut self) -> Result<(), ServerError> {
        self.trigger_shutdown();
        let task = self.task.take().expect("a running server");
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("the server stops in time")
            .expect("the server task did not panic")
    }

    // -------------------------------------------- requests

    /// `GET /public-keys?data_type_to_secure=PIN_BLOCK`: the key index and the device's key.
    pub async fn public_key(&self) -> (String, RsaPublicKey) {
        let response = self
            .client
            .get(self.url("/public-keys?data_type_to_secure=PIN_BLOCK"))
            .bearer_auth(&self.mc)
            .send()
            .await
            .expect("GET /public-keys");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("JSON");
        let index = body["keyIndex"].as_str().expect("keyIndex").to_owned();
        let key = body["publicRsaKey"].as_str().expect("publicRsaKey");
        (
            index,
            RsaPublicKey::from_hex(key).expect("an RSA public key as DER hex"),
        )
    }

    /// `PUT /cards/{contract}/pin` with `body` under `key_index`, with `token`.
    pub async fn put_pin(&self, contract: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(&format!("/cards/{contract}/pin")))
            .bearer_auth(token)
            .header("Key-Index", KEY_INDEX)
            .json(body)
            .send()
            .await
            .expect("PUT /cards/{id}/pin")
    }

    /// `POST path?auditUser=e2e` with `body`, with `token`.
    pub async fn enfuce_post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("{path}?auditUser=e2e-tester")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("an Enfuce POST")
    }

    /// `POST /pincontrol/v2/plastic/{plastic}`: a fresh controlId.
    pub async fn issue_control(&self, plastic: &str, secrets: &Secrets) -> String {
        let response = self
            .enfuce_post(
                &format!("/pincontrol/v2/plastic/{plastic}"),
                &self.enfuce,
                &serde_json::json!({"operation": "SET_PIN"}),
            )
            .await;
        assert_eq!(response.status(), 200, "issue control for {plastic}");
        let body: Value = response.json().await.expect("JSON");
        let id = body["id"].as_str().expect("id").to_owned();
        secrets.add_control_id(&id);
        assert_eq!(body["operation"], "SET_PIN");
        assert_eq!(body["plasticId"], plastic);
        id
    }

    /// `POST /pin/v3/set/tzpk` with the device's key: the tzpk, unwrapped.
    pub async fn tzpk(
        &self,
        control_id: &str,
        device: &RsaPrivateKey,
        secrets: &Secrets,
    ) -> PinKey {
        let response = self
            .enfuce_post(
                "/pin/v3/set/tzpk",
                &self.enfuce,
                &serde_json::json!({
                    "controlId": control_id,
                    "publicKey": device.public_key().to_base64(),
                }),
            )
            .await;
        assert_eq!(response.status(), 200, "tzpk");
        let body: Value = response.json().await.expect("JSON");
        let wrapped = body["tzpk"].as_str().expect("tzpk");
        secrets.add_long("wrapped tzpk", wrapped);
        let wrapped = BASE64.decode(wrapped).expect("base64 tzpk");
        let tzpk = unwrap_tdes_key(device, RsaPadding::OaepSha256, &wrapped)
            .expect("the tzpk opens under the device's key");
        assert_eq!(tzpk.len(), 16, "a 2-key TDES tzpk");
        secrets.add("tzpk", &hex::encode_upper(tzpk.expose_bytes()));
        secrets.add("tzpk base64", &BASE64.encode(tzpk.expose_bytes()));
        PinKey::from(tzpk)
    }

    /// `GET /demo/cms/cards`.
    pub async fn cms_cards(&self) -> Value {
        let response = self
            .client
            .get(self.url("/demo/cms/cards"))
            .bearer_auth(&self.both)
            .send()
            .await
            .expect("GET /demo/cms/cards");
        assert_eq!(response.status(), 200);
        response.json().await.expect("JSON")
    }

    /// The stored PIN block of `contract`'s only plastic, as hex, if any;
    /// its ZPK index and KCV are checked.
    pub async fn stored_block(&self, contract: &str, secrets: &Secrets) -> Option<String> {
        let cards = self.cms_cards().await;
        let card = cards
            .as_array()
            .expect("an array")
            .iter()
            .find(|c| c["cardContractId"] == contract)
            .unwrap_or_else(|| panic!("contract {contract} in {cards}"));
        let plastics = card["plastics"].as_array().expect("plastics");
        assert_eq!(plastics.len(), 1, "one plastic");
        let pin = &plastics[0]["pin"];
        if pin.is_null() {
            return None;
        }
        assert_eq!(pin["zpkIndex"], "ZPK-CMS");
        assert_eq!(pin["zpkKcv"], CMS_ZPK_KCV);
        let block = pin["pinBlock"].as_str().expect("pinBlock").to_owned();
        secrets.add("stored format 0 block", &block);
        Some(block)
    }

    /// The PIN the CMS holds for `contract`, opened under the sandbox ZPK.
    pub async fn stored_pin(&self, contract: &str, secrets: &Secrets) -> Option<String> {
        let block = self.stored_block(contract, secrets).await?;
        Some(open_stored(&block, contract))
    }

    /// The value of one metric line (`name{labels}` exactly), 0 if absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("text");
        metric_in(&text, series)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.trigger_shutdown();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()
        .expect("a client")
}

/// The value of `series` in a Prometheus text exposition, 0 if absent.
pub fn metric_in(text: &str, series: &str) -> f64 {
    text.lines()
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .map_or(0.0, |(_, value)| value.parse().expect("a number"))
}

// ------------------------------------------------------------ the device

pub fn rng() -> ChaCha20Rng {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the OS random source");
    ChaCha20Rng::from_seed(seed)
}

/// A random PIN of 12 digits: long enough that finding it in a log is no
/// coincidence.
pub fn random_pin(rng: &mut ChaCha20Rng) -> String {
    (0..12)
        .map(|_| char::from(b'0' + (rng.next_u32() % 10) as u8))
        .collect()
}

/// A device's Mastercard cryptogram of `pin`: the uppercase hex
/// `newPinBlock`. The secrets get the PIN, the cryptogram and the clear
/// format 1 block (read back with the demo's published private key).
pub fn mc_cryptogram(
    key: &RsaPublicKey,
    pin: &str,
    rng: &mut ChaCha20Rng,
    secrets: &Secrets,
) -> String {
    let cryptogram = key
        .seal(
            Format::Iso1,
            &Pin::new(pin).expect("a PIN"),
            None,
            RsaPadding::OaepSha256,
            rng,
        )
        .expect("seal");
    let demo = RsaPrivateKey::from_der(DEMO_RSA_PKCS8).expect("the demo key");
    let clear = demo
        .decrypt(RsaPadding::OaepSha256, &cryptogram)
        .expect("the published key is the demo fixture's");
    secrets.add("PIN", pin);
    secrets.add("clear format 1 block", &hex::encode_upper(&*clear));
    let hex = hex::encode_upper(cryptogram);
    secrets.add_long("cryptogram", &hex);
    hex
}

/// `{newPinBlock, cardExpiryDate, cardSequenceNumber}` for a sandbox plastic.
pub fn mc_body(new_pin_block: &str) -> Value {
    serde_json::json!({
        "newPinBlock": new_pin_block,
        "cardExpiryDate": "2812",
        "cardSequenceNumber": "1",
    })
}

/// A clear ISO format 1 block of `pin`, with random fill.
pub fn format1(pin: &str, rng: &mut ChaCha20Rng, secrets: &Secrets) -> ClearBlock {
    secrets.add("PIN", pin);
    let clear = iso1::encode(&Pin::new(pin).expect("a PIN"), rng);
    secrets.add(
        "clear format 1 block",
        &hex::encode_upper(clear.expose_bytes()),
    );
    clear
}

/// A valid ISO format 2 block: not the format 1 the server expects, so an
/// invalid PIN block to it whatever the key.
pub fn format2(pin: &str) -> ClearBlock {
    iso2::encode(&Pin::new(pin).expect("a PIN"))
}

/// Enciphers `clear` (of `format`) under `key` (TDES-ECB), as the device does.
pub fn encipher(key: &PinKey, format: Format, clear: &ClearBlock, secrets: &Secrets) -> Vec<u8> {
    let block = key
        .encipher_block(format, clear, None)
        .expect("encipher")
        .as_bytes()
        .to_vec();
    secrets.add("enciphered block", &hex::encode_upper(&block));
    secrets.add("enciphered block base64", &BASE64.encode(&block));
    block
}

pub fn shared_zpk() -> PinKey {
    PinKey::from(TdesKey::new(&hex::decode(SHARED_ZPK_HEX).expect("hex")).expect("the shared ZPK"))
}

pub fn device_key() -> RsaPrivateKey {
    RsaPrivateKey::from_pem(DEVICE_RSA_PEM).expect("the device key")
}

/// Opens a stored ISO format 0 block under the sandbox ZPK with `contract`'s PAN.
pub fn open_stored(block_hex: &str, contract: &str) -> String {
    let zpk = PinKey::from(TdesKey::new(&hex::decode(CMS_ZPK_HEX).expect("hex")).expect("the ZPK"));
    assert_eq!(zpk.kcv().to_string(), CMS_ZPK_KCV);
    let pan = Pan::new(pan_of(contract)).expect("a PAN");
    let block = hex::decode(block_hex).expect("hex block");
    let pin = zpk
        .open(Format::Iso0, &block, Some(&pan))
        .expect("the stored block opens as format 0 under the sandbox ZPK");
    String::from_utf8(pin.expose_digits().to_vec()).expect("digits")
}

// ------------------------------------------------------------ error bodies

/// Asserts a Mastercard error body with `reason` and returns it.
pub async fn expect_mc_error(response: reqwest::Response, status: u16, reason: &str) -> Value {
    let got = response.status().as_u16();
    let body = response.text().await.expect("a body");
    assert_eq!(got, status, "status; body {body}");
    let body: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("JSON body ({e}): {body}"));
    let errors = body["Errors"]["Error"]
        .as_array()
        .unwrap_or_else(|| panic!("Mastercard errors: {body}"));
    assert_eq!(errors.len(), 1, "{body}");
    let error = &errors[0];
    assert_eq!(error["ReasonCode"], reason, "{body}");
    assert!(error["Source"].is_string(), "{body}");
    assert!(
        error["Description"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert!(error["Recoverable"].is_boolean(), "{body}");
    body
}

/// Asserts an Enfuce `errorResponse` with `reason` and returns it.
pub async fn expect_enfuce_error(response: reqwest::Response, status: u16, reason: &str) -> Value {
    let got = response.status().as_u16();
    let body = response.text().await.expect("a body");
    assert_eq!(got, status, "status; body {body}");
    let body: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("JSON body ({e}): {body}"));
    assert_eq!(body["code"], status.to_string(), "{body}");
    assert_eq!(body["errorCode"], reason, "{body}");
    assert!(
        matches!(
            body["errorType"].as_str(),
            Some(
                "STATIC_VALIDATION_ERROR"
                    | "DYNAMIC_VALIDATION_ERROR"
                    | "INTEGRATION_ERROR"
                    | "SECURITY_ERROR"
                    | "UNEXPECTED_ERROR"
            )
        ),
        "{body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    let id = body["id"].as_str().unwrap_or_else(|| panic!("id: {body}"));
    assert_eq!(
        (id.len(), &id[14..15]),
        (36, "4"),
        "a UUID v4 error id: {body}"
    );
    assert!(
        body["timestamp"].as_str().is_some_and(|t| t.contains('T')),
        "{body}"
    );
    body
}

// ------------------------------------------------------------ OpenAPI

/// The served OpenAPI document.
pub async fn openapi(server: &Server) -> Value {
    let response = server
        .client
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(response.status(), 200);
    let text = response.text().await.expect("text");
    serde_json::from_str(&text).expect("/openapi.json is JSON")
}

/// Whether `doc` documents `status` for `method path`, and the served
/// body (if JSON) conforms to the documented schema exactly: every key
/// documented, every required key present, every type right.
pub fn check_documented(
    doc: &Value,
    method: &str,
    path: &str,
    status: u16,
    body: Option<&Value>,
) -> Result<(), String> {
    let operation = &doc["paths"][path][method];
    if !operation.is_object() {
        return Err(format!("{method} {path} is not in /openapi.json"));
    }
    let response = &operation["responses"][status.to_string()];
    if !response.is_object() {
        return Err(format!(
            "{method} {path} answered {status}, which /openapi.json does not document \
             (it documents {:?})",
            operation["responses"]
                .as_object()
                .map(|r| r.keys().collect::<Vec<_>>())
        ));
    }
    let Some(body) = body else { return Ok(()) };
    let schema = response["content"]
        .as_object()
        .and_then(|c| c.values().next())
        .map(|media| &media["schema"])
        .ok_or_else(|| format!("{method} {path} {status}: a body, but no documented content"))?;
    conforms(doc, schema, body, "$").map_err(|why| {
        format!("{method} {path} {status}: the body breaks its schema: {why}\nbody: {body}")
    })
}

/// Asserts [`check_documented`].
pub fn assert_documented(doc: &Value, method: &str, path: &str, status: u16, body: Option<&Value>) {
    if let Err(why) = check_documented(doc, method, path, status, body) {
        panic!("{why}");
    }
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("an unexpected $ref {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "$ref {reference} is not defined");
            resolve(doc, target)
        }
        None => schema,
    }
}

/// A small JSON Schema check, enough for the schemas utoipa writes.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        return if options.iter().any(|s| conforms(doc, s, value, at).is_ok()) {
            Ok(())
        } else {
            Err(format!("{at}: matches none of {options:?}"))
        };
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            conforms(doc, s, value, at)?;
        }
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !ok {
            return Err(format!("{at}: a {actual}, documented as {types:?}"));
        }
    }
    if let Value::Object(map) = value {
        let properties = schema["properties"].as_object();
        for key in map.keys() {
            if let Some(properties) = properties
                && !properties.contains_key(key)
            {
                return Err(format!("{at}: served key `{key}` is not documented"));
            }
        }
        for key in schema["required"].as_array().into_iter().flatten() {
            let key = key.as_str().unwrap_or_default();
            if !map.contains_key(key) {
                return Err(format!("{at}: documented required key `{key}` is missing"));
            }
        }
        if let Some(properties) = properties {
            for (key, v) in map {
                conforms(doc, &properties[key], v, &format!("{at}.{key}"))?;
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            conforms(doc, item_schema, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------ raw HTTP

/// A raw HTTP/1.1 request for `method path` with a JSON `body` and `token`.
pub fn raw_request(
    server: &Server,
    method: &str,
    path: &str,
    token: &str,
    extra: &str,
    body: &str,
) -> String {
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
        server.addr,
        body.len()
    )
}

// ------------------------------------------------------------ audit lines

/// The captured audit lines of `operation` (exactly) containing `needle`,
/// such as `contract="70001"` or `control="83fa5f55…"`.
pub fn audit_lines(logs: &str, operation: &str, needle: &str) -> Vec<String> {
    let operation = format!(" operation={operation} ");
    logs.lines()
        .filter(|l| l.contains("pinset::audit") && l.contains(&operation) && l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// How many of `lines` report success.
pub fn ok_count(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|l| l.contains("outcome=\"OK\""))
        .count()
}

/// `control="<first 8 chars>…"`: how the audit names a controlId.
pub fn control_needle(control_id: &str) -> String {
    format!("control=\"{}…\"", &control_id[..8])
}

/// Writes all of `bytes` to `stream`.
pub async fn send_all(stream: &tokio::net::TcpStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        stream.writable().await.expect("writable");
        match stream.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("write: {e}"),
        }
    }
}

/// Reads what `stream` has into `buffer`: 0 at EOF.
pub async fn receive(stream: &tokio::net::TcpStream, buffer: &mut [u8]) -> usize {
    loop {
        stream.readable().await.expect("readable");
        match stream.try_read(buffer) {
            Ok(n) => return n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}
