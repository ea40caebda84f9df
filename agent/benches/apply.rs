//! Applying to a real API server (the local v1.20.2 control plane), plumb
//! against its peers measured in the same run: the raw limit of the API
//! server (16 server-side applies in flight from one client),
//! `kubectl apply --server-side` and `kpt live apply`, on the same 1,000
//! ConfigMaps; then a `plumb run` agent managing 10,000 objects: its first
//! sync, its memory, and a no-op sync's CPU time and requests. Prints
//! Markdown tables (docs/performance.md keeps the latest).
//!
//! Run: `cargo bench -p plumb --bench apply` (after `tests/setup.sh`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::Api;
use kube::api::{Patch, PatchParams};
use plumb_testenv::ControlPlane;
use plumb_testenv::git::GitRepo;
use plumb_testenv::process::ManagedProcess;

const PLUMB: &str = env!("CARGO_BIN_EXE_plumb");
const COLD: usize = 1_000;
const MANY: usize = 10_000;

fn config_map(name: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})
}

fn manifests(count: usize) -> String {
    (0..count)
        .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{k: v}}\n"))
        .collect()
}

async fn namespace(client: &kube::Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    api.patch(name, &PatchParams::apply("bench"), &Patch::Apply(&ns)).await.expect("namespace");
}

fn seconds(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64())
}

/// `(utime + stime)` of a process, in milliseconds.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields after the command name: utime is the 12th, stime the 13th.
    (ticks(11) + ticks(12)) * 1000.0 / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn metric(port: u16, name: &str, filter: impl Fn(&str) -> bool) -> f64 {
    let body = plumb_testenv::http::get(port, "/metrics").map(|r| r.body).unwrap_or_default();
    body.lines()
        .filter(|l| l.starts_with(name) && filter(l))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum()
}

fn run_agent(repo: &Path, namespace: &str, kubeconfig: &Path, dir: &Path) -> (ManagedProcess, u16) {
    let port = plumb_testenv::ports::free_port().expect("port");
    let args = vec![
        "run".to_string(),
        format!("--repo={}", repo.display()),
        format!("--namespace={namespace}"),
        format!("--cache-dir={}", dir.join("cache").display()),
        "--interval=1h".into(),
        format!("--listen=127.0.0.1:{port}"),
        "--log=warn".into(),
    ];
    let env = [("KUBECONFIG", kubeconfig.as_os_str())];
    let process = ManagedProcess::spawn_with_env("plumb run", Path::new(PLUMB), &args, &env, &dir.join("plumb.log"))
        .expect("plumb run");
    (process, port)
}

/// Waits until every app of the agent reports `commit` as synced.
fn wait_synced(port: u16, commit: &str, agent: &mut ManagedProcess, timeout: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let status = plumb_testenv::http::get(port, "/api/v1/status").map(|r| r.body).unwrap_or_default();
        let status: serde_json::Value = serde_json::from_str(&status).unwrap_or_default();
        let apps = status["apps"].as_object();
        if apps.is_some_and(|a| !a.is_empty() && a.values().all(|app| app["commit"].as_str() == Some(commit))) {
            return started.elapsed();
        }
        assert!(agent.check_running().is_ok(), "the agent exited:\n{}", agent.log_tail(30));
        assert!(started.elapsed() < timeout, "not synced within {timeout:?}:\n{}", agent.log_tail(30));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let plane = ControlPlane::start().await.expect("the control plane (run tests/setup.sh first)");
    let client = plane.client().await.expect("client");
    let kubeconfig = plane.kubeconfig_path().to_path_buf();
    let work = tempfile::tempdir().expect("tempdir");

    // 1. Cold apply of 1,000 ConfigMaps, each tool in its own namespace.
    let mut rows: Vec<(String, String, String)> = Vec::new();
    namespace(&client, "raw").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "raw");
    let started = Instant::now();
    futures::stream::iter(0..COLD)
        .map(|i| {
            let api = api.clone();
            async move {
                let name = format!("cm-{i}");
                api.patch(&name, &PatchParams::apply("raw").force(), &Patch::Apply(&config_map(&name)))
                    .await
                    .expect("apply");
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let raw = started.elapsed();
    rows.push(("raw limit: 16 server-side applies in flight, one client".into(), seconds(raw), "1.0x".into()));

    namespace(&client, "plumb-bench").await;
    namespace(&client, "plumb-cold").await;
    let repo = GitRepo::init(&work.path().join("cold")).expect("repo");
    repo.write("plumb.yaml", "apps:\n  - {name: cold, namespace: plumb-cold, path: app}\n").expect("write");
    repo.write("app/cms.yaml", manifests(COLD)).expect("write");
    repo.commit("1,000 ConfigMaps").expect("commit");
    let started = Instant::now();
    let output = Command::new(PLUMB)
        .args(["run", "--once", "--namespace=plumb-bench", "--log=warn"])
        .arg(format!("--repo={}", repo.path().display()))
        .arg(format!("--cache-dir={}", work.path().join("cold-cache").display()))
        .arg(format!("--listen=127.0.0.1:{}", plumb_testenv::ports::free_port().expect("port")))
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .expect("plumb run --once");
    let plumb = started.elapsed();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    rows.push((
        "plumb run --once (fetch, render, dry-run, inventory, apply, health)".into(),
        seconds(plumb),
        format!("{:.2}x", plumb.as_secs_f64() / raw.as_secs_f64()),
    ));

    namespace(&client, "kubectl").await;
    let file = work.path().join("cms.yaml");
    std::fs::write(&file, manifests(COLD)).expect("write");
    let started = Instant::now();
    let output = Command::new("kubectl")
        .args(["apply", "--server-side", "-n", "kubectl", "-f"])
        .arg(&file)
        .env("KUBECONFIG", &kubeconfig)
        .output()
        .expect("kubectl");
    let kubectl = started.elapsed();
    let kubectl_row = if output.status.success() {
        (seconds(kubectl), format!("{:.2}x", kubectl.as_secs_f64() / raw.as_secs_f64()))
    } else {
        ("failed".into(), String::from_utf8_lossy(&output.stderr).lines().next().unwrap_or("").to_string())
    };
    rows.push(("kubectl apply --server-side".into(), kubectl_row.0.clone(), kubectl_row.1));

    namespace(&client, "kpt").await;
    let kpt_dir = work.path().join("kpt");
    std::fs::create_dir_all(&kpt_dir).expect("mkdir");
    std::fs::write(
        kpt_dir.join("cms.yaml"),
        manifests(COLD).replace("metadata: {name:", "metadata: {namespace: kpt, name:"),
    )
    .expect("write");
    let kpt =
        |args: &[&str]| Command::new("kpt").args(args).current_dir(&kpt_dir).env("KUBECONFIG", &kubeconfig).output();
    let prepared = kpt(&["live", "install-resource-group"])
        .and_then(|_| kpt(&["live", "init", ".", "--namespace", "kpt"]))
        .map(|o| o.status.success())
        .unwrap_or(false);
    let started = Instant::now();
    let output = kpt(&["live", "apply", ".", "--reconcile-timeout=2m"]);
    let kpt_time = started.elapsed();
    let kpt_row = match output {
        Ok(o) if o.status.success() && prepared => {
            (seconds(kpt_time), format!("{:.2}x", kpt_time.as_secs_f64() / raw.as_secs_f64()))
        }
        Ok(o) => (
            "failed".into(),
            String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("").chars().take(80).collect(),
        ),
        Err(e) => ("n/a".into(), e.to_string()),
    };
    rows.push(("kpt live apply".into(), kpt_row.0, kpt_row.1));

    println!("Cold apply of {COLD} ConfigMaps (one namespace each; seconds, and the ratio to the raw limit):\n");
    println!("| tool | seconds | / raw limit |");
    println!("|---|---:|---:|");
    for (tool, time, ratio) in &rows {
        println!("| {tool} | {time} | {ratio} |");
    }
    if let (Ok(p), Ok(k)) = (seconds(plumb).parse::<f64>(), kubectl_row.0.parse::<f64>()) {
        println!("\nplumb is {:.1}x faster than kubectl apply --server-side on the same objects.", k / p);
    }

    // 2. An agent managing 10,000 objects.
    namespace(&client, "plumb-many").await;
    let repo = GitRepo::init(&work.path().join("many")).expect("repo");
    repo.write("plumb.yaml", "apps:\n  - {name: many, namespace: plumb-many, path: app}\n").expect("write");
    for chunk in 0..(MANY / 1_000) {
        let docs: String = (chunk * 1_000..(chunk + 1) * 1_000)
            .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{k: v}}\n"))
            .collect();
        repo.write(&format!("app/cms-{chunk}.yaml"), docs).expect("write");
    }
    let first = repo.commit("10,000 ConfigMaps").expect("commit");
    let (mut agent, port) = run_agent(repo.path(), "plumb-bench", &kubeconfig, work.path());
    let first_sync = wait_synced(port, &first, &mut agent, Duration::from_secs(600));
    std::thread::sleep(Duration::from_secs(2));
    let rss_after_first = rss_mib(agent.pid());
    let writes = |port: u16| {
        metric(port, "plumb_api_requests_total{", |l| {
            ["\"patch\"", "\"create\"", "\"update\"", "\"delete\"", "\"dryrun-patch\""]
                .iter()
                .any(|v| l.contains(&format!("verb={v}")))
        })
    };
    let (writes_before, requests_before, cpu_before) =
        (writes(port), metric(port, "plumb_api_requests_total{", |_| true), cpu_ms(agent.pid()));
    repo.write("README.md", "a commit that changes no object\n").expect("write");
    let noop = repo.commit("no-op").expect("commit");
    let noop_sync = wait_synced(port, &noop, &mut agent, Duration::from_secs(120));
    let cpu = cpu_ms(agent.pid()) - cpu_before;
    let writes_noop = writes(port) - writes_before;
    let requests_noop = metric(port, "plumb_api_requests_total{", |_| true) - requests_before;
    let rss = rss_mib(agent.pid());
    agent.stop(Duration::from_secs(10));

    println!("\n`plumb run` managing {MANY} ConfigMaps (release build, live cache on):\n");
    println!("| measure | value | target |");
    println!("|---|---:|---:|");
    println!("| first sync (commit to all applied) | {} s | |", seconds(first_sync));
    println!("| no-op sync (a commit changing no object), wall | {} s | |", seconds(noop_sync));
    println!("| no-op sync, agent CPU | {cpu:.0} ms | < 200 ms |");
    println!("| no-op sync, write and dry-run requests | {writes_noop:.0} | 0 |");
    println!("| no-op sync, all API requests | {requests_noop:.0} | |");
    println!("| resident memory after the first sync | {rss_after_first:.1} MiB | |");
    println!("| resident memory after the no-op sync | {rss:.1} MiB | < 50 MiB |");
}
