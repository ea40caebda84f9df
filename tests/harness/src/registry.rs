//! Debian's `docker-registry` (the CNCF distribution registry) for OCI chart
//! tests: on 127.0.0.1 with a port chosen at run time, TLS with a throwaway
//! CA, htpasswd (bcrypt) auth for one user, storage in a temporary folder,
//! stopped by pid on drop. `push_chart` pushes a chart as `helm push` does,
//! through the distribution API; `blob_file` lets a test tamper with stored
//! content.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::Error;
use crate::ports::free_port;
use crate::process::ManagedProcess;

/// The user the registry accepts.
pub const USER: &str = "plumb";

/// A running registry.
pub struct Registry {
    process: ManagedProcess,
    port: u16,
    password: String,
    ca_pem: String,
    dir: tempfile::TempDir,
}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { what: what.to_string(), source }
}

fn not_ready(what: &str, reason: impl std::fmt::Display) -> Error {
    Error::NotReady { what: what.to_string(), reason: reason.to_string() }
}

/// `sha256:<hex>` of bytes.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{:x}", sha2::Sha256::digest(bytes))
}

impl Registry {
    /// Starts the registry with TLS and a fresh password.
    pub async fn start() -> Result<Registry, Error> {
        let binary = crate::binaries::find_in_path("docker-registry").ok_or_else(|| Error::MissingBinary {
            name: "docker-registry".into(),
            hint: "install Debian's docker-registry package (tests/setup.sh does)".into(),
        })?;
        let htpasswd_bin = crate::binaries::find_in_path("htpasswd").ok_or_else(|| Error::MissingBinary {
            name: "htpasswd".into(),
            hint: "install Debian's apache2-utils package (tests/setup.sh does)".into(),
        })?;
        let dir =
            tempfile::Builder::new().prefix("plumb-testenv-registry-").tempdir().map_err(io("registry folder"))?;
        let pki = crate::certs::write_pki(dir.path())?;
        let password = format!("pw-{}", std::process::id() ^ free_port()? as u32);
        let output = std::process::Command::new(htpasswd_bin)
            .args(["-Bbn", USER, &password])
            .output()
            .map_err(io("run htpasswd"))?;
        if !output.status.success() {
            return Err(not_ready("htpasswd", String::from_utf8_lossy(&output.stderr)));
        }
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, &output.stdout).map_err(io("write htpasswd"))?;
        let port = free_port()?;
        let config = dir.path().join("config.yml");
        crate::certs::write(
            &config,
            &format!(
                "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: 127.0.0.1:{port}\n  tls: {{certificate: {}, key: {}}}\nauth:\n  htpasswd: {{realm: plumb-test, path: {}}}\n",
                dir.path().join("data").display(),
                pki.serving_cert.display(),
                pki.serving_key.display(),
                htpasswd.display()
            ),
        )?;
        let ca_pem = std::fs::read_to_string(&pki.ca_cert).map_err(io("read the CA"))?;
        let args = vec!["serve".to_string(), config.display().to_string()];
        let mut process = ManagedProcess::spawn("docker-registry", &binary, &args, &dir.path().join("registry.log"))?;
        process.wait_for_port(port, Duration::from_secs(30)).await?;
        let registry = Registry { process, port, password, ca_pem, dir };
        // Up when /v2/ answers (401: it wants credentials).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match registry.request("GET", "/v2/", None, Vec::new(), false).await {
                Ok((401 | 200, _, _)) => break,
                _ if std::time::Instant::now() > deadline => {
                    return Err(not_ready("docker-registry", "/v2/ never answered"));
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        Ok(registry)
    }

    /// The pid.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The CA certificate (PEM) the registry's certificate is signed by.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A Docker `config.json` with this registry's credentials.
    pub fn docker_config(&self) -> String {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{}", self.password));
        format!("{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}", self.host())
    }

    /// Where the registry stores a blob (to tamper with it).
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(hex.get(..2).unwrap_or_default())
            .join(hex)
            .join("data")
    }

    /// Pushes a chart archive as `helm push` does (config blob, chart
    /// layer, OCI manifest) to `repository:tag`; returns the manifest digest.
    pub async fn push_chart(
        &self,
        repository: &str,
        tag: &str,
        archive: &[u8],
        chart_json: &str,
    ) -> Result<String, Error> {
        let config = self.push_blob(repository, chart_json.as_bytes().to_vec()).await?;
        let layer = self.push_blob(repository, archive.to_vec()).await?;
        let manifest = format!(
            "{{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{{\"mediaType\":\"application/vnd.cncf.helm.config.v1+json\",\"digest\":\"{config}\",\"size\":{}}},\"layers\":[{{\"mediaType\":\"application/vnd.cncf.helm.chart.content.v1.tar+gzip\",\"digest\":\"{layer}\",\"size\":{}}}]}}",
            chart_json.len(),
            archive.len()
        );
        let (status, _, body) = self
            .request(
                "PUT",
                &format!("/v2/{repository}/manifests/{tag}"),
                Some("application/vnd.oci.image.manifest.v1+json"),
                manifest.clone().into_bytes(),
                true,
            )
            .await?;
        if status != 201 {
            return Err(not_ready("push the manifest", format!("HTTP {status}: {}", String::from_utf8_lossy(&body))));
        }
        Ok(digest(manifest.as_bytes()))
    }

    async fn push_blob(&self, repository: &str, bytes: Vec<u8>) -> Result<String, Error> {
        let digest = digest(&bytes);
        let (status, headers, body) =
            self.request("POST", &format!("/v2/{repository}/blobs/uploads/"), None, Vec::new(), true).await?;
        let location = headers.get(hyper::header::LOCATION).and_then(|l| l.to_str().ok()).unwrap_or_default();
        if status != 202 || location.is_empty() {
            return Err(not_ready("start a blob upload", format!("HTTP {status}: {}", String::from_utf8_lossy(&body))));
        }
        let path = location.split_once("://").map_or(location, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
        let separator = if path.contains('?') { '&' } else { '?' };
        let (status, _, body) = self
            .request("PUT", &format!("{path}{separator}digest={digest}"), Some("application/octet-stream"), bytes, true)
            .await?;
        if status != 201 {
            return Err(not_ready("upload a blob", format!("HTTP {status}: {}", String::from_utf8_lossy(&body))));
        }
        Ok(digest)
    }

    /// One HTTPS request to the registry, trusting its CA.
    async fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        authenticate: bool,
    ) -> Result<(u16, hyper::HeaderMap, Vec<u8>), Error> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()).flatten() {
            roots.add(cert).map_err(|e| not_ready("trust the registry CA", e))?;
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| not_ready("TLS", e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let stream =
            tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.map_err(io("connect to the registry"))?;
        let server = ServerName::try_from("127.0.0.1").map_err(|e| not_ready("TLS", e))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(server, stream)
            .await
            .map_err(io("TLS handshake with the registry"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| not_ready("HTTP", e))?;
        tokio::spawn(connection);
        let mut request = hyper::Request::builder().method(method).uri(path).header(hyper::header::HOST, self.host());
        if let Some(content_type) = content_type {
            request = request.header(hyper::header::CONTENT_TYPE, content_type);
        }
        if authenticate {
            let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{}", self.password));
            request = request.header(hyper::header::AUTHORIZATION, format!("Basic {auth}"));
        }
        let request = request.body(Full::new(Bytes::from(body))).map_err(|e| not_ready("HTTP request", e))?;
        let response = sender.send_request(request).await.map_err(|e| not_ready("HTTP", e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.map_err(|e| not_ready("HTTP body", e))?.to_bytes().to_vec();
        Ok((status, headers, body))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.process.stop(Duration::from_secs(5));
    }
}
