//! The HTTP side of the OCI distribution API: HTTPS with the system's
//! roots plus an optional CA file, registry auth challenges answered
//! (`Basic`, or `Bearer` through the registry's token service), redirects
//! followed, sizes capped, timeouts.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::OciError;
use super::auth::{Credential, Registries};

const TIMEOUT: Duration = Duration::from_secs(60);
const MAX_REDIRECTS: usize = 5;

/// A response's headers and body.
pub struct Response {
    /// The headers.
    pub headers: hyper::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// A registry client for one registry host.
pub struct RegistryClient {
    http: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    host: String,
    credential: Option<Credential>,
}

fn tls_config(registries: &Registries) -> Result<rustls::ClientConfig, OciError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(pem) = &registries.ca_pem {
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| OciError::Tls(format!("the registry CA file is not PEM: {e}")))?;
            roots.add(cert).map_err(|e| OciError::Tls(format!("the registry CA file: {e}")))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| OciError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

impl RegistryClient {
    /// A client for `host` (`name[:port]`), with its credential from `registries`.
    pub fn new(host: &str, registries: &Registries) -> Result<RegistryClient, OciError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(registries)?)
            .https_only()
            .enable_http1()
            .build();
        Ok(RegistryClient {
            http: Client::builder(TokioExecutor::new()).build(https),
            host: host.to_string(),
            credential: registries.credential(host).cloned(),
        })
    }

    /// GETs `/v2/<path>` of the registry, answering one auth challenge.
    pub async fn get(&self, path: &str, accept: &str, limit: usize) -> Result<Response, OciError> {
        let url = format!("https://{}/v2/{path}", self.host);
        let mut authorization = match &self.credential {
            Some(Credential::Token(token)) => Some(format!("Bearer {token}")),
            _ => None,
        };
        for _ in 0..2 {
            let (status, headers, body) = self.request(&url, accept, authorization.as_deref(), limit).await?;
            if status == hyper::StatusCode::UNAUTHORIZED && authorization.is_none() {
                let challenge = headers
                    .get(hyper::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                authorization = Some(self.answer(&url, &challenge).await?);
                continue;
            }
            if !status.is_success() {
                return Err(OciError::Http {
                    url,
                    status: status.as_u16(),
                    reason: status_reason(status, &body, self.credential.is_some()),
                });
            }
            return Ok(Response { headers, body });
        }
        Err(OciError::Http { url, status: 401, reason: "the registry refused the configured credentials".into() })
    }

    /// The `Authorization` header answering a `WWW-Authenticate` challenge.
    async fn answer(&self, url: &str, challenge: &str) -> Result<String, OciError> {
        let basic = |username: &str, password: &str| {
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}")))
        };
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        match (scheme.to_ascii_lowercase().as_str(), &self.credential) {
            ("basic", Some(Credential::Basic { username, password })) => Ok(basic(username, password)),
            ("bearer", credential) => {
                let params = challenge_params(params);
                let realm = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.clone()).ok_or_else(|| {
                    OciError::Http { url: url.into(), status: 401, reason: "a Bearer challenge without a realm".into() }
                })?;
                let query: Vec<String> = params
                    .iter()
                    .filter(|(k, _)| k == "service" || k == "scope")
                    .map(|(k, v)| format!("{k}={}", encode_query(v)))
                    .collect();
                let token_url = if query.is_empty() { realm } else { format!("{realm}?{}", query.join("&")) };
                let authorization = match credential {
                    Some(Credential::Basic { username, password }) => Some(basic(username, password)),
                    _ => None,
                };
                let (status, _, body) =
                    self.request(&token_url, "application/json", authorization.as_deref(), 1 << 20).await?;
                if !status.is_success() {
                    return Err(OciError::Http {
                        url: token_url,
                        status: status.as_u16(),
                        reason: "the registry's token service refused the request".into(),
                    });
                }
                let token: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let token =
                    token["token"].as_str().or(token["access_token"].as_str()).ok_or_else(|| OciError::Http {
                        url: token_url.clone(),
                        status: 200,
                        reason: "the token service sent no token".into(),
                    })?;
                Ok(format!("Bearer {token}"))
            }
            _ => Err(OciError::Http {
                url: url.into(),
                status: 401,
                reason: "the registry asks for credentials and none are configured for it (--registry-config)".into(),
            }),
        }
    }

    async fn request(
        &self,
        url: &str,
        accept: &str,
        authorization: Option<&str>,
        limit: usize,
    ) -> Result<(hyper::StatusCode, hyper::HeaderMap, Vec<u8>), OciError> {
        let mut current = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let error = |reason: String| OciError::Http { url: current.clone(), status: 0, reason };
            let uri: hyper::Uri = current.parse().map_err(|e| error(format!("invalid URL: {e}")))?;
            let mut request = hyper::Request::get(uri.clone()).header(hyper::header::ACCEPT, accept);
            // Credentials go to the registry only, never to a redirect target elsewhere.
            if let Some(value) = authorization.filter(|_| uri.authority().is_some_and(|a| a.as_str() == self.host)) {
                request = request.header(hyper::header::AUTHORIZATION, value);
            }
            let request = request.body(Empty::new()).map_err(|e| error(e.to_string()))?;
            let response = tokio::time::timeout(TIMEOUT, self.http.request(request))
                .await
                .map_err(|_| error("timed out".into()))?
                .map_err(|e| error(format!("{e}: {}", source_chain(&e))))?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(hyper::header::LOCATION).and_then(|l| l.to_str().ok())
            {
                current = crate::render::fetch::resolve(&current, location);
                continue;
            }
            let headers = response.headers().clone();
            let body = tokio::time::timeout(TIMEOUT, Limited::new(response.into_body(), limit).collect())
                .await
                .map_err(|_| error("timed out reading the body".into()))?
                .map_err(|e| error(format!("{e} (the limit is {limit} bytes)")))?;
            return Ok((status, headers, body.to_bytes().to_vec()));
        }
        Err(OciError::Http { url: url.into(), status: 0, reason: format!("more than {MAX_REDIRECTS} redirects") })
    }
}

/// The causes of an error (hyper's own message is terse).
fn source_chain(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    parts.join(": ")
}

/// What a failed status means, with the registry's error code when it sends one.
fn status_reason(status: hyper::StatusCode, body: &[u8], have_credentials: bool) -> String {
    let detail: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let code = detail["errors"][0]["code"].as_str().unwrap_or_default();
    match status.as_u16() {
        401 | 403 if have_credentials => format!("the registry refused the configured credentials {code}"),
        401 | 403 => format!("the registry asks for credentials and none are configured for it {code}"),
        404 => format!("not found in the registry {code}"),
        _ => format!("HTTP {status} {code}"),
    }
    .trim_end()
    .to_string()
}

/// `key="value"` pairs of a challenge.
fn challenge_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            quoted.split_once('"').unwrap_or((quoted, ""))
        } else {
            after.split_once(',').unwrap_or((after, ""))
        };
        out.push((key, value.to_string()));
        rest = tail.trim_start_matches(',').trim();
    }
    out
}

fn encode_query(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let params = challenge_params(
            r#"realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(params[0], ("realm".into(), "https://auth.example/token".into()));
        assert_eq!(params[2], ("scope".into(), "repository:a/b:pull".into()));
        assert_eq!(encode_query("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
    }
}
