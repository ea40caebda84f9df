//! The HTTP server: `/metrics`, `/healthz`, `/readyz`, `/api/v1/status`,
//! `/hooks/git` (a push webhook that triggers a poll, HMAC-SHA256
//! verified: GitHub's `X-Hub-Signature-256`, Gitea's `X-Gitea-Signature`,
//! GitLab's `X-Gitlab-Token`) and, unless switched off, the dashboard
//! under its prefix (see [`super::ui`]).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Notify;

use super::Reporter;

/// What the handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// Metrics, status, readiness.
    pub reporter: Arc<Reporter>,
    /// Woken by a verified push webhook.
    pub poll_now: Arc<Notify>,
    /// Shared secret of `/hooks/git` (the route answers 404 without one).
    pub webhook_secret: Option<Arc<Vec<u8>>>,
    /// The agent's API requests (readiness needs the API reachable).
    pub api: Arc<crate::cluster::requests::ApiRequests>,
    /// The dashboard; `None` when switched off.
    pub ui: Option<Arc<super::ui::Dashboard>>,
}

/// The router.
pub fn router(state: HttpState) -> Router {
    let ui = state.ui.clone().map(|dashboard| super::ui::router(state.reporter.clone(), dashboard));
    let api = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status))
        .route("/hooks/git", post(hook))
        .with_state(state);
    match ui {
        Some(ui) => api.merge(ui),
        None => api,
    }
}

/// Serves `router` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, state: HttpState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

/// Binds `address` (e.g. `0.0.0.0:8080`).
pub async fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await
}

async fn metrics(State(state): State<HttpState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, state.reporter.metrics.registry()) {
        Ok(()) => ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn readyz(State(state): State<HttpState>) -> Response {
    let status = state.reporter.status();
    if status.role == "standby" {
        return "ready (standby)".into_response();
    }
    if !status.ready {
        (StatusCode::SERVICE_UNAVAILABLE, "the first sync has not finished").into_response()
    } else if !state.api.reachable() {
        (StatusCode::SERVICE_UNAVAILABLE, "the Kubernetes API did not answer the last request").into_response()
    } else {
        "ready".into_response()
    }
}

async fn status(State(state): State<HttpState>) -> Response {
    axum::Json(state.reporter.status()).into_response()
}

/// True if `headers` carry a valid signature (or token) of `body`.
pub fn verify_signature(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let mac_matches = |hex_signature: &str| {
        let Ok(expected) = decode_hex(hex_signature) else { return false };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return false };
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    };
    if let Some(signature) = header("x-hub-signature-256") {
        return signature.strip_prefix("sha256=").is_some_and(mac_matches);
    }
    if let Some(signature) = header("x-gitea-signature").or_else(|| header("x-gogs-signature")) {
        return mac_matches(signature);
    }
    if let Some(token) = header("x-gitlab-token") {
        // Constant-time comparison of the shared token.
        let (a, b) = (token.as_bytes(), secret);
        return a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    }
    false
}

fn decode_hex(text: &str) -> Result<Vec<u8>, ()> {
    if !text.len().is_multiple_of(2) {
        return Err(());
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2).ok_or(())?, 16).map_err(|_| ())).collect()
}

async fn hook(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &state.webhook_secret else {
        return (StatusCode::NOT_FOUND, "the git webhook is not enabled (no secret configured)").into_response();
    };
    if !verify_signature(secret, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, "bad or missing signature").into_response();
    }
    state.poll_now.notify_one();
    (StatusCode::ACCEPTED, "poll triggered").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(body);
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn signatures_of_each_forge() {
        let (secret, body) = (b"s3cret".as_slice(), b"{\"ref\":\"refs/heads/main\"}".as_slice());
        let headers = |name: &'static str, value: String| {
            let mut h = HeaderMap::new();
            h.insert(name, value.parse().expect("header"));
            h
        };
        let good = sign(secret, body);
        assert!(verify_signature(secret, &headers("x-hub-signature-256", format!("sha256={good}")), body));
        assert!(verify_signature(secret, &headers("x-gitea-signature", good.clone()), body));
        assert!(verify_signature(secret, &headers("x-gitlab-token", "s3cret".into()), body));
        assert!(!verify_signature(
            secret,
            &headers("x-hub-signature-256", format!("sha256={}", sign(b"other", body))),
            body
        ));
        assert!(!verify_signature(secret, &headers("x-hub-signature-256", good.clone()), body), "prefix required");
        assert!(!verify_signature(secret, &headers("x-gitlab-token", "wrong!".into()), body));
        assert!(!verify_signature(secret, &HeaderMap::new(), body));
        assert!(!verify_signature(secret, &headers("x-gitea-signature", good), b"tampered body"));
    }
}
