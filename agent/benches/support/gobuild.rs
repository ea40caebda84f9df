//! Builds the benchmarks' Go peers (`benches/<name>/`, a Go module with
//! its go.sum committed) once per version of their sources, into the plumb
//! cache, with the Go toolchain and module proxy of the machine.

use std::path::PathBuf;
use std::process::Command;

use sha2::{Digest, Sha256};

/// The binary of the Go program in `benches/<name>`, built if its sources
/// (go.mod, go.sum, main.go) changed since the cached build, or why not.
pub fn binary(name: &str) -> Result<PathBuf, String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches").join(name);
    let mut hash = Sha256::new();
    for file in ["go.mod", "go.sum", "main.go"] {
        hash.update(std::fs::read(dir.join(file)).map_err(|e| format!("{name}/{file}: {e}"))?);
    }
    let digest: String = hash.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let binary = plumb_testenv::binaries::cache_dir().join(format!("{name}-{digest}/{name}"));
    if binary.exists() {
        return Ok(binary);
    }
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(".")
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("go build: {e} (is Go installed?)"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("go build {name} failed: {}", stderr.lines().last().unwrap_or_default()));
    }
    Ok(binary)
}
