//! One real control plane: etcd, kube-apiserver and kube-controller-manager
//! on 127.0.0.1 with ports chosen at run time, a static admin token, RBAC,
//! and a kubeconfig. Dropping [`ControlPlane`] stops every process by pid
//! (controller-manager, then API server, then etcd) and removes its data.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use tempfile::TempDir;
use tracing::instrument::WithSubscriber;

use crate::binaries::{self, Binaries};
use crate::certs::{self, Pki};
use crate::ports::free_port;
use crate::process::ManagedProcess;
use crate::{Error, client_from_kubeconfig};

/// Controllers we run: everything that drives workload, namespace, garbage
/// collection and service-account state. Node-bound controllers (podgc,
/// nodelifecycle, attachdetach, ...) stay off because no kubelet runs.
const CONTROLLERS: &str = "namespace,garbagecollector,deployment,replicaset,statefulset,daemonset,job,cronjob,\
serviceaccount,serviceaccount-token,endpoint,endpointslice,replicationcontroller,resourcequota,disruption,\
persistentvolume-binder,pvc-protection,pv-protection,clusterrole-aggregation,root-ca-cert-publisher,ttl-after-finished";

const START_ATTEMPTS: usize = 3;
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A running control plane. Fields drop in declaration order: the
/// controller-manager stops first and the data folders go last.
#[derive(Debug)]
pub struct ControlPlane {
    controller_manager: Option<ManagedProcess>,
    apiserver: ManagedProcess,
    etcd: ManagedProcess,
    binaries: Binaries,
    apiserver_args: Vec<String>,
    server_url: String,
    kubeconfig: PathBuf,
    dir: TempDir,
    _etcd_data: TempDir,
}

/// Ports and files one start attempt uses.
struct Layout {
    etcd_client: u16,
    etcd_peer: u16,
    apiserver: u16,
}

impl ControlPlane {
    /// Starts a fresh control plane and waits until the API server is ready
    /// and the controller-manager has created the `default` ServiceAccount.
    ///
    /// Fails with [`Error::MissingBinary`] if the control plane was never
    /// built: run `tests/setup.sh` once.
    pub async fn start() -> Result<Self, Error> {
        let binaries = binaries::locate()?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&binaries).await {
                Ok(plane) => return Ok(plane),
                // A port taken between picking and binding: pick new ones.
                Err(Error::ProcessExited { ref log, .. }) if log.contains("address already in use") => {
                    last_error = Some(Error::PortRace);
                }
                Err(other) => return Err(other),
            }
        }
        Err(last_error.unwrap_or(Error::PortRace))
    }

    async fn start_once(binaries: &Binaries) -> Result<Self, Error> {
        sweep_stale_folders();
        let dir = owned_tempdir(&std::env::temp_dir())?;
        // etcd fsyncs on every write; tmpfs makes that free.
        let shm = Path::new("/dev/shm");
        let etcd_data = owned_tempdir(if shm.is_dir() { shm } else { dir.path() })?;
        let etcd_data_dir = etcd_data.path().join("etcd");

        let layout = Layout { etcd_client: free_port()?, etcd_peer: free_port()?, apiserver: free_port()? };
        let pki = certs::write_pki(dir.path())?;
        let admin_token = random_token()?;
        let controller_manager_token = random_token()?;
        let tokens = dir.path().join("tokens.csv");
        certs::write(
            &tokens,
            &format!(
                "{admin_token},admin,admin,\"system:masters\"\n\
                 {controller_manager_token},system:kube-controller-manager,kube-controller-manager,\"system:masters\"\n"
            ),
        )?;

        let mut etcd = ManagedProcess::spawn(
            "etcd",
            &binaries.etcd,
            &etcd_args(&layout, &etcd_data_dir),
            &dir.path().join("etcd.log"),
        )?;
        etcd.wait_for_port(layout.etcd_client, READY_TIMEOUT).await?;

        let server_url = format!("https://127.0.0.1:{}", layout.apiserver);
        let apiserver_args = apiserver_args(&layout, &pki, &tokens, dir.path());
        let apiserver = ManagedProcess::spawn(
            "kube-apiserver",
            &binaries.kube_apiserver,
            &apiserver_args,
            &dir.path().join("kube-apiserver.log"),
        )?;

        let kubeconfig = dir.path().join("kubeconfig");
        certs::write(&kubeconfig, &kubeconfig_yaml(&server_url, &pki.ca_cert, &admin_token, "admin"))?;
        let controller_manager_kubeconfig = dir.path().join("controller-manager.kubeconfig");
        certs::write(
            &controller_manager_kubeconfig,
            &kubeconfig_yaml(&server_url, &pki.ca_cert, &controller_manager_token, "kube-controller-manager"),
        )?;

        // From here on a failure drops the processes started so far.
        let mut plane = Self {
            controller_manager: None,
            apiserver,
            etcd,
            binaries: binaries.clone(),
            apiserver_args,
            server_url,
            kubeconfig,
            dir,
            _etcd_data: etcd_data,
        };
        plane.wait_apiserver_ready().await?;

        let controller_manager = ManagedProcess::spawn(
            "kube-controller-manager",
            &plane.binaries.kube_controller_manager,
            &controller_manager_args(&controller_manager_kubeconfig, &pki),
            &plane.dir.path().join("kube-controller-manager.log"),
        )?;
        plane.wait_controllers_running(controller_manager).await?;
        Ok(plane)
    }

    /// Path of the admin kubeconfig (token auth, CA pinned).
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// The Kubernetes version running (`v1.37.2`).
    pub fn version(&self) -> &str {
        &self.binaries.version
    }

    /// `https://127.0.0.1:<port>` of the API server.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// Folder with the logs, certificates and kubeconfigs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Pids of etcd, kube-apiserver and kube-controller-manager.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.etcd.pid(), self.apiserver.pid()];
        pids.extend(self.controller_manager.as_ref().map(ManagedProcess::pid));
        pids
    }

    /// An admin client.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        client_from_kubeconfig(&self.kubeconfig).await
    }

    /// Stops the API server and starts it again on the same port and etcd,
    /// as a real control plane upgrade or crash would. Waits until ready.
    pub async fn restart_apiserver(&mut self) -> Result<(), Error> {
        self.apiserver.stop(Duration::from_secs(10));
        self.apiserver = ManagedProcess::spawn(
            "kube-apiserver",
            &self.binaries.kube_apiserver,
            &self.apiserver_args,
            &self.dir.path().join("kube-apiserver.log"),
        )?;
        self.wait_apiserver_ready().await
    }

    /// Stops every process (also done on drop).
    pub fn stop(self) {}

    async fn wait_apiserver_ready(&mut self) -> Result<(), Error> {
        let client = self.client().await?;
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            check_running(&mut self.apiserver)?;
            check_running(&mut self.etcd)?;
            let request = http::Request::get("/readyz")
                .body(Vec::new())
                .map_err(|e| Error::NotReady { what: "kube-apiserver".into(), reason: e.to_string() })?;
            // A starting API server answers 500 for a few seconds; kube's
            // client logs each as an error, which is expected noise here.
            let probe = client.request_text(request).with_subscriber(tracing::subscriber::NoSubscriber::default());
            match probe.await {
                Ok(body) if body.trim() == "ok" => return Ok(()),
                Ok(body) if Instant::now() > deadline => {
                    return Err(Error::NotReady { what: "kube-apiserver /readyz".into(), reason: body });
                }
                Err(e) if Instant::now() > deadline => {
                    return Err(Error::NotReady { what: "kube-apiserver /readyz".into(), reason: e.to_string() });
                }
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// The serviceaccount controller creating `default/default` shows the
    /// controller-manager is connected and its informers have synced.
    async fn wait_controllers_running(&mut self, mut controller_manager: ManagedProcess) -> Result<(), Error> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client().await?, "default");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            check_running(&mut controller_manager)?;
            if let Ok(Some(_)) = api.get_opt("default").await {
                self.controller_manager = Some(controller_manager);
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::NotReady {
                    what: "kube-controller-manager".into(),
                    reason: format!(
                        "no default ServiceAccount after {READY_TIMEOUT:?}; log tail:\n{}",
                        controller_manager.log_tail(20)
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Prefix of every folder a control plane creates.
const FOLDER_PREFIX: &str = "plumb-testenv-";
/// File in each folder naming the pid of the process that owns it.
const OWNER_FILE: &str = "plumb-testenv.owner";

/// A temporary folder under `parent` that records its owner's pid, so a
/// later start can remove it if the owner was killed before cleaning up.
fn owned_tempdir(parent: &Path) -> Result<TempDir, Error> {
    let dir = tempfile::Builder::new()
        .prefix(FOLDER_PREFIX)
        .tempdir_in(parent)
        .map_err(|source| Error::Io { what: format!("create a folder in {}", parent.display()), source })?;
    certs::write(&dir.path().join(OWNER_FILE), &std::process::id().to_string())?;
    Ok(dir)
}

/// Removes folders left by control planes whose owner process is gone
/// (killed with SIGKILL, so its drop never ran). Their servers died with
/// the owner (PR_SET_PDEATHSIG); only the data remains, in RAM for etcd.
pub fn sweep_stale_folders() {
    for parent in [std::env::temp_dir(), PathBuf::from("/dev/shm")] {
        let Ok(entries) = std::fs::read_dir(&parent) else { continue };
        for entry in entries.flatten() {
            if !entry.file_name().to_string_lossy().starts_with(FOLDER_PREFIX) {
                continue;
            }
            let owner = std::fs::read_to_string(entry.path().join(OWNER_FILE));
            // No owner file yet: another process may be creating it right now.
            let Ok(owner) = owner else { continue };
            if owner.trim().parse().is_ok_and(|pid| !crate::process::pid_alive(pid)) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

fn check_running(process: &mut ManagedProcess) -> Result<(), Error> {
    process.check_running()
}

fn etcd_args(layout: &Layout, data: &Path) -> Vec<String> {
    let client = format!("http://127.0.0.1:{}", layout.etcd_client);
    let peer = format!("http://127.0.0.1:{}", layout.etcd_peer);
    vec![
        "--name=plumb-testenv".into(),
        format!("--data-dir={}", data.display()),
        format!("--listen-client-urls={client}"),
        format!("--advertise-client-urls={client}"),
        format!("--listen-peer-urls={peer}"),
        format!("--initial-advertise-peer-urls={peer}"),
        format!("--initial-cluster=plumb-testenv={peer}"),
        "--log-level=warn".into(),
    ]
}

fn apiserver_args(layout: &Layout, pki: &Pki, tokens: &Path, dir: &Path) -> Vec<String> {
    vec![
        format!("--etcd-servers=http://127.0.0.1:{}", layout.etcd_client),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={}", layout.apiserver),
        format!("--cert-dir={}", dir.join("apiserver-certs").display()),
        format!("--tls-cert-file={}", pki.serving_cert.display()),
        format!("--tls-private-key-file={}", pki.serving_key.display()),
        format!("--client-ca-file={}", pki.ca_cert.display()),
        format!("--token-auth-file={}", tokens.display()),
        "--authorization-mode=RBAC".into(),
        "--service-account-issuer=https://kubernetes.default.svc".into(),
        format!("--service-account-key-file={}", pki.sa_pub.display()),
        format!("--service-account-signing-key-file={}", pki.sa_key.display()),
        "--service-cluster-ip-range=10.96.0.0/16".into(),
        // Endpoints may not point at loopback, so the built-in reconciler of
        // the `kubernetes` Service would fail forever on 127.0.0.1.
        "--endpoint-reconciler-type=none".into(),
        "--allow-privileged=true".into(),
        "--profiling=false".into(),
        "--v=1".into(),
    ]
}

fn controller_manager_args(kubeconfig: &Path, pki: &Pki) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        "--leader-elect=false".into(),
        "--secure-port=0".into(),
        format!("--controllers={CONTROLLERS}"),
        format!("--service-account-private-key-file={}", pki.sa_key.display()),
        format!("--root-ca-file={}", pki.ca_cert.display()),
        "--use-service-account-credentials=false".into(),
        "--profiling=false".into(),
        "--v=1".into(),
    ]
}

/// A kubeconfig for one user with a bearer token.
fn kubeconfig_yaml(server: &str, ca: &Path, token: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: plumb-testenv\n  cluster:\n    server: {server}\n    \
         certificate-authority: {ca}\nusers:\n- name: {user}\n  user:\n    token: {token}\ncontexts:\n\
         - name: plumb-testenv\n  context:\n    cluster: plumb-testenv\n    user: {user}\n\
         current-context: plumb-testenv\n",
        ca = ca.display()
    )
}

/// 32 hex characters from the kernel's CSPRNG.
pub(crate) fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| Error::Io { what: "read /dev/urandom".into(), source })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
