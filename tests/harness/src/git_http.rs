//! Smart HTTP for tests: `git http-backend` (CGI) behind a small HTTP
//! server on 127.0.0.1 (a random port), optionally requiring Basic
//! credentials, counting the requests it serves. Stopped on drop.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::Error;

/// A running smart-HTTP git server.
pub struct GitHttpServer {
    port: u16,
    requests: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GitHttpServer {
    /// Serves the repositories under `base`; with `credentials`, every
    /// request needs that Basic user and password.
    pub async fn start(base: &Path, credentials: Option<(&str, &str)>) -> Result<Self, Error> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|source| Error::Io { what: "bind the git HTTP port".into(), source })?;
        let port =
            listener.local_addr().map_err(|source| Error::Io { what: "read the git HTTP port".into(), source })?.port();
        let expected = credentials.map(|(u, p)| format!("Basic {}", STANDARD.encode(format!("{u}:{p}"))));
        let requests = Arc::new(AtomicU64::new(0));
        let git = crate::binaries::find_in_path("git").unwrap_or_else(|| PathBuf::from("/usr/bin/git"));
        let (base, counter) = (base.to_path_buf(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (base, counter, expected, git) = (base.clone(), counter.clone(), expected.clone(), git.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (base, counter, expected, git) =
                            (base.clone(), counter.clone(), expected.clone(), git.clone());
                        async move {
                            counter.fetch_add(1, Ordering::Relaxed);
                            Ok::<_, Infallible>(serve(request, &base, expected.as_deref(), &git).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { port, requests, task })
    }

    /// `http://127.0.0.1:<port>/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

fn reply(status: StatusCode, headers: &[(&str, &str)], body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (hyper::header::HeaderName::from_bytes(name.as_bytes()), value.parse()) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

async fn serve(request: Request<Incoming>, base: &Path, expected: Option<&str>, git: &Path) -> Response<Full<Bytes>> {
    if let Some(expected) = expected {
        let given = request.headers().get("authorization").and_then(|v| v.to_str().ok());
        if given != Some(expected) {
            return reply(
                StatusCode::UNAUTHORIZED,
                &[("WWW-Authenticate", "Basic realm=\"git\"")],
                b"credentials required".to_vec(),
            );
        }
    }
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let encoding = request.headers().get("content-encoding").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let child = tokio::process::Command::new(git)
        .arg("http-backend")
        .env_clear()
        .env("GIT_PROJECT_ROOT", base)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("CONTENT_TYPE", &content_type)
        .env("HTTP_CONTENT_ENCODING", &encoding)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("REMOTE_USER", "test")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, &[], b"cannot run git http-backend".to_vec());
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&body).await;
    }
    let Ok(output) = child.wait_with_output().await else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, &[], b"git http-backend failed".to_vec());
    };
    // CGI output: headers, a blank line, the body.
    let raw = output.stdout;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, gap)) = split else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, &[], b"bad CGI output".to_vec());
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut status = StatusCode::OK;
    let mut headers = Vec::new();
    for line in head.lines() {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim().to_string();
        if name.eq_ignore_ascii_case("status") {
            status = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse().ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(status);
        } else {
            headers.push((name.to_string(), value));
        }
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    reply(status, &headers, raw[end + gap..].to_vec())
}
