//! Where the control plane's binaries are, and building them when missing.
//!
//! etcd, kube-apiserver and kube-controller-manager are built from Go
//! modules pinned in `control-plane/modules/` by `control-plane/build.sh`
//! and cached by version in `$PLUMB_CACHE` (default `~/.cache/plumb`):
//! `k8s-<version>/` and `etcd-<version>/`. The versions live in
//! `control-plane/versions.env`, the one place to bump them.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

const VERSIONS: &str = include_str!("../control-plane/versions.env");
const BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/control-plane/build.sh");

/// The Kubernetes version tests, the demo and benchmarks run against.
pub const K8S_VERSION: &str = pinned("K8S_VERSION");
/// The oldest Kubernetes minor plumb supports (the compatibility job).
pub const K8S_COMPAT_VERSION: &str = pinned("K8S_COMPAT_VERSION");
/// The etcd every control plane runs on.
pub const ETCD_VERSION: &str = pinned("ETCD_VERSION");

/// Environment variable choosing another pinned Kubernetes version
/// (`K8S_COMPAT_VERSION` for the compatibility job).
pub const VERSION_ENV: &str = "PLUMB_K8S_VERSION";

/// The value of `NAME=` in versions.env, at compile time.
const fn pinned(name: &str) -> &'static str {
    let text = VERSIONS.as_bytes();
    let name = name.as_bytes();
    let mut line_start = 0;
    while line_start < text.len() {
        let mut end = line_start;
        while end < text.len() && text[end] != b'\n' {
            end += 1;
        }
        let mut i = 0;
        while i < name.len() && line_start + i < end && text[line_start + i] == name[i] {
            i += 1;
        }
        if i == name.len() && line_start + i < end && text[line_start + i] == b'=' {
            let (_, value) = VERSIONS.split_at(line_start + i + 1);
            let (value, _) = value.split_at(end - line_start - i - 1);
            return value;
        }
        line_start = end + 1;
    }
    panic!("versions.env lacks a pinned version")
}

/// Paths of the three server binaries.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The Kubernetes version of the two Kubernetes binaries.
    pub version: String,
    /// etcd.
    pub etcd: PathBuf,
    /// kube-apiserver.
    pub kube_apiserver: PathBuf,
    /// kube-controller-manager.
    pub kube_controller_manager: PathBuf,
}

/// The Kubernetes version to run: `$PLUMB_K8S_VERSION`, else [`K8S_VERSION`].
pub fn k8s_version() -> String {
    std::env::var(VERSION_ENV).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| K8S_VERSION.to_string())
}

/// The cache root: `$PLUMB_CACHE`, else `~/.cache/plumb`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("PLUMB_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    home.join(".cache").join("plumb")
}

/// Folder holding the cached Kubernetes binaries of `version`
/// (`$PLUMB_K8S_BIN_DIR` overrides).
pub fn k8s_bin_dir(version: &str) -> PathBuf {
    std::env::var_os("PLUMB_K8S_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(format!("k8s-{version}")))
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

fn cached(path: PathBuf, what: &str) -> Result<PathBuf, Error> {
    if is_executable(&path) {
        Ok(path)
    } else {
        Err(Error::MissingBinary {
            name: format!("{what} ({})", path.display()),
            hint: "run tests/setup.sh (or `plumb-testenv build`) to build the control plane once".into(),
        })
    }
}

/// Finds the binaries of the chosen version ([`k8s_version`]) without
/// building anything.
pub fn locate() -> Result<Binaries, Error> {
    let version = k8s_version();
    let etcd = match std::env::var_os("PLUMB_ETCD") {
        Some(path) => PathBuf::from(path),
        None => cached(cache_dir().join(format!("etcd-{ETCD_VERSION}/etcd")), &format!("etcd {ETCD_VERSION}"))?,
    };
    let dir = k8s_bin_dir(&version);
    Ok(Binaries {
        etcd,
        kube_apiserver: cached(dir.join("kube-apiserver"), &format!("kube-apiserver {version}"))?,
        kube_controller_manager: cached(
            dir.join("kube-controller-manager"),
            &format!("kube-controller-manager {version}"),
        )?,
        version,
    })
}

/// Runs `control-plane/build.sh` with `args`; each line it prints goes to
/// `progress`.
pub fn run_build(args: &[&str], mut progress: impl FnMut(&str)) -> Result<(), Error> {
    let mut child = Command::new("bash")
        .arg(BUILD_SCRIPT)
        .args(args)
        .env("PLUMB_CACHE", cache_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| Error::Io { what: format!("run {BUILD_SCRIPT}"), source })?;
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
    Ok(())
}

/// Finds the binaries, building etcd, kube-apiserver and
/// kube-controller-manager first if they are not cached. Each line of build
/// output goes to `progress`.
pub fn ensure_built(mut progress: impl FnMut(&str)) -> Result<Binaries, Error> {
    if let Ok(found) = locate() {
        return Ok(found);
    }
    run_build(&["etcd", ETCD_VERSION], &mut progress)?;
    let version = k8s_version();
    run_build(&["k8s", &version, "kube-apiserver", "kube-controller-manager"], &mut progress)?;
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
