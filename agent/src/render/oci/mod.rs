//! Charts in OCI registries: `chart: {repo: oci://host/path, name, version}`
//! is the artifact `host/path/name:version`, pulled through the OCI
//! distribution API as Helm pushes it (a manifest whose layer is the chart
//! archive). `plumb lock` pins the manifest's digest; a pull fetches the
//! manifest by its tag and refuses it when its digest is not the pinned one
//! (the tag was pushed over), and refuses a layer whose bytes do not match
//! the manifest's digest (tampered content), naming both digests.
//!
//! - [`auth`] — credentials from a Docker `config.json`, CA file.
//! - [`client`] — HTTPS and registry auth challenges.

pub mod auth;
pub mod client;

use super::lock::{LOCK_FILE, LockedChart};
use super::remote::sha256;
use client::RegistryClient;

/// Helm's chart layer media type (and the pre-OCI-spec one Helm still reads).
const CHART_LAYER: &[&str] = &["application/vnd.cncf.helm.chart.content.v1.tar+gzip", "application/tar+gzip"];

/// Manifest media types asked for.
const MANIFEST_ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// The largest manifest read.
const MAX_MANIFEST: usize = 4 << 20;

/// Why an OCI chart cannot be resolved or pulled.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// `repo` is not an `oci://host/path` reference.
    #[error("{0}")]
    Reference(String),
    /// TLS cannot be set up (the CA file).
    #[error("TLS: {0}")]
    Tls(String),
    /// A request failed; `status` is the HTTP status (0 when none came).
    #[error("GET {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Why, and what to do.
        reason: String,
    },
    /// The bytes are not what the digest says.
    #[error("{0}")]
    Digest(String),
    /// The manifest is not a Helm chart's.
    #[error("{0}")]
    Manifest(String),
}

/// An OCI chart reference: registry host and repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `host[:port]`.
    pub host: String,
    /// `path/name`.
    pub repository: String,
}

impl Reference {
    /// `oci://host[:port][/path]` and a chart name.
    pub fn parse(repo: &str, name: &str) -> Result<Reference, OciError> {
        let rest = repo
            .strip_prefix("oci://")
            .ok_or_else(|| OciError::Reference(format!("{repo:?} is not an oci:// reference")))?
            .trim_end_matches('/');
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = |s: &str| {
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'))
        };
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':')) {
            return Err(OciError::Reference(format!("{repo:?}: the registry host is missing or invalid")));
        }
        let repository = if path.is_empty() { name.to_string() } else { format!("{path}/{name}") };
        if !valid(&repository) || repository.contains("//") || repository.split('/').any(|p| p.starts_with('.')) {
            return Err(OciError::Reference(format!("{repo:?} with chart {name:?} is not a valid repository name")));
        }
        Ok(Reference { host: host.to_string(), repository })
    }

    /// `oci://host/repository`, as the lock records where the chart is.
    pub fn url(&self) -> String {
        format!("oci://{}/{}", self.host, self.repository)
    }
}

/// Whether a chart repository is an OCI registry.
pub fn is_oci(repo: &str) -> bool {
    repo.starts_with("oci://")
}

/// A pulled chart: its manifest (verified) and archive (verified).
pub struct Pulled {
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// `sha256:` of the manifest.
    pub digest: String,
    /// The chart archive.
    pub archive: Vec<u8>,
}

/// The chart layer's digest and size in a manifest.
pub fn chart_layer(manifest: &[u8]) -> Result<(String, u64), OciError> {
    let manifest: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| OciError::Manifest(format!("the manifest is not JSON: {e}")))?;
    let layers = manifest["layers"].as_array().map(Vec::as_slice).unwrap_or_default();
    let layer = layers
        .iter()
        .find(|l| l["mediaType"].as_str().is_some_and(|m| CHART_LAYER.contains(&m)))
        .ok_or_else(|| OciError::Manifest("the artifact has no Helm chart layer: is it a chart?".into()))?;
    let digest = layer["digest"]
        .as_str()
        .filter(|d| valid_digest(d))
        .ok_or_else(|| OciError::Manifest("the chart layer has no valid sha256 digest".into()))?;
    Ok((digest.to_string(), layer["size"].as_u64().unwrap_or(0)))
}

/// Whether `digest` is `sha256:` and 64 hex digits (and so safe in a file name).
pub(crate) fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Fetches the manifest of `reference:tag` (its digest computed from its bytes).
pub async fn manifest(
    client: &RegistryClient,
    reference: &Reference,
    tag: &str,
) -> Result<(Vec<u8>, String), OciError> {
    let response =
        client.get(&format!("{}/manifests/{tag}", reference.repository), MANIFEST_ACCEPT, MAX_MANIFEST).await?;
    let digest = sha256(&response.body);
    if let Some(sent) = response.headers.get("docker-content-digest").and_then(|v| v.to_str().ok())
        && sent.starts_with("sha256:")
        && sent != digest
    {
        return Err(OciError::Digest(format!(
            "{}:{tag}: the registry says the manifest is {sent} but its bytes are {digest}",
            reference.url()
        )));
    }
    Ok((response.body, digest))
}

/// Fetches a blob and checks its bytes against `digest`.
pub async fn blob(
    client: &RegistryClient,
    reference: &Reference,
    digest: &str,
    limit: usize,
) -> Result<Vec<u8>, OciError> {
    let response =
        client.get(&format!("{}/blobs/{digest}", reference.repository), "application/octet-stream", limit).await?;
    let actual = sha256(&response.body);
    if actual != digest {
        return Err(OciError::Digest(format!(
            "{}: the chart layer should be {digest} but the registry sent {actual}: the registry's content was \
             tampered with or corrupted; do not use this chart until that is explained",
            reference.url()
        )));
    }
    Ok(response.body)
}

/// Pulls the chart pinned by `entry`: the manifest by tag, which must have
/// the pinned digest, then its chart layer, verified.
pub async fn pull(client: &RegistryClient, entry: &LockedChart, limit: usize) -> Result<Pulled, OciError> {
    let reference = Reference::parse(&entry.repo, &entry.name)?;
    let (manifest, digest) = manifest(client, &reference, &entry.version).await?;
    if digest != entry.digest {
        return Err(OciError::Digest(format!(
            "{}:{}: {LOCK_FILE} pins manifest {} but the tag now points to {digest}: the chart was pushed over; \
             review the new chart, then run `plumb lock` to pin it",
            reference.url(),
            entry.version,
            entry.digest
        )));
    }
    let (layer, size) = chart_layer(&manifest)?;
    if size > limit as u64 {
        return Err(OciError::Manifest(format!("the chart layer is {size} bytes, over the limit of {limit}")));
    }
    let archive = blob(client, &reference, &layer, limit).await?;
    Ok(Pulled { manifest, digest, archive })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = Reference::parse("oci://127.0.0.1:5000/charts/", "web").expect("valid");
        assert_eq!((r.host.as_str(), r.repository.as_str()), ("127.0.0.1:5000", "charts/web"));
        assert_eq!(r.url(), "oci://127.0.0.1:5000/charts/web");
        assert_eq!(Reference::parse("oci://ghcr.io", "x").expect("valid").repository, "x");
        assert!(Reference::parse("https://x", "y").is_err());
        assert!(Reference::parse("oci://h/../etc", "y").is_err());
        assert!(Reference::parse("oci:///p", "y").is_err());
    }

    #[test]
    fn manifests() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let manifest = format!(
            r#"{{"layers": [{{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip", "digest": "{digest}", "size": 10}}]}}"#
        );
        assert_eq!(chart_layer(manifest.as_bytes()).expect("chart"), (digest, 10));
        assert!(
            chart_layer(br#"{"layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "x"}]}"#)
                .is_err()
        );
    }
}
