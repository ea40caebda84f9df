//! Where the control plane's binaries are, and building them when missing.
//!
//! kube-apiserver and kube-controller-manager are built once from Debian's
//! `kubernetes` source package by `scripts/build-control-plane.sh` (embedded
//! here, so `plumb demo` can build them outside a checkout) and cached in
//! `$PLUMB_CACHE/k8s-v1.20.2/` (default `~/.cache/plumb`). etcd comes from
//! Debian's `etcd-server` package.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// The Kubernetes version of the local control plane.
pub const K8S_VERSION: &str = "v1.20.2";

const BUILD_SCRIPT: &str = include_str!("../scripts/build-control-plane.sh");

/// Paths of the three server binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// etcd (Debian's `etcd-server`).
    pub etcd: PathBuf,
    /// kube-apiserver built from source.
    pub kube_apiserver: PathBuf,
    /// kube-controller-manager built from source.
    pub kube_controller_manager: PathBuf,
}

/// The cache root: `$PLUMB_CACHE`, else `~/.cache/plumb`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLUMB_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("plumb")
}

/// Folder holding the cached Kubernetes binaries (`$PLUMB_K8S_BIN_DIR` overrides).
pub fn k8s_bin_dir() -> PathBuf {
    std::env::var_os("PLUMB_K8S_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(format!("k8s-{K8S_VERSION}")))
}

/// The first executable `name` on `PATH`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Finds the binaries without building anything.
pub fn locate() -> Result<Binaries, Error> {
    let etcd = std::env::var_os("PLUMB_ETCD").map(PathBuf::from).or_else(|| find_in_path("etcd")).ok_or_else(|| {
        Error::MissingBinary {
            name: "etcd".into(),
            hint: "install Debian's etcd-server package (tests/setup.sh does)".into(),
        }
    })?;
    let dir = k8s_bin_dir();
    let built = |name: &str| {
        let path = dir.join(name);
        if is_executable(&path) {
            Ok(path)
        } else {
            Err(Error::MissingBinary {
                name: format!("{name} {K8S_VERSION} in {}", dir.display()),
                hint: "run tests/setup.sh (or `plumb-testenv build`) to build the control plane once".into(),
            })
        }
    };
    Ok(Binaries {
        etcd,
        kube_apiserver: built("kube-apiserver")?,
        kube_controller_manager: built("kube-controller-manager")?,
    })
}

/// Finds the binaries, building kube-apiserver and kube-controller-manager
/// first if they are not cached. Each line of build output goes to `progress`.
pub fn ensure_built(mut progress: impl FnMut(&str)) -> Result<Binaries, Error> {
    if let Ok(found) = locate() {
        return Ok(found);
    }
    let script = tempfile::Builder::new()
        .prefix("build-control-plane")
        .suffix(".sh")
        .tempfile()
        .map_err(|source| Error::Io { what: "create build script".into(), source })?;
    std::fs::write(script.path(), BUILD_SCRIPT)
        .map_err(|source| Error::Io { what: "write build script".into(), source })?;
    let mut child = Command::new("bash")
        .arg(script.path())
        .env("PLUMB_CACHE", cache_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| Error::Io { what: "run the control plane build".into(), source })?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            progress(&line);
        }
    }
    let status =
        child.wait().map_err(|source| Error::Io { what: "wait for the control plane build".into(), source })?;
    if !status.success() {
        return Err(Error::BuildFailed { status: status.to_string() });
    }
    locate()
}

/// The shared reference charts (`shared/charts` beside the repository):
/// `$PLUMB_SHARED_CHARTS`, else the first `shared/charts` found next to the
/// workspace or one of its parent folders.
pub fn shared_charts() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLUMB_SHARED_CHARTS") {
        return PathBuf::from(dir);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let workspace = workspace.canonicalize().unwrap_or(workspace);
    workspace
        .ancestors()
        .map(|dir| dir.join("shared/charts"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| workspace.join("../shared/charts"))
}
