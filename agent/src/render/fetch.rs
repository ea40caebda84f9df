//! Downloading from Helm repositories: HTTPS with the system's CA roots
//! (clear-text HTTP only on loopback), redirects followed, sizes capped.

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The URL cannot be used.
    #[error("{url}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The request failed or the server answered with an error.
    #[error("GET {url}: {reason}")]
    Request {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
}

const TIMEOUT: Duration = Duration::from_secs(60);
const MAX_REDIRECTS: usize = 5;

fn check_url(url: &str) -> Result<(), FetchError> {
    let bad = |reason: &str| FetchError::Url { url: url.to_string(), reason: reason.to_string() };
    let Some((scheme, rest)) = url.split_once("://") else { return Err(bad("is not an http(s) URL")) };
    let host = rest.split(['/', '?']).next().unwrap_or("").rsplit('@').next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    match scheme {
        "https" => Ok(()),
        "http" if matches!(host, "127.0.0.1" | "localhost" | "[::1]") => Ok(()),
        "http" => Err(bad("clear-text http:// is allowed for loopback only; use https://")),
        _ => Err(bad("is not an http(s) URL")),
    }
}

/// GETs `url`, refusing bodies over `limit` bytes.
pub async fn get(url: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| FetchError::Request { url: url.to_string(), reason: format!("no CA roots: {e}") })?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        check_url(&current)?;
        let request_error = |reason: String| FetchError::Request { url: current.clone(), reason };
        let uri: hyper::Uri = current.parse().map_err(|e| request_error(format!("invalid URL: {e}")))?;
        let response = tokio::time::timeout(TIMEOUT, client.get(uri.clone()))
            .await
            .map_err(|_| request_error("timed out".into()))?
            .map_err(|e| request_error(e.to_string()))?;
        let status = response.status();
        if status.is_redirection() {
            let location =
                response.headers().get(hyper::header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or("").to_string();
            current = resolve(&current, &location);
            continue;
        }
        if !status.is_success() {
            return Err(request_error(format!("HTTP {status}")));
        }
        let body = tokio::time::timeout(TIMEOUT, Limited::new(response.into_body(), limit).collect())
            .await
            .map_err(|_| request_error("timed out reading the body".into()))?
            .map_err(|e| request_error(format!("{e} (the limit is {limit} bytes)")))?;
        return Ok(body.to_bytes().to_vec());
    }
    Err(FetchError::Request { url: url.to_string(), reason: format!("more than {MAX_REDIRECTS} redirects") })
}

/// Runs [`get`] from synchronous code (a render thread).
pub fn get_blocking(url: &str, limit: usize) -> Result<Vec<u8>, FetchError> {
    run_blocking(get(url, limit)).unwrap_or_else(|reason| Err(FetchError::Request { url: url.to_string(), reason }))
}

/// Runs a download from synchronous code (a render thread), on the current
/// runtime when there is one, else on a small one of its own.
pub fn run_blocking<T: Send>(future: impl std::future::Future<Output = T> + Send) -> Result<T, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => std::thread::scope(|s| {
            s.spawn(|| handle.block_on(future)).join().map_err(|_| "the download thread panicked".to_string())
        }),
        Err(_) => Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(future)),
    }
}

/// Resolves `reference` against `base` (absolute URLs, `/path` and relative paths).
pub fn resolve(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("https", base));
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(path) = reference.strip_prefix('/') {
        return format!("{scheme}://{authority}/{path}");
    }
    let dir = match base.rfind('/') {
        Some(i) if i > scheme.len() + 2 => &base[..i],
        _ => base,
    };
    format!("{dir}/{reference}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert!(check_url("https://charts.example.com/index.yaml").is_ok());
        assert!(check_url("http://127.0.0.1:8080/x.tgz").is_ok());
        assert!(check_url("http://charts.example.com/index.yaml").is_err());
        assert!(check_url("ftp://x").is_err());
        assert_eq!(resolve("https://h.com/charts/index.yaml", "a-1.0.0.tgz"), "https://h.com/charts/a-1.0.0.tgz");
        assert_eq!(resolve("https://h.com/charts/index.yaml", "/dl/a.tgz"), "https://h.com/dl/a.tgz");
        assert_eq!(resolve("https://h.com/charts/index.yaml", "https://cdn.com/a.tgz"), "https://cdn.com/a.tgz");
    }
}
