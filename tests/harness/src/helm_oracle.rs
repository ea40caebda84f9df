//! Helm itself, as the oracle of chart conformance: the objects Helm's
//! install applies for a chart (`tests/gotmpl/helm_install.py`, through
//! helm-python-sdk in the venv `tests/setup.sh` makes), decoded as
//! Kubernetes decodes Helm's manifest (`tests/helm/kubedecode`, built here
//! with Go on first use and cached by the hash of its sources).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::binaries::cache_dir;

/// One chart render to ask Helm for.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstallCase {
    /// Names the case in the results.
    pub id: String,
    /// The chart directory.
    pub chart: PathBuf,
    /// The values file (`-` for none).
    pub values: PathBuf,
    /// `.Release.Name`.
    pub release: String,
    /// `.Release.Namespace`.
    pub namespace: String,
    /// `.Capabilities.KubeVersion`.
    pub kube_version: String,
    /// Extra `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
}

/// One object Helm's install applies.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct HelmObject {
    /// The template (or `crds/` file) it came from.
    pub source: String,
    /// Whether it came from a hook document (or from a template that Helm
    /// rendered differently for the release manifest: a random one).
    pub hook: bool,
    /// The object, as Kubernetes decodes it.
    pub object: serde_json::Value,
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with helm-python-sdk.
pub fn helm_python() -> PathBuf {
    cache_dir().join("helm-venv/bin/python")
}

/// Builds `kubedecode` when its cached build is missing or stale.
pub fn kubedecode() -> Result<PathBuf, String> {
    let source = repo_root().join("tests/helm/kubedecode");
    let mut digest = 0u64;
    for file in ["main.go", "go.mod", "go.sum"] {
        let bytes = std::fs::read(source.join(file)).map_err(|e| format!("{}/{file}: {e}", source.display()))?;
        // FNV-1a: enough to notice an edited source.
        for b in bytes {
            digest = (digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    let binary = cache_dir().join(format!("kubedecode-{digest:016x}"));
    if binary.exists() {
        return Ok(binary);
    }
    let output = Command::new("go")
        .args(["build", "-mod=readonly", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(&source)
        .output()
        .map_err(|e| format!("go build kubedecode: {e} (Go is needed: tests/setup.sh)"))?;
    if !output.status.success() {
        return Err(format!("go build kubedecode: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(binary)
}

/// What Helm's install does with each case: the objects it applies, or its error message.
pub fn install(cases: &[InstallCase]) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let python = helm_python();
    if !python.exists() {
        return Err(format!("{} is missing: run tests/setup.sh (it installs helm-python-sdk)", python.display()));
    }
    let input = serde_json::to_vec(cases).map_err(|e| e.to_string())?;
    let mut child = Command::new(&python)
        .arg(repo_root().join("tests/gotmpl/helm_install.py"))
        .arg(kubedecode()?)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("start the Helm oracle: {e}"))?;
    child.stdin.take().ok_or("no stdin")?.write_all(&input).map_err(|e| e.to_string())?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err("the Helm oracle failed".into());
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("oracle JSON: {e}"))
}

/// The objects of one result, or Helm's error message.
pub fn objects(result: &serde_json::Value) -> Result<Vec<HelmObject>, String> {
    if let Some(error) = result.get("err").and_then(|e| e.as_str()) {
        return Err(error.to_string());
    }
    serde_json::from_value(result["ok"].clone()).map_err(|e| format!("oracle result: {e}"))
}
