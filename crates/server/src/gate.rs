//! The gate in front of every API route: the bearer token, then a slot.
//!
//! The token is checked before a slot is taken or a byte of the body is
//! read, so an unauthenticated client can neither fill the slots nor make
//! the service read its bodies. A slot is a permit of one semaphore for
//! all API routes; a handler that runs its flow as a task hands the permit
//! to the task, so a flow that outlives its request (a timeout, a client
//! gone) still holds its slot until it ends.

use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use pinset_flow::Reason;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::app::{App, Stack};
use crate::auth::{Family, Verdict};
use crate::routes::{enfuce_refusal, mp_refusal};

/// What the gate holds: the service and its slots.
pub(crate) struct Gate<S: Stack> {
    pub(crate) app: Arc<App<S>>,
    pub(crate) slots: Arc<Semaphore>,
}

impl<S: Stack> Clone for Gate<S> {
    fn clone(&self) -> Self {
        Gate {
            app: Arc::clone(&self.app),
            slots: Arc::clone(&self.slots),
        }
    }
}

/// The slot a request holds, for its handler to hand to a flow task.
#[derive(Clone)]
pub(crate) struct Slot(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl Slot {
    /// Takes the permit out, to move into a task; `None` if taken already.
    pub(crate) fn take(&self) -> Option<OwnedSemaphorePermit> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// Which API family a path belongs to; `None` for the demo route, which
/// either family may read.
fn family(path: &str) -> Option<Family> {
    if path.starts_with("/public-keys") || path.starts_with("/cards/") {
        Some(Family::Mastercard)
    } else if path.starts_with("/demo/") {
        None
    } else {
        Some(Family::Enfuce)
    }
}

/// Checks the bearer token for the route's family (401 or 403 with that
/// family's error body), then waits for a slot and passes the request on.
pub(crate) async fn gate<S: Stack>(
    State(gate): State<Gate<S>>,
    mut request: Request,
    next: Next,
) -> Response {
    let app = &gate.app;
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let family = family(request.uri().path());
    let verdict = match family {
        Some(family) => app.tokens.check(token, family),
        // The demo route: a token of either family.
        None => [Family::Mastercard, Family::Enfuce]
            .into_iter()
            .map(|f| app.tokens.check(token, f))
            .find(|v| *v == Verdict::Allowed)
            .unwrap_or(Verdict::Unknown),
    };
    let refused = match verdict {
        Verdict::Allowed => None,
        Verdict::OtherFamily => Some(Reason::Forbidden),
        Verdict::Unknown => Some(Reason::Unauthenticated),
    };
    if let Some(reason) = refused {
        return match family {
            Some(Family::Enfuce) => enfuce_refusal(app, reason),
            _ => mp_refusal(app, reason),
        };
    }
    // A free slot is taken without a wait; a full service queues for as
    // long as two requests may take (each is cut at the flow timeout plus
    // 1 s), then answers a retryable 500: flows that hang in a back end
    // must not stall every caller for ever.
    let patience = (app.timeout + std::time::Duration::from_secs(1)) * 2;
    let permit = match Arc::clone(&gate.slots).try_acquire_owned() {
        Ok(permit) => permit,
        Err(_) => {
            let waited =
                tokio::time::timeout(patience, Arc::clone(&gate.slots).acquire_owned()).await;
            match waited {
                Ok(Ok(permit)) => permit,
                // Timed out (or the semaphore, never closed, was).
                _ => {
                    return match family {
                        Some(Family::Enfuce) => enfuce_refusal(app, Reason::IntegrationError),
                        _ => mp_refusal(app, Reason::IntegrationError),
                    };
                }
            }
        }
    };
    request
        .extensions_mut()
        .insert(Slot(Arc::new(Mutex::new(Some(permit)))));
    next.run(request).await
}
