//! The dashboard's routes under its prefix `P` (all `GET`):
//!
//! - `P/` — the overview; `P` redirects there.
//! - `P/apps/{app}?from=N` — an app's page; `P/apps/{app}/diff?object=...` — a diff.
//! - `P/events/overview`, `P/events/apps/{app}` — live updates (server-sent events).
//! - `P/fragments/overview`, `P/fragments/apps/{app}` — the same views, to poll.
//! - `P/assets/...` — stylesheet, script, icon.
//!
//! Every response carries a Content-Security-Policy allowing only the
//! dashboard's own assets and connections, and no page is cached.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::Dashboard;
use super::app::{DiffRefusal, app_view, diff_view};
use super::diff::{Admission, DiffOutcome};
use super::overview::overview;
use super::page::{self, Depth, Live, page};
use super::stream;
use crate::report::Reporter;

/// Allows the dashboard's own script, style, icon and connections only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

#[derive(Clone)]
struct UiState {
    reporter: Arc<Reporter>,
    dashboard: Arc<Dashboard>,
}

/// The dashboard's routes, under its prefix.
pub fn router(reporter: Arc<Reporter>, dashboard: Arc<Dashboard>) -> Router {
    let p = dashboard.prefix().to_string();
    let mut router = Router::new()
        .route(&format!("{p}/"), get(overview_page))
        .route(&format!("{p}/apps/{{app}}"), get(app_page))
        .route(&format!("{p}/apps/{{app}}/diff"), get(diff_page))
        .route(&format!("{p}/events/overview"), get(overview_events))
        .route(&format!("{p}/events/apps/{{app}}"), get(app_events))
        .route(&format!("{p}/fragments/overview"), get(overview_fragment))
        .route(&format!("{p}/fragments/apps/{{app}}"), get(app_fragment))
        .route(&format!("{p}/assets/plumb.css"), get(|| async { asset("text/css; charset=utf-8", page::CSS) }))
        .route(&format!("{p}/assets/plumb.js"), get(|| async { asset("text/javascript; charset=utf-8", page::JS) }))
        .route(&format!("{p}/assets/icon.svg"), get(|| async { asset("image/svg+xml", page::ICON) }));
    if let Some(last) = p.rsplit('/').next().filter(|s| !s.is_empty()) {
        // `/a/b` -> `b/`, relative, so it also works behind a proxy that strips the prefix.
        let location = format!("{last}/");
        router = router.route(
            &p,
            get(move || async move { secure((StatusCode::FOUND, [(header::LOCATION, location)]).into_response()) }),
        );
    }
    router.with_state(UiState { reporter, dashboard })
}

/// Adds the headers every dashboard response carries.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

fn html(status: StatusCode, body: String) -> Response {
    secure((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    // Their URLs carry a digest of their contents.
    let cache = "public, max-age=86400, immutable";
    secure(([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, cache)], body).into_response())
}

fn overview_view(reporter: &Reporter) -> String {
    overview(&reporter.status(), &reporter.recent_records())
}

/// App `name`'s view, and whether the app is known.
fn app_view_of(reporter: &Reporter, name: &str, from: usize) -> (bool, String) {
    let status = reporter.status();
    let app = status.apps.get(name);
    (app.is_some(), app_view(name, app, &reporter.objects(name), &reporter.recent_records(), from))
}

async fn overview_page(State(ui): State<UiState>) -> Response {
    html(StatusCode::OK, page("overview", Depth::Root, Some(&Live::overview()), &overview_view(&ui.reporter)))
}

#[derive(Debug, Deserialize)]
struct AppQuery {
    #[serde(default)]
    from: usize,
}

async fn app_page(State(ui): State<UiState>, Path(app): Path<String>, Query(query): Query<AppQuery>) -> Response {
    let (known, view) = app_view_of(&ui.reporter, &app, query.from);
    let status = if known { StatusCode::OK } else { StatusCode::NOT_FOUND };
    html(status, page(&app, Depth::App, Some(&Live::app(&app, query.from)), &view))
}

async fn overview_fragment(State(ui): State<UiState>) -> Response {
    html(StatusCode::OK, overview_view(&ui.reporter))
}

async fn app_fragment(State(ui): State<UiState>, Path(app): Path<String>, Query(query): Query<AppQuery>) -> Response {
    html(StatusCode::OK, app_view_of(&ui.reporter, &app, query.from).1)
}

/// All streams are taken: the page polls its fragment instead.
fn busy() -> Response {
    let body = "too many live views are open; this page polls instead";
    secure((StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "30")], body).into_response())
}

async fn overview_events(State(ui): State<UiState>) -> Response {
    let Some(slot) = ui.dashboard.slots.take() else { return busy() };
    let reporter = ui.reporter.clone();
    secure(stream::response(stream::events(slot, ui.reporter.changes(), move || overview_view(&reporter))))
}

async fn app_events(State(ui): State<UiState>, Path(app): Path<String>, Query(query): Query<AppQuery>) -> Response {
    let Some(slot) = ui.dashboard.slots.take() else { return busy() };
    let reporter = ui.reporter.clone();
    let render = move || app_view_of(&reporter, &app, query.from).1;
    secure(stream::response(stream::events(slot, ui.reporter.changes(), render)))
}

#[derive(Debug, Deserialize)]
struct DiffQuery {
    #[serde(default)]
    object: String,
}

async fn diff_page(State(ui): State<UiState>, Path(app): Path<String>, Query(query): Query<DiffQuery>) -> Response {
    let object = query.object;
    let status = ui.reporter.status();
    let drifted = status.apps.get(&app).and_then(|a| a.drifted.iter().find(|d| d.object == object));
    // Only a drifted object of a leader costs API requests, and only
    // within the limiter's budget.
    let outcome = match (drifted, &ui.dashboard.diffs) {
        _ if status.role == "standby" => Err(DiffRefusal::Standby),
        (None, _) => Ok(Ok(DiffOutcome::NotDrifted)),
        (Some(d), _) if d.drift == "deleted" => Ok(Ok(DiffOutcome::Gone)),
        (Some(_), None) => Err(DiffRefusal::Unavailable),
        (Some(_), Some(diffs)) => {
            let admission = ui.dashboard.limiter.lock().unwrap_or_else(std::sync::PoisonError::into_inner).admit(
                &app,
                &object,
                Instant::now(),
            );
            match admission {
                Admission::Cached(outcome) => Ok(outcome),
                Admission::Refused { retry_after } => {
                    Err(DiffRefusal::Limited { retry_after_secs: retry_after.as_secs_f64().ceil() as u64 })
                }
                Admission::Run => {
                    let outcome = diffs.diff(&app, &object).await;
                    ui.dashboard.limiter.lock().unwrap_or_else(std::sync::PoisonError::into_inner).store(
                        &app,
                        &object,
                        Instant::now(),
                        outcome.clone(),
                    );
                    Ok(outcome)
                }
            }
        }
    };
    let body = page(&format!("diff of {object}"), Depth::Diff, None, &diff_view(&app, &object, outcome.as_ref()));
    match outcome {
        Err(DiffRefusal::Limited { retry_after_secs }) => {
            let mut response = html(StatusCode::TOO_MANY_REQUESTS, body);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        _ => html(StatusCode::OK, body),
    }
}
