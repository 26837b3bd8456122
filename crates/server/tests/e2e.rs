//! End-to-end tests of pinset-server over a real loopback socket: the
//! server runs in process on `127.0.0.1:0`, the client is `reqwest` (or a
//! raw `TcpStream` where the test needs to misbehave), and the device side
//! of both flows is built here with pinset-envelope.
//!
//! Each test starts its own server, so their CMSs are separate; the logs of
//! the whole binary go to one buffer, and each test ends by checking that
//! none of its secrets (PINs, clear and enciphered blocks, PANs, tokens,
//! controlIds beyond their first 8 characters, ZPKs, tzpks) reached it.
//!
//! Audit lines are matched to requests by the controlId's prefix (Enfuce
//! v3), or by an operation and a contract only one test uses: Mastercard
//! set PINs on 70001 (the success test; the refusals test's are never
//! `OK`), on 70004 and 70003 (the disconnect test), on 70005 (the
//! concurrency test) and on 70002 (the shutdown test);
//! pre-shared set PINs on 70003 (the pre-shared test).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::*;
use pinset_block::Format;
use pinset_server::{Config, Family, Tokens, Verdict};
use serde_json::{Value, json};
use tokio::net::TcpStream;

const SET_PIN_MC: &str = "/cards/{card_contract_id}/pin";
const CONTROL: &str = "/pincontrol/v2/plastic/{plasticId}";
const TZPK: &str = "/pin/v3/set/tzpk";
const SET_PIN_V3: &str = "/pin/v3/set";
const SET_PIN_V2: &str = "/pin/v2/{plasticId}";

/// Sends `response`'s status and JSON body (if any) to the OpenAPI check.
async fn checked(
    doc: &Value,
    method: &str,
    path: &str,
    response: reqwest::Response,
) -> (u16, Option<Value>) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = (!text.is_empty()).then(|| {
        serde_json::from_str::<Value>(&text)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: not JSON ({e}): {text}"))
    });
    assert_documented(doc, method, path, status, body.as_ref());
    (status, body)
}

// ------------------------------------------------------------ operations

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_openapi() {
    let secrets = Secrets::new();
    let server = Server::start(&secrets).await;
    let client = &server.client;

    let healthz = client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);
    assert_eq!(healthz.text().await.expect("text"), "ok");

    let readyz = client
        .get(server.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(readyz.status(), 200);
    let readyz: Value = readyz.json().await.expect("JSON");
    assert_eq!(readyz, json!({"status": "ready"}));

    // Metrics: Prometheus text; requests by route and status move.
    let metrics = client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(metrics.status(), 200);
    let content_type = metrics.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = metrics.text().await.expect("text");
    for family in [
        "# TYPE pinset_http_requests_total counter",
        "# TYPE pinset_set_pin_duration_seconds histogram",
        "# TYPE pinset_rsa_private_operations_total counter",
        "# TYPE pinset_rsa_public_operations_total counter",
        "# TYPE pinset_store_errors_total counter",
    ] {
        assert!(text.contains(family), "no `{family}` in\n{text}");
    }
    let healthz_ok = r#"pinset_http_requests_total{route="/healthz",status="200"}"#;
    assert_eq!(metric_in(&text, healthz_ok), 1.0, "{text}");
    for _ in 0..3 {
        let r = client
            .get(server.url("/healthz"))
            .send()
            .await
            .expect("healthz");
        assert_eq!(r.status(), 200);
    }
    assert_eq!(server.metric(healthz_ok).await, 4.0);
    let unmatched = client
        .get(server.url("/no/such/route"))
        .send()
        .await
        .expect("unknown");
    assert_eq!(unmatched.status(), 404);
    assert_eq!(
        server
            .metric(r#"pinset_http_requests_total{route="unmatched",status="404"}"#)
            .await,
        1.0
    );

    // OpenAPI 3.1 with every route.
    let doc = openapi(&server).await;
    let version = doc["openapi"].as_str().expect("openapi");
    assert!(version.starts_with("3.1."), "openapi {version}");
    for (method, path) in [
        ("get", "/public-keys"),
        ("put", SET_PIN_MC),
        ("post", CONTROL),
        ("post", TZPK),
        ("post", SET_PIN_V3),
        ("post", SET_PIN_V2),
        ("get", "/demo/cms/cards"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from /openapi.json"
        );
    }
    assert!(
        doc["components"]["securitySchemes"]["bearer"].is_object(),
        "no bearer security scheme"
    );
    for schema in ["MastercardErrorBody", "EnfuceErrorBody"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    assert_documented(&doc, "get", "/readyz", 200, Some(&readyz));
    // The schema check itself: it catches an undocumented key, a missing
    // required key and a wrong type in a served body.
    let served = json!({"Errors": {"Error": [{
        "Source": "pinset", "ReasonCode": "UNAUTHENTICATED",
        "Description": "A valid bearer token is required.", "Recoverable": false,
    }]}});
    assert_documented(&doc, "get", "/public-keys", 401, Some(&served));
    let mut extra = served.clone();
    extra["Errors"]["Error"][0]["Undocumented"] = json!("x");
    let mut missing = served.clone();
    if let Some(error) = missing["Errors"]["Error"][0].as_object_mut() {
        error.remove("ReasonCode");
    }
    let mut wrong_type = served.clone();
    wrong_type["Errors"]["Error"][0]["Recoverable"] = json!("no");
    for broken in [extra, missing, wrong_type] {
        assert!(
            check_documented(&doc, "get", "/public-keys", 401, Some(&broken)).is_err(),
            "the schema check let {broken} pass"
        );
    }
    assert!(check_documented(&doc, "get", "/public-keys", 418, None).is_err());
    assert_documented(&doc, "get", "/healthz", 200, None);
    assert_documented(&doc, "get", "/metrics", 200, None);
    assert_documented(&doc, "get", "/openapi.json", 200, None);

    secrets.assert_not_logged();
    server.stop().await.expect("a clean stop");
}

#[test]
fn demo_tokens_serve_both_families_and_token_files_scope_them() {
    let config = Config::demo("127.0.0.1:0".parse().expect("an address"));
    let (tokens, printed) = pinset_server::tokens(&config).expect("demo tokens");
    let token = printed.expect("demo mode makes a token to print");
    assert_eq!(token.len(), 43, "32 bytes of base64url");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let bearer = format!("Bearer {}", token.as_str());
    for family in [Family::Mastercard, Family::Enfuce] {
        assert_eq!(tokens.check(Some(&bearer), family), Verdict::Allowed);
    }
    let parsed = Tokens::parse(
        "# ops\nmc-only-token-0123456789 mastercard\n\nenfuce-only-token-0123 enfuce\n",
    )
    .expect("a token file");
    assert_eq!(parsed.len(), 2);
    assert_eq!(
        parsed.check(Some("Bearer mc-only-token-0123456789"), Family::Enfuce),
        Verdict::OtherFamily
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_refuses_a_non_loopback_address() {
    let config = Config::demo("0.0.0.0:0".parse().expect("an address"));
    let served = pinset_server::serve(
        config,
        Tokens::default(),
        |addr| panic!("demo mode listened on {addr}"),
        async {},
    )
    .await;
    assert!(
        matches!(served, Err(pinset_server::ServerError::Config(_))),
        "{served:?}"
    );
}

// ------------------------------------------------------------ Mastercard

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastercard_sets_a_pin_the_cms_stores_under_the_sandbox_zpk() {
    let secrets = Secrets::new();
    let server = Server::start(&secrets).await;
    let doc = openapi(&server).await;
    let mut rng = rng();

    // GET /public-keys: the sandbox index and an RSA-2048 key as uppercase DER hex.
    let response = server
        .client
        .get(server.url("/public-keys?data_type_to_secure=PIN_BLOCK"))
        .bearer_auth(&server.mc)
        .send()
        .await
        .expect("public keys");
    let (status, body) = checked(&doc, "get", "/public-keys", response).await;
    assert_eq!(status, 200);
    let body = body.expect("a body");
    assert_eq!(body["keyIndex"], KEY_INDEX);
    let hex_key = body["publicRsaKey"].as_str().expect("publicRsaKey");
    assert!(
        hex_key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)),
        "uppercase hex"
    );
    let (index, key) = server.public_key().await;
    assert_eq!(index, KEY_INDEX);
    assert_eq!(key.bits(), 2048);

    let rsa_before = server.metric("pinset_rsa_private_operations_total").await;
    let ok_before = server
        .metric(r#"pinset_http_requests_total{route="/cards/{card_contract_id}/pin",status="204"}"#)
        .await;
    let histogram_before = server.metric("pinset_set_pin_duration_seconds_count").await;
    assert_eq!(
        server.stored_block("70001", &secrets).await,
        None,
        "no PIN yet"
    );

    // PUT /cards/70001/pin: 204, empty body; the CMS holds the PIN.
    let pin = random_pin(&mut rng);
    let body = mc_body(&mc_cryptogram(&key, &pin, &mut rng, &secrets));
    let response = server.put_pin("70001", &server.mc, &body).await;
    let (status, reply) = checked(&doc, "put", SET_PIN_MC, response).await;
    assert_eq!((status, reply), (204, None));
    assert_eq!(
        server.stored_pin("70001", &secrets).await.as_deref(),
        Some(pin.as_str())
    );

    // The counters moved: one RSA private operation, one 204, one latency.
    assert_eq!(
        server.metric("pinset_rsa_private_operations_total").await,
        rsa_before + 1.0
    );
    assert_eq!(
        server
            .metric(
                r#"pinset_http_requests_total{route="/cards/{card_contract_id}/pin",status="204"}"#
            )
            .await,
        ok_before + 1.0
    );
    assert_eq!(
        server.metric("pinset_set_pin_duration_seconds_count").await,
        histogram_before + 1.0
    );

    // The same cryptogram again is a replay, and changes nothing.
    let stored = server.stored_block("70001", &secrets).await;
    let response = server.put_pin("70001", &server.mc, &body).await;
    let replay = expect_mc_error(response, 400, "PIN_BLOCK_REPLAYED").await;
    assert_documented(&doc, "put", SET_PIN_MC, 400, Some(&replay));
    assert_eq!(server.stored_block("70001", &secrets).await, stored);

    // cardSequenceNumber is optional, and may be a number.
    let pin = random_pin(&mut rng);
    let mut body = mc_body(&mc_cryptogram(&key, &pin, &mut rng, &secrets));
    body.as_object_mut()
        .expect("an object")
        .remove("cardSequenceNumber");
    assert_eq!(
        server.put_pin("70001", &server.both, &body).await.status(),
        204
    );
    assert_eq!(
        server.stored_pin("70001", &secrets).await.as_deref(),
        Some(pin.as_str())
    );
    let pin = random_pin(&mut rng);
    let mut body = mc_body(&mc_cryptogram(&key, &pin, &mut rng, &secrets));
    body["cardSequenceNumber"] = json!(1);
    assert_eq!(
        server.put_pin("70001", &server.mc, &body).await.status(),
        204
    );
    assert_eq!(
        server.stored_pin("70001", &secrets).await.as_deref(),
        Some(pin.as_str())
    );

    // The demo CMS view conforms to the document too.
    let response = server
        .client
        .get(server.url("/demo/cms/cards"))
        .bearer_auth(&server.enfuce)
        .send()
        .await
        .expect("cards");
    let (status, cards) = checked(&doc, "get", "/demo/cms/cards", response).await;
    assert_eq!(status, 200);
    let cards = cards.expect("cards");
    let contracts: Vec<&str> = cards
        .as_array()
        .expect("an array")
        .iter()
        .map(|c| c["cardContractId"].as_str().expect("id"))
        .collect();
    assert_eq!(contracts, ["70001", "70002", "70003", "70004", "70005"]);
    assert_eq!(cards[0]["maskedPan"], "514157******8605");
    assert_eq!(cards[0]["plastics"][0]["plasticId"], "P70001");
    assert_eq!(cards[0]["plastics"][0]["expiry"], "2812");
    assert_eq!(cards[0]["plastics"][0]["sequence"], "1");
    assert!(cards[1]["plastics"][0]["pin"].is_null());

    // One request line per request with route template, status and
    // latency; the audit line has the masked PAN.
    let logs = logs();
    assert!(
        logs.lines().any(|l| l.contains("pinset::http")
            && l.contains(SET_PIN_MC)
            && l.contains("status=204")
            && l.contains("latency_ms=")),
        "no request line for the set PIN"
    );
    // Three PINs set on 70001, three audit records of success, with the
    // masked PAN (this test alone sets Mastercard PINs on 70001), and the
    // replay's refusal.
    let lines = audit_lines(&logs, "MastercardSetPin", "contract=\"70001\"");
    assert_eq!(ok_count(&lines), 3, "{lines:#?}");
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("outcome=\"OK\""))
            .all(|l| l.contains("masked_pan=\"514157******8605\"")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("outcome=\"PIN_BLOCK_REPLAYED\"")),
        "{lines:#?}"
    );

    secrets.assert_not_logged();
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mastercard_refusals_use_its_error_body() {
    let secrets = Secrets::new();
    let server = Server::start(&secrets).await;
    let doc = openapi(&server).await;
    let client = &server.client;
    let mut rng = rng();
    let (_, key) = server.public_key().await;
    let unknown = fresh_token();
    secrets.add("unknown token", &unknown);

    // GET /public-keys: auth, then the query.
    let url = server.url("/public-keys?data_type_to_secure=PIN_BLOCK");
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (client.get(&url), 401, "UNAUTHENTICATED"),
        (
            client.get(&url).bearer_auth(&unknown),
            401,
            "UNAUTHENTICATED",
        ),
        (
            client
                .get(&url)
                .header("Authorization", format!("Basic {unknown}")),
            401,
            "UNAUTHENTICATED",
        ),
        (
            client.get(&url).bearer_auth(&server.enfuce),
            403,
            "FORBIDDEN",
        ),
        (
            client
                .get(server.url("/public-keys?data_type_to_secure=CVV"))
                .bearer_auth(&server.mc),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            client
                .get(server.url("/public-keys"))
                .bearer_auth(&server.mc),
            400,
            "REQUEST_VALIDATION",
        ),
    ];
    for (request, status, reason) in cases {
        let body = expect_mc_error(request.send().await.expect("send"), status, reason).await;
        assert_documented(&doc, "get", "/public-keys", status, Some(&body));
    }
    // Requests are counted by route template and status, refusals too.
    for (status, count) in [(401, 3.0), (403, 1.0), (400, 2.0)] {
        let series =
            format!(r#"pinset_http_requests_total{{route="/public-keys",status="{status}"}}"#);
        assert_eq!(server.metric(&series).await, count, "{series}");
    }

    // PUT /cards/{id}/pin: every refusal before and after the RSA operation.
    let good = |rng: &mut chacha20::ChaCha20Rng| {
        let pin = random_pin(rng);
        mc_body(&mc_cryptogram(&key, &pin, rng, &secrets))
    };
    let put = |contract: &str| {
        client
            .put(server.url(&format!("/cards/{contract}/pin")))
            .header("Key-Index", KEY_INDEX)
    };
    let other_key = pinset_envelope::RsaPrivateKey::from_pem(OTHER_RSA_PEM)
        .expect("a key")
        .public_key();
    let under_other_key = other_key
        .seal(
            Format::Iso1,
            &pinset_block::Pin::new(&random_pin(&mut rng)).expect("a PIN"),
            None,
            pinset_envelope::RsaPadding::OaepSha256,
            &mut rng,
        )
        .expect("seal");
    let mut random_bytes = [0u8; 256];
    rand_core::Rng::fill_bytes(&mut rng, &mut random_bytes);
    let oversized = json!({
        "newPinBlock": "A".repeat(64 * 1024),
        "cardExpiryDate": "2812",
        "cardSequenceNumber": "1",
    });
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "no token",
            put("70001").json(&good(&mut rng)),
            401,
            "UNAUTHENTICATED",
        ),
        (
            "unknown token",
            put("70001").bearer_auth(&unknown).json(&good(&mut rng)),
            401,
            "UNAUTHENTICATED",
        ),
        (
            "Enfuce's token",
            put("70001")
                .bearer_auth(&server.enfuce)
                .json(&good(&mut rng)),
            403,
            "FORBIDDEN",
        ),
        (
            "unknown contract",
            put("79999").bearer_auth(&server.mc).json(&good(&mut rng)),
            404,
            "CARD_CONTRACT_DOES_NOT_EXIST",
        ),
        (
            "malformed contract",
            put("7000x").bearer_auth(&server.mc).json(&good(&mut rng)),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            "unknown plastic (expiry)",
            put("70001").bearer_auth(&server.mc).json(&{
                let mut b = good(&mut rng);
                b["cardExpiryDate"] = json!("2912");
                b
            }),
            404,
            "CARD_PLASTIC_NOT_FOUND",
        ),
        (
            "unknown plastic (sequence)",
            put("70001").bearer_auth(&server.mc).json(&{
                let mut b = good(&mut rng);
                b["cardSequenceNumber"] = json!("2");
                b
            }),
            404,
            "CARD_PLASTIC_NOT_FOUND",
        ),
        (
            "malformed JSON",
            put("70001")
                .bearer_auth(&server.mc)
                .header("Content-Type", "application/json")
                .body("{\"newPinBlock\": "),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            "no Content-Type",
            put("70001")
                .bearer_auth(&server.mc)
                .body(serde_json::to_string(&good(&mut rng)).expect("JSON")),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            "a field missing",
            put("70001")
                .bearer_auth(&server.mc)
                .json(&json!({"cardExpiryDate": "2812"})),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            "text/plain",
            put("70001")
                .bearer_auth(&server.mc)
                .header("Content-Type", "text/plain")
                .body(serde_json::to_string(&good(&mut rng)).expect("JSON")),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            "oversized body",
            put("70001")
                .bearer_auth(&server.mc)
                .header("Connection", "close")
                .json(&oversized),
            413,
            "REQUEST_TOO_LARGE",
        ),
        (
            "not hex",
            put("70001")
                .bearer_auth(&server.mc)
                .json(&mc_body("NOT-HEX")),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            "random bytes",
            put("70001")
                .bearer_auth(&server.mc)
                .json(&mc_body(&hex::encode_upper(random_bytes))),
            400,
            "INVALID_PIN_BLOCK",
        ),
        (
            "under another RSA key",
            put("70001")
                .bearer_auth(&server.mc)
                .json(&mc_body(&hex::encode_upper(under_other_key))),
            400,
            "INVALID_PIN_BLOCK",
        ),
        (
            "a format 2 block under the right key",
            put("70001").bearer_auth(&server.mc).json(&mc_body(&{
                let pin = random_pin(&mut rng);
                secrets.add("PIN", &pin);
                let clear =
                    pinset_block::iso2::encode(&pinset_block::Pin::new(&pin).expect("a PIN"));
                // seal encodes the clear block itself: format 2 is refused by the server.
                let sealed = key
                    .seal(
                        Format::Iso2,
                        &pinset_block::Pin::new(&pin).expect("a PIN"),
                        None,
                        pinset_envelope::RsaPadding::OaepSha256,
                        &mut rng,
                    )
                    .expect("seal");
                secrets.add(
                    "clear format 2 block",
                    &hex::encode_upper(clear.expose_bytes()),
                );
                let hex = hex::encode_upper(sealed);
                secrets.add_long("cryptogram", &hex);
                hex
            })),
            400,
            "INVALID_PIN_BLOCK",
        ),
        (
            "unknown Key-Index",
            client
                .put(server.url("/cards/70001/pin"))
                .header("Key-Index", "B0000000000000")
                .bearer_auth(&server.mc)
                .json(&good(&mut rng)),
            400,
            "UNKNOWN_KEY_INDEX",
        ),
        (
            "no Key-Index",
            client
                .put(server.url("/cards/70001/pin"))
                .bearer_auth(&server.mc)
                .json(&good(&mut rng)),
            400,
            "REQUEST_VALIDATION",
        ),
    ];
    for (what, request, status, reason) in cases {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let got = response.status().as_u16();
        let text = response.text().await.expect("a body");
        assert_eq!(got, status, "{what}: {text}");
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
        assert_eq!(
            body["Errors"]["Error"][0]["ReasonCode"], reason,
            "{what}: {text}"
        );
        assert!(
            body["Errors"]["Error"][0]["Recoverable"].is_boolean(),
            "{what}: {text}"
        );
        assert_documented(&doc, "put", SET_PIN_MC, status, Some(&body));
    }
    // The retryable reason is flagged recoverable, the others are not.
    let response = client
        .put(server.url("/cards/70001/pin"))
        .header("Key-Index", "B0000000000000")
        .bearer_auth(&server.mc)
        .json(&good(&mut rng))
        .send()
        .await
        .expect("send");
    let body = expect_mc_error(response, 400, "UNKNOWN_KEY_INDEX").await;
    assert_eq!(body["Errors"]["Error"][0]["Recoverable"], true);

    // The demo view needs a token too.
    let response = client
        .get(server.url("/demo/cms/cards"))
        .send()
        .await
        .expect("send");
    let body = expect_mc_error(response, 401, "UNAUTHENTICATED").await;
    assert_documented(&doc, "get", "/demo/cms/cards", 401, Some(&body));

    // Nothing was stored by any refusal, and no refusal cost a 5xx.
    assert_eq!(server.stored_block("70001", &secrets).await, None);
    assert_eq!(server.metric("pinset_store_errors_total").await, 0.0);
    secrets.assert_not_logged();
    server.stop().await.expect("a clean stop");
}

// ------------------------------------------------------------ Enfuce

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enfuce_v3_sets_a_pin_through_control_and_tzpk() {
    let secrets = Secrets::new();
    let server = Server::start(&secrets).await;
    let doc = openapi(&server).await;
    let device = device_key();
    let mut rng = rng();

    // controlId for P70002.
    let response = server
        .enfuce_post(
            "/pincontrol/v2/plastic/P70002",
            &server.enfuce,
            &json!({"operation": "SET_PIN"}),
        )
        .await;
    let (status, control) = checked(&doc, "post", CONTROL, response).await;
    assert_eq!(status, 200);
    let control_id = control.expect("a body")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    secrets.add_control_id(&control_id);
    let first_control = control_id.clone();

    // tzpk under the device's own key.
    let rsa_public_before = server.metric("pinset_rsa_public_operations_total").await;
    let response = server
        .enfuce_post(
            TZPK,
            &server.both,
            &json!({"controlId": control_id, "publicKey": device.public_key().to_base64()}),
        )
        .await;
    let (status, tzpk_body) = checked(&doc, "post", TZPK, response).await;
    assert_eq!(status, 200);
    let wrapped = tzpk_body.expect("a body")["tzpk"]
        .as_str()
        .expect("tzpk")
        .to_owned();
    secrets.add_long("wrapped tzpk", &wrapped);
    let tzpk = pinset_envelope::rsa::unwrap_tdes_key(
        &device,
        pinset_envelope::RsaPadding::OaepSha256,
        &BASE64.decode(&wrapped).expect("base64"),
    )
    .expect("the tzpk opens under the device's key");
    assert_eq!(tzpk.len(), 16);
    secrets.add("tzpk", &hex::encode_upper(tzpk.expose_bytes()));
    let tzpk = pinset_envelope::PinKey::from(tzpk);
    assert_eq!(
        server.metric("pinset_rsa_public_operations_total").await,
        rsa_public_before + 1.0
    );

    // Set: 200 {}; the CMS holds the PIN under the sandbox ZPK.
    let pin = random_pin(&mut rng);
    let block = encipher(
        &tzpk,
        Format::Iso1,
        &format1(&pin, &mut rng, &secrets),
        &secrets,
    );
    let set_body = json!({"controlId": control_id, "pinBlock": BASE64.encode(&block)});
    let response = server
        .enfuce_post(SET_PIN_V3, &server.enfuce, &set_body)
        .await;
    let (status, reply) = checked(&doc, "post", SET_PIN_V3, response).await;
    assert_eq!((status, reply), (200, Some(json!({}))));
    assert_eq!(
        server.stored_pin("70002", &secrets).await.as_deref(),
        Some(pin.as_str())
    );

    // The controlId is spent: a reuse is 404 on both steps, and changes nothing.
    let stored = server.stored_block("70002", &secrets).await;
    let response = server
        .enfuce_post(SET_PIN_V3, &server.enfuce, &set_body)
        .await;
    let body = expect_enfuce_error(response, 404, "CONTROL_ID_NOT_FOUND").await;
    assert_documented(&doc, "post", SET_PIN_V3, 404, Some(&body));
    let response = server
        .enfuce_post(
            TZPK,
            &server.enfuce,
            &json!({"controlId": control_id, "publicKey": device.public_key().to_base64()}),
        )
        .await;
    let body = expect_enfuce_error(response, 404, "CONTROL_ID_NOT_FOUND").await;
    assert_documented(&doc, "post", TZPK, 404, Some(&body));
    assert_eq!(server.stored_block("70002", &secrets).await, stored);

    // A block that is no format 1 block under the tzpk: 400 INVALID_PIN_BLOCK,
    // and the controlId is spent all the same.
    let control_id = server.issue_control("P70002", &secrets).await;
    let tzpk = server.tzpk(&control_id, &device, &secrets).await;
    let bad = encipher(
        &tzpk,
        Format::Iso2,
        &format2(&random_pin(&mut rng)),
        &secrets,
    );
    let bad_body = json!({"controlId": control_id, "pinBlock": BASE64.encode(&bad)});
    let bad_control = control_id.clone();
    let response = server
        .enfuce_post(SET_PIN_V3, &server.enfuce, &bad_body)
        .await;
    let body = expect_enfuce_error(response, 400, "INVALID_PIN_BLOCK").await;
    assert_documented(&doc, "post", SET_PIN_V3, 400, Some(&body));
    let pin = random_pin(&mut rng);
    let good = encipher(
        &tzpk,
        Format::Iso1,
        &format1(&pin, &mut rng, &secrets),
        &secrets,
    );
    let response = server
        .enfuce_post(
            SET_PIN_V3,
            &server.enfuce,
            &json!({"controlId": control_id, "pinBlock": BASE64.encode(&good)}),
        )
        .await;
    expect_enfuce_error(response, 404, "CONTROL_ID_NOT_FOUND").await;
    assert_eq!(server.stored_block("70002", &secrets).await, stored);

    // Set without a tzpk fetched: 404.
    let control_id = server.issue_control("P70002", &secrets).await;
    let response = server
        .enfuce_post(
            SET_PIN_V3,
            &server.enfuce,
            &json!({"controlId": control_id, "pinBlock": BASE64.encode(&good)}),
        )
        .await;
    expect_enfuce_error(response, 404, "CONTROL_ID_NOT_FOUND").await;

    // Concurrent set PINs on the plastic, each with its own controlId: all
    // 200 or a defined refusal, and the CMS holds one of the PINs set.
    let mut prepared = Vec::new();
    for _ in 0..8 {
        let control_id = server.issue_control("P70002", &secrets).await;
        let tzpk = server.tzpk(&control_id, &device, &secrets).await;
        let pin = random_pin(&mut rng);
        let block = encipher(
            &tzpk,
            Format::Iso1,
            &format1(&pin, &mut rng, &secrets),
            &secrets,
        );
        prepared.push((
            pin,
            control_id.clone(),
            json!({"controlId": control_id, "pinBlock": BASE64.encode(&block)}),
        ));
    }
    let mut tasks = Vec::new();
    for (pin, control_id, body) in prepared {
        let (client, url, token) = (
            server.client.clone(),
            server.url(SET_PIN_V3),
            server.enfuce.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(format!("{url}?auditUser=e2e-tester"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("send");
            let status = response.status().as_u16();
            (
                pin,
                control_id,
                status,
                response.text().await.expect("a body"),
            )
        }));
    }
    let mut set = BTreeSet::new();
    let mut outcomes = vec![(first_control, 1), (bad_control, 0)];
    for task in tasks {
        let (pin, control_id, status, body) = task.await.expect("a task");
        assert!(
            status < 500,
            "a concurrent set PIN answered {status}: {body}"
        );
        outcomes.push((control_id, usize::from(status == 200)));
        if status == 200 {
            assert_eq!(body, "{}");
            set.insert(pin);
        } else {
            let body: Value = serde_json::from_str(&body).expect("an Enfuce error body");
            assert_documented(&doc, "post", SET_PIN_V3, status, Some(&body));
        }
    }
    assert!(!set.is_empty(), "no concurrent set PIN succeeded");
    let stored = server.stored_pin("70002", &secrets).await.expect("a PIN");
    assert!(
        set.contains(&stored),
        "the CMS holds a PIN no successful request set"
    );

    // Every set PIN has its audit record, naming the controlId by its
    // first 8 characters: one of success per PIN stored, none otherwise.
    let logs = logs();
    for (control_id, stored) in outcomes {
        let lines = audit_lines(&logs, "EnfuceSetPin", &control_needle(&control_id));
        assert!(!lines.is_empty(), "no audit record for a set PIN");
        assert_eq!(ok_count(&lines), stored, "{lines:#?}");
    }
    secrets.assert_not_logged();
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enfuce_preshared_key_sets_a_pin_and_takes_concurrent_requests() {
    let secrets = Secrets::new();
    let server = Server::start(&secrets).await;
    let doc = openapi(&server).await;
    let zpk = shared_zpk();
    let mut rng = rng();
    let path = "/pin/v2/P70003";

    let pin = random_pin(&mut rng);
    let block = encipher(
        &zpk,
        Format::Iso1,
        &format1(&pin, &mut rng, &secrets),
        &secrets,
    );
    let body = json!({"zpkIndex": "ZPK-SHARED", "pinBlock": hex::encode_upper(&block)});
    let response = server.enfuce_post(path, &server.enfuce, &body).await;
    let (status, reply) = checked(&doc, "post", SET_PIN_V2, response).await;
    assert_eq!((status, reply), (200, Some(json!({}))));
    assert_eq!(
        server.stored_pin("70003", &secrets).await.as_deref(),
        Some(pin.as_str())
    );
    let stored = server.stored_block("70003", &secrets).await;

    let bad = encipher(
        &zpk,
        Format::Iso2,
        &format2(&random_pin(&mut rng)),
        &secrets,
    );
    let cases = [
        (
            path,
            json!({"zpkIndex": "ZPK-SHARED", "pinBlock": hex::encode_upper(&bad)}),
            400,
            "INVALID_PIN_BLOCK",
        ),
        (
            path,
            json!({"zpkIndex": "ZPK-NONE", "pinBlock": hex::encode_upper(&block)}),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            path,
            json!({"zpkIndex": "ZPK-SHARED", "pinBlock": "XYZ"}),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            path,
            json!({"zpkIndex": "ZPK-SHARED"}),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            "/pin/v2/P79999",
            body.clone(),
            404,
            "CARD_PLASTIC_NOT_FOUND",
        ),
    ];
    for (path, body, status, reason) in cases {
        let response = server.enfuce_post(path, &server.enfuce, &body).await;
        let body = expect_enfuce_error(response, status, reason).await;
        assert_documented(&doc, "post", SET_PIN_V2, status, Some(&body));
    }
    assert_eq!(
        server.stored_block("70003", &secrets).await,
        stored,
        "no refusal changed the PIN"
    );

    // 16 at once on the one plastic, each its own PIN.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let pin = random_pin(&mut rng);
        let block = encipher(
            &zpk,
            Format::Iso1,
            &format1(&pin, &mut rng, &secrets),
            &secrets,
        );
        let body = json!({"zpkIndex": "ZPK-SHARED", "pinBlock": hex::encode_upper(&block)});
        let (client, url, token) = (server.client.clone(), server.url(path), server.both.clone());
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(format!("{url}?auditUser=e2e-tester"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("send");
            let status = response.status().as_u16();
            (pin, status, response.text().await.expect("a body"))
        }));
    }
    let mut set = BTreeSet::new();
    for task in tasks {
        let (pin, status, body) = task.await.expect("a task");
        assert!(
            status < 500,
            "a concurrent set PIN answered {status}: {body}"
        );
        if status == 200 {
            set.insert(pin);
        } else {
            let body: Value = serde_json::from_str(&body).expect("an Enfuce error body");
            assert_documented(&doc, "post", SET_PIN_V2, status, Some(&body));
        }
    }
    assert!(!set.is_empty(), "no concurrent set PIN succeeded");
    let stored = server.stored_pin("70003", &secrets).await.expect("a PIN");
    assert!(
        set.contains(&stored),
        "the CMS holds a PIN no successful request set"
    );
    // One audit record of success per PIN set (this test alone uses the
    // pre-shared route on 70003).
    let lines = audit_lines(&logs(), "EnfuceSetPinPreshared", "contract=\"70003\"");
    assert_eq!(ok_count(&lines), 1 + set.len(), "{lines:#?}");

    secrets.assert_not_logged();
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enfuce_refusals_use_its_error_response() {
    let secrets = Secrets::new();
    let server = Server::start(&secrets).await;
    let doc = openapi(&server).await;
    let client = &server.client;
    let device = device_key();
    let unknown = fresh_token();
    secrets.add("unknown token", &unknown);
    let control_id = server.issue_control("P70001", &secrets).await;
    let zpk = shared_zpk();
    let mut rng = rng();
    let block = encipher(
        &zpk,
        Format::Iso1,
        &format1(&random_pin(&mut rng), &mut rng, &secrets),
        &secrets,
    );

    let routes: [(&str, &str, Value); 4] = [
        (
            "/pincontrol/v2/plastic/P70001",
            CONTROL,
            json!({"operation": "SET_PIN"}),
        ),
        (
            TZPK,
            TZPK,
            json!({"controlId": control_id, "publicKey": device.public_key().to_base64()}),
        ),
        (
            SET_PIN_V3,
            SET_PIN_V3,
            json!({"controlId": control_id, "pinBlock": BASE64.encode(&block)}),
        ),
        (
            "/pin/v2/P70001",
            SET_PIN_V2,
            json!({"zpkIndex": "ZPK-SHARED", "pinBlock": hex::encode_upper(&block)}),
        ),
    ];
    for (path, template, body) in &routes {
        let url = server.url(&format!("{path}?auditUser=e2e-tester"));
        let oversized = json!({"operation": "SET_PIN", "controlId": "x".repeat(64 * 1024)});
        let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
            (
                "no token",
                client.post(&url).json(body),
                401,
                "UNAUTHENTICATED",
            ),
            (
                "unknown token",
                client.post(&url).bearer_auth(&unknown).json(body),
                401,
                "UNAUTHENTICATED",
            ),
            (
                "Mastercard's token",
                client.post(&url).bearer_auth(&server.mc).json(body),
                403,
                "FORBIDDEN",
            ),
            (
                "malformed JSON",
                client
                    .post(&url)
                    .bearer_auth(&server.enfuce)
                    .header("Content-Type", "application/json")
                    .body("{\"controlId\": \"abc"),
                400,
                "REQUEST_VALIDATION",
            ),
            (
                "text/plain",
                client
                    .post(&url)
                    .bearer_auth(&server.enfuce)
                    .header("Content-Type", "text/plain")
                    .body(body.to_string()),
                400,
                "REQUEST_VALIDATION",
            ),
            (
                "oversized body",
                // The server answers before reading the body: a connection
                // left half-read must not be reused for the next case.
                client
                    .post(&url)
                    .bearer_auth(&server.enfuce)
                    .header("Connection", "close")
                    .json(&oversized),
                413,
                "REQUEST_TOO_LARGE",
            ),
            (
                "no auditUser",
                client
                    .post(server.url(path))
                    .bearer_auth(&server.enfuce)
                    .json(body),
                400,
                "REQUEST_VALIDATION",
            ),
        ];
        for (what, request, status, reason) in cases {
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path} {what}: {e}"));
            let got = response.status().as_u16();
            let text = response.text().await.expect("a body");
            assert_eq!(got, status, "{path} {what}: {text}");
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path} {what}: not JSON ({e}): {text}"));
            assert_eq!(body["errorCode"], reason, "{path} {what}: {text}");
            assert_eq!(body["code"], status.to_string(), "{path} {what}: {text}");
            assert_documented(&doc, "post", template, status, Some(&body));
        }
    }

    // Route-specific refusals.
    let cases = [
        (
            "/pincontrol/v2/plastic/P79999",
            CONTROL,
            json!({"operation": "SET_PIN"}),
            404,
            "CARD_PLASTIC_NOT_FOUND",
        ),
        (
            "/pincontrol/v2/plastic/P70001",
            CONTROL,
            json!({"operation": "CHANGE_PIN"}),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            TZPK,
            TZPK,
            json!({"controlId": "83fa5f55-3dd7-453a-8233-4242a6bad179", "publicKey": device.public_key().to_base64()}),
            404,
            "CONTROL_ID_NOT_FOUND",
        ),
        (
            TZPK,
            TZPK,
            json!({"controlId": control_id, "publicKey": "bm90IGEga2V5"}),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            TZPK,
            TZPK,
            json!({"controlId": "no_such_id!", "publicKey": device.public_key().to_base64()}),
            400,
            "REQUEST_VALIDATION",
        ),
        (
            SET_PIN_V3,
            SET_PIN_V3,
            json!({"controlId": "83fa5f55-3dd7-453a-8233-4242a6bad179", "pinBlock": BASE64.encode(&block)}),
            404,
            "CONTROL_ID_NOT_FOUND",
        ),
        (
            SET_PIN_V3,
            SET_PIN_V3,
            json!({"controlId": control_id, "pinBlock": "%%%"}),
            400,
            "REQUEST_VALIDATION",
        ),
    ];
    for (path, template, body, status, reason) in cases {
        let response = server.enfuce_post(path, &server.enfuce, &body).await;
        let body = expect_enfuce_error(response, status, reason).await;
        assert_documented(&doc, "post", template, status, Some(&body));
    }

    // auditUser must be 1 to 64 visible ASCII characters, on every route.
    for audit_user in ["", &"u".repeat(65), "two%20words"] {
        for (path, template, body) in &routes {
            let response = client
                .post(server.url(&format!("{path}?auditUser={audit_user}")))
                .bearer_auth(&server.enfuce)
                .json(body)
                .send()
                .await
                .expect("send");
            let body = expect_enfuce_error(response, 400, "REQUEST_VALIDATION").await;
            assert_documented(&doc, "post", template, 400, Some(&body));
        }
    }

    // The controlId survived every refusal above (none was a well-formed set).
    let tzpk = server.tzpk(&control_id, &device, &secrets).await;
    let pin = random_pin(&mut rng);
    let good = encipher(
        &tzpk,
        Format::Iso1,
        &format1(&pin, &mut rng, &secrets),
        &secrets,
    );
    let response = server
        .enfuce_post(
            SET_PIN_V3,
            &server.enfuce,
            &json!({"controlId": control_id, "pinBlock": BASE64.encode(&good)}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        server.stored_pin("70001", &secrets).await.as_deref(),
        Some(pin.as_str())
    );
    // The refusals with a bad auditUser were audited as such, the set once.
    let lines = audit_lines(&logs(), "EnfuceSetPin", &control_needle(&control_id));
    assert_eq!(ok_count(&lines), 1, "{lines:#?}");

    assert_eq!(server.metric("pinset_store_errors_total").await, 0.0);
    secrets.assert_not_logged();
    server.stop().await.expect("a clean stop");
}

// ------------------------------------------------------------ misbehaving clients

/// How long a dropped request may show no sign (no audit line, no stored
/// PIN) before the test concludes the server dropped it unprocessed. Its
/// bytes are all in the server's socket by then: processing them takes
/// milliseconds, so this is generous even on a loaded machine. A wrong
/// conclusion could only hide a failure, never make one.
const QUIET: Duration = Duration::from_secs(15);

/// Waits until `audited` finds the request's audit line in the logs; or
/// until `QUIET` passes with neither that line nor the PIN stored; or, if
/// the PIN is stored without the line, until `PATIENCE` passes. Returns
/// whether `contract`'s PIN is `pin` at the last look, and whether the
/// audit line was seen.
async fn settle(
    server: &Server,
    secrets: &Secrets,
    contract: &str,
    pin: &str,
    audited: impl Fn(&str) -> bool,
) -> (bool, bool) {
    let started = Instant::now();
    loop {
        // The audit line is written after the CMS call returns: read the
        // logs first, so a seen line means the CMS state read next is final.
        let audited = audited(&logs());
        let stored = server.stored_pin(contract, secrets).await.as_deref() == Some(pin);
        let waited = started.elapsed();
        if audited || (!stored && waited > QUIET) || waited > PATIENCE {
            return (stored, audited);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_never_leaves_a_pin_without_an_audit_record() {
    let secrets = Secrets::new();
    let server = Server::start(&secrets).await;
    let (_, key) = server.public_key().await;
    let mut rng = rng();

    // Mastercard, the whole request written, then the connection dropped
    // unread: once with FIN, once with RST.
    let mc_lines = |logs: &str| audit_lines(logs, "MastercardSetPin", "contract=\"70004\"");
    for abort in [false, true] {
        let before = mc_lines(&logs()).len();
        let pin = random_pin(&mut rng);
        let body = mc_body(&mc_cryptogram(&key, &pin, &mut rng, &secrets)).to_string();
        let request = raw_request(
            &server,
            "PUT",
            "/cards/70004/pin",
            &server.mc,
            &format!("Key-Index: {KEY_INDEX}\r\n"),
            &body,
        );
        let stream = TcpStream::connect(server.addr).await.expect("connect");
        send_all(&stream, request.as_bytes()).await;
        if abort {
            stream.set_zero_linger().expect("SO_LINGER 0");
        }
        drop(stream);

        let (stored, audited) = settle(&server, &secrets, "70004", &pin, |logs| {
            mc_lines(logs).len() > before
        })
        .await;
        assert!(
            !stored || audited,
            "Mastercard (abort: {abort}): the PIN is stored, but no audit record was written"
        );
        if audited {
            let lines = mc_lines(&logs());
            assert_eq!(
                lines.len(),
                before + 1,
                "one audit record per request: {lines:?}"
            );
            let line = lines.last().expect("the line").clone();
            if stored {
                assert!(
                    line.contains("outcome=\"OK\""),
                    "stored, but audited as {line}"
                );
            } else {
                assert!(
                    !line.contains("outcome=\"OK\""),
                    "audited OK, but nothing stored: {line}"
                );
            }
        }
    }

    // Enfuce v3, the same for the set step. Its audit lines name the
    // controlId's prefix, so any plastic of this server's CMS will do.
    let device = device_key();
    for (abort, contract) in [(false, "70002"), (true, "70003")] {
        let control_id = server
            .issue_control(&format!("P{contract}"), &secrets)
            .await;
        let tzpk = server.tzpk(&control_id, &device, &secrets).await;
        let pin = random_pin(&mut rng);
        let block = encipher(
            &tzpk,
            Format::Iso1,
            &format1(&pin, &mut rng, &secrets),
            &secrets,
        );
        let body = json!({"controlId": control_id, "pinBlock": BASE64.encode(&block)}).to_string();
        let request = raw_request(
            &server,
            "POST",
            "/pin/v3/set?auditUser=e2e-tester",
            &server.enfuce,
            "",
            &body,
        );
        let stream = TcpStream::connect(server.addr).await.expect("connect");
        send_all(&stream, request.as_bytes()).await;
        if abort {
            stream.set_zero_linger().expect("SO_LINGER 0");
        }
        drop(stream);

        let needle = control_needle(&control_id);
        let lines = |logs: &str| audit_lines(logs, "EnfuceSetPin", &needle);
        let (stored, audited) = settle(&server, &secrets, contract, &pin, |logs| {
            !lines(logs).is_empty()
        })
        .await;
        assert!(
            !stored || audited,
            "Enfuce (abort: {abort}): the PIN is stored, but no audit record was written"
        );
        if audited {
            let lines = lines(&logs());
            assert_eq!(lines.len(), 1, "one audit record per request: {lines:?}");
            let line = lines[0].clone();
            if stored {
                assert!(
                    line.contains("outcome=\"OK\""),
                    "stored, but audited as {line}"
                );
            } else {
                assert!(
                    !line.contains("outcome=\"OK\""),
                    "audited OK, but nothing stored: {line}"
                );
            }
        }
    }

    // Half a body, then gone: nothing can be stored, and the server goes on.
    let previous = server.stored_pin("70004", &secrets).await;
    let pin = random_pin(&mut rng);
    let body = mc_body(&mc_cryptogram(&key, &pin, &mut rng, &secrets)).to_string();
    let request = raw_request(
        &server,
        "PUT",
        "/cards/70004/pin",
        &server.mc,
        &format!("Key-Index: {KEY_INDEX}\r\n"),
        &body,
    );
    let cut = request.len() - body.len() / 2;
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    send_all(&stream, &request.as_bytes()[..cut]).await;
    drop(stream);
    let healthz = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);
    let (_, key) = server.public_key().await;
    // (On 70003: the other tests' Mastercard audit lines on 70001 and 70005
    // are counted.)
    let later = random_pin(&mut rng);
    let response = server
        .put_pin(
            "70003",
            &server.mc,
            &mc_body(&mc_cryptogram(&key, &later, &mut rng, &secrets)),
        )
        .await;
    assert_eq!(
        response.status(),
        204,
        "the server serves on after a cut request"
    );
    assert_eq!(server.stored_pin("70003", &secrets).await, Some(later));
    assert_eq!(server.stored_pin("70004", &secrets).await, previous);

    secrets.assert_not_logged();
    server.stop().await.expect("a clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_mastercard_set_pins_on_one_card_leave_exactly_one_pin() {
    let secrets = Secrets::new();
    let server = Server::start(&secrets).await;
    let doc = openapi(&server).await;
    let (_, key) = server.public_key().await;
    let mut rng = rng();
    let rsa_before = server.metric("pinset_rsa_private_operations_total").await;

    let mut tasks = Vec::new();
    for _ in 0..16 {
        let pin = random_pin(&mut rng);
        let body = mc_body(&mc_cryptogram(&key, &pin, &mut rng, &secrets));
        let (client, url, token) = (
            server.client.clone(),
            server.url("/cards/70005/pin"),
            server.mc.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let response = client
                .put(url)
                .bearer_auth(token)
                .header("Key-Index", KEY_INDEX)
                .json(&body)
                .send()
                .await
                .expect("send");
            let status = response.status().as_u16();
            (pin, status, response.text().await.expect("a body"))
        }));
    }
    let mut set = BTreeSet::new();
    let mut statuses = Vec::new();
    for task in tasks {
        let (pin, status, body) = task.await.expect("a task");
        statuses.push(status);
        assert!(
            status < 500,
            "a concurrent set PIN answered {status}: {body}"
        );
        if status == 204 {
            assert!(body.is_empty());
            set.insert(pin);
        } else {
            let body: Value = serde_json::from_str(&body).expect("a Mastercard error body");
            assert!(
                body["Errors"]["Error"][0]["ReasonCode"].is_string(),
                "{body}"
            );
            assert_documented(&doc, "put", SET_PIN_MC, status, Some(&body));
        }
    }
    assert!(
        !set.is_empty(),
        "no concurrent set PIN succeeded: {statuses:?}"
    );
    let cards = server.cms_cards().await;
    let card = cards
        .as_array()
        .expect("cards")
        .iter()
        .find(|c| c["cardContractId"] == "70005")
        .expect("70005");
    assert_eq!(
        card["plastics"].as_array().expect("plastics").len(),
        1,
        "one plastic"
    );
    let stored = server.stored_pin("70005", &secrets).await.expect("a PIN");
    assert!(
        set.contains(&stored),
        "the CMS holds a PIN no successful request set"
    );
    let rsa = server.metric("pinset_rsa_private_operations_total").await - rsa_before;
    assert!(
        (set.len() as f64..=16.0).contains(&rsa),
        "{rsa} RSA operations for {} set PINs of 16 requests",
        set.len()
    );

    // Each PIN stored has its one audit record (this test alone sets
    // Mastercard PINs on 70005).
    let mut successes = set.len();

    // Health checks answer during a burst of set PINs.
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let pin = random_pin(&mut rng);
        let body = mc_body(&mc_cryptogram(&key, &pin, &mut rng, &secrets));
        let (client, url, token) = (
            server.client.clone(),
            server.url("/cards/70005/pin"),
            server.mc.clone(),
        );
        tasks.push(tokio::spawn(async move {
            client
                .put(url)
                .bearer_auth(token)
                .header("Key-Index", KEY_INDEX)
                .json(&body)
                .send()
                .await
        }));
    }
    let healthz = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(healthz.status(), 200);
    for task in tasks {
        let status = task.await.expect("a task").expect("send").status().as_u16();
        assert!(status < 500, "{status}");
        successes += usize::from(status == 204);
    }
    // The flow writes the audit record before it answers.
    let lines = audit_lines(&logs(), "MastercardSetPin", "contract=\"70005\"");
    assert_eq!(
        ok_count(&lines),
        successes,
        "one audit record per PIN set on 70005"
    );

    secrets.assert_not_logged();
    server.stop().await.expect("a clean stop");
}

// ------------------------------------------------------------ shutdown

/// Reads from `stream` until `done` says the bytes so far are enough, or EOF.
async fn read_until(stream: &TcpStream, done: impl Fn(&str) -> bool) -> String {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(PATIENCE, async {
        loop {
            let n = receive(stream, &mut chunk).await;
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&chunk[..n]);
            if done(&String::from_utf8_lossy(&bytes)) {
                break;
            }
        }
    })
    .await
    .expect("the server answers in time");
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_an_in_flight_set_pin_finish() {
    let secrets = Secrets::new();
    let mut server = Server::start(&secrets).await;
    let (_, key) = server.public_key().await;
    let mut rng = rng();
    let pin = random_pin(&mut rng);
    let body = mc_body(&mc_cryptogram(&key, &pin, &mut rng, &secrets)).to_string();

    // A slow client: the head with `Expect: 100-continue`, and the body
    // only once the shutdown is under way. The server's `100 Continue`
    // proves the handler is reading the body: the request is in flight.
    let request = raw_request(
        &server,
        "PUT",
        "/cards/70002/pin",
        &server.mc,
        &format!("Key-Index: {KEY_INDEX}\r\nExpect: 100-continue\r\n"),
        "",
    );
    let head = request.replace(
        "Content-Length: 0",
        &format!("Content-Length: {}", body.len()),
    );
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    send_all(&stream, head.as_bytes()).await;
    let interim = read_until(&stream, |s| s.contains("\r\n\r\n")).await;
    assert!(
        interim.starts_with("HTTP/1.1 100"),
        "expected 100 Continue, got {interim:?}"
    );

    server.trigger_shutdown();
    // The server may not end while the request is in flight.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !server.is_finished(),
        "the server ended with a request in flight"
    );

    send_all(&stream, body.as_bytes()).await;
    let response = read_until(&stream, |s| s.contains("\r\n\r\n")).await;
    assert!(
        response.starts_with("HTTP/1.1 204"),
        "the in-flight set PIN finished with {response:?}"
    );
    drop(stream);
    // Its audit record is written (this test alone sets Mastercard PINs on 70002).
    let lines = audit_lines(&logs(), "MastercardSetPin", "contract=\"70002\"");
    assert_eq!(ok_count(&lines), 1, "{lines:#?}");

    let addr = server.addr;
    server
        .stop()
        .await
        .expect("a clean stop after the in-flight request");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed once the server has stopped"
    );
    secrets.assert_not_logged();
}

/// A client that sends half its body and stalls holds the one concurrency
/// slot only until the request timeout: it gets 408, nothing is stored,
/// and a request to another API route, queued behind it on the same
/// (service-wide) limit, is answered after it, not before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_times_out_and_the_api_shares_one_concurrency_limit() {
    let secrets = Secrets::new();
    let server = Server::start_with(&secrets, |config| {
        // The stalled request holds the slot for this plus 1 s: room for
        // the checks below on a loaded machine.
        config.timeout_ms = 2_000;
        config.concurrency = 1;
    })
    .await;
    let before = server.stored_block("70004", &secrets).await;
    let (_, key) = server.public_key().await;
    let mut rng = rng();
    let pin = random_pin(&mut rng);
    secrets.add("PIN", &pin);
    let body = mc_body(&mc_cryptogram(&key, &pin, &mut rng, &secrets)).to_string();
    let request = raw_request(
        &server,
        "PUT",
        "/cards/70004/pin",
        &server.mc,
        "Key-Index: A1564386531162\r\nExpect: 100-continue\r\n",
        &body,
    );
    let stalled = TcpStream::connect(server.addr).await.expect("connect");
    // The head first; the server says `100 Continue` once the handler reads
    // the body, that is, once this request holds the only slot.
    let head_len = request.find("\r\n\r\n").expect("a head") + 4;
    send_all(&stalled, &request.as_bytes()[..head_len]).await;
    let mut buffer = vec![0u8; 4096];
    let n = tokio::time::timeout(PATIENCE, receive(&stalled, &mut buffer))
        .await
        .expect("100 Continue");
    assert!(
        String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 100"),
        "expected 100 Continue"
    );
    // Then everything but the last 20 bytes of the body, and nothing more.
    send_all(&stalled, &request.as_bytes()[head_len..request.len() - 20]).await;

    // Queued on the same limit behind the stalled request.
    let queued = {
        let client = server.client.clone();
        let url = server.url("/public-keys?data_type_to_secure=PIN_BLOCK");
        let token = server.mc.clone();
        tokio::spawn(async move {
            let response = client.get(url).bearer_auth(token).send().await;
            (Instant::now(), response.map(|r| r.status().as_u16()))
        })
    };

    // Were the limit per route, the queued request would be served at once.
    // (On a machine too loaded to serve it in 300 ms this check cannot
    // fail; it never fails wrongly.)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !queued.is_finished(),
        "a request to another API route was served while the only slot was held"
    );

    // The token is checked before a slot is taken: a request without one is
    // refused while the slot is still held, not queued behind the others.
    let refused = tokio::time::timeout(
        PATIENCE,
        server
            .client
            .put(server.url("/cards/70004/pin"))
            .body(body.clone())
            .send(),
    )
    .await
    .expect("answered")
    .expect("a response");
    assert_eq!(refused.status(), 401);
    assert!(
        !queued.is_finished(),
        "the unauthenticated request waited for the slot"
    );

    let n = tokio::time::timeout(PATIENCE, receive(&stalled, &mut buffer))
        .await
        .expect("the stalled request is answered");
    let head = String::from_utf8_lossy(&buffer[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 408"), "stalled request: {head}");

    let (_, status) = tokio::time::timeout(PATIENCE, queued)
        .await
        .expect("the queued request is answered")
        .expect("task");
    assert_eq!(status.expect("a response"), 200);
    assert_eq!(
        server.stored_block("70004", &secrets).await,
        before,
        "a timed-out body stored a PIN"
    );
    secrets.assert_not_logged();
}
