//! The routes: both seed APIs with their own error bodies, the demo CMS
//! view, health, readiness, metrics and the OpenAPI document.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Extension, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use pinset_flow::enfuce::{
    ControlOperation, PresharedSetPinRequest, SetPinRequest as EnfuceSetPinRequest, SetPinResponse,
    TzpkRequest, TzpkResponse,
};
use pinset_flow::mastercard::{PublicKeysResponse, SetPinRequest};
use pinset_flow::wire::{EnfuceErrorBody, MastercardErrorBody};
use pinset_flow::{Detail, FlowError, Reason};
use pinset_keys::{KeyError, TzpkError};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tower_http::timeout::TimeoutLayer;
use utoipa::{OpenApi, ToSchema};

use crate::app::{App, Stack};
use crate::gate::{Gate, Slot, gate};

type Shared<S> = State<Arc<App<S>>>;

// ------------------------------------------------------------ bodies

/// `GET /public-keys` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PublicKeysQuery {
    /// Must be `PIN_BLOCK`.
    pub data_type_to_secure: String,
}

/// Every Enfuce route's query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AuditQuery {
    /// Who acts (1 to 64 visible ASCII characters).
    #[param(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    pub audit_user: String,
}

impl AuditQuery {
    /// Enfuce's rule for `auditUser`, the flows' own.
    fn is_valid(&self) -> bool {
        (1..=64).contains(&self.audit_user.len())
            && self.audit_user.bytes().all(|b| b.is_ascii_graphic())
    }
}

/// `POST /pincontrol/v2/plastic/{plasticId}` body.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct ControlRequest {
    /// What the controlId allows: `SET_PIN`.
    pub operation: String,
}

/// `POST /pincontrol/v2/plastic/{plasticId}` answer.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControlResponse {
    /// The controlId: valid 30 seconds, single use.
    pub id: String,
    /// What it allows: `SET_PIN`.
    pub operation: String,
    /// The plastic it is for.
    pub plastic_id: String,
}

/// `GET /readyz` answer.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, or `unavailable`.
    pub status: String,
}

/// One card contract of the demo CMS.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DemoCard {
    /// The card contract id.
    pub card_contract_id: String,
    /// The PAN, masked.
    pub masked_pan: String,
    /// Its plastics.
    pub plastics: Vec<DemoPlastic>,
}

/// One plastic of the demo CMS.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DemoPlastic {
    /// The Enfuce plastic id.
    pub plastic_id: String,
    /// The sequence number.
    pub sequence: String,
    /// The expiry date, YYMM.
    pub expiry: String,
    /// `Locked`, `Active`, `Blocked` or `Expired`.
    pub status: String,
    /// Whether e-commerce and token use is enabled.
    pub ecommerce_enabled: bool,
    /// The stored PIN, if one was set.
    pub pin: Option<DemoPin>,
}

/// A stored PIN of the demo CMS: what the CMS holds, never the PIN.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DemoPin {
    /// The ISO format 0 block, uppercase hex.
    pub pin_block: String,
    /// The zone PIN key it is under.
    pub zpk_index: String,
    /// That key's KCV.
    pub zpk_kcv: String,
}

// ------------------------------------------------------------ errors

/// A Mastercard-family refusal.
pub(crate) fn mp_refusal<S: Stack>(app: &App<S>, reason: Reason) -> Response {
    count_store_error(app, reason, None);
    let status =
        StatusCode::from_u16(reason.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(MastercardErrorBody::for_reason(reason))).into_response()
}

fn mp_error<S: Stack>(app: &App<S>, e: &FlowError) -> Response {
    count_store_error(app, e.reason(), Some(e));
    tracing::info!(reason = e.reason().code(), detail = %e.detail(), "mastercard refusal");
    mp_refusal(app, e.reason())
}

/// An Enfuce-family refusal: `errorResponse` with a fresh id.
pub(crate) fn enfuce_refusal<S: Stack>(app: &App<S>, reason: Reason) -> Response {
    count_store_error(app, reason, None);
    let status =
        StatusCode::from_u16(reason.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = EnfuceErrorBody::for_reason(
        reason,
        uuid_like(),
        pinset_keys::Clock::now(&pinset_keys::SystemClock),
    );
    (status, Json(body)).into_response()
}

fn enfuce_error<S: Stack>(app: &App<S>, e: &FlowError) -> Response {
    count_store_error(app, e.reason(), Some(e));
    tracing::info!(reason = e.reason().code(), detail = %e.detail(), "enfuce refusal");
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(app.enfuce.error_body(e))).into_response()
}

/// Counts a 500 a shared store caused.
fn count_store_error<S: Stack>(app: &App<S>, reason: Reason, e: Option<&FlowError>) {
    let store = matches!(
        e.map(FlowError::detail),
        Some(
            Detail::Store(_)
                | Detail::Key(KeyError::Store(_))
                | Detail::Tzpk(TzpkError::Unavailable { .. })
        )
    );
    if reason == Reason::IntegrationError && store {
        app.metrics.store_error();
    }
}

/// A random RFC 4122 version 4 UUID, for Enfuce error ids.
fn uuid_like() -> String {
    let mut b = [0u8; 16];
    let _ = rand_core::TryRng::try_fill_bytes(&mut getrandom::SysRng, &mut b);
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// What a body the JSON extractor refused is.
fn rejection_reason(rejection: &JsonRejection) -> Reason {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Reason::PayloadTooLarge
    } else {
        Reason::RequestValidation
    }
}

/// The identifiers a request line shows: contract and plastic ids, the
/// key index, a controlId's first 8 characters. Never a PAN or full
/// controlId.
#[derive(Clone, Debug)]
struct LogIds(String);

/// Puts `ids` on the response for the request line.
fn with_ids(mut response: Response, ids: String) -> Response {
    response.extensions_mut().insert(LogIds(ids));
    response
}

/// A controlId as a log may show it: its first 8 characters.
fn control_prefix(text: &str) -> String {
    pinset_keys::ControlId::new(text).map_or_else(|_| "invalid".into(), |id| id.to_string())
}

// ------------------------------------------------------------ Mastercard

/// `GET /public-keys?data_type_to_secure=PIN_BLOCK`: the active RSA key.
#[utoipa::path(
    get,
    path = "/public-keys",
    tag = "Mastercard Processing",
    params(PublicKeysQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The active key index and RSA public key", body = PublicKeysResponse),
        (status = 400, description = "Bad query", body = MastercardErrorBody),
        (status = 401, description = "No or unknown bearer token", body = MastercardErrorBody),
        (status = 403, description = "The token is not for this API", body = MastercardErrorBody),
        (status = 500, description = "A back end failed", body = MastercardErrorBody),
    )
)]
async fn public_keys<S: Stack>(
    State(app): Shared<S>,
    query: Result<Query<PublicKeysQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return mp_refusal(&app, Reason::RequestValidation);
    };
    match app.mp.public_keys(&query.data_type_to_secure).await {
        Ok(keys) => Json(keys).into_response(),
        Err(e) => mp_error(&app, &e),
    }
}

/// `PUT /cards/{card_contract_id}/pin`: sets a PIN from an RSA cryptogram.
#[utoipa::path(
    put,
    path = "/cards/{card_contract_id}/pin",
    tag = "Mastercard Processing",
    params(
        ("card_contract_id" = String, Path, description = "The card contract"),
        ("Key-Index" = Option<String>, Header, description = "The key index the cryptogram is under"),
    ),
    request_body = SetPinRequest,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The PIN is set"),
        (status = 400, description = "Invalid request, PIN block, policy, key index or a replay", body = MastercardErrorBody),
        (status = 401, description = "No or unknown bearer token", body = MastercardErrorBody),
        (status = 403, description = "The token is not for this API, or the card does not allow it", body = MastercardErrorBody),
        (status = 404, description = "No such contract or plastic", body = MastercardErrorBody),
        (status = 413, description = "The body is too large", body = MastercardErrorBody),
        (status = 500, description = "A back end failed; nothing changed", body = MastercardErrorBody),
    )
)]
async fn set_pin_mastercard<S: Stack>(
    State(app): Shared<S>,
    Path(card_contract_id): Path<String>,
    headers: HeaderMap,
    Extension(slot): Extension<Slot>,
    body: Result<Json<SetPinRequest>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => return mp_refusal(&app, rejection_reason(&rejection)),
    };
    let key_index = match headers.get("Key-Index").map(HeaderValue::to_str) {
        None => None,
        Some(Ok(k)) => Some(k.to_owned()),
        Some(Err(_)) => return mp_refusal(&app, Reason::RequestValidation),
    };
    // Parsed values only: raw path text could be anything, a PAN included.
    let ids = format!(
        "contract={} key_index={}",
        card_contract_id
            .parse::<pinset_cms::CardContractId>()
            .map_or_else(|_| "invalid".into(), |c| c.to_string()),
        key_index.as_deref().map_or_else(
            || "-".into(),
            |k| pinset_keys::KeyIndex::new(k).map_or_else(|_| "invalid".into(), |k| k.to_string())
        )
    );
    let started = Instant::now();
    // The RSA private-key operation runs on a blocking thread, so a burst of
    // set PINs never stalls the async workers; the task runs to its end even
    // if the client goes, so its audit record is always written.
    let task = {
        let app = Arc::clone(&app);
        let runtime = tokio::runtime::Handle::current();
        let held = slot.take();
        tokio::task::spawn_blocking(move || {
            // The slot is the flow's until it ends, timed out or not.
            let _held = held;
            runtime.block_on(
                app.mp
                    .set_pin(&card_contract_id, key_index.as_deref(), &request),
            )
        })
    };
    let outcome = tokio::time::timeout(app.timeout, task).await;
    app.metrics.set_pin(started.elapsed());
    let response = match outcome {
        Ok(Ok(Ok(_))) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(Err(e))) => mp_error(&app, &e),
        // Timed out or the task died: the flow goes on and decides alone
        // what it stores, so the outcome is unknown, not "nothing changed".
        _ => mp_refusal(&app, Reason::OutcomeUnknown),
    };
    with_ids(response, ids)
}

// ------------------------------------------------------------ Enfuce

fn plastic<S: Stack>(
    app: &App<S>,
    plastic_id: &str,
) -> Option<(pinset_cms::CardContractId, pinset_cms::PlasticSequence)> {
    app.plastics.get(plastic_id).copied()
}

/// The checks every Enfuce route makes after the gate's token check: the
/// body (a 413 wins over a bad query), then `auditUser`.
fn enfuce_input<B>(
    query: Result<Query<AuditQuery>, QueryRejection>,
    body: Result<Json<B>, JsonRejection>,
) -> Result<(AuditQuery, B), Reason> {
    let Json(body) = body.map_err(|rejection| rejection_reason(&rejection))?;
    match query {
        Ok(Query(audit)) if audit.is_valid() => Ok((audit, body)),
        _ => Err(Reason::RequestValidation),
    }
}

/// Runs an Enfuce flow call as its own task (it finishes, and is audited,
/// even if the client goes), waits for it within the timeout, and answers:
/// `ok` of its result, the flow's refusal, or `OUTCOME_UNKNOWN`. A set PIN
/// (`set_pin`) also feeds the latency histogram.
async fn run_enfuce<S, T, Fut>(
    app: &Arc<App<S>>,
    slot: &Slot,
    ids: String,
    set_pin: bool,
    call: impl FnOnce(Arc<App<S>>) -> Fut,
    ok: impl FnOnce(T) -> Response,
) -> Response
where
    S: Stack,
    T: Send + 'static,
    Fut: Future<Output = Result<T, FlowError>> + Send + 'static,
{
    let started = Instant::now();
    let flow = call(Arc::clone(app));
    let held = slot.take();
    let task = tokio::spawn(async move {
        // The slot is the flow's until it ends, timed out or not.
        let _held = held;
        flow.await
    });
    let outcome = tokio::time::timeout(app.timeout, task).await;
    if set_pin {
        app.metrics.set_pin(started.elapsed());
    }
    let response = match outcome {
        Ok(Ok(Ok(done))) => ok(done),
        Ok(Ok(Err(e))) => enfuce_error(app, &e),
        // Timed out or the task died: the flow goes on and decides alone
        // what it stores, so the outcome is unknown.
        _ => enfuce_refusal(app, Reason::OutcomeUnknown),
    };
    with_ids(response, ids)
}

/// How a request line names a plastic id: only one the service knows.
fn plastic_ids<S: Stack>(app: &App<S>, plastic_id: &str) -> String {
    let known = app.plastics.contains_key(plastic_id);
    format!("plastic={}", if known { plastic_id } else { "unknown" })
}

/// `POST /pincontrol/v2/plastic/{plasticId}`: a controlId for one plastic.
#[utoipa::path(
    post,
    path = "/pincontrol/v2/plastic/{plasticId}",
    tag = "Enfuce",
    params(("plasticId" = String, Path, description = "The plastic"), AuditQuery),
    request_body = ControlRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The controlId, valid 30 s", body = ControlResponse),
        (status = 400, description = "Invalid request", body = EnfuceErrorBody),
        (status = 401, description = "No or unknown bearer token", body = EnfuceErrorBody),
        (status = 403, description = "The token is not for this API, or the plastic does not allow it", body = EnfuceErrorBody),
        (status = 404, description = "No such plastic", body = EnfuceErrorBody),
        (status = 413, description = "The body is too large", body = EnfuceErrorBody),
        (status = 500, description = "A back end failed", body = EnfuceErrorBody),
    )
)]
async fn issue_control<S: Stack>(
    State(app): Shared<S>,
    Path(plastic_id): Path<String>,
    Extension(slot): Extension<Slot>,
    query: Result<Query<AuditQuery>, QueryRejection>,
    body: Result<Json<ControlRequest>, JsonRejection>,
) -> Response {
    let request = match enfuce_input(query, body) {
        Ok((_, request)) => request,
        Err(reason) => return enfuce_refusal(&app, reason),
    };
    if request.operation != "SET_PIN" {
        return enfuce_refusal(&app, Reason::RequestValidation);
    }
    let Some((contract, sequence)) = plastic(&app, &plastic_id) else {
        return enfuce_refusal(&app, Reason::NoMatchingPlastic);
    };
    let ids = plastic_ids(&app, &plastic_id);
    let call = move |app: Arc<App<S>>| async move {
        app.enfuce
            .issue_control(contract, sequence, ControlOperation::SetPin)
            .await
    };
    let ok = |id: pinset_keys::ControlId| {
        Json(ControlResponse {
            id: id.as_str().to_owned(),
            operation: "SET_PIN".into(),
            plastic_id,
        })
        .into_response()
    };
    run_enfuce(&app, &slot, ids, false, call, ok).await
}

/// `POST /pin/v3/set/tzpk`: a fresh tzpk wrapped for the device's RSA key.
#[utoipa::path(
    post,
    path = "/pin/v3/set/tzpk",
    tag = "Enfuce",
    params(AuditQuery),
    request_body = TzpkRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The tzpk under the device's key", body = TzpkResponse),
        (status = 400, description = "Invalid request or public key", body = EnfuceErrorBody),
        (status = 401, description = "No or unknown bearer token", body = EnfuceErrorBody),
        (status = 403, description = "The token is not for this API", body = EnfuceErrorBody),
        (status = 404, description = "The controlId is unknown, used or expired", body = EnfuceErrorBody),
        (status = 413, description = "The body is too large", body = EnfuceErrorBody),
        (status = 500, description = "A back end failed", body = EnfuceErrorBody),
    )
)]
async fn get_tzpk<S: Stack>(
    State(app): Shared<S>,
    Extension(slot): Extension<Slot>,
    query: Result<Query<AuditQuery>, QueryRejection>,
    body: Result<Json<TzpkRequest>, JsonRejection>,
) -> Response {
    let request = match enfuce_input(query, body) {
        Ok((_, request)) => request,
        Err(reason) => return enfuce_refusal(&app, reason),
    };
    let ids = format!("control={}", control_prefix(&request.control_id));
    let call = move |app: Arc<App<S>>| async move { app.enfuce.get_tzpk(&request).await };
    run_enfuce(&app, &slot, ids, false, call, |tzpk| {
        Json(tzpk).into_response()
    })
    .await
}

/// `POST /pin/v3/set`: sets the PIN from a block under the tzpk.
#[utoipa::path(
    post,
    path = "/pin/v3/set",
    tag = "Enfuce",
    params(AuditQuery),
    request_body = EnfuceSetPinRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The PIN is set", body = SetPinResponse),
        (status = 400, description = "Invalid request, PIN block or policy", body = EnfuceErrorBody),
        (status = 401, description = "No or unknown bearer token", body = EnfuceErrorBody),
        (status = 403, description = "The token is not for this API, or the plastic does not allow it", body = EnfuceErrorBody),
        (status = 404, description = "The controlId is unknown, used or expired", body = EnfuceErrorBody),
        (status = 413, description = "The body is too large", body = EnfuceErrorBody),
        (status = 500, description = "A back end failed; nothing stored", body = EnfuceErrorBody),
    )
)]
async fn set_pin_enfuce<S: Stack>(
    State(app): Shared<S>,
    Extension(slot): Extension<Slot>,
    query: Result<Query<AuditQuery>, QueryRejection>,
    body: Result<Json<EnfuceSetPinRequest>, JsonRejection>,
) -> Response {
    let (audit, request) = match enfuce_input(query, body) {
        Ok(input) => input,
        Err(reason) => return enfuce_refusal(&app, reason),
    };
    let ids = format!("control={}", control_prefix(&request.control_id));
    let call = move |app: Arc<App<S>>| async move {
        app.enfuce.set_pin(&request, &audit.audit_user).await
    };
    run_enfuce(&app, &slot, ids, true, call, |done| {
        Json(done).into_response()
    })
    .await
}

/// `POST /pin/v2/{plasticId}`: sets the PIN from a block under a pre-shared ZPK.
#[utoipa::path(
    post,
    path = "/pin/v2/{plasticId}",
    tag = "Enfuce",
    params(("plasticId" = String, Path, description = "The plastic"), AuditQuery),
    request_body = PresharedSetPinRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The PIN is set", body = SetPinResponse),
        (status = 400, description = "Invalid request, key index, PIN block or policy", body = EnfuceErrorBody),
        (status = 401, description = "No or unknown bearer token", body = EnfuceErrorBody),
        (status = 403, description = "The token is not for this API, or the plastic does not allow it", body = EnfuceErrorBody),
        (status = 404, description = "No such plastic", body = EnfuceErrorBody),
        (status = 413, description = "The body is too large", body = EnfuceErrorBody),
        (status = 500, description = "A back end failed; nothing stored", body = EnfuceErrorBody),
    )
)]
async fn set_pin_preshared<S: Stack>(
    State(app): Shared<S>,
    Path(plastic_id): Path<String>,
    Extension(slot): Extension<Slot>,
    query: Result<Query<AuditQuery>, QueryRejection>,
    body: Result<Json<PresharedSetPinRequest>, JsonRejection>,
) -> Response {
    let (audit, request) = match enfuce_input(query, body) {
        Ok(input) => input,
        Err(reason) => return enfuce_refusal(&app, reason),
    };
    let Some((contract, sequence)) = plastic(&app, &plastic_id) else {
        return enfuce_refusal(&app, Reason::NoMatchingPlastic);
    };
    let ids = plastic_ids(&app, &plastic_id);
    let call = move |app: Arc<App<S>>| async move {
        app.enfuce
            .set_pin_preshared(contract, sequence, &request, &audit.audit_user)
            .await
    };
    run_enfuce(&app, &slot, ids, true, call, |done| {
        Json(done).into_response()
    })
    .await
}

// ------------------------------------------------------------ demo, health

/// `GET /demo/cms/cards` (demo mode): what the reference CMS holds.
#[utoipa::path(
    get,
    path = "/demo/cms/cards",
    tag = "Demo",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every card contract with its plastics and stored PIN blocks", body = Vec<DemoCard>),
        (status = 401, description = "No or unknown bearer token", body = MastercardErrorBody),
    )
)]
async fn demo_cards<S: Stack>(State(app): Shared<S>) -> Response {
    let ids: std::collections::BTreeMap<_, _> = app
        .plastics
        .iter()
        .map(|(id, key)| (*key, id.clone()))
        .collect();
    let cards: Vec<DemoCard> = app
        .cms
        .snapshot()
        .contracts
        .into_iter()
        .map(|(contract, record)| DemoCard {
            card_contract_id: contract.to_string(),
            masked_pan: record.pan.masked().to_string(),
            plastics: record
                .plastics
                .into_iter()
                .map(|p| DemoPlastic {
                    plastic_id: ids
                        .get(&(contract, p.plastic.sequence))
                        .cloned()
                        .unwrap_or_default(),
                    sequence: p.plastic.sequence.to_string(),
                    expiry: p.plastic.expiry.to_string(),
                    status: format!("{:?}", p.plastic.status),
                    ecommerce_enabled: p.plastic.ecommerce_enabled,
                    pin: p.pin.map(|pin| DemoPin {
                        pin_block: hex::encode_upper(pin.pin_block.as_bytes()),
                        zpk_index: pin.zpk_index,
                        zpk_kcv: pin.zpk_kcv.to_string(),
                    }),
                })
                .collect(),
        })
        .collect();
    Json(cards).into_response()
}

/// `GET /healthz`: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "Operations", responses((status = 200, description = "Alive", body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: the key store, the security module and Redis answer.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "Operations",
    responses(
        (status = 200, description = "Ready", body = Readiness),
        (status = 503, description = "A back end does not answer", body = Readiness),
    )
)]
async fn readyz<S: Stack>(State(app): Shared<S>) -> Response {
    match app.ready().await {
        Ok(()) => Json(Readiness {
            status: "ready".into(),
        })
        .into_response(),
        Err(why) => {
            tracing::warn!(why, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Readiness {
                    status: "unavailable".into(),
                }),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(get, path = "/metrics", tag = "Operations", responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
async fn metrics<S: Stack>(State(app): Shared<S>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

/// `GET /openapi.json`.
#[utoipa::path(get, path = "/openapi.json", tag = "Operations", responses((status = 200, description = "This document", body = Object)))]
async fn openapi_json() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

/// The OpenAPI 3.1 document, generated from the routes above.
#[derive(OpenApi)]
#[openapi(
    info(title = "pinset-server", description = "Mastercard Processing's and Enfuce's set-PIN APIs on pinset."),
    paths(
        public_keys, set_pin_mastercard, issue_control, get_tzpk, set_pin_enfuce, set_pin_preshared,
        demo_cards, healthz, readyz, metrics, openapi_json
    ),
    components(schemas(
        PublicKeysResponse, SetPinRequest, MastercardErrorBody, ControlRequest, ControlResponse,
        TzpkRequest, TzpkResponse, EnfuceSetPinRequest, PresharedSetPinRequest, SetPinResponse,
        EnfuceErrorBody, Readiness, DemoCard, DemoPlastic, DemoPin
    )),
    modifiers(&Bearer)
)]
pub struct ApiDoc;

/// Adds the bearer security scheme.
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

// ------------------------------------------------------------ router

/// One log line and one metric per request: method, route template,
/// status, latency. The route template, never the path: no identifier in
/// the URL reaches the log.
async fn observe<S: Stack>(State(app): Shared<S>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    app.metrics.request(&route, status);
    let ids = response
        .extensions()
        .get::<LogIds>()
        .map_or("", |ids| ids.0.as_str());
    tracing::info!(
        target: "pinset::http",
        %method,
        route,
        ids,
        status,
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// Answers unknown routes with 404 and no body.
async fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// The whole router for `app`.
pub fn router<S: Stack>(app: Arc<App<S>>, max_body: usize, concurrency: usize) -> Router {
    let mut api = Router::new()
        .route("/public-keys", get(public_keys::<S>))
        .route(
            "/cards/{card_contract_id}/pin",
            put(set_pin_mastercard::<S>),
        )
        .route(
            "/pincontrol/v2/plastic/{plasticId}",
            post(issue_control::<S>),
        )
        .route("/pin/v3/set/tzpk", post(get_tzpk::<S>))
        .route("/pin/v3/set", post(set_pin_enfuce::<S>))
        .route("/pin/v2/{plasticId}", post(set_pin_preshared::<S>));
    if app.demo {
        api = api.route("/demo/cms/cards", get(demo_cards::<S>));
    }
    // The gate checks the token before anything else, then takes a slot of
    // one semaphore for every API route, which a flow task keeps until it
    // ends. A timeout over the whole request, body read included, stops
    // slow clients from holding slots: 408 when it runs out. Flows run as
    // their own tasks, so a timed-out request leaves them to finish.
    let api = api
        .layer(DefaultBodyLimit::max(max_body))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            // After the flows' own timeout (500), so this one cuts slow bodies.
            app.timeout + std::time::Duration::from_secs(1),
        ))
        .layer(middleware::from_fn_with_state(
            Gate {
                app: Arc::clone(&app),
                slots: Arc::new(Semaphore::new(concurrency.max(1))),
            },
            gate::<S>,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz::<S>))
        .route("/metrics", get(metrics::<S>))
        .route("/openapi.json", get(openapi_json))
        .merge(api)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            observe::<S>,
        ))
        .with_state(app)
}
