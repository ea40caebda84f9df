//! The apply benchmark's peers other than plumb: Flux's apply engine (the
//! Go program in `benches/flux-ssa`), `kubectl apply --server-side` and `kpt live apply`,
//! each measured for a cold apply, a periodic reconcile with nothing changed
//! and a reconcile after one object changed.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// What one reconcile cost: wall time and API requests, either when known.
#[derive(Debug, Clone, Default)]
pub struct Cost {
    /// Wall time.
    pub time: Option<Duration>,
    /// API requests sent.
    pub requests: Option<u64>,
}

/// A peer's three measures, or why it could not be measured.
#[derive(Debug, Clone)]
pub enum Measured {
    /// Cold apply, periodic reconcile with nothing changed, one object changed.
    Costs { cold: Cost, steady: Cost, changed: Cost },
    /// The tool is missing or failed; the reason, for the table.
    Unavailable(String),
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).lines().last().unwrap_or_default().chars().take(120).collect()
}

fn seconds(value: &serde_json::Value) -> Option<Duration> {
    value["seconds"].as_f64().map(Duration::from_secs_f64)
}

/// Runs Flux's engine on `objects` (one multi-document file) in `namespace`.
pub fn flux(objects: &Path, namespace: &str, kubeconfig: &Path) -> Measured {
    let binary = match crate::gobuild::binary("flux-ssa") {
        Ok(binary) => binary,
        Err(reason) => return Measured::Unavailable(reason),
    };
    let output = Command::new(binary)
        .arg(format!("-objects={}", objects.display()))
        .arg(format!("-kubeconfig={}", kubeconfig.display()))
        .arg(format!("-namespace={namespace}"))
        .output();
    let report: serde_json::Value = match output {
        Ok(o) if o.status.success() => match serde_json::from_slice(&o.stdout) {
            Ok(report) => report,
            Err(e) => return Measured::Unavailable(format!("flux-ssa output: {e}")),
        },
        Ok(o) => return Measured::Unavailable(format!("flux-ssa failed: {}", last_line(&o.stderr))),
        Err(e) => return Measured::Unavailable(format!("flux-ssa: {e}")),
    };
    let cost = |key: &str| Cost { time: seconds(&report[key]), requests: report[key]["requests"].as_u64() };
    Measured::Costs { cold: cost("cold"), steady: cost("steady"), changed: cost("one_changed") }
}

/// Requests in a kubectl `-v=6` log: one `... in N milliseconds` line each.
fn kubectl_requests(stderr: &[u8]) -> u64 {
    String::from_utf8_lossy(stderr).lines().filter(|l| l.contains(" milliseconds")).count() as u64
}

fn timed(mut command: Command) -> (Duration, std::io::Result<Output>) {
    let started = Instant::now();
    let output = command.output();
    (started.elapsed(), output)
}

/// `kubectl apply --server-side` of `file`: cold (no logging, as the
/// table has always measured it), then again unchanged and with one object
/// changed (`changed` is the file's new text), counting requests.
pub fn kubectl(file: &Path, changed: &str, namespace: &str, kubeconfig: &Path) -> Measured {
    let apply = |verbose: bool| {
        let mut command = Command::new("kubectl");
        command.args(["apply", "--server-side", "-n", namespace, "-f"]).arg(file).env("KUBECONFIG", kubeconfig);
        if verbose {
            command.arg("-v=6");
        }
        timed(command)
    };
    let (cold, output) = apply(false);
    match output {
        Ok(o) if o.status.success() => {}
        Ok(o) => return Measured::Unavailable(format!("kubectl failed: {}", last_line(&o.stderr))),
        Err(e) => return Measured::Unavailable(format!("kubectl: {e}")),
    }
    let counted = |(time, output): (Duration, std::io::Result<Output>)| Cost {
        time: Some(time),
        requests: output.ok().filter(|o| o.status.success()).map(|o| kubectl_requests(&o.stderr)),
    };
    let steady = counted(apply(true));
    let original = std::fs::read_to_string(file).unwrap_or_default();
    if std::fs::write(file, changed).is_err() {
        return Measured::Unavailable("cannot write the changed manifest".into());
    }
    let changed = counted(apply(true));
    let _ = std::fs::write(file, original);
    Measured::Costs { cold: Cost { time: Some(cold), requests: None }, steady, changed }
}

/// `kpt live apply` of the package in `dir` (its `cms.yaml` holds the
/// objects): cold, unchanged and with one object changed. kpt does not log
/// its requests, so only times are known.
pub fn kpt(dir: &Path, changed: &str, kubeconfig: &Path) -> Measured {
    if plumb_testenv::binaries::find_in_path("kpt").is_none() {
        return Measured::Unavailable("kpt is not installed on this machine".into());
    }
    let kpt = |args: &[&str]| {
        let mut command = Command::new("kpt");
        command.args(args).current_dir(dir).env("KUBECONFIG", kubeconfig);
        command
    };
    let prepared = kpt(&["live", "install-resource-group"])
        .output()
        .and_then(|_| kpt(&["live", "init", ".", "--namespace", "kpt"]).output())
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !prepared {
        return Measured::Unavailable("kpt live init failed".into());
    }
    let apply = || {
        let (time, output) = timed(kpt(&["live", "apply", ".", "--reconcile-timeout=2m"]));
        match output {
            Ok(o) if o.status.success() => Ok(Cost { time: Some(time), requests: None }),
            Ok(o) => Err(format!("kpt live apply failed: {}", last_line(&o.stderr))),
            Err(e) => Err(format!("kpt: {e}")),
        }
    };
    let result = (|| {
        let cold = apply()?;
        let steady = apply()?;
        std::fs::write(dir.join("cms.yaml"), changed).map_err(|e| e.to_string())?;
        let changed = apply()?;
        Ok::<_, String>(Measured::Costs { cold, steady, changed })
    })();
    result.unwrap_or_else(Measured::Unavailable)
}
