//! `plumb status`: a running agent's status as a table, over HTTP.

use anyhow::Context;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Runs `plumb status`.
pub async fn status(url: &str) -> anyhow::Result<()> {
    let base = url.trim_end_matches('/');
    anyhow::ensure!(base.starts_with("http://"), "the status URL must be http://HOST:PORT (the agent's listener)");
    let uri: hyper::Uri = format!("{base}/api/v1/status").parse().context("not a valid URL")?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = tokio::time::timeout(std::time::Duration::from_secs(10), client.get(uri))
        .await
        .with_context(|| format!("no answer from {url} within 10s"))?
        .with_context(|| format!("no plumb agent answers at {url}"))?;
    let code = response.status();
    let body = response.into_body().collect().await.context("reading the status")?.to_bytes();
    anyhow::ensure!(code.is_success(), "{url}/api/v1/status answered {code}");
    let status: crate::report::status::Status = serde_json::from_slice(&body).context("not a plumb status document")?;
    print!("{}", crate::report::status::table(&status));
    Ok(())
}
