//! plumb-testenv: a real local Kubernetes control plane for plumb's
//! end-to-end tests and `plumb-demo`.
//!
//! - [`browser`] — headless Chromium driven through WebDriver, for the dashboard.
//! - [`binaries`] — where etcd, kube-apiserver and kube-controller-manager
//!   are, and building them from pinned Go modules (`control-plane/`).
//! - [`control_plane`] — one running control plane, stopped by pid on drop.
//! - [`readiness`] — the kubelet stand-in that marks pods ready.
//! - [`git`] — working repositories and a `git daemon` for source tests.
//! - [`webhook`] — a mutating admission webhook over HTTPS for drift tests.
//! - [`git_http`] — `git http-backend` behind a small HTTP server, optionally with Basic auth.
//! - [`http`] — a minimal HTTP client for plain-HTTP endpoints.
//! - [`prometheus`] — Debian's Prometheus scraping test targets.
//! - [`sshd`] — Debian's sshd with a test key, for the SSH transport.
//! - [`helm_oracle`] — Helm's install as the oracle of chart conformance.
//! - [`registry`] — Debian's docker-registry with TLS and auth, for OCI charts.
//! - [`namespace`] — per-test namespaces on a shared control plane.
//! - [`faults`] — an unavailable aggregated API; seeded randomness for fault-driving tests.
//!
//! Isolation: `plumb-testenv run -- <command>` starts one control plane and
//! passes its kubeconfig in `PLUMB_TEST_KUBECONFIG`; [`TestCluster::get`]
//! connects to it, and each test works in its own [`TestNamespace`]. Without
//! that variable (e.g. `cargo nextest run` alone), each test starts a private
//! control plane. Tests that restart the API server always start their own.

pub mod binaries;
pub mod browser;
pub mod certs;
pub mod control_plane;
pub mod faults;
pub mod git;
pub mod git_http;
pub mod helm_oracle;
pub mod helm_repo;
pub mod http;
pub mod namespace;
pub mod ports;
pub mod process;
pub mod prometheus;
pub mod readiness;
pub mod registry;
pub mod sshd;
pub mod webhook;

use std::path::{Path, PathBuf};

pub use binaries::{K8S_COMPAT_VERSION, K8S_VERSION};
pub use control_plane::ControlPlane;
pub use namespace::{TestNamespace, unique_name};
pub use readiness::PodReadiness;

/// Environment variable naming the kubeconfig of a shared control plane.
pub const SHARED_KUBECONFIG_ENV: &str = "PLUMB_TEST_KUBECONFIG";

/// Everything that can go wrong while providing a control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A server binary is not installed or not built yet.
    #[error("{name} not found: {hint}")]
    MissingBinary {
        /// Which binary.
        name: String,
        /// What to do about it.
        hint: String,
    },
    /// The control plane build script failed.
    #[error("building the control plane failed ({status}); its output above says why")]
    BuildFailed {
        /// Exit status of the build.
        status: String,
    },
    /// A file or process operation failed.
    #[error("could not {what}: {source}")]
    Io {
        /// The operation.
        what: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Certificate or key generation failed.
    #[error("could not {what}: {reason}")]
    Pki {
        /// The step.
        what: String,
        /// rcgen's reason.
        reason: String,
    },
    /// A server process ended while we waited for it.
    #[error("{name} exited ({status}); last log lines:\n{log}")]
    ProcessExited {
        /// The process.
        name: String,
        /// Its exit status.
        status: String,
        /// The tail of its log.
        log: String,
    },
    /// Every start attempt lost a race for its ports.
    #[error("could not bind free ports for the control plane after several attempts; is the machine out of ports?")]
    PortRace,
    /// Something did not become ready in time.
    #[error("{what} not ready: {reason}")]
    NotReady {
        /// What we waited for.
        what: String,
        /// Why it is not ready.
        reason: String,
    },
    /// The kubeconfig could not be read or used.
    #[error("kubeconfig {path}: {reason}")]
    Kubeconfig {
        /// Its path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A git command failed.
    #[error("git {command} failed: {stderr}")]
    Git {
        /// The arguments.
        command: String,
        /// What git printed.
        stderr: String,
    },
    /// An API request failed.
    #[error("could not {what}: {source}")]
    Kube {
        /// The request.
        what: String,
        /// kube's error.
        #[source]
        source: kube::Error,
    },
}

/// A client for the cluster a kubeconfig file points at.
pub async fn client_from_kubeconfig(path: &Path) -> Result<kube::Client, Error> {
    let kubeconfig_error = |reason: String| Error::Kubeconfig { path: path.to_path_buf(), reason };
    let kubeconfig = kube::config::Kubeconfig::read_from(path).map_err(|e| kubeconfig_error(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube::config::KubeConfigOptions::default())
        .await
        .map_err(|e| kubeconfig_error(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| kubeconfig_error(e.to_string()))
}

/// The control plane a test runs against: the shared one when
/// `PLUMB_TEST_KUBECONFIG` is set, otherwise a private one it owns.
pub struct TestCluster {
    client: kube::Client,
    kubeconfig: PathBuf,
    private: Option<ControlPlane>,
}

impl TestCluster {
    /// Connects to the shared control plane, or starts a private one.
    pub async fn get() -> Result<Self, Error> {
        match std::env::var_os(SHARED_KUBECONFIG_ENV) {
            Some(path) => {
                let kubeconfig = PathBuf::from(path);
                let client = client_from_kubeconfig(&kubeconfig).await?;
                Ok(Self { client, kubeconfig, private: None })
            }
            None => Self::private().await,
        }
    }

    /// Starts a control plane for this test alone.
    pub async fn private() -> Result<Self, Error> {
        let plane = ControlPlane::start().await?;
        let client = plane.client().await?;
        Ok(Self { client, kubeconfig: plane.kubeconfig_path().to_path_buf(), private: Some(plane) })
    }

    /// An admin client.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The admin kubeconfig (for kubectl and other peers).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The control plane, when this test owns it.
    pub fn control_plane(&mut self) -> Option<&mut ControlPlane> {
        self.private.as_mut()
    }
}
